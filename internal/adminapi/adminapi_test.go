package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
)

func TestMain(m *testing.M) { apptest.Main(m) }

type api struct {
	t     *testing.T
	base  string
	token string
}

func (a *api) call(method, path string, in any, out any) (int, string) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func code(body string) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

// TestAppendixB: the staff login answers with its codes, the board and the
// student have the shapes Appendix B fixes, the one-time password must be
// changed first, and a bills file with bad rows is refused row by row.
func TestAppendixB(t *testing.T) {
	srv := apptest.Demo(t)
	ctx := context.Background()
	sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	h, err := srv.Admin.CreateStaff(ctx, admin.System("test"), admin.NewStaff{SchoolID: sc.ID, Role: admin.RoleClerk, Username: "cw_api"})
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, base: srv.URL}
	login := func(pw, totp string) (int, string) {
		var out struct {
			Token string `json:"token"`
		}
		st, b := a.call("POST", "/api/v1/admin/login", map[string]string{"username": "cw_api", "password": pw, "totp": totp}, nil)
		json.Unmarshal([]byte(b), &out)
		if st == 200 {
			a.token = out.Token
		}
		return st, b
	}
	if st, b := login("wrong", admin.TOTPCode(h.Enrolment.Secret, time.Now())); st != 401 || code(b) != "bad_credentials" {
		t.Errorf("wrong password: %d %s", st, b)
	}
	if st, b := login(h.Password, "000000"); st != 401 || code(b) != "bad_totp" {
		t.Errorf("wrong code: %d %s", st, b)
	}
	st, b := login(h.Password, admin.TOTPCode(h.Enrolment.Secret, time.Now()))
	if st != 200 || !strings.Contains(b, `"role":"clerk"`) || !strings.Contains(b, `"school_code":"cqjz"`) || !strings.Contains(b, `"must_change_password":true`) {
		t.Fatalf("login: %d %s", st, b)
	}
	if st, b := a.call("GET", "/api/v1/admin/board", nil, nil); st != 403 || code(b) != "must_change_password" {
		t.Errorf("board before the password change: %d %s", st, b)
	}
	if st, b := a.call("POST", "/api/v1/admin/me/password", map[string]string{"old_password": h.Password, "new_password": "cashier-desk-2026"}, nil); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	var board struct {
		Due, Paid, Outstanding int64
		Students               int `json:"students"`
		Full                   int `json:"students_paid_in_full"`
		ByProject              []struct {
			Project                string `json:"project"`
			Due, Paid, Outstanding int64
		} `json:"by_project"`
		ByClass []map[string]any `json:"by_class"`
		Hours   []map[string]any `json:"hours"`
	}
	if st, b := a.call("GET", "/api/v1/admin/board?school=cqjz", nil, &board); st != 200 || board.Due == 0 || board.Outstanding != board.Due-board.Paid ||
		board.Students != 300 || len(board.ByProject) != 2 || board.ByProject[0].Project != "2026学年学费住宿费" || len(board.ByClass) != 12 || len(board.Hours) != admin.ChartHours {
		t.Errorf("board: %d %s", st, b)
	}
	var filtered struct {
		Due       int64            `json:"due"`
		ByProject []map[string]any `json:"by_project"`
	}
	if st, b := a.call("GET", "/api/v1/admin/board?project=2026学年代收费&major=软件工程", nil, &filtered); st != 200 || len(filtered.ByProject) != 1 || filtered.Due >= board.Due {
		t.Errorf("filtered board: %d %s", st, b)
	}
	var stu struct {
		Student     map[string]any   `json:"student"`
		Items       []map[string]any `json:"items"`
		Orders      []map[string]any `json:"orders"`
		Adjustments []map[string]any `json:"adjustments"`
	}
	if st, b := a.call("GET", "/api/v1/admin/students/2026010001?school=cqjz", nil, &stu); st != 200 || stu.Student["student_no"] != "2026010001" ||
		len(stu.Items) != 6 || stu.Orders == nil || stu.Adjustments == nil || strings.Contains(b, "500117200806144212") {
		t.Errorf("student: %d %s", st, b)
	}
	if st, b := a.call("GET", "/api/v1/admin/students/9999999999", nil, nil); st != 404 || code(b) != admin.CodeStudentNotFound {
		t.Errorf("unknown student: %d %s", st, b)
	}
	// A bills file with bad rows: 422, every row named, nothing applied.
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	mw.WriteField("kind", "bills")
	fw, _ := mw.CreateFormFile("file", "bad.csv")
	fmt.Fprint(fw, "学号,收费项目,子项目,应缴金额,必缴\n2026010001,x,y,1.00,是\n2026010002,x,y,abc,是\n0000000000,x,y,1.00,是\n")
	mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/admin/imports", &mb)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pv struct {
		Batch struct {
			Status string `json:"status"`
		} `json:"batch"`
		Problems []struct {
			Line   int    `json:"line"`
			Column string `json:"column"`
		} `json:"problems"`
	}
	json.Unmarshal(body, &pv)
	if resp.StatusCode != 422 || pv.Batch.Status != "refused" || len(pv.Problems) != 2 || pv.Problems[0].Line != 3 || pv.Problems[1].Line != 4 {
		t.Errorf("bad import: %d %s", resp.StatusCode, body)
	}
	// The lockout answers 429 login_locked with the wait.
	a.token = ""
	var last string
	for i := 0; i < 40 && code(last) != "login_locked"; i++ {
		_, last = login("guess", "123456")
	}
	if code(last) != "login_locked" || !strings.Contains(last, "retry_after_seconds") {
		t.Errorf("after many failures: %s", last)
	}
}
