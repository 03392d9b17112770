package payment_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// officeRefund starts a refund of an order in one office transaction, as
// an approval does.
func (k *kit) officeRefund(orderNo, kind string, amount money.Fen, lineID int64) (payment.Refund, error) {
	k.t.Helper()
	var rf payment.Refund
	err := k.s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
		om, err := tx.LockOrderMoney(ctx, orderNo)
		if err != nil {
			return err
		}
		plan, err := payment.PlanRefund(om, kind, amount, lineID)
		if err != nil {
			return err
		}
		rf = payment.StartRefund(tx, om, plan, "测试退款", 0)
		return payment.QueueRefund(ctx, tx, &rf)
	})
	return rf, err
}

// payOut runs a refund's job once (first try).
func (k *kit) payOut(refundNo string) {
	k.t.Helper()
	done, err := k.svc.PayRefund(ctx, refundNo, false)
	if err != nil || !done {
		k.t.Fatalf("pay refund %s: done %v, %v", refundNo, done, err)
	}
}

func (k *kit) verify() {
	k.t.Helper()
	rep, err := k.s.VerifyJournal(ctx)
	if err != nil || !rep.OK() {
		k.t.Fatalf("journal: %v unbalanced %v mismatch %v", err, rep.Unbalanced, rep.ReceivableMismatch)
	}
}

func (k *kit) balance(account string) money.Fen {
	k.t.Helper()
	b, err := k.s.AccountBalance(ctx, account)
	if err != nil {
		k.t.Fatal(err)
	}
	return b
}

func (k *kit) refundState(refundNo string) payment.RefundState {
	k.t.Helper()
	rf, err := k.s.Refund(ctx, refundNo)
	if err != nil {
		k.t.Fatal(err)
	}
	return rf.State
}

// TestOrderRefunds: a partial refund of a paid order lowers what its lines
// owe and what they paid together, sets the money aside, and once the
// channel pays it out the order is partially_refunded; the rest makes it
// refunded; nothing more can be refunded (refund_exceeds_paid); the
// journal verifies at every step.
func TestOrderRefunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.pay(0, storetest.ItemTuition, storetest.ItemDorm)
		tuition := k.lines(0)[storetest.ItemTuition]

		rf, err := k.officeRefund(o.OrderNo, payment.RefundOrder, 100000, tuition.ID)
		if err != nil {
			t.Fatal(err)
		}
		l := k.lines(0)[storetest.ItemTuition]
		if l.Amount != storetest.Tuition-100000 || l.Paid != l.Amount || l.Refunded != 100000 || l.Unpaid() != 0 {
			t.Fatalf("tuition after refund started: %+v", l)
		}
		if got := k.stored(o.OrderNo).Status; got != payment.StatusPaid {
			t.Fatalf("order %s before the channel paid out", got)
		}
		if b := k.balance(journal.RefundsPayable(k.school.ID)); b != -100000 {
			t.Fatalf("refunds payable %d", b)
		}
		k.verify()
		k.payOut(rf.RefundNo)
		if got := k.stored(o.OrderNo); got.Status != payment.StatusPartiallyRefunded || got.Refunded != 100000 {
			t.Fatalf("order after partial refund: %s refunded %d", got.Status, got.Refunded)
		}
		if b := k.balance(journal.RefundsPayable(k.school.ID)); b != 0 {
			t.Fatalf("refunds payable after payout %d", b)
		}
		k.verify()

		if _, err := k.officeRefund(o.OrderNo, payment.RefundOrder, o.Amount, 0); apperr.CodeOf(err) != payment.CodeRefundExceedsPaid {
			t.Fatalf("refund of more than is left: %v", err)
		}
		rest := o.Amount - 100000
		rf2, err := k.officeRefund(o.OrderNo, payment.RefundOrder, rest, 0)
		if err != nil {
			t.Fatal(err)
		}
		k.payOut(rf2.RefundNo)
		if got := k.stored(o.OrderNo); got.Status != payment.StatusRefunded || got.Refunded != o.Amount {
			t.Fatalf("order after the rest: %s refunded %d", got.Status, got.Refunded)
		}
		for _, it := range []string{storetest.ItemTuition, storetest.ItemDorm} {
			if l := k.lines(0)[it]; l.Amount != 0 || l.Paid != 0 {
				t.Fatalf("%s after a full refund: %+v", it, l)
			}
		}
		if _, err := k.officeRefund(o.OrderNo, payment.RefundOrder, 1, 0); apperr.CodeOf(err) != payment.CodeRefundExceedsPaid {
			t.Fatalf("refund of a refunded order: %v", err)
		}
		if b := k.balance(journal.Clearing(debitPay, k.school.ID)); b != 0 {
			t.Fatalf("clearing after everything went back: %d", b)
		}
		k.verify()
	})
}

// TestRefundRefusedByTheChannel: a refund the channel refuses gives the
// money back to where it was set aside from (the lines owe and have paid
// it again), so that it can be refunded again; the order stays paid.
func TestRefundRefusedByTheChannel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.pay(0, storetest.ItemTuition, storetest.ItemDorm)
		before := k.lines(0)
		k.debit.set(func(c *testChannel) { c.refundAns = payment.RefundResult{Status: payment.RefundFailed, RespCode: "01"} })
		rf, err := k.officeRefund(o.OrderNo, payment.RefundOrder, 50000, 0)
		if err != nil {
			t.Fatal(err)
		}
		k.payOut(rf.RefundNo)
		if st := k.refundState(rf.RefundNo); st != payment.RefundStateFailed {
			t.Fatalf("refund %s", st)
		}
		for it, l := range k.lines(0) {
			if b := before[it]; l.Amount != b.Amount || l.Paid != b.Paid || l.Refunded != 0 {
				t.Fatalf("%s after a failed refund: %+v, was %+v", it, l, b)
			}
		}
		if got := k.stored(o.OrderNo); got.Status != payment.StatusPaid || got.Refunded != 0 {
			t.Fatalf("order after a failed refund: %s %d", got.Status, got.Refunded)
		}
		if b := k.balance(journal.RefundsPayable(k.school.ID)); b != 0 {
			t.Fatalf("refunds payable after a failed refund: %d", b)
		}
		k.verify()
		k.debit.set(func(c *testChannel) {
			c.refundAns = payment.RefundResult{Status: payment.RefundSuccess, ChannelRefundID: "R2"}
		})
		rf, err = k.officeRefund(o.OrderNo, payment.RefundOrder, o.Amount, 0)
		if err != nil {
			t.Fatalf("the whole order after a failed refund: %v", err)
		}
		k.payOut(rf.RefundNo)
		if got := k.stored(o.OrderNo); got.Status != payment.StatusRefunded {
			t.Fatalf("order %s", got.Status)
		}
		k.verify()
	})
}

// TestLoanAfterPayment: a student loan for an item the student paid
// already pays the item instead, and the student's payment becomes an
// overpayment (refunding it is internal/admin's TestLoanFile, where the
// request records what the loan replaced). A loan on an unpaid item pays
// it; no loan pays more than the item.
func TestLoanAfterPayment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.pay(0, storetest.ItemTuition, storetest.ItemDorm)
		tuition := k.lines(0)[storetest.ItemTuition]
		loan := func(lineID int64, amount money.Fen) (payment.LoanOutcome, error) {
			var out payment.LoanOutcome
			err := k.s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
				l, err := tx.LockLine(ctx, lineID)
				if err != nil {
					return err
				}
				out, err = payment.ApplyLoan(tx, l, amount, "test", "生源地助学贷款")
				return err
			})
			return out, err
		}
		out, err := loan(tuition.ID, 400000)
		if err != nil || out.Covered != 0 || out.Displaced != 400000 || out.OrderNo != o.OrderNo {
			t.Fatalf("loan after payment: %+v %v", out, err)
		}
		if l := k.lines(0)[storetest.ItemTuition]; l.Loan != 400000 || !l.IsPaid() {
			t.Fatalf("tuition after the loan: %+v", l)
		}
		if b := k.balance(journal.Overpayment(k.school.ID)); b != -400000 {
			t.Fatalf("overpayment %d", b)
		}
		k.verify()
		// An unpaid item: the loan pays it; never past the item's amount.
		books := k.lines(0)[storetest.ItemBooks]
		if _, err := loan(books.ID, storetest.Books+1); apperr.CodeOf(err) != payment.CodeInvalidAmount {
			t.Fatalf("loan above the item: %v", err)
		}
		if out, err := loan(books.ID, storetest.Books); err != nil || out.Covered != storetest.Books || out.Displaced != 0 {
			t.Fatalf("loan on an unpaid item: %+v %v", out, err)
		}
		if l := k.lines(0)[storetest.ItemBooks]; !l.IsPaid() || l.Loan != storetest.Books {
			t.Fatalf("books after the loan: %+v", l)
		}
		if b := k.balance(journal.Loans(k.school.ID)); b != 400000+storetest.Books {
			t.Fatalf("loans %d", b)
		}
		k.verify()
	})
}

// TestLateSuccessRefunded: money that arrived after a cancel is an
// overpayment; it is refunded in full, the order stays closed, and the
// journal's overpayment account is empty again.
func TestLateSuccessRefunded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.order(0, debitPay, storetest.ItemTuition, storetest.ItemDorm)
		k.cancel(0, o)
		out, err := k.apply(k.success(o))
		if err != nil || out.Disposition != payment.Overpay {
			t.Fatalf("late success: %+v %v", out, err)
		}
		om, err := k.s.OrderMoney(ctx, o.OrderNo)
		if err != nil {
			t.Fatal(err)
		}
		if om.DefaultRefundKind() != payment.RefundOverpayment || om.Refundable(payment.RefundOverpayment) != o.Amount || om.Refundable(payment.RefundOrder) != 0 {
			t.Fatalf("a closed order's money: %+v", om.Payments)
		}
		rf, err := k.officeRefund(o.OrderNo, payment.RefundOverpayment, o.Amount, 0)
		if err != nil {
			t.Fatal(err)
		}
		k.payOut(rf.RefundNo)
		if got := k.stored(o.OrderNo); got.Status != payment.StatusClosed || got.Refunded != o.Amount {
			t.Fatalf("order %s %d", got.Status, got.Refunded)
		}
		if b := k.balance(journal.Overpayment(k.school.ID)); b != 0 {
			t.Fatalf("overpayment left %d", b)
		}
		k.verify()
	})
}

// TestRefundsRacing: refunds of the same order started at once, each for
// 60% of it, never give back more than was paid: one starts, the others
// are refund_exceeds_paid (the order's row is locked while one decides).
func TestRefundsRacing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.pay(0, storetest.ItemTuition, storetest.ItemDorm)
		const n = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = k.officeRefund(o.OrderNo, payment.RefundOrder, o.Amount*6/10, 0)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.CodeOf(err) != payment.CodeRefundExceedsPaid:
				t.Errorf("racing refund: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d racing refunds of 60%% started", ok)
		}
		if n := storetest.Count(t, s, "refunds", "kind = 'order'"); n != 1 {
			t.Fatalf("%d refunds recorded", n)
		}
		k.verify()
	})
}

// TestSuspenseResolution: a suspense entry allocated to a student's item
// pays it (and cannot be resolved twice); another, refunded, goes back
// through its channel; one whose refund the channel refuses is open
// again. The platform's suspense allocated to a school moves into the
// school's clearing.
func TestSuspenseResolution(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		o := k.order(1, debitPay, storetest.ItemTuition, storetest.ItemDorm)
		short := k.success(o)
		short.Amount = o.Amount - 100
		if out, err := k.apply(short); err != nil || out.Suspense != payment.SuspenseAmount {
			t.Fatalf("short payment: %+v %v", out, err)
		}
		unknown := k.success(o)
		unknown.OrderNo = "CP20990101000000999999"
		unknown.Amount = 12345
		if out, err := k.apply(unknown); err != nil || out.Suspense != payment.SuspenseUnknownOrder {
			t.Fatalf("unknown order: %+v %v", out, err)
		}
		school, err := k.s.SuspenseEntries(ctx, k.school.ID, 10)
		if err != nil || len(school) != 1 || school[0].Amount != o.Amount-100 || school[0].Status != payment.SuspenseOpen {
			t.Fatalf("school suspense %+v %v", school, err)
		}
		platform, err := k.s.SuspenseEntries(ctx, 0, 10)
		if err != nil || len(platform) != 1 || platform[0].Amount != 12345 {
			t.Fatalf("platform suspense %+v %v", platform, err)
		}
		allocate := func(e payment.SuspenseEntry, lineIDs ...int64) error {
			return k.s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
				e, err := tx.LockSuspense(ctx, e.ID)
				if err != nil {
					return err
				}
				var ls []payment.LineState
				for _, id := range lineIDs {
					l, err := tx.LockLine(ctx, id)
					if err != nil {
						return err
					}
					ls = append(ls, l)
				}
				return payment.AllocateSuspense(tx, e, ls, k.school.ID, "test")
			})
		}
		// The student's open order still holds the lines; the office waits.
		tuition := k.lines(1)[storetest.ItemTuition]
		if err := allocate(school[0], tuition.ID); apperr.CodeOf(err) != payment.CodeLineBusy {
			t.Fatalf("allocate to a held line: %v", err)
		}
		k.cancel(1, o)
		dorm := k.lines(1)[storetest.ItemDorm]
		if err := allocate(school[0], tuition.ID); apperr.CodeOf(err) != payment.CodeAllocationTooBig {
			t.Fatalf("allocate more than the line owes: %v", err)
		}
		if err := allocate(school[0], tuition.ID, dorm.ID); err != nil {
			t.Fatal(err)
		}
		ls := k.lines(1)
		if l := ls[storetest.ItemTuition]; !l.IsPaid() {
			t.Fatalf("tuition after allocation %+v", l)
		}
		if l := ls[storetest.ItemDorm]; l.Paid != storetest.Dorm-100 || l.Unpaid() != 100 {
			t.Fatalf("dorm after allocation %+v", l)
		}
		if err := allocate(school[0], tuition.ID); apperr.CodeOf(err) != payment.CodeSuspenseResolved {
			t.Fatalf("allocated twice: %v", err)
		}
		if b := k.balance(journal.Suspense(k.school.ID)); b != 0 {
			t.Fatalf("school suspense left %d", b)
		}
		k.verify()

		refund := func(e payment.SuspenseEntry) payment.Refund {
			var rf payment.Refund
			if err := k.s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
				e, err := tx.LockSuspense(ctx, e.ID)
				if err != nil {
					return err
				}
				rf, err = payment.StartSuspenseRefund(tx, e, "无法查明，原路退回", 0)
				if err != nil {
					return err
				}
				return payment.QueueRefund(ctx, tx, &rf)
			}); err != nil {
				t.Fatal(err)
			}
			return rf
		}
		k.debit.set(func(c *testChannel) { c.refundAns = payment.RefundResult{Status: payment.RefundFailed} })
		rf := refund(platform[0])
		k.payOut(rf.RefundNo)
		if e, _ := k.s.SuspenseEntry(ctx, platform[0].ID); e.Status != payment.SuspenseOpen {
			t.Fatalf("suspense after a refused refund: %s", e.Status)
		}
		if b := k.balance(journal.Suspense(0)); b != -12345 {
			t.Fatalf("platform suspense after a refused refund: %d", b)
		}
		k.debit.set(func(c *testChannel) { c.refundAns = payment.RefundResult{Status: payment.RefundSuccess} })
		rf = refund(platform[0])
		got, err := k.s.Refund(ctx, rf.RefundNo)
		if err != nil || got.OrderNo != unknown.OrderNo || got.ChannelTxnID != unknown.ChannelTxnID || got.PaymentTotal != 12345 || got.SchoolID != 0 {
			t.Fatalf("suspense refund as the job reads it: %+v %v", got, err)
		}
		k.payOut(rf.RefundNo)
		if e, _ := k.s.SuspenseEntry(ctx, platform[0].ID); e.Status != payment.SuspenseRefunded || e.ResolvedAt.IsZero() {
			t.Fatalf("suspense after its refund: %+v", e)
		}
		for _, a := range []string{journal.Suspense(0), journal.RefundsPayableOf(0), journal.SuspenseClearing(debitPay, 0)} {
			if b := k.balance(a); b != 0 {
				t.Fatalf("%s after the refund: %d", a, b)
			}
		}
		k.verify()

		// The platform's money allocated to a school's student moves into
		// the school's clearing, as if the school's order had taken it.
		another := k.success(o)
		another.OrderNo, another.Amount = "CP20990101000000888888", 5000
		if _, err := k.apply(another); err != nil {
			t.Fatal(err)
		}
		platform, _ = k.s.SuspenseEntries(ctx, 0, 10)
		clearing := k.balance(journal.Clearing(debitPay, k.school.ID))
		if err := allocate(platform[0], k.lines(2)[storetest.ItemUpgrade].ID); err != nil {
			t.Fatal(err)
		}
		if got := k.balance(journal.Clearing(debitPay, k.school.ID)) - clearing; got != 5000 {
			t.Fatalf("school clearing moved %d", got)
		}
		for _, a := range []string{journal.Suspense(0), journal.SuspenseClearing(debitPay, 0)} {
			if b := k.balance(a); b != 0 {
				t.Fatalf("%s after the allocation: %d", a, b)
			}
		}
		if l := k.lines(2)[storetest.ItemUpgrade]; !l.IsPaid() {
			t.Fatalf("upgrade after the allocation: %+v", l)
		}
		k.verify()
	})
}

// TestAdjustments: a waiver lowers what the line owes, never below what
// is paid; a deferral keeps the line owed but not payable (or overdue)
// before its day, and the rules refuse it with the day; both verify.
func TestAdjustments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		run := func(fn func(tx payment.OfficeTx, l payment.LineState) error, lineID int64) error {
			return k.s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
				l, err := tx.LockLine(ctx, lineID)
				if err != nil {
					return err
				}
				return fn(tx, l)
			})
		}
		tuition := k.lines(2)[storetest.ItemTuition]
		waive := func(a money.Fen) func(payment.OfficeTx, payment.LineState) error {
			return func(tx payment.OfficeTx, l payment.LineState) error {
				return payment.Waive(tx, l, a, "test", "家庭经济困难")
			}
		}
		if err := run(waive(storetest.Tuition+1), tuition.ID); apperr.CodeOf(err) != payment.CodeInvalidAmount {
			t.Fatalf("waive more than owed: %v", err)
		}
		if err := run(waive(200000), tuition.ID); err != nil {
			t.Fatal(err)
		}
		if l := k.lines(2)[storetest.ItemTuition]; l.Amount != storetest.Tuition-200000 || l.Waived != 200000 || l.Billed() != storetest.Tuition {
			t.Fatalf("after the waiver: %+v", l)
		}
		if b := k.balance(journal.Waivers(k.school.ID)); b != 200000 {
			t.Fatalf("waivers %d", b)
		}
		// A whole line waived owes nothing and is paid in full.
		dorm := k.lines(2)[storetest.ItemDorm]
		if err := run(waive(storetest.Dorm), dorm.ID); err != nil {
			t.Fatal(err)
		}
		if l := k.lines(2)[storetest.ItemDorm]; l.Amount != 0 || !l.IsPaid() {
			t.Fatalf("dorm waived whole: %+v", l)
		}
		k.verify()

		until := k.now().Add(30 * 24 * time.Hour)
		deferTo := func(d time.Time) func(payment.OfficeTx, payment.LineState) error {
			return func(tx payment.OfficeTx, l payment.LineState) error {
				return payment.Defer(tx, l, d, "test", "家庭困难缓缴")
			}
		}
		if err := run(deferTo(k.now().Add(-time.Hour)), tuition.ID); err == nil {
			t.Fatal("deferred to the past")
		}
		if err := run(deferTo(until), tuition.ID); err != nil {
			t.Fatal(err)
		}
		l := k.lines(2)[storetest.ItemTuition]
		if !l.Deferred(k.now()) || l.Overdue(k.now()) || l.Deferred(until) || !l.Overdue(until) {
			t.Fatalf("deferral: %+v", l)
		}
		_, err := k.create(2, debitPay, storetest.ItemTuition)
		if apperr.CodeOf(err) != "item_deferred" {
			t.Fatalf("paying a deferred line: %v", err)
		}
		// The other mandatory line is paid (waived): optional items may be
		// paid while tuition is deferred.
		if _, err := k.create(2, debitPay, storetest.ItemUpgrade); err != nil {
			t.Fatalf("an optional item beside a deferred mandatory one: %v", err)
		}
		k.move(31 * 24 * time.Hour)
		if _, err := k.create(2, debitPay, storetest.ItemTuition); err != nil {
			t.Fatalf("paying after the deferral: %v", err)
		}
		k.verify()
	})
}

// TestPlanRefund is the refund rule alone: which payment, which lines, and
// refund_exceeds_paid.
func TestPlanRefund(t *testing.T) {
	applied := payment.PaymentMoney{ID: 1, Amount: 1000, Disposition: payment.Apply}
	over := payment.PaymentMoney{ID: 2, Amount: 300, Disposition: payment.Overpay}
	line := func(id int64, in, paid, loan money.Fen) payment.OrderLineMoney {
		l := payment.OrderLineMoney{InOrder: in}
		l.ID, l.Amount, l.Paid, l.Loan = id, paid, paid, loan
		return l
	}
	om := payment.OrderMoney{Payments: []payment.PaymentMoney{applied, over}, Lines: []payment.OrderLineMoney{line(10, 600, 600, 0), line(11, 400, 400, 100)}}
	for _, c := range []struct {
		name   string
		kind   string
		amount money.Fen
		lineID int64
		err    string
		pay    int64
		lines  []payment.RefundLine
	}{
		{"a partial refund of the order takes the first line first", payment.RefundOrder, 700, 0, "", 1, []payment.RefundLine{{10, 600}, {11, 100}}},
		{"one line only", payment.RefundOrder, 300, 11, "", 1, []payment.RefundLine{{11, 300}}},
		{"never the part a loan paid", payment.RefundOrder, 301, 11, payment.CodeRefundExceedsPaid, 0, nil},
		{"never more than the lines can give", payment.RefundOrder, 1000, 0, payment.CodeRefundExceedsPaid, 0, nil},
		{"the overpayment comes from the overpaid payment", payment.RefundOverpayment, 300, 0, "", 2, nil},
		{"never more than the overpayment", payment.RefundOverpayment, 301, 0, payment.CodeRefundExceedsPaid, 0, nil},
		{"zero is no refund", payment.RefundOrder, 0, 0, payment.CodeInvalidAmount, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := payment.PlanRefund(om, c.kind, c.amount, c.lineID)
			if c.err != "" {
				if apperr.CodeOf(err) != c.err {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Payment.ID != c.pay || len(p.Lines) != len(c.lines) {
				t.Fatalf("plan %+v", p)
			}
			for i := range c.lines {
				if p.Lines[i] != c.lines[i] {
					t.Fatalf("lines %+v, want %+v", p.Lines, c.lines)
				}
			}
		})
	}
	var e *apperr.Error
	_, err := payment.PlanRefund(om, payment.RefundOrder, 5000, 0)
	if !errors.As(err, &e) || e.Details["refundable"] != int64(1000) {
		t.Fatalf("the refusal names what may be refunded: %v", err)
	}
}
