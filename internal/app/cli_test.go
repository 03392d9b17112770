package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/store"
)

func repoFile(t *testing.T, rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

// TestImportJourney is the finance office's first day, as a new user would
// try it: create the school, import the demo roll and bills, re-import,
// try a malformed file, verify the journal.
func TestImportJourney(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cp.db")
	steps := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"the school is created", []string{"school", "create", "--code", "cqjz", "--name", "重庆建筑职业学院", "--region-code", "500000", "--region-name", "重庆市", "--db", db}, 0, []string{"已创建学校"}},
		{"a second school with the same code is refused", []string{"school", "create", "--code", "cqjz", "--name", "x", "--region-code", "500000", "--db", db}, 1, []string{"已存在"}},
		{"the roll imports", []string{"import", "students", "--school", "cqjz", repoFile(t, "demo/students.csv"), "--db", db}, 0, []string{"300 行", "新增 300"}},
		{"the GB18030 roll imports", []string{"import", "students", "--school", "cqjz", repoFile(t, "demo/students_gb18030.csv"), "--db", db}, 0, []string{"新增 5"}},
		{"the bills import", []string{"import", "bills", "--school", "cqjz", repoFile(t, "demo/bills.csv"), "--db", db}, 0, []string{"1800 行", "新增 1800"}},
		{"the journal verifies", []string{"journal", "verify", "--db", db}, 0, []string{"journal OK"}},
		{"re-importing the same bills changes nothing", []string{"import", "bills", "--school", "cqjz", repoFile(t, "demo/bills.csv"), "--db", db}, 0, []string{"新增 0", "更新 0", "未变 1800"}},
		{"the same bills as XLSX change nothing", []string{"import", "bills", "--school", "cqjz", repoFile(t, "demo/bills.xlsx"), "--db", db}, 0, []string{"未变 1800"}},
		{"a malformed file is refused with every bad line", []string{"import", "bills", "--school", "cqjz", repoFile(t, "demo/bills_bad.csv"), "--db", db}, 1, []string{"未导入", "第 5 行", "第 8 行", "第 12 行"}},
		{"the journal still verifies after the refusal", []string{"journal", "verify", "--db", db}, 0, []string{"journal OK", "分录 1 条"}},
		{"an unknown school is an error", []string{"import", "bills", "--school", "nope", repoFile(t, "demo/bills.csv"), "--db", db}, 1, []string{"不存在"}},
		{"a missing argument prints usage", []string{"import", "bills", "--db", db}, 2, []string{"Usage"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out := run(t, s.args...)
			if code != s.code {
				t.Fatalf("exit %d, want %d\n%s", code, s.code, out)
			}
			for _, w := range s.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestJournalVerifyFails: a journal that does not balance, or a
// receivable that disagrees with the bills, makes verify exit non-zero.
func TestJournalVerifyFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	db := "sqlite:" + path
	for _, args := range [][]string{
		{"school", "create", "--code", "cqjz", "--name", "学院", "--region-code", "500000", "--db", db},
		{"import", "students", "--school", "cqjz", repoFile(t, "demo/students.csv"), "--db", db},
		{"import", "bills", "--school", "cqjz", repoFile(t, "demo/bills.csv"), "--db", db},
	} {
		if code, out := run(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, out)
		}
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// A stray posting appended behind the journal's back (appends are the
	// only writes the journal allows).
	if _, err := st.DB().Exec(`INSERT INTO journal_entries (school_id, kind, ref, memo, created_at) VALUES (1, 'bill', 'x', 'forged', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`INSERT INTO journal_postings (entry_id, account, amount) VALUES ((SELECT MAX(id) FROM journal_entries), 'receivable:student:1', 100)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out := run(t, "journal", "verify", "--db", db)
	if code != 1 || !strings.Contains(out, "UNBALANCED") || !strings.Contains(out, "MISMATCH student 1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestServeHealthAndMetrics: /healthz is public; metrics are not (SPEC
// §6): on the public listener only to the configured bearer token, and on
// a listener of their own with the profiler beside them when asked.
func TestServeHealthAndMetrics(t *testing.T) {
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "cp.db"), NoWorker: true,
		MetricsToken: "s3cret-token", MetricsAddr: "127.0.0.1:0", Pprof: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		url, token string
		status     int
		want       string
	}{
		{s.URL + "/healthz", "", 200, "ok"},
		{s.URL + "/metrics", "", 401, ""},
		{s.URL + "/metrics", "wrong", 401, ""},
		{s.URL + "/metrics", "s3cret-token", 200, "campuspay_jobs_pending 0"},
		{s.MetricsURL + "/metrics", "", 200, "campuspay_db_statements_total"},
		{s.MetricsURL + "/debug/pprof/", "", 200, "goroutine"},
		{s.URL + "/debug/pprof/", "", 404, ""},
	} {
		if st, body := get(c.url, c.token); st != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s (token %q): %d %.200s", c.url, c.token, st, body)
		}
	}
	plain, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "cp2.db"), NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if st, _ := get(plain.URL+"/metrics", ""); st == 200 {
		t.Errorf("metrics are public without any metrics setting")
	}
}

// syncBuffer is a bytes.Buffer safe to read while Main writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the README's first command as a new user would, in a
// folder that does not exist yet, and uses what it prints.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := filepath.Join(t.TempDir(), "new", "demo")
	var out syncBuffer
	done := make(chan int)
	go func() { done <- Main(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--dir", dir}, &out, &out) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "按 Ctrl+C 退出") {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"300 名学生", "/s/cqjz/", "/sandbox/", "111111", "6222021000000000009"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	_, rest, _ := strings.Cut(text, "学生缴费平台")
	portal := strings.Fields(rest)[0]
	resp, err := http.Get(portal)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "学生登录") {
		t.Fatalf("portal %s: %d", portal, resp.StatusCode)
	}
	// The finance office's console: the demo admin logs in with the
	// printed one-time password and the code /dev/totp shows.
	base := strings.TrimSuffix(portal, "/s/cqjz/")
	m := regexp.MustCompile(`demo\.admin +\S+，一次性密码 (\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no demo admin in the output:\n%s", text)
	}
	var codes struct {
		Codes []struct{ Username, Code string }
	}
	getJSON(t, base+"/dev/totp", &codes)
	totp := ""
	for _, c := range codes.Codes {
		if c.Username == "demo.admin" {
			totp = c.Code
		}
	}
	login := fmt.Sprintf(`{"username":"demo.admin","password":%q,"totp":%q}`, m[1], totp)
	lr, err := http.Post(base+"/api/v1/admin/login", "application/json", strings.NewReader(login))
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(lr.Body)
	lr.Body.Close()
	if lr.StatusCode != 200 || !strings.Contains(string(lb), `"token"`) {
		t.Fatalf("demo admin login: %d %s", lr.StatusCode, lb)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d", code)
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
