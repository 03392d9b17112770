package store_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"campuspay/internal/loadtest"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// BenchmarkOrderCycle writes what order creation and closing write, one
// after the other on one connection's worth of load: a transaction that
// locks the student's lines and inserts an order with its lines, holds,
// events and Idempotency-Key, then one that closes it and frees the
// lines. It reports the statements per cycle and, where PostgreSQL runs
// on this machine, the CPU per cycle of all its processes (so run it with
// nothing else on the database server): the database's share of
// a pay flow's cost, less noisy than the load test for comparing two
// versions of the queries.
func BenchmarkOrderCycle(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			s := storetest.Open(b, d)
			_, students := storetest.Seed(b, s)
			stu := students[0]
			lines, err := s.Lines(ctx, stu.ID)
			if err != nil {
				b.Fatal(err)
			}
			base := time.Now()
			stmts0 := s.Stats().Statements.Load()
			cpu0, cpuOK := loadtest.CommandCPU("postgres")
			b.ResetTimer()
			for i := range b.N {
				now := time.UnixMilli(base.UnixMilli() + int64(i))
				o := &payment.Order{OrderNo: fmt.Sprintf("CPBENCH%08d", i), SchoolID: stu.SchoolID, StudentID: stu.ID, Channel: "fakepay",
					Status: payment.StatusPaying, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
				for _, l := range lines[:2] {
					o.Lines = append(o.Lines, payment.OrderLine{LineID: l.ID, Amount: l.Amount})
					o.Amount += l.Amount
				}
				idem := &payment.IdempotencyKey{StudentID: stu.ID, Key: "bench-" + strconv.Itoa(i), RequestHash: "h"}
				if err := s.Update(ctx, func(tx payment.Tx) error {
					if _, _, err := tx.LockStudent(ctx, stu.ID); err != nil {
						return err
					}
					return tx.InsertOrder(ctx, o, idem)
				}); err != nil {
					b.Fatal(err)
				}
				if err := s.Update(ctx, func(tx payment.Tx) error {
					cur, err := tx.LockOrder(ctx, o.OrderNo)
					if err != nil {
						return err
					}
					tx.SetStatus(cur, payment.StatusClosed, "bench", payment.OrderChange{ClosedAt: now})
					tx.ReleaseHolds(cur)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(s.Stats().Statements.Load()-stmts0)/float64(b.N), "stmts/op")
			if cpu1, ok := loadtest.CommandCPU("postgres"); d == store.Postgres && cpuOK && ok {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
			}
		})
	}
}
