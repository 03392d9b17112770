package billing

import (
	"fmt"
	"strings"
	"time"

	"campuspay/internal/money"
)

// Selection is the fee board with one selection laid over it: what a page
// shows ticked, what the student cannot untick, which project carries the
// ✓ (R8), the total, and where the selection breaks a rule. Pages show it
// before and after every answer alike, so a refusal never changes the
// locks or the ✓; Decide still has the last word.
type Selection struct {
	Checked map[int64]bool // lines shown ticked
	Locked  map[int64]bool // ticked lines the student cannot untick (R7's pre-ticked lines)
	Project int64          // the selection's project, which carries the ✓ under R8; 0 for none
	Amount  money.Fen      // the ticked lines' unpaid total
	Notes   []Note         // each rule the ticked lines break, where it applies
}

// Note says, next to the project it concerns, which rule a selection
// breaks and what to do about it.
type Note struct {
	Code      string  // CodeOneProject or CodeMandatoryFirst
	ProjectID int64   // the project whose box shows the note
	Lines     []int64 // the ticked lines of that project that break the rule
	OrderNo   string  // the open order holding the mandatory lines that are missing, if any
	Text      string
}

// Select lays the line ids sel over the board; nil sel is the board's
// default selection. With locks the pre-ticked lines (R7) stay ticked and
// locked whatever sel says, as the page showed them; without (a page that
// proposes fewer lines, e.g. those that fit under a card's limit) only
// sel is ticked. Ids of lines that cannot be ticked now (paid, held, not
// on the board) are left out. The ✓ goes to the project of the locked
// lines, or else of the first ticked line in board order, and only under
// R8.
func (b Board) Select(p Policy, sel []int64, locks bool) Selection {
	s := Selection{Checked: map[int64]bool{}, Locked: map[int64]bool{}}
	want := map[int64]bool{}
	for _, id := range sel {
		want[id] = true
	}
	for _, bp := range b.Projects {
		for _, it := range bp.Items {
			if it.Status != StatusUnpaid {
				continue
			}
			if locks && it.PreTicked {
				s.Locked[it.ID] = true
			}
			if s.Locked[it.ID] || want[it.ID] || (sel == nil && it.PreTicked) {
				s.Checked[it.ID] = true
				s.Amount += it.Unpaid()
			}
		}
	}
	if p.OneProjectPerOrder {
		s.Project = b.firstProject(s.Locked)
		if s.Project == 0 {
			s.Project = b.firstProject(s.Checked)
		}
	}
	s.Notes = b.notes(p, s)
	return s
}

// firstProject is the first project in board order with a line in ids.
func (b Board) firstProject(ids map[int64]bool) int64 {
	for _, bp := range b.Projects {
		for _, it := range bp.Items {
			if ids[it.ID] {
				return bp.ID
			}
		}
	}
	return 0
}

// notes finds, project by project, where the ticked lines break R8 or
// else R7: Decide's order, so the rule a note names is the one a press on
// 支付 would be refused for.
func (b Board) notes(p Policy, s Selection) []Note {
	var out, r8 []Note
	var selName string
	for _, bp := range b.Projects {
		if bp.ID == s.Project {
			selName = bp.Name
		}
	}
	// R7: the unpaid mandatory lines that are not ticked, and whether an
	// open order holds them (then they cannot be ticked at all).
	var missing []BoardItem
	for _, bp := range b.Projects {
		for _, it := range bp.Items {
			if it.Mandatory && !it.IsPaid() && !s.Checked[it.ID] {
				missing = append(missing, it)
			}
		}
	}
	for _, bp := range b.Projects {
		var ticked, optional []int64
		var optionalNames []string
		for _, it := range bp.Items {
			if !s.Checked[it.ID] {
				continue
			}
			ticked = append(ticked, it.ID)
			if !it.Mandatory {
				optional = append(optional, it.ID)
				optionalNames = append(optionalNames, it.ItemName)
			}
		}
		if len(ticked) == 0 {
			continue
		}
		if p.OneProjectPerOrder && s.Project != 0 && bp.ID != s.Project {
			r8 = append(r8, Note{Code: CodeOneProject, ProjectID: bp.ID, Lines: ticked,
				Text: fmt.Sprintf("%s。本次已勾选「%s」，请取消勾选本项目，待「%s」缴清后再缴纳本项目。", SeedOneProject, selName, selName)})
			continue
		}
		if !p.MandatoryFirst || len(optional) == 0 || len(missing) == 0 {
			continue
		}
		n := Note{Code: CodeMandatoryFirst, ProjectID: bp.ID, Lines: optional}
		var heldNames, freeNames []string
		var until time.Time
		tickable := true
		for _, m := range missing {
			switch {
			case m.Status == StatusLocked && (n.OrderNo == "" || m.HeldBy == n.OrderNo):
				n.OrderNo, until = m.HeldBy, m.HeldUntil
				heldNames = append(heldNames, m.ItemName)
			case m.Status == StatusUnpaid:
				freeNames = append(freeNames, m.ItemName)
				tickable = tickable && (!p.OneProjectPerOrder || m.ProjectID == bp.ID)
			}
		}
		switch {
		case n.OrderNo != "":
			n.Text = heldMandatoryText(heldNames, n.OrderNo, until)
		case tickable:
			n.Text = fmt.Sprintf("%s。请同时勾选必缴项目「%s」，或取消勾选「%s」。",
				SeedMandatoryFirst, strings.Join(freeNames, "、"), strings.Join(optionalNames, "、"))
		default:
			n.Text = fmt.Sprintf("%s。请先缴清必缴项目「%s」，再缴纳「%s」。",
				SeedMandatoryFirst, strings.Join(freeNames, "、"), strings.Join(optionalNames, "、"))
		}
		out = append(out, n)
	}
	if len(r8) > 0 {
		return r8
	}
	return out
}
