package admin_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/importer"
	"campuspay/internal/money"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		p := f.staff(t, admin.RoleClerk, f.a.ID)
		name := p.Staff.Username
		login := func(pw, code string, from int) (admin.LoginResult, error) {
			return f.svc.Login(ctx, admin.Credentials{Username: name, Password: pw, Code: code, Client: client(from), Kind: admin.KindWeb})
		}
		t.Run("password_and_totp_start_a_session_that_must_change_the_one-time_password", func(t *testing.T) {
			res, err := login(f.pw[name], f.code(name), 1)
			if err != nil || res.Token == "" || !res.Staff.MustChangePassword {
				t.Fatalf("login: %+v %v", res, err)
			}
			got, err := f.svc.Authenticate(ctx, admin.KindWeb, res.Token, client(1))
			if err != nil || got.Staff.ID != p.Staff.ID || got.School == nil || got.School.ID != f.a.ID || got.CSRF == "" {
				t.Fatalf("authenticate: %+v %v", got, err)
			}
			if _, err := f.svc.Authenticate(ctx, admin.KindAPI, res.Token, client(1)); apperr.CodeOf(err) != admin.CodeUnauthorized {
				t.Errorf("a console cookie used as an API token: %v", err)
			}
			if err := f.svc.ChangePassword(ctx, got, f.pw[name], "cashier-2026"); err != nil {
				t.Fatal(err)
			}
			f.pw[name] = "cashier-2026"
		})
		t.Run("the_same_code_does_not_log_in_twice", func(t *testing.T) {
			f.move(31 * time.Second)
			code := f.code(name)
			if _, err := login(f.pw[name], code, 2); err != nil {
				t.Fatal(err)
			}
			if _, err := login(f.pw[name], code, 2); apperr.CodeOf(err) != admin.CodeBadTOTP {
				t.Errorf("replayed code: %v, want bad_totp", err)
			}
		})
		t.Run("a_wrong_code_and_a_wrong_password_are_told_apart_only_after_the_password", func(t *testing.T) {
			f.move(31 * time.Second)
			if _, err := login(f.pw[name], "000000", 3); apperr.CodeOf(err) != admin.CodeBadTOTP {
				t.Errorf("wrong code: %v", err)
			}
			if _, err := login("wrong-password", f.code(name), 4); apperr.CodeOf(err) != admin.CodeBadCredentials {
				t.Errorf("wrong password: %v", err)
			}
			if _, err := f.svc.Login(ctx, admin.Credentials{Username: "nobody", Password: "x", Code: "123456", Client: client(5)}); apperr.CodeOf(err) != admin.CodeBadCredentials {
				t.Errorf("unknown user: %v", err)
			}
		})
		t.Run("a_recovery_code_works_once", func(t *testing.T) {
			h, err := f.svc.ResetStaff(ctx, admin.System(""), f.a.ID, p.Staff.ID)
			if err != nil {
				t.Fatal(err)
			}
			f.pw[name], f.secret[name] = h.Password, h.Enrolment.Secret
			rc := strings.ToLower(h.RecoveryCodes[3])
			if _, err := login(f.pw[name], rc, 6); err != nil {
				t.Fatalf("recovery code: %v", err)
			}
			if _, err := login(f.pw[name], rc, 6); apperr.CodeOf(err) != admin.CodeBadTOTP {
				t.Errorf("the same recovery code again: %v", err)
			}
			recs, _ := f.svc.AuditLog(ctx, admin.System(""), f.a.ID, admin.AuditQuery{Action: admin.ActLoginRecovery})
			if len(recs) != 1 || recs[0].Actor != name {
				t.Errorf("recovery login audit: %+v", recs)
			}
		})
		t.Run("failures_lock_the_account_then_every_attempt_is_refused", func(t *testing.T) {
			var last error
			for i := 0; i < 40; i++ {
				_, last = login("guess-"+string(rune('a'+i)), f.code(name), 100+i)
				if apperr.CodeOf(last) == admin.CodeLoginLocked {
					break
				}
			}
			if apperr.CodeOf(last) != admin.CodeLoginLocked {
				t.Fatalf("after many failures: %v, want login_locked", last)
			}
			if _, err := login(f.pw[name], f.code(name), 200); apperr.CodeOf(err) != admin.CodeLoginLocked {
				t.Errorf("the right password from a new address while locked: %v", err)
			}
		})
		t.Run("an_idle_session_ends", func(t *testing.T) {
			q := f.staff(t, admin.RoleAuditor, f.a.ID)
			res, err := f.svc.Login(ctx, admin.Credentials{Username: q.Staff.Username, Password: f.pw[q.Staff.Username], Code: f.code(q.Staff.Username), Client: client(9), Kind: admin.KindAPI})
			if err != nil {
				t.Fatal(err)
			}
			f.move(29 * time.Minute)
			if _, err := f.svc.Authenticate(ctx, admin.KindAPI, res.Token, client(9)); err != nil {
				t.Fatalf("used within the idle time: %v", err)
			}
			f.move(31 * time.Minute)
			if _, err := f.svc.Authenticate(ctx, admin.KindAPI, res.Token, client(9)); apperr.CodeOf(err) != admin.CodeUnauthorized {
				t.Errorf("after 31 idle minutes: %v", err)
			}
		})
		t.Run("a_disabled_staff_member_cannot_log_in_and_their_sessions_end", func(t *testing.T) {
			q := f.staff(t, admin.RoleAuditor, f.a.ID)
			res, err := f.svc.Login(ctx, admin.Credentials{Username: q.Staff.Username, Password: f.pw[q.Staff.Username], Code: f.code(q.Staff.Username), Client: client(10)})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.SetStaffDisabled(ctx, admin.System(""), f.a.ID, q.Staff.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Authenticate(ctx, admin.KindWeb, res.Token, client(10)); err == nil {
				t.Error("a disabled staff member's session still works")
			}
			f.move(31 * time.Second)
			if _, err := f.svc.Login(ctx, admin.Credentials{Username: q.Staff.Username, Password: f.pw[q.Staff.Username], Code: f.code(q.Staff.Username), Client: client(11)}); apperr.CodeOf(err) != admin.CodeBadCredentials {
				t.Errorf("disabled login: %v", err)
			}
		})
		t.Run("a_new_authenticator_takes_over_only_after_its_first_code", func(t *testing.T) {
			q := f.staff(t, admin.RoleAdmin, f.a.ID)
			n := q.Staff.Username
			q.Staff, _ = f.s.StaffByUsername(ctx, n)
			en, err := f.svc.BeginEnrolment(ctx, q, f.pw[n])
			if err != nil || !strings.HasPrefix(en.URL, "otpauth://totp/") || !strings.HasPrefix(en.QR, "data:image/png;base64,") {
				t.Fatalf("enrolment %+v %v", en, err)
			}
			if _, err := f.svc.ConfirmEnrolment(ctx, q, "000000"); apperr.CodeOf(err) != admin.CodeBadTOTP {
				t.Errorf("a wrong first code: %v", err)
			}
			f.move(31 * time.Second)
			codes, err := f.svc.ConfirmEnrolment(ctx, q, admin.TOTPCode(en.Secret, f.now()))
			if err != nil || len(codes) != 10 {
				t.Fatalf("confirm: %v %v", codes, err)
			}
			f.move(31 * time.Second)
			if _, err := f.svc.Login(ctx, admin.Credentials{Username: n, Password: f.pw[n], Code: f.code(n), Client: client(12)}); apperr.CodeOf(err) != admin.CodeBadTOTP {
				t.Errorf("the old authenticator after re-enrolment: %v", err)
			}
			if _, err := f.svc.Login(ctx, admin.Credentials{Username: n, Password: f.pw[n], Code: admin.TOTPCode(en.Secret, f.now()), Client: client(12)}); err != nil {
				t.Errorf("the new authenticator: %v", err)
			}
		})
	})
}

// TestAuditVerify: the chains and the journal's seals verify; a row edited
// by hand (the append-only trigger switched off, as a database owner
// could), a row deleted, or a journal posting changed after its seal, is
// found and named.
func TestAuditVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		adm := f.staff(t, admin.RoleAdmin, f.a.ID)
		pol := f.a.Policy
		for _, m := range []int{12, 14, 16} {
			pol.LockMinutes = m
			if err := f.svc.UpdatePolicy(ctx, adm, f.a.ID, pol, nil); err != nil {
				t.Fatal(err)
			}
		}
		if sealed, err := f.svc.SealJournal(ctx); err != nil || !sealed {
			t.Fatalf("seal: %v %v", sealed, err)
		}
		rep, err := f.svc.VerifyAudit(ctx, admin.System(""), 0)
		if err != nil || !rep.OK() || rep.Seals != 1 || rep.Sealed == 0 || rep.Unsealed != 0 || rep.Rows < 5 {
			t.Fatalf("intact: %+v %v", rep, err)
		}
		recs, _ := f.svc.AuditLog(ctx, adm, f.a.ID, admin.AuditQuery{Action: admin.ActPolicy})
		if len(recs) != 3 || !strings.Contains(recs[1].Before, `"lock_minutes":12`) || !strings.Contains(recs[1].After, `"lock_minutes":14`) {
			t.Fatalf("policy rows %+v", recs)
		}
		victim := recs[1] // the middle change: 12 → 14 minutes
		hand := func(stmt string, args ...any) {
			t.Helper()
			off, on := "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"
			if s.Dialect() == store.SQLite {
				off, on = "DROP TRIGGER IF EXISTS audit_log_append_only_u", ""
			}
			for _, q := range []string{off, stmt, on} {
				if q == "" {
					continue
				}
				a := args
				if q != stmt {
					a = nil
				}
				if _, err := s.DB().ExecContext(ctx, q, a...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
		hand(`UPDATE audit_log SET after = $1 WHERE id = $2`, strings.Replace(victim.After, `"lock_minutes":14`, `"lock_minutes":60`, 1), victim.ID)
		rep, err = f.svc.VerifyAudit(ctx, admin.System(""), 0)
		if err != nil || rep.OK() || rep.Break.ID != victim.ID || rep.Break.Seq != victim.Seq || !strings.Contains(rep.Break.Reason, "edited") {
			t.Fatalf("after a hand edit: %+v %v", rep.Break, err)
		}
		// The school's own auditor finds it too, in the school's chain.
		aud := f.staff(t, admin.RoleAuditor, f.a.ID)
		if rep, err := f.svc.VerifyAudit(ctx, aud, f.a.ID); err != nil || rep.OK() || rep.Break.ID != victim.ID {
			t.Errorf("the school's auditor: %+v %v", rep.Break, err)
		}
		hand(`UPDATE audit_log SET after = $1 WHERE id = $2`, victim.After, victim.ID)
		if rep, _ := f.svc.VerifyAudit(ctx, admin.System(""), 0); !rep.OK() {
			t.Fatalf("after putting it back: %+v", rep.Break)
		}
		// A posting changed after the seal is found by the seal.
		jOff, jOn := "ALTER TABLE journal_postings DISABLE TRIGGER journal_postings_append_only", "ALTER TABLE journal_postings ENABLE TRIGGER journal_postings_append_only"
		if s.Dialect() == store.SQLite {
			jOff, jOn = "DROP TRIGGER journal_postings_append_only_u", "SELECT 1"
		}
		for _, q := range []string{jOff, `UPDATE journal_postings SET amount = amount + 100 WHERE id = (SELECT MIN(id) FROM journal_postings WHERE amount > 0)`, jOn} {
			if _, err := s.DB().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		rep, err = f.svc.VerifyAudit(ctx, admin.System(""), 0)
		if err != nil || rep.OK() || rep.Break.Chain != audit.PlatformChain || !strings.Contains(rep.Break.Reason, "journal changed") {
			t.Fatalf("after a posting changed: %+v %v", rep.Break, err)
		}
		// A deleted row is named by its number.
		if s.Dialect() == store.SQLite {
			if _, err := s.DB().ExecContext(ctx, "DROP TRIGGER audit_log_append_only_d"); err != nil {
				t.Fatal(err)
			}
			hand(`DELETE FROM audit_log WHERE id = $1`, victim.ID)
		} else {
			hand(`DELETE FROM audit_log WHERE id = $1`, victim.ID)
		}
		rep, _ = f.svc.VerifyAudit(ctx, aud, f.a.ID)
		if rep.OK() || rep.Break.Seq != victim.Seq || !strings.Contains(rep.Break.Reason, "missing") {
			t.Errorf("after a delete: %+v", rep.Break)
		}
	})
}

func TestImports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		clerk := f.staff(t, admin.RoleClerk, f.a.ID)
		bad := "学号,收费项目,子项目,应缴金额,必缴\n" +
			"2025001,2026学年体检费,体检费,80.00,是\n" +
			"2025002,2026学年体检费,体检费,8O.00,是\n" + // letter O
			"9999999,2026学年体检费,体检费,80.00,是\n" + // not on the roll
			"2025003,2026学年体检费,体检费,80.00,也许\n"
		before := storetest.Snap(t, s)
		pv, err := f.svc.PreviewImport(ctx, clerk, f.a.ID, importer.Bills, "bills.csv", []byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if pv.Batch.Status != admin.ImportRefused || len(pv.Problems) != 3 || pv.Problems[0].Line != 3 || pv.Problems[0].Column != "应缴金额" ||
			pv.Problems[1].Line != 4 || pv.Problems[1].Column != "学号" || pv.Problems[2].Line != 5 || pv.Problems[2].Column != "必缴" {
			t.Fatalf("preview of a bad file: %+v", pv)
		}
		storetest.Same(t, s, before)
		if _, err := f.svc.ConfirmImport(ctx, clerk, f.a.ID, pv.Batch.ID); apperr.CodeOf(err) != admin.CodeImportNotPending {
			t.Errorf("confirming a refused file: %v", err)
		}
		good := strings.NewReplacer("8O.00", "80.00", "9999999", "2025002", "也许", "否").Replace(bad)
		good = strings.Replace(good, "2025002,2026学年体检费,体检费,80.00,是\n", "", 1)
		pv, err = f.svc.PreviewImport(ctx, clerk, f.a.ID, importer.Bills, "bills.csv", []byte(good))
		if err != nil || pv.Batch.Status != admin.ImportPreviewed || len(pv.Problems) != 0 || pv.Batch.Stats.Created != 3 || len(pv.Batch.FileHash) != 64 {
			t.Fatalf("preview of the fixed file: %+v %v", pv, err)
		}
		storetest.Same(t, s, before)
		done, err := f.svc.ConfirmImport(ctx, clerk, f.a.ID, pv.Batch.ID)
		if err != nil || done.Batch.Status != admin.ImportApplied || done.Batch.Stats.Created != 3 || done.Batch.AppliedBy != clerk.Staff.ID {
			t.Fatalf("confirm: %+v %v", done, err)
		}
		if n := storetest.Count(t, s, "bill_lines"); n != before.Lines+3 {
			t.Errorf("lines %d, want %d", n, before.Lines+3)
		}
		storetest.JournalOK(t, s)
		if _, err := f.svc.ConfirmImport(ctx, clerk, f.a.ID, pv.Batch.ID); apperr.CodeOf(err) != admin.CodeImportNotPending {
			t.Errorf("a second confirmation: %v", err)
		}
		hist, err := f.svc.Imports(ctx, clerk, f.a.ID)
		if err != nil || len(hist) != 2 || hist[0].Status != admin.ImportApplied || hist[0].StaffName != clerk.Staff.Username ||
			hist[1].Status != admin.ImportRefused || hist[1].Problems != 3 {
			t.Errorf("history %+v %v", hist, err)
		}
		if storetest.Count(t, s, "import_files") != 0 {
			t.Error("an applied file is still kept")
		}
		recs, _ := f.svc.AuditLog(ctx, admin.System(""), f.a.ID, admin.AuditQuery{Action: "import."})
		if len(recs) != 3 || recs[0].Action != admin.ActImportApply || !strings.Contains(recs[0].After, pv.Batch.FileHash) {
			t.Errorf("import audit %+v", recs)
		}
	})
}

func TestGenerateBills(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		adm := f.staff(t, admin.RoleAdmin, f.a.ID)
		roll := "学号,姓名,身份证号,年级,专业,班级,手机号\n" +
			"2026010001,新生甲,,2026,建筑工程技术,建工2601班,\n" +
			"2026010002,新生乙,,2026,建筑工程技术,建工2601班,\n" +
			"2026010003,新生丙,,2026,工程造价,造价2601班,\n"
		pv, err := f.svc.PreviewImport(ctx, adm, f.a.ID, importer.Students, "roll.csv", []byte(roll))
		if err != nil || len(pv.Problems) > 0 {
			t.Fatalf("roll preview %+v %v", pv, err)
		}
		if _, err := f.svc.ConfirmImport(ctx, adm, f.a.ID, pv.Batch.ID); err != nil {
			t.Fatal(err)
		}
		if n, probs, err := f.svc.AssignDorms(ctx, adm, f.a.ID, []byte("\xEF\xBB\xBF学号,宿舍类型\n2026010001,四人间\n2026010002,六人间\n")); err != nil || n != 2 || probs != nil {
			t.Fatalf("dorms %d %v %v", n, probs, err)
		}
		if _, probs, _ := f.svc.AssignDorms(ctx, adm, f.a.ID, []byte("学号,宿舍类型\n2026010001,四人间\n7777777,四人间\n")); len(probs) != 1 || probs[0].Line != 3 {
			t.Errorf("an unknown student in the dorm file: %+v", probs)
		}
		for _, st := range []admin.Standard{
			{Grade: "2026", Project: "2026学年学费住宿费", Item: "学费", Amount: 600000, Mandatory: true},
			{Grade: "2026", Major: "建筑工程技术", Project: "2026学年学费住宿费", Item: "学费", Amount: 650000, Mandatory: true},
			{Grade: "2026", DormType: "四人间", Project: "2026学年学费住宿费", Item: "住宿费", Amount: 120000, Mandatory: true},
			{Grade: "2026", DormType: "六人间", Project: "2026学年学费住宿费", Item: "住宿费", Amount: 90000, Mandatory: true},
		} {
			if _, err := f.svc.SaveStandard(ctx, adm, f.a.ID, st); err != nil {
				t.Fatal(err)
			}
		}
		before := storetest.Snap(t, s)
		res, err := f.svc.GenerateBills(ctx, adm, f.a.ID, "2026", false)
		if err != nil || res.Applied || res.Students != 3 || res.Rows != 5 || res.Stats.Created != 5 || len(res.Problems) != 0 {
			t.Fatalf("preview %+v %v", res, err)
		}
		storetest.Same(t, s, before)
		if res, err = f.svc.GenerateBills(ctx, adm, f.a.ID, "2026", true); err != nil || !res.Applied {
			t.Fatalf("apply %+v %v", res, err)
		}
		storetest.JournalOK(t, s)
		sum := func(no string) money.Fen {
			st, err := s.StudentByNo(ctx, f.a.ID, no)
			if err != nil {
				t.Fatal(err)
			}
			ls, _ := s.Lines(ctx, st.ID)
			var total money.Fen
			for _, l := range ls {
				total += l.Amount
			}
			return total
		}
		for no, want := range map[string]money.Fen{"2026010001": 770000, "2026010002": 740000, "2026010003": 600000} {
			if got := sum(no); got != want {
				t.Errorf("%s owes %v, want %v", no, got, want)
			}
		}
		if res, err = f.svc.GenerateBills(ctx, adm, f.a.ID, "2026", true); err != nil || res.Stats.Unchanged != 5 || res.Stats.Created != 0 {
			t.Errorf("generating again: %+v %v", res, err)
		}
	})
}

func readSheet(t *testing.T, b []byte) [][]string {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows(x.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		aud := f.staff(t, admin.RoleAuditor, f.a.ID)
		if _, err := s.ImportStudents(ctx, f.a.ID, storetest.Rows([]billing.StudentInput{{StudentNo: "2025009", Name: "=HYPERLINK(\"http://x\")", Class: "@班"}})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportBills(ctx, f.a.ID, "x", storetest.Rows([]billing.BillInput{{Line: 2, StudentNo: "2025009", Project: "-项目", Item: "+子项", Amount: 12345}}), func(int, string, string) {}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.svc.ExportOutstanding(ctx, aud, f.a.ID, &buf); err != nil {
			t.Fatal(err)
		}
		rows := readSheet(t, buf.Bytes())
		if len(rows) != 1+5*3+1 || rows[0][0] != "学号" {
			t.Fatalf("%d rows, header %v", len(rows), rows[0])
		}
		var evil []string
		for _, r := range rows {
			if r[0] == "2025009" {
				evil = r
			}
		}
		if evil == nil || evil[1] != `'=HYPERLINK("http://x")` || evil[4] != "'@班" || evil[6] != "'-项目" || evil[7] != "'+子项" || evil[9] != "123.45" {
			t.Errorf("neutralised row %q", evil)
		}
		x, _ := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
		defer x.Close()
		if typ, _ := x.GetCellType(x.GetSheetName(0), "J2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("amount cell type %v, want a number", typ)
		}
		if v, _ := x.GetCellValue(x.GetSheetName(0), "J2", excelize.Options{RawCellValue: true}); v != "5800" {
			t.Errorf("raw amount %q, want the number 5800", v)
		}
		buf.Reset()
		if err := f.svc.ExportBoard(ctx, aud, f.a.ID, board.Filter{}, &buf); err != nil {
			t.Fatal(err)
		}
		if rows := readSheet(t, buf.Bytes()); len(rows) < 4 || rows[1][0] != "合计" || rows[1][7] != "4" {
			t.Errorf("board export %v", rows)
		}
		recs, _ := f.svc.AuditLog(ctx, aud, f.a.ID, admin.AuditQuery{Action: admin.ActExport})
		if len(recs) != 2 || recs[0].Actor != aud.Staff.Username {
			t.Errorf("exports audited: %+v", recs)
		}
		if err := f.svc.ExportPayments(ctx, aud, f.a.ID, t0, t0.Add(-time.Hour), &buf); apperr.CodeOf(err) != admin.CodeInvalidPeriod {
			t.Errorf("a backwards period: %v", err)
		}
	})
}

func TestBoardAndStudent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		clerk := f.staff(t, admin.RoleClerk, f.a.ID)
		v, err := f.svc.Board(ctx, clerk, f.a.ID, board.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Figures.Total.Due != 3*storetest.SeedTotal || v.Figures.Total.Paid != 0 || v.Figures.Total.Students != 3 || len(v.Figures.ByProject) != 2 ||
			len(v.Hours) != admin.ChartHours || len(v.Grades) != 1 {
			t.Fatalf("board %+v", v.Figures)
		}
		rows, err := f.svc.SearchStudents(ctx, clerk, f.a.ID, "李")
		if err != nil || len(rows) != 1 || rows[0].StudentNo != "2025002" || rows[0].Due != storetest.SeedTotal {
			t.Errorf("search by name prefix: %+v %v", rows, err)
		}
		if rows, _ := f.svc.SearchStudents(ctx, clerk, f.a.ID, "13800000001"); len(rows) != 1 || rows[0].Name != "张三" {
			t.Errorf("search by phone: %+v", rows)
		}
		if rows, _ := f.svc.SearchStudents(ctx, clerk, f.a.ID, "%"); len(rows) != 0 {
			t.Errorf("a wildcard matched %d students", len(rows))
		}
		sv, err := f.svc.Student(ctx, clerk, f.a.ID, "2025001")
		if err != nil || len(sv.Lines) != 5 || len(sv.Journal) != 1 || !sv.Locked || sv.Student.PasswordHash != "" {
			t.Fatalf("student view %+v %v", sv, err)
		}
		if _, err := f.svc.Student(ctx, clerk, f.a.ID, "B0001"); apperr.CodeOf(err) != admin.CodeStudentNotFound {
			t.Errorf("another school's student through this school: %v", err)
		}
		if err := f.svc.UnlockStudent(ctx, clerk, f.a.ID, "2025001"); err != nil || len(f.locks.unlocked) != 1 || f.locks.unlocked[0] != storetest.SchoolCode+"/2025001" {
			t.Errorf("unlock: %v %v", err, f.locks.unlocked)
		}
	})
}
