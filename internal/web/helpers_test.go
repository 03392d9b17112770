package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/payment"
	"campuspay/internal/worker"
)

func TestMain(m *testing.M) { apptest.Main(m) }

const school = "tst"

// platformName is the platform's configured name in these tests, so that
// every page and both channels are seen to use it (not the default).
const platformName = "渝校缴费平台"

// Every test student owes the same two projects: 学费住宿费 (学费 5800.00 and
// 住宿费 1200.00 mandatory, 提档费 50.00 optional) and 代收费 (教材费 520.00
// optional).
const (
	studentsCSV = "学号,姓名,身份证号,年级,专业,班级,手机号\n"
	billsHeader = "学号,收费项目,子项目,应缴金额,必缴\n"
)

func boot(t *testing.T) *app.Server {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("WEB_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "web.db"),
		Sandbox: true, SandboxKeys: apptest.KeysDir(), TimeScale: 0.001, Log: log, PlatformName: platformName,
		Payments: payment.Config{FirstQuery: 500 * time.Millisecond, QueryInterval: 500 * time.Millisecond, QueryMaxInterval: time.Second},
		Worker:   worker.Config{Poll: 100 * time.Millisecond, Lease: 30 * time.Second, MaxAttempts: 200, Batch: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sc, err := srv.Store.CreateSchool(ctx, billing.School{Code: school, Name: "测试职业学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	var st, bl strings.Builder
	st.WriteString(studentsCSV)
	bl.WriteString(billsHeader)
	for i := 1; i <= 20; i++ {
		no := fmt.Sprintf("20260000%02d", i)
		fmt.Fprintf(&st, "%s,学生%02d,%s,2026,建筑工程技术,建工2601班,138000000%02d\n", no, i, idCard(fmt.Sprintf("500117200806144%02d", i)), i)
		fmt.Fprintf(&bl, "%[1]s,2026学年学费住宿费,学费,5800.00,是\n%[1]s,2026学年学费住宿费,住宿费,1200.00,是\n%[1]s,2026学年学费住宿费,提档费,50.00,否\n%[1]s,2026学年代收费,教材费,520.00,否\n", no)
	}
	for _, f := range []struct{ kind, body string }{{importer.Students, st.String()}, {importer.Bills, bl.String()}} {
		if _, err := importer.Apply(ctx, srv.Store, sc.ID, f.kind, f.kind+".csv", strings.NewReader(f.body)); err != nil {
			t.Fatalf("import %s: %v", f.kind, err)
		}
	}
	return srv
}

// idCard appends the GB 11643 check character to 17 digits.
func idCard(d17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range d17 {
		sum += int(c-'0') * w[i]
	}
	return d17 + string("10X98765432"[sum%11])
}

func studentNo(i int) string { return fmt.Sprintf("20260000%02d", i) }

// client is a browser-like HTTP client with its own cookies.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// noFollow returns the same client that stops at redirects.
func (c *client) noFollow() *client {
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: c.t, base: c.base, hc: &hc}
}

type page struct {
	Status int
	Body   string
	URL    string
	Header http.Header
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Body: string(b), URL: resp.Request.URL.String(), Header: resp.Header}
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

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%.2000s", body)
	}
	return m[1]
}

// login posts the login form with the token of a fresh login page.
func (c *client) login(no, pw string) page {
	lp := c.get("/s/" + school + "/login")
	return c.post("/s/"+school+"/login", url.Values{"csrf": {csrf(c.t, lp.Body)}, "student_no": {no}, "password": {pw}})
}

const newPassword = "campus2026"

// ready logs a new student in and changes the initial password; it
// returns the fee page.
func (c *client) ready(no string) page {
	c.t.Helper()
	p := c.login(no, "111111")
	if !strings.HasSuffix(p.URL, "/password") {
		c.t.Fatalf("first login landed on %s, want the password page", p.URL)
	}
	p = c.post("/s/"+school+"/password", url.Values{"csrf": {csrf(c.t, p.Body)}, "old_password": {"111111"},
		"id_card_last6": {idLast6(no)}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	if !strings.Contains(p.URL, "/fees") || p.Status != 200 {
		c.t.Fatalf("after password change: %d %s\n%.1500s", p.Status, p.URL, p.Body)
	}
	return p
}

var itemRe = regexp.MustCompile(`<label for="item-(\d+)"><span class="name">([^<]+)</span>`)

// items maps item names on a fee page to their ids.
func items(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range itemRe.FindAllStringSubmatch(body, -1) {
		out[m[2]] = m[1]
	}
	if len(out) == 0 {
		t.Fatalf("no items on page:\n%.3000s", body)
	}
	return out
}

// idLast6 is the last 6 characters of a test student's ID number (boot's
// roll), which the first password change asks for.
func idLast6(no string) string {
	var i int
	fmt.Sscanf(no[len(no)-2:], "%d", &i)
	id := idCard(fmt.Sprintf("500117200806144%02d", i))
	return id[len(id)-6:]
}
