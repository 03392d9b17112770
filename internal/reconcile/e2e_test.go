package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/audit"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
	"campuspay/internal/worker"
)

func TestMain(m *testing.M) { apptest.Main(m) }

var ctx = context.Background()

// booted is a whole server with the sandbox on a fresh database of a
// dialect, loaded with the demo school. Its worker is off: the books move
// only by notifications and by what a test does, so a payment whose
// notification never comes stays unknown to the platform.
type booted struct {
	*app.Server
	dsn string
}

func boot(t *testing.T, d store.Dialect) booted {
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
	return booted{s, dsn}
}

// web is a JSON client of one server, with a bearer token.
type web struct {
	t     *testing.T
	base  string
	token string
	user  string // the staff member's username, for staff clients
}

func (w *web) call(method, path string, in, out any) (int, string) {
	w.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.base+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, string(b)
}

// staff creates a staff member of the demo school and logs them in to
// the admin API (password and TOTP, then their own password).
func staff(t *testing.T, srv *app.Server, role admin.Role) *web {
	t.Helper()
	sc, err := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s_%d", role, time.Now().UnixNano())
	h, err := srv.Admin.CreateStaff(ctx, admin.System("test"), admin.NewStaff{SchoolID: sc.ID, Role: role, Username: name, DisplayName: "对账测试"})
	if err != nil {
		t.Fatal(err)
	}
	w := &web{t: t, base: srv.URL, user: name}
	var lr struct {
		Token string `json:"token"`
	}
	if st, b := w.call("POST", "/api/v1/admin/login", map[string]string{"username": name, "password": h.Password,
		"totp": admin.TOTPCode(h.Enrolment.Secret, time.Now())}, &lr); st != 200 {
		t.Fatalf("staff login: %d %s", st, b)
	}
	w.token = lr.Token
	if st, b := w.call("POST", "/api/v1/admin/me/password", map[string]string{"old_password": h.Password, "new_password": "reconcile-desk-2026"}, nil); st != 200 {
		t.Fatalf("staff password: %d %s", st, b)
	}
	return w
}

type orderJSON struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Amount  int64  `json:"amount"`
	Pay     struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Fields  map[string]string `json:"fields"`
		CodeURL string            `json:"code_url"`
	} `json:"pay"`
}

// order logs a demo student in (setting their own password first) and
// makes an order of their unpaid mandatory items on a channel.
func order(t *testing.T, base, studentNo, channel string) orderJSON {
	t.Helper()
	w := &web{t: t, base: base}
	login := func(pw string) {
		var lr struct {
			Token string `json:"token"`
		}
		if st, b := w.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": app.DemoSchool, "student_no": studentNo, "password": pw}, &lr); st != 200 {
			t.Fatalf("student login %s: %d %s", studentNo, st, b)
		}
		w.token = lr.Token
	}
	login("111111")
	if st, b := w.call("POST", "/api/v1/me/password", map[string]string{"old_password": "111111", "new_password": "Kx9-recon-2026!",
		"id_card_last6": demo.IDLast6(studentNo)}, nil); st != 200 {
		t.Fatalf("student password: %d %s", st, b)
	}
	login("Kx9-recon-2026!")
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64  `json:"id"`
				Mandatory bool   `json:"mandatory"`
				Status    string `json:"status"`
			} `json:"items"`
		} `json:"projects"`
	}
	if st, b := w.call("GET", "/api/v1/bills", nil, &bills); st != 200 {
		t.Fatalf("bills: %d %s", st, b)
	}
	var ids []int64
	for _, p := range bills.Projects {
		for _, it := range p.Items {
			if it.Mandatory && it.Status == "unpaid" {
				ids = append(ids, it.ID)
			}
		}
	}
	var o orderJSON
	if st, b := w.call("POST", "/api/v1/orders", map[string]any{"item_ids": ids, "channel": channel}, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	return o
}

// Sandbox test cards (SPEC §5).
const (
	cardICBC     = "6222021000000000009"
	phoneICBC    = "13800000001"
	cardNoNotify = "6222022000000000008" // pays, but the gateway never notifies
	phoneNoNote  = "13800000008"
)

// payUnionPay posts the order's form to the gateway, as the payer's
// browser does, and pays it with a test card.
func payUnionPay(t *testing.T, base string, o orderJSON, card, phone string) {
	t.Helper()
	form := url.Values{}
	for k, v := range o.Pay.Fields {
		form.Set(k, v)
	}
	resp, err := http.PostForm(o.Pay.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var out struct {
		RespCode string `json:"resp_code"`
	}
	w := &web{t: t, base: base}
	if st, b := w.call("POST", "/sandbox/test-helpers/unionpay/pay", map[string]string{"order_no": o.OrderNo, "card_no": card,
		"pin": "123456", "phone": phone, "sms_code": "111111"}, &out); st != 200 || out.RespCode != "00" {
		t.Fatalf("unionpay pay %s: %d %s", o.OrderNo, st, b)
	}
}

func payWeChat(t *testing.T, base string, o orderJSON) {
	t.Helper()
	w := &web{t: t, base: base}
	if st, b := w.call("POST", "/sandbox/test-helpers/wechat/pay", map[string]string{"code_url": o.Pay.CodeURL}, nil); st != 200 {
		t.Fatalf("wechat pay %s: %d %s", o.OrderNo, st, b)
	}
}

// waitStatus waits for the books to show an order in a state.
func waitStatus(t *testing.T, st *store.Store, orderNo string, want payment.Status) payment.Order {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := st.Order(ctx, orderNo)
		if err == nil && o.Status == want {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: %s, want %s (%v)", orderNo, o.Status, want, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

type diffJSON struct {
	Kind           string `json:"kind"`
	OrderNo        string `json:"order_no"`
	ChannelAmount  int64  `json:"channel_amount"`
	PlatformAmount int64  `json:"platform_amount"`
	Action         string `json:"action"`
	Resolved       bool   `json:"resolved"`
	Note           string `json:"note"`
}

type reconJSON struct {
	Matched     int        `json:"matched"`
	Differences []diffJSON `json:"differences"`
	Status      string     `json:"status"`
	Date        string     `json:"date"`
	Statement   struct {
		Payments      int   `json:"payments"`
		PaymentAmount int64 `json:"payment_amount"`
	} `json:"statement"`
}

// reconcileAPI is POST /api/v1/admin/reconciliations.
func reconcileAPI(t *testing.T, w *web, channel, day string) reconJSON {
	t.Helper()
	var out reconJSON
	st, b := w.call("POST", "/api/v1/admin/reconciliations", map[string]string{"school_code": app.DemoSchool, "channel": channel, "date": day}, &out)
	if st != 200 {
		t.Fatalf("reconcile %s %s: %d %s", channel, day, st, b)
	}
	// Appendix B's shape, key by key, whatever else comes with it.
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(b), &raw)
	if _, ok := raw["matched"]; !ok || raw["differences"] == nil || string(raw["differences"]) == "null" {
		t.Fatalf("reconcile %s: not Appendix B's shape: %s", channel, b)
	}
	for _, d := range out.Differences {
		if d.Kind != reconcile.ChannelOnly && d.Kind != reconcile.PlatformOnly && d.Kind != reconcile.AmountMismatch {
			t.Fatalf("difference of kind %q in %s", d.Kind, b)
		}
	}
	return out
}

// cli runs `campuspay reconcile` in process against the server's
// database and sandbox, and returns its exit code and output.
func cli(t *testing.T, srv booted, channel, day string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := app.Main(ctx, []string{"reconcile", "--school", app.DemoSchool, "--channel", channel, "--date", day, "--db", srv.dsn,
		"--sandbox-url", srv.URL, "--sandbox-keys", apptest.KeysDir()}, &out, &errOut)
	return code, out.String() + errOut.String()
}

func switchStatement(t *testing.T, base string, body map[string]any) {
	t.Helper()
	w := &web{t: t, base: base}
	if st, b := w.call("POST", "/sandbox/test-helpers/statements", body, nil); st != 200 {
		t.Fatalf("statement switch %v: %d %s", body, st, b)
	}
}

func byKind(ds []diffJSON) map[string]diffJSON {
	out := map[string]diffJSON{}
	for _, d := range ds {
		out[d.Kind] = d
	}
	return out
}

// TestReconcileEndToEnd (issue item 4's proof), on both engines: students
// pay through the sandbox on both channels; the day's reconciliation of
// each matches with zero differences and the command line exits 0. Then
// the sandbox drops one UnionPay line and alters one WeChat line, and a
// third UnionPay payment is made whose notification never comes: the
// reconciliation reports the dropped line as platform_only (the channel's
// query confirms the books), the altered one as amount_mismatch (the
// query gives the books' amount: the statement is wrong) and the
// unnotified payment as channel_only (confirmed by query and applied
// through the payment service: the order is paid); the command line
// exits non-zero; the journal and the audit chain verify. With the
// switches cleared the day matches again and the command line exits 0.
func TestReconcileEndToEnd(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			srv := boot(t, d)
			base := srv.URL
			clerk := staff(t, srv.Server, admin.RoleClerk)
			today := reconcile.DayOf(time.Now())

			u1, u2 := order(t, base, "2026010001", "unionpay"), order(t, base, "2026010002", "unionpay")
			w1, w2 := order(t, base, "2026010003", "wechat"), order(t, base, "2026010004", "wechat")
			payUnionPay(t, base, u1, cardICBC, phoneICBC)
			payUnionPay(t, base, u2, cardICBC, phoneICBC)
			payWeChat(t, base, w1)
			payWeChat(t, base, w2)
			for _, o := range []orderJSON{u1, u2, w1, w2} {
				waitStatus(t, srv.Store, o.OrderNo, payment.StatusPaid)
			}

			t.Run("the day matches with zero differences", func(t *testing.T) {
				for _, ch := range []string{"unionpay", "wechat"} {
					r := reconcileAPI(t, clerk, ch, today)
					if r.Matched != 2 || len(r.Differences) != 0 || r.Status != reconcile.StatusMatched || r.Statement.Payments != 2 {
						t.Errorf("%s: %+v", ch, r)
					}
					if code, out := cli(t, srv, ch, today); code != 0 || !strings.Contains(out, "逐笔一致 2 笔，差异 0 笔") {
						t.Errorf("cli %s: exit %d\n%s", ch, code, out)
					}
				}
			})

			switchStatement(t, base, map[string]any{"channel": "unionpay", "date": today, "drop_order_no": u1.OrderNo})
			switchStatement(t, base, map[string]any{"channel": "wechat", "date": today, "alter_order_no": w1.OrderNo, "alter_amount": w1.Amount + 1234})
			u3 := order(t, base, "2026010005", "unionpay")
			payUnionPay(t, base, u3, cardNoNotify, phoneNoNote)
			if o, _ := srv.Store.Order(ctx, u3.OrderNo); o.Status != payment.StatusPaying {
				t.Fatalf("the unnotified payment reached the books: %s", o.Status)
			}
			before := storetest.Snap(t, srv.Store)

			t.Run("a dropped line and a payment never notified are found and resolved", func(t *testing.T) {
				r := reconcileAPI(t, clerk, "unionpay", today)
				k := byKind(r.Differences)
				if r.Matched != 1 || len(r.Differences) != 2 || r.Status != reconcile.StatusResolved {
					t.Fatalf("unionpay: %+v", r)
				}
				if d := k[reconcile.PlatformOnly]; d.OrderNo != u1.OrderNo || d.PlatformAmount != u1.Amount || d.ChannelAmount != 0 ||
					d.Action != reconcile.ActionConfirmed || !d.Resolved || !strings.Contains(d.Note, "漏列") {
					t.Errorf("platform_only: %+v", d)
				}
				if d := k[reconcile.ChannelOnly]; d.OrderNo != u3.OrderNo || d.ChannelAmount != u3.Amount || d.PlatformAmount != 0 ||
					d.Action != reconcile.ActionApplied || !d.Resolved {
					t.Errorf("channel_only: %+v", d)
				}
				o := waitStatus(t, srv.Store, u3.OrderNo, payment.StatusPaid)
				if o.ChannelTxnID == "" {
					t.Errorf("the applied order has no channel transaction: %+v", o)
				}
				after := storetest.Snap(t, srv.Store)
				if after.Payments != before.Payments+1 || after.Paid != before.Paid+o.Amount {
					t.Errorf("books: %+v → %+v", before, after)
				}
				var source string
				srv.Store.DB().QueryRow(`SELECT source FROM payments_received WHERE channel_txn_id = $1`, o.ChannelTxnID).Scan(&source)
				if source != reconcile.Source {
					t.Errorf("the applied payment's source is %q", source)
				}
			})

			t.Run("an altered line is found and resolved", func(t *testing.T) {
				r := reconcileAPI(t, clerk, "wechat", today)
				if r.Matched != 1 || len(r.Differences) != 1 || r.Status != reconcile.StatusResolved {
					t.Fatalf("wechat: %+v", r)
				}
				if d := r.Differences[0]; d.Kind != reconcile.AmountMismatch || d.OrderNo != w1.OrderNo || d.ChannelAmount != w1.Amount+1234 ||
					d.PlatformAmount != w1.Amount || d.Action != reconcile.ActionStatementError || !d.Resolved {
					t.Errorf("amount_mismatch: %+v", d)
				}
			})

			t.Run("the command line exits non-zero while the statement differs", func(t *testing.T) {
				code, out := cli(t, srv, "unionpay", today)
				if code == 0 || code != app.ExitDifferences || !strings.Contains(out, "platform_only") || !strings.Contains(out, u1.OrderNo) ||
					strings.Contains(out, "channel_only") {
					t.Errorf("unionpay: exit %d\n%s", code, out)
				}
				if code, out := cli(t, srv, "wechat", today); code != app.ExitDifferences || !strings.Contains(out, "amount_mismatch") {
					t.Errorf("wechat: exit %d\n%s", code, out)
				}
			})

			t.Run("the results are kept, audited and shown on the board", func(t *testing.T) {
				var got reconJSON
				if st, b := clerk.call("GET", "/api/v1/admin/reconciliations?school=cqjz&channel=wechat&date="+today, nil, &got); st != 200 ||
					len(got.Differences) != 1 || got.Differences[0].Action != reconcile.ActionStatementError {
					t.Errorf("GET reconciliation: %d %s", st, b)
				}
				var bd struct {
					Reconciliations []struct {
						Channel, Date, Status string
					} `json:"reconciliations"`
				}
				if st, b := clerk.call("GET", "/api/v1/admin/board?school=cqjz", nil, &bd); st != 200 || len(bd.Reconciliations) != 2 ||
					bd.Reconciliations[0].Date != today {
					t.Errorf("board: %d %s", st, b)
				}
				sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
				var runs []audit.Record
				if err := srv.Store.WalkAudit(ctx, sc.ID, func(r audit.Record) error {
					if r.Action == reconcile.ActAudit {
						runs = append(runs, r)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				// Four clean runs (API and command line on each channel),
				// then the two that found differences, then the two
				// command-line runs.
				if len(runs) != 8 || !strings.Contains(runs[4].After, u3.OrderNo) || !strings.Contains(runs[4].After, `"action":"applied"`) ||
					runs[4].Actor != clerk.user || runs[6].Actor != "system" {
					t.Errorf("%d audited runs; the fifth: %+v", len(runs), runs[min(4, len(runs)-1)])
				}
				rep, err := srv.Admin.VerifyAudit(ctx, admin.System("test"), sc.ID)
				if err != nil || rep.Break != nil {
					t.Errorf("audit chain: %+v %v", rep, err)
				}
				storetest.JournalOK(t, srv.Store)
			})

			t.Run("an auditor reads but may not run one", func(t *testing.T) {
				aud := staff(t, srv.Server, admin.RoleAuditor)
				if st, b := aud.call("POST", "/api/v1/admin/reconciliations", map[string]string{"school_code": app.DemoSchool, "channel": "unionpay", "date": today}, nil); st != 403 || !strings.Contains(b, "forbidden") {
					t.Errorf("auditor run: %d %s", st, b)
				}
				if st, b := aud.call("GET", "/api/v1/admin/reconciliations?school=cqjz", nil, nil); st != 200 || !strings.Contains(b, today) {
					t.Errorf("auditor read: %d %s", st, b)
				}
			})

			t.Run("with the switches cleared the day matches again", func(t *testing.T) {
				w := &web{t: t, base: base}
				if st, b := w.call("DELETE", "/sandbox/test-helpers/statements", nil, nil); st != 200 {
					t.Fatalf("clear: %d %s", st, b)
				}
				if r := reconcileAPI(t, clerk, "unionpay", today); r.Matched != 3 || len(r.Differences) != 0 {
					t.Errorf("unionpay: %+v", r)
				}
				for _, ch := range []string{"unionpay", "wechat"} {
					if code, out := cli(t, srv, ch, today); code != 0 {
						t.Errorf("cli %s: exit %d\n%s", ch, code, out)
					}
				}
				storetest.JournalOK(t, srv.Store)
			})
		})
	}
}

// TestServersReconcileYesterdayByThemselves: two servers started on one
// database each queue the morning's run, and yesterday's reconciliation
// of every channel is made once, by the platform, without anyone asking.
func TestServersReconcileYesterdayByThemselves(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			first := boot(t, d) // the demo school, loaded with no worker running
			var servers []*app.Server
			for i := 0; i < 2; i++ {
				s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: first.dsn, Sandbox: true, SandboxKeys: apptest.KeysDir(),
					Worker: worker.Config{Poll: 50 * time.Millisecond}, Log: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				servers = append(servers, s)
			}
			// The run is due at 06:00 in Shanghai: before that, the
			// servers' clocks are moved to 07:00 of the same day. From
			// 06:00 on it is due already and the clocks stay: a worker
			// that claimed the job on the real clock would otherwise see
			// its five-minute lease taken over by a server an hour ahead.
			if h := time.Now().In(reconcile.Shanghai).Hour(); h < 6 {
				later := func() time.Time { return time.Now().Add(time.Duration(7-h) * time.Hour) }
				for _, s := range servers {
					s.Store.SetClock(later)
				}
			}
			sc, _ := first.Store.SchoolByCode(ctx, app.DemoSchool)
			yesterday := reconcile.DayOf(time.Now().AddDate(0, 0, -1))
			deadline := time.Now().Add(20 * time.Second)
			for {
				list, err := first.Store.ReconcileList(ctx, sc.ID, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) == 2 {
					for _, r := range list {
						if r.Day != yesterday || !r.OK() || r.RunBy != "system" || r.Runs != 1 {
							t.Errorf("%+v", r)
						}
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("yesterday was not reconciled: %+v", list)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := storetest.Count(t, first.Store, "jobs", "kind = $1", reconcile.JobDaily); n != 2 {
				t.Errorf("%d daily jobs for two servers, want yesterday's and today's", n)
			}
		})
	}
}
