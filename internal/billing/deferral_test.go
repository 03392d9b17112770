package billing_test

import (
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// deferred defers a line to a day.
func deferred(id int64, until time.Time) func([]billing.Line) {
	return func(ls []billing.Line) {
		for i := range ls {
			if ls[i].ID == id {
				ls[i].DeferredUntil = until
			}
		}
	}
}

func withLines(changes ...func([]billing.Line)) []billing.Line {
	ls := seedLines()
	for _, c := range changes {
		c(ls)
	}
	return ls
}

// TestDeferral (缓缴): a deferred line cannot be paid before its day, with
// the day in the refusal; it does not hold back the optional items R7
// would otherwise keep waiting (it cannot be paid yet), is not pre-ticked
// and not overdue; it stays in what is owed; from its day on it is an
// ordinary line again.
func TestDeferral(t *testing.T) {
	day := time.Date(2025, 12, 1, 0, 0, 0, 0, beijing)
	ls := withLines(deferred(tuition, day), paidInFull(dorm, medical))
	p := billing.DefaultPolicy()
	p.OneProjectPerOrder = false
	for _, c := range []struct {
		name string
		at   time.Time
		sel  []int64
		code string
	}{
		{"the deferred line before its day is refused", now, []int64{tuition}, billing.CodeItemDeferred},
		{"an optional item is not held back by a deferred mandatory one", now, []int64{fileFee}, ""},
		{"on its day it may be paid", day, []int64{tuition}, ""},
		{"on its day R7 wants it again", day, []int64{fileFee}, billing.CodeMandatoryFirst},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := billing.Decide(ls, nil, p, c.at, c.sel)
			if apperr.CodeOf(err) != c.code && !(c.code == "" && err == nil) {
				t.Fatalf("Decide: %v, want %q", err, c.code)
			}
			if c.code == billing.CodeItemDeferred {
				if _, msg := apperr.Public(err); !strings.Contains(msg, "2025-12-01") || !strings.Contains(msg, "学费") {
					t.Fatalf("the refusal does not say which item and when: %s", msg)
				}
			}
		})
	}
	b := billing.BuildBoard(ls, nil, p, now)
	for _, pr := range b.Projects {
		for _, it := range pr.Items {
			if it.ID != tuition {
				continue
			}
			if it.Selectable || it.PreTicked || it.Status != billing.StatusUnpaid || !strings.Contains(it.Note, "缓缴") {
				t.Fatalf("deferred item on the board: %+v", it)
			}
		}
	}
	if b.MandatoryLeft || b.OutstandingDue < 580000 {
		t.Fatalf("board: mandatory left %v, outstanding %d", b.MandatoryLeft, b.OutstandingDue)
	}
	l := ls[0]
	if !l.Deferred(now) || l.Overdue(now) || l.Deferred(day) || !l.Overdue(day) {
		t.Fatalf("deferred %v overdue %v before; %v %v on the day", l.Deferred(now), l.Overdue(now), l.Deferred(day), l.Overdue(day))
	}
	fit := billing.FitUnderLimit(ls, nil, p, now, 1_000_000)
	if len(fit) == 0 {
		t.Fatal("R2 proposes nothing")
	}
	for _, f := range fit {
		if f.ID == tuition {
			t.Fatalf("R2 proposes a deferred line: %+v", fit)
		}
	}
}
