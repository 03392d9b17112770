package payment_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// scripted is a channel whose answers a test sets. The wire protocols are
// proven against the sandbox elsewhere; here only the service's rules are.
type scripted struct {
	mu          sync.Mutex
	name, merID string
	query       payment.Result
	refundQuery payment.RefundResult
	refunds     int
	queries     int
}

func (c *scripted) Name() string       { return c.name }
func (c *scripted) MerchantID() string { return c.merID }
func (c *scripted) Prepare(context.Context, payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: "form_post", URL: "http://gateway.invalid"}, nil
}
func (c *scripted) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries++
	r := c.query
	r.OrderNo = q.OrderNo
	return r, nil
}
func (c *scripted) Close(context.Context, string) error { return payment.ErrCloseUnsupported }
func (c *scripted) Refund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refunds++
	return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundSuccess}, nil
}
func (c *scripted) QueryRefund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.refundQuery
	r.RefundNo = req.RefundNo
	return r, nil
}
func (c *scripted) ParseNotification(context.Context, map[string][]string, []byte) (payment.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.query, nil
}
func (c *scripted) NotificationAck() (int, string, []byte) { return 200, "text/plain", []byte("ok") }

type fixture struct {
	st     *store.Store
	svc    *payment.Service
	ch     *scripted
	school billing.School
	stu    billing.Student
	now    time.Time
}

func newFixture(t *testing.T, s *store.Store) *fixture {
	school, students := storetest.Seed(t, s)
	f := &fixture{st: s, school: school, stu: students[0], now: time.Now().Truncate(time.Millisecond),
		ch: &scripted{name: payment.UnionPay, merID: "777290058110097"}}
	reg := channel.NewRegistry()
	reg.SetDefault(f.ch)
	clock := func() time.Time { return f.now }
	s.SetClock(clock)
	f.svc = payment.NewService(s, reg, payment.DefaultConfig("http://127.0.0.1"), nil, clock)
	return f
}

// order holds the student's two mandatory lines in a new order.
func (f *fixture) order(t *testing.T, markPaying bool) payment.Order {
	t.Helper()
	lines, err := f.st.Lines(context.Background(), f.stu.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range lines {
		if l.Mandatory {
			ids = append(ids, l.ID)
		}
	}
	o, err := f.st.CreateOrder(context.Background(), payment.NewOrder{OrderNo: payment.NewOrderNo(f.now), Student: f.stu,
		Policy: f.school.Policy, LineIDs: ids, Channel: payment.UnionPay})
	if err != nil {
		t.Fatal(err)
	}
	if markPaying {
		if err := f.st.MarkPaying(context.Background(), o.OrderNo); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func (f *fixture) success(o payment.Order, txn string) payment.Result {
	return payment.Result{Channel: payment.UnionPay, MerchantID: f.ch.merID, OrderNo: o.OrderNo, Status: payment.TxnSuccess,
		Amount: o.Amount, Currency: "CNY", ChannelTxnID: txn, CardType: payment.CardDebit}
}

func TestService(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)

		t.Run("a notification signed by another merchant changes nothing", func(t *testing.T) {
			o := f.order(t, true)
			r := f.success(o, "Q1")
			r.MerchantID = "777290058119999"
			f.ch.query = r
			n := f.svc.HandleNotification(ctx, payment.UnionPay, nil, nil, "notify")
			if n.Status != 400 {
				t.Fatalf("status %d, want 400", n.Status)
			}
			if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaying {
				t.Fatalf("order %s", got.Status)
			}
			f.ch.query = payment.Result{Channel: payment.UnionPay, Status: payment.TxnNotFound}
			if _, err := f.svc.Cancel(ctx, f.stu.ID, o.OrderNo); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("an order still created when the money arrives is paid, not lost", func(t *testing.T) {
			o := f.order(t, false)
			f.ch.query = f.success(o, "Q2")
			if n := f.svc.HandleNotification(ctx, payment.UnionPay, nil, nil, "notify"); n.Status != 200 {
				t.Fatalf("status %d %s", n.Status, n.Body)
			}
			if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaid {
				t.Fatalf("order %s, want paid", got.Status)
			}
		})
	})
}

func TestClosedUnionPayOrderIsStillQueried(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		o := f.order(t, true)
		if err := s.RecordFailure(ctx, o.OrderNo, payment.Failure{Code: payment.FailWrongPIN, ChannelCode: "65", Message: "密码错误"}); err != nil {
			t.Fatal(err)
		}
		f.ch.query = payment.Result{Channel: payment.UnionPay, Status: payment.TxnNotFound}
		if _, err := f.svc.Cancel(ctx, f.stu.ID, o.OrderNo); err != nil {
			t.Fatal(err)
		}
		final, err := f.svc.Settle(ctx, o.OrderNo)
		if err != nil || final {
			t.Fatalf("a closed UnionPay order was given up at once: final=%v %v", final, err)
		}
		// The payer completes the payment on the gateway's page after all,
		// and its notification is lost: the query finds it.
		f.ch.query = f.success(o, "Q3")
		final, err = f.svc.Settle(ctx, o.OrderNo)
		if err != nil || !final {
			t.Fatalf("final=%v %v", final, err)
		}
		got, _ := s.Order(ctx, o.OrderNo)
		if got.Status != payment.StatusClosed || got.FailureCode != payment.FailOverpaid {
			t.Fatalf("order %s %q, want closed overpaid", got.Status, got.FailureCode)
		}
		if bal, _ := s.AccountBalance(ctx, "overpayment:school:"+itoa(f.school.ID)); bal != -o.Amount {
			t.Fatalf("overpayment balance %v, want %v", bal, -o.Amount)
		}
		// Long after the hold, a closed order is not asked about any more.
		o2 := f.order(t, true)
		f.ch.query = payment.Result{Channel: payment.UnionPay, Status: payment.TxnNotFound}
		if _, err := f.svc.Cancel(ctx, f.stu.ID, o2.OrderNo); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Hour)
		before := f.ch.queries
		if final, err := f.svc.Settle(ctx, o2.OrderNo); !final || err != nil || f.ch.queries != before {
			t.Fatalf("final=%v err=%v queries %d→%d", final, err, before, f.ch.queries)
		}
		if rep, err := s.VerifyJournal(ctx); err != nil || !rep.OK() {
			t.Fatalf("journal: %+v %v", rep, err)
		}
	})
}

func TestPaidOrderShowsNoFailure(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		o := f.order(t, true)
		s.RecordFailure(ctx, o.OrderNo, payment.Failure{Code: payment.FailWrongPIN, ChannelCode: "65", Message: "密码错误"})
		if _, err := s.ApplySuccess(ctx, f.success(o, "Q4"), "notify"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Order(ctx, o.OrderNo)
		if got.FailureCode != "" || payment.Explain(got) != nil {
			t.Fatalf("paid order still explains a failure: %q", got.FailureCode)
		}
	})
}

func TestRefundRetryAsksFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		req := payment.RefundRequest{RefundNo: "RF0000000001", Amount: money.Fen(100)}
		f.ch.refundQuery = payment.RefundResult{Status: payment.RefundPending}
		if final, err := f.svc.PayRefund(context.Background(), f.school.ID, payment.UnionPay, req, true); final || err != nil || f.ch.refunds != 0 {
			t.Fatalf("pending at the channel: final=%v err=%v sent %d", final, err, f.ch.refunds)
		}
		f.ch.refundQuery = payment.RefundResult{Status: payment.RefundNotFound}
		// The refund row does not exist here, so recording fails after the
		// send: what matters is that a refund the channel never saw is sent.
		f.svc.PayRefund(context.Background(), f.school.ID, payment.UnionPay, req, true)
		if f.ch.refunds != 1 {
			t.Fatalf("a refund the channel never took was sent %d times, want 1", f.ch.refunds)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestJobsSurviveDatabaseHiccups: an order that does not exist ends its
// jobs; a database that cannot be read does not (the job is retried).
func TestJobsSurviveDatabaseHiccups(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	f := newFixture(t, s)
	if final, err := f.svc.Settle(context.Background(), "CP00000000000000000000"); !final || err == nil {
		t.Fatalf("unknown order: final=%v err=%v, want final with an error", final, err)
	}
	o := f.order(t, true)
	s.Close()
	for name, run := range map[string]func(context.Context, string) (bool, error){"settle": f.svc.Settle, "expire": f.svc.Expire} {
		if final, err := run(context.Background(), o.OrderNo); final || err == nil {
			t.Errorf("%s with the database down: final=%v err=%v, want a retry", name, final, err)
		}
	}
}

// TestExpiredUnionPayOrderIsStillAskedAbout: when the query job finds the
// hold over and closes the order itself, it keeps asking UnionPay for a
// while, so a payment made just before payTimeout whose notification was
// lost is still recorded.
func TestExpiredUnionPayOrderIsStillAskedAbout(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		o := f.order(t, true)
		f.now = o.ExpiresAt.Add(time.Second)
		f.ch.query = payment.Result{Channel: payment.UnionPay, Status: payment.TxnNotFound}
		final, err := f.svc.Settle(ctx, o.OrderNo)
		if err != nil || final {
			t.Fatalf("expiry by the query job: final=%v err=%v, want closed and still asked about", final, err)
		}
		if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusClosed || got.FailureCode != payment.FailExpired {
			t.Fatalf("order %s %q", got.Status, got.FailureCode)
		}
		f.ch.query = f.success(o, "Q9")
		if final, err := f.svc.Settle(ctx, o.OrderNo); err != nil || !final {
			t.Fatalf("late success: final=%v err=%v", final, err)
		}
		if n, _ := s.CountPayments(ctx); n[string(payment.Overpay)] != 1 {
			t.Fatalf("payments %v, want the late success kept as an overpayment", n)
		}
	})
}

// TestNotificationWhenTheOrderCannotBeLookedUp: a database failure during
// the merchant check answers 5xx (the channel retries) and applies nothing.
func TestNotificationWhenTheOrderCannotBeLookedUp(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	f := newFixture(t, s)
	o := f.order(t, true)
	f.ch.query = f.success(o, "Q10")
	s.Close()
	if n := f.svc.HandleNotification(context.Background(), payment.UnionPay, nil, nil, "notify"); n.Status != 500 {
		t.Fatalf("status %d, want 500", n.Status)
	}
}
