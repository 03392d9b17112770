package admin_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/board"
	"campuspay/internal/importer"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestCan(t *testing.T) {
	// The table as the product states it: an auditor reads everything and
	// changes nothing; a clerk runs the day (board, students, imports,
	// exports) but sets up nothing; only an operator manages schools.
	changes := []admin.Perm{admin.PermUnlockStudent, admin.PermEditFees, admin.PermGenerateBills, admin.PermEditPolicy,
		admin.PermImport, admin.PermManageStaff, admin.PermManageSchools}
	for _, p := range changes {
		if admin.Can(admin.RoleAuditor, p) {
			t.Errorf("an auditor may %s", p)
		}
	}
	for _, p := range []admin.Perm{admin.PermViewBoard, admin.PermViewStudents, admin.PermViewFees, admin.PermViewImports,
		admin.PermExport, admin.PermViewAudit, admin.PermViewStaff} {
		if !admin.Can(admin.RoleAuditor, p) {
			t.Errorf("an auditor may not %s", p)
		}
	}
	for _, p := range []admin.Perm{admin.PermEditFees, admin.PermGenerateBills, admin.PermEditPolicy, admin.PermManageStaff, admin.PermViewAudit} {
		if admin.Can(admin.RoleClerk, p) {
			t.Errorf("a clerk may %s", p)
		}
	}
	for _, p := range admin.AllPerms {
		if !admin.Can(admin.RoleOperator, p) {
			t.Errorf("an operator may not %s", p)
		}
		if want := p != admin.PermManageSchools; admin.Can(admin.RoleAdmin, p) != want {
			t.Errorf("admin %s: %v", p, !want)
		}
		if admin.Can("", p) || admin.Can("root", p) {
			t.Errorf("an unknown role may %s", p)
		}
	}
}

// action is one service method called as p on a school.
type action struct {
	name   string
	perm   admin.Perm
	change bool
	call   func(f *fixture, p admin.Principal, school int64) error
	// prep makes what call acts on (another staff member, a batch, a
	// standard) before the audit log and the books are looked at; call
	// finds it in f.prepped.
	prep func(f *fixture, school int64) int64
}

var n int

func uniq(s string) string { n++; return fmt.Sprintf("%s%d", s, n) }

func studentOf(f *fixture, school int64) string {
	if school == f.a.ID {
		return storetest.SeedStudents[0].StudentNo
	}
	return "B0001"
}

func projectOf(t *testing.T, f *fixture, school int64) int64 {
	ps, err := f.s.FeeProjects(ctx, school)
	if err != nil || len(ps) == 0 {
		t.Fatalf("projects of %d: %v", school, err)
	}
	return ps[0].ID
}

// batch previews a small roll file as p and returns the batch id.
func batch(t *testing.T, f *fixture, p admin.Principal, sc int64) int64 {
	t.Helper()
	pv, err := f.svc.PreviewImport(ctx, p, sc, importer.Students, "s.csv", []byte("学号,姓名\n"+uniq("N")+",新生\n"))
	if err != nil || pv.Batch.Status != admin.ImportPreviewed {
		t.Fatalf("preview: %+v %v", pv, err)
	}
	return pv.Batch.ID
}

func actions(t *testing.T) []action {
	op := func(f *fixture) admin.Principal { return f.staff(t, admin.RoleOperator, 0) }
	return []action{
		{"Board", admin.PermViewBoard, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.Board(ctx, p, sc, board.Filter{})
			return err
		}, nil},
		{"SearchStudents", admin.PermViewStudents, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.SearchStudents(ctx, p, sc, "2")
			return err
		}, nil},
		{"Student", admin.PermViewStudents, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.Student(ctx, p, sc, studentOf(f, sc))
			return err
		}, nil},
		{"UnlockStudent", admin.PermUnlockStudent, true, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.UnlockStudent(ctx, p, sc, studentOf(f, sc))
		}, nil},
		{"FeeSetup", admin.PermViewFees, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.FeeSetup(ctx, p, sc)
			return err
		}, nil},
		{"Policy", admin.PermViewFees, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.Policy(ctx, p, sc)
			return err
		}, nil},
		{"UpdatePolicy", admin.PermEditPolicy, true, func(f *fixture, p admin.Principal, sc int64) error {
			pol, err := f.svc.Policy(ctx, admin.System(""), sc)
			if err != nil {
				return err
			}
			pol.LockMinutes = 15
			return f.svc.UpdatePolicy(ctx, p, sc, pol, nil)
		}, nil},
		{"SaveProject", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.SaveProject(ctx, p, sc, admin.Project{Name: uniq("体检费项目")})
			return err
		}, nil},
		{"SaveItem", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.SaveItem(ctx, p, sc, admin.Item{ProjectID: projectOf(t, f, sc), Name: uniq("子项")}, false)
			return err
		}, nil},
		{"SaveItem with another school's project", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.SaveItem(ctx, p, sc, admin.Item{ProjectID: projectOf(t, f, f.other(sc)), Name: uniq("越界")}, false)
			if err == nil {
				t.Errorf("an item was created under another school's project")
			}
			if apperr.CodeOf(err) == apperr.CodeNotFound {
				return nil // refused as it should be: allowed, but the project is not the school's
			}
			return err
		}, nil},
		{"SaveStandard", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.SaveStandard(ctx, p, sc, admin.Standard{Grade: "2026", Project: "学费", Item: uniq("学费"), Amount: 650000, Mandatory: true})
			return err
		}, nil},
		{"DeleteStandard", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.DeleteStandard(ctx, p, sc, f.prepped)
		}, func(f *fixture, sc int64) int64 {
			st, err := f.svc.SaveStandard(ctx, admin.System(""), sc, admin.Standard{Grade: "2027", Project: "学费", Item: uniq("学费"), Amount: 1})
			if err != nil {
				t.Fatal(err)
			}
			return st.ID
		}},
		{"AssignDorms", admin.PermEditFees, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, probs, err := f.svc.AssignDorms(ctx, p, sc, []byte("学号,宿舍类型\n"+studentOf(f, sc)+",四人间\n"))
			if len(probs) > 0 {
				t.Errorf("dorm problems %v", probs)
			}
			return err
		}, nil},
		{"GenerateBills", admin.PermGenerateBills, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.GenerateBills(ctx, p, sc, "2026", false)
			if apperr.CodeOf(err) == admin.CodeNothingToDo {
				return nil
			}
			return err
		}, nil},
		{"PreviewImport", admin.PermImport, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.PreviewImport(ctx, p, sc, importer.Students, "s.csv", []byte("学号,姓名\n"+uniq("N")+",新生\n"))
			return err
		}, nil},
		{"ConfirmImport", admin.PermImport, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.ConfirmImport(ctx, p, sc, f.prepped)
			return err
		}, func(f *fixture, sc int64) int64 { return batch(t, f, op(f), sc) }},
		{"ConfirmImport of another school's batch", admin.PermImport, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.ConfirmImport(ctx, p, sc, f.prepped)
			if err == nil {
				t.Errorf("another school's batch was confirmed as school %d's", sc)
			}
			if apperr.CodeOf(err) == apperr.CodeNotFound {
				return nil
			}
			return err
		}, func(f *fixture, sc int64) int64 { return batch(t, f, op(f), f.other(sc)) }},
		{"Imports", admin.PermViewImports, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.Imports(ctx, p, sc)
			return err
		}, nil},
		{"ExportPayments", admin.PermExport, false, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.ExportPayments(ctx, p, sc, t0.Add(-24*time.Hour), t0.Add(24*time.Hour), io.Discard)
		}, nil},
		{"ExportOutstanding", admin.PermExport, false, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.ExportOutstanding(ctx, p, sc, io.Discard)
		}, nil},
		{"ExportBoard", admin.PermExport, false, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.ExportBoard(ctx, p, sc, board.Filter{}, io.Discard)
		}, nil},
		{"AuditLog", admin.PermViewAudit, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.AuditLog(ctx, p, sc, admin.AuditQuery{})
			return err
		}, nil},
		{"ExportAudit", admin.PermViewAudit, false, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.ExportAudit(ctx, p, sc, admin.AuditQuery{}, io.Discard)
		}, nil},
		{"VerifyAudit", admin.PermViewAudit, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.VerifyAudit(ctx, p, sc)
			return err
		}, nil},
		{"ListStaff", admin.PermViewStaff, false, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.ListStaff(ctx, p, sc)
			return err
		}, nil},
		{"CreateStaff", admin.PermManageStaff, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.CreateStaff(ctx, p, admin.NewStaff{SchoolID: sc, Role: admin.RoleClerk, Username: uniq("newclerk")})
			return err
		}, nil},
		{"ResetStaff", admin.PermManageStaff, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.ResetStaff(ctx, p, sc, f.prepped)
			return err
		}, func(f *fixture, sc int64) int64 { return f.staff(t, admin.RoleClerk, sc).Staff.ID }},
		{"SetStaffDisabled", admin.PermManageStaff, true, func(f *fixture, p admin.Principal, sc int64) error {
			return f.svc.SetStaffDisabled(ctx, p, sc, f.prepped, true)
		}, func(f *fixture, sc int64) int64 { return f.staff(t, admin.RoleAuditor, sc).Staff.ID }},
		{"ResetStaff of another school's staff", admin.PermManageStaff, true, func(f *fixture, p admin.Principal, sc int64) error {
			_, err := f.svc.ResetStaff(ctx, p, sc, f.prepped)
			if err == nil {
				t.Errorf("another school's staff was reset as school %d's", sc)
			}
			if apperr.CodeOf(err) == admin.CodeStaffNotFound {
				return nil
			}
			return err
		}, func(f *fixture, sc int64) int64 { return f.staff(t, admin.RoleClerk, f.other(sc)).Staff.ID }},
		{"SchoolByCode", admin.PermViewBoard, false, func(f *fixture, p admin.Principal, sc int64) error {
			code := f.a.Code
			if sc == f.b.ID {
				code = f.b.Code
			}
			_, err := f.svc.SchoolByCode(ctx, p, code)
			return err
		}, nil},
	}
}

// TestEveryActionChecksRoleAndSchool calls every service method as every
// role, on the staff member's own school and on another school's ids: it
// runs exactly when the role holds the permission and the school is the
// staff member's own (an operator's is every school); a refusal is
// forbidden and changes nothing, not even the audit log.
func TestEveryActionChecksRoleAndSchool(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		principals := map[admin.Role]admin.Principal{
			admin.RoleOperator: f.staff(t, admin.RoleOperator, 0),
			admin.RoleAdmin:    f.staff(t, admin.RoleAdmin, f.a.ID),
			admin.RoleClerk:    f.staff(t, admin.RoleClerk, f.a.ID),
			admin.RoleAuditor:  f.staff(t, admin.RoleAuditor, f.a.ID),
		}
		for _, a := range actions(t) {
			for _, role := range admin.Roles {
				p := principals[role]
				for _, sc := range []int64{f.a.ID, f.b.ID} {
					own := sc == f.a.ID
					name := fmt.Sprintf("%s as %s of %s", a.name, role, map[bool]string{true: "its own school", false: "another school"}[own])
					want := admin.Can(role, a.perm) && (role == admin.RoleOperator || own)
					if a.prep != nil {
						f.prepped = a.prep(f, sc)
					}
					chain := f.chainLen(t, sc)
					before := storetest.Snap(t, s)
					err := a.call(f, p, sc)
					code := apperr.CodeOf(err)
					switch {
					case want && code == admin.CodeForbidden:
						t.Errorf("%s: refused (%v), want allowed", name, err)
					case want && err != nil:
						t.Errorf("%s: %v", name, err)
					case !want && code != admin.CodeForbidden:
						t.Errorf("%s: %v (code %q), want forbidden", name, err, code)
					case !want:
						if got := f.chainLen(t, sc); got != chain {
							t.Errorf("%s: refused but the audit chain grew from %d to %d", name, chain, got)
						}
						storetest.Same(t, s, before)
					}
				}
			}
		}
		// The platform's own chain and every chain: operators only.
		for _, role := range admin.Roles {
			_, err := f.svc.VerifyAudit(ctx, principals[role], 0)
			if want := role == admin.RoleOperator; (err == nil) != want {
				t.Errorf("verify every chain as %s: %v", role, err)
			}
			_, err = f.svc.CreateStaff(ctx, principals[role], admin.NewStaff{Role: admin.RoleOperator, Username: uniq("op")})
			if want := role == admin.RoleOperator; (err == nil) != want {
				t.Errorf("create an operator as %s: %v", role, err)
			}
		}
		// A principal without a login, and a disabled one, are refused.
		if _, err := f.svc.Board(ctx, admin.Principal{}, f.a.ID, board.Filter{}); apperr.CodeOf(err) != admin.CodeUnauthorized {
			t.Errorf("no login: %v", err)
		}
		off := principals[admin.RoleAdmin]
		off.Staff.Disabled = true
		if _, err := f.svc.Board(ctx, off, f.a.ID, board.Filter{}); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Errorf("disabled staff: %v", err)
		}
	})
}
