package board

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"campuspay/internal/money"
)

// line is a bill line in the property test's model.
type line struct {
	student, project int64
	due, paid        money.Fen
}

// fromScratch computes every cell directly from the lines and cohorts.
func fromScratch(lines []line, cohort map[int64]Cohort) map[CellKey]Cell {
	per := map[int64]map[int64]*ProjectSum{}
	for _, l := range lines {
		if per[l.student] == nil {
			per[l.student] = map[int64]*ProjectSum{}
		}
		p := per[l.student][l.project]
		if p == nil {
			p = &ProjectSum{ProjectID: l.project}
			per[l.student][l.project] = p
		}
		p.Due += l.due
		p.Paid += l.paid
	}
	out := map[CellKey]Cell{}
	for st, ps := range per {
		var list []ProjectSum
		for _, p := range ps {
			list = append(list, *p)
		}
		for k, c := range Diff(nil, StudentSums(st, 1, cohort[st], list)) {
			o := out[k]
			o.Due, o.Paid, o.Students, o.PaidInFull = o.Due+c.Due, o.Paid+c.Paid, o.Students+c.Students, o.PaidInFull+c.PaidInFull
			out[k] = o
		}
	}
	for k, c := range out {
		if c == (Cell{}) {
			delete(out, k)
		}
	}
	return out
}

// TestDiffKeepsCellsEqualToARecount: after any sequence of new lines,
// payments, amount changes and cohort moves, applied student by student
// through StudentSums and Diff as the store's refresh does, the cells
// equal a recount from the lines.
func TestDiffKeepsCellsEqualToARecount(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cohorts := []Cohort{{"2025", "会计", "会计1班"}, {"2026", "建工", "建工1班"}, {"2026", "建工", "建工2班"}}
		cohort := map[int64]Cohort{}
		for st := int64(1); st <= 6; st++ {
			cohort[st] = cohorts[r.IntN(len(cohorts))]
		}
		var lines []line
		stored := map[int64][]Sum{}
		cells := map[CellKey]Cell{}
		refresh := func(st int64) {
			var ps []ProjectSum
			idx := map[int64]int{}
			for _, l := range lines {
				if l.student != st {
					continue
				}
				i, ok := idx[l.project]
				if !ok {
					i = len(ps)
					idx[l.project] = i
					ps = append(ps, ProjectSum{ProjectID: l.project})
				}
				ps[i].Due += l.due
				ps[i].Paid += l.paid
			}
			next := StudentSums(st, 1, cohort[st], ps)
			for k, c := range Diff(stored[st], next) {
				o := cells[k]
				o.Due, o.Paid, o.Students, o.PaidInFull = o.Due+c.Due, o.Paid+c.Paid, o.Students+c.Students, o.PaidInFull+c.PaidInFull
				if o == (Cell{}) {
					delete(cells, k)
				} else {
					cells[k] = o
				}
			}
			stored[st] = next
		}
		for step := 0; step < 60; step++ {
			st := int64(1 + r.IntN(6))
			switch op := r.IntN(4); {
			case op == 0 || len(lines) == 0:
				lines = append(lines, line{student: st, project: int64(1 + r.IntN(3)), due: money.Fen(100 * (1 + r.IntN(50)))})
			case op == 1:
				i := r.IntN(len(lines))
				lines[i].paid = lines[i].due // paid in full
				st = lines[i].student
			case op == 2:
				i := r.IntN(len(lines))
				if lines[i].paid == 0 {
					lines[i].due += money.Fen(100 * (r.IntN(5) - 2))
					if lines[i].due <= 0 {
						lines[i].due = 100
					}
				}
				st = lines[i].student
			default:
				cohort[st] = cohorts[r.IntN(len(cohorts))]
			}
			refresh(st)
			if want := fromScratch(lines, cohort); !reflect.DeepEqual(cells, want) {
				t.Fatalf("seed %d step %d: cells\n%v\nrecount\n%v", seed, step, cells, want)
			}
		}
	}
}

func TestCompute(t *testing.T) {
	c := func(project int64, co Cohort, due, paid money.Fen, students, full int) CellRow {
		return CellRow{CellKey{SchoolID: 1, ProjectID: project, Cohort: co}, Cell{due, paid, students, full}}
	}
	a := Cohort{"2026", "建工", "建工1班"}
	b := Cohort{"2026", "会计", "会计1班"}
	old := Cohort{"2025", "建工", "建工9班"}
	cells := []CellRow{
		c(0, a, 1400000, 700000, 2, 1), c(1, a, 1300000, 650000, 2, 1), c(2, a, 100000, 50000, 2, 1),
		c(0, b, 700000, 0, 1, 0), c(1, b, 650000, 0, 1, 0), c(2, b, 50000, 0, 1, 0),
		c(0, old, 600000, 600000, 1, 1), c(1, old, 600000, 600000, 1, 1),
	}
	names := map[int64]string{1: "学费住宿费", 2: "代收费"}
	f := Compute(cells, Filter{}, names)
	if f.Total.Due != 2700000 || f.Total.Paid != 1300000 || f.Total.Outstanding() != 1400000 || f.Total.Students != 4 || f.Total.PaidInFull != 2 {
		t.Errorf("totals %+v", f.Total)
	}
	if len(f.ByProject) != 2 || f.ByProject[0].Name != "学费住宿费" || f.ByProject[0].Due != 2550000 || f.ByProject[1].Students != 3 {
		t.Errorf("by project %+v", f.ByProject)
	}
	if len(f.ByGrade) != 2 || f.ByGrade[1].Name != "2026" || f.ByGrade[1].Students != 3 || f.ByGrade[1].PaidInFull != 1 {
		t.Errorf("by grade %+v", f.ByGrade)
	}
	if len(f.ByClass) != 3 || f.ByClass[0].Name != "建工9班" {
		t.Errorf("by class %+v", f.ByClass)
	}
	g := Compute(cells, Filter{ProjectID: 2, Grade: "2026"}, names)
	if g.Total.Due != 150000 || g.Total.Students != 3 || g.Total.PaidInFull != 1 || len(g.ByProject) != 1 || g.ByProject[0].ProjectID != 2 {
		t.Errorf("project 2 of 2026: %+v", g)
	}
	if h := Compute(cells, Filter{Class: "会计1班"}, names); h.Total.Students != 1 || h.Total.Paid != 0 || len(h.ByMajor) != 1 {
		t.Errorf("one class: %+v", h)
	}
}

func TestHours(t *testing.T) {
	at := time.Date(2026, 8, 28, 9, 15, 0, 0, time.UTC)
	marks := []Mark{
		{StudentID: 1, PaidDelta: 580000, At: at}, {StudentID: 1, PaidDelta: 120000, At: at}, // one order, two lines
		{StudentID: 2, PaidDelta: 5000, At: at.Add(50 * time.Minute)}, // the next hour
		{StudentID: 3, PaidDelta: 0, At: at},                          // a new line
		{StudentID: 9, PaidDelta: 100, At: at},                        // unknown student
	}
	h := Hours(marks, map[int64]int64{1: 5, 2: 5, 3: 5})
	nine, ten := HourKey{5, time.Date(2026, 8, 28, 9, 0, 0, 0, time.UTC)}, HourKey{5, time.Date(2026, 8, 28, 10, 0, 0, 0, time.UTC)}
	if len(h) != 2 || h[nine] != (Hour{700000, 1}) || h[ten] != (Hour{5000, 1}) {
		t.Errorf("hours %v", h)
	}
}
