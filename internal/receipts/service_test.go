package receipts_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
	"campuspay/internal/receipt"
	"campuspay/internal/receipts"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
	"campuspay/internal/throttle"
)

// fakeStore holds a few orders of one student of one school.
type fakeStore struct {
	mu     sync.Mutex
	orders map[string]payment.Order
	keys   map[string][]byte
}

func (f *fakeStore) Order(_ context.Context, no string) (payment.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[no]
	if !ok {
		return o, apperr.New(apperr.NotFound, apperr.CodeNotFound, "")
	}
	return o, nil
}

func (f *fakeStore) StudentByID(context.Context, int64) (billing.Student, error) {
	return billing.Student{ID: 7, StudentNo: "2026010001", Name: "欧阳娜娜", Grade: "2026", Major: "护理学", Class: "护理2601班"}, nil
}

func (f *fakeStore) SchoolByID(context.Context, int64) (billing.School, error) {
	return billing.School{ID: 1, Code: "t", Name: "测试职业学院"}, nil
}

func (f *fakeStore) PlatformKey(_ context.Context, name string, fresh []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string][]byte{}
	}
	if _, ok := f.keys[name]; !ok {
		f.keys[name] = bytes.Clone(fresh)
	}
	return f.keys[name], nil
}

var paidAt = time.Date(2026, 9, 1, 10, 30, 5, 0, time.UTC)

func newFake() *fakeStore {
	lines := []payment.OrderLine{{LineID: 1, ProjectName: "2026学年学费住宿费", ItemName: "学费", Amount: 650000}}
	return &fakeStore{orders: map[string]payment.Order{
		"CP20260901000000000001": {ID: 1, OrderNo: "CP20260901000000000001", SchoolID: 1, StudentID: 7, Channel: "unionpay", Amount: 650000,
			Status: payment.StatusPaid, PaidAt: paidAt, MaskedCard: "6222021000000000009", Lines: lines},
		"CP20260901000000000002": {ID: 2, OrderNo: "CP20260901000000000002", SchoolID: 1, StudentID: 7, Channel: "wechat", Amount: 650000,
			Status: payment.StatusPaying, Lines: lines},
		"CP20260901000000000003": {ID: 3, OrderNo: "CP20260901000000000003", SchoolID: 1, StudentID: 7, Channel: "wechat", Amount: 650000,
			Status: payment.StatusRefunded, PaidAt: paidAt, Lines: lines},
	}}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newService(t *testing.T, st receipts.Store, cfg receipts.Config) *receipts.Service {
	t.Helper()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "https://pay.example.edu.cn/"
	}
	if cfg.ChannelLabel == nil { // as the server names its channels
		cfg.ChannelLabel = func(name string) string { return map[string]string{"unionpay": "银联在线"}[name] }
	}
	s, err := receipts.New(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForStudent(t *testing.T) {
	s := newService(t, newFake(), receipts.Config{PlatformName: "渝校缴费平台"})
	r, err := s.ForStudent(ctx, 7, "CP20260901000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if r.PlatformName != "渝校缴费平台" || r.ReceiptNo != "SJCP20260901000000000001" || r.Channel != "银联在线" ||
		r.MaskedCard != "622202*********0009" || r.Total != 650000 || r.Refunded != 0 || r.StudentName != "欧阳娜娜" {
		t.Errorf("receipt = %+v", r)
	}
	if r.VerifyURL != "https://pay.example.edu.cn/receipts/verify?code="+r.VerifyCode+"&no=CP20260901000000000001" {
		t.Errorf("VerifyURL = %s", r.VerifyURL)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("the receipt does not validate: %v", err)
	}
	if r, err := s.ForStudent(ctx, 7, "CP20260901000000000003"); err != nil || r.Refunded != r.Total {
		t.Errorf("a refunded order without the refunded amount recorded: %+v %v", r.Refunded, err)
	}
	for _, c := range []struct {
		name    string
		student int64
		no      string
		code    string
	}{
		{"another student's order", 8, "CP20260901000000000001", payment.CodeOrderNotFound},
		{"an order that does not exist", 7, "CP20260901000000000009", payment.CodeOrderNotFound},
		{"a malformed number", 7, "CP2026/../x", payment.CodeOrderNotFound},
		{"an order not paid", 7, "CP20260901000000000002", receipts.CodeNotAvailable},
	} {
		if _, err := s.ForStudent(ctx, c.student, c.no); apperr.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}

// The stored key is made once: a second server of the deployment (a
// second New on the same store) gets it and makes the same codes; a
// configured key wins; a short one is refused.
func TestKey(t *testing.T) {
	st := newFake()
	a := newService(t, st, receipts.Config{})
	b := newService(t, st, receipts.Config{})
	o := st.orders["CP20260901000000000001"]
	if a.Code(o) != b.Code(o) {
		t.Error("two servers of one deployment make different codes")
	}
	c := newService(t, st, receipts.Config{Key: []byte("a configured key of 32 bytes....")})
	if c.Code(o) == a.Code(o) || c.Code(o) != receipt.Code([]byte("a configured key of 32 bytes...."), o.OrderNo, o.Amount, o.PaidAt) {
		t.Error("a configured key is not the one used")
	}
	if _, err := receipts.New(ctx, st, receipts.Config{Key: []byte("short")}); err == nil {
		t.Error("a 5-byte key is accepted")
	}
}

// The store keeps one key per deployment on both engines: the first
// server's, whatever the next ones propose.
func TestPlatformKeyStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		first, err := s.PlatformKey(ctx, receipts.KeyName, bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.PlatformKey(ctx, receipts.KeyName, bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, bytes.Repeat([]byte{1}, 32)) || !bytes.Equal(again, first) {
			t.Errorf("keys %x then %x", first, again)
		}
	})
}

// Wrong codes cost: after Failures' burst a client is refused, even with
// the right code, until the budget refills; the others are not.
func TestVerifyThrottled(t *testing.T) {
	st := newFake()
	clk := &clock{t: time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)}
	s := newService(t, st, receipts.Config{Now: clk.now,
		Failures: throttle.RateConfig{Burst: 3, Every: time.Minute}, Rate: throttle.RateConfig{Burst: 100, Every: time.Second}})
	o := st.orders["CP20260901000000000001"]
	good := s.Code(o)
	guesser, other := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")
	for i := range 3 {
		if _, err := s.Verify(ctx, guesser, o.OrderNo, "2222-2222-222"+string(rune('2'+i))); apperr.CodeOf(err) != receipts.CodeNotVerified {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := s.Verify(ctx, guesser, o.OrderNo, good); apperr.HTTPStatus(err) != http.StatusTooManyRequests {
		t.Errorf("after 3 wrong codes the right one: %v, want 429", err)
	}
	if c, err := s.Verify(ctx, other, o.OrderNo, good); err != nil || c.OrderNo != o.OrderNo || c.MaskedName != "欧***" {
		t.Errorf("another client: %+v %v", c, err)
	}
	clk.add(61 * time.Second)
	if _, err := s.Verify(ctx, guesser, o.OrderNo, good); err != nil {
		t.Errorf("a minute later: %v", err)
	}
}

// Every request counts against Rate, right or wrong.
func TestVerifyRate(t *testing.T) {
	st := newFake()
	clk := &clock{t: time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)}
	s := newService(t, st, receipts.Config{Now: clk.now, Rate: throttle.RateConfig{Burst: 5, Every: 10 * time.Second}})
	o := st.orders["CP20260901000000000001"]
	ip := netip.MustParseAddr("203.0.113.9")
	for i := range 5 {
		if _, err := s.Verify(ctx, ip, o.OrderNo, s.Code(o)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := s.Verify(ctx, ip, o.OrderNo, s.Code(o))
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.TooMany || e.Details["retry_after_seconds"] != 10 {
		t.Errorf("the 6th request: %v", err)
	}
}

// The public page answers 200 with the form, 200 with a confirmation,
// 404 for a refusal, 429 with Retry-After when throttled; with its own
// strict CSP; and never says who paid beyond the masked name.
func TestVerifyPage(t *testing.T) {
	st := newFake()
	s := newService(t, st, receipts.Config{Failures: throttle.RateConfig{Burst: 1, Every: time.Hour}})
	h := s.Handler()
	serve := func(query, from string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", receipts.VerifyPath+query, nil)
		req.RemoteAddr = from + ":4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	o := st.orders["CP20260901000000000001"]
	ok := serve("?"+url.Values{"no": {o.OrderNo}, "code": {s.Code(o)}}.Encode(), "192.0.2.1")
	if ok.Code != 200 || !strings.Contains(ok.Body.String(), "凭证有效") || !strings.Contains(ok.Body.String(), "欧***") ||
		strings.Contains(ok.Body.String(), "欧阳娜娜") || strings.Contains(ok.Body.String(), "2026010001") || strings.Contains(ok.Body.String(), "6222") {
		t.Errorf("confirmation: %d\n%s", ok.Code, ok.Body)
	}
	csp := ok.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") || ok.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", ok.Header())
	}
	if w := serve("", "192.0.2.1"); w.Code != 200 || !strings.Contains(w.Body.String(), `id="verify-form"`) {
		t.Errorf("the form: %d", w.Code)
	}
	if w := serve("?no="+o.OrderNo+"&code=2222-2222-2222", "192.0.2.2"); w.Code != 404 || !strings.Contains(w.Body.String(), "未能核验") {
		t.Errorf("a wrong code: %d", w.Code)
	}
	w := serve("?no="+o.OrderNo+"&code="+url.QueryEscape(s.Code(o)), "192.0.2.2")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Errorf("throttled: %d %v", w.Code, w.Header())
	}
	req := httptest.NewRequest("POST", receipts.VerifyPath, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// FuzzVerifyPage: whatever a link carries, the page answers without a
// panic and confirms only the real order with its real code.
func FuzzVerifyPage(f *testing.F) {
	st := newFake()
	key := []byte("the fuzz test's receipt key.....")
	s, err := receipts.New(ctx, st, receipts.Config{PublicURL: "https://x", Key: key, Rate: throttle.RateConfig{Burst: 1 << 30, Every: time.Nanosecond},
		Failures: throttle.RateConfig{Burst: 1 << 30, Every: time.Nanosecond}})
	if err != nil {
		f.Fatal(err)
	}
	o := st.orders["CP20260901000000000001"]
	good := s.Code(o)
	for _, seed := range []string{"no=" + o.OrderNo + "&code=" + good, "no=SJ" + o.OrderNo + "&code=" + strings.ToLower(good), "no=&code=",
		"no=%ff%fe&code=%00", "no=" + strings.Repeat("9", 100), "code=" + good} {
		f.Add(seed)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		req, err := http.NewRequest("GET", "http://x"+receipts.VerifyPath, nil)
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = query
		req.RemoteAddr = "192.0.2.1:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 && w.Code != 404 {
			t.Fatalf("%q: status %d", query, w.Code)
		}
		q := req.URL.Query()
		if strings.Contains(w.Body.String(), `id="verified"`) &&
			(receipts.OrderNoOf(q.Get("no")) != o.OrderNo || !receipt.CheckCode(key, o.OrderNo, o.Amount, o.PaidAt, q.Get("code"))) {
			t.Fatalf("%q verified", query)
		}
	})
}

// The printable page says what the PDF says: the figures, the refund and
// what is left, the masked name the verification page shows, the QR code
// inline; with its own strict CSP.
func TestWritePage(t *testing.T) {
	st := newFake()
	s := newService(t, st, receipts.Config{})
	r, err := s.ForStudent(ctx, 7, "CP20260901000000000001")
	if err != nil {
		t.Fatal(err)
	}
	r.Refunded = 50000
	w := httptest.NewRecorder()
	if err := receipts.WritePage(w, r, receipts.Links{Back: "/s/t/orders", BackLabel: "缴费记录", PDF: "/s/t/orders/x/receipt.pdf"}); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for _, want := range []string{"缴费凭证", "测试职业学院", "欧阳娜娜", "（缴费人：欧***）", "6,500.00", "陆仟伍佰元整", `id="refund-stamp">已部分退款`,
		"-¥500.00", "实收净额：人民币（大写）陆仟元整", "¥6,000.00", "银联在线", "622202*********0009", r.VerifyCode,
		`src="data:image/png;base64,`, `href="/s/t/orders/x/receipt.pdf"`, "2026年09月01日 18:30:05（北京时间）"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data:") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("a receipt page may be cached")
	}
}

// PDFs are throttled per student; pages are not.
func TestPDFThrottled(t *testing.T) {
	clk := &clock{t: time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)}
	s := newService(t, newFake(), receipts.Config{Now: clk.now, PDFs: throttle.RateConfig{Burst: 2, Every: 5 * time.Second}})
	const no = "CP20260901000000000001"
	for i := range 2 {
		if _, err := s.ForStudentPDF(ctx, 7, no); err != nil {
			t.Fatalf("PDF %d: %v", i, err)
		}
	}
	_, err := s.ForStudentPDF(ctx, 7, no)
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.TooMany || e.Details["retry_after_seconds"] != 5 {
		t.Errorf("the third PDF at once: %v", err)
	}
	if _, err := s.ForStudent(ctx, 7, no); err != nil {
		t.Errorf("the page meanwhile: %v", err)
	}
	if _, err := s.ForStudentPDF(ctx, 8, no); apperr.CodeOf(err) != payment.CodeOrderNotFound {
		t.Errorf("another student is not held back by this one: %v", err)
	}
	clk.add(5 * time.Second)
	if _, err := s.ForStudentPDF(ctx, 7, no); err != nil {
		t.Errorf("5 s later: %v", err)
	}
}
