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
	"campuspay/internal/jobs"
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
	caps        payment.Capabilities
	gate        func() // called in every Query: a test's synchronisation point
	queryStatus payment.TxnStatus
	queryErr    error
	refundFirst payment.RefundStatus // Refund's answer
	refundQuery payment.RefundStatus // QueryRefund's answer
	queries     map[string]int       // Query calls per order
	closes      int
	refunds     int
	refundAsks  int
}

// Channel names: one that cannot close orders and takes debit cards only,
// one that can close.
const (
	debitPay = "debitpay"
	closePay = "closepay"
)

func newScripted(name string) *scripted {
	c := &scripted{name: name, queryStatus: payment.TxnNotFound, refundFirst: payment.RefundSuccess, refundQuery: payment.RefundNotFound, queries: map[string]int{}}
	if name == closePay {
		c.caps = payment.Capabilities{Close: true}
	} else {
		c.caps = payment.Capabilities{DebitOnly: true, LateGrace: 12 * time.Minute}
	}
	return c
}

func (c *scripted) Info() payment.ChannelInfo {
	return payment.ChannelInfo{Name: c.name, Label: c.name}
}
func (c *scripted) MerchantID() string                                   { return "M-" + c.name }
func (c *scripted) Capabilities() payment.Capabilities                   { return c.caps }
func (c *scripted) Route() string                                        { return c.MerchantID() }
func (c *scripted) NotificationRoute(map[string][]string, []byte) string { return "" }
func (c *scripted) Prepare(context.Context, payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: payment.PayFormPost, URL: "http://gateway.invalid"}, nil
}
func (c *scripted) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	c.mu.Lock()
	c.queries[q.OrderNo]++
	st, err, gate := c.queryStatus, c.queryErr, c.gate
	c.mu.Unlock()
	if gate != nil {
		gate()
	}
	return payment.Result{Channel: c.name, OrderNo: q.OrderNo, Status: st}, err
}
func (c *scripted) Close(context.Context, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
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
		channels: map[string]*scripted{debitPay: newScripted(debitPay), closePay: newScripted(closePay)}}
	reg := channel.NewRegistry()
	for _, c := range f.channels {
		reg.SetDefault(c)
	}
	s.SetClock(f.clock)
	f.svc = payment.NewService(s, reg, payCfg, nil, f.clock)
	t.Cleanup(f.svc.Close)
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
	return worker.New(f.st, f.svc.Handlers(), cfg, slog.New(slog.DiscardHandler), f.clock)
}

// order holds lineIDs of student in a new paying order on ch, under a
// policy that lets any lines go together.
func (f *fixture) order(t *testing.T, student billing.Student, ch string, lineIDs []int64) payment.Order {
	t.Helper()
	school := f.school
	school.Policy.MandatoryFirst, school.Policy.OneProjectPerOrder = false, false
	co, err := f.svc.Create(context.Background(), payment.CreateRequest{School: school, Student: student, LineIDs: lineIDs, Channel: ch})
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return co.Order
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
	dead      bool
	lastError string
}

func (f *fixture) job(t *testing.T, kind, ref string) job {
	t.Helper()
	var j job
	var runAt, doneAt, deadAt int64
	q := `SELECT attempts, run_at, done_at, dead_at, last_error FROM jobs WHERE kind = $1 AND ref = $2`
	if err := f.st.DB().QueryRowContext(context.Background(), q, kind, ref).Scan(&j.attempts, &runAt, &doneAt, &deadAt, &j.lastError); err != nil {
		t.Fatalf("job %s %s: %v", kind, ref, err)
	}
	j.runAt, j.done, j.dead = time.UnixMilli(runAt), doneAt != 0, deadAt != 0
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
		{"an order of a channel that cannot close is closed here as expired", debitPay, 0},
		{"an order of a channel that can close is closed as expired at the channel too", closePay, 1},
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
				if j := f.job(t, payment.JobExpire, o.OrderNo); !j.done {
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
		ch := f.channels[debitPay]
		ch.set(func(c *scripted) { c.queryErr = errors.New("channel down: connection refused") })
		o := f.order(t, f.students[0], debitPay, f.lines(t, f.students[0]))
		w := f.worker(fastWorker) // MaxAttempts 3
		steps := []struct {
			name     string
			attempts int
			givenUp  bool
		}{
			{"a failed query is retried soon, keeping the error", 1, false},
			{"a second failed query is retried again", 2, false},
			{"after MaxAttempts the job is dead, its error kept", 3, true},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				before := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] })
				w.RunOnce(ctx)
				if n := ch.count(func(c *scripted) int { return c.queries[o.OrderNo] }) - before; n != 1 {
					t.Fatalf("%d queries, want 1", n)
				}
				j := f.job(t, payment.JobQuery, o.OrderNo)
				if j.done || j.attempts != st.attempts {
					t.Fatalf("job %+v, want not done after %d attempts", j, st.attempts)
				}
				if !strings.Contains(j.lastError, "channel down") {
					t.Fatalf("last_error %q lost the channel's error", j.lastError)
				}
				if given := strings.Contains(j.lastError, "given up"); given != st.givenUp {
					t.Fatalf("last_error %q, given up %v", j.lastError, st.givenUp)
				}
				if j.dead != st.givenUp {
					t.Fatalf("job dead %v, want %v", j.dead, st.givenUp)
				}
				wait := j.runAt.Sub(f.clock())
				if !st.givenUp && (wait <= 0 || wait > payCfg.QueryMaxInterval+payCfg.QueryMaxInterval/5) {
					t.Fatalf("retry in %v, want within the query backoff", wait)
				}
				if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaying {
					t.Fatalf("a channel error changed the order to %s", got.Status)
				}
				f.advance(3 * time.Second)
			})
		}
		t.Run("a dead job is never tried again and is counted as dead", func(t *testing.T) {
			var ran []string
			w.OnHandled = func(j jobs.Job, _ jobs.Result, _ error) { ran = append(ran, j.Kind) }
			f.advance(48 * time.Hour)
			w.RunOnce(ctx)
			for _, k := range ran {
				if k == payment.JobQuery {
					t.Fatalf("a dead query job ran again (jobs run: %v)", ran)
				}
			}
			counts, err := s.Counts(ctx)
			if err != nil || counts[jobs.StateDead][payment.JobQuery] != 1 || counts[jobs.StatePending][payment.JobQuery] != 0 {
				t.Fatalf("counts %v %v", counts, err)
			}
		})
	})
}

func TestTwoWorkersHandleEachJobOnce(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ch := f.channels[debitPay]
		var orders []string
		for _, stu := range f.students {
			for _, id := range f.lines(t, stu) {
				orders = append(orders, f.order(t, stu, debitPay, []int64{id}).OrderNo)
			}
		}
		// Both workers must be at work at once: each one's first query
		// waits (a bounded time) until the other has begun one too.
		var both sync.WaitGroup
		arrived := map[string]bool{}
		var amu sync.Mutex
		ch.set(func(c *scripted) {
			c.queryStatus = payment.TxnPending
			both.Add(2)
			c.gate = func() {
				amu.Lock()
				first := len(arrived) < 2
				amu.Unlock()
				if !first {
					return
				}
				done := make(chan struct{})
				go func() { both.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
				}
			}
		})
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
					w.OnHandled = func(j jobs.Job, _ jobs.Result, _ error) {
						amu.Lock()
						defer amu.Unlock()
						if !arrived[w.ID()] {
							arrived[w.ID()] = true
							both.Done()
						}
					}
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
				if round == 1 && (claimed[0] == 0 || claimed[1] == 0) {
					t.Errorf("claimed %v: both workers must have taken jobs", claimed)
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
				ch := f.channels[debitPay]
				ch.set(func(x *scripted) {
					x.refundFirst, x.refundQuery, x.refunds, x.refundAsks = c.refundFirst, c.refundQuery, 0, 0
				})
				w := f.worker(fastWorker)

				stu := f.students[i]
				o := f.order(t, stu, debitPay, f.lines(t, stu))
				out, err := f.svc.ApplySuccess(ctx, payment.Result{Channel: debitPay, MerchantID: ch.MerchantID(), OrderNo: o.OrderNo,
					Status: payment.TxnSuccess, Amount: o.Amount, Currency: "CNY", ChannelTxnID: "Q" + o.OrderNo, CardType: payment.CardCredit}, "notify", "")
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
				if err != nil || ri.State != payment.RefundStateSuccess || ri.Amount != o.Amount {
					t.Fatalf("refund %+v %v, want success of %v", ri, err, o.Amount)
				}
				if j := f.job(t, payment.JobRefund, out.RefundNo); !j.done {
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

// TestCloseJobsCloseAtTheChannel: an order closed here without the channel
// knowing (its hold ended and another order took its lines) is closed at
// the channel by its close job, once.
func TestCloseJobsCloseAtTheChannel(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ch := f.channels[closePay]
		stu := f.students[0]
		o := f.order(t, stu, closePay, f.lines(t, stu))
		f.advance(o.ExpiresAt.Sub(f.clock()) + time.Second)
		f.order(t, stu, debitPay, f.lines(t, stu)) // takes the lines; o is closed here
		if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusClosed {
			t.Fatalf("old order %s", got.Status)
		}
		closes := ch.count(func(c *scripted) int { return c.closes })
		w := f.worker(fastWorker)
		for range 3 {
			w.RunOnce(ctx)
		}
		if n := ch.count(func(c *scripted) int { return c.closes }) - closes; n != 1 {
			t.Fatalf("closed at the channel %d times, want 1", n)
		}
		if j := f.job(t, payment.JobClose, o.OrderNo); !j.done {
			t.Fatalf("close job %+v", j)
		}
	})
}
