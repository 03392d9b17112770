package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

var (
	_ payment.Store = (*Store)(nil)
	_ payment.Tx    = (*Tx)(nil)
)

// Update runs fn in a transaction (payment.Store). A second hold on a
// line becomes the rules' items_locked; a second order under one
// Idempotency-Key becomes payment.ErrIdempotencyRace.
func (s *Store) Update(ctx context.Context, fn func(payment.Tx) error) error {
	err := s.InTx(ctx, func(t *Tx) error { return fn(t) })
	switch {
	case s.failedIn(err, "holds_insert", failUnique):
		return apperr.New(apperr.Conflict, billing.CodeItemsLocked, billing.ItemsLockedMessage).Wrap(err)
	case s.failedIn(err, "idem_insert", failUnique):
		return payment.ErrIdempotencyRace
	}
	return err
}

// scanOrder scans an order's columns followed by extra ones.
func scanOrder(r interface{ Scan(...any) error }, extra ...any) (payment.Order, error) {
	var o payment.Order
	var amount, refunded, created, expires, paid, closed, limit int64
	var status string
	dest := []any{&o.ID, &o.OrderNo, &o.SchoolID, &o.StudentID, &o.Channel, &amount, &status, &o.Mobile, &created, &expires, &paid, &closed,
		&o.ChannelTxnID, &o.CardType, &o.MaskedCard, &o.FailureCode, &o.FailureMessage, &refunded, &o.FailureChannelCode, &limit}
	err := r.Scan(append(dest, extra...)...)
	o.Amount, o.Refunded, o.Status, o.FailureLimit = money.Fen(amount), money.Fen(refunded), payment.Status(status), money.Fen(limit)
	o.CreatedAt, o.ExpiresAt, o.PaidAt, o.ClosedAt = fromMS(created), fromMS(expires), fromMS(paid), fromMS(closed)
	return o, err
}

func scanOrderLine(r rows) (payment.OrderLine, error) {
	var l payment.OrderLine
	var a int64
	err := r.Scan(&l.LineID, &l.ProjectName, &l.ItemName, &a)
	l.Amount = money.Fen(a)
	return l, err
}

// orderWithLines reads an order (locked when lock) and its lines, in one
// query: every order has at least one line.
func (t *Tx) orderWithLines(ctx context.Context, orderNo string, lock bool) (payment.Order, error) {
	name := "order_with_lines"
	if lock {
		name = "order_with_lines_lock"
	}
	r, err := t.read(ctx, name, orderNo)
	if err != nil {
		return payment.Order{}, err
	}
	return scanOrderWithLines(r)
}

// scanOrderWithLines reads order_with_lines' rows into one order.
func scanOrderWithLines(r rows) (payment.Order, error) {
	var o payment.Order
	n := 0
	err := each(r, func(r rows) error {
		var l payment.OrderLine
		var a int64
		row, err := scanOrder(r, &l.LineID, &l.ProjectName, &l.ItemName, &a)
		if err != nil {
			return err
		}
		if n == 0 {
			o = row
		}
		n++
		l.Amount = money.Fen(a)
		o.Lines = append(o.Lines, l)
		return nil
	})
	if err == nil && n == 0 {
		err = notFound(sql.ErrNoRows)
	}
	return o, err
}

// orderScanner lets scanOne fill an order.
type orderScanner struct {
	rows
	o *payment.Order
}

func (s orderScanner) Scan(extra ...any) error {
	o, err := scanOrder(s.rows, extra...)
	*s.o = o
	return err
}

// LockOrder reads and locks an order with its lines.
func (t *Tx) LockOrder(ctx context.Context, orderNo string) (payment.Order, error) {
	return t.orderWithLines(ctx, orderNo, true)
}

// LockForPayments reads and locks orders with the current state of their
// bill lines and whether each transaction is recorded: one query per
// order, all in one round trip on PostgreSQL, taken in order number order
// so that two groups never wait on each other in a circle.
func (t *Tx) LockForPayments(ctx context.Context, keys []payment.PaymentKey) ([]payment.PaymentState, error) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return keys[idx[a]].OrderNo < keys[idx[b]].OrderNo })
	args := make([][]any, len(keys))
	for n, i := range idx {
		args[n] = []any{keys[i].OrderNo, keys[i].Channel, keys[i].ChannelTxnID}
	}
	out := make([]payment.PaymentState, len(keys))
	err := t.c.queryEach(ctx, t.s.sql("lock_for_payment"), args, func(n int, r rows) error {
		st := &out[idx[n]]
		var ol payment.OrderLine
		var l billing.Line
		var olAmount, amount, paid int64
		o, err := scanOrder(r, &ol.LineID, &l.ProjectID, &ol.ProjectName, &l.ItemID, &ol.ItemName, &olAmount, &amount, &paid, &l.Mandatory, &st.Seen)
		if err != nil {
			return err
		}
		if !st.Found {
			st.Found, st.Order = true, o
		}
		ol.Amount = money.Fen(olAmount)
		l.ID, l.StudentID, l.ProjectName, l.ItemName, l.Amount, l.Paid = ol.LineID, o.StudentID, ol.ProjectName, ol.ItemName, money.Fen(amount), money.Fen(paid)
		st.Order.Lines = append(st.Order.Lines, ol)
		st.Lines = append(st.Lines, l)
		return nil
	})
	return out, wrapStmt("lock_for_payment", err)
}

// LockStudent reads and locks a student's lines and the holds on them.
func (t *Tx) LockStudent(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error) {
	r, err := t.read(ctx, "lines_of_student_lock", studentID)
	if err != nil {
		return nil, nil, err
	}
	lines, err := scanLines(r)
	if err != nil {
		return nil, nil, err
	}
	// A statement of its own: on PostgreSQL a row lock waited for does not
	// refresh the rest of the statement's snapshot, so holds joined to the
	// locked lines could be those from before the wait.
	r, err = t.read(ctx, "holds_of_student", studentID)
	if err != nil {
		return nil, nil, err
	}
	holds, err := scanHolds(r)
	return lines, holds, err
}

// InsertOrder writes a new order, its lines, the holds on them and its
// first event, and the idempotency key that made it.
func (t *Tx) InsertOrder(ctx context.Context, o *payment.Order, idem *payment.IdempotencyKey) error {
	err := t.readRow(ctx, "order_insert", []any{o.OrderNo, o.SchoolID, o.StudentID, o.Channel, int64(o.Amount), string(o.Status),
		o.Mobile, ms(o.CreatedAt), ms(o.ExpiresAt)}, &o.ID)
	if err != nil {
		return err
	}
	type lineJSON struct {
		Line   int64 `json:"line_id"`
		Amount int64 `json:"amount"`
	}
	lines := make([]lineJSON, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = lineJSON{l.LineID, int64(l.Amount)}
	}
	lj, _ := json.Marshal(lines)
	t.write("order_lines_insert", int64(len(lines)), o.ID, string(lj))
	t.write("holds_insert", int64(len(lines)), o.ID, string(lj), ms(o.ExpiresAt))
	type eventJSON struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Cause string `json:"cause"`
	}
	events := []eventJSON{{"", string(payment.StatusCreated), "student selected items"}}
	if o.Status != payment.StatusCreated {
		events = append(events, eventJSON{string(payment.StatusCreated), string(o.Status), "the channel's request made offline"})
	}
	ej, _ := json.Marshal(events)
	t.write("order_events_insert", int64(len(events)), o.ID, string(ej), ms(t.now))
	if idem != nil {
		t.write("idem_insert", 1, idem.StudentID, idem.Key, idem.RequestHash, o.ID, ms(t.now))
	}
	return nil
}

// SetStatus moves an order on, guarded by the status it was read in.
func (t *Tx) SetStatus(o payment.Order, to payment.Status, cause string, ch payment.OrderChange) {
	setFailure := ch.Failure != nil
	var f payment.Failure
	if setFailure {
		f = *ch.Failure
	}
	t.write("order_move", 1, string(to), ms(ch.PaidAt), ms(ch.ClosedAt), ch.ChannelTxnID, ch.CardType, ch.MaskedCard,
		setFailure, f.Code, f.Message, f.ChannelCode, int64(f.Limit), o.ID, string(o.Status), cause, ms(t.now))
}

// Note records an event that leaves the status as it is.
func (t *Tx) Note(o payment.Order, cause string) {
	t.write("order_event_insert", 1, o.ID, string(o.Status), string(o.Status), cause, ms(t.now))
}

// SetFailure records a failure on the order, guarded by its status.
func (t *Tx) SetFailure(o payment.Order, f payment.Failure) {
	t.write("order_set_failure", 1, f.Code, f.Message, f.ChannelCode, int64(f.Limit), o.ID, string(o.Status))
}

// ReleaseHolds frees the order's lines.
func (t *Tx) ReleaseHolds(o payment.Order) { t.write("holds_release", anyRows, o.ID) }

// PayLines pays every line of the order, or fails the transaction.
func (t *Tx) PayLines(o payment.Order) {
	t.write("lines_pay", int64(len(o.Lines)), o.ID, ms(t.now))
}

// RecordPayment records a channel success.
func (t *Tx) RecordPayment(p payment.Payment) {
	t.write("payment_insert", 1, p.OrderID, p.Channel, p.ChannelTxnID, int64(p.Amount), p.CardType, string(p.Disposition), p.Source, ms(t.now))
}

// InsertRefund records a refund of the payment r names.
func (t *Tx) InsertRefund(r payment.Refund) {
	t.write("refund_insert", 1, r.RefundNo, r.OrderID, int64(r.Amount), r.Reason, string(r.State), ms(r.CreatedAt), r.Channel, r.ChannelTxnID)
}

// LockRefund reads and locks a refund.
func (t *Tx) LockRefund(ctx context.Context, refundNo string) (payment.Refund, error) {
	r, err := t.read(ctx, "refund_get_any_lock", refundNo)
	if err != nil {
		return payment.Refund{}, err
	}
	return scanRefund(r)
}

// SetRefund records a refund's final state.
func (t *Tx) SetRefund(r payment.Refund, state payment.RefundState, channelRefundID string) {
	t.write("refund_set", 1, string(state), channelRefundID, ms(t.now), r.RefundNo, string(r.State))
}

// scanRefund reads a refund of an order's payment or of a suspense entry
// (refund_get_any).
func scanRefund(r rows) (payment.Refund, error) {
	var rf payment.Refund
	var total, amount, created int64
	var state, disp string
	err := scanOne(r, &rf.RefundNo, &rf.OrderID, &rf.OrderNo, &rf.SchoolID, &rf.Channel, &rf.ChannelTxnID, &total, &amount,
		&rf.Reason, &state, &rf.ChannelRefundID, &created, &rf.ID, &rf.Kind, &rf.PaymentID, &rf.SuspenseID, &rf.RequestID, &disp)
	rf.PaymentTotal, rf.Amount, rf.State, rf.CreatedAt = money.Fen(total), money.Fen(amount), payment.RefundState(state), fromMS(created)
	rf.Disposition = payment.Disposition(disp)
	return rf, notFound(err)
}

// Refund loads a refund with what paying it out needs.
func (s *Store) Refund(ctx context.Context, refundNo string) (payment.Refund, error) {
	r, err := s.read(ctx, "refund_get_any", refundNo)
	if err != nil {
		return payment.Refund{}, err
	}
	rf, err := scanRefund(r)
	return rf, s.translate(err)
}

// SuspenseSeen reports whether a channel transaction is in suspense.
func (t *Tx) SuspenseSeen(ctx context.Context, channel, txnID string) (bool, error) {
	var n int
	err := t.readRow(ctx, "suspense_seen", []any{channel, txnID}, &n)
	return n > 0, err
}

// RecordSuspense keeps money that matches no order.
func (t *Tx) RecordSuspense(s payment.Suspense) {
	var school any
	if s.SchoolID != 0 {
		school = s.SchoolID
	}
	t.write("suspense_insert", 1, school, s.Channel, s.MerchantID, s.OrderNo, s.ChannelTxnID, int64(s.Amount), s.Reason, s.Raw, ms(t.now))
}

// Post appends a balanced journal entry: one statement on PostgreSQL, a
// two-statement script on SQLite; either way the postings come as JSON.
// An unbalanced entry is a bug: it fails the transaction.
func (t *Tx) Post(e journal.Entry) {
	if err := e.Check(); err != nil {
		t.fail(err)
		return
	}
	type posting struct {
		Account string `json:"account"`
		Amount  int64  `json:"amount"`
	}
	ps := make([]posting, len(e.Postings))
	for i, p := range e.Postings {
		ps[i] = posting{p.Account, int64(p.Amount)}
	}
	b, _ := json.Marshal(ps)
	t.write("journal_post", int64(len(ps)), e.SchoolID, e.Kind, e.Ref, e.Memo, ms(t.now), string(b))
}

// Enqueue schedules background work in this transaction.
func (t *Tx) Enqueue(kind, ref string, at time.Time) {
	t.write("job_enqueue", anyRows, kind, ref, ms(at), ms(t.now))
}

// EnqueueAll schedules several jobs in one statement.
func (t *Tx) EnqueueAll(jobs []payment.ScheduledJob) {
	type jobJSON struct {
		Kind string `json:"kind"`
		Ref  string `json:"ref"`
		At   int64  `json:"at"`
	}
	js := make([]jobJSON, len(jobs))
	for i, j := range jobs {
		js[i] = jobJSON{j.Kind, j.Ref, ms(j.At)}
	}
	b, _ := json.Marshal(js)
	t.write("jobs_enqueue", anyRows, string(b), ms(t.now))
}

// FinishJobs marks the ref's jobs of these kinds done.
func (t *Tx) FinishJobs(ref string, kinds ...string) {
	for i := 0; i < len(kinds); i += 2 {
		k2 := kinds[i]
		if i+1 < len(kinds) {
			k2 = kinds[i+1]
		}
		t.write("jobs_finish", anyRows, ms(t.now), ref, kinds[i], k2)
	}
}

// Order loads an order with its lines, in one query.
func (s *Store) Order(ctx context.Context, orderNo string) (payment.Order, error) {
	r, err := s.read(ctx, "order_with_lines", orderNo)
	if err != nil {
		return payment.Order{}, err
	}
	o, err := scanOrderWithLines(r)
	return o, s.translate(err)
}

// Orders lists a student's orders, newest first, with their lines.
func (s *Store) Orders(ctx context.Context, studentID int64) ([]payment.Order, error) {
	r, err := s.read(ctx, "orders_of_student", studentID)
	if err != nil {
		return nil, err
	}
	var out []payment.Order
	byID := map[int64]int{}
	if err := each(r, func(r rows) error {
		o, err := scanOrder(r)
		byID[o.ID] = len(out)
		out = append(out, o)
		return err
	}); err != nil {
		return nil, s.translate(err)
	}
	r, err = s.read(ctx, "order_lines_of_student", studentID)
	if err != nil {
		return nil, err
	}
	err = each(r, func(r rows) error {
		var orderID, a int64
		var l payment.OrderLine
		if err := r.Scan(&orderID, &l.LineID, &l.ProjectName, &l.ItemName, &a); err != nil {
			return err
		}
		l.Amount = money.Fen(a)
		if i, ok := byID[orderID]; ok {
			out[i].Lines = append(out[i].Lines, l)
		}
		return nil
	})
	return out, s.translate(err)
}

// OrderEvents lists an order's transitions, oldest first.
func (s *Store) OrderEvents(ctx context.Context, orderNo string) ([]payment.Event, error) {
	r, err := s.read(ctx, "order_events_of", orderNo)
	if err != nil {
		return nil, err
	}
	var out []payment.Event
	err = each(r, func(r rows) error {
		var e payment.Event
		var from, to string
		var at int64
		if err := r.Scan(&from, &to, &e.Cause, &at); err != nil {
			return err
		}
		e.From, e.To, e.At = payment.Status(from), payment.Status(to), fromMS(at)
		out = append(out, e)
		return nil
	})
	return out, s.translate(err)
}

// CountPayments counts recorded channel successes by disposition.
func (s *Store) CountPayments(ctx context.Context) (map[string]int, error) {
	r, err := s.read(ctx, "payments_count")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = each(r, func(r rows) error {
		var d string
		var n int
		err := r.Scan(&d, &n)
		out[d] = n
		return err
	})
	return out, s.translate(err)
}

// IdempotentOrder finds the order a student's Idempotency-Key made.
func (s *Store) IdempotentOrder(ctx context.Context, studentID int64, key string) (orderNo, requestHash string, err error) {
	err = s.readRow(ctx, "idem_get", []any{studentID, key}, &orderNo, &requestHash)
	return orderNo, requestHash, notFound(err)
}
