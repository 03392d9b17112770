package billing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// Shared fixture: a freshman's bill in the seed's shape. Project 1 carries
// the mandatory tuition and accommodation plus two optional items; project 2
// mixes an optional textbook fee with a mandatory medical check; project 3's
// only line is already paid.
const (
	tuition   int64 = 101 // 学费, mandatory, 5800.00
	dorm      int64 = 102 // 住宿费, mandatory, 1200.00
	fileFee   int64 = 103 // 提档费, optional, 50.00
	uniform   int64 = 104 // 军训服装费, optional, 230.00
	textbooks int64 = 201 // 教材费, optional, 450.00
	medical   int64 = 202 // 体检费, mandatory, 80.00
	insurance int64 = 301 // 保险费, optional, 180.00, paid
	unknownID int64 = 999 // not on the bill
)

var (
	beijing = time.FixedZone("CST", 8*3600)
	now     = time.Date(2025, 9, 1, 10, 0, 0, 0, beijing)
)

func seedLines() []billing.Line {
	return []billing.Line{
		{ID: tuition, StudentID: 1, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemID: 11, ItemName: "学费", Amount: 580000, Mandatory: true},
		{ID: dorm, StudentID: 1, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemID: 12, ItemName: "住宿费", Amount: 120000, Mandatory: true},
		{ID: fileFee, StudentID: 1, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemID: 13, ItemName: "提档费", Amount: 5000},
		{ID: uniform, StudentID: 1, ProjectID: 1, ProjectName: "2025学年学费住宿费", ItemID: 14, ItemName: "军训服装费", Amount: 23000},
		{ID: textbooks, StudentID: 1, ProjectID: 2, ProjectName: "教材体检", ItemID: 21, ItemName: "教材费", Amount: 45000},
		{ID: medical, StudentID: 1, ProjectID: 2, ProjectName: "教材体检", ItemID: 22, ItemName: "体检费", Amount: 8000, Mandatory: true},
		{ID: insurance, StudentID: 1, ProjectID: 3, ProjectName: "保险", ItemID: 31, ItemName: "保险费", Amount: 18000, Paid: 18000},
	}
}

// paidInFull marks the given lines as fully paid.
func paidInFull(ids ...int64) func([]billing.Line) {
	return func(ls []billing.Line) {
		for i := range ls {
			if slices.Contains(ids, ls[i].ID) {
				ls[i].Paid = ls[i].Amount
			}
		}
	}
}

// partlyPaid records fen already received on one line.
func partlyPaid(id int64, fen money.Fen) func([]billing.Line) {
	return func(ls []billing.Line) {
		for i := range ls {
			if ls[i].ID == id {
				ls[i].Paid = fen
			}
		}
	}
}

func linesWith(mods ...func([]billing.Line)) []billing.Line {
	ls := seedLines()
	for _, m := range mods {
		m(ls)
	}
	return ls
}

func policy(r7, r8 bool) billing.Policy {
	p := billing.DefaultPolicy()
	p.MandatoryFirst, p.OneProjectPerOrder = r7, r8
	return p
}

func heldBy(order string, until time.Time, ids ...int64) []billing.Hold {
	var hs []billing.Hold
	for _, id := range ids {
		hs = append(hs, billing.Hold{LineID: id, OrderNo: order, Until: until})
	}
	return hs
}

func lineIDs(ls []billing.Line) []int64 {
	out := make([]int64, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func TestDecide(t *testing.T) {
	on := billing.DefaultPolicy()
	active := now.Add(7 * time.Minute)
	expired := now.Add(-time.Second)

	cases := []struct {
		name      string
		lines     []billing.Line
		holds     []billing.Hold
		policy    billing.Policy
		selection []int64
		wantCode  string         // "" means allowed
		wantKind  apperr.Kind    // checked when refused
		wantLines []int64        // checked when allowed, in board order
		wantFen   money.Fen      // checked when allowed
		details   map[string]any // checked when refused
	}{
		// Empty and unknown selections.
		{name: "a nil selection is refused as empty", lines: seedLines(), policy: on,
			wantCode: billing.CodeEmptySelection, wantKind: apperr.Invalid},
		{name: "an empty selection is refused as empty", lines: seedLines(), policy: on, selection: []int64{},
			wantCode: billing.CodeEmptySelection, wantKind: apperr.Invalid},
		{name: "an id that is not on the bill is not payable", lines: seedLines(), policy: on,
			selection: []int64{unknownID}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid,
			details: map[string]any{"item_id": unknownID}},
		{name: "a line paid in full is not payable", lines: seedLines(), policy: on,
			selection: []int64{insurance}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid,
			details: map[string]any{"item_id": insurance}},
		{name: "a paid line among payable ones makes the whole selection not payable", lines: linesWith(paidInFull(dorm)), policy: on,
			selection: []int64{tuition, dorm}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},
		{name: "a line with no student at all is not payable", lines: nil, policy: on,
			selection: []int64{tuition}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},

		// R9: holds.
		{name: "a line held by an active order is locked and the refusal names that order",
			lines: seedLines(), holds: heldBy("CP20250901A", active, tuition), policy: on,
			selection: []int64{tuition, dorm}, wantCode: billing.CodeItemsLocked, wantKind: apperr.Conflict,
			details: map[string]any{"order_no": "CP20250901A", "item_id": tuition, "locked_until": active}},
		{name: "a hold that has expired no longer blocks the line",
			lines: seedLines(), holds: heldBy("CP20250901A", expired, tuition), policy: on,
			selection: []int64{tuition, dorm}, wantLines: []int64{tuition, dorm}, wantFen: 700000},
		{name: "a hold that ends exactly now no longer blocks the line",
			lines: seedLines(), holds: heldBy("CP20250901A", now, tuition), policy: on,
			selection: []int64{tuition}, wantLines: []int64{tuition}, wantFen: 580000},
		{name: "a hold on another line does not block the selection",
			lines: seedLines(), holds: heldBy("CP20250901A", active, medical), policy: on,
			selection: []int64{dorm, tuition}, wantLines: []int64{tuition, dorm}, wantFen: 700000},
		{name: "holds block even when R7 and R8 are both off",
			lines: seedLines(), holds: heldBy("CP20250901A", active, textbooks), policy: policy(false, false),
			selection: []int64{fileFee, textbooks}, wantCode: billing.CodeItemsLocked, wantKind: apperr.Conflict,
			details: map[string]any{"order_no": "CP20250901A", "item_id": textbooks}},

		// R8: one project per order.
		{name: "mandatory lines of two projects break one project per order",
			lines: seedLines(), policy: on,
			selection: []int64{tuition, dorm, medical}, wantCode: billing.CodeOneProject, wantKind: apperr.Invalid},
		{name: "mandatory lines of two projects are allowed when the school switches R8 off",
			lines: seedLines(), policy: policy(true, false),
			selection: []int64{medical, tuition, dorm}, wantLines: []int64{tuition, dorm, medical}, wantFen: 708000},
		{name: "optional lines of two projects are allowed with R7 and R8 both off",
			lines: seedLines(), policy: policy(false, false),
			selection: []int64{textbooks, fileFee}, wantLines: []int64{fileFee, textbooks}, wantFen: 50000},

		// R7: mandatory first.
		{name: "an optional line alone is refused while mandatory lines are unpaid",
			lines: seedLines(), policy: on,
			selection: []int64{fileFee}, wantCode: billing.CodeMandatoryFirst, wantKind: apperr.Invalid},
		{name: "an optional line with its own project's mandatory lines is still refused while another project's mandatory line is unpaid",
			lines: seedLines(), policy: on,
			selection: []int64{tuition, dorm, fileFee}, wantCode: billing.CodeMandatoryFirst, wantKind: apperr.Invalid,
			details: map[string]any{"item_id": medical}},
		{name: "an optional line with every unpaid mandatory line is allowed when R8 is off",
			lines: seedLines(), policy: policy(true, false),
			selection: []int64{fileFee, medical, dorm, tuition}, wantLines: []int64{tuition, dorm, fileFee, medical}, wantFen: 713000},
		{name: "an optional line with every unpaid mandatory line of a single-project bill is allowed",
			lines: linesWith(paidInFull(medical)), policy: on,
			selection: []int64{tuition, dorm, uniform}, wantLines: []int64{tuition, dorm, uniform}, wantFen: 723000},
		{name: "a subset of the mandatory lines alone is allowed",
			lines: seedLines(), policy: on,
			selection: []int64{dorm}, wantLines: []int64{dorm}, wantFen: 120000},
		{name: "the other project's mandatory line alone is allowed",
			lines: seedLines(), policy: on,
			selection: []int64{medical}, wantLines: []int64{medical}, wantFen: 8000},
		{name: "optional lines are allowed once every mandatory line is paid",
			lines: linesWith(paidInFull(tuition, dorm, medical)), policy: on,
			selection: []int64{uniform, fileFee}, wantLines: []int64{fileFee, uniform}, wantFen: 28000},
		{name: "an optional line alone is allowed when the school switches R7 off",
			lines: seedLines(), policy: policy(false, true),
			selection: []int64{fileFee}, wantLines: []int64{fileFee}, wantFen: 5000},
		{name: "an optional line is refused while a mandatory line sits in another open order",
			lines: linesWith(paidInFull(medical)), holds: heldBy("CP20250901B", active, tuition), policy: on,
			selection: []int64{dorm, fileFee}, wantCode: billing.CodeMandatoryFirst, wantKind: apperr.Invalid,
			details: map[string]any{"item_id": tuition}},
		{name: "an optional line is refused while the only mandatory line left sits in another open order",
			lines: linesWith(paidInFull(tuition, dorm)), holds: heldBy("CP20250901B", active, medical), policy: on,
			selection: []int64{uniform}, wantCode: billing.CodeMandatoryFirst, wantKind: apperr.Invalid},
		{name: "an optional line is allowed once the open order holding the mandatory line has expired",
			lines: linesWith(paidInFull(tuition, dorm)), holds: heldBy("CP20250901B", expired, medical), policy: policy(true, false),
			selection: []int64{uniform, medical}, wantLines: []int64{uniform, medical}, wantFen: 31000},
		{name: "a partly paid mandatory line still counts as unpaid for R7",
			lines: linesWith(paidInFull(dorm, medical), partlyPaid(tuition, 100000)), policy: on,
			selection: []int64{fileFee}, wantCode: billing.CodeMandatoryFirst, wantKind: apperr.Invalid,
			details: map[string]any{"item_id": tuition}},

		// Duplicates and amounts.
		{name: "a line selected several times is counted once",
			lines: seedLines(), policy: on,
			selection: []int64{dorm, dorm, tuition, dorm}, wantLines: []int64{tuition, dorm}, wantFen: 700000},
		{name: "a duplicated optional line does not double the amount",
			lines: linesWith(paidInFull(tuition, dorm, medical)), policy: on,
			selection: []int64{fileFee, fileFee}, wantLines: []int64{fileFee}, wantFen: 5000},
		{name: "a partly paid line counts only its remainder",
			lines: linesWith(partlyPaid(tuition, 100000)), policy: on,
			selection: []int64{tuition, dorm}, wantLines: []int64{tuition, dorm}, wantFen: 480000 + 120000},
		{name: "the lines come back in board order whatever the selection order",
			lines: linesWith(paidInFull(medical)), policy: on,
			selection: []int64{uniform, fileFee, dorm, tuition}, wantLines: []int64{tuition, dorm, fileFee, uniform}, wantFen: 728000},

		// Order of the checks: not payable, then locked, then one project, then mandatory first.
		{name: "not payable is reported before locked when the unknown id comes last",
			lines: seedLines(), holds: heldBy("CP20250901A", active, tuition), policy: on,
			selection: []int64{tuition, unknownID}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},
		{name: "not payable is reported before locked when the paid line comes last",
			lines: seedLines(), holds: heldBy("CP20250901A", active, tuition), policy: on,
			selection: []int64{tuition, insurance}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},
		{name: "locked is reported before one project per order",
			lines: seedLines(), holds: heldBy("CP20250901A", active, medical), policy: on,
			selection: []int64{tuition, medical}, wantCode: billing.CodeItemsLocked, wantKind: apperr.Conflict},
		{name: "locked is reported before mandatory first",
			lines: seedLines(), holds: heldBy("CP20250901A", active, fileFee), policy: on,
			selection: []int64{fileFee}, wantCode: billing.CodeItemsLocked, wantKind: apperr.Conflict},
		{name: "one project per order is reported before mandatory first",
			lines: seedLines(), policy: on,
			selection: []int64{fileFee, textbooks}, wantCode: billing.CodeOneProject, wantKind: apperr.Invalid},
		{name: "not payable is reported before mandatory first",
			lines: seedLines(), policy: on,
			selection: []int64{fileFee, insurance}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},
		{name: "not payable is reported before one project per order",
			lines: seedLines(), policy: on,
			selection: []int64{tuition, medical, unknownID}, wantCode: billing.CodeItemNotPayable, wantKind: apperr.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := billing.Decide(c.lines, c.holds, c.policy, now, c.selection)
			if c.wantCode != "" {
				if err == nil {
					t.Fatalf("Decide(%v) allowed %v (%d fen); want %s", c.selection, lineIDs(d.Lines), d.Amount, c.wantCode)
				}
				if got := apperr.CodeOf(err); got != c.wantCode {
					t.Fatalf("Decide(%v) code = %s (%v); want %s", c.selection, got, err, c.wantCode)
				}
				e, _ := apperr.As(err)
				if e.Kind != c.wantKind {
					t.Errorf("kind = %d; want %d", e.Kind, c.wantKind)
				}
				if e.Message == "" {
					t.Error("refusal has no message for the student")
				}
				for k, want := range c.details {
					got, ok := e.Details[k]
					if !ok {
						t.Errorf("detail %q missing from %v", k, e.Details)
						continue
					}
					if wt, isTime := want.(time.Time); isTime {
						if gt, _ := got.(time.Time); !gt.Equal(wt) {
							t.Errorf("detail %q = %v; want %v", k, got, want)
						}
					} else if got != want {
						t.Errorf("detail %q = %v; want %v", k, got, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide(%v) refused: %v", c.selection, err)
			}
			if !slices.Equal(lineIDs(d.Lines), c.wantLines) {
				t.Errorf("lines = %v; want %v", lineIDs(d.Lines), c.wantLines)
			}
			if d.Amount != c.wantFen {
				t.Errorf("amount = %d fen; want %d", d.Amount, c.wantFen)
			}
		})
	}
}

// The seed's message for R9 must reach the student with the holding order's
// number and when it closes, in Beijing time.
func TestDecideLockedMessageNamesOrderAndBeijingTime(t *testing.T) {
	until := time.Date(2025, 9, 1, 2, 10, 0, 0, time.UTC) // 10:10 in Beijing
	_, err := billing.Decide(seedLines(), heldBy("CP20250901A", until, tuition), billing.DefaultPolicy(),
		time.Date(2025, 9, 1, 2, 3, 0, 0, time.UTC), []int64{tuition})
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("err = %v; want an *apperr.Error", err)
	}
	for _, want := range []string{"CP20250901A", "10:10", "学费", billing.SeedNoDoublePay} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not contain %q", e.Message, want)
		}
	}
}

// Decide must not reorder or alter the caller's slices.
func TestDecideLeavesItsInputsAlone(t *testing.T) {
	lines := seedLines()
	sel := []int64{dorm, tuition}
	if _, err := billing.Decide(lines, nil, billing.DefaultPolicy(), now, sel); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sel, []int64{dorm, tuition}) {
		t.Errorf("selection changed to %v", sel)
	}
	if !slices.Equal(lines, seedLines()) {
		t.Error("lines changed")
	}
}
