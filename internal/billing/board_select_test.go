package billing_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
)

func keys(m map[int64]bool) []int64 {
	var out []int64
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestSelect(t *testing.T) {
	active := now.Add(7 * time.Minute)
	type note struct {
		code    string
		project int64
		lines   []int64
		orderNo string
		says    []string
	}
	cases := []struct {
		name        string
		lines       []billing.Line
		holds       []billing.Hold
		policy      billing.Policy
		sel         []int64
		locks       bool
		wantChecked []int64
		wantLocked  []int64
		wantProject int64
		wantAmount  money.Fen
		wantNotes   []note
	}{
		{name: "the default selection ticks and locks the first project's mandatory lines, which carry the ✓",
			lines: seedLines(), policy: billing.DefaultPolicy(), locks: true,
			wantChecked: []int64{tuition, dorm}, wantLocked: []int64{tuition, dorm}, wantProject: 1, wantAmount: 700000},
		{name: "another project's line ticked beside the locks keeps the locks and the ✓ where they were and says R8 in that project",
			lines: seedLines(), policy: billing.DefaultPolicy(), sel: []int64{tuition, dorm, textbooks}, locks: true,
			wantChecked: []int64{tuition, dorm, textbooks}, wantLocked: []int64{tuition, dorm}, wantProject: 1, wantAmount: 745000,
			wantNotes: []note{{code: billing.CodeOneProject, project: 2, lines: []int64{textbooks},
				says: []string{billing.SeedOneProject, "本次已勾选「2025学年学费住宿费」"}}}},
		{name: "a selection that leaves a locked line out still shows it ticked and locked",
			lines: seedLines(), policy: billing.DefaultPolicy(), sel: []int64{textbooks}, locks: true,
			wantChecked: []int64{tuition, dorm, textbooks}, wantLocked: []int64{tuition, dorm}, wantProject: 1, wantAmount: 745000,
			wantNotes: []note{{code: billing.CodeOneProject, project: 2, lines: []int64{textbooks}}}},
		{name: "an optional line of the ✓ project is told that another project's mandatory line must be paid first",
			lines: seedLines(), policy: billing.DefaultPolicy(), sel: []int64{fileFee}, locks: true,
			wantChecked: []int64{tuition, dorm, fileFee}, wantLocked: []int64{tuition, dorm}, wantProject: 1, wantAmount: 705000,
			wantNotes: []note{{code: billing.CodeMandatoryFirst, project: 1, lines: []int64{fileFee},
				says: []string{billing.SeedMandatoryFirst, "请先缴清必缴项目「体检费」，再缴纳「提档费」"}}}},
		{name: "without locks only the selection is ticked and the ✓ follows its first line",
			lines: seedLines(), policy: billing.DefaultPolicy(), sel: []int64{dorm},
			wantChecked: []int64{dorm}, wantProject: 1, wantAmount: 120000},
		{name: "without locks an optional line beside a mandatory line left out asks to tick it too",
			lines: linesWith(paidInFull(medical)), policy: billing.DefaultPolicy(), sel: []int64{dorm, fileFee},
			wantChecked: []int64{dorm, fileFee}, wantProject: 1, wantAmount: 125000,
			wantNotes: []note{{code: billing.CodeMandatoryFirst, project: 1, lines: []int64{fileFee},
				says: []string{"请同时勾选必缴项目「学费」，或取消勾选「提档费」"}}}},
		{name: "mandatory lines held by an open order point to that order, not to ticking them",
			lines: linesWith(paidInFull(medical)), holds: heldBy("CP20250901A", active, tuition, dorm), policy: billing.DefaultPolicy(),
			sel: []int64{textbooks}, locks: true,
			wantChecked: []int64{textbooks}, wantProject: 2, wantAmount: 45000,
			wantNotes: []note{{code: billing.CodeMandatoryFirst, project: 2, lines: []int64{textbooks}, orderNo: "CP20250901A",
				says: []string{"必缴项目「学费、住宿费」已在待支付订单 CP20250901A 中", "继续支付", "取消订单", "10:07"}}}},
		{name: "held, paid and unknown ids are left out of the selection",
			lines: linesWith(paidInFull(medical)), holds: heldBy("CP20250901A", active, tuition), policy: billing.DefaultPolicy(),
			sel: []int64{tuition, insurance, unknownID, dorm}, locks: true,
			wantChecked: []int64{dorm}, wantLocked: []int64{dorm}, wantProject: 1, wantAmount: 120000},
		{name: "with R8 off no project carries the ✓ and two projects are no note",
			lines: seedLines(), policy: policy(true, false), sel: []int64{tuition, dorm, medical, textbooks}, locks: true,
			wantChecked: []int64{tuition, dorm, medical, textbooks}, wantLocked: []int64{tuition, dorm, medical}, wantAmount: 753000},
		{name: "with R7 off nothing is locked and an optional line alone is no note",
			lines: seedLines(), policy: policy(false, true), sel: []int64{textbooks}, locks: true,
			wantChecked: []int64{textbooks}, wantProject: 2, wantAmount: 45000},
		{name: "an empty selection ticks nothing, carries no ✓ and says nothing",
			lines: seedLines(), policy: billing.DefaultPolicy(), sel: []int64{},
			wantProject: 0, wantAmount: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := billing.BuildBoard(c.lines, c.holds, c.policy, now)
			s := b.Select(c.policy, c.sel, c.locks)
			if got := keys(s.Checked); !slices.Equal(got, sorted(c.wantChecked...)) {
				t.Errorf("checked = %v; want %v", got, sorted(c.wantChecked...))
			}
			if got := keys(s.Locked); !slices.Equal(got, sorted(c.wantLocked...)) {
				t.Errorf("locked = %v; want %v", got, sorted(c.wantLocked...))
			}
			for id := range s.Locked {
				if !s.Checked[id] {
					t.Errorf("locked line %d is not ticked", id)
				}
			}
			if s.Project != c.wantProject {
				t.Errorf("✓ on project %d; want %d", s.Project, c.wantProject)
			}
			if s.Amount != c.wantAmount {
				t.Errorf("amount = %d; want %d", s.Amount, c.wantAmount)
			}
			if len(s.Notes) != len(c.wantNotes) {
				t.Fatalf("notes = %+v; want %d", s.Notes, len(c.wantNotes))
			}
			for i, w := range c.wantNotes {
				n := s.Notes[i]
				if n.Code != w.code || n.ProjectID != w.project || n.OrderNo != w.orderNo || !slices.Equal(n.Lines, w.lines) {
					t.Errorf("note %d = %+v; want %+v", i, n, w)
				}
				for _, want := range w.says {
					if !strings.Contains(n.Text, want) {
						t.Errorf("note %d %q lacks %q", i, n.Text, want)
					}
				}
			}
		})
	}
}

// Whatever the selection, a note appears exactly where Decide refuses for
// a rule the board can show (R7, R8), and the ✓ is on one project at most.
func TestSelectAgreesWithDecide(t *testing.T) {
	lines := seedLines()
	ids := []int64{tuition, dorm, fileFee, uniform, textbooks, medical}
	for _, pol := range []billing.Policy{billing.DefaultPolicy(), policy(true, false), policy(false, true), policy(false, false)} {
		b := billing.BuildBoard(lines, nil, pol, now)
		for mask := 1; mask < 1<<len(ids); mask++ {
			var sel []int64
			for i, id := range ids {
				if mask&(1<<i) != 0 {
					sel = append(sel, id)
				}
			}
			s := b.Select(pol, sel, false)
			_, err := billing.Decide(lines, nil, pol, now, keys(s.Checked))
			code := apperr.CodeOf(err)
			if err == nil {
				code = ""
			}
			var noted string
			if len(s.Notes) > 0 {
				noted = s.Notes[0].Code
			}
			if noted != code {
				t.Errorf("policy R7=%v R8=%v, selection %v: first note %q, Decide %q (%v)", pol.MandatoryFirst, pol.OneProjectPerOrder, sel, noted, code, err)
			}
			if !maps.Equal(s.Checked, map[int64]bool{}) && pol.OneProjectPerOrder && s.Project == 0 {
				t.Errorf("selection %v carries no ✓ under R8", sel)
			}
		}
	}
}

func TestDecideNamesEveryHeldLineAndPointsToTheOrder(t *testing.T) {
	active := now.Add(7 * time.Minute)
	t.Run("R9 names every selected line the order holds", func(t *testing.T) {
		_, err := billing.Decide(seedLines(), heldBy("CP20250901A", active, tuition, dorm), billing.DefaultPolicy(), now, []int64{tuition, dorm})
		e, _ := apperr.As(err)
		if e == nil || e.Code != billing.CodeItemsLocked || !strings.Contains(e.Message, "「学费、住宿费」已在待支付订单 CP20250901A 中") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("R7 with the mandatory lines held points to the holding order", func(t *testing.T) {
		_, err := billing.Decide(linesWith(paidInFull(medical)), heldBy("CP20250901A", active, tuition, dorm), billing.DefaultPolicy(), now, []int64{textbooks})
		e, _ := apperr.As(err)
		if e == nil || e.Code != billing.CodeMandatoryFirst {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{"「学费、住宿费」已在待支付订单 CP20250901A 中", "继续支付", "取消订单"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("message %q lacks %q", e.Message, want)
			}
		}
		if strings.Contains(e.Message, "请先勾选") {
			t.Errorf("message %q asks to tick a held line", e.Message)
		}
		if e.Details["order_no"] != "CP20250901A" {
			t.Errorf("details %v lack the order", e.Details)
		}
	})
}

func TestOverLimit(t *testing.T) {
	active := now.Add(time.Minute)
	cases := []struct {
		name  string
		lines []billing.Line
		holds []billing.Hold
		limit money.Fen
		want  []int64
	}{
		{"a line larger than the limit alone is listed", seedLines(), nil, 500000, []int64{tuition}},
		{"a line exactly at the limit fits", seedLines(), nil, 580000, nil},
		{"a held line is not the student's to pay now", seedLines(), heldBy("CP1", active, tuition), 500000, nil},
		{"a paid line is never listed", linesWith(paidInFull(tuition)), nil, 100000, []int64{dorm}},
		{"a partly paid line counts its remainder", linesWith(partlyPaid(tuition, 100000)), nil, 500000, nil},
		{"several lines come in board order", seedLines(), nil, 40000, []int64{tuition, dorm, textbooks}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lineIDs(billing.OverLimit(c.lines, c.holds, now, c.limit)); !slices.Equal(got, c.want) {
				t.Errorf("OverLimit = %v; want %v", got, c.want)
			}
		})
	}
}
