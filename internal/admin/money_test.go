package admin_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/journal"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// stubPay is a channel that takes every payment and every refund: the
// wire protocols are proven against the sandbox elsewhere; here only the
// office's rules are.
type stubPay struct{ refunds atomic.Int64 }

func (c *stubPay) Info() payment.ChannelInfo {
	return payment.ChannelInfo{Name: "stubpay", Label: "测试支付"}
}
func (c *stubPay) MerchantID() string { return "STUB001" }
func (c *stubPay) Capabilities() payment.Capabilities {
	return payment.Capabilities{PrepareOffline: true}
}
func (c *stubPay) Route() string                                        { return "STUB001" }
func (c *stubPay) NotificationRoute(map[string][]string, []byte) string { return "STUB001" }
func (c *stubPay) NotificationAck() (int, string, []byte)               { return 200, "text/plain", nil }
func (c *stubPay) Close(context.Context, string) error                  { return nil }
func (c *stubPay) Query(_ context.Context, q payment.QueryRequest) (payment.Result, error) {
	return payment.Result{OrderNo: q.OrderNo, Status: payment.TxnPending}, nil
}
func (c *stubPay) Prepare(_ context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	return payment.PayInstruction{Type: payment.PayFormPost, URL: "http://gateway.invalid"}, nil
}
func (c *stubPay) Refund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	c.refunds.Add(1)
	return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundSuccess, ChannelRefundID: "R" + req.RefundNo}, nil
}
func (c *stubPay) QueryRefund(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundNotFound}, nil
}
func (c *stubPay) ParseNotification(context.Context, map[string][]string, []byte) (payment.Result, error) {
	return payment.Result{}, payment.ErrBadNotification
}

// money is the fixture with a payment service to pay and refund through.
type moneyKit struct {
	*fixture
	pay   *payment.Service
	ch    *stubPay
	clerk admin.Principal
	admin admin.Principal
	txn   atomic.Int64
}

func newMoneyKit(t *testing.T, s *store.Store) *moneyKit {
	f := newFixture(t, s)
	k := &moneyKit{fixture: f, ch: &stubPay{}}
	reg := channel.NewRegistry()
	reg.SetDefault(k.ch)
	k.pay = payment.NewService(s, reg, payment.DefaultConfig("http://127.0.0.1"), nil, f.now)
	t.Cleanup(k.pay.Close)
	k.clerk = f.staff(t, admin.RoleClerk, f.a.ID)
	k.admin = f.staff(t, admin.RoleAdmin, f.a.ID)
	return k
}

// line is a seed student's line by item name.
func (k *moneyKit) line(t *testing.T, student int, item string) billing.Line {
	t.Helper()
	st, err := k.s.StudentByNo(ctx, k.a.ID, storetest.SeedStudents[student].StudentNo)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := k.s.Lines(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.ItemName == item {
			return l
		}
	}
	t.Fatalf("no %s", item)
	return billing.Line{}
}

// paid is an order of a seed student's items, paid at the channel.
func (k *moneyKit) paid(t *testing.T, student int, items ...string) payment.Order {
	t.Helper()
	st, err := k.s.StudentByNo(ctx, k.a.ID, storetest.SeedStudents[student].StudentNo)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, it := range items {
		ids = append(ids, k.line(t, student, it).ID)
	}
	co, err := k.pay.Create(ctx, payment.CreateRequest{School: k.a, Student: st, LineIDs: ids, Channel: "stubpay"})
	if err != nil {
		t.Fatal(err)
	}
	o := co.Order
	out, err := k.pay.ApplySuccess(ctx, payment.Result{Channel: "stubpay", MerchantID: "STUB001", OrderNo: o.OrderNo, Status: payment.TxnSuccess,
		Amount: o.Amount, Currency: "CNY", ChannelTxnID: fmt.Sprintf("STUB%08d", k.txn.Add(1)), CardType: payment.CardDebit}, "notify", "")
	if err != nil || out.Disposition != payment.Apply {
		t.Fatalf("pay: %+v %v", out, err)
	}
	return out.Order
}

func (k *moneyKit) verify(t *testing.T) {
	t.Helper()
	rep, err := k.s.VerifyJournal(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("journal: %v %v %v", err, rep.Unbalanced, rep.ReceivableMismatch)
	}
}

// payOut runs a request's refund job.
func (k *moneyKit) payOut(t *testing.T, q admin.Request) {
	t.Helper()
	if q.RefundNo == "" {
		t.Fatalf("request %d started no refund", q.ID)
	}
	if done, err := k.pay.PayRefund(ctx, q.RefundNo, false); err != nil || !done {
		t.Fatalf("pay out %s: %v %v", q.RefundNo, done, err)
	}
}

func (k *moneyKit) lastAudit(t *testing.T) string {
	t.Helper()
	var a string
	if err := k.s.DB().QueryRow(`SELECT action FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, k.a.ID).Scan(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFourEyesRefund is the proof of the first item: a clerk asks
// for a partial refund, which waits; the same clerk cannot approve it; an
// admin does; the channel pays it out; the order is partially_refunded;
// each step is audited and the journal verifies.
func TestFourEyesRefund(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		o := k.paid(t, 0, storetest.ItemTuition, storetest.ItemDorm)
		before := storetest.Snap(t, s)

		if _, err := k.svc.RequestRefund(ctx, k.clerk, admin.RefundInput{OrderNo: o.OrderNo, Amount: o.Amount + 1, Reason: "退学"}); apperr.CodeOf(err) != payment.CodeRefundExceedsPaid {
			t.Fatalf("a refund of more than was paid: %v", err)
		}
		q, err := k.svc.RequestRefund(ctx, k.clerk, admin.RefundInput{OrderNo: o.OrderNo, Amount: 120000, Reason: "不住校，退住宿费",
			LineID: k.line(t, 0, storetest.ItemDorm).ID})
		if err != nil {
			t.Fatal(err)
		}
		if q.State() != admin.StatusPending || q.OrderNo != o.OrderNo || q.Source != payment.RefundOrder || q.RefundNo != "" {
			t.Fatalf("clerk's request: %+v", q)
		}
		storetest.Same(t, s, before)
		if a := k.lastAudit(t); a != admin.ActMoneyRequest {
			t.Fatalf("audited %s", a)
		}
		if _, err := k.svc.Approve(ctx, k.clerk, q.ID, ""); apperr.CodeOf(err) != admin.CodeCannotApproveOwn {
			t.Fatalf("the clerk approved their own request: %v", err)
		}
		other := k.staff(t, admin.RoleClerk, k.a.ID)
		if _, err := k.svc.Approve(ctx, other, q.ID, ""); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Fatalf("another clerk approved: %v", err)
		}
		elsewhere := k.staff(t, admin.RoleAdmin, k.b.ID)
		if _, err := k.svc.Approve(ctx, elsewhere, q.ID, ""); apperr.CodeOf(err) != admin.CodeRequestNotFound {
			t.Fatalf("another school's admin approved: %v", err)
		}
		storetest.Same(t, s, before)

		q, err = k.svc.Approve(ctx, k.admin, q.ID, "同意")
		if err != nil {
			t.Fatal(err)
		}
		if q.State() != admin.StateProcessing || q.RefundNo == "" || q.Decider != k.admin.Staff.Username {
			t.Fatalf("approved: %+v", q)
		}
		if a := k.lastAudit(t); a != admin.ActMoneyApprove {
			t.Fatalf("audited %s", a)
		}
		if _, err := k.svc.Approve(ctx, k.admin, q.ID, ""); apperr.CodeOf(err) != admin.CodeNotPending {
			t.Fatalf("approved twice: %v", err)
		}
		if l := k.line(t, 0, storetest.ItemDorm); l.Amount != 0 || l.Paid != 0 || l.Refunded != storetest.Dorm {
			t.Fatalf("dorm line after approval: %+v", l)
		}
		k.payOut(t, q)
		q, _, err = k.svc.MoneyRequest(ctx, k.clerk, q.ID)
		if err != nil || q.State() != admin.StateSucceeded {
			t.Fatalf("after payout: %+v %v", q, err)
		}
		if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPartiallyRefunded {
			t.Fatalf("order %s", got.Status)
		}
		k.verify(t)
	})
}

// TestAdjustmentRequests: an admin's own waiver applies at once; a
// clerk's deferral waits and is rejected, changing nothing but the
// request; an auditor asks for nothing; requests that could not be
// applied are refused when asked.
func TestAdjustmentRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		no := storetest.SeedStudents[1].StudentNo
		tuition := k.line(t, 1, storetest.ItemTuition)
		q, err := k.svc.RequestAdjustment(ctx, k.admin, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: tuition.ID, Kind: admin.ReqWaiver,
			Amount: 100000, Reason: "建档立卡家庭减免"})
		if err != nil || q.State() != admin.StatusApplied {
			t.Fatalf("admin's waiver: %+v %v", q, err)
		}
		if a := k.lastAudit(t); a != admin.ActMoneyApply {
			t.Fatalf("audited %s", a)
		}
		if l := k.line(t, 1, storetest.ItemTuition); l.Amount != storetest.Tuition-100000 || l.Waived != 100000 {
			t.Fatalf("after the waiver: %+v", l)
		}
		if _, err := k.svc.RequestAdjustment(ctx, k.clerk, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: tuition.ID, Kind: admin.ReqWaiver,
			Amount: storetest.Tuition, Reason: "全免"}); apperr.CodeOf(err) != payment.CodeInvalidAmount {
			t.Fatalf("a waiver of more than is owed: %v", err)
		}
		if _, err := k.svc.RequestAdjustment(ctx, k.clerk, k.a.ID, admin.AdjustmentInput{StudentNo: "2025003", LineID: tuition.ID, Kind: admin.ReqWaiver,
			Amount: 1, Reason: "x"}); apperr.CodeOf(err) != billing.CodeItemNotPayable {
			t.Fatalf("another student's line: %v", err)
		}
		auditor := k.staff(t, admin.RoleAuditor, k.a.ID)
		if _, err := k.svc.RequestAdjustment(ctx, auditor, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: tuition.ID, Kind: admin.ReqWaiver,
			Amount: 1, Reason: "x"}); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Fatalf("an auditor asked: %v", err)
		}
		before := storetest.Snap(t, s)
		until := k.now().AddDate(0, 2, 0)
		q, err = k.svc.RequestAdjustment(ctx, k.clerk, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: tuition.ID, Kind: admin.ReqDeferral,
			Until: until, Reason: "助学贷款未到账，申请缓缴"})
		if err != nil || q.State() != admin.StatusPending {
			t.Fatalf("clerk's deferral: %+v %v", q, err)
		}
		pending, err := k.svc.Requests(ctx, k.admin, k.a.ID, admin.StatusPending)
		if err != nil || len(pending) != 1 || pending[0].ID != q.ID || pending[0].StudentNo != no || pending[0].ItemName != storetest.ItemTuition {
			t.Fatalf("approvals queue: %+v %v", pending, err)
		}
		q, err = k.svc.Reject(ctx, k.admin, q.ID, "材料不全")
		if err != nil || q.State() != admin.StatusRejected || q.Note != "材料不全" {
			t.Fatalf("rejected: %+v %v", q, err)
		}
		if a := k.lastAudit(t); a != admin.ActMoneyReject {
			t.Fatalf("audited %s", a)
		}
		storetest.Same(t, s, before)
		if l := k.line(t, 1, storetest.ItemTuition); !l.DeferredUntil.IsZero() {
			t.Fatalf("a rejected deferral deferred: %+v", l)
		}
		// Asked again and approved: the line is deferred.
		q, err = k.svc.RequestAdjustment(ctx, k.clerk, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: tuition.ID, Kind: admin.ReqDeferral,
			Until: until, Reason: "助学贷款未到账，申请缓缴"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.svc.Approve(ctx, k.admin, q.ID, ""); err != nil {
			t.Fatal(err)
		}
		if l := k.line(t, 1, storetest.ItemTuition); !l.Deferred(k.now()) {
			t.Fatalf("approved deferral: %+v", l)
		}
		v, err := k.svc.Student(ctx, k.clerk, k.a.ID, no)
		if err != nil || len(v.Adjustments) != 3 || v.Adjustments[0].Kind != admin.ReqDeferral || v.Adjustments[0].Status != admin.StatusApplied {
			t.Fatalf("student's adjustments: %+v %v", v.Adjustments, err)
		}
		k.verify(t)
	})
}

// TestLoanFile: a bank's loan file is all or nothing: bad lines are named
// with their line numbers and nothing is recorded; a good file waits for
// approval, pays the items (the one already paid turns the student's
// payment into an overpayment), and cannot be sent twice; the
// overpayment is then refunded through the channel.
func TestLoanFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		o := k.paid(t, 0, storetest.ItemTuition, storetest.ItemDorm)
		before := storetest.Snap(t, s)
		bad := "学号,姓名,收费项目,子项目,贷款金额,合同编号\n" +
			"2025001,张三,2025学年学费,学费,4000.00,HT001\n" +
			"2025002,王二,2025学年学费,学费,4000.00,HT002\n" +
			"2025009,,2025学年学费,学费,4000.00,HT003\n" +
			"2025003,王五,2025学年学费,体检费,100.00,HT004\n" +
			"2025003,王五,2025学年学费,学费,9000.00,HT005\n" +
			"2025003,王五,2025学年学费,住宿费,abc,HT001\n"
		res, err := k.svc.RequestLoanFile(ctx, k.clerk, k.a.ID, "loans.csv", []byte(bad), "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{3: "姓名", 4: "不在本校学生名单", 5: "体检费", 6: "超过", 7: "贷款金额格式错误"}
		for _, p := range res.Problems {
			if w, ok := want[p.Line]; ok && strings.Contains(p.Reason, w) {
				delete(want, p.Line)
			}
		}
		if len(want) > 0 || res.Request.ID != 0 {
			t.Fatalf("problems %+v; missing %v", res.Problems, want)
		}
		storetest.Same(t, s, before)
		good := "学号,姓名,收费项目,子项目,贷款金额,合同编号\n" +
			"2025001,张三,2025学年学费,学费,4000.00,HT001\n" +
			"2025002,李四,2025学年学费,学费,5800.00,HT002\n"
		res, err = k.svc.RequestLoanFile(ctx, k.clerk, k.a.ID, "loans.csv", []byte(good), "")
		if err != nil || len(res.Problems) > 0 || res.Request.State() != admin.StatusPending || res.Request.Amount != 980000 {
			t.Fatalf("good file: %+v %v", res, err)
		}
		storetest.Same(t, s, before)
		if _, err := k.svc.RequestLoanFile(ctx, k.admin, k.a.ID, "again.csv", []byte(good), ""); apperr.CodeOf(err) != admin.CodeLoanFileSeen {
			t.Fatalf("the same file twice: %v", err)
		}
		if _, err := k.svc.Approve(ctx, k.admin, res.Request.ID, ""); err != nil {
			t.Fatal(err)
		}
		if l := k.line(t, 1, storetest.ItemTuition); !l.IsPaid() || l.Loan != storetest.Tuition {
			t.Fatalf("unpaid tuition after the loan: %+v", l)
		}
		if l := k.line(t, 0, storetest.ItemTuition); !l.IsPaid() || l.Loan != 400000 {
			t.Fatalf("paid tuition after the loan: %+v", l)
		}
		if b, _ := s.AccountBalance(ctx, journal.Overpayment(k.a.ID)); b != -400000 {
			t.Fatalf("overpayment %d", b)
		}
		k.verify(t)
		// The overpayment goes back, asked by the clerk and approved.
		q, err := k.svc.RequestRefund(ctx, k.clerk, admin.RefundInput{OrderNo: o.OrderNo, Amount: 400000, Source: payment.RefundOverpayment,
			Reason: "助学贷款到账，退还已缴学费"})
		if err != nil {
			t.Fatal(err)
		}
		if q, err = k.svc.Approve(ctx, k.admin, q.ID, ""); err != nil {
			t.Fatal(err)
		}
		k.payOut(t, q)
		if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPartiallyRefunded || got.Refunded != 400000 {
			t.Fatalf("order %s %d", got.Status, got.Refunded)
		}
		if b, _ := s.AccountBalance(ctx, journal.Overpayment(k.a.ID)); b != 0 {
			t.Fatalf("overpayment left %d", b)
		}
		k.verify(t)
	})
}

// TestApprovalsRacing: two admins approving the same refund at the same
// moment start one refund; the other is told it is decided already.
func TestApprovalsRacing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		o := k.paid(t, 0, storetest.ItemTuition, storetest.ItemDorm)
		q, err := k.svc.RequestRefund(ctx, k.clerk, admin.RefundInput{OrderNo: o.OrderNo, Amount: 50000, Reason: "多收"})
		if err != nil {
			t.Fatal(err)
		}
		admins := []admin.Principal{k.admin, k.staff(t, admin.RoleAdmin, k.a.ID), k.staff(t, admin.RoleAdmin, k.a.ID), k.staff(t, admin.RoleOperator, 0)}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(admins))
		for i, p := range admins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = k.svc.Approve(ctx, p, q.ID, "")
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.CodeOf(err) != admin.CodeNotPending:
				t.Errorf("approval: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d approvals went through", ok)
		}
		if n := storetest.Count(t, s, "refunds", "request_id = $1", q.ID); n != 1 {
			t.Fatalf("%d refunds started", n)
		}
		if n := storetest.Count(t, s, "audit_log", "action = $1", admin.ActMoneyApprove); n != 1 {
			t.Fatalf("%d approvals audited", n)
		}
		k.verify(t)
	})
}

// TestMoneyPermissions: who may read, ask and approve, by role and school.
func TestMoneyPermissions(t *testing.T) {
	for _, c := range []struct {
		role               admin.Role
		view, ask, approve bool
	}{
		{admin.RoleOperator, true, true, true},
		{admin.RoleAdmin, true, true, true},
		{admin.RoleClerk, true, true, false},
		{admin.RoleAuditor, true, false, false},
	} {
		t.Run(string(c.role), func(t *testing.T) {
			if admin.Can(c.role, admin.PermViewMoney) != c.view || admin.Can(c.role, admin.PermRequestMoney) != c.ask ||
				admin.Can(c.role, admin.PermApproveMoney) != c.approve {
				t.Fatalf("%s: view %v ask %v approve %v", c.role, admin.Can(c.role, admin.PermViewMoney),
					admin.Can(c.role, admin.PermRequestMoney), admin.Can(c.role, admin.PermApproveMoney))
			}
		})
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		elsewhere := k.staff(t, admin.RoleAdmin, k.b.ID)
		if _, err := k.svc.Requests(ctx, elsewhere, k.a.ID, ""); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Fatalf("another school's requests: %v", err)
		}
		if _, err := k.svc.Suspense(ctx, k.admin, 0); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Fatalf("the platform's suspense as a school's admin: %v", err)
		}
		o := k.paid(t, 0, storetest.ItemTuition, storetest.ItemDorm)
		if _, err := k.svc.RequestRefund(ctx, elsewhere, admin.RefundInput{OrderNo: o.OrderNo, Amount: 1, Reason: "x"}); apperr.CodeOf(err) != payment.CodeOrderNotFound {
			t.Fatalf("another school's order: %v", err)
		}
	})
}

// TestMoneyActionsByRole calls every money operation as every role, of the
// school and of another: it runs exactly when the role may (an operator
// everywhere); a refusal is forbidden (or, for another school's request,
// not found) and changes nothing, not even the audit log.
func TestMoneyActionsByRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newMoneyKit(t, s)
		no := storetest.SeedStudents[2].StudentNo
		line := k.line(t, 2, storetest.ItemBooks)
		asker := k.staff(t, admin.RoleClerk, k.a.ID)
		pending := func() int64 {
			q, err := k.svc.RequestAdjustment(ctx, asker, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: line.ID, Kind: admin.ReqWaiver, Amount: 1, Reason: "测试"})
			if err != nil {
				t.Fatal(err)
			}
			return q.ID
		}
		file := []byte("学号,收费项目,子项目,贷款金额\n" + no + "," + storetest.ProjectExtra + "," + storetest.ItemBooks + ",0.01\n")
		seq := 0
		actions := []struct {
			name string
			perm admin.Perm
			prep func() int64
			call func(p admin.Principal, id int64) error
		}{
			{"RequestAdjustment", admin.PermRequestMoney, nil, func(p admin.Principal, _ int64) error {
				_, err := k.svc.RequestAdjustment(ctx, p, k.a.ID, admin.AdjustmentInput{StudentNo: no, LineID: line.ID, Kind: admin.ReqWaiver, Amount: 1, Reason: "测试"})
				return err
			}},
			{"RequestLoanFile", admin.PermRequestMoney, nil, func(p admin.Principal, _ int64) error {
				seq++
				_, err := k.svc.RequestLoanFile(ctx, p, k.a.ID, "loans.csv", append(file, []byte(strings.Repeat("\n", seq))...), "")
				return err
			}},
			{"Requests", admin.PermViewMoney, nil, func(p admin.Principal, _ int64) error {
				_, err := k.svc.Requests(ctx, p, k.a.ID, "")
				return err
			}},
			{"Suspense", admin.PermViewMoney, nil, func(p admin.Principal, _ int64) error {
				_, err := k.svc.Suspense(ctx, p, k.a.ID)
				return err
			}},
			{"MoneyRequest", admin.PermViewMoney, pending, func(p admin.Principal, id int64) error {
				_, _, err := k.svc.MoneyRequest(ctx, p, id)
				return err
			}},
			{"Approve", admin.PermApproveMoney, pending, func(p admin.Principal, id int64) error {
				_, err := k.svc.Approve(ctx, p, id, "")
				return err
			}},
			{"Reject", admin.PermApproveMoney, pending, func(p admin.Principal, id int64) error {
				_, err := k.svc.Reject(ctx, p, id, "")
				return err
			}},
		}
		principals := []struct {
			name string
			p    admin.Principal
			role admin.Role
			own  bool
		}{
			{"operator", k.staff(t, admin.RoleOperator, 0), admin.RoleOperator, true},
			{"admin", k.admin, admin.RoleAdmin, true},
			{"clerk", k.clerk, admin.RoleClerk, true},
			{"auditor", k.staff(t, admin.RoleAuditor, k.a.ID), admin.RoleAuditor, true},
			{"another school's admin", k.staff(t, admin.RoleAdmin, k.b.ID), admin.RoleAdmin, false},
		}
		for _, a := range actions {
			for _, pr := range principals {
				var id int64
				if a.prep != nil {
					id = a.prep()
				}
				want := admin.Can(pr.role, a.perm) && pr.own
				chain := k.chainLen(t, k.a.ID)
				before := storetest.Snap(t, s)
				err := a.call(pr.p, id)
				code := apperr.CodeOf(err)
				switch {
				case want && err != nil:
					t.Errorf("%s as %s: %v", a.name, pr.name, err)
				case !want && code != admin.CodeForbidden && code != admin.CodeRequestNotFound:
					t.Errorf("%s as %s: %v (code %q), want refused", a.name, pr.name, err, code)
				case !want:
					if got := k.chainLen(t, k.a.ID); got != chain {
						t.Errorf("%s as %s: refused but the audit chain grew from %d to %d", a.name, pr.name, chain, got)
					}
					storetest.Same(t, s, before)
				}
			}
		}
	})
}
