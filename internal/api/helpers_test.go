package api_test

import (
	"bytes"
	"campuspay/demo"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"campuspay/internal/app/apptest"
)

func TestMain(m *testing.M) { apptest.Main(m) }

const (
	school      = "cqjz"
	initialPW   = "111111"
	newPassword = "Kx9-pay-2026"
)

// boot starts the demo server (apptest.Demo).
func boot(t *testing.T) string { return apptest.Demo(t).URL }

var httpClient = &http.Client{Timeout: 20 * time.Second}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends body (raw, "" for none) with token (if any) and returns the answer.
func do(t *testing.T, method, url, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// decode unmarshals the body into out, keeping numbers as json.Number when
// out holds interface values.
func (r reply) decode(t *testing.T, out any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
}

// apiError is the one error shape of the API.
type apiError struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks that r is the JSON error {"error":{"code","message"}}
// with status, code and a Chinese message.
func (r reply) wantError(t *testing.T, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
		t.Fatalf("body %s is not {\"error\":{...}}: %v", r.body, err)
	}
	if e.Error.Code != code {
		t.Fatalf("code %q, want %q; body %s", e.Error.Code, code, r.body)
	}
	if !hasHan(e.Error.Message) {
		t.Fatalf("message %q is not Chinese", e.Error.Message)
	}
	return e.Error.Message
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// login logs a demo student in with password and returns the token and
// must_change_password.
func login(t *testing.T, base, studentNo, password string) (string, bool) {
	t.Helper()
	r := do(t, "POST", base+"/api/v1/auth/student-login", "", mustJSON(map[string]string{"school_code": school, "student_no": studentNo, "password": password}))
	if r.status != 200 {
		t.Fatalf("student-login %s: %d %s", studentNo, r.status, r.body)
	}
	var out struct {
		Token              string `json:"token"`
		MustChangePassword bool   `json:"must_change_password"`
	}
	r.decode(t, &out)
	if out.Token == "" {
		t.Fatalf("student-login %s: no token in %s", studentNo, r.body)
	}
	return out.Token, out.MustChangePassword
}

// ready returns a token for a demo student who has changed the initial
// password, so fee calls are allowed.
func ready(t *testing.T, base, studentNo string) string {
	t.Helper()
	tok, _ := login(t, base, studentNo, initialPW)
	r := do(t, "POST", base+"/api/v1/me/password", tok, mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword,
		"id_card_last6": demo.IDLast6(studentNo)}))
	if r.status != 200 {
		t.Fatalf("change password %s: %d %s", studentNo, r.status, r.body)
	}
	tok, must := login(t, base, studentNo, newPassword)
	if must {
		t.Fatalf("student %s still must change the password after changing it", studentNo)
	}
	return tok
}

type billItem struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Amount     int64  `json:"amount"`
	PaidAmount int64  `json:"paid_amount"`
	Mandatory  bool   `json:"mandatory"`
	Status     string `json:"status"`
}

type billProject struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	SelectedLock bool       `json:"selected_lock"`
	Items        []billItem `json:"items"`
}

type bills struct {
	Student struct {
		ID         int64  `json:"id"`
		SchoolCode string `json:"school_code"`
		StudentNo  string `json:"student_no"`
		Name       string `json:"name"`
	} `json:"student"`
	Projects []billProject `json:"projects"`
}

func getBills(t *testing.T, base, tok string) bills {
	t.Helper()
	r := do(t, "GET", base+"/api/v1/bills", tok, "")
	if r.status != 200 {
		t.Fatalf("bills: %d %s", r.status, r.body)
	}
	var b bills
	r.decode(t, &b)
	return b
}

// pick returns the ids of the items of the project named project (all of
// them when names is empty, else those named) and their amount.
func (b bills) pick(project string, names ...string) (ids []int64, total int64) {
	for _, p := range b.Projects {
		if p.Name != project {
			continue
		}
		for _, it := range p.Items {
			if len(names) == 0 || contains(names, it.Name) {
				ids = append(ids, it.ID)
				total += it.Amount
			}
		}
	}
	return ids, total
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
