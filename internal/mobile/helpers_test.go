package mobile_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/demo"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/sms"
)

func TestMain(m *testing.M) { apptest.Main(m) }

const (
	school      = "cqjz"
	newPassword = "Kx9-pay-2026"
	phoneUA     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)

// client is a phone's browser: cookies, a phone user agent, redirects
// followed.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// with is the same browser reporting to t (a subtest).
func (c *client) with(t *testing.T) *client {
	d := *c
	d.t = t
	return &d
}

// page is one answer, after redirects.
type page struct {
	Status int
	URL    string
	Header http.Header
	Body   string
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	req.Header.Set("User-Agent", phoneUA)
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, URL: resp.Request.URL.String(), Header: resp.Header, Body: string(b)}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.abs(path), nil)
	return c.do(req)
}

// post sends a form as the page's own form does (same origin).
func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

func (c *client) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return c.base + path
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the first CSRF token on a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token on the page:\n%.1500s", body)
	}
	return html.UnescapeString(m[1])
}

func (p page) want(t *testing.T, status int, texts ...string) page {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d\n%.3000s", p.URL, p.Status, status, text(p.Body))
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("%s lacks %q:\n%.3000s", p.URL, s, text(p.Body))
		}
	}
	return p
}

var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

// text is a page's words without its tags, for failure messages.
func text(body string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(body, " "))), " ")
}

// signUp goes phone → 下一步 → 免费获取 → code → password and ends on the
// school page.
func (c *client) signUp(srv *app.Server, phone string) {
	c.t.Helper()
	t := c.t
	p := c.get("/m/").want(t, 200, "手机号码", "下一步")
	p = c.post("/m/login", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}}).want(t, 200, "免费获取")
	if strings.Contains(p.URL, phone) {
		t.Errorf("the phone number is in the URL %s", p.URL)
	}
	p = c.post("/m/login/sms", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}}).want(t, 200, "验证码已发送")
	code, ok := srv.SMSOutbox.LastCode(phone, sms.PurposeLogin)
	if !ok {
		t.Fatalf("no code sent to %s", phone)
	}
	p = c.post("/m/login/code", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}, "code": {code}}).want(t, 200, "设置登录密码")
	p = c.post("/m/password", url.Values{"csrf": {csrf(t, p.Body)}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	p.want(t, 200, "选择地区")
	if !strings.HasSuffix(p.URL, "/m/school") {
		t.Fatalf("after the password: %s, want the school page", p.URL)
	}
}

// chooseSchool picks the demo school (region, then school, then ✓).
func (c *client) chooseSchool() page {
	c.t.Helper()
	p := c.get("/m/school?region=500000").want(c.t, 200, "选择学校", "重庆建筑职业学院")
	return c.post("/m/school", url.Values{"csrf": {csrf(c.t, p.Body)}, "school_code": {school}}).want(c.t, 200, "缴费", "重庆建筑职业学院")
}

// bind binds a demo student from the 缴费 menu and returns the fee page.
func (c *client) bind(srv *app.Server, no string) page {
	c.t.Helper()
	sc, err := srv.Store.SchoolByCode(context.Background(), school)
	if err != nil {
		c.t.Fatal(err)
	}
	st, err := srv.Store.StudentByNo(context.Background(), sc.ID, no)
	if err != nil {
		c.t.Fatal(err)
	}
	p := c.get("/m/bind").want(c.t, 200, "绑定学生", "学号")
	return c.post("/m/bind", url.Values{"csrf": {csrf(c.t, p.Body)}, "school_code": {school}, "student_no": {no}, "name": {st.Name},
		"id_card_last6": {demo.IDLast6(no)}}).want(c.t, 200, "绑定成功", "待缴费", st.Name)
}
