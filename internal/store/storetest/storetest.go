// Package storetest opens fresh, migrated stores on both engines for tests
// in any package: Each runs a test body once on SQLite and once on
// PostgreSQL, Open gives one store of a dialect, and Seed fills a store with
// a school, a few students and their bills through the import methods.
//
// PostgreSQL comes from CAMPUSPAY_TEST_POSTGRES (a postgres:// URL); each
// store gets its own schema, dropped when the test ends. Without that
// variable the postgres subtests are skipped, except in CI (CI=true), where
// they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/store"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "CAMPUSPAY_TEST_POSTGRES"

// Dialects are the engines Each runs on, in order.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own
// fresh, migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh, migrated store of dialect, closed (and, on
// PostgreSQL, its schema dropped) when t ends. It skips t when PostgreSQL
// is asked for but not configured, unless CI=true.
func Open(t testing.TB, dialect store.Dialect) *store.Store {
	t.Helper()
	var dsn string
	switch dialect {
	case store.SQLite:
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "campuspay.db")
	case store.Postgres:
		dsn = postgresSchema(t)
	default:
		t.Fatalf("storetest: unknown dialect %q", dialect)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", dialect, err)
	}
	// Registered after the schema's cleanup, so it runs before it.
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate %s: %v", dialect, err)
	}
	return s
}

// PostgresURL returns the configured PostgreSQL URL; without one it skips
// t, or fails it in CI.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL required in CI: set %s", EnvPostgres)
		}
		t.Skipf("%s not set: skipping PostgreSQL", EnvPostgres)
	}
	return base
}

// PostgresDSN is a DSN of a fresh PostgreSQL schema of its own, dropped
// when t ends, for tests that hand a database to other processes.
func PostgresDSN(t testing.TB) string { return postgresSchema(t) }

// postgresSchema creates a schema with a random name and returns a DSN whose
// search_path is that schema; the schema is dropped when t ends.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "cptest_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("storetest: postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Seed's fixed data: project and item names, amounts in fen.
const (
	SchoolCode = "S0001"

	ProjectFees  = "2025学年学费" // mandatory 学费 + 住宿费, optional 提档费
	ItemTuition  = "学费"
	ItemDorm     = "住宿费"
	ItemUpgrade  = "提档费"
	ProjectExtra = "代办费" // optional items only
	ItemBooks    = "教材费"
	ItemInsure   = "保险费"

	Tuition money.Fen = 580000
	Dorm    money.Fen = 120000
	Upgrade money.Fen = 5000
	Books   money.Fen = 32000
	Insure  money.Fen = 15000
)

// SeedStudents is the roll Seed imports.
var SeedStudents = []billing.StudentInput{
	{StudentNo: "2025001", Name: "张三", IDCard: "500101200001011234", Grade: "2025", Major: "计算机科学与技术", Class: "计科1班", Phone: "13800000001"},
	{StudentNo: "2025002", Name: "李四", IDCard: "500101200002021234", Grade: "2025", Major: "软件工程", Class: "软工1班", Phone: "13800000002"},
	{StudentNo: "2025003", Name: "王五", Grade: "2025", Major: "会计学", Class: "会计1班"},
}

// SeedBills is the bill file Seed imports: every seed student owes the
// fees project (two mandatory items and one optional) and the extra
// project (optional items only).
func SeedBills() []billing.BillInput {
	var out []billing.BillInput
	line := 1
	for _, st := range SeedStudents {
		for _, b := range []struct {
			project, item string
			amount        money.Fen
			mandatory     bool
		}{
			{ProjectFees, ItemTuition, Tuition, true},
			{ProjectFees, ItemDorm, Dorm, true},
			{ProjectFees, ItemUpgrade, Upgrade, false},
			{ProjectExtra, ItemBooks, Books, false},
			{ProjectExtra, ItemInsure, Insure, false},
		} {
			line++
			out = append(out, billing.BillInput{Line: line, StudentNo: st.StudentNo, Project: b.project, Item: b.item, Amount: b.amount, Mandatory: b.mandatory})
		}
	}
	return out
}

// SeedTotal is what one seed student owes.
const SeedTotal = Tuition + Dorm + Upgrade + Books + Insure

// Seed creates school SchoolCode with billing.DefaultPolicy(), imports
// SeedStudents and SeedBills, and returns the school and the students (in
// SeedStudents order) as stored.
func Seed(t testing.TB, s *store.Store) (billing.School, []billing.Student) {
	t.Helper()
	ctx := context.Background()
	school, err := s.CreateSchool(ctx, billing.School{Code: SchoolCode, Name: "示例职业技术学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatalf("seed: create school: %v", err)
	}
	if _, err := s.ImportStudents(ctx, school.ID, Rows(SeedStudents)); err != nil {
		t.Fatalf("seed: import students: %v", err)
	}
	var problems []string
	if _, err := s.ImportBills(ctx, school.ID, "seed-bills", Rows(SeedBills()), func(line int, col, reason string) {
		problems = append(problems, reason)
	}); err != nil || len(problems) > 0 {
		t.Fatalf("seed: import bills: %v %v", err, problems)
	}
	students := make([]billing.Student, 0, len(SeedStudents))
	for _, in := range SeedStudents {
		st, err := s.StudentByNo(ctx, school.ID, in.StudentNo)
		if err != nil {
			t.Fatalf("seed: student %s: %v", in.StudentNo, err)
		}
		students = append(students, st)
	}
	return school, students
}

// Rows adapts a slice to the rows callback of ImportStudents and ImportBills.
func Rows[T any](rows []T) func(yield func(T) error) error {
	return func(yield func(T) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// Count counts a table's rows, with an optional WHERE clause and its
// arguments ($N placeholders work on both engines).
func Count(t testing.TB, s *store.Store, table string, where ...any) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + table
	var args []any
	if len(where) > 0 {
		q += " WHERE " + where[0].(string)
		args = where[1:]
	}
	var n int
	if err := s.DB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// Snapshot is the state "nothing changes" is checked against: the row
// counts of every money table and the total paid on bill lines.
type Snapshot struct {
	Entries, Postings, Events, Payments, Refunds, Lines, Orders, Holds, Jobs, Suspense int
	Paid                                                                               money.Fen
}

// Snap takes a Snapshot.
func Snap(t testing.TB, s *store.Store) Snapshot {
	t.Helper()
	var paid int64
	if err := s.DB().QueryRowContext(context.Background(), `SELECT COALESCE(SUM(paid), 0) FROM bill_lines`).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	return Snapshot{
		Entries: Count(t, s, "journal_entries"), Postings: Count(t, s, "journal_postings"), Events: Count(t, s, "order_events"),
		Payments: Count(t, s, "payments_received"), Refunds: Count(t, s, "refunds"), Lines: Count(t, s, "bill_lines"),
		Orders: Count(t, s, "orders"), Holds: Count(t, s, "line_holds"), Jobs: Count(t, s, "jobs"), Suspense: Count(t, s, "suspense"),
		Paid: money.Fen(paid),
	}
}

// Same fails t unless the state is as before.
func Same(t testing.TB, s *store.Store, before Snapshot) {
	t.Helper()
	if after := Snap(t, s); after != before {
		t.Errorf("state changed:\n before %+v\n after  %+v", before, after)
	}
}

// JournalOK fails t unless VerifyJournal finds the journal sound (I2).
func JournalOK(t testing.TB, s *store.Store) store.VerifyReport {
	t.Helper()
	rep, err := s.VerifyJournal(context.Background())
	if err != nil {
		t.Fatalf("verify journal: %v", err)
	}
	if !rep.OK() {
		t.Errorf("journal not sound: unbalanced %v, receivable mismatch %v", rep.Unbalanced, rep.ReceivableMismatch)
	}
	return rep
}

// Balance sums an account's postings.
func Balance(t testing.TB, s *store.Store, account string) money.Fen {
	t.Helper()
	b, err := s.AccountBalance(context.Background(), account)
	if err != nil {
		t.Fatalf("balance %s: %v", account, err)
	}
	return b
}

// FixedClock sets the store's clock to a fixed instant and returns it and
// a function that moves it; the clock is safe to read concurrently.
func FixedClock(s *store.Store, start time.Time) (now func() time.Time, move func(d time.Duration) time.Time) {
	var at atomic.Int64
	at.Store(start.UnixMilli())
	now = func() time.Time { return time.UnixMilli(at.Load()) }
	s.SetClock(now)
	return now, func(d time.Duration) time.Time { return time.UnixMilli(at.Add(d.Milliseconds())) }
}

// Race runs fn(i) for i in [0, n) at once, released together.
func Race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			start.Wait()
			fn(i)
		}(i)
	}
	start.Done()
	done.Wait()
}
