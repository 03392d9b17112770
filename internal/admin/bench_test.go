package admin_test

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/money"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// The size: a school of 50,000 students with 250,000 bill lines.
const (
	benchStudents = 50_000
	benchItems    = 5
)

// bigSchool fills a fresh store with the school through the import path
// (the same as a file) and returns the school and the ids of its lines.
func bigSchool(b *testing.B, d store.Dialect) (*store.Store, billing.School, []int64) {
	b.Helper()
	s := storetest.Open(b, d)
	sc, err := s.CreateSchool(ctx, billing.School{Code: "BIG", Name: "大学", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	items := []struct{ p, i string }{{"2026学年学费住宿费", "学费"}, {"2026学年学费住宿费", "住宿费"}, {"2026学年学费住宿费", "提档费"},
		{"2026学年代收费", "教材费"}, {"2026学年代收费", "体检费"}}
	students := make([]billing.StudentInput, 0, benchStudents)
	bills := make([]billing.BillInput, 0, benchStudents*benchItems)
	for i := 0; i < benchStudents; i++ {
		no := fmt.Sprintf("2026%06d", i)
		students = append(students, billing.StudentInput{StudentNo: no, Name: "学生" + no[6:], Grade: fmt.Sprint(2023 + i%4),
			Major: fmt.Sprintf("专业%02d", i%40), Class: fmt.Sprintf("%d级专业%02d班%02d", 2023+i%4, i%40, (i/160)%30)})
		for j, it := range items {
			bills = append(bills, billing.BillInput{Line: len(bills) + 2, StudentNo: no, Project: it.p, Item: it.i,
				Amount: money.Fen(50000 + j*10000 + i%7*100), Mandatory: j < 2})
		}
	}
	if _, err := s.ImportStudents(ctx, sc.ID, storetest.Rows(students)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ImportBills(ctx, sc.ID, "bench", storetest.Rows(bills), func(int, string, string) { b.Fatal("a bill row refused") }); err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, 0, len(bills))
	rows, err := s.DB().QueryContext(ctx, `SELECT id FROM bill_lines ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != benchStudents*benchItems {
		b.Fatalf("%d lines", len(ids))
	}
	return s, sc, ids
}

// BenchmarkBoard measures the collection board of a 50,000-student,
// 250,000-line school: "count" is the baseline, a plain COUNT(*) over the
// bill table in the same run; "board" is the board's figures (refresh of
// what changed, cells, breakdowns, hours) after 200 payments of 3 lines
// each since the last look, paid while the board refreshes concurrently;
// "rebuild" is the one-time build of the summary after the whole school
// was imported (every student's sums computed from the lines).
func BenchmarkBoard(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			s, sc, ids := bigSchool(b, d)
			svc := admin.New(s, admin.Config{})
			op := admin.System("bench")
			b.Run("rebuild", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if i > 0 {
						b.StopTimer()
						if _, err := s.DB().ExecContext(ctx, `INSERT INTO board_dirty (student_id) SELECT id FROM students`); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					if _, err := svc.Board(ctx, op, sc.ID, board.Filter{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("count", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					var n int
					if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bill_lines`).Scan(&n); err != nil || n != len(ids) {
						b.Fatal(n, err)
					}
				}
			})
			var next atomic.Int64
			pay := func(n int) {
				// Each "payment" pays one student's three mandatory-project
				// lines in one UPDATE, as lines_pay does.
				for k := 0; k < n; k++ {
					st := int(next.Add(1)) % benchStudents
					at := time.Now().UnixMilli()
					if _, err := s.DB().ExecContext(ctx, `UPDATE bill_lines SET paid = amount, updated_at = $1 WHERE id IN ($2, $3, $4)`,
						at, ids[st*benchItems], ids[st*benchItems+1], ids[st*benchItems+2]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.Run("board", func(b *testing.B) {
				var want money.Fen
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					var wg sync.WaitGroup
					wg.Add(2)
					go func() { defer wg.Done(); pay(100) }()
					go func() { defer wg.Done(); pay(100) }()
					wg.Wait()
					b.StartTimer()
					v, err := svc.Board(ctx, op, sc.ID, board.Filter{})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := s.DB().QueryRowContext(ctx, `SELECT SUM(paid) FROM bill_lines`).Scan(&want); err != nil {
						b.Fatal(err)
					}
					if v.Figures.Total.Paid != want || v.Figures.Total.Students != benchStudents {
						b.Fatalf("board paid %v, lines say %v (students %d)", v.Figures.Total.Paid, want, v.Figures.Total.Students)
					}
					b.StartTimer()
				}
			})
			b.Run("board-filtered", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					pay(20)
					b.StartTimer()
					if _, err := svc.Board(ctx, op, sc.ID, board.Filter{Grade: "2026", Major: "专业07"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// peakHeap samples the heap in use every few milliseconds until stop.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse+ms.StackInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkExportOutstanding writes the 250,000 outstanding lines of the
// big school as XLSX and reports the peak heap in use while it runs.
func BenchmarkExportOutstanding(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			s, sc, _ := bigSchool(b, d)
			svc := admin.New(s, admin.Config{})
			var peak uint64
			var size int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				stop := make(chan struct{})
				res := peakHeap(stop)
				cw := &countWriter{}
				if err := svc.ExportOutstanding(ctx, admin.System("bench"), sc.ID, cw); err != nil {
					b.Fatal(err)
				}
				close(stop)
				peak = max(peak, <-res)
				size = cw.n
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(size)/(1<<20), "xlsx-MiB")
			b.ReportMetric(float64(benchStudents*benchItems*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
