package billing

import (
	"fmt"
	"sort"

	"campuspay/internal/journal"
	"campuspay/internal/money"
)

// StudentInput is one student from a roll import.
type StudentInput struct {
	Line      int
	StudentNo string
	Name      string
	IDCard    string
	Grade     string
	Major     string
	Class     string
	Phone     string
}

// BillInput is one bill line from a bill import.
type BillInput struct {
	Line      int
	StudentNo string
	Project   string
	Item      string
	Amount    money.Fen
	Mandatory bool
}

// ImportStats counts what an import changed.
type ImportStats struct {
	Rows      int
	Created   int
	Updated   int
	Unchanged int
}

// Problem reports a row that cannot be applied (line number, column, reason in Chinese).
type Problem func(line int, column, reason string)

// ExistingLine is a bill line as an import finds it.
type ExistingLine struct {
	ID        int64
	Amount    money.Fen // as billed (Line.Billed)
	Paid      money.Fen
	Mandatory bool
	Held      bool      // an open order holds it
	Lowered   money.Fen // what waivers and refunds took off the billed amount
}

// RowAction is what one row of a bill file does.
type RowAction int

// Row actions.
const (
	RowCreate    RowAction = iota // a new line
	RowUpdate                     // an unpaid, unheld line changes amount or mandatory flag
	RowUnchanged                  // the line is already so
	RowRefused                    // the row cannot be applied: Column and Reason say why
)

// RowDecision is DecideBillRow's answer.
type RowDecision struct {
	Action RowAction
	Column string
	Reason string
}

// DecideBillRow decides what one row of a bill file does (the rules of a
// re-import): a student must be on the roll; a line may appear once per
// file; a line already paid or held by an open order keeps its amount
// (changes go through refunds or waivers). existing is nil for a new line;
// firstLine is the file line where the same line appeared before, or 0.
func DecideBillRow(in BillInput, studentKnown bool, existing *ExistingLine, firstLine int) RowDecision {
	refuse := func(col, reason string) RowDecision {
		return RowDecision{Action: RowRefused, Column: col, Reason: reason}
	}
	switch {
	case !studentKnown:
		return refuse("学号", fmt.Sprintf("学号 %s 不在本校学生名单中，请先导入学生", in.StudentNo))
	case firstLine > 0:
		// A second row for the same line would be applied against the
		// first row's state, leaving line and journal in disagreement.
		return refuse("收费项目", fmt.Sprintf("收费明细重复：学号 %s 的「%s / %s」已在第 %d 行出现", in.StudentNo, in.Project, in.Item, firstLine))
	case existing == nil:
		return RowDecision{Action: RowCreate}
	case existing.Amount == in.Amount && existing.Mandatory == in.Mandatory:
		return RowDecision{Action: RowUnchanged}
	case existing.Amount != in.Amount && (existing.Paid > 0 || existing.Held):
		why := "已缴费"
		if existing.Paid == 0 {
			why = "有待支付订单"
		}
		return refuse(ColumnAmount, fmt.Sprintf("学号 %s 的「%s / %s」%s，不能把金额从 %s 改为 %s；如需调整请走退费或减免流程",
			in.StudentNo, in.Project, in.Item, why, existing.Amount.Yuan(), in.Amount.Yuan()))
	case in.Amount < existing.Lowered:
		return refuse(ColumnAmount, fmt.Sprintf("学号 %s 的「%s / %s」已减免或退费 %s 元，应缴金额不能改为低于该数的 %s",
			in.StudentNo, in.Project, in.Item, existing.Lowered.Yuan(), in.Amount.Yuan()))
	}
	return RowDecision{Action: RowUpdate}
}

// RaceReason is the problem of a row whose line got paid or held between
// the import's reading and its writing.
func RaceReason(in BillInput) string {
	return fmt.Sprintf("学号 %s 的「%s / %s」刚刚有缴费或待支付订单，请稍后重新导入", in.StudentNo, in.Project, in.Item)
}

// ImportEntries are a bill file's journal effect: one bill entry for new
// lines and one adjustment entry for changed amounts, each with a posting
// per student's receivable against the school's revenue. delta and adjust
// are per student id.
func ImportEntries(schoolID int64, ref string, delta, adjust map[int64]money.Fen) []journal.Entry {
	var out []journal.Entry
	for _, x := range []struct {
		kind, memo string
		m          map[int64]money.Fen
	}{{journal.KindBill, "账单导入", delta}, {journal.KindAdjust, "未缴账单金额调整", adjust}} {
		ids := make([]int64, 0, len(x.m))
		for id, d := range x.m {
			if d != 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		e := journal.Entry{SchoolID: schoolID, Kind: x.kind, Ref: ref, Memo: x.memo}
		var total money.Fen
		for _, id := range ids {
			e.Postings = append(e.Postings, journal.Posting{Account: journal.Receivable(id), Amount: x.m[id]})
			total += x.m[id]
		}
		if total != 0 {
			e.Postings = append(e.Postings, journal.Posting{Account: journal.Revenue(schoolID), Amount: -total})
		} else if len(e.Postings) < 2 {
			continue
		}
		out = append(out, e)
	}
	return out
}
