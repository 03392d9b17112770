package store

import (
	"context"
	"errors"
	"strings"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

type lineKey struct{ student, item int64 }

// ImportBills applies a bill import in one transaction. billing decides
// each row (DecideBillRow); the store loads what it decides from, writes
// the result and posts the file's journal entries (billing.ImportEntries).
// If rows returns an error or any problem was reported, nothing is
// applied.
func (s *Store) ImportBills(ctx context.Context, schoolID int64, ref string, input func(yield func(billing.BillInput) error) error, problem billing.Problem) (billing.ImportStats, error) {
	return s.importBills(ctx, schoolID, ref, input, problem, nil)
}

// importBills is ImportBills with after, when set, run in the import's
// transaction once every row is applied and posted (its error undoes it).
func (s *Store) importBills(ctx context.Context, schoolID int64, ref string, input func(yield func(billing.BillInput) error) error,
	problem billing.Problem, after func(*Tx, billing.ImportStats) error) (billing.ImportStats, error) {
	var st billing.ImportStats
	err := s.InTx(ctx, func(tx *Tx) error {
		st = billing.ImportStats{}
		if ref == "" {
			ref = "import:" + tx.now.UTC().Format("20060102T150405.000")
		}
		imp := &billImport{tx: tx, schoolID: schoolID, delta: map[int64]money.Fen{}, adjust: map[int64]money.Fen{},
			projects: map[string]int64{}, items: map[[2]string]int64{}}
		if err := imp.load(ctx); err != nil {
			return err
		}
		bad := false
		seen := map[lineKey]int{} // line number of each (student, item) in this file
		err := input(func(in billing.BillInput) error {
			st.Rows++
			stuID, known := imp.students[in.StudentNo]
			var k lineKey
			var existing *billing.ExistingLine
			first := 0
			if known {
				itemID, err := imp.item(ctx, in.Project, in.Item)
				if err != nil {
					return err
				}
				k = lineKey{stuID, itemID}
				first = seen[k]
				if _, dup := seen[k]; !dup {
					seen[k] = in.Line
				}
				if l, ok := imp.lines[k]; ok {
					existing = &l
				}
			}
			d := billing.DecideBillRow(in, known, existing, first)
			switch d.Action {
			case billing.RowRefused:
				problem(in.Line, d.Column, d.Reason)
				bad = true
			case billing.RowCreate:
				st.Created++
				imp.lines[k] = billing.ExistingLine{Amount: in.Amount, Mandatory: in.Mandatory}
				imp.delta[stuID] += in.Amount
				return imp.queue(ctx, stuID, k.item, in)
			case billing.RowUnchanged:
				st.Unchanged++
			case billing.RowUpdate:
				st.Updated++
				imp.adjust[stuID] += in.Amount - existing.Amount
				existing.Amount, existing.Mandatory = in.Amount, in.Mandatory
				imp.lines[k] = *existing
				// Guarded: the lines are locked since load, but a change of
				// amount must never reach a paid or held line.
				n, err := tx.exec(ctx, "line_update_amount", int64(in.Amount), in.Mandatory, ms(tx.now), existing.ID)
				if err != nil {
					return err
				}
				if n != 1 {
					problem(in.Line, billing.ColumnAmount, billing.RaceReason(in))
					bad = true
				}
			}
			return nil
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
		for _, e := range billing.ImportEntries(schoolID, ref, imp.delta, imp.adjust) {
			tx.Post(e)
		}
		if after != nil {
			return after(tx, st)
		}
		return nil
	})
	if errors.Is(err, errProblems) {
		return st, nil // problems were reported through the callback; the caller refuses the file
	}
	if err == nil && st.Created > 0 {
		_, err = s.exec(ctx, "analyze_import")
	}
	return st, err
}

var errProblems = errors.New("store: import has problems")

type billImport struct {
	tx       *Tx
	schoolID int64
	students map[string]int64
	projects map[string]int64
	items    map[[2]string]int64
	lines    map[lineKey]billing.ExistingLine
	delta    map[int64]money.Fen // new lines, per student
	adjust   map[int64]money.Fen // changed amounts on unpaid lines, per student
	pending  []any
}

func (b *billImport) load(ctx context.Context) error {
	b.students = map[string]int64{}
	r, err := b.tx.read(ctx, "import_students", b.schoolID)
	if err != nil {
		return err
	}
	if err := each(r, func(r rows) error {
		var id int64
		var no string
		err := r.Scan(&id, &no)
		b.students[no] = id
		return err
	}); err != nil {
		return err
	}
	r, err = b.tx.read(ctx, "import_items", b.schoolID)
	if err != nil {
		return err
	}
	if err := each(r, func(r rows) error {
		var pn, in string
		var iid, pid int64
		err := r.Scan(&pn, &in, &iid, &pid)
		b.items[[2]string{pn, in}] = iid
		b.projects[pn] = pid
		return err
	}); err != nil {
		return err
	}
	r, err = b.tx.read(ctx, "import_projects", b.schoolID)
	if err != nil {
		return err
	}
	if err := each(r, func(r rows) error {
		var pn string
		var pid int64
		err := r.Scan(&pn, &pid)
		b.projects[pn] = pid
		return err
	}); err != nil {
		return err
	}
	b.lines = map[lineKey]billing.ExistingLine{}
	r, err = b.tx.read(ctx, "import_lines_lock", b.schoolID)
	if err != nil {
		return err
	}
	return each(r, func(r rows) error {
		var l billing.ExistingLine
		var k lineKey
		var amount, paid, lowered int64
		err := r.Scan(&l.ID, &k.student, &k.item, &amount, &paid, &l.Mandatory, &l.Held, &lowered)
		l.Amount, l.Paid, l.Lowered = money.Fen(amount), money.Fen(paid), money.Fen(lowered)
		b.lines[k] = l
		return err
	})
}

func (b *billImport) item(ctx context.Context, project, item string) (int64, error) {
	if id, ok := b.items[[2]string{project, item}]; ok {
		return id, nil
	}
	pid, ok := b.projects[project]
	if !ok {
		if err := b.tx.readRow(ctx, "project_insert", []any{b.schoolID, project}, &pid); err != nil {
			return 0, err
		}
		b.projects[project] = pid
	}
	var id int64
	if err := b.tx.readRow(ctx, "item_insert", []any{pid, item}, &id); err != nil {
		return 0, err
	}
	b.items[[2]string{project, item}] = id
	return id, nil
}

// lineBatch is how many new lines one generated INSERT carries; a COPY
// carries copyBatch.
const (
	lineBatch = 500
	copyBatch = 10000
)

var lineColumns = []string{"student_id", "item_id", "amount", "mandatory", "created_at", "updated_at"}

func (b *billImport) queue(ctx context.Context, student, item int64, in billing.BillInput) error {
	b.pending = append(b.pending, student, item, int64(in.Amount), in.Mandatory)
	batch := lineBatch
	if _, ok := b.tx.c.(bulkLoader); ok {
		batch = copyBatch
	}
	if len(b.pending) >= 4*batch {
		return b.flush(ctx)
	}
	return nil
}

// flush writes the queued new lines: by COPY where the engine has it
// (PostgreSQL), else as one multi-row INSERT whose text depends on the
// number of rows only, so a full batch is prepared once per import.
func (b *billImport) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	n := len(b.pending) / 4
	if bl, ok := b.tx.c.(bulkLoader); ok {
		now := ms(b.tx.now)
		rows := make([][]any, 0, n)
		for i := 0; i < len(b.pending); i += 4 {
			p := b.pending[i : i+4 : i+4]
			rows = append(rows, append(p, now, now))
		}
		b.tx.writes++
		got, err := bl.copyRows(ctx, "bill_lines", lineColumns, rows)
		b.pending = b.pending[:0]
		if err == nil && got != int64(n) {
			err = &errRowCount{Name: "copy bill_lines", Want: int64(n), Got: got}
		}
		return err
	}
	args := make([]any, 0, len(b.pending)+n*2)
	now := ms(b.tx.now)
	for i := 0; i < len(b.pending); i += 4 {
		args = append(args, b.pending[i:i+4]...)
		args = append(args, now, now)
	}
	b.pending = b.pending[:0]
	b.tx.writes++
	b.tx.c.queue("lines_insert", b.tx.s.linesInsertSQL(n), int64(n), args...)
	return b.tx.flush(ctx)
}

// linesInsertSQL is a multi-row INSERT of n new bill lines, generated in
// the dialect's parameter style (see engine.param).
func (s *Store) linesInsertSQL(n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO bill_lines (student_id, item_id, amount, mandatory, created_at, updated_at) VALUES ")
	p := 1
	for i := 0; i < n; i++ {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for j := 0; j < 6; j++ {
			if j > 0 {
				q.WriteByte(',')
			}
			q.WriteString(s.eng.param(p))
			p++
		}
		q.WriteByte(')')
	}
	return q.String()
}

// Lines returns a student's bill lines in board order (project, then item).
func (s *Store) Lines(ctx context.Context, studentID int64) ([]billing.Line, error) {
	r, err := s.read(ctx, "lines_of_student", studentID)
	if err != nil {
		return nil, err
	}
	lines, err := scanLines(r)
	return lines, s.translate(err)
}

func scanLines(r rows) ([]billing.Line, error) {
	var out []billing.Line
	err := each(r, func(r rows) error {
		l, err := scanLine(r)
		out = append(out, l)
		return err
	})
	return out, err
}

// scanLine scans a bill line's columns (lines_of_student's) followed by
// extra ones.
func scanLine(r rows, extra ...any) (billing.Line, error) {
	var l billing.Line
	var amount, paid, waived, refunded, loan, deferred int64
	err := r.Scan(append([]any{&l.ID, &l.StudentID, &l.ProjectID, &l.ProjectName, &l.ItemID, &l.ItemName, &amount, &paid, &l.Mandatory,
		&waived, &refunded, &loan, &deferred}, extra...)...)
	l.Amount, l.Paid = money.Fen(amount), money.Fen(paid)
	l.Waived, l.Refunded, l.Loan, l.DeferredUntil = money.Fen(waived), money.Fen(refunded), money.Fen(loan), fromMS(deferred)
	return l, err
}

// Holds returns the holds on a student's lines.
func (s *Store) Holds(ctx context.Context, studentID int64) ([]billing.Hold, error) {
	_, holds, err := s.LinesAndHolds(ctx, studentID)
	return holds, err
}

// LinesAndHolds returns a student's lines in board order and the holds
// open orders keep on them, read in one statement.
func (s *Store) LinesAndHolds(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error) {
	r, err := s.read(ctx, "lines_holds_of_student", studentID)
	if err != nil {
		return nil, nil, err
	}
	lines, holds, err := scanLinesHolds(r)
	return lines, holds, s.translate(err)
}

func scanHolds(r rows) ([]billing.Hold, error) {
	var out []billing.Hold
	err := each(r, func(r rows) error {
		var h billing.Hold
		var until int64
		err := r.Scan(&h.LineID, &h.OrderNo, &until)
		h.Until = fromMS(until)
		out = append(out, h)
		return err
	})
	return out, err
}

// scanLinesHolds reads the rows of lines_holds_of_student: a line,
// then the order number and expiry of its hold ("" and 0 without one).
func scanLinesHolds(r rows) ([]billing.Line, []billing.Hold, error) {
	var lines []billing.Line
	var holds []billing.Hold
	err := each(r, func(r rows) error {
		var orderNo string
		var until int64
		l, err := scanLine(r, &orderNo, &until)
		lines = append(lines, l)
		if orderNo != "" {
			holds = append(holds, billing.Hold{LineID: l.ID, OrderNo: orderNo, Until: fromMS(until)})
		}
		return err
	})
	return lines, holds, err
}
