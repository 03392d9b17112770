package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestSchema(t *testing.T) {
	t.Run("every_query_of_the_dialect's_set_prepares_on_its_engine", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			if err := s.CheckQueries(ctx); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("migrations_apply_twice_harmlessly", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			before := snap(t, s)
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("second migrate: %v", err)
			}
			sameSnap(t, s, before)
			if got := x.lines(t, 0)[storetest.ItemTuition].Amount; got != storetest.Tuition {
				t.Errorf("tuition after second migrate = %v", got)
			}
		})
	})
	for _, table := range []string{"journal_postings", "journal_entries"} {
		for _, stmt := range []string{"UPDATE " + table + " SET memo = memo", "DELETE FROM " + table} {
			if table == "journal_postings" {
				stmt = strings.Replace(stmt, "memo = memo", "amount = amount", 1)
			}
			t.Run("the_journal_refuses_"+strings.ReplaceAll(stmt, " ", "_"), func(t *testing.T) {
				storetest.Each(t, func(t *testing.T, s *store.Store) {
					seed(t, s)
					before := snap(t, s)
					if _, err := s.DB().ExecContext(ctx, stmt); err == nil {
						t.Fatalf("%s succeeded on an append-only journal", stmt)
					} else if !strings.Contains(err.Error(), "append-only") {
						t.Errorf("%s failed for another reason: %v", stmt, err)
					}
					sameSnap(t, s, before)
				})
			})
		}
	}
}

func TestCreateSchool(t *testing.T) {
	t.Run("a_duplicate_code_is_refused_with_school_exists", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			sc := billing.School{Code: "D1", Name: "甲校", RegionCode: "110000", RegionName: "北京市", Policy: billing.DefaultPolicy()}
			if _, err := s.CreateSchool(ctx, sc); err != nil {
				t.Fatal(err)
			}
			sc.Name = "乙校"
			_, err := s.CreateSchool(ctx, sc)
			if code := apperr.CodeOf(err); code != "school_exists" {
				t.Fatalf("duplicate school: code %q (%v), want school_exists", code, err)
			}
			got, err := s.SchoolByCode(ctx, "D1")
			if err != nil || got.Name != "甲校" {
				t.Errorf("the first school changed: %+v %v", got, err)
			}
		})
	})
	t.Run("SchoolByCode_round-trips_the_policy", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			for _, p := range []billing.Policy{
				billing.DefaultPolicy(),
				{InitialPassword: "654321", LockMinutes: 15, MandatoryFirst: false, OneProjectPerOrder: false,
					HelpLine: "023-12345678", HelpHours: "工作日", RecommendedBanks: []string{"中国银行"}, Channels: []string{"wechat"}},
			} {
				code := "P" + p.InitialPassword
				made, err := s.CreateSchool(ctx, billing.School{Code: code, Name: "校" + code, RegionCode: "500000", RegionName: "重庆市", Policy: p})
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.SchoolByCode(ctx, code)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, made) {
					t.Errorf("round trip:\n got  %+v\n want %+v", got, made)
				}
			}
			if _, err := s.SchoolByCode(ctx, "nope"); apperr.CodeOf(err) != "not_found" {
				t.Errorf("unknown school: %v", err)
			}
		})
	})
}

func TestImportStudents(t *testing.T) {
	roll := storetest.SeedStudents
	importRoll := func(t *testing.T, s *store.Store, schoolID int64, rows []billing.StudentInput) billing.ImportStats {
		t.Helper()
		st, err := s.ImportStudents(ctx, schoolID, storetest.Rows(rows))
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		return st
	}
	students := func(t *testing.T, s *store.Store, schoolID int64) []billing.Student {
		t.Helper()
		var out []billing.Student
		for _, in := range roll {
			st, err := s.StudentByNo(ctx, schoolID, in.StudentNo)
			if err != nil {
				t.Fatalf("student %s: %v", in.StudentNo, err)
			}
			out = append(out, st)
		}
		return out
	}
	newSchool := func(t *testing.T, s *store.Store) int64 {
		sc, err := s.CreateSchool(ctx, billing.School{Code: "R1", Name: "名册校", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		return sc.ID
	}
	cases := []struct {
		name string
		run  func(t *testing.T, s *store.Store, schoolID int64)
	}{
		{"new_students_are_created_with_the_initial_password_rule", func(t *testing.T, s *store.Store, id int64) {
			st := importRoll(t, s, id, roll)
			if st != (billing.ImportStats{Rows: 3, Created: 3}) {
				t.Errorf("stats %+v", st)
			}
			for i, got := range students(t, s, id) {
				if got.Name != roll[i].Name || got.Phone != roll[i].Phone || got.IDCard != roll[i].IDCard || !got.MustChangePassword || got.PasswordHash != "" {
					t.Errorf("student %d: %+v", i, got)
				}
			}
		}},
		{"a_re-import_of_the_same_roll_is_all_unchanged_and_changes_nothing", func(t *testing.T, s *store.Store, id int64) {
			_, move := storetest.FixedClock(s, time.Now())
			importRoll(t, s, id, roll)
			before := students(t, s, id)
			var updated int64
			if err := s.DB().QueryRowContext(ctx, `SELECT SUM(updated_at) FROM students`).Scan(&updated); err != nil {
				t.Fatal(err)
			}
			move(time.Minute) // a change now would carry another time
			again := make([]billing.StudentInput, len(roll))
			for i, r := range roll {
				r.Line = 100 + i // line numbers are not data
				again[i] = r
			}
			st := importRoll(t, s, id, again)
			if st != (billing.ImportStats{Rows: 3, Unchanged: 3}) {
				t.Errorf("stats %+v", st)
			}
			if after := students(t, s, id); !reflect.DeepEqual(after, before) {
				t.Errorf("students changed:\n%+v\n%+v", before, after)
			}
			var updated2 int64
			if err := s.DB().QueryRowContext(ctx, `SELECT SUM(updated_at) FROM students`).Scan(&updated2); err != nil {
				t.Fatal(err)
			}
			if updated2 != updated {
				t.Errorf("updated_at moved on an identical import")
			}
			if n, _ := s.CountStudents(ctx, id); n != 3 {
				t.Errorf("%d students", n)
			}
		}},
		{"a_changed_name_is_an_update", func(t *testing.T, s *store.Store, id int64) {
			importRoll(t, s, id, roll)
			changed := append([]billing.StudentInput(nil), roll...)
			changed[1].Name = "李思"
			st := importRoll(t, s, id, changed)
			if st != (billing.ImportStats{Rows: 3, Updated: 1, Unchanged: 2}) {
				t.Errorf("stats %+v", st)
			}
			if got := students(t, s, id)[1]; got.Name != "李思" || got.StudentNo != roll[1].StudentNo {
				t.Errorf("student after update: %+v", got)
			}
		}},
		{"a_rows_callback_returning_an_error_applies_nothing", func(t *testing.T, s *store.Store, id int64) {
			importRoll(t, s, id, roll[:2])
			var before []billing.Student
			for _, in := range roll[:2] {
				st, err := s.StudentByNo(ctx, id, in.StudentNo)
				if err != nil {
					t.Fatal(err)
				}
				before = append(before, st)
			}
			boom := errors.New("row 4: bad cell")
			_, err := s.ImportStudents(ctx, id, func(yield func(billing.StudentInput) error) error {
				changed := roll[0]
				changed.Name = "张叁"
				for _, r := range []billing.StudentInput{changed, roll[1], roll[2]} {
					if err := yield(r); err != nil {
						return err
					}
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want the callback's error", err)
			}
			if n, _ := s.CountStudents(ctx, id); n != 2 {
				t.Errorf("%d students after a failed import, want 2", n)
			}
			for i, b := range before {
				got, err := s.StudentByNo(ctx, id, b.StudentNo)
				if err != nil || !reflect.DeepEqual(got, b) {
					t.Errorf("student %d changed by a failed import: %+v %v", i, got, err)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) { c.run(t, s, newSchool(t, s)) })
		})
	}
}

type problem struct {
	line   int
	column string
	reason string
}

func importBills(t *testing.T, x *seeded, ref string, rows []billing.BillInput) (billing.ImportStats, []problem) {
	t.Helper()
	var probs []problem
	st, err := x.s.ImportBills(ctx, x.school.ID, ref, storetest.Rows(rows), func(line int, col, reason string) {
		probs = append(probs, problem{line, col, reason})
	})
	if err != nil {
		t.Fatalf("import bills: %v", err)
	}
	return st, probs
}

// withAmount returns the seed bills with one line's amount changed.
func withAmount(student int, item string, amount money.Fen) []billing.BillInput {
	rows := storetest.SeedBills()
	for i, r := range rows {
		if r.StudentNo == storetest.SeedStudents[student].StudentNo && r.Item == item {
			rows[i].Amount = amount
		}
	}
	return rows
}

func TestImportBills(t *testing.T) {
	nSeed := len(storetest.SeedBills())
	cases := []struct {
		name string
		run  func(t *testing.T, x *seeded)
	}{
		{"new_lines_post_the_receivable", func(t *testing.T, x *seeded) {
			journalOK(t, x.s)
			for i := range x.students {
				var sum money.Fen
				for _, l := range x.lines(t, i) {
					sum += l.Amount
				}
				if got := receivable(t, x, i); got != sum || sum != storetest.SeedTotal {
					t.Errorf("student %d: receivable %v, lines %v, want %v", i, got, sum, storetest.SeedTotal)
				}
			}
			if got := balance(t, x.s, journal.Revenue(x.school.ID)); got != -3*storetest.SeedTotal {
				t.Errorf("revenue %v", got)
			}
			if n := count(t, x.s, "bill_lines"); n != nSeed {
				t.Errorf("%d lines", n)
			}
			l := x.lines(t, 0)
			if !l[storetest.ItemTuition].Mandatory || !l[storetest.ItemDorm].Mandatory || l[storetest.ItemUpgrade].Mandatory || l[storetest.ItemBooks].Mandatory {
				t.Errorf("mandatory flags wrong: %+v", l)
			}
		}},
		{"a_re-import_of_the_same_file_is_unchanged_and_posts_nothing", func(t *testing.T, x *seeded) {
			before := snap(t, x.s)
			st, probs := importBills(t, x, "again", storetest.SeedBills())
			if st != (billing.ImportStats{Rows: nSeed, Unchanged: nSeed}) || len(probs) > 0 {
				t.Errorf("stats %+v, problems %v", st, probs)
			}
			sameSnap(t, x.s, before)
		}},
		{"a_changed_amount_on_an_unpaid_line_is_updated_with_an_adjustment", func(t *testing.T, x *seeded) {
			before := snap(t, x.s)
			st, probs := importBills(t, x, "raise", withAmount(0, storetest.ItemDorm, 150000))
			if st != (billing.ImportStats{Rows: nSeed, Updated: 1, Unchanged: nSeed - 1}) || len(probs) > 0 {
				t.Errorf("stats %+v, problems %v", st, probs)
			}
			if got := x.lines(t, 0)[storetest.ItemDorm].Amount; got != 150000 {
				t.Errorf("dorm amount %v", got)
			}
			if got := receivable(t, x, 0); got != storetest.SeedTotal+30000 {
				t.Errorf("receivable %v", got)
			}
			if got := count(t, x.s, "journal_entries"); got != before.entries+1 {
				t.Errorf("entries %d → %d, want one adjustment", before.entries, got)
			}
			var kind string
			if err := x.s.DB().QueryRow(`SELECT kind FROM journal_entries ORDER BY id DESC LIMIT 1`).Scan(&kind); err != nil || kind != "adjust" {
				t.Errorf("last entry kind %q (%v), want adjust", kind, err)
			}
			journalOK(t, x.s)
			// and back down
			importBills(t, x, "lower", withAmount(0, storetest.ItemDorm, 100000))
			if got := receivable(t, x, 0); got != storetest.SeedTotal-20000 {
				t.Errorf("receivable after lowering %v", got)
			}
			journalOK(t, x.s)
		}},
		{"an_unknown_student_is_a_problem_with_its_line_number_and_nothing_is_applied", func(t *testing.T, x *seeded) {
			before := snap(t, x.s)
			rows := withAmount(1, storetest.ItemDorm, 130000)
			rows = append(rows,
				billing.BillInput{Line: 40, StudentNo: "2025001", Project: "新项目", Item: "新子项", Amount: 100, Mandatory: false},
				billing.BillInput{Line: 41, StudentNo: "9999999", Project: storetest.ProjectFees, Item: storetest.ItemTuition, Amount: storetest.Tuition, Mandatory: true})
			_, probs := importBills(t, x, "bad", rows)
			if len(probs) != 1 || probs[0].line != 41 || !strings.Contains(probs[0].reason, "9999999") {
				t.Fatalf("problems %+v, want one on line 41 naming the student", probs)
			}
			sameSnap(t, x.s, before)
			if got := x.lines(t, 1)[storetest.ItemDorm].Amount; got != storetest.Dorm {
				t.Errorf("dorm changed to %v by a refused file", got)
			}
			if n := count(t, x.s, "projects"); n != 2 {
				t.Errorf("%d projects after a refused file", n)
			}
		}},
		{"a_changed_amount_on_a_paid_line_is_a_problem_and_nothing_is_applied", func(t *testing.T, x *seeded) {
			x.pay(t, 0, storetest.ItemTuition, storetest.ItemDorm)
			before := snap(t, x.s)
			rows := withAmount(0, storetest.ItemTuition, 600000)
			rows = withAmountIn(rows, 1, storetest.ItemDorm, 130000)
			_, probs := importBills(t, x, "paid", rows)
			if len(probs) != 1 || !strings.Contains(probs[0].reason, "已缴费") || probs[0].line == 0 {
				t.Fatalf("problems %+v, want one about the paid line", probs)
			}
			sameSnap(t, x.s, before)
			if l := x.lines(t, 0)[storetest.ItemTuition]; l.Amount != storetest.Tuition || l.Paid != storetest.Tuition {
				t.Errorf("paid line changed: %+v", l)
			}
			if got := x.lines(t, 1)[storetest.ItemDorm].Amount; got != storetest.Dorm {
				t.Errorf("another line changed by a refused file: %v", got)
			}
			journalOK(t, x.s)
		}},
		{"a_changed_amount_on_a_line_held_by_an_open_order_is_a_problem", func(t *testing.T, x *seeded) {
			x.order(t, 0, storetest.ItemTuition, storetest.ItemDorm)
			before := snap(t, x.s)
			_, probs := importBills(t, x, "held", withAmount(0, storetest.ItemDorm, 130000))
			if len(probs) != 1 || !strings.Contains(probs[0].reason, "待支付订单") {
				t.Fatalf("problems %+v, want one about the open order", probs)
			}
			sameSnap(t, x.s, before)
		}},
		{"a_file_of_several_bulk_batches_is_all_or_nothing", func(t *testing.T, x *seeded) {
			// More new lines than one COPY (PostgreSQL) or one multi-row
			// INSERT (SQLite) carries: the batches already sent must be
			// undone when a later line is refused.
			var rows []billing.BillInput
			for i := 0; len(rows) <= 10_200; i++ {
				for _, st := range storetest.SeedStudents {
					rows = append(rows, billing.BillInput{Line: len(rows) + 2, StudentNo: st.StudentNo, Project: "杂费", Item: fmt.Sprintf("子项%04d", i), Amount: money.Fen(100 + i)})
				}
			}
			bad := append(rows[:len(rows):len(rows)], billing.BillInput{Line: len(rows) + 2, StudentNo: "9999999", Project: "杂费", Item: "子项0000", Amount: 100})
			before := snap(t, x.s)
			_, probs := importBills(t, x, "big-bad", bad)
			if len(probs) != 1 || probs[0].line != len(rows)+2 {
				t.Fatalf("problems %+v, want one on the last line", probs)
			}
			sameSnap(t, x.s, before)
			if n := count(t, x.s, "bill_lines"); n != nSeed {
				t.Fatalf("%d lines after a refused file, want %d", n, nSeed)
			}
			st, probs := importBills(t, x, "big", rows)
			if len(probs) > 0 || st.Created != len(rows) {
				t.Fatalf("stats %+v, problems %v", st, probs)
			}
			if n := count(t, x.s, "bill_lines"); n != nSeed+len(rows) {
				t.Errorf("%d lines, want %d", n, nSeed+len(rows))
			}
			var want money.Fen
			for _, r := range rows {
				if r.StudentNo == storetest.SeedStudents[0].StudentNo {
					want += r.Amount
				}
			}
			if got := receivable(t, x, 0); got != storetest.SeedTotal+want {
				t.Errorf("receivable %v, want %v", got, storetest.SeedTotal+want)
			}
			journalOK(t, x.s)
		}},
		{"the_same_line_twice_in_one_file_keeps_the_journal_sound", func(t *testing.T, x *seeded) {
			// The importer refuses such files; the store must still never
			// let lines and journal disagree if handed one.
			rows := []billing.BillInput{
				{Line: 2, StudentNo: "2025001", Project: "补缴", Item: "体检费", Amount: 8000},
				{Line: 3, StudentNo: "2025001", Project: "补缴", Item: "体检费", Amount: 9000},
			}
			before := snap(t, x.s)
			_, probs := importBills(t, x, "dup", rows)
			if len(probs) != 1 || probs[0].line != 3 {
				t.Errorf("problems %+v, want one on line 3", probs)
			}
			sameSnap(t, x.s, before)
			journalOK(t, x.s)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) { c.run(t, seed(t, s)) })
		})
	}
}

func withAmountIn(rows []billing.BillInput, student int, item string, amount money.Fen) []billing.BillInput {
	for i, r := range rows {
		if r.StudentNo == storetest.SeedStudents[student].StudentNo && r.Item == item {
			rows[i].Amount = amount
		}
	}
	return rows
}
