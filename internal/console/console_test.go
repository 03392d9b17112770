package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/billing"
)

func TestMain(m *testing.M) { apptest.Main(m) }

var ctx = context.Background()

// staffMember is a created staff member with what logging in needs.
type staffMember struct {
	username, password, secret string
}

func newStaff(t *testing.T, srv *app.Server, school string, role admin.Role) staffMember {
	t.Helper()
	var id int64
	if school != "" {
		sc, err := srv.Store.SchoolByCode(ctx, school)
		if err != nil {
			t.Fatal(err)
		}
		id = sc.ID
	}
	name := string(role) + "_" + strings.ToLower(school) + time.Now().Format("150405.000000")
	name = strings.ReplaceAll(name, ".", "")
	h, err := srv.Admin.CreateStaff(ctx, admin.System("test"), admin.NewStaff{SchoolID: id, Role: role, Username: name, DisplayName: "测试"})
	if err != nil {
		t.Fatal(err)
	}
	return staffMember{username: name, password: h.Password, secret: h.Enrolment.Secret}
}

// client is a browser-like client with cookies.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

type page struct {
	Status int
	Body   string
	URL    string
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Body: string(b), URL: resp.Request.URL.String()}
}

func (c *client) get(path string) page {
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) page {
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) upload(path string, fields map[string]string, file, name string) page {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(file))
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in:\n%.1500s", body)
	}
	return m[1]
}

// login logs a staff member in with password and TOTP, setting a new
// password at the first login.
func (c *client) login(s *staffMember) page {
	c.t.Helper()
	lp := c.get("/admin/login")
	p := c.post("/admin/login", url.Values{"csrf": {csrf(c.t, lp.Body)}, "username": {s.username}, "password": {s.password},
		"code": {admin.TOTPCode(s.secret, time.Now())}})
	if strings.HasSuffix(p.URL, "/admin/password") {
		p = c.post("/admin/password", url.Values{"csrf": {csrf(c.t, p.Body)}, "old_password": {s.password},
			"new_password": {"finance-office-2026"}, "confirm_password": {"finance-office-2026"}})
		s.password = "finance-office-2026"
	}
	if p.Status != 200 {
		c.t.Fatalf("login %s: %d %s\n%.2000s", s.username, p.Status, p.URL, p.Body)
	}
	return p
}

func mustContain(t *testing.T, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Errorf("%s lacks %q:\n%.3000s", p.URL, w, p.Body)
		}
	}
}

// TestEveryPageRenders opens every page of the console as an admin and
// as an auditor, and refuses another school's clerk.
func TestEveryPageRenders(t *testing.T) {
	srv := apptest.Demo(t)
	adm := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	c := newClient(t, srv.URL)
	home := c.login(&adm)
	if !strings.HasSuffix(home.URL, "/admin/s/cqjz/board") {
		t.Fatalf("after login: %s", home.URL)
	}
	mustContain(t, home, "收费看板", "应缴", "2026学年学费住宿费", "按班级", "<svg", `id="live"`)
	base := "/admin/s/cqjz/"
	for path, want := range map[string][]string{
		"board?grade=2026&project=2026学年代收费": {"2026学年代收费"},
		"board/live":          {`id="fig-paid"`},
		"students?q=陆峰宇":      {"陆峰宇", "2026010001"},
		"students/2026010001": {"陆峰宇", "登录状态", "资金流水", "账单导入"},
		"fees":                {"收费标准", "学费", "按标准生成账单"},
		"policy":              {"400-028-1024", "银联在线"},
		"imports":             {"导入记录", "上传并预览"},
		"exports":             {"缴费明细"},
		"audit":               {"staff.login", "staff.password"},
		"staff":               {adm.username},
	} {
		p := c.get(base + path)
		if p.Status != 200 {
			t.Errorf("%s: %d\n%.1500s", path, p.Status, p.Body)
			continue
		}
		mustContain(t, p, want...)
	}
	// Fee setup through the forms.
	fees := c.get(base + "fees")
	tok := csrf(t, fees.Body)
	if p := c.post(base+"fees/standard", url.Values{"csrf": {tok}, "grade": {"2026"}, "major": {"计算机科学与技术"}, "project": {"2026学年学费住宿费"},
		"item": {"学费"}, "amount": {"6500.00"}, "mandatory": {"1"}}); p.Status != 200 || !strings.Contains(p.Body, "收费标准已保存") {
		t.Errorf("save standard: %d %.800s", p.Status, p.Body)
	}
	if p := c.post(base+"fees/generate", url.Values{"csrf": {tok}, "grade": {"2026"}, "apply": {"0"}}); p.Status != 200 || !strings.Contains(p.Body, "预览") {
		i := strings.Index(p.Body, "<main>")
		t.Errorf("generate preview: %d %.3000s", p.Status, p.Body[i:])
	}
	pol := c.get(base + "policy")
	if p := c.post(base+"policy", url.Values{"csrf": {csrf(t, pol.Body)}, "lock_minutes": {"15"}, "mandatory_first": {"1"}, "one_project": {"1"},
		"initial_password": {"111111"}, "help_line": {"023-6543-2100"}, "help_hours": {"工作日 9:00—17:00"}, "banks": {"中国工商银行\n中国建设银行"},
		"platform_name": {"校园安心付"}, "channel_unionpay": {"1"}, "channel_wechat": {"1"}}); p.Status != 200 || !strings.Contains(p.Body, "023-6543-2100") {
		t.Errorf("save policy: %d %.1500s", p.Status, p.Body)
	}
	if sc, _ := srv.Store.SchoolByCode(ctx, "cqjz"); sc.Policy.LockMinutes != 15 || sc.Policy.PlatformName != "校园安心付" || sc.Policy.Channels != nil {
		t.Errorf("policy stored %+v", sc.Policy)
	}
	// An export downloads a workbook.
	resp, err := c.hc.Get(srv.URL + base + "exports/outstanding")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("PK")) || !strings.Contains(resp.Header.Get("Content-Disposition"), "cqjz-outstanding") {
		t.Errorf("export: %d %q %.100s", resp.StatusCode, resp.Header.Get("Content-Disposition"), b)
	}
	// Another school's clerk sees nothing of this one.
	other, err := srv.Store.CreateSchool(ctx, billing.School{Code: "other", Name: "另一学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	clerk := newStaff(t, srv, other.Code, admin.RoleClerk)
	oc := newClient(t, srv.URL)
	oc.login(&clerk)
	for _, path := range []string{"board", "board/live", "students/2026010001", "students?q=陆", "imports", "exports/outstanding"} {
		p := oc.get(base + path)
		if p.Status != 403 || strings.Contains(p.Body, "陆峰宇") || strings.Contains(p.Body, "2026学年") {
			t.Errorf("other school's clerk on %s: %d\n%.800s", path, p.Status, p.Body)
		}
	}
	// The API alike.
	var lr struct {
		Token string `json:"token"`
	}
	body, _ := json.Marshal(map[string]string{"username": clerk.username, "password": clerk.password, "totp": admin.TOTPCode(clerk.secret, time.Now().Add(30*time.Second))})
	resp, err = http.Post(srv.URL+"/api/v1/admin/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	if resp.StatusCode != 200 || lr.Token == "" {
		t.Fatalf("api login: %d", resp.StatusCode)
	}
	for _, path := range []string{"/api/v1/admin/board?school=cqjz", "/api/v1/admin/students/2026010001?school=cqjz"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+lr.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(b), `"forbidden"`) {
			t.Errorf("api %s as the other clerk: %d %s", path, resp.StatusCode, b)
		}
	}
}
