package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

var (
	_ payment.OfficeStore = (*Store)(nil)
	_ payment.OfficeTx    = (*Tx)(nil)
	_ admin.MoneyStore    = (*Store)(nil)
	_ admin.MoneyTx       = (*Tx)(nil)
)

// OfficeUpdate runs fn in one transaction of the office's money
// operations (payment.OfficeStore).
func (s *Store) OfficeUpdate(ctx context.Context, fn func(payment.OfficeTx) error) error {
	return s.InTx(ctx, func(t *Tx) error { return fn(t) })
}

// MoneyUpdate runs fn in one transaction of the console's money
// operations (admin.MoneyStore); a request decided twice at once is
// refused by its guard, never applied twice.
func (s *Store) MoneyUpdate(ctx context.Context, fn func(admin.MoneyTx) error) error {
	return s.adminErr(s.InTx(ctx, func(t *Tx) error { return fn(t) }))
}

// ---- orders, payments and lines ----

func lineDest(l *billing.Line, amount, paid, waived, refunded, loan, deferred *int64) []any {
	return []any{&l.ID, &l.StudentID, &l.ProjectID, &l.ProjectName, &l.ItemID, &l.ItemName, amount, paid, &l.Mandatory,
		waived, refunded, loan, deferred}
}

func setLine(l *billing.Line, amount, paid, waived, refunded, loan, deferred int64) {
	l.Amount, l.Paid, l.Waived, l.Refunded, l.Loan = money.Fen(amount), money.Fen(paid), money.Fen(waived), money.Fen(refunded), money.Fen(loan)
	l.DeferredUntil = fromMS(deferred)
}

// LockOrderMoney reads and locks an order, its lines and its payments.
func (t *Tx) LockOrderMoney(ctx context.Context, orderNo string) (payment.OrderMoney, error) {
	o, err := t.LockOrder(ctx, orderNo)
	if err != nil {
		return payment.OrderMoney{}, err
	}
	return orderMoney(o, "office_order_lines_lock", func(name string) (rows, error) { return t.read(ctx, name, o.ID) })
}

// orderMoney reads an order's payments and lines (with the named lines
// query) through read.
func orderMoney(o payment.Order, linesQuery string, read func(name string) (rows, error)) (payment.OrderMoney, error) {
	om := payment.OrderMoney{Order: o}
	r, err := read("office_order_payments")
	if err != nil {
		return om, err
	}
	if err := each(r, func(r rows) error {
		var p payment.PaymentMoney
		var amount, displaced, byOrder, byOver int64
		var disp string
		err := r.Scan(&p.ID, &p.Channel, &p.ChannelTxnID, &amount, &disp, &displaced, &byOrder, &byOver)
		p.Amount, p.Disposition, p.Displaced = money.Fen(amount), payment.Disposition(disp), money.Fen(displaced)
		p.RefundedOrder, p.RefundedOver = money.Fen(byOrder), money.Fen(byOver)
		om.Payments = append(om.Payments, p)
		return err
	}); err != nil {
		return om, err
	}
	r, err = read(linesQuery)
	if err != nil {
		return om, err
	}
	err = each(r, func(r rows) error {
		var l payment.OrderLineMoney
		var amount, paid, waived, refunded, loan, deferred, in, by, displaced int64
		err := r.Scan(append(lineDest(&l.Line, &amount, &paid, &waived, &refunded, &loan, &deferred), &in, &by, &displaced)...)
		setLine(&l.Line, amount, paid, waived, refunded, loan, deferred)
		l.InOrder, l.ByOrder, l.Displaced = money.Fen(in), money.Fen(by), money.Fen(displaced)
		om.Lines = append(om.Lines, l)
		return err
	})
	return om, err
}

// LockLine locks the orders that hold or paid a line, then the line, and
// reads the payments that paid it.
func (t *Tx) LockLine(ctx context.Context, lineID int64) (payment.LineState, error) {
	var ls payment.LineState
	r, err := t.read(ctx, "office_line_orders_lock", lineID)
	if err != nil {
		return ls, err
	}
	if err := each(r, func(r rows) error { var id int64; return r.Scan(&id) }); err != nil {
		return ls, err
	}
	r, err = t.read(ctx, "office_line_lock", lineID, ms(t.now))
	if err != nil {
		return ls, err
	}
	var amount, paid, waived, refunded, loan, deferred int64
	err = scanOne(r, append(lineDest(&ls.Line, &amount, &paid, &waived, &refunded, &loan, &deferred), &ls.SchoolID, &ls.HeldBy)...)
	if err != nil {
		return ls, notFound(err)
	}
	setLine(&ls.Line, amount, paid, waived, refunded, loan, deferred)
	r, err = t.read(ctx, "office_line_payers", lineID)
	if err != nil {
		return ls, err
	}
	err = each(r, func(r rows) error {
		var p payment.LinePayer
		var left int64
		err := r.Scan(&p.OrderNo, &p.PaymentID, &left)
		p.Left = money.Fen(left)
		ls.Payers = append(ls.Payers, p)
		return err
	})
	return ls, err
}

// SetLine writes a line's money fields, guarded by what they were.
func (t *Tx) SetLine(before, after billing.Line) {
	t.write("office_line_set", 1, int64(after.Amount), int64(after.Paid), int64(after.Waived), int64(after.Refunded), int64(after.Loan),
		ms(after.DeferredUntil), ms(t.now), before.ID, int64(before.Amount), int64(before.Paid), int64(before.Waived),
		int64(before.Refunded), int64(before.Loan), ms(before.DeferredUntil))
}

// InsertOfficeRefund records a refund and its lines.
func (t *Tx) InsertOfficeRefund(ctx context.Context, r *payment.Refund) error {
	if err := t.readRow(ctx, "office_refund_insert", []any{r.RefundNo, r.OrderID, r.PaymentID, int64(r.Amount), r.Reason, string(r.State),
		ms(r.CreatedAt), r.Kind, r.SuspenseID, r.RequestID}, &r.ID); err != nil {
		return err
	}
	t.writes++
	if len(r.Lines) > 0 {
		type lineJSON struct {
			Line   int64 `json:"line_id"`
			Amount int64 `json:"amount"`
		}
		ls := make([]lineJSON, len(r.Lines))
		for i, l := range r.Lines {
			ls[i] = lineJSON{l.LineID, int64(l.Amount)}
		}
		b, _ := json.Marshal(ls)
		t.write("office_refund_lines_insert", int64(len(ls)), r.ID, string(b))
	}
	return nil
}

// RefundLines reads what a refund took off each line.
func (t *Tx) RefundLines(ctx context.Context, refundID int64) ([]payment.RefundLine, error) {
	r, err := t.read(ctx, "office_refund_lines", refundID)
	if err != nil {
		return nil, err
	}
	var out []payment.RefundLine
	err = each(r, func(r rows) error {
		var l payment.RefundLine
		var a int64
		err := r.Scan(&l.LineID, &a)
		l.Amount = money.Fen(a)
		out = append(out, l)
		return err
	})
	return out, err
}

// SetOrderRefunded records the order's refunded money, guarded.
func (t *Tx) SetOrderRefunded(o payment.Order, refunded money.Fen) {
	t.write("office_order_refunded", 1, int64(refunded), o.ID, int64(o.Refunded))
}

// OrderMoney reads an order with its payments and lines, for pages.
func (s *Store) OrderMoney(ctx context.Context, orderNo string) (payment.OrderMoney, error) {
	o, err := s.Order(ctx, orderNo)
	if err != nil {
		return payment.OrderMoney{}, err
	}
	om, err := orderMoney(o, "office_order_lines", func(name string) (rows, error) { return s.read(ctx, name, o.ID) })
	return om, s.translate(err)
}

// ---- suspense ----

func scanSuspense(r interface{ Scan(...any) error }) (payment.SuspenseEntry, error) {
	var e payment.SuspenseEntry
	var amount, received, resolved int64
	err := r.Scan(&e.ID, &e.SchoolID, &e.Channel, &e.MerchantID, &e.OrderNo, &e.ChannelTxnID, &amount, &e.Reason, &e.Status, &received, &resolved)
	e.Amount, e.ReceivedAt, e.ResolvedAt = money.Fen(amount), fromMS(received), fromMS(resolved)
	return e, err
}

type suspenseScanner struct {
	e *payment.SuspenseEntry
}

func (s suspenseScanner) one(r rows) error {
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	e, err := scanSuspense(r)
	*s.e = e
	return err
}

// LockSuspense reads and locks a suspense entry.
func (t *Tx) LockSuspense(ctx context.Context, id int64) (payment.SuspenseEntry, error) {
	var e payment.SuspenseEntry
	r, err := t.read(ctx, "office_suspense_lock", id)
	if err != nil {
		return e, err
	}
	return e, notFound(suspenseScanner{&e}.one(r))
}

// SetSuspense moves a suspense entry on, guarded by its status.
func (t *Tx) SetSuspense(e payment.SuspenseEntry, to string) {
	resolved := int64(0)
	if to != payment.SuspenseOpen {
		resolved = ms(t.now)
	}
	t.write("office_suspense_set", 1, to, resolved, e.ID, e.Status)
}

// SuspenseEntries lists a school's suspense entries (0: the platform's),
// newest first.
func (s *Store) SuspenseEntries(ctx context.Context, schoolID int64, limit int) ([]payment.SuspenseEntry, error) {
	r, err := s.read(ctx, "suspense_list", schoolID, limit)
	if err != nil {
		return nil, err
	}
	var out []payment.SuspenseEntry
	err = each(r, func(r rows) error {
		var e payment.SuspenseEntry
		var amount, received, resolved, orderAmount int64
		err := r.Scan(&e.ID, &e.SchoolID, &e.Channel, &e.MerchantID, &e.OrderNo, &e.ChannelTxnID, &amount, &e.Reason, &e.Status,
			&received, &resolved, &e.OrderStudentNo, &e.OrderStudentName, &orderAmount)
		e.Amount, e.ReceivedAt, e.ResolvedAt, e.OrderAmount = money.Fen(amount), fromMS(received), fromMS(resolved), money.Fen(orderAmount)
		out = append(out, e)
		return err
	})
	return out, s.translate(err)
}

// SuspenseEntry reads one suspense entry.
func (s *Store) SuspenseEntry(ctx context.Context, id int64) (payment.SuspenseEntry, error) {
	var e payment.SuspenseEntry
	r, err := s.read(ctx, "suspense_get", id)
	if err != nil {
		return e, err
	}
	return e, s.translate(notFound(suspenseScanner{&e}.one(r)))
}

// ---- money requests ----

func scanRequest(r interface{ Scan(...any) error }) (admin.Request, error) {
	var q admin.Request
	var amount, deferred, requested, decided, refundAt int64
	err := r.Scan(&q.ID, &q.SchoolID, &q.Kind, &q.Status, &q.StudentID, &q.StudentNo, &q.StudentName, &q.LineID, &q.ItemName,
		&q.OrderID, &q.OrderNo, &q.SuspenseID, &q.Source, &amount, &deferred, &q.Reason, &q.Detail, &q.FileHash, &q.RefundNo,
		&q.RequestedBy, &q.Requester, &requested, &q.DecidedBy, &q.Decider, &decided, &q.Note, &q.RefundState, &refundAt)
	q.Amount, q.DeferredUntil, q.RequestedAt, q.DecidedAt = money.Fen(amount), fromMS(deferred), fromMS(requested), fromMS(decided)
	q.RefundUpdatedAt = fromMS(refundAt)
	return q, err
}

func scanRequests(r rows) ([]admin.Request, error) {
	var out []admin.Request
	err := each(r, func(r rows) error {
		q, err := scanRequest(r)
		out = append(out, q)
		return err
	})
	return out, err
}

func oneRequest(r rows) (admin.Request, error) {
	qs, err := scanRequests(r)
	if err != nil {
		return admin.Request{}, err
	}
	if len(qs) == 0 {
		return admin.Request{}, notFound(sql.ErrNoRows)
	}
	return qs[0], nil
}

// InsertRequest records a money request.
func (t *Tx) InsertRequest(ctx context.Context, q *admin.Request) error {
	q.RequestedAt = t.now
	err := t.readRow(ctx, "money_request_insert", []any{q.SchoolID, q.Kind, q.Status, q.StudentID, q.LineID, q.OrderID, q.SuspenseID,
		q.Source, int64(q.Amount), ms(q.DeferredUntil), q.Reason, q.Detail, q.FileHash, q.RequestedBy, q.Requester, ms(t.now)}, &q.ID)
	t.writes++
	return err
}

// LockRequest reads and locks a money request.
func (t *Tx) LockRequest(ctx context.Context, id int64) (admin.Request, error) {
	r, err := t.read(ctx, "money_request_lock", id)
	if err != nil {
		return admin.Request{}, err
	}
	return oneRequest(r)
}

// DecideRequest records a decision, guarded by the status it was read in.
func (t *Tx) DecideRequest(q admin.Request, from string) {
	t.write("money_request_decide", 1, q.Status, q.DecidedBy, q.Decider, ms(q.DecidedAt), q.Note, q.RefundNo, q.ID, from)
}

// InsertAdjustment records one line's adjustment of a request.
func (t *Tx) InsertAdjustment(requestID int64, a admin.AdjustmentRow) {
	t.write("adjustment_insert", 1, requestID, a.LineID, a.Kind, int64(a.Amount), ms(a.DeferredUntil), a.ContractNo, a.FileLine)
}

func scanAdjustments(r rows) ([]admin.AdjustmentRow, error) {
	var out []admin.AdjustmentRow
	err := each(r, func(r rows) error {
		var a admin.AdjustmentRow
		var amount, deferred, covered, displaced int64
		err := r.Scan(&a.ID, &a.LineID, &a.Kind, &amount, &deferred, &a.ContractNo, &a.FileLine, &covered, &displaced, &a.PaymentID,
			&a.StudentNo, &a.StudentName, &a.Project, &a.Item)
		a.Amount, a.DeferredUntil, a.Covered, a.Displaced = money.Fen(amount), fromMS(deferred), money.Fen(covered), money.Fen(displaced)
		out = append(out, a)
		return err
	})
	return out, err
}

// Adjustments reads a request's adjustments in file order.
func (t *Tx) Adjustments(ctx context.Context, requestID int64) ([]admin.AdjustmentRow, error) {
	r, err := t.read(ctx, "adjustments_of_request", requestID)
	if err != nil {
		return nil, err
	}
	return scanAdjustments(r)
}

// SetLoanOutcome records what an applied loan did.
func (t *Tx) SetLoanOutcome(adjustmentID int64, o payment.LoanOutcome) {
	t.write("adjustment_outcome", 1, int64(o.Covered), int64(o.Displaced), o.PaymentID, adjustmentID)
}

// LoanFileSeen reports whether a loan file was sent before and not rejected.
func (t *Tx) LoanFileSeen(ctx context.Context, schoolID int64, hash string) (bool, error) {
	var n int
	err := t.readRow(ctx, "money_request_by_hash", []any{schoolID, hash}, &n)
	return n > 0, err
}

// MoneyRequests lists a school's requests (0: the platform's), newest
// first, of one status or (status "") all.
func (s *Store) MoneyRequests(ctx context.Context, schoolID int64, status string, limit int) ([]admin.Request, error) {
	r, err := s.read(ctx, "money_requests_of_school", schoolID, status, limit)
	if err != nil {
		return nil, err
	}
	out, err := scanRequests(r)
	return out, s.translate(err)
}

// MoneyRequest reads one request with its refund's state.
func (s *Store) MoneyRequest(ctx context.Context, id int64) (admin.Request, error) {
	r, err := s.read(ctx, "money_request_get", id)
	if err != nil {
		return admin.Request{}, err
	}
	q, err := oneRequest(r)
	return q, s.translate(err)
}

// StudentRequests lists the requests about a student, newest first.
func (s *Store) StudentRequests(ctx context.Context, studentID int64) ([]admin.Request, error) {
	r, err := s.read(ctx, "money_requests_of_student", studentID)
	if err != nil {
		return nil, err
	}
	out, err := scanRequests(r)
	return out, s.translate(err)
}

// RequestAdjustments reads a request's adjustments in file order.
func (s *Store) RequestAdjustments(ctx context.Context, requestID int64) ([]admin.AdjustmentRow, error) {
	r, err := s.read(ctx, "adjustments_of_request", requestID)
	if err != nil {
		return nil, err
	}
	out, err := scanAdjustments(r)
	return out, s.translate(err)
}
