package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

var ctx = context.Background()

// seeded is a seeded store and what the seed made.
type seeded struct {
	s        *store.Store
	school   billing.School
	students []billing.Student
}

func seed(t *testing.T, s *store.Store) *seeded {
	t.Helper()
	school, students := storetest.Seed(t, s)
	return &seeded{s: s, school: school, students: students}
}

// lines returns a student's lines keyed by item name.
func (x *seeded) lines(t *testing.T, student int) map[string]billing.Line {
	t.Helper()
	ls, err := x.s.Lines(ctx, x.students[student].ID)
	if err != nil {
		t.Fatalf("lines: %v", err)
	}
	out := map[string]billing.Line{}
	for _, l := range ls {
		out[l.ItemName] = l
	}
	return out
}

// ids returns the line ids of a student's named items.
func (x *seeded) ids(t *testing.T, student int, items ...string) []int64 {
	t.Helper()
	ls := x.lines(t, student)
	var out []int64
	for _, it := range items {
		l, ok := ls[it]
		if !ok {
			t.Fatalf("student %d has no line %q", student, it)
		}
		out = append(out, l.ID)
	}
	return out
}

// count counts a table's rows.
func count(t *testing.T, s *store.Store, table string, where ...any) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + table
	var args []any
	if len(where) > 0 {
		q += " WHERE " + where[0].(string)
		args = where[1:]
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// snapshot is the state "nothing changes" is checked against.
type snapshot struct {
	entries, postings, events, payments, refunds, lines, orders, holds, jobs int
	paid                                                                     money.Fen
}

func snap(t *testing.T, s *store.Store) snapshot {
	t.Helper()
	var paid int64
	if err := s.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(paid), 0) FROM bill_lines`).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	return snapshot{
		entries: count(t, s, "journal_entries"), postings: count(t, s, "journal_postings"), events: count(t, s, "order_events"),
		payments: count(t, s, "payments_received"), refunds: count(t, s, "refunds"), lines: count(t, s, "bill_lines"),
		orders: count(t, s, "orders"), holds: count(t, s, "line_holds"), jobs: count(t, s, "jobs"), paid: money.Fen(paid),
	}
}

func sameSnap(t *testing.T, s *store.Store, before snapshot) {
	t.Helper()
	if after := snap(t, s); after != before {
		t.Errorf("state changed:\n before %+v\n after  %+v", before, after)
	}
}

// journalOK fails t unless VerifyJournal finds the journal sound (I2).
func journalOK(t *testing.T, s *store.Store) store.VerifyReport {
	t.Helper()
	rep, err := s.VerifyJournal(ctx)
	if err != nil {
		t.Fatalf("verify journal: %v", err)
	}
	if !rep.OK() {
		t.Errorf("journal not sound: unbalanced %v, receivable mismatch %v", rep.Unbalanced, rep.ReceivableMismatch)
	}
	return rep
}

func balance(t *testing.T, s *store.Store, account string) money.Fen {
	t.Helper()
	b, err := s.AccountBalance(ctx, account)
	if err != nil {
		t.Fatalf("balance %s: %v", account, err)
	}
	return b
}

func receivable(t *testing.T, x *seeded, student int) money.Fen {
	return balance(t, x.s, journal.Receivable(x.students[student].ID))
}

// fixedClock sets the store's clock to a fixed instant and returns a
// function that moves it.
func fixedClock(s *store.Store, start time.Time) func(d time.Duration) time.Time {
	var now atomic.Int64
	now.Store(start.UnixMilli())
	s.SetClock(func() time.Time { return time.UnixMilli(now.Load()) })
	return func(d time.Duration) time.Time { return time.UnixMilli(now.Add(d.Milliseconds())) }
}

// fakeChannel is the least a payment service needs to hold and pay lines
// in store tests; the rules of paying are the payment package's tests.
type fakeChannel struct{}

func (fakeChannel) Info() payment.ChannelInfo {
	return payment.ChannelInfo{Name: "fakepay", Label: "测试"}
}
func (fakeChannel) MerchantID() string                                   { return "FAKE" }
func (fakeChannel) Capabilities() payment.Capabilities                   { return payment.Capabilities{} }
func (fakeChannel) Route() string                                        { return "FAKE" }
func (fakeChannel) NotificationRoute(map[string][]string, []byte) string { return "FAKE" }
func (fakeChannel) Prepare(context.Context, payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: payment.PayFormPost}, nil
}
func (fakeChannel) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	return payment.Result{OrderNo: q.OrderNo, Status: payment.TxnPending}, nil
}
func (fakeChannel) Close(context.Context, string) error { return nil }
func (fakeChannel) Refund(context.Context, payment.RefundRequest) (payment.RefundResult, error) {
	return payment.RefundResult{}, nil
}
func (fakeChannel) QueryRefund(context.Context, payment.RefundRequest) (payment.RefundResult, error) {
	return payment.RefundResult{}, nil
}
func (fakeChannel) ParseNotification(context.Context, map[string][]string, []byte) (payment.Result, error) {
	return payment.Result{}, payment.ErrBadNotification
}
func (fakeChannel) NotificationAck() (int, string, []byte) { return 200, "", nil }

func (x *seeded) service(t *testing.T) *payment.Service {
	reg := channel.NewRegistry()
	reg.SetDefault(fakeChannel{})
	svc := payment.NewService(x.s, reg, payment.DefaultConfig("http://127.0.0.1"), nil, nil)
	t.Cleanup(svc.Close)
	return svc
}

// order holds a student's named items in a new order.
func (x *seeded) order(t *testing.T, student int, items ...string) payment.Order {
	t.Helper()
	co, err := x.service(t).Create(ctx, payment.CreateRequest{School: x.school, Student: x.students[student],
		LineIDs: x.ids(t, student, items...), Channel: "fakepay"})
	if err != nil {
		t.Fatalf("order %v: %v", items, err)
	}
	return co.Order
}

// pay orders a student's named items and applies a success for them.
func (x *seeded) pay(t *testing.T, student int, items ...string) payment.Order {
	t.Helper()
	o := x.order(t, student, items...)
	out, err := x.service(t).ApplySuccess(ctx, payment.Result{Channel: "fakepay", OrderNo: o.OrderNo, Status: payment.TxnSuccess,
		Amount: o.Amount, Currency: "CNY", ChannelTxnID: "T" + o.OrderNo}, "notify", "")
	if err != nil || out.Disposition != payment.Apply {
		t.Fatalf("pay %v: %+v %v", items, out, err)
	}
	return out.Order
}
