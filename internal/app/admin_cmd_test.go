package app

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// TestConsoleCommands: staff create prints the hand-over once; audit
// verify passes, then fails naming the row edited by hand (on SQLite and
// PostgreSQL); export writes a workbook.
func TestConsoleCommands(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			var db string
			if d == store.SQLite {
				db = "sqlite:" + filepath.Join(t.TempDir(), "cp.db")
			} else {
				st := storetest.Open(t, d) // a fresh schema; the commands open their own connections
				db = postgresDSN(t, st)
			}
			must := func(code int, args ...string) string {
				t.Helper()
				got, out := run(t, append(args, "--db", db)...)
				if got != code {
					t.Fatalf("%v: exit %d, want %d\n%s", args, got, code, out)
				}
				return out
			}
			must(0, "school", "create", "--code", "cqjz", "--name", "重庆建筑职业学院", "--region-code", "500000", "--region-name", "重庆市")
			must(0, "import", "students", "--school", "cqjz", repoFile(t, "demo/students.csv"))
			must(0, "import", "bills", "--school", "cqjz", repoFile(t, "demo/bills.csv"))
			out := must(0, "staff", "create", "--school", "cqjz", "--role", "admin", "--username", "cw_admin", "--name", "李会计")
			for _, w := range []string{"一次性密码：", "otpauth://totp/campuspay:cw_admin?", "恢复码"} {
				if !strings.Contains(out, w) {
					t.Errorf("staff create lacks %q:\n%s", w, out)
				}
			}
			must(0, "staff", "create", "--platform", "--role", "operator", "--username", "ops")
			if _, out := run(t, "staff", "create", "--platform", "--role", "clerk", "--username", "x", "--db", db); !strings.Contains(out, "平台运营人员不属于任何学校") {
				t.Errorf("a clerk of no school: %s", out)
			}
			must(0, "audit", "seal")
			out = must(0, "audit", "verify")
			if !strings.Contains(out, "audit OK") || !strings.Contains(out, "1 journal seals") {
				t.Errorf("verify: %s", out)
			}
			xlsx := filepath.Join(t.TempDir(), "outstanding.xlsx")
			must(0, "export", "outstanding", "--school", "cqjz", "--out", xlsx)
			x, err := excelize.OpenFile(xlsx)
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := x.GetRows(x.GetSheetName(0))
			x.Close()
			if len(rows) != 1801 || rows[0][0] != "学号" {
				t.Errorf("outstanding export: %d rows", len(rows))
			}
			must(0, "export", "payments", "--school", "cqjz", "--from", "2026-08-01", "--to", "2026-08-31", "--out", filepath.Join(t.TempDir(), "p.xlsx"))

			// A row edited by hand, as a database owner could after switching
			// the append-only trigger off.
			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var id int64
			if err := st.DB().QueryRowContext(context.Background(), `SELECT id FROM audit_log WHERE action = 'staff.create' AND target = 'staff:cw_admin'`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			stmts := []string{"ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
				`UPDATE audit_log SET after = replace(after, '"admin"', '"operator"') WHERE id = $1`,
				"ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"}
			if d == store.SQLite {
				stmts = []string{"DROP TRIGGER audit_log_append_only_u", stmts[1]}
			}
			for _, q := range stmts {
				var args []any
				if strings.Contains(q, "$1") {
					args = []any{id}
				}
				if _, err := st.DB().ExecContext(context.Background(), q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			out = must(1, "audit", "verify")
			if want := "BROKEN at row id " + strconv.FormatInt(id, 10); !strings.Contains(out, want) || !strings.Contains(out, "edited") {
				t.Errorf("verify after a hand edit: %s, want %q", out, want)
			}
		})
	}
}

// postgresDSN is the DSN of a store's schema (storetest gives each store
// its own search_path).
func postgresDSN(t *testing.T, st *store.Store) string {
	t.Helper()
	var schema string
	if err := st.DB().QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	base := os.Getenv(storetest.EnvPostgres)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
