package board

import (
	"sort"

	"campuspay/internal/money"
)

// CellRow is one stored cell.
type CellRow struct {
	CellKey
	Cell
}

// Filter narrows the board; zero fields do not filter.
type Filter struct {
	ProjectID           int64
	Grade, Major, Class string
}

func (f Filter) keeps(c Cohort) bool {
	return (f.Grade == "" || c.Grade == f.Grade) && (f.Major == "" || c.Major == f.Major) && (f.Class == "" || c.Class == f.Class)
}

// Row is one line of a breakdown.
type Row struct {
	ProjectID  int64
	Name       string
	Grade      string
	Major      string
	Due        money.Fen
	Paid       money.Fen
	Students   int
	PaidInFull int
}

// Outstanding is what is still owed.
func (r Row) Outstanding() money.Fen { return r.Due - r.Paid }

// Figures are the board's numbers under a filter.
type Figures struct {
	Total     Row
	ByProject []Row
	ByGrade   []Row
	ByMajor   []Row
	ByClass   []Row
}

// Compute sums the cells the filter keeps. The totals and the breakdowns
// by grade, major and class count students over every project, or over
// the filtered project only; the breakdown by project counts each
// project's own students.
func Compute(cells []CellRow, f Filter, projectNames map[int64]string) Figures {
	var out Figures
	grades, majors, classes, projects := map[string]*Row{}, map[string]*Row{}, map[Cohort]*Row{}, map[int64]*Row{}
	add := func(r *Row, c Cell) {
		r.Due += c.Due
		r.Paid += c.Paid
		r.Students += c.Students
		r.PaidInFull += c.PaidInFull
	}
	for _, c := range cells {
		if !f.keeps(c.Cohort) {
			continue
		}
		if c.ProjectID != AllProjects {
			if f.ProjectID == 0 || c.ProjectID == f.ProjectID {
				r, ok := projects[c.ProjectID]
				if !ok {
					r = &Row{ProjectID: c.ProjectID, Name: projectNames[c.ProjectID]}
					projects[c.ProjectID] = r
				}
				add(r, c.Cell)
			}
		}
		if c.ProjectID != f.ProjectID { // AllProjects when no project is chosen
			continue
		}
		add(&out.Total, c.Cell)
		for _, g := range []struct {
			m   map[string]*Row
			key string
		}{{grades, c.Grade}, {majors, c.Major}} {
			r, ok := g.m[g.key]
			if !ok {
				r = &Row{Name: g.key}
				g.m[g.key] = r
			}
			add(r, c.Cell)
		}
		r, ok := classes[c.Cohort]
		if !ok {
			r = &Row{Name: c.Class, Grade: c.Grade, Major: c.Major}
			classes[c.Cohort] = r
		}
		add(r, c.Cell)
	}
	out.Total.Name = "合计"
	out.ByGrade, out.ByMajor = sorted(grades), sorted(majors)
	for _, r := range classes {
		out.ByClass = append(out.ByClass, *r)
	}
	sort.Slice(out.ByClass, func(i, j int) bool {
		a, b := out.ByClass[i], out.ByClass[j]
		if a.Grade != b.Grade {
			return a.Grade < b.Grade
		}
		if a.Major != b.Major {
			return a.Major < b.Major
		}
		return a.Name < b.Name
	})
	for _, r := range projects {
		out.ByProject = append(out.ByProject, *r)
	}
	sort.Slice(out.ByProject, func(i, j int) bool { return out.ByProject[i].ProjectID < out.ByProject[j].ProjectID })
	return out
}

func sorted(m map[string]*Row) []Row {
	out := make([]Row, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
