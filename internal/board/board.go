// Package board is the finance office's collection board (SPEC §7): what is
// due, paid and outstanding, how many students owe and how many have paid
// in full, by project, grade, major and class.
//
// Summing 250,000 bill lines on every look is too slow, so the store keeps
// a summary that this package computes: per student and project (project
// 0: all projects) the amounts due and paid (Sum), and per cell — school,
// project and cohort (grade, major, class) — the totals and the counts of
// students and of students paid in full. Every change of a bill line or of
// a student's cohort leaves a mark in the same transaction (a trigger);
// the store's refresh takes the marks, recomputes those students' sums from
// their lines (StudentSums) and applies the difference to the cells
// (Diff). The package is pure.
package board

import (
	"sort"
	"time"

	"campuspay/internal/money"
)

// AllProjects is the project id of a student's sums over every project.
const AllProjects int64 = 0

// Cohort is where a student is counted.
type Cohort struct {
	Grade, Major, Class string
}

// Sum is a student's due and paid for one project, or for AllProjects.
type Sum struct {
	StudentID int64
	ProjectID int64
	SchoolID  int64
	Cohort
	Due, Paid money.Fen
}

// Full reports whether the student owes nothing more on it.
func (s Sum) Full() bool { return s.Paid >= s.Due }

// CellKey names a cell of the summary.
type CellKey struct {
	SchoolID, ProjectID int64
	Cohort
}

// Cell is a cell's totals; as a difference, each field may be negative.
type Cell struct {
	Due, Paid            money.Fen
	Students, PaidInFull int
}

// ProjectSum is what one student's lines of one project add up to.
type ProjectSum struct {
	ProjectID int64
	Due, Paid money.Fen
}

// StudentSums builds a student's sums from the per-project totals of the
// student's lines: one per project with lines, and one for AllProjects.
// A student without lines has none.
func StudentSums(studentID, schoolID int64, c Cohort, projects []ProjectSum) []Sum {
	if len(projects) == 0 {
		return nil
	}
	all := Sum{StudentID: studentID, ProjectID: AllProjects, SchoolID: schoolID, Cohort: c}
	out := make([]Sum, 0, len(projects)+1)
	for _, p := range projects {
		out = append(out, Sum{StudentID: studentID, ProjectID: p.ProjectID, SchoolID: schoolID, Cohort: c, Due: p.Due, Paid: p.Paid})
		all.Due += p.Due
		all.Paid += p.Paid
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProjectID < out[j].ProjectID })
	return append([]Sum{all}, out...)
}

// Diff is what replacing a student's old sums by new ones changes in the
// cells: the old sums are taken out of their cells, the new ones put into
// theirs. Cells left unchanged are omitted.
func Diff(old, new []Sum) map[CellKey]Cell {
	d := map[CellKey]Cell{}
	add := func(s Sum, sign int) {
		k := CellKey{SchoolID: s.SchoolID, ProjectID: s.ProjectID, Cohort: s.Cohort}
		c := d[k]
		c.Due += money.Fen(sign) * s.Due
		c.Paid += money.Fen(sign) * s.Paid
		c.Students += sign
		if s.Full() {
			c.PaidInFull += sign
		}
		d[k] = c
	}
	for _, s := range old {
		add(s, -1)
	}
	for _, s := range new {
		add(s, +1)
	}
	for k, c := range d {
		if c == (Cell{}) {
			delete(d, k)
		}
	}
	return d
}

// Mark is one change left by a trigger: whose lines changed, by how much
// the amount paid changed, and when.
type Mark struct {
	StudentID int64
	PaidDelta money.Fen
	At        time.Time
}

// HourKey names an hour of a school's payments.
type HourKey struct {
	SchoolID int64
	Hour     time.Time // the hour's start, UTC
}

// Hour is the money applied in an hour and the number of payments.
type Hour struct {
	Amount   money.Fen
	Payments int
}

// Hours sums marks by school and hour: the amount is the net change of
// paid; a payment is a (student, instant) at which paid grew — one
// transaction pays each order's lines at one instant. school gives each
// student's school; students it does not know are skipped.
func Hours(marks []Mark, school map[int64]int64) map[HourKey]Hour {
	out := map[HourKey]Hour{}
	seen := map[[2]int64]bool{}
	for _, m := range marks {
		if m.PaidDelta == 0 {
			continue
		}
		sc, ok := school[m.StudentID]
		if !ok {
			continue
		}
		k := HourKey{SchoolID: sc, Hour: m.At.UTC().Truncate(time.Hour)}
		h := out[k]
		h.Amount += m.PaidDelta
		if m.PaidDelta > 0 {
			p := [2]int64{m.StudentID, m.At.UnixMilli()}
			if !seen[p] {
				seen[p] = true
				h.Payments++
			}
		}
		out[k] = h
	}
	return out
}
