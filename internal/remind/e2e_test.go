package remind_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/remind"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestMain(m *testing.M) { apptest.Main(m) }

// boot starts the whole server with the sandbox and the dev SMS outbox on
// a fresh database of dialect, loaded with the demo school.
func boot(t *testing.T, d store.Dialect) *app.Server {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "campuspay.db")
	if d == store.Postgres {
		dsn = storetest.PostgresDSN(t)
	}
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: dsn, Sandbox: true, SandboxKeys: apptest.KeysDir(),
		TimeScale: 0.001, NoWorker: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := app.LoadDemo(ctx, s.Store, io.Discard); err != nil {
		t.Fatalf("LoadDemo: %v", err)
	}
	return s
}

// api makes a JSON call and decodes the answer into out.
func api(t *testing.T, base, method, path, token string, in, out any) (int, string) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode, string(b)
}

// staffToken makes a school's staff member of role and logs them in
// through the admin API (password, TOTP, and the first password change).
func staffToken(t *testing.T, srv *app.Server, role admin.Role, name string) string {
	t.Helper()
	sc, err := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	if err != nil {
		t.Fatal(err)
	}
	h, err := srv.Admin.CreateStaff(ctx, admin.System("test"), admin.NewStaff{SchoolID: sc.ID, Role: role, Username: name, DisplayName: "测试"})
	if err != nil {
		t.Fatal(err)
	}
	var lg struct{ Token string }
	if st, b := api(t, srv.URL, "POST", "/api/v1/admin/login", "", map[string]string{"username": name, "password": h.Password,
		"totp": admin.TOTPCode(h.Enrolment.Secret, time.Now())}, &lg); st != 200 {
		t.Fatalf("staff login: %d %s", st, b)
	}
	if st, b := api(t, srv.URL, "POST", "/api/v1/admin/me/password", lg.Token, map[string]string{"old_password": h.Password,
		"new_password": "finance-office-2026"}, nil); st != 200 {
		t.Fatalf("staff password: %d %s", st, b)
	}
	return lg.Token
}

// portal is a student's browser on the web portal, with its cookies.
type portal struct {
	t    *testing.T
	base string
	hc   *http.Client
	body string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (p *portal) csrf() string {
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		p.t.Fatalf("no csrf field in:\n%.1500s", p.body)
	}
	return m[1]
}

func (p *portal) get(path string) string {
	p.t.Helper()
	resp, err := p.hc.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.body = string(b)
	return p.body
}

func (p *portal) post(path string, form url.Values) string {
	p.t.Helper()
	resp, err := p.hc.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.body = string(b)
	return p.body
}

// studentPortal logs a demo student in to the portal (setting a password
// of their own) and ends on the fee page.
func studentPortal(t *testing.T, base, no string) *portal {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &portal{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	school := "/s/" + app.DemoSchool + "/"
	p.get(school + "login")
	p.post(school+"login", url.Values{"csrf": {p.csrf()}, "student_no": {no}, "password": {"111111"}})
	p.post(school+"password", url.Values{"csrf": {p.csrf()}, "old_password": {"111111"}, "id_card_last6": {demo.IDLast6(no)},
		"new_password": {"campus2026pay"}, "confirm_password": {"campus2026pay"}})
	if !strings.Contains(p.body, "待缴费") {
		t.Fatalf("%s is not on the fee page:\n%.1500s", no, p.body)
	}
	return p
}

type batchJSON struct {
	ID        int64 `json:"id"`
	Students  int   `json:"students"`
	SMSSent   int   `json:"sms_sent"`
	SMSFailed int   `json:"sms_failed"`
	Notices   int   `json:"notices"`
	Skipped   int   `json:"skipped"`
}

type devSMS struct {
	Messages []struct {
		Phone    string   `json:"phone"`
		Template string   `json:"template"`
		Params   []string `json:"params"`
		Text     string   `json:"text"`
	} `json:"messages"`
}

// TestRemindersEndToEnd drives reminders over HTTP on both engines: a
// clerk previews and sends through the admin API; students with a phone
// get the SMS in the dev outbox (GET /dev/sms), those without see the
// notice on the portal's fee page until they pay or click 知道了; a second
// send the same day reminds nobody and sends nothing; the send is in the
// school's audit chain, which still verifies.
func TestRemindersEndToEnd(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			srv := boot(t, d)
			base := srv.URL
			// Three students of 计科2601班 have no phone on the roll.
			noPhone := []string{"2026010001", "2026010002", "2026010003"}
			for _, no := range noPhone {
				if _, err := srv.Store.DB().ExecContext(ctx, `UPDATE students SET phone = '' WHERE student_no = $1`, no); err != nil {
					t.Fatal(err)
				}
			}
			clerk := staffToken(t, srv, admin.RoleClerk, "clerk_"+string(d))
			class := url.QueryEscape("计科2601班")

			var pv struct{ Students, SMS, Notices, Skipped, Deferred int }
			if st, b := api(t, base, "GET", "/api/v1/admin/reminders/preview?class="+class, clerk, nil, &pv); st != 200 ||
				pv.Students != 25 || pv.SMS != 22 || pv.Notices != 3 || pv.Skipped != 0 {
				t.Fatalf("preview: %d %s", st, b)
			}
			if st, b := api(t, base, "GET", "/api/v1/admin/reminders/preview?project=nosuch", clerk, nil, nil); st != 422 {
				t.Errorf("an unknown project: %d %s", st, b)
			}
			var res batchJSON
			if st, b := api(t, base, "POST", "/api/v1/admin/reminders", clerk, map[string]string{"class": "计科2601班"}, &res); st != 201 ||
				res.SMSSent != 22 || res.Notices != 3 || res.SMSFailed != 0 || res.Students != 25 {
				t.Fatalf("send: %d %s", st, b)
			}
			var box devSMS
			api(t, base, "GET", "/dev/sms?phone=13048700699", "", nil, &box) // 2026010004's phone
			if len(box.Messages) != 1 || box.Messages[0].Template != "payment_reminder" || !strings.Contains(box.Messages[0].Text, "您有2项未缴的必缴项目") {
				t.Errorf("2026010004's SMS: %+v", box)
			}
			api(t, base, "GET", "/dev/sms", "", nil, &box)
			if len(box.Messages) != 22 {
				t.Errorf("%d messages in the outbox, want 22", len(box.Messages))
			}

			t.Run("not twice in a day", func(t *testing.T) {
				if st, b := api(t, base, "POST", "/api/v1/admin/reminders", clerk, map[string]string{"class": "计科2601班"}, nil); st != 409 ||
					!strings.Contains(b, remind.CodeNothingToRemind) {
					t.Errorf("a second send: %d %s", st, b)
				}
				// A wider send the same day reaches only the students not reminded yet.
				if st, b := api(t, base, "POST", "/api/v1/admin/reminders", clerk, map[string]string{"major": "计算机科学与技术"}, &res); st != 201 ||
					res.SMSSent != 25 || res.Skipped != 25 {
					t.Errorf("the major's send: %d %s", st, b)
				}
				api(t, base, "GET", "/dev/sms?phone=13048700699", "", nil, &box)
				if len(box.Messages) != 1 {
					t.Errorf("2026010004 got %d messages today", len(box.Messages))
				}
			})

			t.Run("audited", func(t *testing.T) {
				sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
				rs, err := srv.Admin.AuditLog(ctx, admin.System("test"), sc.ID, admin.AuditQuery{Action: "reminder."})
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 2 || rs[1].Actor != "clerk_"+string(d) || rs[1].Role != "clerk" || !strings.Contains(rs[1].After, `"sms":22`) ||
					!strings.Contains(rs[1].After, "计科2601班") {
					t.Errorf("audit rows: %+v", rs)
				}
				rep, err := srv.Admin.VerifyAudit(ctx, admin.System("test"), sc.ID)
				if err != nil || !rep.OK() {
					t.Errorf("the audit chain: %+v %v", rep.Break, err)
				}
				var hist struct{ Batches []batchJSON }
				if st, b := api(t, base, "GET", "/api/v1/admin/reminders", clerk, nil, &hist); st != 200 || len(hist.Batches) != 2 || hist.Batches[1].Notices != 3 {
					t.Errorf("history: %d %s", st, b)
				}
			})

			t.Run("the notice stays on the portal until paid", func(t *testing.T) {
				p := studentPortal(t, base, noPhone[0])
				body := p.get("/s/" + app.DemoSchool + "/fees")
				if !strings.Contains(body, "财务处提醒") || !strings.Contains(body, "2 项必缴费用未缴纳") || !strings.Contains(body, "¥7700.00") {
					t.Fatalf("no reminder on the fee page:\n%.3000s", body)
				}
				payMandatoryAPI(t, base, noPhone[0])
				if body := p.get("/s/" + app.DemoSchool + "/fees"); strings.Contains(body, "财务处提醒") {
					t.Errorf("the reminder stays after paying")
				}
			})

			t.Run("or until dismissed", func(t *testing.T) {
				p := studentPortal(t, base, noPhone[1])
				body := p.get("/s/" + app.DemoSchool + "/fees")
				m := regexp.MustCompile(`action="(/s/[^"]+/notices/\d+/dismiss)"`).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no 知道了 on the fee page:\n%.3000s", body)
				}
				body = p.post(m[1], url.Values{"csrf": {p.csrf()}})
				if strings.Contains(body, "财务处提醒") || !strings.Contains(body, "待缴费") {
					t.Errorf("after 知道了:\n%.2000s", body)
				}
				if ns, _ := srv.Reminders.Notices(ctx, studentID(t, srv, noPhone[1])); len(ns) != 0 {
					t.Errorf("notices after dismissal: %+v", ns)
				}
			})

			t.Run("and in the phone app, where it is dismissed too", func(t *testing.T) {
				no := noPhone[2]
				token, sid := phoneAccount(t, srv, no, "13977770003")
				jar, _ := cookiejar.New(nil)
				u, _ := url.Parse(base + "/m/")
				jar.SetCookies(u, []*http.Cookie{{Name: "campuspay_m", Value: token, Path: "/m/"}})
				p := &portal{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
				body := p.get(fmt.Sprintf("/m/s/%d/", sid))
				if !strings.Contains(body, "财务处提醒") || !strings.Contains(body, "还有 2 项必缴费用未缴纳") {
					t.Fatalf("no reminder in the app:\n%.3000s", body)
				}
				m := regexp.MustCompile(`action="(/m/s/\d+/notices/\d+/dismiss)"`).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no 知道了 in the app:\n%.3000s", body)
				}
				if body = p.post(m[1], url.Values{"csrf": {p.csrf()}}); strings.Contains(body, "财务处提醒") || !strings.Contains(body, "收费项目") {
					t.Errorf("after 知道了 in the app:\n%.2000s", body)
				}
				if body := studentPortal(t, base, no).get("/s/" + app.DemoSchool + "/fees"); strings.Contains(body, "财务处提醒") {
					t.Error("dismissed in the app, the notice stays on the portal")
				}
			})
		})
	}
}

// phoneAccount makes a phone account bound to the demo student no through
// the API and returns its token (the app's cookie) and the student's id.
func phoneAccount(t *testing.T, srv *app.Server, no, phone string) (string, int64) {
	t.Helper()
	base := srv.URL
	if st, b := api(t, base, "POST", "/api/v1/sms", "", map[string]string{"phone": phone, "purpose": "login"}, nil); st != 200 {
		t.Fatalf("sms: %d %s", st, b)
	}
	code, _ := srv.SMSOutbox.LastCode(phone, "login")
	var lg struct{ Token string }
	if st, b := api(t, base, "POST", "/api/v1/auth/sms-login", "", map[string]string{"phone": phone, "code": code}, &lg); st != 200 {
		t.Fatalf("sms login: %d %s", st, b)
	}
	if st, b := api(t, base, "POST", "/api/v1/me/password", lg.Token, map[string]string{"new_password": "parent-2026-pay"}, &lg); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	if st, b := api(t, base, "PUT", "/api/v1/me/school", lg.Token, map[string]string{"school_code": app.DemoSchool}, nil); st != 200 {
		t.Fatalf("school: %d %s", st, b)
	}
	sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	stu, err := srv.Store.StudentByNo(ctx, sc.ID, no)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := api(t, base, "POST", "/api/v1/bindings", lg.Token, map[string]string{"school_code": app.DemoSchool, "student_no": no,
		"name": stu.Name, "id_card_last6": demo.IDLast6(no)}, nil); st != 201 {
		t.Fatalf("bind: %d %s", st, b)
	}
	return lg.Token, stu.ID
}

func studentID(t *testing.T, srv *app.Server, no string) int64 {
	t.Helper()
	sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	st, err := srv.Store.StudentByNo(ctx, sc.ID, no)
	if err != nil {
		t.Fatal(err)
	}
	return st.ID
}

// payMandatoryAPI pays a student's mandatory items by WeChat through the
// API and the sandbox, and waits for the order to be paid.
func payMandatoryAPI(t *testing.T, base, no string) {
	t.Helper()
	var lr struct{ Token string }
	if st, b := api(t, base, "POST", "/api/v1/auth/student-login", "", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "campus2026pay"}, &lr); st != 200 {
		t.Fatalf("login: %d %s", st, b)
	}
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64 `json:"id"`
				Mandatory bool  `json:"mandatory"`
			} `json:"items"`
		} `json:"projects"`
	}
	api(t, base, "GET", "/api/v1/bills", lr.Token, nil, &bills)
	var ids []int64
	for _, it := range bills.Projects[0].Items {
		if it.Mandatory {
			ids = append(ids, it.ID)
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Pay     struct {
			CodeURL string `json:"code_url"`
		} `json:"pay"`
	}
	if st, b := api(t, base, "POST", "/api/v1/orders", lr.Token, map[string]any{"item_ids": ids, "channel": "wechat"}, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	if st, b := api(t, base, "POST", "/sandbox/test-helpers/wechat/pay", "", map[string]string{"code_url": o.Pay.CodeURL}, nil); st != 200 {
		t.Fatalf("pay: %d %s", st, b)
	}
	for i := 0; ; i++ {
		var got struct{ Status string }
		api(t, base, "GET", "/api/v1/orders/"+o.OrderNo+"?wait_seconds=5", lr.Token, nil, &got)
		if got.Status == "paid" {
			return
		}
		if i == 6 {
			t.Fatalf("order still %s", got.Status)
		}
	}
}
