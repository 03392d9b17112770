package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Job kinds the worker runs.
const (
	JobExpire = "expire" // close an unpaid order when its hold ends
	JobQuery  = "query"  // ask the channel about an order whose outcome is unknown
	JobClose  = "close"  // close an order at the channel (WeChat)
	JobRefund = "refund" // pay a refund out through the channel
)

var _ payment.Store = (*Store)(nil)

// CreateOrder decides the selection under R7–R9 and, when allowed, writes
// the order, its lines, the holds on them, its first event and its expiry
// and query jobs, all in one transaction.
func (s *Store) CreateOrder(ctx context.Context, in payment.NewOrder) (payment.Order, error) {
	var o payment.Order
	err := s.InTx(ctx, func(tx *Tx) error {
		now := tx.now
		lines, err := linesOf(ctx, tx.x(), in.Student.ID, tx.lockLines())
		if err != nil {
			return err
		}
		if err := tx.releaseExpiredHolds(ctx, in.Student.ID, now); err != nil {
			return err
		}
		holds, err := holdsOf(ctx, tx.x(), in.Student.ID)
		if err != nil {
			return err
		}
		d, err := billing.Decide(lines, holds, in.Policy, now, in.LineIDs)
		if err != nil {
			return err
		}
		o = payment.Order{OrderNo: in.OrderNo, SchoolID: in.Student.SchoolID, StudentID: in.Student.ID, Channel: in.Channel,
			Amount: d.Amount, Status: payment.StatusCreated, Mobile: in.Mobile, CreatedAt: now, ExpiresAt: now.Add(in.Policy.LockDuration())}
		o.ID, err = tx.insertID(ctx, `INSERT INTO orders (order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, o.OrderNo, o.SchoolID, o.StudentID, o.Channel, int64(o.Amount), string(o.Status), o.Mobile, ms(now), ms(o.ExpiresAt))
		if err != nil {
			return err
		}
		for _, l := range d.Lines {
			o.Lines = append(o.Lines, payment.OrderLine{LineID: l.ID, ProjectName: l.ProjectName, ItemName: l.ItemName, Amount: l.Unpaid()})
			if _, err := tx.exec(ctx, `INSERT INTO order_lines (order_id, line_id, amount) VALUES ($1,$2,$3)`, o.ID, l.ID, int64(l.Unpaid())); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `INSERT INTO line_holds (line_id, order_id, until_at) VALUES ($1,$2,$3)`, l.ID, o.ID, ms(o.ExpiresAt)); err != nil {
				if isUnique(err) {
					return apperr.New(apperr.Conflict, billing.CodeItemsLocked, "所选项目已在其他待支付订单中，请刷新后重试")
				}
				return err
			}
		}
		if err := tx.event(ctx, o.ID, "", payment.StatusCreated, "student selected "+fmt.Sprint(len(d.Lines))+" items"); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, JobExpire, o.OrderNo, o.ExpiresAt); err != nil {
			return err
		}
		return tx.Enqueue(ctx, JobQuery, o.OrderNo, now.Add(in.FirstQuery))
	})
	return o, err
}

func (t *Tx) lockLines() string {
	if t.dialect == Postgres {
		return " FOR UPDATE OF l"
	}
	return ""
}

// releaseExpiredHolds closes a student's orders whose hold has ended, so
// their lines can be chosen again (R9). The channel close, where there is
// one, runs as a job.
func (t *Tx) releaseExpiredHolds(ctx context.Context, studentID int64, now time.Time) error {
	rows, err := t.query(ctx, `SELECT DISTINCT o.order_no FROM line_holds h JOIN orders o ON o.id = h.order_id
		JOIN bill_lines l ON l.id = h.line_id WHERE l.student_id = $1 AND h.until_at <= $2`, studentID, ms(now))
	if err != nil {
		return err
	}
	var nos []string
	for rows.Next() {
		var no string
		if err := rows.Scan(&no); err != nil {
			rows.Close()
			return err
		}
		nos = append(nos, no)
	}
	rows.Close()
	for _, no := range nos {
		if _, err := t.closeOrder(ctx, no, "expired: hold ended", "", ""); err != nil {
			return err
		}
	}
	return nil
}

// event records a transition with its cause (I3).
func (t *Tx) event(ctx context.Context, orderID int64, from, to payment.Status, cause string) error {
	_, err := t.exec(ctx, `INSERT INTO order_events (order_id, from_status, to_status, cause, at) VALUES ($1,$2,$3,$4,$5)`,
		orderID, string(from), string(to), cause, ms(t.now))
	return err
}

// transition moves an order from one status to another exactly once: the
// guarded UPDATE changes nothing if another transaction got there first.
func (t *Tx) transition(ctx context.Context, o *payment.Order, to payment.Status, cause string, set string, args ...any) (bool, error) {
	if !payment.CanTransition(o.Status, to) {
		return false, nil
	}
	q := `UPDATE orders SET status = $1` + set + ` WHERE id = $2 AND status = $3`
	res, err := t.exec(ctx, q, append([]any{string(to), o.ID, string(o.Status)}, args...)...)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	if err := t.event(ctx, o.ID, o.Status, to, cause); err != nil {
		return false, err
	}
	o.Status = to
	return true, nil
}

// MarkPaying records that the channel was asked to take the payment.
func (s *Store) MarkPaying(ctx context.Context, orderNo string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		o, err := tx.orderByNo(ctx, orderNo, true)
		if err != nil {
			return err
		}
		_, err = tx.transition(ctx, &o, payment.StatusPaying, "channel prepared", "")
		return err
	})
}

// CloseOrder closes an open order (cancel, expiry, channel failure) and
// frees its lines. It reports whether this call closed it. When the order's
// channel can close orders, a close job is queued in the same transaction.
func (s *Store) CloseOrder(ctx context.Context, orderNo, cause, failCode, failMsg string) (payment.Order, bool, error) {
	var o payment.Order
	var changed bool
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		changed, err = tx.closeOrder(ctx, orderNo, cause, failCode, failMsg)
		if err != nil {
			return err
		}
		o, err = tx.orderByNo(ctx, orderNo, false)
		return err
	})
	return o, changed, err
}

func (t *Tx) closeOrder(ctx context.Context, orderNo, cause, failCode, failMsg string) (bool, error) {
	o, err := t.orderByNo(ctx, orderNo, true)
	if err != nil {
		return false, err
	}
	ok, err := t.transition(ctx, &o, payment.StatusClosed, cause,
		", closed_at = $4, failure_code = $5, failure_message = $6", ms(t.now), failCode, failMsg)
	if err != nil || !ok {
		return ok, err
	}
	if _, err := t.exec(ctx, `DELETE FROM line_holds WHERE order_id = $1`, o.ID); err != nil {
		return false, err
	}
	if err := t.finishJob(ctx, JobExpire, orderNo); err != nil {
		return false, err
	}
	if o.Channel == payment.WeChat && failCode == "" {
		// WeChat has a close call: make sure a late scan cannot pay it.
		if err := t.Enqueue(ctx, JobClose, orderNo, t.now); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ApplySuccess applies a verified success from the channel exactly once
// (I1, I3, I4): a replay of the same channel transaction changes nothing.
func (s *Store) ApplySuccess(ctx context.Context, r payment.Result, source string) (payment.Outcome, error) {
	if s.applier != nil {
		return s.applier.apply(ctx, r, source)
	}
	var out payment.Outcome
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.applySuccess(ctx, r, source)
		return err
	})
	return out, err
}

// applySuccess is ApplySuccess inside a transaction.
func (tx *Tx) applySuccess(ctx context.Context, r payment.Result, source string) (payment.Outcome, error) {
	var out payment.Outcome
	err := func() error {
		o, lines, err := tx.orderForUpdate(ctx, r.OrderNo)
		if err != nil {
			return err
		}
		// Whatever Status the caller left in r, this is a claim of success:
		// verify its amount and currency as one (Verify skips them otherwise).
		r.Status = payment.TxnSuccess
		if err := payment.Verify(o, r); err != nil {
			return err
		}
		disp := payment.Dispose(o, lines, r)
		// Each channel transaction is recorded once: a replay finds its row
		// taken and changes nothing (I4).
		payID, err := tx.insertID(ctx, `INSERT INTO payments_received (order_id, channel, channel_txn_id, amount, card_type, disposition, source, received_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (channel, channel_txn_id) DO NOTHING`,
			o.ID, r.Channel, r.ChannelTxnID, int64(r.Amount), r.CardType, string(disp), source, ms(tx.now))
		if errors.Is(err, sql.ErrNoRows) {
			out.Replay = true
			out.Order = o
			return nil
		}
		if err != nil {
			return err
		}
		out.Disposition = disp
		clearing := journal.Clearing(o.Channel, o.SchoolID)
		switch disp {
		case payment.Apply:
			// Every line of the order at once; the guard refuses to pay any
			// line beyond its amount (Dispose checked; this proves it).
			res, err := tx.exec(ctx, `UPDATE bill_lines SET paid = bill_lines.paid + ol.amount, updated_at = $2
				FROM order_lines ol WHERE ol.order_id = $1 AND ol.line_id = bill_lines.id AND bill_lines.paid + ol.amount <= bill_lines.amount`,
				o.ID, ms(tx.now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != int64(len(o.Lines)) {
				return fmt.Errorf("store: order %s would overpay %d of its %d lines", o.OrderNo, int64(len(o.Lines))-n, len(o.Lines))
			}
			paidAt := r.PaidAt
			if paidAt.IsZero() {
				paidAt = tx.now
			}
			ok, err := tx.transition(ctx, &o, payment.StatusPaid, source+": channel reports success "+r.ChannelTxnID,
				", paid_at = $4, channel_txn_id = $5, card_type = $6, masked_card = $7, failure_code = '', failure_message = '', failure_channel_code = '', failure_limit = 0",
				ms(paidAt), r.ChannelTxnID, r.CardType, r.MaskedCard)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("store: order %s could not move to paid from %s", o.OrderNo, o.Status)
			}
			if _, err := tx.exec(ctx, `DELETE FROM line_holds WHERE order_id = $1`, o.ID); err != nil {
				return err
			}
			if err := tx.post(ctx, journal.Transfer(o.SchoolID, journal.KindPayment, o.OrderNo, "缴费 "+r.ChannelTxnID,
				clearing, journal.Receivable(o.StudentID), r.Amount)); err != nil {
				return err
			}
			o.PaidAt, o.ChannelTxnID, o.CardType, o.MaskedCard = paidAt, r.ChannelTxnID, r.CardType, r.MaskedCard
			o.FailureCode, o.FailureMessage, o.FailureChannelCode, o.FailureLimit = "", "", "", 0
		case payment.Overpay, payment.RefundNonDebit:
			if err := tx.post(ctx, journal.Transfer(o.SchoolID, journal.KindOverpayment, o.OrderNo, "溢缴款 "+r.ChannelTxnID,
				clearing, journal.Overpayment(o.SchoolID), r.Amount)); err != nil {
				return err
			}
			code, msg := payment.FailOverpaid, "该订单已关闭或所选项目已缴清，本笔款项已记为溢缴款，财务处核实后原路退回"
			if disp == payment.RefundNonDebit {
				code, msg = payment.FailCreditCard, "不支持信用卡支付，本笔款项将原路退回，请使用银联储蓄卡/借记卡重新支付"
				refundNo := payment.NewRefundNo(tx.now)
				if err := tx.post(ctx, journal.Transfer(o.SchoolID, journal.KindRefundDue, refundNo, "非借记卡支付，原路退回",
					journal.Overpayment(o.SchoolID), journal.RefundsPayable(o.SchoolID), r.Amount)); err != nil {
					return err
				}
				if _, err := tx.exec(ctx, `INSERT INTO refunds (refund_no, order_id, payment_id, amount, reason, status, created_at, updated_at)
					VALUES ($1,$2,$3,$4,$5,'pending',$6,$6)`, refundNo, o.ID, payID, int64(r.Amount), "非借记卡支付", ms(tx.now)); err != nil {
					return err
				}
				if err := tx.Enqueue(ctx, JobRefund, refundNo, tx.now); err != nil {
					return err
				}
				out.RefundNo = refundNo
			}
			if o.Status.Open() {
				if _, err := tx.closeOrderLocked(ctx, &o, source+": "+code, code, msg); err != nil {
					return err
				}
			} else if o.Status == payment.StatusClosed && (o.FailureCode == "" || disp == payment.RefundNonDebit) {
				if _, err := tx.exec(ctx, `UPDATE orders SET failure_code=$1, failure_message=$2 WHERE id=$3`, code, msg, o.ID); err != nil {
					return err
				}
			}
			if _, err := tx.exec(ctx, `INSERT INTO order_events (order_id, from_status, to_status, cause, at) VALUES ($1,$2,$2,$3,$4)`,
				o.ID, string(o.Status), source+": "+string(disp)+" "+r.ChannelTxnID, ms(tx.now)); err != nil {
				return err
			}
		}
		// The outcome is known: no more asking the channel, no expiry.
		if _, err := tx.exec(ctx, `UPDATE jobs SET done_at = $1, locked_until = 0 WHERE ref = $2 AND kind IN ($3, $4) AND done_at = 0`,
			ms(tx.now), o.OrderNo, JobQuery, JobExpire); err != nil {
			return err
		}
		if disp == payment.Apply {
			out.Order = o
			return nil
		}
		out.Order, err = tx.orderByNo(ctx, o.OrderNo, false)
		return err
	}()
	return out, err
}

// orderForUpdate loads and locks an order and its bill lines (on
// PostgreSQL; SQLite's write transaction already excludes others), in one
// query for the lines, returning the lines in their current state.
func (t *Tx) orderForUpdate(ctx context.Context, orderNo string) (payment.Order, []billing.Line, error) {
	lock := ""
	if t.dialect == Postgres {
		lock = " FOR UPDATE OF o, l"
	}
	rows, err := t.query(ctx, `SELECT `+prefixed("o.", orderCols)+`, ol.line_id, p.id, p.name, i.id, i.name, ol.amount, l.amount, l.paid, l.mandatory
		FROM orders o JOIN order_lines ol ON ol.order_id = o.id JOIN bill_lines l ON l.id = ol.line_id
		JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
		WHERE o.order_no = $1 ORDER BY p.id, i.id`+lock, orderNo)
	if err != nil {
		return payment.Order{}, nil, err
	}
	defer rows.Close()
	var o payment.Order
	var lines []billing.Line
	for rows.Next() {
		var ol payment.OrderLine
		var l billing.Line
		var olAmount, amount, paid int64
		row, err := scanOrderWith(rows, &ol.LineID, &l.ProjectID, &ol.ProjectName, &l.ItemID, &ol.ItemName, &olAmount, &amount, &paid, &l.Mandatory)
		if err != nil {
			return o, nil, err
		}
		if len(lines) == 0 {
			o = row
		}
		ol.Amount = money.Fen(olAmount)
		l.ID, l.StudentID, l.ProjectName, l.ItemName, l.Amount, l.Paid = ol.LineID, o.StudentID, ol.ProjectName, ol.ItemName, money.Fen(amount), money.Fen(paid)
		o.Lines = append(o.Lines, ol)
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return o, nil, err
	}
	if len(lines) == 0 {
		return o, nil, notFound(sql.ErrNoRows, "订单 "+orderNo)
	}
	return o, lines, nil
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (t *Tx) closeOrderLocked(ctx context.Context, o *payment.Order, cause, code, msg string) (bool, error) {
	ok, err := t.transition(ctx, o, payment.StatusClosed, cause,
		", closed_at = $4, failure_code = $5, failure_message = $6", ms(t.now), code, msg)
	if err != nil || !ok {
		return ok, err
	}
	if _, err := t.exec(ctx, `DELETE FROM line_holds WHERE order_id = $1`, o.ID); err != nil {
		return false, err
	}
	return true, t.finishJob(ctx, JobExpire, o.OrderNo)
}

// FinishRefund records the channel's answer to a refund: on success the
// refunds payable are paid out of the channel's clearing account.
func (s *Store) FinishRefund(ctx context.Context, refundNo string, rr payment.RefundResult) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var orderID, amount int64
		var status string
		if err := tx.queryRow(ctx, `SELECT order_id, amount, status FROM refunds WHERE refund_no=$1`+tx.forUpdate(), refundNo).Scan(&orderID, &amount, &status); err != nil {
			return notFound(err, "退款")
		}
		if status != "pending" {
			return nil
		}
		var schoolID int64
		var channel, orderNo string
		if err := tx.queryRow(ctx, `SELECT school_id, channel, order_no FROM orders WHERE id=$1`, orderID).Scan(&schoolID, &channel, &orderNo); err != nil {
			return err
		}
		newStatus := map[payment.RefundStatus]string{payment.RefundSuccess: "success", payment.RefundFailed: "failed", payment.RefundPending: "pending"}[rr.Status]
		if newStatus == "pending" {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE refunds SET status=$1, channel_refund_id=$2, updated_at=$3 WHERE refund_no=$4`,
			newStatus, rr.ChannelRefundID, ms(tx.now), refundNo); err != nil {
			return err
		}
		if newStatus == "success" {
			return tx.post(ctx, journal.Transfer(schoolID, journal.KindRefund, refundNo, "退款 "+orderNo,
				journal.RefundsPayable(schoolID), journal.Clearing(channel, schoolID), money.Fen(amount)))
		}
		return nil
	})
}

// RefundInfo is what the worker needs to pay a refund out.
type RefundInfo struct {
	Req      payment.RefundRequest
	Channel  string
	SchoolID int64
	Status   string
}

// Refund loads a refund and its order.
func (s *Store) Refund(ctx context.Context, refundNo string) (RefundInfo, error) {
	var ri RefundInfo
	var amount, total, created int64
	err := s.x().QueryRowContext(ctx, `SELECT r.refund_no, o.order_no, p.channel_txn_id, r.amount, p.amount, r.reason, r.created_at, o.channel, o.school_id, r.status
		FROM refunds r JOIN orders o ON o.id = r.order_id JOIN payments_received p ON p.id = r.payment_id WHERE r.refund_no=$1`, refundNo).
		Scan(&ri.Req.RefundNo, &ri.Req.OrderNo, &ri.Req.ChannelTxnID, &amount, &total, &ri.Req.Reason, &created, &ri.Channel, &ri.SchoolID, &ri.Status)
	ri.Req.Amount, ri.Req.Total, ri.Req.RequestedAt = money.Fen(amount), money.Fen(total), fromMS(created)
	return ri, notFound(err, "退款")
}

const orderCols = `id, order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at, paid_at, closed_at,
	channel_txn_id, card_type, masked_card, failure_code, failure_message, refunded, failure_channel_code, failure_limit`

func scanOrder(sc interface{ Scan(...any) error }) (payment.Order, error) {
	return scanOrderWith(sc)
}

// scanOrderWith scans an order's columns followed by extra ones.
func scanOrderWith(sc interface{ Scan(...any) error }, extra ...any) (payment.Order, error) {
	var o payment.Order
	var amount, refunded, created, expires, paid, closed, limit int64
	var status string
	dest := []any{&o.ID, &o.OrderNo, &o.SchoolID, &o.StudentID, &o.Channel, &amount, &status, &o.Mobile, &created, &expires, &paid, &closed,
		&o.ChannelTxnID, &o.CardType, &o.MaskedCard, &o.FailureCode, &o.FailureMessage, &refunded, &o.FailureChannelCode, &limit}
	err := sc.Scan(append(dest, extra...)...)
	o.Amount, o.Refunded, o.Status, o.FailureLimit = money.Fen(amount), money.Fen(refunded), payment.Status(status), money.Fen(limit)
	o.CreatedAt, o.ExpiresAt, o.PaidAt, o.ClosedAt = fromMS(created), fromMS(expires), fromMS(paid), fromMS(closed)
	return o, err
}

func (t *Tx) orderByNo(ctx context.Context, orderNo string, lock bool) (payment.Order, error) {
	suffix := ""
	if lock {
		suffix = t.forUpdate()
	}
	o, err := scanOrder(t.queryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE order_no=$1`+suffix, orderNo))
	if err != nil {
		return o, notFound(err, "订单 "+orderNo)
	}
	o.Lines, err = orderLines(ctx, t.x(), o.ID)
	return o, err
}

func orderLines(ctx context.Context, db queryer, orderID int64) ([]payment.OrderLine, error) {
	rows, err := db.QueryContext(ctx, `SELECT ol.line_id, p.name, i.name, ol.amount FROM order_lines ol
		JOIN bill_lines l ON l.id = ol.line_id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
		WHERE ol.order_id = $1 ORDER BY p.id, i.id`, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []payment.OrderLine
	for rows.Next() {
		var l payment.OrderLine
		var a int64
		if err := rows.Scan(&l.LineID, &l.ProjectName, &l.ItemName, &a); err != nil {
			return nil, err
		}
		l.Amount = money.Fen(a)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Order loads an order with its lines.
func (s *Store) Order(ctx context.Context, orderNo string) (payment.Order, error) {
	o, err := scanOrder(s.x().QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE order_no=$1`, orderNo))
	if err != nil {
		return o, notFound(err, "订单 "+orderNo)
	}
	o.Lines, err = orderLines(ctx, s.x(), o.ID)
	return o, err
}

// OrderSchool is the school an order belongs to.
func (s *Store) OrderSchool(ctx context.Context, orderNo string) (int64, error) {
	var id int64
	err := s.x().QueryRowContext(ctx, `SELECT school_id FROM orders WHERE order_no=$1`, orderNo).Scan(&id)
	return id, notFound(err, "订单 "+orderNo)
}

// Orders lists a student's orders, newest first, with their lines.
func (s *Store) Orders(ctx context.Context, studentID int64) ([]payment.Order, error) {
	rows, err := s.x().QueryContext(ctx, `SELECT `+orderCols+` FROM orders WHERE student_id=$1 ORDER BY created_at DESC, id DESC`, studentID)
	if err != nil {
		return nil, err
	}
	var out []payment.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Lines, err = orderLines(ctx, s.x(), out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OrderEvents lists an order's transitions, oldest first.
func (s *Store) OrderEvents(ctx context.Context, orderNo string) ([]payment.Event, error) {
	rows, err := s.x().QueryContext(ctx, `SELECT e.from_status, e.to_status, e.cause, e.at FROM order_events e
		JOIN orders o ON o.id = e.order_id WHERE o.order_no=$1 ORDER BY e.id`, orderNo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []payment.Event
	for rows.Next() {
		var e payment.Event
		var from, to string
		var at int64
		if err := rows.Scan(&from, &to, &e.Cause, &at); err != nil {
			return nil, err
		}
		e.From, e.To, e.At = payment.Status(from), payment.Status(to), fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountPayments counts recorded channel successes by disposition.
func (s *Store) CountPayments(ctx context.Context) (map[string]int, error) {
	rows, err := s.x().QueryContext(ctx, `SELECT disposition, COUNT(*) FROM payments_received GROUP BY disposition`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out[d] = n
	}
	return out, rows.Err()
}

// RecordFailure notes the channel's latest refusal on an open order without
// closing it: the payer may still try another card before the hold ends.
func (s *Store) RecordFailure(ctx context.Context, orderNo string, f payment.Failure) error {
	_, err := s.x().ExecContext(ctx, `UPDATE orders SET failure_code=$1, failure_message=$2, failure_channel_code=$3, failure_limit=$4
		WHERE order_no=$5 AND status IN ('created','paying')`, f.Code, f.Message, f.ChannelCode, int64(f.Limit), orderNo)
	return err
}
