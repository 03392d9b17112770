package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func appendAudit(t *testing.T, s *store.Store, chain int64, action string) audit.Record {
	t.Helper()
	var out audit.Record
	err := s.AdminUpdate(ctx, func(tx admin.Tx) error {
		var err error
		out, err = tx.Audit(ctx, audit.Record{Chain: chain, Actor: "t", Role: "admin", Action: action, Target: "x", SchoolID: chain})
		return err
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

func walk(t *testing.T, s *store.Store, chain int64) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := s.WalkAudit(ctx, chain, func(r audit.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuditLog(t *testing.T) {
	t.Run("appenders_racing_on_two_chains_number_each_chain_1_to_n_and_every_row_links", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			storetest.Race(16, func(i int) { appendAudit(t, s, int64(1+i%2), fmt.Sprint("a.", i)) })
			heads, err := s.AuditChains(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []int64{1, 2} {
				rows := walk(t, s, c)
				chk := &audit.Checker{Chain: c}
				for _, r := range rows {
					if b := chk.Next(r); b != nil {
						t.Fatalf("chain %d: %v", c, b)
					}
				}
				if b := chk.End(heads[c].Seq, heads[c].Hash); b != nil || len(rows) != 8 {
					t.Fatalf("chain %d: %d rows, end %v", c, len(rows), b)
				}
			}
		})
	})
	t.Run("the_log_refuses_updates_and_deletes", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			appendAudit(t, s, 1, "a")
			for _, stmt := range []string{"UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"} {
				if _, err := s.DB().ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: %v, want refused as append-only", stmt, err)
				}
			}
		})
	})
	t.Run("a_filtered_page_is_newest_first", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			for _, a := range []string{"staff.login", "policy.update", "staff.login", "fees.item"} {
				appendAudit(t, s, 3, a)
			}
			got, err := s.AuditRecords(ctx, admin.AuditQuery{Chain: 3, Action: "staff."})
			if err != nil || len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 1 {
				t.Fatalf("page %+v %v", got, err)
			}
			got, err = s.AuditRecords(ctx, admin.AuditQuery{Chain: 3, BeforeID: 3, Limit: 1})
			if err != nil || len(got) != 1 || got[0].Seq != 2 {
				t.Fatalf("second page %+v %v", got, err)
			}
		})
	})
}

func TestSealJournal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		seed(t, s) // the seed's bill import posts journal entries
		var from, to int64
		sealed, err := s.SealJournal(ctx, func(f, tt int64) (func(admin.Tx) error, error) {
			from, to = f, tt
			return func(tx admin.Tx) error {
				_, err := tx.Audit(ctx, audit.Record{Chain: 0, Actor: "system", Action: audit.ActionSeal})
				return err
			}, nil
		})
		if err != nil || !sealed || from != 0 || to < 1 {
			t.Fatalf("first seal: %v %v (%d, %d]", sealed, err, from, to)
		}
		var n int
		if err := s.WalkJournal(ctx, from, to, func(e journal.Entry, _ time.Time) error {
			if e.Check() != nil {
				t.Errorf("walked entry %d does not balance: %+v", e.ID, e)
			}
			n++
			return nil
		}); err != nil || n != int(to-from) {
			t.Fatalf("walked %d entries of (%d, %d]: %v", n, from, to, err)
		}
		again, err := s.SealJournal(ctx, func(int64, int64) (func(admin.Tx) error, error) { t.Error("sealed nothing new"); return nil, nil })
		if err != nil || again {
			t.Fatalf("second seal with nothing new: %v %v", again, err)
		}
		if u, err := s.UnsealedEntries(ctx); err != nil || u != 0 {
			t.Errorf("unsealed %d %v", u, err)
		}
		// A seal that fails leaves the cursor where it was.
		x := seed2(t, s)
		boom := errors.New("boom")
		if _, err := s.SealJournal(ctx, func(int64, int64) (func(admin.Tx) error, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("failing seal: %v", err)
		}
		if _, err := s.SealJournal(ctx, func(int64, int64) (func(admin.Tx) error, error) {
			return func(admin.Tx) error { return boom }, nil
		}); !errors.Is(err, boom) {
			t.Fatalf("failing seal write: %v", err)
		}
		if u, _ := s.UnsealedEntries(ctx); u == 0 {
			t.Errorf("a failed seal advanced the cursor (school %d)", x)
		}
		// The digest runs outside any transaction: other writes go on
		// while the journal is read (on SQLite a transaction holding the
		// writer while it waits for the pool stalled a whole server).
		sealed, err = s.SealJournal(ctx, func(int64, int64) (func(admin.Tx) error, error) {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := s.InTx(wctx, func(*store.Tx) error { return nil }); err != nil {
				return nil, fmt.Errorf("a write during the digest: %w", err)
			}
			return func(admin.Tx) error { return nil }, nil
		})
		if err != nil || !sealed {
			t.Fatalf("seal with a write during its digest: %v %v", sealed, err)
		}
	})
}

// seed2 adds a second school with one billed student, and returns its id.
func seed2(t *testing.T, s *store.Store) int64 {
	t.Helper()
	sc, err := s.CreateSchool(ctx, billing.School{Code: "S0002", Name: "第二学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportStudents(ctx, sc.ID, storetest.Rows([]billing.StudentInput{{StudentNo: "B1", Name: "赵六", Grade: "2026", Major: "建工", Class: "建工1班"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportBills(ctx, sc.ID, "s2", storetest.Rows([]billing.BillInput{{Line: 2, StudentNo: "B1", Project: "学费", Item: "学费", Amount: 650000, Mandatory: true}}), func(int, string, string) {}); err != nil {
		t.Fatal(err)
	}
	return sc.ID
}

// recount computes every school's cells from the bill lines themselves.
func recount(t *testing.T, s *store.Store) map[board.CellKey]board.Cell {
	t.Helper()
	rows, err := s.DB().QueryContext(ctx, `SELECT l.student_id, st.school_id, st.grade, st.major, st.class_name, i.project_id, SUM(l.amount), SUM(l.paid)
		FROM bill_lines l JOIN students st ON st.id = l.student_id JOIN items i ON i.id = l.item_id
		GROUP BY l.student_id, st.school_id, st.grade, st.major, st.class_name, i.project_id ORDER BY l.student_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type stu struct {
		school int64
		c      board.Cohort
		ps     []board.ProjectSum
	}
	by := map[int64]*stu{}
	for rows.Next() {
		var id, school, project, due, paid int64
		var c board.Cohort
		if err := rows.Scan(&id, &school, &c.Grade, &c.Major, &c.Class, &project, &due, &paid); err != nil {
			t.Fatal(err)
		}
		if by[id] == nil {
			by[id] = &stu{school: school, c: c}
		}
		by[id].ps = append(by[id].ps, board.ProjectSum{ProjectID: project, Due: money.Fen(due), Paid: money.Fen(paid)})
	}
	out := map[board.CellKey]board.Cell{}
	for id, st := range by {
		for k, c := range board.Diff(nil, board.StudentSums(id, st.school, st.c, st.ps)) {
			o := out[k]
			o.Due, o.Paid, o.Students, o.PaidInFull = o.Due+c.Due, o.Paid+c.Paid, o.Students+c.Students, o.PaidInFull+c.PaidInFull
			out[k] = o
		}
	}
	return out
}

func stored(t *testing.T, s *store.Store, schools ...int64) map[board.CellKey]board.Cell {
	t.Helper()
	out := map[board.CellKey]board.Cell{}
	for _, sc := range schools {
		cells, err := s.BoardCells(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cells {
			if c.Cell != (board.Cell{}) {
				out[c.CellKey] = c.Cell
			}
		}
	}
	return out
}

func TestBoardSummary(t *testing.T) {
	t.Run("after_imports_payments_amount_changes_and_a_class_move_the_cells_equal_a_recount", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			other := seed2(t, s)
			check := func(when string) {
				t.Helper()
				if err := s.RefreshBoard(ctx, time.Minute); err != nil {
					t.Fatal(err)
				}
				if got, want := stored(t, s, x.school.ID, other), recount(t, s); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s:\n stored %v\n recount %v", when, got, want)
				}
			}
			check("after the imports")
			ls := x.lines(t, 0)
			if _, err := s.DB().ExecContext(ctx, `UPDATE bill_lines SET paid = amount, updated_at = $1 WHERE id IN ($2, $3)`,
				time.Date(2026, 8, 28, 9, 30, 0, 0, time.UTC).UnixMilli(), ls[storetest.ItemTuition].ID, ls[storetest.ItemDorm].ID); err != nil {
				t.Fatal(err)
			}
			check("after a payment")
			if _, err := s.ImportBills(ctx, x.school.ID, "again", storetest.Rows([]billing.BillInput{{Line: 2, StudentNo: "2025002",
				Project: storetest.ProjectExtra, Item: storetest.ItemBooks, Amount: 30000}}), func(int, string, string) {}); err != nil {
				t.Fatal(err)
			}
			check("after an amount change")
			in := storetest.SeedStudents[2]
			in.Class = "会计2班"
			if _, err := s.ImportStudents(ctx, x.school.ID, storetest.Rows([]billing.StudentInput{in})); err != nil {
				t.Fatal(err)
			}
			check("after a class move")
			hours, err := s.BoardHours(ctx, x.school.ID, time.Date(2026, 8, 28, 0, 0, 0, 0, time.UTC))
			if err != nil || len(hours) != 1 || hours[0].Amount != storetest.Tuition+storetest.Dorm || hours[0].Payments != 1 ||
				!hours[0].Start.Equal(time.Date(2026, 8, 28, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("hours %+v %v", hours, err)
			}
		})
	})
	t.Run("refreshes_racing_with_payments_end_exact", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			var ids []int64
			for i := range x.students {
				for _, l := range x.lines(t, i) {
					ids = append(ids, l.ID)
				}
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := s.RefreshBoard(ctx, time.Minute); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			storetest.Race(len(ids), func(i int) {
				err := s.AdminUpdate(ctx, func(tx admin.Tx) error { return nil }) // a transaction beside
				if err == nil {
					_, err = s.DB().ExecContext(ctx, `UPDATE bill_lines SET paid = amount, updated_at = $1 WHERE id = $2`, int64(1000+i), ids[i])
				}
				if err != nil {
					t.Error(err)
				}
			})
			close(stop)
			wg.Wait()
			if err := s.RefreshBoard(ctx, time.Minute); err != nil {
				t.Fatal(err)
			}
			got, want := stored(t, s, x.school.ID), recount(t, s)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stored %v\nrecount %v", got, want)
			}
			var full int
			for k, c := range got {
				if k.ProjectID == board.AllProjects {
					full += c.PaidInFull
				}
			}
			if full != len(x.students) {
				t.Errorf("%d students paid in full, want all %d", full, len(x.students))
			}
		})
	})
}

func TestImportWithAfter(t *testing.T) {
	t.Run("an_error_from_after_undoes_the_whole_import_and_reports_what_it_would_do", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			before := snap(t, s)
			dry := errors.New("dry run")
			st, err := s.ImportBillsWith(ctx, x.school.ID, "dry", storetest.Rows([]billing.BillInput{
				{Line: 2, StudentNo: "2025001", Project: "新项目", Item: "体检费", Amount: 8000},
				{Line: 3, StudentNo: "2025002", Project: storetest.ProjectFees, Item: storetest.ItemTuition, Amount: storetest.Tuition, Mandatory: true},
			}), func(int, string, string) {}, func(admin.Tx, billing.ImportStats) error { return dry })
			if !errors.Is(err, dry) || st.Created != 1 || st.Unchanged != 1 {
				t.Fatalf("dry run: %+v %v", st, err)
			}
			sameSnap(t, s, before)
			if n := storetest.Count(t, s, "projects", "name = $1", "新项目"); n != 0 {
				t.Errorf("the dry run left a project")
			}
		})
	})
}

func TestStaff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		add := func(username string, school int64, role admin.Role) error {
			return s.AdminUpdate(ctx, func(tx admin.Tx) error {
				st := admin.Staff{SchoolID: school, Username: username, Role: role, PasswordHash: "h", TOTPSecret: "S"}
				return tx.InsertStaff(ctx, &st, []string{"r1", "r2"})
			})
		}
		if err := add("cw_li", x.school.ID, admin.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := add("cw_li", x.school.ID, admin.RoleClerk); apperr.CodeOf(err) != admin.CodeStaffExists {
			t.Errorf("second cw_li: %v, want staff_exists", err)
		}
		if err := add("ops", 0, admin.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if err := add("bad", 0, admin.RoleClerk); err == nil {
			t.Error("a clerk without a school was stored")
		}
		st, err := s.StaffByUsername(ctx, "cw_li")
		if err != nil || st.SchoolCode != storetest.SchoolCode || st.Role != admin.RoleAdmin || st.SchoolID != x.school.ID {
			t.Fatalf("staff %+v %v", st, err)
		}
		ops, err := s.StaffList(ctx, 0)
		if err != nil || len(ops) != 1 || ops[0].Username != "ops" {
			t.Errorf("operators %+v %v", ops, err)
		}
		var used [3]bool
		err = s.AdminUpdate(ctx, func(tx admin.Tx) error {
			var err error
			if used[0], err = tx.UseTOTPStep(ctx, st.ID, 100); err != nil {
				return err
			}
			if used[1], err = tx.UseTOTPStep(ctx, st.ID, 100); err != nil {
				return err
			}
			used[2], err = tx.UseRecoveryCode(ctx, st.ID, "r1")
			return err
		})
		if err != nil || used != [3]bool{true, false, true} {
			t.Errorf("step 100 once, recovery r1 once: %v %v", used, err)
		}
	})
}

func TestFeeOrder(t *testing.T) {
	t.Run("a_project_and_an_item_moved_first_come_first_on_the_student's_board", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			ps, err := s.FeeProjects(ctx, x.school.ID)
			if err != nil || len(ps) != 2 || ps[0].Name != storetest.ProjectFees {
				t.Fatalf("projects %+v %v", ps, err)
			}
			extra := ps[1]
			insure := extra.Items[1]
			if insure.Name != storetest.ItemInsure {
				t.Fatalf("items %+v", extra.Items)
			}
			err = s.AdminUpdate(ctx, func(tx admin.Tx) error {
				extra.Sort, insure.Sort = -1, -1
				if err := tx.SaveProject(ctx, x.school.ID, &extra); err != nil {
					return err
				}
				return tx.SaveItem(ctx, x.school.ID, &insure, false)
			})
			if err != nil {
				t.Fatal(err)
			}
			ls, err := s.Lines(ctx, x.students[0].ID)
			if err != nil || len(ls) != 5 || ls[0].ItemName != storetest.ItemInsure || ls[1].ItemName != storetest.ItemBooks || ls[2].ProjectName != storetest.ProjectFees {
				t.Errorf("lines in board order: %v", func() []string {
					var out []string
					for _, l := range ls {
						out = append(out, l.ProjectName+"/"+l.ItemName)
					}
					return out
				}())
			}
			// Another school's project is not found through this school.
			other := seed2(t, s)
			err = s.AdminUpdate(ctx, func(tx admin.Tx) error { return tx.SaveProject(ctx, other, &extra) })
			if apperr.CodeOf(err) != apperr.CodeNotFound {
				t.Errorf("saving school 1's project as school %d's: %v", other, err)
			}
		})
	})
}
