package store_test

import (
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// TestLockStudentSeesHoldsMadeWhileWaiting (PostgreSQL, READ COMMITTED):
// an order transaction that waits for another's lock on the student's
// lines sees the holds the other committed, so R9 refuses with the order
// that holds them rather than failing later on the hold's primary key.
func TestLockStudentSeesHoldsMadeWhileWaiting(t *testing.T) {
	s := storetest.Open(t, store.Postgres)
	x := seed(t, s)
	stu := x.students[0]
	tuition := x.lines(t, 0)["学费"]
	until := time.Now().Add(time.Hour).UnixMilli()

	other, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, "SELECT id FROM bill_lines WHERE student_id = $1 FOR UPDATE", stu.ID); err != nil {
		t.Fatal(err)
	}
	var orderID int64
	if err := other.QueryRowContext(ctx, `INSERT INTO orders (order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at)
		VALUES ('CPWAIT00000001', $1, $2, 'fakepay', $3, 'paying', FALSE, $4, $5) RETURNING id`,
		stu.SchoolID, stu.ID, int64(tuition.Amount), time.Now().UnixMilli(), until).Scan(&orderID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "INSERT INTO line_holds (line_id, order_id, until_at) VALUES ($1, $2, $3)", tuition.ID, orderID, until); err != nil {
		t.Fatal(err)
	}

	type result struct {
		holds []billing.Hold
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = s.Update(ctx, func(tx payment.Tx) error {
			_, r.holds, r.err = tx.LockStudent(ctx, stu.ID)
			return r.err
		})
		done <- r
	}()
	// Wait until the order transaction is blocked on the lines' lock.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM bill_lines%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the order transaction never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.holds) != 1 || r.holds[0].LineID != tuition.ID || r.holds[0].OrderNo != "CPWAIT00000001" {
		t.Fatalf("holds seen after the wait: %+v; want the one committed meanwhile", r.holds)
	}
}
