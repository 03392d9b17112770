package importer_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

const (
	benchStudents = 20_000
	benchItems    = 5
)

// benchFiles builds the roll and the 100,000-row bill file once.
func benchFiles() (students, bills []byte) {
	var s, b bytes.Buffer
	s.WriteString("学号,姓名\n")
	b.WriteString("学号,收费项目,子项目,应缴金额,必缴\n")
	items := []string{"学费", "住宿费", "提档费", "教材费", "体检费"}
	for i := 0; i < benchStudents; i++ {
		no := fmt.Sprintf("2026%06d", i)
		fmt.Fprintf(&s, "%s,学生%d\n", no, i)
		for j, it := range items {
			fmt.Fprintf(&b, "%s,2026学年,%s,%d.%02d,%s\n", no, it, 100+j*1000+i%7, i%100, map[bool]string{true: "是", false: "否"}[j < 2])
		}
	}
	return s.Bytes(), b.Bytes()
}

// BenchmarkImportBills imports 100,000 bill rows (20,000 students × 5
// items) through the parser and the store, and in the same run measures the
// database's raw ceiling: the same rows by plain multi-row INSERTs in one
// transaction. Compare rows/s of the two sub-benchmarks per engine.
func BenchmarkImportBills(b *testing.B) {
	students, bills := benchFiles()
	for _, d := range storetest.Dialects {
		b.Run(string(d)+"/import", func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := storetest.Open(b, d)
				sc := createSchool(b, st)
				if _, err := importer.Apply(context.Background(), st, sc.ID, importer.Students, "s.csv", bytes.NewReader(students)); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				b.StartTimer()
				stats, err := importer.Apply(context.Background(), st, sc.ID, importer.Bills, "b.csv", bytes.NewReader(bills))
				b.StopTimer()
				if err != nil || stats.Created != benchStudents*benchItems {
					b.Fatalf("import: %+v %v", stats, err)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapSys)
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchStudents*benchItems*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "heap-sys-MiB")
		})
		b.Run(string(d)+"/ceiling", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := storetest.Open(b, d)
				sc := createSchool(b, st)
				if _, err := importer.Apply(context.Background(), st, sc.ID, importer.Students, "s.csv", bytes.NewReader(students)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rawInsert(b, st, sc.ID)
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchStudents*benchItems*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func createSchool(b testing.TB, st *store.Store) billing.School {
	sc, err := st.CreateSchool(context.Background(), billing.School{Code: "bench", Name: "基准学校", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	return sc
}

// rawInsert writes the same 100,000 lines in one transaction and nothing
// else (no parsing, no lookups, no journal) by the engine's fastest bulk
// path: COPY on PostgreSQL, 500-row INSERTs on SQLite.
func rawInsert(b *testing.B, st *store.Store, schoolID int64) {
	ctx := context.Background()
	if st.Dialect() == store.Postgres {
		rawCopy(b, st, schoolID)
		return
	}
	db := st.DB()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	itemIDs := make([]int64, benchItems)
	var pid int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO projects (school_id, name) VALUES ($1, '2026学年') RETURNING id`, schoolID).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	for j := range itemIDs {
		if err := tx.QueryRowContext(ctx, `INSERT INTO items (project_id, name) VALUES ($1, $2) RETURNING id`, pid, fmt.Sprint("item", j)).Scan(&itemIDs[j]); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM students WHERE school_id = $1 ORDER BY id`, schoolID)
	if err != nil {
		b.Fatal(err)
	}
	var stu []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		stu = append(stu, id)
	}
	rows.Close()
	const batch = 500
	var q []byte
	args := make([]any, 0, batch*4)
	prepared := map[string]*sql.Stmt{} // each text parsed once, as the store does
	flush := func() {
		if len(args) == 0 {
			return
		}
		st, ok := prepared[string(q)]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, string(q)); err != nil {
				b.Fatal(err)
			}
			prepared[string(q)] = st
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			b.Fatal(err)
		}
		args = args[:0]
	}
	for i, s := range stu {
		for j, it := range itemIDs {
			if len(args) == 0 {
				q = []byte("INSERT INTO bill_lines (student_id, item_id, amount, mandatory, created_at, updated_at) VALUES ")
			} else {
				q = append(q, ',')
			}
			n := len(args)
			if st.Dialect() == store.SQLite {
				q = append(q, "(?,?,?,?,1,1)"...) // the modernc driver's fastest form
			} else {
				q = fmt.Appendf(q, "($%d,$%d,$%d,$%d,1,1)", n+1, n+2, n+3, n+4)
			}
			args = append(args, s, it, int64(100+j*1000+i%7), j < 2)
			if len(args) == batch*4 {
				flush()
			}
		}
	}
	flush()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// rawCopy is rawInsert on PostgreSQL: one COPY of every line.
func rawCopy(b *testing.B, st *store.Store, schoolID int64) {
	ctx := context.Background()
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		var pid int64
		if err := tx.QueryRow(ctx, `INSERT INTO projects (school_id, name) VALUES ($1, '2026学年') RETURNING id`, schoolID).Scan(&pid); err != nil {
			return err
		}
		itemIDs := make([]int64, benchItems)
		for j := range itemIDs {
			if err := tx.QueryRow(ctx, `INSERT INTO items (project_id, name) VALUES ($1, $2) RETURNING id`, pid, fmt.Sprint("item", j)).Scan(&itemIDs[j]); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT id FROM students WHERE school_id = $1 ORDER BY id`, schoolID)
		if err != nil {
			return err
		}
		stu, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		lines := make([][]any, 0, len(stu)*benchItems)
		for i, s := range stu {
			for j, it := range itemIDs {
				lines = append(lines, []any{s, it, int64(100 + j*1000 + i%7), j < 2, int64(1), int64(1)})
			}
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"bill_lines"}, []string{"student_id", "item_id", "amount", "mandatory", "created_at", "updated_at"}, pgx.CopyFromRows(lines))
		if err != nil {
			return err
		}
		if n != int64(len(lines)) {
			return fmt.Errorf("copied %d of %d", n, len(lines))
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		b.Fatal(err)
	}
}
