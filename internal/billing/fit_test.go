package billing_test

import (
	"slices"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// The seed's case: a freshman owes tuition 5800.00 and accommodation
// 1200.00, both mandatory, and the ABC card's limit is 5000.00.
func seedCaseLines() []billing.Line {
	return []billing.Line{
		{ID: tuition, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemName: "学费", Amount: 580000, Mandatory: true},
		{ID: dorm, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemName: "住宿费", Amount: 120000, Mandatory: true},
	}
}

func TestFitUnderLimit(t *testing.T) {
	active := now.Add(5 * time.Minute)
	cases := []struct {
		name   string
		lines  []billing.Line
		holds  []billing.Hold
		policy billing.Policy
		limit  money.Fen
		want   []int64 // nil: nothing fits
	}{
		{name: "under a 5000 limit tuition of 5800 does not fit but accommodation of 1200 does",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 500000, want: []int64{dorm}},
		{name: "under a 7000 limit both mandatory lines fit",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 700000, want: []int64{tuition, dorm}},
		{name: "a limit exactly equal to the total fits everything",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 700000, want: []int64{tuition, dorm}},
		{name: "a limit one fen short of the total leaves the smaller line out",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 699999, want: []int64{tuition}},
		{name: "under a 1000 limit nothing fits",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 100000},
		{name: "a zero limit fits nothing",
			lines: seedCaseLines(), policy: billing.DefaultPolicy(), limit: 0},
		{name: "a partly paid line fits by its remainder",
			lines:  func() []billing.Line { ls := seedCaseLines(); ls[0].Paid = 100000; return ls }(),
			policy: billing.DefaultPolicy(), limit: 500000, want: []int64{tuition}},
		{name: "with R8 on only one project's lines are proposed and optional lines wait for the other project's mandatory line",
			lines: seedLines(), policy: billing.DefaultPolicy(), limit: 800000, want: []int64{tuition, dorm}},
		{name: "with R8 off optional lines join once every mandatory line fits",
			lines: seedLines(), policy: policy(true, false), limit: 760000, want: []int64{tuition, dorm, fileFee, textbooks, medical}},
		{name: "with R8 off and room for only some mandatory lines no optional line is proposed",
			lines: seedLines(), policy: policy(true, false), limit: 600000, want: []int64{tuition, medical}},
		{name: "with R8 off and room for every mandatory line but no optional one only the mandatory lines are proposed",
			lines: seedLines(), policy: policy(true, false), limit: 710000, want: []int64{tuition, dorm, medical}},
		{name: "optional lines are proposed once every mandatory line is paid",
			lines: linesWith(paidInFull(tuition, dorm, medical)), policy: billing.DefaultPolicy(), limit: 50000, want: []int64{textbooks}},
		{name: "held lines are never proposed",
			lines: seedLines(), holds: heldBy("CP20250901A", active, dorm), policy: billing.DefaultPolicy(), limit: 500000, want: []int64{medical}},
		{name: "a mandatory line held elsewhere keeps optional lines out under R7",
			lines: linesWith(paidInFull(tuition, dorm)), holds: heldBy("CP20250901A", active, medical), policy: billing.DefaultPolicy(), limit: 100000},
		{name: "an expired hold does not keep its line out",
			lines: seedCaseLines(), holds: heldBy("CP20250901A", now.Add(-time.Second), dorm), policy: billing.DefaultPolicy(), limit: 500000, want: []int64{dorm}},
		{name: "with R7 off optional lines may be proposed without the mandatory ones",
			lines: linesWith(paidInFull(medical)), policy: policy(false, false), limit: 30000, want: []int64{fileFee, uniform}},
		{name: "beyond 16 lines the proposal still carries the most mandatory lines that fit",
			lines: longBill(), policy: billing.DefaultPolicy(), limit: 100000, want: longBillSmall()},
		{name: "beyond 16 lines a larger line replaces a smaller one while the count holds",
			lines: longBill(), policy: billing.DefaultPolicy(), limit: 180000, want: append([]int64{1}, longBillSmall()[1:]...)},
		{name: "paid lines are never proposed",
			lines: linesWith(paidInFull(tuition, dorm, fileFee, uniform, textbooks, medical)), policy: billing.DefaultPolicy(), limit: 1000000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := billing.FitUnderLimit(c.lines, c.holds, c.policy, now, c.limit)
			if !slices.Equal(lineIDs(got), c.want) {
				t.Fatalf("FitUnderLimit(limit %s) = %v; want %v", c.limit, lineIDs(got), c.want)
			}
			checkFit(t, c.lines, c.holds, c.policy, c.limit, got)
		})
	}
}

// longBill is one project of 17 mandatory lines: one of 900.00 (id 1) and
// sixteen of 60.00 (ids 2–17), more than the exhaustive search takes.
func longBill() []billing.Line {
	ls := []billing.Line{{ID: 1, ProjectID: 1, ProjectName: "P", ItemName: "I1", Amount: 90000, Mandatory: true}}
	for _, id := range longBillSmall() {
		ls = append(ls, billing.Line{ID: id, ProjectID: 1, ProjectName: "P", ItemName: "I", Amount: 6000, Mandatory: true})
	}
	return ls
}

func longBillSmall() []int64 {
	var ids []int64
	for id := int64(2); id <= 17; id++ {
		ids = append(ids, id)
	}
	return ids
}

// checkFit holds for every proposal: Decide accepts it, with the same
// lines in the same order, and its amount is within the limit.
func checkFit(t *testing.T, lines []billing.Line, holds []billing.Hold, p billing.Policy, limit money.Fen, got []billing.Line) {
	t.Helper()
	if len(got) == 0 {
		if got != nil {
			t.Errorf("empty proposal is %#v; want nil", got)
		}
		return
	}
	d, err := billing.Decide(lines, holds, p, now, lineIDs(got))
	if err != nil {
		t.Fatalf("Decide refuses the proposal %v: %v", lineIDs(got), err)
	}
	if !slices.Equal(lineIDs(d.Lines), lineIDs(got)) {
		t.Errorf("proposal %v is not in board order (%v)", lineIDs(got), lineIDs(d.Lines))
	}
	if d.Amount > limit {
		t.Errorf("proposal costs %s over the limit %s", d.Amount, limit)
	}
}

// Every limit from nothing to the whole bill yields a proposal Decide
// accepts, on every policy.
func TestFitUnderLimitIsAlwaysPayable(t *testing.T) {
	for _, p := range []billing.Policy{policy(true, true), policy(true, false), policy(false, true), policy(false, false)} {
		for limit := money.Fen(0); limit <= 800000; limit += 1000 {
			got := billing.FitUnderLimit(seedLines(), heldBy("X1", now.Add(time.Minute), uniform), p, now, limit)
			checkFit(t, seedLines(), heldBy("X1", now.Add(time.Minute), uniform), p, limit, got)
		}
	}
}
