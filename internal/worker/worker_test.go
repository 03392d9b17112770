package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/journal"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
	"campuspay/internal/worker"
)

// scripted is a payment.Channel whose answers the test sets. The wire
// protocols are proven against the sandbox elsewhere; here only what the
// worker does with the answers is.
type scripted struct {
	mu          sync.Mutex
	name        string
	queryStatus payment.TxnStatus
	queryErr    error
	refundFirst payment.RefundStatus // Refund's answer
	refundQuery payment.RefundStatus // QueryRefund's answer
	queries     map[string]int       // Query calls per order
	closes      int
	refunds     int
	refundAsks  int
}

func newScripted(name string) *scripted {
	return &scripted{name: name, queryStatus: payment.TxnNotFound, refundFirst: payment.RefundSuccess, refundQuery: payment.RefundNotFound, queries: map[string]int{}}
}

func (c *scripted) Name() string       { return c.name }
func (c *scripted) MerchantID() string { return "777290058110097" }
func (c *scripted) Prepare(context.Context, payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: "form_post", URL: "http://gateway.invalid"}, nil
}
func (c *scripted) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	c.mu.Lock()
	c.queries[q.OrderNo]++
	st, err := c.queryStatus, c.queryErr
	c.mu.Unlock()
	// Long enough for the other worker to be at work meanwhile.
	time.Sleep(time.Millisecond)
	return payment.Result{Channel: c.name, OrderNo: q.OrderNo, Status: st}, err
}
func (c *scripted) Close(context.Context, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	if c.name == payment.UnionPay {
		return payment.ErrCloseUnsupported
	}
	return nil
}
func (c *scripted) Refund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refunds++
	return payment.RefundResult{RefundNo: req.RefundNo, Status: c.refundFirst, ChannelRefundID: "R" + req.RefundNo}, nil
}
func (c *scripted) QueryRefund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refundAsks++
	return payment.RefundResult{RefundNo: req.RefundNo, Status: c.refundQuery, ChannelRefundID: "R" + req.RefundNo}, nil
}
func (c *scripted) ParseNotification(context.Context, map[string][]string, []byte) (payment.Result, error) {
	return payment.Result{}, payment.ErrBadNotification
}
func (c *scripted) NotificationAck() (int, string, []byte) { return 200, "text/plain", []byte("ok") }

func (c *scripted) set(fn func(c *scripted)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c)
}

func (c *scripted) count(fn func(c *scripted) int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fn(c)
}

// fixture is a seeded store, a payment service over scripted channels and
// a clock the test moves.
type fixture struct {
	st       *store.Store
	svc      *payment.Service
	channels map[string]*scripted
	school   billing.School
	students []billing.Student
	mu       sync.Mutex
	now      time.Time
}

var payCfg = payment.Config{PublicURL: "http://127.0.0.1", FirstQuery: 0, QueryInterval: time.Second, QueryMaxInterval: 2 * time.Second}

func newFixture(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	school, students := storetest.Seed(t, s)
	f := &fixture{st: s, school: school, students: students, now: time.Now().Truncate(time.Millisecond),
		channels: map[string]*scripted{payment.UnionPay: newScripted(payment.UnionPay), payment.WeChat: newScripted(payment.WeChat)}}
	reg := channel.NewRegistry()
	for _, c := range f.channels {
		reg.SetDefault(c)
	}
	s.SetClock(f.clock)
	f.svc = payment.NewService(s, reg, payCfg, nil, f.clock)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) worker(cfg worker.Config) *worker.Worker {
	return worker.New(f.st, f.svc, cfg, slog.New(slog.DiscardHandler))
}

// order holds lineIDs of student in a new paying order on ch, under a
// policy that lets any lines go together.
func (f *fixture) order(t *testing.T, student billing.Student, ch string, lineIDs []int64) payment.Order {
	t.Helper()
	ctx := context.Background()
	pol := f.school.Policy
	pol.MandatoryFirst, pol.OneProjectPerOrder = false, false
	o, err := f.st.CreateOrder(ctx, payment.NewOrder{OrderNo: payment.NewOrderNo(f.clock()), Student: student, Policy: pol,
		LineIDs: lineIDs, Channel: ch, FirstQuery: payCfg.FirstQuery})
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	if err := f.st.MarkPaying(ctx, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	return o
}

func (f *fixture) lines(t *testing.T, student billing.Student) []int64 {
	t.Helper()
	ls, err := f.st.Lines(context.Background(), student.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}

// job is a row of the jobs table.
type job struct {
	attempts  int
	runAt     time.Time
	done      bool
	lastError string
}

func (f *fixture) job(t *testing.T, kind, ref string) job {
	t.Helper()
	var j job
	var runAt, doneAt int64
	// ref is an order or refund number (letters and digits only).
	q := fmt.Sprintf(`SELECT attempts, run_at, done_at, last_error FROM jobs WHERE kind = '%s' AND ref = '%s'`, kind, ref)
	if err := f.st.DB().QueryRowContext(context.Background(), q).Scan(&j.attempts, &runAt, &doneAt, &j.lastError); err != nil {
		t.Fatalf("job %s %s: %v", kind, ref, err)
	}
	j.runAt, j.done = time.UnixMilli(runAt), doneAt != 0
	return j
}

func (f *fixture) verify(t *testing.T) {
	t.Helper()
	if rep, err := f.st.VerifyJournal(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("journal: %+v %v", rep, err)
	}
}

var fastWorker = worker.Config{Poll: 10 * time.Millisecond, Lease: time.Minute, MaxAttempts: 3, Batch: 20}

func TestExpiredOrdersAreClosed(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		channel    string
		wantCloses int // calls to the channel's close
	}{
		{"a UnionPay order past its hold is closed as expired", payment.UnionPay, 1},
		{"a WeChat order past its hold is closed as expired, at the channel too", payment.WeChat, 1},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		w := f.worker(fastWorker)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				stu := f.students[i]
				o := f.order(t, stu, c.channel, f.lines(t, stu))
				ch := f.channels[c.channel]
				closes := ch.count(func(c *scripted) int { return c.closes })

				w.RunOnce(ctx)
				if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaying {
					t.Fatalf("before its hold ends the order is %s, want paying", got.Status)
				}

				f.advance(o.ExpiresAt.Sub(f.clock()) + time.Second)
				if n := w.RunOnce(ctx); n == 0 {
					t.Fatal("no job was due after the hold ended")
				}
				got, err := s.Order(ctx, o.OrderNo)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != payment.StatusClosed || got.FailureCode != payment.FailExpired {
					t.Fatalf("order %s %q, want closed %q", got.Status, got.FailureCode, payment.FailExpired)
				}
				if n := ch.count(func(c *scripted) int { return c.closes }) - closes; n != c.wantCloses {
					t.Fatalf("the channel was asked to close %d times, want %d", n, c.wantCloses)
				}
				if j := f.job(t, store.JobExpire, o.OrderNo); !j.done {
					t.Fatalf("expire job not done: %+v", j)
				}
				if holds, _ := s.Holds(ctx, stu.ID); len(holds) != 0 {
					t.Fatalf("the closed order still holds %d lines", len(holds))
				}
				f.verify(t)
			})
		}
	})
}

func TestQueryJobsRetryThenGiveUp(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ch := f.channels[payment.UnionPay]
		ch.set(func(c *scripted) { c.queryErr = errors.New("channel down: connection refused") })
		o := f.order(t, f.students[0], payment.UnionPay, f.lines(t, f.students[0]))
		w := f.worker(fastWorker) // MaxAttempts 3
		steps := []struct {
			name     string
			attempts int
			givenUp  bool
		}{
			{"a failed query is retried soon, keeping the error", 1, false},
			{"a second failed query is retried again", 2, false},
			{"after MaxAttempts the query is given up for a day, its error kept", 3, true},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				before := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] })
				w.RunOnce(ctx)
				if n := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] }) - before; n != 1 {
					t.Fatalf("%d queries, want 1", n)
				}
				j := f.job(t, store.JobQuery, o.OrderNo)
				if j.done || j.attempts != st.attempts {
					t.Fatalf("job %+v, want not done after %d attempts", j, st.attempts)
				}
				if !strings.Contains(j.lastError, "channel down") {
					t.Fatalf("last_error %q lost the channel's error", j.lastError)
				}
				if given := strings.Contains(j.lastError, "given up"); given != st.givenUp {
					t.Fatalf("last_error %q, given up %v", j.lastError, st.givenUp)
				}
				wait := j.runAt.Sub(f.clock())
				if st.givenUp && wait < 23*time.Hour {
					t.Fatalf("a given-up job runs again in %v, want about 24 h", wait)
				}
				if !st.givenUp && (wait <= 0 || wait > payCfg.QueryMaxInterval+payCfg.QueryMaxInterval/5) {
					t.Fatalf("retry in %v, want within the query backoff", wait)
				}
				if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaying {
					t.Fatalf("a channel error changed the order to %s", got.Status)
				}
				f.advance(3 * time.Second)
			})
		}
		t.Run("a given-up job is not tried again within the day", func(t *testing.T) {
			before := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] })
			f.advance(time.Minute)
			w.RunOnce(ctx)
			if n := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] }) - before; n != 0 {
				t.Fatalf("%d more queries", n)
			}
		})
	})
}

func TestTwoWorkersHandleEachJobOnce(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ch := f.channels[payment.UnionPay]
		ch.set(func(c *scripted) { c.queryStatus = payment.TxnPending })
		var orders []string
		for _, stu := range f.students {
			for _, id := range f.lines(t, stu) {
				orders = append(orders, f.order(t, stu, payment.UnionPay, []int64{id}).OrderNo)
			}
		}
		cfg := fastWorker
		cfg.Batch = 4 // several claims each, interleaved
		workers := []*worker.Worker{f.worker(cfg), f.worker(cfg)}
		if workers[0].ID() == workers[1].ID() {
			t.Fatalf("two workers share the id %q", workers[0].ID())
		}
		for round := 1; round <= 3; round++ {
			t.Run(fmt.Sprintf("in round %d every order is queried exactly once more", round), func(t *testing.T) {
				start := make(chan struct{})
				var wg sync.WaitGroup
				claimed := make([]int, len(workers))
				for i, w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for {
							n := w.RunOnce(ctx)
							claimed[i] += n
							if n == 0 {
								return
							}
						}
					}()
				}
				close(start)
				wg.Wait()
				if claimed[0]+claimed[1] != len(orders) {
					t.Errorf("claimed %v, want %d in all", claimed, len(orders))
				}
				for _, no := range orders {
					if n := ch.count(func(c *scripted) int { return c.queries[no] }); n != round {
						t.Errorf("order %s queried %d times after round %d", no, n, round)
					}
				}
				f.advance(3 * time.Second) // past every retry (≤ 2 s + 10%)
			})
		}
	})
}

func TestRefundJobsPayOutOnce(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name        string
		refundFirst payment.RefundStatus
		refundQuery payment.RefundStatus
		wantRefunds int // Refund calls in all
		wantAsks    int // QueryRefund calls in all
	}{
		{"a credit-card payment is refunded at the first try", payment.RefundSuccess, payment.RefundNotFound, 1, 0},
		{"a refund the channel accepted as pending is asked about, not sent again", payment.RefundPending, payment.RefundSuccess, 1, 1},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		payable := journal.RefundsPayable(f.school.ID)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ch := newScripted(payment.UnionPay)
				ch.refundFirst, ch.refundQuery = c.refundFirst, c.refundQuery
				reg := channel.NewRegistry()
				reg.SetDefault(ch)
				reg.SetDefault(f.channels[payment.WeChat])
				svc := payment.NewService(s, reg, payCfg, nil, f.clock)
				w := worker.New(s, svc, fastWorker, slog.New(slog.DiscardHandler))

				stu := f.students[i]
				o := f.order(t, stu, payment.UnionPay, f.lines(t, stu))
				out, err := s.ApplySuccess(ctx, payment.Result{Channel: payment.UnionPay, MerchantID: ch.MerchantID(), OrderNo: o.OrderNo,
					Status: payment.TxnSuccess, Amount: o.Amount, Currency: "CNY", ChannelTxnID: "Q" + o.OrderNo, CardType: payment.CardCredit}, "notify")
				if err != nil {
					t.Fatal(err)
				}
				if out.Disposition != payment.RefundNonDebit || out.RefundNo == "" {
					t.Fatalf("credit card payment: %+v, want a refund started", out)
				}
				if bal, _ := s.AccountBalance(ctx, payable); bal == 0 {
					t.Fatal("nothing owed back before the refund")
				}
				for range 4 {
					w.RunOnce(ctx)
					f.advance(3 * time.Second)
				}
				if n := ch.count(func(c *scripted) int { return c.refunds }); n != c.wantRefunds {
					t.Fatalf("%d refunds sent, want %d", n, c.wantRefunds)
				}
				if n := ch.count(func(c *scripted) int { return c.refundAsks }); n != c.wantAsks {
					t.Fatalf("%d refund queries, want %d", n, c.wantAsks)
				}
				ri, err := s.Refund(ctx, out.RefundNo)
				if err != nil || ri.Status != "success" || ri.Req.Amount != o.Amount {
					t.Fatalf("refund %+v %v, want success of %v", ri, err, o.Amount)
				}
				if j := f.job(t, store.JobRefund, out.RefundNo); !j.done {
					t.Fatalf("refund job not done: %+v", j)
				}
				if bal, err := s.AccountBalance(ctx, payable); err != nil || bal != 0 {
					t.Fatalf("refunds payable %v %v, want 0", bal, err)
				}
				f.verify(t)
			})
		}
	})
}
