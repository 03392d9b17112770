package store

import (
	"context"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/board"
	"campuspay/internal/money"
)

// boardClaim is how many marks one refresh transaction takes: small
// enough that the transaction is short (on SQLite it holds the one
// writer, and payments wait behind it: 5,000 marks held it for about
// half a second, the p99 of order creation at 80 flows/s), large enough
// that a whole school's rebuild is not thousands of commits.
const boardClaim = 500

// RefreshBoard brings the board's summary up to date: it takes the marks
// that changes of bill lines and cohorts left (triggers, in the changes'
// own transactions), recomputes those students' sums from their lines and
// applies the differences to the cells and hours, a batch per
// transaction, until no mark is left or budget (when > 0) has passed.
//
// It is exact under concurrent payments: a payment's mark commits with
// the payment, so a refresh either reads the payment's lines or leaves its
// mark for the next; a refresh deletes only the marks it read, and a sum
// recomputed twice is the same sum. Refreshers take turns (an advisory
// lock on PostgreSQL, the write lock on SQLite); payments never wait for
// them on PostgreSQL and only for one batch's write on SQLite.
func (s *Store) RefreshBoard(ctx context.Context, budget time.Duration) error {
	var pending int
	if err := s.readRow(ctx, "board_pending", nil, &pending); err != nil || pending == 0 {
		return err
	}
	deadline := time.Now().Add(budget)
	for {
		n, err := s.refreshBoardOnce(ctx, boardClaim)
		if err != nil {
			return err
		}
		if n < boardClaim || (budget > 0 && time.Now().After(deadline)) {
			return nil
		}
	}
}

type boardStudentRow struct {
	S  int64  `json:"s"`
	P  int64  `json:"p"`
	SC int64  `json:"sc"`
	G  string `json:"g"`
	M  string `json:"m"`
	C  string `json:"c"`
	D  int64  `json:"d"`
	PD int64  `json:"pd"`
}

type boardCellRow struct {
	SC int64  `json:"sc"`
	P  int64  `json:"p"`
	G  string `json:"g"`
	M  string `json:"m"`
	C  string `json:"c"`
	D  int64  `json:"d"`
	PD int64  `json:"pd"`
	N  int    `json:"n"`
	F  int    `json:"f"`
}

type boardHourRow struct {
	SC int64 `json:"sc"`
	H  int64 `json:"h"`
	A  int64 `json:"a"`
	N  int   `json:"n"`
}

// refreshBoardOnce processes up to limit marks in one transaction and
// returns how many it took.
func (s *Store) refreshBoardOnce(ctx context.Context, limit int) (int, error) {
	taken := 0
	err := s.InTx(ctx, func(t *Tx) error {
		taken = 0
		if _, err := t.exec(ctx, "board_lock"); err != nil {
			return err
		}
		r, err := t.read(ctx, "board_claim", limit)
		if err != nil {
			return err
		}
		var marks []board.Mark
		ids := map[int64]bool{}
		if err := each(r, func(r rows) error {
			var m board.Mark
			var d, at int64
			err := r.Scan(&m.StudentID, &d, &at)
			m.PaidDelta, m.At = money.Fen(d), time.UnixMilli(at)
			marks = append(marks, m)
			ids[m.StudentID] = true
			return err
		}); err != nil {
			return err
		}
		taken = len(marks)
		if taken == 0 {
			return nil
		}
		list := make([]int64, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		idJSON, err := jsonText(list)
		if err != nil {
			return err
		}
		type attrs struct {
			school int64
			c      board.Cohort
		}
		who := map[int64]attrs{}
		if r, err = t.read(ctx, "board_student_attrs", idJSON); err != nil {
			return err
		}
		if err := each(r, func(r rows) error {
			var id int64
			var a attrs
			err := r.Scan(&id, &a.school, &a.c.Grade, &a.c.Major, &a.c.Class)
			who[id] = a
			return err
		}); err != nil {
			return err
		}
		sums := map[int64][]board.ProjectSum{}
		if r, err = t.read(ctx, "board_line_sums", idJSON); err != nil {
			return err
		}
		if err := each(r, func(r rows) error {
			var id int64
			var p board.ProjectSum
			var due, paid int64
			err := r.Scan(&id, &p.ProjectID, &due, &paid)
			p.Due, p.Paid = money.Fen(due), money.Fen(paid)
			sums[id] = append(sums[id], p)
			return err
		}); err != nil {
			return err
		}
		old := map[int64][]board.Sum{}
		if r, err = t.read(ctx, "board_old_sums", idJSON); err != nil {
			return err
		}
		if err := each(r, func(r rows) error {
			var o board.Sum
			var due, paid int64
			err := r.Scan(&o.StudentID, &o.ProjectID, &o.SchoolID, &o.Grade, &o.Major, &o.Class, &due, &paid)
			o.Due, o.Paid = money.Fen(due), money.Fen(paid)
			old[o.StudentID] = append(old[o.StudentID], o)
			return err
		}); err != nil {
			return err
		}
		cells := map[board.CellKey]board.Cell{}
		var fresh []boardStudentRow
		schoolOf := map[int64]int64{}
		for _, id := range list {
			var next []board.Sum
			if a, ok := who[id]; ok {
				schoolOf[id] = a.school
				next = board.StudentSums(id, a.school, a.c, sums[id])
			}
			for k, c := range board.Diff(old[id], next) {
				x := cells[k]
				x.Due, x.Paid, x.Students, x.PaidInFull = x.Due+c.Due, x.Paid+c.Paid, x.Students+c.Students, x.PaidInFull+c.PaidInFull
				cells[k] = x
			}
			for _, n := range next {
				fresh = append(fresh, boardStudentRow{S: n.StudentID, P: n.ProjectID, SC: n.SchoolID, G: n.Grade, M: n.Major, C: n.Class,
					D: int64(n.Due), PD: int64(n.Paid)})
			}
		}
		t.write("board_students_delete", anyRows, idJSON)
		if len(fresh) > 0 {
			b, err := jsonText(fresh)
			if err != nil {
				return err
			}
			t.write("board_students_insert", int64(len(fresh)), b)
		}
		var cellRows []boardCellRow
		for k, c := range cells {
			if c == (board.Cell{}) {
				continue
			}
			cellRows = append(cellRows, boardCellRow{SC: k.SchoolID, P: k.ProjectID, G: k.Grade, M: k.Major, C: k.Class,
				D: int64(c.Due), PD: int64(c.Paid), N: c.Students, F: c.PaidInFull})
		}
		if len(cellRows) > 0 {
			b, err := jsonText(cellRows)
			if err != nil {
				return err
			}
			t.write("board_cells_apply", anyRows, b)
			t.write("board_cells_prune", anyRows)
		}
		var hourRows []boardHourRow
		for k, h := range board.Hours(marks, schoolOf) {
			hourRows = append(hourRows, boardHourRow{SC: k.SchoolID, H: k.Hour.UnixMilli(), A: int64(h.Amount), N: h.Payments})
		}
		if len(hourRows) > 0 {
			b, err := jsonText(hourRows)
			if err != nil {
				return err
			}
			t.write("board_hours_apply", anyRows, b)
		}
		return nil
	})
	return taken, err
}

// BoardCells reads a school's cells.
func (s *Store) BoardCells(ctx context.Context, schoolID int64) ([]board.CellRow, error) {
	r, err := s.read(ctx, "board_cells_of_school", schoolID)
	if err != nil {
		return nil, err
	}
	var out []board.CellRow
	err = each(r, func(r rows) error {
		c := board.CellRow{CellKey: board.CellKey{SchoolID: schoolID}}
		var due, paid int64
		err := r.Scan(&c.ProjectID, &c.Grade, &c.Major, &c.Class, &due, &paid, &c.Students, &c.PaidInFull)
		c.Due, c.Paid = money.Fen(due), money.Fen(paid)
		out = append(out, c)
		return err
	})
	return out, s.translate(err)
}

// BoardHours reads a school's payments per hour since a time.
func (s *Store) BoardHours(ctx context.Context, schoolID int64, since time.Time) ([]admin.Hour, error) {
	r, err := s.read(ctx, "board_hours_of_school", schoolID, ms(since))
	if err != nil {
		return nil, err
	}
	var out []admin.Hour
	err = each(r, func(r rows) error {
		var h admin.Hour
		var at, amount int64
		err := r.Scan(&at, &amount, &h.Payments)
		h.Start, h.Amount = time.UnixMilli(at), money.Fen(amount)
		out = append(out, h)
		return err
	})
	return out, s.translate(err)
}
