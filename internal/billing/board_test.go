package billing_test

import (
	"slices"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

func item(t *testing.T, b billing.Board, id int64) billing.BoardItem {
	t.Helper()
	for _, p := range b.Projects {
		for _, it := range p.Items {
			if it.ID == id {
				return it
			}
		}
	}
	t.Fatalf("line %d not on the board", id)
	return billing.BoardItem{}
}

func lockedProjects(b billing.Board) []int64 {
	var out []int64
	for _, p := range b.Projects {
		if p.SelectedLock {
			out = append(out, p.ID)
		}
	}
	return out
}

func TestBuildBoard(t *testing.T) {
	active := now.Add(7 * time.Minute)
	expired := now.Add(-time.Minute)

	cases := []struct {
		name         string
		lines        []billing.Line
		holds        []billing.Hold
		policy       billing.Policy
		wantDefault  []int64
		wantAmount   money.Fen
		wantLock     []int64 // projects carrying the ✓
		wantStatus   map[int64]billing.ItemStatus
		wantOrders   []string
		wantLeft     bool // MandatoryLeft
		wantHasUnpad bool // HasUnpaid
	}{
		{name: "the first project with unpaid mandatory lines is pre-ticked and carries the check mark",
			lines: seedLines(), policy: billing.DefaultPolicy(),
			wantDefault: []int64{tuition, dorm}, wantAmount: 700000, wantLock: []int64{1},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusUnpaid, fileFee: billing.StatusUnpaid, insurance: billing.StatusPaid},
			wantLeft:   true, wantHasUnpad: true},
		{name: "with R8 off every unpaid mandatory line is pre-ticked and no project carries the check mark",
			lines: seedLines(), policy: policy(true, false),
			wantDefault: []int64{tuition, dorm, medical}, wantAmount: 708000,
			wantLeft: true, wantHasUnpad: true},
		{name: "with R7 off nothing is pre-ticked",
			lines: seedLines(), policy: policy(false, true),
			wantLock: []int64{1}, wantLeft: true, wantHasUnpad: true},
		{name: "a held line is locked, shows its order and is left out of the default selection",
			lines: seedLines(), holds: heldBy("CP20250901A", active, tuition), policy: billing.DefaultPolicy(),
			wantDefault: []int64{dorm}, wantAmount: 120000, wantLock: []int64{1},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusLocked, dorm: billing.StatusUnpaid},
			wantOrders: []string{"CP20250901A"}, wantLeft: true, wantHasUnpad: true},
		{name: "an expired hold leaves the line unpaid and selectable",
			lines: seedLines(), holds: heldBy("CP20250901A", expired, tuition), policy: billing.DefaultPolicy(),
			wantDefault: []int64{tuition, dorm}, wantAmount: 700000, wantLock: []int64{1},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusUnpaid},
			wantLeft:   true, wantHasUnpad: true},
		{name: "when the first project's mandatory lines are all held the check mark moves to the next project",
			lines: seedLines(), holds: heldBy("CP20250901A", active, tuition, dorm), policy: billing.DefaultPolicy(),
			wantDefault: []int64{medical}, wantAmount: 8000, wantLock: []int64{2},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusLocked, dorm: billing.StatusLocked},
			wantOrders: []string{"CP20250901A"}, wantLeft: true, wantHasUnpad: true},
		{name: "two orders holding lines are each listed once",
			lines:      seedLines(),
			holds:      append(heldBy("CP20250901A", active, tuition, dorm), heldBy("CP20250901B", active, medical, textbooks)...),
			policy:     billing.DefaultPolicy(),
			wantStatus: map[int64]billing.ItemStatus{medical: billing.StatusLocked, textbooks: billing.StatusLocked, fileFee: billing.StatusUnpaid},
			wantOrders: []string{"CP20250901A", "CP20250901B"}, wantLeft: true, wantHasUnpad: true},
		{name: "once every mandatory line is paid nothing is pre-ticked and no project carries the check mark",
			lines: linesWith(paidInFull(tuition, dorm, medical)), policy: billing.DefaultPolicy(),
			wantStatus:   map[int64]billing.ItemStatus{tuition: billing.StatusPaid, fileFee: billing.StatusUnpaid},
			wantHasUnpad: true},
		{name: "a partly paid mandatory line is still unpaid and pre-ticked for its remainder",
			lines: linesWith(partlyPaid(tuition, 100000)), policy: billing.DefaultPolicy(),
			wantDefault: []int64{tuition, dorm}, wantAmount: 600000, wantLock: []int64{1},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusUnpaid},
			wantLeft:   true, wantHasUnpad: true},
		{name: "a paid line that an old order still holds shows as paid",
			lines: linesWith(paidInFull(tuition)), holds: heldBy("CP20250901A", active, tuition), policy: billing.DefaultPolicy(),
			wantDefault: []int64{dorm}, wantAmount: 120000, wantLock: []int64{1},
			wantStatus: map[int64]billing.ItemStatus{tuition: billing.StatusPaid},
			wantLeft:   true, wantHasUnpad: true},
		{name: "a fully paid bill has nothing unpaid",
			lines: linesWith(paidInFull(tuition, dorm, fileFee, uniform, textbooks, medical)), policy: billing.DefaultPolicy()},
		{name: "an empty bill gives an empty board", policy: billing.DefaultPolicy()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := billing.BuildBoard(c.lines, c.holds, c.policy, now)
			if !slices.Equal(b.DefaultSelect, c.wantDefault) {
				t.Errorf("DefaultSelect = %v; want %v", b.DefaultSelect, c.wantDefault)
			}
			if b.DefaultAmount != c.wantAmount {
				t.Errorf("DefaultAmount = %d; want %d", b.DefaultAmount, c.wantAmount)
			}
			if got := lockedProjects(b); !slices.Equal(got, c.wantLock) {
				t.Errorf("projects with ✓ = %v; want %v", got, c.wantLock)
			}
			for id, want := range c.wantStatus {
				if got := item(t, b, id).Status; got != want {
					t.Errorf("line %d status = %s; want %s", id, got, want)
				}
			}
			if !slices.Equal(b.OpenOrderNos, c.wantOrders) {
				t.Errorf("OpenOrderNos = %v; want %v", b.OpenOrderNos, c.wantOrders)
			}
			if b.MandatoryLeft != c.wantLeft {
				t.Errorf("MandatoryLeft = %v; want %v", b.MandatoryLeft, c.wantLeft)
			}
			if b.HasUnpaid != c.wantHasUnpad {
				t.Errorf("HasUnpaid = %v; want %v", b.HasUnpaid, c.wantHasUnpad)
			}
			checkBoardInvariants(t, c.lines, c.holds, c.policy, b)
		})
	}
}

// checkBoardInvariants holds for every board: per-item flags agree with
// status, the pre-ticked items are the default selection, totals add up,
// and Decide accepts a non-empty default selection.
func checkBoardInvariants(t *testing.T, lines []billing.Line, holds []billing.Hold, p billing.Policy, b billing.Board) {
	t.Helper()
	var n int
	var ticked []int64
	var due, paid, ticketSum money.Fen
	for _, pr := range b.Projects {
		var projDue money.Fen
		for _, it := range pr.Items {
			n++
			if it.ProjectID != pr.ID {
				t.Errorf("line %d of project %d filed under project %d", it.ID, it.ProjectID, pr.ID)
			}
			switch it.Status {
			case billing.StatusPaid:
				if !it.IsPaid() || it.Selectable || it.PreTicked {
					t.Errorf("paid line %d: IsPaid=%v selectable=%v preticked=%v", it.ID, it.IsPaid(), it.Selectable, it.PreTicked)
				}
			case billing.StatusLocked:
				if it.HeldBy == "" || it.HeldUntil.IsZero() || !it.HeldUntil.After(now) || it.Selectable || it.PreTicked {
					t.Errorf("locked line %d: HeldBy=%q HeldUntil=%v selectable=%v preticked=%v", it.ID, it.HeldBy, it.HeldUntil, it.Selectable, it.PreTicked)
				}
			case billing.StatusUnpaid:
				if !it.Selectable || it.HeldBy != "" {
					t.Errorf("unpaid line %d: selectable=%v HeldBy=%q", it.ID, it.Selectable, it.HeldBy)
				}
			default:
				t.Errorf("line %d has status %q", it.ID, it.Status)
			}
			if it.PreTicked {
				if !it.Mandatory || !p.MandatoryFirst {
					t.Errorf("line %d pre-ticked but mandatory=%v R7=%v", it.ID, it.Mandatory, p.MandatoryFirst)
				}
				ticked = append(ticked, it.ID)
				ticketSum += it.Unpaid()
			}
			if it.MustInclude != (p.MandatoryFirst && it.Mandatory && it.Status == billing.StatusUnpaid) {
				t.Errorf("line %d MustInclude = %v", it.ID, it.MustInclude)
			}
			if !it.IsPaid() {
				projDue += it.Unpaid()
			}
			paid += it.Paid
		}
		if pr.UnpaidTotal != projDue {
			t.Errorf("project %d UnpaidTotal = %d; want %d", pr.ID, pr.UnpaidTotal, projDue)
		}
		due += projDue
	}
	if n != len(lines) {
		t.Errorf("board has %d items; want %d", n, len(lines))
	}
	if !slices.Equal(ticked, b.DefaultSelect) {
		t.Errorf("pre-ticked items %v differ from DefaultSelect %v", ticked, b.DefaultSelect)
	}
	if ticketSum != b.DefaultAmount {
		t.Errorf("DefaultAmount = %d; pre-ticked items sum to %d", b.DefaultAmount, ticketSum)
	}
	if b.OutstandingDue != due {
		t.Errorf("OutstandingDue = %d; want %d", b.OutstandingDue, due)
	}
	if b.PaidTotal != paid {
		t.Errorf("PaidTotal = %d; want %d (every fen received, partial payments included)", b.PaidTotal, paid)
	}
	if len(lockedProjects(b)) > 1 || (!p.OneProjectPerOrder && len(lockedProjects(b)) > 0) {
		t.Errorf("projects with ✓ = %v under R8=%v", lockedProjects(b), p.OneProjectPerOrder)
	}
	if len(b.DefaultSelect) > 0 {
		d, err := billing.Decide(lines, holds, p, now, b.DefaultSelect)
		if err != nil {
			t.Errorf("Decide refuses the board's default selection %v: %v", b.DefaultSelect, err)
		} else if d.Amount != b.DefaultAmount {
			t.Errorf("Decide amount %d != DefaultAmount %d", d.Amount, b.DefaultAmount)
		}
		if p.OneProjectPerOrder && !item(t, b, b.DefaultSelect[0]).Mandatory {
			t.Errorf("default selection starts with an optional line")
		}
	}
}

func TestBuildBoardTotals(t *testing.T) {
	lines := linesWith(partlyPaid(tuition, 100000), paidInFull(medical))
	b := billing.BuildBoard(lines, heldBy("CP20250901A", now.Add(time.Minute), textbooks), billing.DefaultPolicy(), now)
	// Due: 4800 + 1200 + 50 + 230 + 450 (held lines are still owed).
	if want := money.Fen(480000 + 120000 + 5000 + 23000 + 45000); b.OutstandingDue != want {
		t.Errorf("OutstandingDue = %s; want %s", b.OutstandingDue, want)
	}
	// Paid: 1000 of tuition + 80 medical + 180 insurance.
	if want := money.Fen(100000 + 8000 + 18000); b.PaidTotal != want {
		t.Errorf("PaidTotal = %s; want %s", b.PaidTotal, want)
	}
	var billed money.Fen
	for _, l := range lines {
		billed += l.Amount
	}
	if b.PaidTotal+b.OutstandingDue != billed {
		t.Errorf("paid %s + due %s != billed %s", b.PaidTotal, b.OutstandingDue, billed)
	}
	wantProject := map[int64]money.Fen{1: 480000 + 120000 + 5000 + 23000, 2: 45000, 3: 0}
	for _, p := range b.Projects {
		if p.UnpaidTotal != wantProject[p.ID] {
			t.Errorf("project %d UnpaidTotal = %s; want %s", p.ID, p.UnpaidTotal, wantProject[p.ID])
		}
	}
}

func TestBuildBoardShowsHolder(t *testing.T) {
	until := now.Add(9 * time.Minute)
	b := billing.BuildBoard(seedLines(), heldBy("CP20250901A", until, dorm), billing.DefaultPolicy(), now)
	it := item(t, b, dorm)
	if it.Status != billing.StatusLocked || it.HeldBy != "CP20250901A" || !it.HeldUntil.Equal(until) {
		t.Errorf("held line = status %s, by %q until %v; want locked by CP20250901A until %v", it.Status, it.HeldBy, it.HeldUntil, until)
	}
	if free := item(t, b, tuition); free.HeldBy != "" || !free.HeldUntil.IsZero() {
		t.Errorf("free line shows a holder: %q %v", free.HeldBy, free.HeldUntil)
	}
	if got := []int64{b.Projects[0].ID, b.Projects[1].ID, b.Projects[2].ID}; !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("projects in order %v; want bill order [1 2 3]", got)
	}
}
