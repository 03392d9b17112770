package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/jobs"
	"campuspay/internal/journal"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
	"campuspay/internal/worker"
)

// fakeChannel is a channel whose statements and answers a test sets.
// Calls it does not override panic (the embedded nil interface).
type fakeChannel struct {
	payment.Channel
	mu        sync.Mutex
	days      map[string][]payment.StatementLine // by YYYY-MM-DD; absent: no statement
	stmtErr   error
	results   map[string]payment.Result // query answers by order number
	queryErr  error
	refunds   map[string]payment.RefundResult // refund answers by refund number
	queries   int
	fetches   int
	refundSeq int
}

const fakeMerchant = "777290058110048"

func newFake() *fakeChannel {
	return &fakeChannel{days: map[string][]payment.StatementLine{}, results: map[string]payment.Result{}, refunds: map[string]payment.RefundResult{}}
}

func (f *fakeChannel) Info() payment.ChannelInfo {
	return payment.ChannelInfo{Name: "unionpay", Label: "银联在线"}
}
func (f *fakeChannel) MerchantID() string { return fakeMerchant }
func (f *fakeChannel) Route() string      { return fakeMerchant }
func (f *fakeChannel) Capabilities() payment.Capabilities {
	return payment.Capabilities{DebitOnly: true, Statement: true, PrepareOffline: true}
}
func (f *fakeChannel) Prepare(ctx context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: payment.PayFormPost}, nil
}
func (f *fakeChannel) Statement(ctx context.Context, day time.Time) ([]payment.StatementLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	if f.stmtErr != nil {
		return nil, f.stmtErr
	}
	lines, ok := f.days[day.Format(time.DateOnly)]
	if !ok {
		return nil, fmt.Errorf("fake: %w", payment.ErrNoStatement)
	}
	return append([]payment.StatementLine(nil), lines...), nil
}
func (f *fakeChannel) Query(ctx context.Context, req payment.QueryRequest) (payment.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if f.queryErr != nil {
		return payment.Result{}, f.queryErr
	}
	if r, ok := f.results[req.OrderNo]; ok {
		return r, nil
	}
	return payment.Result{Channel: "unionpay", OrderNo: req.OrderNo, Status: payment.TxnNotFound, RespCode: "34"}, nil
}
func (f *fakeChannel) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refundSeq++
	rr := payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundSuccess, ChannelRefundID: fmt.Sprintf("RQ%019d", f.refundSeq)}
	f.refunds[req.RefundNo] = rr
	return rr, nil
}
func (f *fakeChannel) QueryRefund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rr, ok := f.refunds[req.RefundNo]; ok {
		return rr, nil
	}
	return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundNotFound}, nil
}

func (f *fakeChannel) set(day string, lines ...payment.StatementLine) {
	f.mu.Lock()
	f.days[day] = lines
	f.mu.Unlock()
}

func (f *fakeChannel) answer(r payment.Result) {
	f.mu.Lock()
	f.results[r.OrderNo] = r
	f.mu.Unlock()
}

// books is a seeded store with a payment service and a reconciliation
// service over a fake channel, on a fixed clock.
type books struct {
	t        *testing.T
	s        *store.Store
	school   billing.School
	students []billing.Student
	ch       *fakeChannel
	pay      *payment.Service
	svc      *reconcile.Service
	move     func(time.Duration) time.Time
	seq      int
}

// day0 is the day the tests reconcile: 2026-03-02 in Shanghai.
const day0 = "2026-03-02"

func newBooks(t *testing.T, s *store.Store, cfg reconcile.Config) *books {
	t.Helper()
	b := &books{t: t, s: s, ch: newFake()}
	b.school, b.students = storetest.Seed(t, s)
	now, move := storetest.FixedClock(s, time.Date(2026, 3, 2, 10, 0, 0, 0, reconcile.Shanghai))
	b.move = move
	reg := channel.NewRegistry()
	reg.SetDefault(b.ch)
	b.pay = payment.NewService(s, reg, payment.DefaultConfig("http://127.0.0.1:1"), nil, now)
	t.Cleanup(b.pay.Close)
	cfg.Now = now
	b.svc = reconcile.New(s, reg, b.pay, cfg)
	return b
}

// order makes an order of a student's unpaid mandatory items, or when
// they are paid of the first unpaid item (the channel is not told: its
// statement and answers are the test's).
func (b *books) order(student int) payment.Order {
	b.t.Helper()
	lines, err := b.s.Lines(ctx, b.students[student].ID)
	if err != nil {
		b.t.Fatal(err)
	}
	var ids []int64
	for _, l := range lines {
		if l.Mandatory && !l.IsPaid() {
			ids = append(ids, l.ID)
		}
	}
	for _, l := range lines {
		if len(ids) == 0 && !l.IsPaid() {
			ids = append(ids, l.ID)
		}
	}
	co, err := b.pay.Create(ctx, payment.CreateRequest{School: b.school, Student: b.students[student], LineIDs: ids, Channel: "unionpay"})
	if err != nil {
		b.t.Fatalf("create: %v", err)
	}
	return co.Order
}

// success is the channel's word that an order was paid, by debit card.
func (b *books) success(o payment.Order) payment.Result {
	b.seq++
	return payment.Result{Channel: "unionpay", MerchantID: fakeMerchant, OrderNo: o.OrderNo, Status: payment.TxnSuccess, Amount: o.Amount,
		Currency: "CNY", ChannelTxnID: fmt.Sprintf("%021d", b.seq), CardType: payment.CardDebit, PaidAt: b.s.Now().Add(-time.Second)}
}

// paid makes an order and has the channel's notification applied.
func (b *books) paid(student int) (payment.Order, payment.Result) {
	b.t.Helper()
	o := b.order(student)
	r := b.success(o)
	if _, err := b.pay.ApplySuccess(ctx, r, "notify", ""); err != nil {
		b.t.Fatal(err)
	}
	b.ch.answer(r)
	return o, r
}

func line(r payment.Result) payment.StatementLine {
	return payment.StatementLine{Kind: payment.StatementPayment, OrderNo: r.OrderNo, ChannelTxnID: r.ChannelTxnID, Amount: r.Amount, At: r.PaidAt}
}

func (b *books) run(p admin.Principal, day string) reconcile.Reconciliation {
	b.t.Helper()
	r, err := b.svc.Run(ctx, p, b.school.ID, "unionpay", day)
	if err != nil {
		b.t.Fatalf("run %s: %v", day, err)
	}
	return r
}

func only(t *testing.T, r reconcile.Reconciliation) reconcile.Difference {
	t.Helper()
	if len(r.Differences) != 1 {
		t.Fatalf("%d differences, want 1: %+v", len(r.Differences), r.Differences)
	}
	return r.Differences[0]
}

var sys = admin.System("test")

// TestResolutions: what each kind of difference leads to, by what the
// channel answers, on both engines.
func TestResolutions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		b := newBooks(t, s, reconcile.Config{})
		o1, r1 := b.paid(0)

		t.Run("a channel-only success of a known order is applied through the payment service", func(t *testing.T) {
			o2 := b.order(1)
			r2 := b.success(o2)
			b.ch.answer(r2)
			b.ch.set(day0, line(r1), line(r2))
			d := only(t, b.run(sys, day0))
			if d.Kind != reconcile.ChannelOnly || d.Action != reconcile.ActionApplied || !d.Resolved || d.OrderNo != o2.OrderNo {
				t.Fatalf("%+v", d)
			}
			if got, _ := s.Order(ctx, o2.OrderNo); got.Status != payment.StatusPaid || got.ChannelTxnID != r2.ChannelTxnID {
				t.Errorf("order %+v", got)
			}
			if r := b.run(sys, day0); !r.OK() || r.Matched != 2 {
				t.Errorf("the next run: %+v", r)
			}
			storetest.JournalOK(t, s)
		})

		t.Run("a line of an order the books do not know goes to suspense, from the statement itself", func(t *testing.T) {
			stray := payment.StatementLine{Kind: payment.StatementPayment, OrderNo: "CP20260302093000" + "0000000001", ChannelTxnID: "stray-txn-0001",
				Amount: 4321, At: s.Now().Add(-time.Hour)}
			b.ch.set(day0, append(b.ch.days[day0], stray)...)
			d := only(t, b.run(sys, day0))
			if d.Kind != reconcile.ChannelOnly || d.Action != reconcile.ActionSuspense || !d.Resolved || !strings.Contains(d.Note, "待查明") {
				t.Fatalf("%+v", d)
			}
			if n := storetest.Count(t, s, "suspense", "channel_txn_id = $1 AND school_id IS NULL AND merchant_id = $2 AND raw LIKE $3",
				"stray-txn-0001", fakeMerchant, "%statement line%"); n != 1 {
				t.Errorf("%d suspense rows", n)
			}
			if bal := storetest.Balance(t, s, journal.Suspense(0)); bal != -4321 {
				t.Errorf("platform suspense %v", bal)
			}
			if r := b.run(sys, day0); !r.OK() {
				t.Errorf("suspense is on the books now, yet: %+v", r.Differences)
			}
		})

		t.Run("a platform-only payment the channel does not confirm waits for a person", func(t *testing.T) {
			o3, _ := b.paid(2)
			delete(b.ch.results, o3.OrderNo)
			r := b.run(sys, day0)
			d := only(t, r)
			if d.Kind != reconcile.PlatformOnly || d.Action != reconcile.ActionManual || d.Resolved || r.Status != reconcile.StatusUnresolved ||
				r.Unresolved != 1 || !strings.Contains(d.Note, "查无此交易") {
				t.Fatalf("%+v %+v", r, d)
			}
		})

		t.Run("an amount the channel's query agrees with the statement on waits for a person", func(t *testing.T) {
			l := line(r1)
			l.Amount += 100
			b.ch.answer(payment.Result{Channel: "unionpay", OrderNo: o1.OrderNo, Status: payment.TxnSuccess, Amount: l.Amount, ChannelTxnID: r1.ChannelTxnID})
			days := b.ch.days[day0]
			days[0] = l
			d := b.run(sys, day0).Differences[0]
			if d.Kind != reconcile.AmountMismatch || d.Action != reconcile.ActionManual || d.ChannelAmount != r1.Amount+100 || d.PlatformAmount != r1.Amount {
				t.Fatalf("%+v", d)
			}
			b.ch.answer(r1)
			if d := b.run(sys, day0).Differences[0]; d.Action != reconcile.ActionStatementError || !d.Resolved {
				t.Fatalf("with the query agreeing with the books: %+v", d)
			}
			days[0] = line(r1)
		})

		t.Run("a channel that cannot be asked leaves it to a person", func(t *testing.T) {
			b.ch.queryErr = errors.New("gateway down")
			d := b.run(sys, day0).Differences[0]
			b.ch.queryErr = nil
			if d.Action != reconcile.ActionManual || d.Resolved || !strings.Contains(d.Note, "查询失败") {
				t.Fatalf("%+v", d)
			}
		})

		t.Run("past MaxResolve differences are not each asked about", func(t *testing.T) {
			lim := reconcile.New(s, channels(b), b.pay, reconcile.Config{Now: s.Now, MaxResolve: 1})
			lines := b.ch.days[day0]
			b.ch.set(day0) // every line dropped: three platform-only
			before := b.ch.queries
			r, err := lim.Run(ctx, sys, b.school.ID, "unionpay", day0)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Differences) != 4 || b.ch.queries-before != 1 || r.Unresolved < 3 || !strings.Contains(r.Differences[3].Note, "差异超过 1 笔") {
				t.Errorf("%d queries for %+v", b.ch.queries-before, r.Differences)
			}
			b.ch.set(day0, lines...)
		})

		t.Run("a refund paid out is matched, or confirmed by the channel when the statement lacks it", func(t *testing.T) {
			o := b.order(2)
			credit := b.success(o)
			credit.CardType = payment.CardCredit // refunded at once (R1)
			out, err := b.pay.ApplySuccess(ctx, credit, "notify", "")
			if err != nil || out.RefundNo == "" {
				t.Fatalf("%+v %v", out, err)
			}
			if done, err := b.pay.PayRefund(ctx, out.RefundNo, false); !done || err != nil {
				t.Fatalf("refund: %v %v", done, err)
			}
			rr := b.ch.refunds[out.RefundNo]
			refund := payment.StatementLine{Kind: payment.StatementRefund, RefundNo: out.RefundNo, ChannelTxnID: rr.ChannelRefundID, Amount: credit.Amount}
			lines := append([]payment.StatementLine(nil), b.ch.days[day0]...)
			b.ch.answer(credit)
			all := append(lines, line(credit), refund)
			b.ch.set(day0, all...)
			r := b.run(sys, day0)
			for _, d := range r.Differences {
				if d.TxnKind == payment.StatementRefund {
					t.Errorf("the refund differs: %+v", d)
				}
			}
			if r.Statement.Refunds != 1 || r.Platform.Refunds != 1 || r.Platform.RefundAmount != credit.Amount {
				t.Errorf("refund totals %+v %+v", r.Statement, r.Platform)
			}
			b.ch.set(day0, append(lines, line(credit))...)
			r = b.run(sys, day0)
			var got *reconcile.Difference
			for i, d := range r.Differences {
				if d.TxnKind == payment.StatementRefund {
					got = &r.Differences[i]
				}
			}
			if got == nil || got.Kind != reconcile.PlatformOnly || got.Action != reconcile.ActionConfirmed || got.Ref != out.RefundNo {
				t.Errorf("%+v", r.Differences)
			}
		})
	})
}

func channels(b *books) payment.Channels {
	reg := channel.NewRegistry()
	reg.SetDefault(b.ch)
	return reg
}

// TestRunRefusals: who may run, which days, and a statement not yet issued.
func TestRunRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		b := newBooks(t, s, reconcile.Config{})
		other, err := s.CreateSchool(ctx, billing.School{Code: "OTHER", Name: "另一所学校", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		role := func(r admin.Role, school int64) admin.Principal {
			return admin.Principal{Staff: admin.Staff{ID: 99, Username: string(r), Role: r, SchoolID: school}}
		}
		for _, tc := range []struct {
			name string
			p    admin.Principal
			day  string
			ch   string
			code string
		}{
			{"an auditor may not run one", role(admin.RoleAuditor, b.school.ID), day0, "unionpay", admin.CodeForbidden},
			{"another school's clerk may not", role(admin.RoleClerk, other.ID), day0, "unionpay", admin.CodeForbidden},
			{"nobody logged in may not", admin.Principal{}, day0, "unionpay", admin.CodeUnauthorized},
			{"a day that has not begun", role(admin.RoleClerk, b.school.ID), "2026-03-03", "unionpay", reconcile.CodeInvalidDate},
			{"a date that is no date", role(admin.RoleClerk, b.school.ID), "2026-3-2", "unionpay", reconcile.CodeInvalidDate},
			{"a channel there is not", role(admin.RoleClerk, b.school.ID), day0, "alipay", payment.CodeInvalidChannel},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := storetest.Count(t, s, "reconciliations")
				_, err := b.svc.Run(ctx, tc.p, b.school.ID, tc.ch, tc.day)
				if apperr.CodeOf(err) != tc.code {
					t.Errorf("err %v, want %s", err, tc.code)
				}
				if n := storetest.Count(t, s, "reconciliations"); n != before {
					t.Errorf("a refused run was recorded")
				}
			})
		}
		t.Run("a day with neither statement nor money matches", func(t *testing.T) {
			if r := b.run(role(admin.RoleClerk, b.school.ID), "2026-03-01"); !r.OK() || r.Matched != 0 || r.RunBy != "clerk" {
				t.Errorf("%+v", r)
			}
		})
		t.Run("money without a statement is statement_not_ready, recorded as failed", func(t *testing.T) {
			b.paid(0)
			_, err := b.svc.Run(ctx, sys, b.school.ID, "unionpay", day0)
			if apperr.CodeOf(err) != reconcile.CodeStatementNotReady || apperr.HTTPStatus(err) != 409 {
				t.Fatalf("err %v", err)
			}
			r, err := b.svc.Get(ctx, role(admin.RoleAuditor, b.school.ID), b.school.ID, "unionpay", day0)
			if err != nil || r.Status != reconcile.StatusFailed || r.Error == "" || r.Platform.Payments != 1 {
				t.Errorf("%+v %v", r, err)
			}
		})
		t.Run("a statement that cannot be fetched is recorded as failed", func(t *testing.T) {
			b.ch.stmtErr = errors.New("connection refused")
			_, err := b.svc.Run(ctx, sys, b.school.ID, "unionpay", day0)
			b.ch.stmtErr = nil
			if apperr.CodeOf(err) != payment.CodeChannelUnavailable {
				t.Fatalf("err %v", err)
			}
			if r, _ := b.svc.Get(ctx, sys, b.school.ID, "unionpay", day0); r.Status != reconcile.StatusFailed || r.Runs != 2 {
				t.Errorf("%+v", r)
			}
		})
	})
}

// TestDailyJob: every server queues the morning's runs, yet each day is
// one job, run once by one of several workers racing for it, as the
// platform ("system"), for every school; the next day's run is queued by
// the run; a statement not yet issued is asked for again later, a
// bounded number of times.
func TestDailyJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		b := newBooks(t, s, reconcile.Config{RetryAfter: time.Hour, DailyAttempts: 3})
		other, err := s.CreateSchool(ctx, billing.School{Code: "OTHER", Name: "另一所学校", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		b.move(-3 * time.Hour) // 2026-03-02 07:00: yesterday's run is due
		second := reconcile.New(s, channels(b), b.pay, reconcile.Config{Now: s.Now})
		for _, svc := range []*reconcile.Service{b.svc, second, b.svc} {
			if err := svc.Schedule(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := storetest.Count(t, s, "jobs", "kind = $1", reconcile.JobDaily); n != 2 {
			t.Fatalf("%d daily jobs queued by three starts, want 2", n)
		}
		var handled atomic.Int32
		workers := make([]*worker.Worker, 4)
		for i := range workers {
			workers[i] = worker.New(s, b.svc.Handlers(), worker.Config{Lease: time.Minute}, nil, s.Now)
			workers[i].OnHandled = func(j jobs.Job, res jobs.Result, err error) {
				if err != nil || !res.Done {
					t.Errorf("job %s %s: %+v %v", j.Kind, j.Ref, res, err)
				}
				handled.Add(1)
			}
		}
		storetest.Race(len(workers), func(i int) { workers[i].RunOnce(ctx) })
		if handled.Load() != 1 || b.ch.fetches != 1 {
			t.Fatalf("handled %d times, %d statements fetched, want 1 and 1 (shared by both schools)", handled.Load(), b.ch.fetches)
		}
		for _, sc := range []billing.School{b.school, other} {
			r, err := s.ReconcileGet(ctx, sc.ID, "unionpay", "2026-03-01")
			if err != nil || !r.OK() || r.RunBy != "system" || r.Runs != 1 {
				t.Errorf("school %s: %+v %v", sc.Code, r, err)
			}
		}
		if n := storetest.Count(t, s, "jobs", "kind = $1 AND done_at = 0", reconcile.JobDaily); n != 1 {
			t.Errorf("%d daily jobs pending, want today's", n)
		}
		if err := b.svc.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if n := storetest.Count(t, s, "jobs", "kind = $1 AND done_at = 0", reconcile.JobDaily); n != 1 {
			t.Errorf("a start revived a done day: %d pending", n)
		}

		// Today has money but the channel has no statement yet.
		b.move(3 * time.Hour)
		b.paid(0)
		b.move(21 * time.Hour) // 2026-03-03 07:00
		handled.Store(0)
		w := workers[0]
		w.OnHandled = func(j jobs.Job, res jobs.Result, err error) {
			handled.Add(1)
			if j.Ref != day0 || (res.Done != (j.Attempts >= 3)) || (!res.Done && !res.RetryAt.Equal(s.Now().Add(time.Hour))) {
				t.Errorf("attempt %d: %+v %v", j.Attempts, res, err)
			}
		}
		for i := 0; i < 3; i++ {
			if n := w.RunOnce(ctx); n != 1 {
				t.Fatalf("try %d: %d jobs run", i+1, n)
			}
			b.move(time.Hour)
		}
		if n := w.RunOnce(ctx); n != 0 || handled.Load() != 3 {
			t.Errorf("the day ran %d times, then %d more", handled.Load(), n)
		}
		r, _ := s.ReconcileGet(ctx, b.school.ID, "unionpay", day0)
		if r.Status != reconcile.StatusFailed || r.Runs != 3 {
			t.Errorf("after giving up: %+v", r)
		}
		if n := storetest.Count(t, s, "jobs", "kind = $1 AND ref = $2 AND done_at = 0", reconcile.JobDaily, "2026-03-03"); n != 1 {
			t.Errorf("the next day's run is not queued")
		}
	})
}
