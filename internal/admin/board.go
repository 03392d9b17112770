package admin

import (
	"context"
	"sort"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/payment"
)

// refreshBudget is how long one look at the board may spend bringing the
// summary up to date: no bound (0), so the board is always exact. A term
// start's payments take milliseconds; a whole school's import, a few
// seconds once, paid by the import itself (ConfirmImport, GenerateBills).
const refreshBudget = 0

// ChartHours is how far back the payments chart reaches.
const ChartHours = 72

// BoardView is the collection board of a school under a filter.
type BoardView struct {
	School   billing.School
	Filter   board.Filter
	Figures  board.Figures
	Projects []Project // every project, for the filter
	Grades   []string  // every grade, major and class, for the filter
	Majors   []string
	Classes  []string
	Hours    []Hour // the last ChartHours hours, oldest first, empty hours included
	At       time.Time
}

// Board reads the collection board: due, paid, outstanding, students and
// students paid in full, by project, grade, major and class, under f; and
// the payments per hour of the last three days.
func (s *Service) Board(ctx context.Context, p Principal, schoolID int64, f board.Filter) (BoardView, error) {
	sc, err := s.school(ctx, p, PermViewBoard, schoolID)
	if err != nil {
		return BoardView{}, err
	}
	if err := s.st.RefreshBoard(ctx, refreshBudget); err != nil {
		return BoardView{}, err
	}
	v := BoardView{School: sc, Filter: f, At: s.cfg.Now()}
	cells, err := s.st.BoardCells(ctx, schoolID)
	if err != nil {
		return v, err
	}
	if v.Projects, err = s.st.FeeProjects(ctx, schoolID); err != nil {
		return v, err
	}
	names := map[int64]string{}
	for _, pr := range v.Projects {
		names[pr.ID] = pr.Name
	}
	v.Figures = board.Compute(cells, f, names)
	sort.SliceStable(v.Figures.ByProject, func(i, j int) bool {
		return projectOrder(v.Projects, v.Figures.ByProject[i].ProjectID) < projectOrder(v.Projects, v.Figures.ByProject[j].ProjectID)
	})
	g, m, c := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, cell := range cells {
		if cell.ProjectID == board.AllProjects {
			g[cell.Grade], m[cell.Major], c[cell.Class] = true, true, true
		}
	}
	v.Grades, v.Majors, v.Classes = keys(g), keys(m), keys(c)
	v.Hours, err = s.hours(ctx, schoolID, v.At)
	return v, err
}

func projectOrder(ps []Project, id int64) int {
	for i, p := range ps {
		if p.ID == id {
			return i
		}
	}
	return len(ps)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hours fills the last ChartHours hours, empty ones included.
func (s *Service) hours(ctx context.Context, schoolID int64, now time.Time) ([]Hour, error) {
	end := now.UTC().Truncate(time.Hour)
	start := end.Add(-(ChartHours - 1) * time.Hour)
	got, err := s.st.BoardHours(ctx, schoolID, start)
	if err != nil {
		return nil, err
	}
	by := map[int64]Hour{}
	for _, h := range got {
		by[h.Start.UTC().UnixMilli()] = h
	}
	out := make([]Hour, 0, ChartHours)
	for t := start; !t.After(end); t = t.Add(time.Hour) {
		h := by[t.UnixMilli()]
		h.Start = t
		out = append(out, h)
	}
	return out, nil
}

// ---- one student ----

// SearchStudents finds a school's students by 学号, 姓名 or phone.
func (s *Service) SearchStudents(ctx context.Context, p Principal, schoolID int64, q string) ([]StudentRow, error) {
	if _, err := s.school(ctx, p, PermViewStudents, schoolID); err != nil {
		return nil, err
	}
	if q == "" || len(q) > 64 {
		return nil, nil
	}
	if err := s.st.RefreshBoard(ctx, refreshBudget); err != nil {
		return nil, err
	}
	return s.st.SearchStudents(ctx, schoolID, q, 50)
}

// OrderView is an order with every attempt and answer the channel gave
// (its events, oldest first).
type OrderView struct {
	payment.Order
	Events []payment.Event
}

// Adjustment is a waiver, deferral or loan offset on a student's line
// (SPEC Appendix B): ID is its request's, Status the request's State.
type Adjustment struct {
	ID        int64
	Kind      string
	ItemName  string
	Amount    int64
	Reason    string
	Status    string
	CreatedAt time.Time
	// PayableFrom is a deferral's first payable day; Requester who asked.
	PayableFrom time.Time
	Requester   string
}

// StudentView is everything about one student the finance office answers
// a parent's call with.
type StudentView struct {
	School      billing.School
	Student     billing.Student
	Lines       []billing.Line
	Holds       []billing.Hold
	Orders      []OrderView
	Journal     []JournalLine
	Bindings    []Binding
	Adjustments []Adjustment
	// Requests are the money requests about the student (adjustments,
	// refunds, allocations), newest first; Money is each order that is
	// not open with what may still be refunded of it.
	Requests  []Request
	Money     map[string]payment.OrderMoney
	Locked    bool
	LockedFor time.Duration
	// InitialPassword says the student has not yet set a password of
	// their own (R5); the hash itself is never handed out.
	InitialPassword bool
}

// Student reads one student's page by 学号: bills, orders with their
// attempts, journal entries, bindings, adjustments and login lock state.
func (s *Service) Student(ctx context.Context, p Principal, schoolID int64, studentNo string) (StudentView, error) {
	sc, err := s.school(ctx, p, PermViewStudents, schoolID)
	if err != nil {
		return StudentView{}, err
	}
	v := StudentView{School: sc}
	if v.Student, err = s.student(ctx, schoolID, studentNo); err != nil {
		return v, err
	}
	v.InitialPassword = v.Student.PasswordHash == "" || v.Student.MustChangePassword
	v.Student.PasswordHash = ""
	id := v.Student.ID
	if v.Lines, v.Holds, err = s.st.LinesAndHolds(ctx, id); err != nil {
		return v, err
	}
	orders, err := s.st.Orders(ctx, id)
	if err != nil {
		return v, err
	}
	for _, o := range orders {
		ev, err := s.st.OrderEvents(ctx, o.OrderNo)
		if err != nil {
			return v, err
		}
		v.Orders = append(v.Orders, OrderView{Order: o, Events: ev})
	}
	if v.Journal, err = s.st.StudentJournal(ctx, id); err != nil {
		return v, err
	}
	if s.cfg.Bindings != nil {
		if v.Bindings, err = s.cfg.Bindings(ctx, id); err != nil {
			return v, err
		}
	}
	if s.cfg.Locks != nil {
		v.Locked, v.LockedFor = s.cfg.Locks.LoginLock(sc.Code, studentNo)
	}
	if p.Can(PermViewMoney, schoolID) {
		if err := s.studentMoney(ctx, &v); err != nil {
			return v, err
		}
	}
	return v, nil
}

func (s *Service) student(ctx context.Context, schoolID int64, no string) (billing.Student, error) {
	st, err := s.st.StudentByNo(ctx, schoolID, no)
	if isNotFound(err) {
		return st, errStudentNotFound
	}
	return st, err
}

// UnlockStudent clears a student's login lockout (this server's throttle).
func (s *Service) UnlockStudent(ctx context.Context, p Principal, schoolID int64, studentNo string) error {
	sc, err := s.school(ctx, p, PermUnlockStudent, schoolID)
	if err != nil {
		return err
	}
	if _, err := s.student(ctx, schoolID, studentNo); err != nil {
		return err
	}
	locked := false
	if s.cfg.Locks != nil {
		locked, _ = s.cfg.Locks.LoginLock(sc.Code, studentNo)
	}
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		_, err := tx.Audit(ctx, record(p, ActUnlock, "student:"+studentNo, schoolID, map[string]bool{"locked": locked}, map[string]bool{"locked": false}))
		return err
	})
	if err == nil && s.cfg.Locks != nil {
		s.cfg.Locks.UnlockLogin(sc.Code, studentNo)
	}
	return err
}
