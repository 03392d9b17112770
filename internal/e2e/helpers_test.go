// Package e2e proves the payment journey end to end: a booted campuspay
// (in process through app.Start, or as separate processes of the built
// binary) driven only over real HTTP — the API of SPEC Appendix A and the
// sandbox's test helpers — and checked against the journal (I1–I5).
package e2e

import (
	"bytes"
	"campuspay/demo"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"campuspay/internal/app"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
	"campuspay/internal/worker"
)

// envPostgres is the PostgreSQL server the postgres variants use.
const envPostgres = "CAMPUSPAY_TEST_POSTGRES"

var (
	binPath string // the campuspay binary built by TestMain
	keysDir string // sandbox keys shared by every server and sandbox
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "campuspay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		binPath = filepath.Join(tmp, "campuspay")
		build := exec.Command("go", "build", "-o", binPath, "campuspay/cmd/campuspay")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: go build:", err)
			return 1
		}
		keysDir = filepath.Join(tmp, "sandbox-keys")
		if _, err := sandbox.LoadOrCreateKeys(keysDir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: sandbox keys:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// Fast settings (the brief's): queries every ~300 ms, worker poll 100 ms,
// sandbox retry schedule ×0.001.
var (
	fastPayments = payment.Config{FirstQuery: 300 * time.Millisecond, QueryInterval: 300 * time.Millisecond, QueryMaxInterval: time.Second, OrderBurst: 1000}
	fastWorker   = worker.Config{Poll: 100 * time.Millisecond, Lease: 30 * time.Second, MaxAttempts: 200, Batch: 20}
	fastFlags    = []string{"--first-query", "300ms", "--query-interval", "300ms", "--query-max-interval", "1s", "--worker-poll", "100ms"}
)

func testLog() *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// dsnFor returns a fresh database of dialect: a temp SQLite file, or a new
// PostgreSQL schema dropped when t ends.
func dsnFor(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "campuspay.db")
	}
	base := os.Getenv(envPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL required in CI: set %s", envPostgres)
		}
		t.Skipf("%s not set", envPostgres)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "e2e_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// seedDemo migrates dsn and loads the demo school (cqjz, 300 students).
func seedDemo(t testing.TB, dsn string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.LoadDemo(ctx, st, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// boot starts an in-process server with the sandbox mounted on a fresh
// database of dialect, loaded with the demo school.
func boot(t testing.TB, d store.Dialect) *app.Server {
	t.Helper()
	dsn := dsnFor(t, d)
	seedDemo(t, dsn)
	return bootOn(t, dsn, true)
}

func bootOn(t testing.TB, dsn string, sandboxOn bool) *app.Server {
	t.Helper()
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", DB: dsn, Sandbox: sandboxOn, SandboxKeys: keysDir,
		TimeScale: 0.001, Worker: fastWorker, Payments: fastPayments, Log: testLog()})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// verifyJournal is `campuspay journal verify` in process.
func verifyJournal(t testing.TB, st *store.Store) store.VerifyReport {
	t.Helper()
	rep, err := st.VerifyJournal(context.Background())
	if err != nil {
		t.Fatalf("verify journal: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("journal NOT OK: unbalanced %v, receivable mismatch %v", rep.Unbalanced, rep.ReceivableMismatch)
	}
	return rep
}

// ---- the script-like client ----

var httpClient = &http.Client{Timeout: 20 * time.Second}

// client talks to one server as one student.
type client struct {
	t     testing.TB
	base  string // the platform
	sbox  string // the sandbox (same as base when mounted in process)
	token string
}

func newClient(t testing.TB, base string) *client { return &client{t: t, base: base, sbox: base} }

// call does a JSON request and returns the status and raw body; out, when
// non-nil, receives the decoded body.
func (c *client) call(method, path string, in, out any) (int, []byte) {
	c.t.Helper()
	return c.callURL(method, c.base+path, in, out)
}

func (c *client) callURL(method, u string, in, out any) (int, []byte) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: decode: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, b
}

func errCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	return e.Error.Code
}

const newPassword = "Kx9-pay-2026!"

// login runs R5's journey for a demo student: the initial password logs in
// with must_change_password, every fee call is refused 403 until the
// password is changed, and the new password then logs in clean.
func login(t testing.TB, base, school, studentNo string) *client {
	t.Helper()
	c := newClient(t, base)
	var lr struct {
		Token              string `json:"token"`
		MustChangePassword bool   `json:"must_change_password"`
	}
	if st, b := c.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": school, "student_no": studentNo, "password": "111111"}, &lr); st != 200 {
		t.Fatalf("student-login %s: %d %s", studentNo, st, b)
	}
	if !lr.MustChangePassword {
		t.Fatalf("student %s: initial password should require a change", studentNo)
	}
	c.token = lr.Token
	for _, p := range []struct{ m, path string }{{"GET", "/api/v1/bills"}, {"GET", "/api/v1/orders"}, {"POST", "/api/v1/orders"}} {
		var in any
		if p.m == "POST" {
			in = map[string]any{"item_ids": []int64{1}, "channel": "unionpay"}
		}
		if st, b := c.call(p.m, p.path, in, nil); st != 403 || errCode(b) != "must_change_password" {
			t.Fatalf("%s %s before password change: %d %s, want 403 must_change_password", p.m, p.path, st, b)
		}
	}
	if st, b := c.call("POST", "/api/v1/me/password", map[string]string{"old_password": "111111", "new_password": newPassword,
		"id_card_last6": demo.IDLast6(studentNo)}, nil); st != 200 {
		t.Fatalf("change password: %d %s", st, b)
	}
	c.token = ""
	if st, b := c.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": school, "student_no": studentNo, "password": "111111"}, nil); st != 401 || errCode(b) != "bad_credentials" {
		t.Fatalf("old password after change: %d %s, want 401 bad_credentials", st, b)
	}
	if st, b := c.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": school, "student_no": studentNo, "password": newPassword}, &lr); st != 200 || lr.MustChangePassword {
		t.Fatalf("login with new password: %d %s", st, b)
	}
	c.token = lr.Token
	return c
}

type billItem struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Amount     int64  `json:"amount"`
	PaidAmount int64  `json:"paid_amount"`
	Mandatory  bool   `json:"mandatory"`
	Status     string `json:"status"`
}

type bills struct {
	Student struct {
		ID int64 `json:"id"`
	} `json:"student"`
	Projects []struct {
		ID           int64      `json:"id"`
		Name         string     `json:"name"`
		SelectedLock bool       `json:"selected_lock"`
		Items        []billItem `json:"items"`
	} `json:"projects"`
}

func (c *client) bills() bills {
	c.t.Helper()
	var b bills
	if st, raw := c.call("GET", "/api/v1/bills", nil, &b); st != 200 {
		c.t.Fatalf("bills: %d %s", st, raw)
	}
	return b
}

// item finds a bill item by id.
func (b bills) item(id int64) billItem {
	for _, p := range b.Projects {
		for _, it := range p.Items {
			if it.ID == id {
				return it
			}
		}
	}
	return billItem{}
}

// mandatory is the unpaid mandatory items: the smallest order R7 allows.
func (b bills) mandatory() (ids []int64, total int64) {
	for _, p := range b.Projects {
		for _, it := range p.Items {
			if it.Mandatory && it.Status != "paid" {
				ids = append(ids, it.ID)
				total += it.Amount - it.PaidAmount
			}
		}
	}
	return ids, total
}

type payJSON struct {
	Type    string            `json:"type"`
	URL     string            `json:"url"`
	Fields  map[string]string `json:"fields"`
	CodeURL string            `json:"code_url"`
}

type orderJSON struct {
	OrderNo   string `json:"order_no"`
	Status    string `json:"status"`
	Amount    int64  `json:"amount"`
	Channel   string `json:"channel"`
	ExpiresAt string `json:"expires_at"`
	Items     []struct {
		ID     int64 `json:"id"`
		Amount int64 `json:"amount"`
	} `json:"items"`
	Pay     *payJSON `json:"pay"`
	Failure *struct {
		Code        string   `json:"code"`
		Message     string   `json:"message"`
		ChannelCode string   `json:"channel_code"`
		WaysOut     []string `json:"ways_out"`
		FitsItemIDs []int64  `json:"fits_item_ids"`
	} `json:"failure"`
}

func (c *client) createOrder(ids []int64, channel string) (int, orderJSON, []byte) {
	c.t.Helper()
	var o orderJSON
	st, b := c.call("POST", "/api/v1/orders", map[string]any{"item_ids": ids, "channel": channel}, &o)
	return st, o, b
}

func (c *client) mustCreate(ids []int64, channel string) orderJSON {
	c.t.Helper()
	st, o, b := c.createOrder(ids, channel)
	if st != 201 || o.Status != "paying" || o.OrderNo == "" || o.Pay == nil {
		c.t.Fatalf("create order: %d %s", st, b)
	}
	return o
}

func (c *client) order(no string) orderJSON {
	c.t.Helper()
	var o orderJSON
	if st, b := c.call("GET", "/api/v1/orders/"+no, nil, &o); st != 200 {
		c.t.Fatalf("get order %s: %d %s", no, st, b)
	}
	return o
}

type listed struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Amount  int64  `json:"amount"`
	Channel string `json:"channel"`
	PaidAt  any    `json:"paid_at"`
}

func (c *client) list() []listed {
	c.t.Helper()
	var out struct {
		Orders []listed `json:"orders"`
	}
	if st, b := c.call("GET", "/api/v1/orders", nil, &out); st != 200 {
		c.t.Fatalf("list orders: %d %s", st, b)
	}
	return out.Orders
}

func (c *client) cancel(no string) (int, []byte) {
	c.t.Helper()
	var out struct {
		Status string `json:"status"`
	}
	st, b := c.call("POST", "/api/v1/orders/"+no+"/cancel", nil, &out)
	if st == 200 && out.Status != "closed" {
		c.t.Fatalf("cancel %s: status %q", no, out.Status)
	}
	return st, b
}

// waitOrder polls GET order until cond holds.
func (c *client) waitOrder(no string, within time.Duration, what string, cond func(orderJSON) bool) orderJSON {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		o := c.order(no)
		if cond(o) {
			return o
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("order %s: not %s within %v: last %+v failure %+v", no, what, within, o, o.Failure)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *client) waitPaid(no string) orderJSON {
	c.t.Helper()
	return c.waitOrder(no, 20*time.Second, "paid", func(o orderJSON) bool { return o.Status == "paid" })
}

// ---- the sandbox, driven like a payer ----

// card is a SPEC §5 test card.
type card struct{ no, phone string }

var (
	cardICBC       = card{"6222021000000000009", "13800000001"}
	cardCCB        = card{"6217001000000000003", "13800000003"}
	cardABC        = card{"6228481000000000009", "13800000002"}
	cardCCBNoNet   = card{"6217002000000000002", "13800000004"}
	cardPSBC       = card{"6217991000000000005", "13800000005"}
	cardCredit     = card{"6225751000000000008", "13800000006"}
	cardBOC        = card{"6216611000000000007", "13800000007"}
	cardNoNotify   = card{"6222022000000000008", "13800000008"}
	correctPIN     = "123456"
	sandboxSMSCode = "111111"
)

// submitForm posts the order's UnionPay form to the gateway, as the
// payer's browser does; the gateway then knows the order.
func (c *client) submitForm(o orderJSON) {
	c.t.Helper()
	if o.Pay == nil || o.Pay.Type != "form_post" {
		c.t.Fatalf("order %s has no form: %+v", o.OrderNo, o.Pay)
	}
	vals := url.Values{}
	for k, v := range o.Pay.Fields {
		vals.Set(k, v)
	}
	resp, err := httpClient.PostForm(o.Pay.URL, vals)
	if err != nil {
		c.t.Fatalf("front form: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("front form: %d %.300s", resp.StatusCode, b)
	}
}

// helperPay pays with the UnionPay test helper and returns resp_code.
func (c *client) helperPay(orderNo string, cd card, pin string) string {
	c.t.Helper()
	var out struct {
		RespCode string `json:"resp_code"`
		RespMsg  string `json:"resp_msg"`
	}
	st, b := c.callURL("POST", c.sbox+"/sandbox/test-helpers/unionpay/pay", map[string]string{"order_no": orderNo, "card_no": cd.no,
		"pin": pin, "phone": cd.phone, "sms_code": sandboxSMSCode}, &out)
	if st != 200 {
		c.t.Fatalf("unionpay helper: %d %s", st, b)
	}
	return out.RespCode
}

// payUnionPay submits the form and pays with a card.
func (c *client) payUnionPay(o orderJSON, cd card) string {
	c.t.Helper()
	c.submitForm(o)
	return c.helperPay(o.OrderNo, cd, correctPIN)
}

func (c *client) payWeChat(codeURL string) string {
	c.t.Helper()
	var out struct {
		TradeState string `json:"trade_state"`
	}
	if st, b := c.callURL("POST", c.sbox+"/sandbox/test-helpers/wechat/pay", map[string]string{"code_url": codeURL}, &out); st != 200 {
		c.t.Fatalf("wechat helper: %d %s", st, b)
	}
	return out.TradeState
}

type notification struct {
	Channel        string            `json:"channel"`
	OrderNo        string            `json:"order_no"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	ResponseStatus int               `json:"response_status"`
	Duplicate      bool              `json:"duplicate"`
	AttemptNo      int               `json:"attempt"`
}

func notifications(t testing.TB, sbox, orderNo string) []notification {
	t.Helper()
	var out struct {
		Notifications []notification `json:"notifications"`
	}
	c := newClient(t, sbox)
	if st, b := c.call("GET", "/sandbox/test-helpers/notifications?order_no="+orderNo, nil, &out); st != 200 {
		t.Fatalf("notifications: %d %s", st, b)
	}
	return out.Notifications
}

// firstDelivered waits for the order's first notification the platform
// accepted.
func firstDelivered(t testing.TB, sbox, orderNo string) notification {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, n := range notifications(t, sbox, orderNo) {
			if n.ResponseStatus/100 == 2 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted notification for %s: %+v", orderNo, notifications(t, sbox, orderNo))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post replays a raw notification to the platform.
func post(t testing.TB, u string, headers map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", u, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// setSwitches sets the sandbox's switches (time_scale always, since an
// absent one resets it to real time).
func setSwitches(t testing.TB, sbox string, sw map[string]any) {
	t.Helper()
	if _, ok := sw["time_scale"]; !ok {
		sw["time_scale"] = 0.001
	}
	c := newClient(t, sbox)
	if st, b := c.call("POST", "/sandbox/test-helpers/switches", sw, nil); st != 200 {
		t.Fatalf("switches: %d %s", st, b)
	}
}

// snapshot is what must not change when a notification is replayed or
// refused: the order's journal entries and postings, its recorded
// payments, its events and status (per order, so that parallel subtests on
// one server do not disturb it), and the journal still verifies.
type snapshot struct {
	entries, postings, payments, events int
	status                              string
	paid                                int64
}

func snap(t testing.TB, st *store.Store, orderNo string) snapshot {
	t.Helper()
	ctx := context.Background()
	verifyJournal(t, st)
	var s snapshot
	db := st.DB()
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_entries WHERE ref = $1`, orderNo).Scan(&s.entries); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_postings p JOIN journal_entries e ON e.id = p.entry_id WHERE e.ref = $1`, orderNo).Scan(&s.postings); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments_received p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, orderNo).Scan(&s.payments); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT o.status, COALESCE(SUM(l.paid), 0) FROM orders o JOIN order_lines ol ON ol.order_id = o.id
		JOIN bill_lines l ON l.id = ol.line_id WHERE o.order_no = $1 GROUP BY o.status`, orderNo).Scan(&s.status, &s.paid); err != nil {
		t.Fatal(err)
	}
	ev, err := st.OrderEvents(ctx, orderNo)
	if err != nil {
		t.Fatal(err)
	}
	s.events = len(ev)
	return s
}

func (a snapshot) equal(b snapshot) bool { return a == b }

// freePort reserves a port number for a child process.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a child campuspay process.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

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

// start runs the binary and waits until base/healthz answers.
func start(t testing.TB, base string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binPath, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not become healthy: %v\n%s", args, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill SIGKILLs the process: no shutdown code runs.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}
