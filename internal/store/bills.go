package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
)

type lineKey struct{ student, item int64 }

type lineState struct {
	id        int64
	amount    money.Fen
	paid      money.Fen
	mandatory bool
	held      bool
}

// ImportBills applies a bill import in one transaction. New lines post
// the receivable; a changed amount on an unpaid line posts an adjustment;
// a changed amount on a paid, partly paid or held line is a problem. All
// of the file's journal effect is one balanced entry. If rows returns an
// error or any problem was reported, nothing is applied.
func (s *Store) ImportBills(ctx context.Context, schoolID int64, ref string, rows func(yield func(billing.BillInput) error) error, problem billing.Problem) (billing.ImportStats, error) {
	var st billing.ImportStats
	err := s.InTx(ctx, func(tx *Tx) error {
		st = billing.ImportStats{}
		if ref == "" {
			ref = "import:" + tx.now.UTC().Format("20060102T150405.000")
		}
		imp := &billImport{tx: tx, schoolID: schoolID, delta: map[int64]money.Fen{}, adjust: map[int64]money.Fen{}, projects: map[string]int64{}, items: map[[2]string]int64{}}
		if err := imp.load(ctx); err != nil {
			return err
		}
		bad := false
		seen := map[lineKey]int{} // line number of each (student, item) in this file
		err := rows(func(in billing.BillInput) error {
			st.Rows++
			stuID, ok := imp.students[in.StudentNo]
			if !ok {
				problem(in.Line, "学号", fmt.Sprintf("学号 %s 不在本校学生名单中，请先导入学生", in.StudentNo))
				bad = true
				return nil
			}
			itemID, err := imp.item(ctx, in.Project, in.Item)
			if err != nil {
				return err
			}
			k := lineKey{stuID, itemID}
			if first, dup := seen[k]; dup {
				// A second row for the same line would be applied against
				// the first row's state (a new line is not inserted yet),
				// leaving line and journal in disagreement: refuse it.
				problem(in.Line, "收费项目", fmt.Sprintf("收费明细重复：学号 %s 的「%s / %s」已在第 %d 行出现", in.StudentNo, in.Project, in.Item, first))
				bad = true
				return nil
			}
			seen[k] = in.Line
			old, exists := imp.lines[k]
			switch {
			case !exists:
				st.Created++
				imp.lines[k] = lineState{amount: in.Amount, mandatory: in.Mandatory}
				imp.delta[stuID] += in.Amount
				return imp.queue(ctx, stuID, itemID, in)
			case old.amount == in.Amount && old.mandatory == in.Mandatory:
				st.Unchanged++
				return nil
			case old.amount != in.Amount && (old.paid > 0 || old.held):
				why := "已缴费"
				if old.paid == 0 {
					why = "有待支付订单"
				}
				problem(in.Line, "应缴金额", fmt.Sprintf("学号 %s 的「%s / %s」%s，不能把金额从 %s 改为 %s；如需调整请走退费或减免流程",
					in.StudentNo, in.Project, in.Item, why, old.amount.Yuan(), in.Amount.Yuan()))
				bad = true
				return nil
			default:
				st.Updated++
				imp.adjust[stuID] += in.Amount - old.amount
				old.amount, old.mandatory = in.Amount, in.Mandatory
				imp.lines[k] = old
				// Guarded: the lines are locked since load, but a change of
				// amount must never reach a paid or held line.
				res, err := tx.exec(ctx, `UPDATE bill_lines SET amount=$1, mandatory=$2, updated_at=$3 WHERE id=$4
					AND (amount = $1 OR (paid = 0 AND NOT EXISTS (SELECT 1 FROM line_holds h WHERE h.line_id = bill_lines.id)))`,
					int64(in.Amount), in.Mandatory, ms(tx.now), old.id)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					problem(in.Line, "应缴金额", fmt.Sprintf("学号 %s 的「%s / %s」刚刚有缴费或待支付订单，请稍后重新导入", in.StudentNo, in.Project, in.Item))
					bad = true
				}
				return nil
			}
		})
		if err != nil {
			return err
		}
		if bad {
			return errProblems
		}
		if err := imp.flush(ctx); err != nil {
			return err
		}
		if imp.batchStmt != nil {
			imp.batchStmt.Close()
		}
		return imp.postJournal(ctx, ref)
	})
	if err == errProblems {
		err = nil // problems were reported through the callback; the caller refuses the file
	}
	return st, err
}

var errProblems = fmt.Errorf("store: import has problems")

type billImport struct {
	tx       *Tx
	schoolID int64
	students map[string]int64
	projects map[string]int64
	items    map[[2]string]int64
	lines    map[lineKey]lineState
	delta    map[int64]money.Fen // new lines, per student
	adjust   map[int64]money.Fen // changed amounts on unpaid lines, per student
	pending  []any

	batchStmt  *sql.Stmt
	batchBound bound
}

func (b *billImport) load(ctx context.Context) error {
	b.students = map[string]int64{}
	r, err := b.tx.query(ctx, `SELECT id, student_no FROM students WHERE school_id=$1`, b.schoolID)
	if err != nil {
		return err
	}
	for r.Next() {
		var id int64
		var no string
		if err := r.Scan(&id, &no); err != nil {
			r.Close()
			return err
		}
		b.students[no] = id
	}
	r.Close()
	r, err = b.tx.query(ctx, `SELECT p.name, i.name, i.id, p.id FROM items i JOIN projects p ON p.id = i.project_id WHERE p.school_id=$1`, b.schoolID)
	if err != nil {
		return err
	}
	for r.Next() {
		var pn, in string
		var iid, pid int64
		if err := r.Scan(&pn, &in, &iid, &pid); err != nil {
			r.Close()
			return err
		}
		b.items[[2]string{pn, in}] = iid
		b.projects[pn] = pid
	}
	r.Close()
	r, err = b.tx.query(ctx, `SELECT p.name, p.id FROM projects p WHERE p.school_id=$1`, b.schoolID)
	if err != nil {
		return err
	}
	for r.Next() {
		var pn string
		var pid int64
		if err := r.Scan(&pn, &pid); err != nil {
			r.Close()
			return err
		}
		b.projects[pn] = pid
	}
	r.Close()
	b.lines = map[lineKey]lineState{}
	r, err = b.tx.query(ctx, `SELECT l.id, l.student_id, l.item_id, l.amount, l.paid, l.mandatory,
		EXISTS (SELECT 1 FROM line_holds h WHERE h.line_id = l.id)
		FROM bill_lines l JOIN students s ON s.id = l.student_id WHERE s.school_id=$1`+b.tx.lockLines(), b.schoolID)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		var ls lineState
		var k lineKey
		var amount, paid int64
		if err := r.Scan(&ls.id, &k.student, &k.item, &amount, &paid, &ls.mandatory, &ls.held); err != nil {
			return err
		}
		ls.amount, ls.paid = money.Fen(amount), money.Fen(paid)
		b.lines[k] = ls
	}
	return r.Err()
}

func (b *billImport) item(ctx context.Context, project, item string) (int64, error) {
	if id, ok := b.items[[2]string{project, item}]; ok {
		return id, nil
	}
	pid, ok := b.projects[project]
	if !ok {
		var err error
		pid, err = b.tx.insertID(ctx, `INSERT INTO projects (school_id, name) VALUES ($1,$2)`, b.schoolID, project)
		if err != nil {
			return 0, err
		}
		b.projects[project] = pid
	}
	id, err := b.tx.insertID(ctx, `INSERT INTO items (project_id, name) VALUES ($1,$2)`, pid, item)
	if err != nil {
		return 0, err
	}
	b.items[[2]string{project, item}] = id
	return id, nil
}

const lineBatch = 500

func (b *billImport) queue(ctx context.Context, student, item int64, in billing.BillInput) error {
	b.pending = append(b.pending, student, item, int64(in.Amount), in.Mandatory)
	if len(b.pending) >= 4*lineBatch {
		return b.flush(ctx)
	}
	return nil
}

// flush inserts queued new lines with multi-row INSERTs; a full batch
// reuses one prepared statement, so SQL is parsed once per import.
func (b *billImport) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	n := len(b.pending) / 4
	args := make([]any, 0, len(b.pending)+1)
	args = append(args, ms(b.tx.now))
	args = append(args, b.pending...)
	b.pending = b.pending[:0]
	q := lineInsertSQL(n)
	if n != lineBatch {
		_, err := b.tx.exec(ctx, q, args...)
		return err
	}
	if b.batchStmt == nil {
		bq := bound{q: q}
		if b.tx.dialect == SQLite {
			bq = rebind(q)
		}
		st, err := b.tx.tx.PrepareContext(ctx, bq.q)
		if err != nil {
			return err
		}
		b.batchStmt, b.batchBound = st, bq
	}
	if b.tx.dialect == SQLite {
		args = b.batchBound.args(args)
	}
	_, err := b.batchStmt.ExecContext(ctx, args...)
	return err
}

// lineInsertSQL is a multi-row INSERT of n new lines; $1 is the time.
// Its text depends on n only, so the statement caches stay small.
func lineInsertSQL(n int) string {
	q := []byte("INSERT INTO bill_lines (student_id, item_id, amount, mandatory, created_at, updated_at) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			q = append(q, ',')
		}
		q = fmt.Appendf(q, "($%d,$%d,$%d,$%d,$1,$1)", 4*i+2, 4*i+3, 4*i+4, 4*i+5)
	}
	return string(q)
}

// postJournal posts the file's net effect: one bill entry for new lines
// and one adjustment entry for changed amounts, each with a posting per
// student's receivable against the school's revenue.
func (b *billImport) postJournal(ctx context.Context, ref string) error {
	if err := b.postDeltas(ctx, journal.KindBill, ref, "账单导入", b.delta); err != nil {
		return err
	}
	return b.postDeltas(ctx, journal.KindAdjust, ref, "未缴账单金额调整", b.adjust)
}

func (b *billImport) postDeltas(ctx context.Context, kind, ref, memo string, delta map[int64]money.Fen) error {
	ids := make([]int64, 0, len(delta))
	for id, d := range delta {
		if d != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	e := journal.Entry{SchoolID: b.schoolID, Kind: kind, Ref: ref, Memo: memo}
	var total money.Fen
	for _, id := range ids {
		e.Postings = append(e.Postings, journal.Posting{Account: journal.Receivable(id), Amount: delta[id]})
		total += delta[id]
	}
	if total != 0 {
		e.Postings = append(e.Postings, journal.Posting{Account: journal.Revenue(b.schoolID), Amount: -total})
	} else if len(e.Postings) < 2 {
		return nil
	}
	return b.tx.post(ctx, e)
}

// Lines returns a student's bill lines in board order (project, then item).
func (s *Store) Lines(ctx context.Context, studentID int64) ([]billing.Line, error) {
	return linesOf(ctx, s.x(), studentID, "")
}

// queryer is *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func linesOf(ctx context.Context, db queryer, studentID int64, suffix string) ([]billing.Line, error) {
	rows, err := db.QueryContext(ctx, `SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory
		FROM bill_lines l JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
		WHERE l.student_id = $1 ORDER BY p.id, i.id`+suffix, studentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []billing.Line
	for rows.Next() {
		var l billing.Line
		var amount, paid int64
		if err := rows.Scan(&l.ID, &l.StudentID, &l.ProjectID, &l.ProjectName, &l.ItemID, &l.ItemName, &amount, &paid, &l.Mandatory); err != nil {
			return nil, err
		}
		l.Amount, l.Paid = money.Fen(amount), money.Fen(paid)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Holds returns the holds on a student's lines.
func (s *Store) Holds(ctx context.Context, studentID int64) ([]billing.Hold, error) {
	return holdsOf(ctx, s.x(), studentID)
}

func holdsOf(ctx context.Context, db queryer, studentID int64) ([]billing.Hold, error) {
	rows, err := db.QueryContext(ctx, `SELECT h.line_id, o.order_no, h.until_at FROM line_holds h
		JOIN orders o ON o.id = h.order_id JOIN bill_lines l ON l.id = h.line_id WHERE l.student_id = $1`, studentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []billing.Hold
	for rows.Next() {
		var h billing.Hold
		var until int64
		if err := rows.Scan(&h.LineID, &h.OrderNo, &until); err != nil {
			return nil, err
		}
		h.Until = fromMS(until)
		out = append(out, h)
	}
	return out, rows.Err()
}
