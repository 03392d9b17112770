package billing_test

import (
	"fmt"
	"math/bits"
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

// TestFitUnderLimitProperties holds FitUnderLimit to its documented promise
// on every generated case: where each group of candidate lines (a project
// under R8, the whole bill otherwise) has at most 16 lines, the proposal
// scores exactly as well as the best set found by brute force (most
// mandatory lines, then most fen); beyond that it carries the most
// mandatory lines possible and leaves out no line that would still fit.
func TestFitUnderLimitProperties(t *testing.T) {
	const iterations = 5000
	r := rand.New(rand.NewPCG(20250902, 2))
	var exhaustive, greedy int
	for i := range iterations {
		s := randomStudent(r)
		limit := randomLimit(r, s)
		if checkFitPromise(t, s, limit, fmt.Sprintf("case %d", i)) {
			exhaustive++
		} else {
			greedy++
		}
	}
	if exhaustive < iterations*9/10 {
		t.Errorf("only %d of %d cases fall where the best set is promised", exhaustive, iterations)
	}
}

// TestFitUnderLimitOnLongBills drives the greedy branch: one project
// carries 17–28 lines, more than the exhaustive search takes.
func TestFitUnderLimitOnLongBills(t *testing.T) {
	const iterations = 400
	r := rand.New(rand.NewPCG(20250904, 4))
	greedy := 0
	for i := range iterations {
		s := longStudent(r)
		if !checkFitPromise(t, s, randomLimit(r, s), fmt.Sprintf("long case %d", i)) {
			greedy++
		}
	}
	if greedy < iterations/2 {
		t.Errorf("only %d of %d long bills reach the greedy branch", greedy, iterations)
	}
}

// randomLimit is anything from nothing to a little more than the bill.
func randomLimit(r *rand.Rand, s student) money.Fen {
	var due money.Fen
	for _, l := range s.lines {
		if !l.IsPaid() {
			due += l.Unpaid()
		}
	}
	return money.Fen(r.Int64N(int64(due)*6/5 + 2))
}

// longStudent has one project of 17–28 lines beside 0–2 ordinary ones.
func longStudent(r *rand.Rand) student {
	var s student
	id := int64(1)
	projects := 1 + r.IntN(3)
	long := r.IntN(projects)
	for p := range projects {
		n := 1 + r.IntN(6)
		if p == long {
			n = 17 + r.IntN(12)
		}
		for range n {
			l := billing.Line{ID: id, StudentID: 7, ProjectID: int64(p + 1), ProjectName: fmt.Sprintf("P%d", p+1),
				ItemName: fmt.Sprintf("I%d", id), Amount: money.Fen(100 * (1 + r.IntN(2000))), Mandatory: r.IntN(5) < 2}
			if r.IntN(15) == 0 {
				l.Paid = l.Amount
			}
			s.lines = append(s.lines, l)
			if r.IntN(20) == 0 {
				s.holds = append(s.holds, billing.Hold{LineID: id, OrderNo: "CP1", Until: now.Add(time.Minute)})
			}
			id++
		}
	}
	s.policy = policy(r.IntN(2) == 0, r.IntN(2) == 0)
	return s
}

// checkFitPromise checks one case and reports whether it fell where the
// best set is promised (every group at most 16 candidate lines).
func checkFitPromise(t *testing.T, s student, limit money.Fen, name string) (exhaustive bool) {
	t.Helper()
	got := billing.FitUnderLimit(s.lines, s.holds, s.policy, now, limit)
	what := fmt.Sprintf("%s: FitUnderLimit(limit %d) = %v", name, limit, lineIDs(got))
	groups := fitCandidates(s, limit)
	for _, l := range s.lines {
		if code, fen := oracle(s, []int64{l.ID}); len(got) == 0 && code == "" && fen <= limit {
			t.Fatalf("%s: nothing proposed, yet line %d is payable alone within the limit\n%s", what, l.ID, s)
		}
	}
	if len(got) == 0 {
		return true
	}
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

	exhaustive = true
	for _, g := range groups {
		exhaustive = exhaustive && len(g) <= 16
	}
	if exhaustive {
		best, pick := bruteForceBest(s, groups, limit)
		if c, f := oracle(s, pick); c != "" || f != money.Fen(best[1]) {
			t.Fatalf("%s: the brute force's own best %v is refused by the rules (%q, %d)\n%s", what, pick, c, f, s)
		}
		if sc := score(got); sc != best {
			t.Fatalf("%s scores %v (mandatory lines, fen); the best set %v scores %v\n%s", what, sc, pick, best, s)
		}
		return true
	}
	// Beyond 16: the most mandatory lines, and nothing left out that fits.
	if sc, most := score(got), mostMandatory(groups, limit); sc[0] != most {
		t.Fatalf("%s carries %d mandatory lines; %d fit together\n%s", what, sc[0], most, s)
	}
	in := map[int64]bool{}
	for _, l := range got {
		in[l.ID] = true
	}
	for _, l := range s.lines {
		if in[l.ID] {
			continue
		}
		if c, f := oracle(s, append(lineIDs(got), l.ID)); c == "" && f <= limit {
			t.Fatalf("%s leaves out line %d, which still fits (%d in all)\n%s", what, l.ID, f, s)
		}
	}
	return false
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

// fitCandidates lists the lines that could be in any proposal (payable,
// not held, within the limit alone), grouped as one order may take them:
// by project under R8, all together otherwise.
func fitCandidates(s student, limit money.Fen) [][]billing.Line {
	var groups [][]billing.Line
	at := map[int64]int{}
	for _, l := range s.lines {
		code, fen := oracle(s, []int64{l.ID})
		if (code != "" && code != billing.CodeMandatoryFirst) || fen > limit {
			continue
		}
		key := int64(0)
		if s.policy.OneProjectPerOrder {
			key = l.ProjectID
		}
		i, ok := at[key]
		if !ok {
			i = len(groups)
			at[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], l)
	}
	return groups
}

// bruteForceBest scores every subset of every group (at most 16 lines
// each) against R7 and the limit, and returns the best score and a set
// that reaches it. R8 and R9 are already in the grouping and candidates.
func bruteForceBest(s student, groups [][]billing.Line, limit money.Fen) (best [2]int64, pick []int64) {
	for _, g := range groups {
		// R7: an optional line needs every unpaid mandatory line of the
		// bill in the same order, so all of them must be in this group.
		need, reachable := 0, true
		for _, l := range s.lines {
			if !l.Mandatory || l.Paid >= l.Amount {
				continue
			}
			i := slices.IndexFunc(g, func(c billing.Line) bool { return c.ID == l.ID })
			if i < 0 {
				reachable = false
			} else {
				need |= 1 << i
			}
		}
		n := len(g)
		sums := make([]money.Fen, 1<<n)
		mands := make([]int64, 1<<n)
		optional := make([]bool, 1<<n)
		for mask := 1; mask < 1<<n; mask++ {
			i := bits.TrailingZeros(uint(mask))
			prev := mask &^ (1 << i)
			sums[mask] = sums[prev] + g[i].Amount - g[i].Paid
			mands[mask] = mands[prev]
			if g[i].Mandatory {
				mands[mask]++
			}
			optional[mask] = optional[prev] || !g[i].Mandatory
			if sums[mask] > limit {
				continue
			}
			if s.policy.MandatoryFirst && optional[mask] && (!reachable || mask&need != need) {
				continue
			}
			if sc := [2]int64{mands[mask], int64(sums[mask])}; sc[0] > best[0] || (sc[0] == best[0] && sc[1] > best[1]) {
				best, pick = sc, nil
				for j := range n {
					if mask&(1<<j) != 0 {
						pick = append(pick, g[j].ID)
					}
				}
			}
		}
	}
	return best, pick
}

// mostMandatory is the largest number of mandatory candidate lines of one
// group that fit the limit together, by dynamic programming over counts
// (the least total for each count), not by sorting.
func mostMandatory(groups [][]billing.Line, limit money.Fen) int64 {
	most := int64(0)
	for _, g := range groups {
		least := []money.Fen{0} // least[c]: least total of c mandatory lines
		for _, l := range g {
			if !l.Mandatory {
				continue
			}
			least = append(least, money.MaxFen*100)
			for c := len(least) - 1; c >= 1; c-- {
				least[c] = min(least[c], least[c-1]+l.Amount-l.Paid)
			}
		}
		for c := len(least) - 1; c > 0; c-- {
			if least[c] <= limit {
				most = max(most, int64(c))
				break
			}
		}
	}
	return most
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
