package billing

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/money"
)

// Stable rule codes (SPEC §6), shared by the API, the pages and the tests.
const (
	CodeMandatoryFirst  = "mandatory_first"
	CodeOneProject      = "one_project_per_order"
	CodeItemsLocked     = "items_locked"
	CodeItemNotPayable  = "item_not_payable"
	CodeEmptySelection  = "empty_selection"
	CodeChannelDisabled = "channel_not_enabled"
)

// ItemsLockedMessage is R9's refusal when the database's own guard (one
// hold per line) catches two orders racing for a line.
const ItemsLockedMessage = "所选项目已在其他待支付订单中，请刷新后重试"

// The seed's own words for R7, R8 and R9, shown before and after a refusal.
const (
	SeedMandatoryFirst = "含有必缴项目必须先支付必缴项目后才能再次支付其它缴费项目"
	SeedOneProject     = "此次只能缴纳完毕勾选的这个大项目后，才能继续缴纳其他收费项目"
	SeedNoDoublePay    = "为避免重复支付，下单且并未支付的，需等待订单关闭后才能再次选择缴费项目进行支付"
)

// Decision is the answer to "may this student pay these lines now?".
type Decision struct {
	Lines  []Line    // the selected lines, in board order, when allowed
	Amount money.Fen // sum of their unpaid amounts
}

// Decide applies R7, R8 and R9 to a proposed selection of line ids. It is
// the single place those rules live: the API, the pages and the order
// service all call it. holds are the open orders' claims; only holds still
// active at now block. The error is an *apperr.Error with a stable code.
func Decide(lines []Line, holds []Hold, p Policy, now time.Time, selection []int64) (Decision, error) {
	if len(selection) == 0 {
		return Decision{}, apperr.New(apperr.Invalid, CodeEmptySelection, "请至少选择一个缴费项目")
	}
	byID := make(map[int64]Line, len(lines))
	for _, l := range lines {
		byID[l.ID] = l
	}
	held := activeHolds(holds, now)
	chosen := make(map[int64]bool, len(selection))
	var sel []Line
	for _, id := range selection {
		if chosen[id] {
			continue
		}
		l, ok := byID[id]
		if !ok || l.IsPaid() {
			return Decision{}, apperr.New(apperr.Invalid, CodeItemNotPayable, "所选项目不存在或已缴清，请刷新页面后重新选择").With("item_id", id)
		}
		if l.Deferred(now) {
			return Decision{}, deferredError(l)
		}
		chosen[id] = true
		sel = append(sel, l)
	}
	for _, l := range sel {
		if h, ok := held[l.ID]; ok {
			// Name every selected line that order holds, not just the first.
			var names []string
			for _, o := range sel {
				if ho, ok := held[o.ID]; ok && ho.OrderNo == h.OrderNo {
					names = append(names, o.ItemName)
				}
			}
			return Decision{}, apperr.New(apperr.Conflict, CodeItemsLocked,
				fmt.Sprintf("「%s」已在待支付订单 %s 中，请继续支付该订单或取消后再选择（%s 后自动关闭）。%s",
					strings.Join(names, "、"), h.OrderNo, h.Until.In(beijing).Format("15:04"), SeedNoDoublePay)).
				With("order_no", h.OrderNo).With("item_id", l.ID).With("locked_until", h.Until)
		}
	}
	if p.OneProjectPerOrder {
		for _, l := range sel[1:] {
			if l.ProjectID != sel[0].ProjectID {
				return Decision{}, apperr.New(apperr.Invalid, CodeOneProject, SeedOneProject+"。")
			}
		}
	}
	if p.MandatoryFirst {
		hasOptional := false
		for _, l := range sel {
			if !l.Mandatory {
				hasOptional = true
				break
			}
		}
		if hasOptional {
			if err := mandatoryMissing(lines, held, chosen, now); err != nil {
				return Decision{}, err
			}
		}
	}
	sortByBoard(sel, lines)
	var total money.Fen
	for _, l := range sel {
		total += l.Unpaid()
	}
	return Decision{Lines: sel, Amount: total}, nil
}

// mandatoryMissing is R7's refusal when some unpaid mandatory line is not
// chosen, or nil. A line an open order holds cannot be ticked, so when one
// is missing the refusal points to that order (继续支付 or 取消订单)
// rather than asking for what cannot be ticked. A deferred line is not
// missing: it cannot be paid yet.
func mandatoryMissing(lines []Line, held map[int64]Hold, chosen map[int64]bool, now time.Time) error {
	var first *Line
	var heldNames []string
	var order Hold
	for i, l := range lines {
		if !l.Mandatory || l.IsPaid() || chosen[l.ID] || l.Deferred(now) {
			continue
		}
		if first == nil {
			first = &lines[i]
		}
		if h, ok := held[l.ID]; ok && (order.OrderNo == "" || h.OrderNo == order.OrderNo) {
			order = h
			heldNames = append(heldNames, l.ItemName)
		}
	}
	switch {
	case first == nil:
		return nil
	case order.OrderNo != "":
		return apperr.New(apperr.Invalid, CodeMandatoryFirst, heldMandatoryText(heldNames, order.OrderNo, order.Until)).
			With("item_id", first.ID).With("order_no", order.OrderNo).With("locked_until", order.Until)
	}
	return apperr.New(apperr.Invalid, CodeMandatoryFirst,
		SeedMandatoryFirst+"。请先勾选「"+first.ProjectName+" / "+first.ItemName+"」。").With("item_id", first.ID)
}

// heldMandatoryText is R7's words when the mandatory lines missing are
// in an open order: the order to finish or cancel, not lines to tick.
func heldMandatoryText(names []string, orderNo string, until time.Time) string {
	return fmt.Sprintf("%s。必缴项目「%s」已在待支付订单 %s 中：请先在该订单中点击“继续支付”完成支付，或点击“取消订单”后与必缴项目一起重新选择（该订单 %s 后自动关闭）。",
		SeedMandatoryFirst, strings.Join(names, "、"), orderNo, until.In(beijing).Format("15:04"))
}

var beijing = time.FixedZone("CST", 8*3600)

func activeHolds(holds []Hold, now time.Time) map[int64]Hold {
	m := make(map[int64]Hold, len(holds))
	for _, h := range holds {
		if h.Active(now) {
			m[h.LineID] = h
		}
	}
	return m
}

func sortByBoard(sel []Line, lines []Line) {
	pos := make(map[int64]int, len(lines))
	for i, l := range lines {
		pos[l.ID] = i
	}
	sort.SliceStable(sel, func(i, j int) bool { return pos[sel[i].ID] < pos[sel[j].ID] })
}

// ItemStatus is a line's state on the board.
type ItemStatus string

// Board states of a line (the API's "status").
const (
	StatusUnpaid ItemStatus = "unpaid"
	StatusPaid   ItemStatus = "paid"
	StatusLocked ItemStatus = "locked" // held by an open order
)

// BoardItem is one line as a page or the API shows it.
type BoardItem struct {
	Line
	Status    ItemStatus
	PreTicked bool // mandatory and unpaid: shown ticked and locked (R7)
	// Note explains an unpaid line that cannot be ticked for another
	// reason than a hold: a deferral (缓缴) until its day.
	Note        string
	HeldBy      string    // order number holding it, when locked
	HeldUntil   time.Time // when that hold ends
	Selectable  bool      // may be ticked now
	MustInclude bool      // ticking anything optional requires this line (R7)
}

// BoardProject is one project with its items.
type BoardProject struct {
	ID           int64
	Name         string
	Items        []BoardItem
	SelectedLock bool // carries the ✓: this project is the one to pay now (R8)
	UnpaidTotal  money.Fen
}

// Board is everything a fee page needs: projects in order, which items are
// pre-ticked, which are held by which order until when, and which project
// carries the ✓.
type Board struct {
	Projects       []BoardProject
	HasUnpaid      bool
	MandatoryLeft  bool // some mandatory line is still unpaid (R7 applies)
	DefaultSelect  []int64
	DefaultAmount  money.Fen
	OpenOrderNos   []string
	PaidTotal      money.Fen // every fen received on the lines, partial payments included
	OutstandingDue money.Fen // every fen still owed, held lines included
}

// BuildBoard lays lines out for a page. The default selection (what is
// pre-ticked) is every unpaid, unheld mandatory line of the first project
// that has one, or nothing; Decide accepts it whenever it is non-empty.
// A deferred line is shown unpaid with its note and cannot be ticked.
func BuildBoard(lines []Line, holds []Hold, p Policy, now time.Time) Board {
	held := activeHolds(holds, now)
	var b Board
	idx := map[int64]int{}
	orders := map[string]bool{}
	mandatoryProject := int64(0)
	for _, l := range lines {
		if l.Mandatory && !l.IsPaid() && !l.Deferred(now) {
			b.MandatoryLeft = true
			if _, isHeld := held[l.ID]; !isHeld && mandatoryProject == 0 {
				mandatoryProject = l.ProjectID
			}
		}
	}
	for _, l := range lines {
		i, ok := idx[l.ProjectID]
		if !ok {
			i = len(b.Projects)
			idx[l.ProjectID] = i
			b.Projects = append(b.Projects, BoardProject{ID: l.ProjectID, Name: l.ProjectName})
		}
		it := BoardItem{Line: l, Status: StatusUnpaid}
		switch h, isHeld := held[l.ID]; {
		case l.IsPaid():
			it.Status = StatusPaid
		case isHeld:
			it.Status = StatusLocked
			it.HeldBy, it.HeldUntil = h.OrderNo, h.Until
			if !orders[h.OrderNo] {
				orders[h.OrderNo] = true
				b.OpenOrderNos = append(b.OpenOrderNos, h.OrderNo)
			}
		case l.Deferred(now):
			it.Note = DeferredMessage(l)
		default:
			it.Selectable = true
			b.HasUnpaid = true
			it.MustInclude = p.MandatoryFirst && l.Mandatory
			if p.MandatoryFirst && l.Mandatory && (!p.OneProjectPerOrder || l.ProjectID == mandatoryProject) {
				it.PreTicked = true
				b.DefaultSelect = append(b.DefaultSelect, l.ID)
				b.DefaultAmount += l.Unpaid()
			}
		}
		b.PaidTotal += l.Paid // partial payments count too
		if !l.IsPaid() {
			b.Projects[i].UnpaidTotal += l.Unpaid()
			b.OutstandingDue += l.Unpaid()
		}
		b.Projects[i].Items = append(b.Projects[i].Items, it)
	}
	if p.OneProjectPerOrder && mandatoryProject != 0 {
		b.Projects[idx[mandatoryProject]].SelectedLock = true
	}
	return b
}

// FitUnderLimit proposes, for R2, the set of the student's payable lines
// whose unpaid total is at most limit and that Decide accepts: the seed's
// "先缴纳在限额内的项目金额，隔天再缴纳余下的". Among such sets it prefers
// more mandatory lines, then the larger total. Candidate lines (payable,
// not held, each within the limit) are grouped as one order may take them:
// by project under R8, the whole bill otherwise. Where every group has at
// most 16 (a student has far fewer) the search is exhaustive and the
// proposal is the best set. Beyond that it is greedy and promises less:
// the most mandatory lines that fit together, and no payable line left
// out that would still fit, but maybe not the largest total. Returns nil
// when nothing fits.
func FitUnderLimit(lines []Line, holds []Hold, p Policy, now time.Time, limit money.Fen) []Line {
	held := activeHolds(holds, now)
	unpaidMandatory := 0
	for _, l := range lines {
		if l.Mandatory && !l.IsPaid() && !l.Deferred(now) {
			unpaidMandatory++
		}
	}
	groups := map[int64][]Line{}
	var order []int64
	for _, l := range lines {
		if _, h := held[l.ID]; h || l.IsPaid() || l.Deferred(now) || l.Unpaid() > limit {
			continue
		}
		key := int64(0)
		if p.OneProjectPerOrder {
			key = l.ProjectID
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], l)
	}
	var best []Line
	var bestScore [2]int64
	consider := func(pick []Line) {
		var mand, sum int64
		for _, l := range pick {
			sum += int64(l.Unpaid())
			if l.Mandatory {
				mand++
			}
		}
		score := [2]int64{mand, sum}
		if len(pick) > 0 && (best == nil || score[0] > bestScore[0] || (score[0] == bestScore[0] && score[1] > bestScore[1])) {
			if _, err := Decide(lines, holds, p, now, ids(pick)); err == nil {
				best, bestScore = append([]Line(nil), pick...), score
			}
		}
	}
	for _, k := range order {
		g := groups[k]
		if len(g) <= 16 {
			n := len(g)
			var pick []Line
			for mask := 1; mask < 1<<n; mask++ {
				pick = pick[:0]
				var sum money.Fen
				mand, optional := 0, false
				for i := 0; i < n; i++ {
					if mask&(1<<i) != 0 {
						pick = append(pick, g[i])
						sum += g[i].Unpaid()
						if g[i].Mandatory {
							mand++
						} else {
							optional = true
						}
					}
				}
				if sum > limit || (p.MandatoryFirst && optional && mand != unpaidMandatory) {
					continue
				}
				consider(pick)
			}
			continue
		}
		consider(greedyFit(g, limit, p.MandatoryFirst, unpaidMandatory))
	}
	sortByBoard(best, lines)
	return best
}

// greedyFit picks from one group of candidates, each within limit alone:
// as many mandatory lines as fit together (the smallest ones), each then
// traded for a larger unchosen one while the total still fits; then, if
// optional lines are allowed (R7 off, or every one of the bill's
// unpaidMandatory lines chosen), optional lines largest first while they
// fit. No unchosen mandatory line fits beside the pick (that would make
// one more), and no allowed optional line does (sums only grow).
func greedyFit(g []Line, limit money.Fen, mandatoryFirst bool, unpaidMandatory int) []Line {
	var mand, opt []Line
	for _, l := range g {
		if l.Mandatory {
			mand = append(mand, l)
		} else {
			opt = append(opt, l)
		}
	}
	sort.SliceStable(mand, func(i, j int) bool { return mand[i].Unpaid() < mand[j].Unpaid() })
	k := 0
	var sum money.Fen
	for k < len(mand) && sum+mand[k].Unpaid() <= limit {
		sum += mand[k].Unpaid()
		k++
	}
	pick, rest := mand[:k:k], append([]Line(nil), mand[k:]...)
	for i := range pick {
		swap := -1
		for j, r := range rest {
			if d := r.Unpaid() - pick[i].Unpaid(); d > 0 && sum+d <= limit && (swap < 0 || r.Unpaid() > rest[swap].Unpaid()) {
				swap = j
			}
		}
		if swap >= 0 {
			sum += rest[swap].Unpaid() - pick[i].Unpaid()
			pick[i], rest[swap] = rest[swap], pick[i]
		}
	}
	if !mandatoryFirst || k == unpaidMandatory {
		sort.SliceStable(opt, func(i, j int) bool { return opt[i].Unpaid() > opt[j].Unpaid() })
		for _, l := range opt {
			if sum+l.Unpaid() <= limit {
				pick = append(pick, l)
				sum += l.Unpaid()
			}
		}
	}
	return pick
}

func ids(ls []Line) []int64 {
	out := make([]int64, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

// OverLimit lists the payable lines (unpaid, not held) whose unpaid amount
// alone exceeds limit, in board order: no order paid with a card of that
// limit can ever hold them, so R2's first way out (pay what fits now, the
// rest later) does not help with them; only another card or a higher
// limit does.
func OverLimit(lines []Line, holds []Hold, now time.Time, limit money.Fen) []Line {
	held := activeHolds(holds, now)
	var out []Line
	for _, l := range lines {
		if _, h := held[l.ID]; !h && !l.IsPaid() && !l.Deferred(now) && l.Unpaid() > limit {
			out = append(out, l)
		}
	}
	return out
}
