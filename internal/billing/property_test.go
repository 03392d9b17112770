package billing_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// student is one randomly generated case.
type student struct {
	lines  []billing.Line
	holds  []billing.Hold
	policy billing.Policy
}

func (s student) String() string {
	out := fmt.Sprintf("R7=%v R8=%v\n", s.policy.MandatoryFirst, s.policy.OneProjectPerOrder)
	for _, l := range s.lines {
		out += fmt.Sprintf("  line %d project %d amount %d paid %d mandatory %v\n", l.ID, l.ProjectID, l.Amount, l.Paid, l.Mandatory)
	}
	for _, h := range s.holds {
		out += fmt.Sprintf("  hold line %d by %s active %v\n", h.LineID, h.OrderNo, h.Active(now))
	}
	return out
}

// randomStudent has 1–4 projects of 1–6 items, some mandatory, some paid
// in full, some partly paid, some held by open or expired orders.
func randomStudent(r *rand.Rand) student {
	var s student
	id := int64(1)
	for p := range 1 + r.IntN(4) {
		projectID := int64(10*(p+1) + r.IntN(10))
		for range 1 + r.IntN(6) {
			amount := money.Fen(1 + r.IntN(1_000_000))
			if r.IntN(3) == 0 {
				amount = money.Fen(100 * (1 + r.IntN(10_000))) // whole yuan, as bills usually are
			}
			l := billing.Line{ID: id, StudentID: 7, ProjectID: projectID, ProjectName: fmt.Sprintf("P%d", projectID),
				ItemName: fmt.Sprintf("I%d", id), Amount: amount, Mandatory: r.IntN(5) < 2}
			switch k := r.IntN(20); {
			case k < 4:
				l.Paid = l.Amount
			case k < 7 && l.Amount > 1:
				l.Paid = money.Fen(1 + r.Int64N(int64(l.Amount)-1))
			}
			s.lines = append(s.lines, l)
			if r.IntN(5) == 0 {
				until := now.Add(time.Duration(r.IntN(20)-10) * time.Minute) // half of them already expired
				s.holds = append(s.holds, billing.Hold{LineID: id, OrderNo: fmt.Sprintf("CP%d", r.IntN(3)), Until: until})
			}
			id++
		}
	}
	s.policy = policy(r.IntN(2) == 0, r.IntN(2) == 0)
	return s
}

// randomSelection mixes strategies so that both valid and invalid
// selections are common: one project's lines, the unpaid mandatory lines,
// anything at all, ids not on the bill, duplicates.
func randomSelection(r *rand.Rand, s student) []int64 {
	if r.IntN(50) == 0 {
		return nil
	}
	var sel []int64
	switch r.IntN(3) {
	case 0: // a subset of one project
		p := s.lines[r.IntN(len(s.lines))].ProjectID
		for _, l := range s.lines {
			if l.ProjectID == p && r.IntN(2) == 0 {
				sel = append(sel, l.ID)
			}
		}
	case 1: // anything
		for _, l := range s.lines {
			if r.IntN(3) == 0 {
				sel = append(sel, l.ID)
			}
		}
	case 2: // one line
		sel = append(sel, s.lines[r.IntN(len(s.lines))].ID)
	}
	if r.IntN(2) == 0 { // add the unpaid mandatory lines, of one project or all
		p := s.lines[r.IntN(len(s.lines))].ProjectID
		all := r.IntN(2) == 0
		for _, l := range s.lines {
			if l.Mandatory && !l.IsPaid() && (all || l.ProjectID == p) {
				sel = append(sel, l.ID)
			}
		}
	}
	if r.IntN(10) == 0 {
		sel = append(sel, 1000+r.Int64N(100)) // not on the bill
	}
	if r.IntN(10) == 0 {
		sel = append(sel, -r.Int64N(3)) // zero or negative
	}
	if len(sel) > 0 && r.IntN(5) == 0 {
		sel = append(sel, sel[r.IntN(len(sel))])
	}
	r.Shuffle(len(sel), func(i, j int) { sel[i], sel[j] = sel[j], sel[i] })
	if len(sel) == 0 {
		sel = append(sel, s.lines[r.IntN(len(s.lines))].ID)
	}
	return sel
}

// oracle restates R7, R8 and R9 from the spec, independently of Decide,
// and says which code comes first (not payable, locked, one project,
// mandatory first) and what an accepted selection costs.
func oracle(s student, sel []int64) (code string, amount money.Fen) {
	if len(sel) == 0 {
		return billing.CodeEmptySelection, 0
	}
	byID := map[int64]billing.Line{}
	for _, l := range s.lines {
		byID[l.ID] = l
	}
	distinct := map[int64]bool{}
	for _, id := range sel {
		distinct[id] = true
	}
	for id := range distinct {
		l, ok := byID[id]
		if !ok || l.Paid >= l.Amount {
			return billing.CodeItemNotPayable, 0
		}
	}
	for _, h := range s.holds {
		if distinct[h.LineID] && now.Before(h.Until) {
			return billing.CodeItemsLocked, 0
		}
	}
	projects := map[int64]bool{}
	optional := false
	for id := range distinct {
		projects[byID[id].ProjectID] = true
		optional = optional || !byID[id].Mandatory
		amount += byID[id].Amount - byID[id].Paid
	}
	if s.policy.OneProjectPerOrder && len(projects) > 1 {
		return billing.CodeOneProject, 0
	}
	if s.policy.MandatoryFirst && optional {
		for _, l := range s.lines {
			if l.Mandatory && l.Paid < l.Amount && !distinct[l.ID] {
				return billing.CodeMandatoryFirst, 0
			}
		}
	}
	return "", amount
}

func TestDecideAgreesWithTheRules(t *testing.T) {
	const iterations = 5000
	r := rand.New(rand.NewPCG(20250901, 1))
	seen := map[string]int{}
	for i := range iterations {
		s := randomStudent(r)
		sel := randomSelection(r, s)
		wantCode, wantFen := oracle(s, sel)
		d, err := billing.Decide(s.lines, s.holds, s.policy, now, sel)
		got := ""
		if err != nil {
			got = apperr.CodeOf(err)
		}
		seen[got]++
		if got != wantCode {
			t.Fatalf("case %d: Decide(%v) = %q (%v); the rules say %q\n%s", i, sel, got, err, wantCode, s)
		}
		if err != nil {
			continue
		}
		// Accepted: check each rule once more on what came back.
		if d.Amount != wantFen {
			t.Fatalf("case %d: amount %d; independent sum %d\n%s", i, d.Amount, wantFen, s)
		}
		checkAccepted(t, s, d.Lines, fmt.Sprintf("case %d: Decide(%v)", i, sel))
	}
	for _, code := range []string{"", billing.CodeEmptySelection, billing.CodeItemNotPayable, billing.CodeItemsLocked, billing.CodeOneProject, billing.CodeMandatoryFirst} {
		if seen[code] < iterations/100 {
			t.Errorf("outcome %q seen only %d times in %d: the generator does not exercise it", code, seen[code], iterations)
		}
	}
	t.Logf("outcomes over %d random selections: %v", iterations, seen)
}

// checkAccepted verifies an accepted set of lines against R7, R8, R9 and
// payability, without calling Decide.
func checkAccepted(t *testing.T, s student, got []billing.Line, what string) {
	t.Helper()
	in := map[int64]bool{}
	for _, l := range got {
		if in[l.ID] {
			t.Fatalf("%s: line %d returned twice\n%s", what, l.ID, s)
		}
		in[l.ID] = true
	}
	var bill []int64
	for _, l := range s.lines {
		bill = append(bill, l.ID)
	}
	hasOptional := false
	for _, l := range got {
		if !slices.Contains(bill, l.ID) || l.IsPaid() {
			t.Fatalf("%s: line %d is not payable\n%s", what, l.ID, s)
		}
		for _, h := range s.holds {
			if h.LineID == l.ID && h.Active(now) {
				t.Fatalf("%s: line %d is held by %s (R9)\n%s", what, l.ID, h.OrderNo, s)
			}
		}
		if s.policy.OneProjectPerOrder && l.ProjectID != got[0].ProjectID {
			t.Fatalf("%s: projects %d and %d in one order (R8)\n%s", what, got[0].ProjectID, l.ProjectID, s)
		}
		hasOptional = hasOptional || !l.Mandatory
	}
	if s.policy.MandatoryFirst && hasOptional {
		for _, l := range s.lines {
			if l.Mandatory && !l.IsPaid() && !in[l.ID] {
				t.Fatalf("%s: optional line without unpaid mandatory line %d (R7)\n%s", what, l.ID, s)
			}
		}
	}
	// Board order.
	for i := 1; i < len(got); i++ {
		if slices.Index(bill, got[i-1].ID) > slices.Index(bill, got[i].ID) {
			t.Fatalf("%s: lines %v not in board order\n%s", what, lineIDs(got), s)
		}
	}
}

func TestFitUnderLimitProperties(t *testing.T) {
	const iterations = 5000
	r := rand.New(rand.NewPCG(20250902, 2))
	var proposals, nothing, compared, shortOfBest int
	worst := ""
	for i := range iterations {
		s := randomStudent(r)
		var due money.Fen
		for _, l := range s.lines {
			if !l.IsPaid() {
				due += l.Unpaid()
			}
		}
		limit := money.Fen(r.Int64N(int64(due)*6/5 + 2))
		got := billing.FitUnderLimit(s.lines, s.holds, s.policy, now, limit)
		what := fmt.Sprintf("case %d: FitUnderLimit(limit %d) = %v", i, limit, lineIDs(got))
		// Some single line payable within the limit ⇔ a proposal.
		singleFits := false
		for _, l := range s.lines {
			if code, fen := oracle(s, []int64{l.ID}); code == "" && fen <= limit {
				singleFits = true
			}
		}
		if singleFits != (len(got) > 0) {
			t.Fatalf("%s; a single line fits: %v\n%s", what, singleFits, s)
		}
		if len(got) == 0 {
			nothing++
			continue
		}
		proposals++
		code, fen := oracle(s, lineIDs(got))
		if code != "" {
			t.Fatalf("%s: the rules refuse it with %s\n%s", what, code, s)
		}
		if fen > limit {
			t.Fatalf("%s: costs %d over the limit\n%s", what, fen, s)
		}
		if d, err := billing.Decide(s.lines, s.holds, s.policy, now, lineIDs(got)); err != nil || d.Amount != fen {
			t.Fatalf("%s: Decide = %d, %v\n%s", what, d.Amount, err, s)
		}
		checkAccepted(t, s, got, what)
		// Compare with the best set by exhaustive search where that is cheap,
		// scored as FitUnderLimit documents: most mandatory lines, then most fen.
		if testing.Short() {
			continue
		}
		if best, ok := bestUnderLimit(s, limit); ok {
			compared++
			if score(got) != best {
				shortOfBest++
				if worst == "" {
					worst = fmt.Sprintf("%s scores %v, best %v\n%s", what, score(got), best, s)
				}
			}
		}
	}
	t.Logf("%d proposals, %d with nothing to propose; greedy below the exhaustive best in %d of %d compared", proposals, nothing, shortOfBest, compared)
	if worst != "" {
		t.Logf("first such case: %s", worst)
	}
}

func score(ls []billing.Line) [2]int64 {
	var s [2]int64
	for _, l := range ls {
		if l.Mandatory {
			s[0]++
		}
		s[1] += int64(l.Unpaid())
	}
	return s
}

// bestUnderLimit searches every payable subset of at most 10 candidate
// lines for the best score; ok is false when there are too many.
func bestUnderLimit(s student, limit money.Fen) (best [2]int64, ok bool) {
	var cand []billing.Line
	for _, l := range s.lines {
		if code, fen := oracle(s, []int64{l.ID}); (code == "" || code == billing.CodeMandatoryFirst) && fen <= limit {
			cand = append(cand, l)
		}
	}
	if len(cand) > 10 {
		return best, false
	}
	for mask := 1; mask < 1<<len(cand); mask++ {
		var pick []billing.Line
		for i, l := range cand {
			if mask&(1<<i) != 0 {
				pick = append(pick, l)
			}
		}
		if code, fen := oracle(s, lineIDs(pick)); code == "" && fen <= limit {
			if sc := score(pick); sc[0] > best[0] || (sc[0] == best[0] && sc[1] > best[1]) {
				best = sc
			}
		}
	}
	return best, true
}

func TestBuildBoardProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20250903, 3))
	for i := range 5000 {
		s := randomStudent(r)
		b := billing.BuildBoard(s.lines, s.holds, s.policy, now)
		checkBoardInvariants(t, s.lines, s.holds, s.policy, b)
		if t.Failed() {
			t.Fatalf("case %d:\n%s", i, s)
		}
	}
}
