package payment_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

var ctx = context.Background()

// testChannel is a tiny third channel: its capabilities and answers are a
// test's to set. The wire protocols are proven against the sandbox
// elsewhere; here only the service's rules are. Two of them are wired, as
// a platform would wire two real channels: "debitpay" (debit cards only,
// no close call, payments may arrive late) and "closepay" (can close).
type testChannel struct {
	mu          sync.Mutex
	name, merID string
	caps        payment.Capabilities
	query       payment.Result // Query's answer (OrderNo filled in)
	notice      payment.Result // what ParseNotification decodes
	refundQuery payment.RefundResult
	refundAns   payment.RefundResult
	refunds     int
	queries     int
	closes      []string
	closeErr    error
	prepareErr  error
	onPrepare   func(req payment.PayRequest)
}

func (c *testChannel) Info() payment.ChannelInfo {
	return payment.ChannelInfo{Name: c.name, Label: "测试支付 " + c.name, Hint: "测试"}
}
func (c *testChannel) MerchantID() string                 { return c.merID }
func (c *testChannel) Capabilities() payment.Capabilities { return c.caps }
func (c *testChannel) Route() string                      { return c.merID }
func (c *testChannel) NotificationRoute(h map[string][]string, _ []byte) string {
	return http.Header(h).Get("X-Merchant")
}
func (c *testChannel) Prepare(_ context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	c.mu.Lock()
	hook, err := c.onPrepare, c.prepareErr
	c.mu.Unlock()
	if hook != nil {
		hook(req)
	}
	if err != nil {
		return payment.PayInstruction{}, err
	}
	return payment.PayInstruction{Type: payment.PayFormPost, URL: "http://gateway.invalid/" + c.name, Fields: map[string]string{"orderId": req.OrderNo}}, nil
}
func (c *testChannel) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries++
	r := c.query
	r.OrderNo = q.OrderNo
	if r.Channel == "" {
		r.Channel = c.name
	}
	return r, nil
}
func (c *testChannel) Close(_ context.Context, orderNo string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes = append(c.closes, orderNo)
	return c.closeErr
}
func (c *testChannel) Refund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refunds++
	r := c.refundAns
	r.RefundNo = req.RefundNo
	return r, nil
}
func (c *testChannel) QueryRefund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.refundQuery
	r.RefundNo = req.RefundNo
	return r, nil
}
func (c *testChannel) ParseNotification(context.Context, map[string][]string, []byte) (payment.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notice.OrderNo == "" {
		return payment.Result{}, fmt.Errorf("%w: nothing to decode", payment.ErrBadNotification)
	}
	return c.notice, nil
}
func (c *testChannel) NotificationAck() (int, string, []byte) { return 200, "text/plain", []byte("ok") }

func (c *testChannel) set(f func(c *testChannel)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// Channel names of the kit.
const (
	debitPay = "debitpay"
	closePay = "closepay"
)

// kit is a seeded store with the payment service over it, on a clock the
// test moves.
type kit struct {
	t        *testing.T
	s        *store.Store
	svc      *payment.Service
	debit    *testChannel
	closer   *testChannel
	school   billing.School
	students []billing.Student
	now      func() time.Time
	move     func(time.Duration) time.Time
	busy     atomic.Int64 // calls of Config.Busy
}

func newKit(t *testing.T, s *store.Store) *kit {
	t.Helper()
	school, students := storetest.Seed(t, s)
	k := &kit{t: t, s: s, school: school, students: students,
		debit:  &testChannel{name: debitPay, merID: "DEBIT001", caps: payment.Capabilities{DebitOnly: true, LateGrace: 12 * time.Minute, PrepareOffline: true}},
		closer: &testChannel{name: closePay, merID: "CLOSE001", caps: payment.Capabilities{Close: true}}}
	k.debit.query = payment.Result{Status: payment.TxnPending}
	k.closer.query = payment.Result{Status: payment.TxnPending}
	k.debit.refundAns = payment.RefundResult{Status: payment.RefundSuccess, ChannelRefundID: "R1"}
	k.now, k.move = storetest.FixedClock(s, time.Now())
	reg := channel.NewRegistry()
	reg.SetDefault(k.debit)
	reg.SetDefault(k.closer)
	cfg := payment.DefaultConfig("http://127.0.0.1")
	cfg.OrderBurst = 1000       // the races order far faster than a student may
	cfg.WaitRecheck = time.Hour // a waiter wakes by its signal or its deadline only
	cfg.Busy = func() { k.busy.Add(1) }
	cfg.ApplyLanes = 2 // groups side by side, on both engines
	k.svc = payment.NewService(s, reg, cfg, nil, k.now)
	t.Cleanup(k.svc.Close)
	return k
}

// lines returns a student's lines keyed by item name.
func (k *kit) lines(student int) map[string]billing.Line {
	k.t.Helper()
	ls, err := k.s.Lines(ctx, k.students[student].ID)
	if err != nil {
		k.t.Fatalf("lines: %v", err)
	}
	out := map[string]billing.Line{}
	for _, l := range ls {
		out[l.ItemName] = l
	}
	return out
}

// ids returns the line ids of a student's named items.
func (k *kit) ids(student int, items ...string) []int64 {
	k.t.Helper()
	ls := k.lines(student)
	var out []int64
	for _, it := range items {
		l, ok := ls[it]
		if !ok {
			k.t.Fatalf("student %d has no line %q", student, it)
		}
		out = append(out, l.ID)
	}
	return out
}

func (k *kit) request(student int, channel string, ids ...int64) payment.CreateRequest {
	return payment.CreateRequest{School: k.school, Student: k.students[student], LineIDs: ids, Channel: channel,
		PostBackURL: "http://127.0.0.1/back"}
}

// create asks the service for an order of a student's named items.
func (k *kit) create(student int, channel string, items ...string) (payment.Order, error) {
	co, err := k.svc.Create(ctx, k.request(student, channel, k.ids(student, items...)...))
	return co.Order, err
}

// order creates an order that must be allowed; it is paying.
func (k *kit) order(student int, channel string, items ...string) payment.Order {
	k.t.Helper()
	o, err := k.create(student, channel, items...)
	if err != nil {
		k.t.Fatalf("create order for %v: %v", items, err)
	}
	if o.Status != payment.StatusPaying {
		k.t.Fatalf("new order is %s", o.Status)
	}
	return o
}

var txnSeq atomic.Int64

// success is a verified debit-card success for the whole order, with a
// fresh channel transaction id.
func (k *kit) success(o payment.Order) payment.Result {
	merID := k.debit.merID
	if o.Channel == closePay {
		merID = k.closer.merID
	}
	return payment.Result{Channel: o.Channel, MerchantID: merID, OrderNo: o.OrderNo, Status: payment.TxnSuccess, Amount: o.Amount,
		Currency: "CNY", ChannelTxnID: fmt.Sprintf("TXN%d%06d", time.Now().UnixNano(), txnSeq.Add(1)), CardType: payment.CardDebit,
		MaskedCard: "622202*********0009"}
}

func (k *kit) apply(r payment.Result) (payment.Outcome, error) {
	return k.svc.ApplySuccess(ctx, r, "notify", "")
}

// pay creates an order for the items and applies a success for it.
func (k *kit) pay(student int, items ...string) payment.Order {
	k.t.Helper()
	o := k.order(student, debitPay, items...)
	out, err := k.apply(k.success(o))
	if err != nil || out.Disposition != payment.Apply {
		k.t.Fatalf("pay %v: %v %+v", items, err, out)
	}
	return out.Order
}

// cancel cancels a student's order (the channel says it is not paid).
func (k *kit) cancel(student int, o payment.Order) payment.Order {
	k.t.Helper()
	got, err := k.svc.Cancel(ctx, k.students[student].ID, o.OrderNo)
	if err != nil {
		k.t.Fatalf("cancel %s: %v", o.OrderNo, err)
	}
	return got
}

func (k *kit) stored(orderNo string) payment.Order {
	k.t.Helper()
	o, err := k.s.Order(ctx, orderNo)
	if err != nil {
		k.t.Fatalf("order %s: %v", orderNo, err)
	}
	return o
}

// jobs counts the jobs not done of a kind, for a ref when given.
func (k *kit) jobs(kind string, ref ...string) int {
	k.t.Helper()
	if len(ref) > 0 {
		return storetest.Count(k.t, k.s, "jobs", "kind = $1 AND ref = $2 AND done_at = 0", kind, ref[0])
	}
	return storetest.Count(k.t, k.s, "jobs", "kind = $1 AND done_at = 0", kind)
}

var errDown = errors.New("channel down")
