package billing

import (
	"fmt"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/money"
)

// CodeItemDeferred refuses paying a line before the day its deferral
// (缓缴) ends.
const CodeItemDeferred = "item_deferred"

// Deferred reports whether the line is owed but may not be paid yet at
// now: the finance office deferred it (缓缴) to a later day.
func (l Line) Deferred(now time.Time) bool { return !l.IsPaid() && now.Before(l.DeferredUntil) }

// Overdue reports whether the line counts as owed now: unpaid and not
// deferred past now. A deferred line stays owed (in every due and
// outstanding sum) but is not overdue until its day comes.
func (l Line) Overdue(now time.Time) bool { return !l.IsPaid() && !l.Deferred(now) }

// Billed is what the line was billed before the finance office lowered
// it: a re-import of the same bill compares with this, not with Amount.
func (l Line) Billed() money.Fen { return l.Amount + l.Waived + l.Refunded }

// PayableFrom is the day a deferred line may be paid from, as people
// read it (Beijing), e.g. 2026-12-01.
func (l Line) PayableFrom() string { return l.DeferredUntil.In(beijing).Format("2006-01-02") }

// DeferredMessage is the refusal, and the board's note, for a deferred line.
func DeferredMessage(l Line) string {
	return fmt.Sprintf("「%s」已办理缓缴，%s 起方可缴纳；如需提前缴纳，请联系学校财务处", l.ItemName, l.PayableFrom())
}

func deferredError(l Line) error {
	return apperr.New(apperr.Invalid, CodeItemDeferred, DeferredMessage(l)).With("item_id", l.ID).With("payable_from", l.PayableFrom())
}
