package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func enqueue(t *testing.T, s *store.Store, kind, ref string, at time.Time) {
	t.Helper()
	if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.Enqueue(ctx, kind, ref, at) }); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

func TestJobs(t *testing.T) {
	t.Run("enqueueing_the_same_kind_and_ref_twice_makes_one_job", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			now := time.Now()
			fixedClock(s, now)
			enqueue(t, s, store.JobQuery, "CP1", now.Add(time.Minute))
			enqueue(t, s, store.JobQuery, "CP1", now)
			enqueue(t, s, store.JobExpire, "CP1", now)
			if n := count(t, s, "jobs", "kind = $1 AND ref = $2", store.JobQuery, "CP1"); n != 1 {
				t.Errorf("%d query jobs for CP1", n)
			}
			got, err := s.ClaimJobs(ctx, "w1", 10, time.Minute)
			if err != nil || len(got) != 2 {
				t.Errorf("claimed %+v %v, want both jobs due (the second enqueue moved run_at)", got, err)
			}
		})
	})
	t.Run("concurrent_workers_lease_each_job_once", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			now := time.Now()
			fixedClock(s, now)
			const jobs, workers = 60, 6
			for i := 0; i < jobs; i++ {
				enqueue(t, s, store.JobQuery, fmt.Sprintf("CP%03d", i), now.Add(-time.Second))
			}
			var mu sync.Mutex
			leased := map[int64]string{}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(worker string) {
					defer wg.Done()
					for {
						got, err := s.ClaimJobs(ctx, worker, 7, time.Hour)
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, j := range got {
							if prev, ok := leased[j.ID]; ok {
								errs <- fmt.Errorf("job %d leased by %s and %s", j.ID, prev, worker)
							}
							leased[j.ID] = worker
						}
						mu.Unlock()
					}
				}(fmt.Sprintf("w%d", w))
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if len(leased) != jobs {
				t.Errorf("%d of %d jobs leased", len(leased), jobs)
			}
		})
	})
	t.Run("a_retried_job_runs_again_later_and_a_completed_job_never", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			now := time.Now()
			move := fixedClock(s, now)
			enqueue(t, s, store.JobRefund, "RF1", now)
			got, _ := s.ClaimJobs(ctx, "w1", 10, time.Minute)
			if len(got) != 1 || got[0].Attempts != 1 {
				t.Fatalf("claimed %+v", got)
			}
			if again, _ := s.ClaimJobs(ctx, "w2", 10, time.Minute); len(again) != 0 {
				t.Errorf("a leased job was claimed again: %+v", again)
			}
			if err := s.RetryJob(ctx, got[0], now.Add(30*time.Second), "channel timeout"); err != nil {
				t.Fatal(err)
			}
			if early, _ := s.ClaimJobs(ctx, "w2", 10, time.Minute); len(early) != 0 {
				t.Errorf("a retried job ran before its time: %+v", early)
			}
			move(31 * time.Second)
			got, _ = s.ClaimJobs(ctx, "w2", 10, time.Minute)
			if len(got) != 1 || got[0].Attempts != 2 {
				t.Fatalf("retry claimed %+v", got)
			}
			var lastErr string
			s.DB().QueryRowContext(ctx, `SELECT last_error FROM jobs WHERE id = $1`, got[0].ID).Scan(&lastErr)
			if lastErr != "channel timeout" {
				t.Errorf("last_error %q", lastErr)
			}
			if err := s.CompleteJob(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
			move(time.Hour)
			if late, _ := s.ClaimJobs(ctx, "w3", 10, time.Minute); len(late) != 0 {
				t.Errorf("a completed job was claimed: %+v", late)
			}
			if p, _ := s.PendingJobs(ctx); p[store.JobRefund] != 0 {
				t.Errorf("pending %v", p)
			}
			// a lease that ran out lets another worker take the job
			enqueue(t, s, store.JobQuery, "CP9", s2now(s))
			first, _ := s.ClaimJobs(ctx, "w1", 1, time.Minute)
			move(2 * time.Minute)
			second, _ := s.ClaimJobs(ctx, "w2", 1, time.Minute)
			if len(first) != 1 || len(second) != 1 || first[0].ID != second[0].ID {
				t.Errorf("expired lease: %+v then %+v", first, second)
			}
		})
	})
}

func s2now(s *store.Store) time.Time {
	var now time.Time
	s.InTx(ctx, func(tx *store.Tx) error { now = tx.Now(); return nil })
	return now
}

func TestSessions(t *testing.T) {
	t.Run("a_session_lives_while_used_and_dies_when_idle_expired_or_deleted", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			now := time.Now()
			move := fixedClock(s, now)
			idle := 30 * time.Minute
			stu := x.students[0].ID
			mk := func(hash string, life time.Duration) {
				if err := s.CreateSession(ctx, store.Session{TokenHash: hash, Kind: "web", StudentID: stu, CSRF: "c-" + hash, ExpiresAt: s2now(s).Add(life)}); err != nil {
					t.Fatal(err)
				}
			}
			touch := func(hash string) bool {
				se, ok, err := s.TouchSession(ctx, hash, idle)
				if err != nil {
					t.Fatal(err)
				}
				if ok && (se.StudentID != stu || se.CSRF != "c-"+hash) {
					t.Errorf("session %+v", se)
				}
				return ok
			}
			mk("a", 12*time.Hour)
			if !touch("a") {
				t.Fatal("a fresh session is not live")
			}
			for i := 0; i < 4; i++ { // used every 20 minutes: stays alive past one idle window
				move(20 * time.Minute)
				if !touch("a") {
					t.Fatalf("session died while in use (step %d)", i)
				}
			}
			move(31 * time.Minute)
			if touch("a") {
				t.Error("an idle session is still live")
			}
			if n := count(t, s, "sessions", "token_hash = $1", "a"); n != 0 {
				t.Error("an idle session was not deleted")
			}
			mk("b", time.Hour)
			for i := 0; i < 3; i++ {
				move(25 * time.Minute)
				touch("b")
			}
			if touch("b") {
				t.Error("a session past its absolute expiry is live")
			}
			mk("c", time.Hour)
			mk("d", time.Hour)
			if err := s.DeleteSession(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			if touch("c") || !touch("d") {
				t.Error("delete removed the wrong session")
			}
			if touch("never") {
				t.Error("an unknown token is live")
			}
		})
	})
}

func TestLoginFailures(t *testing.T) {
	t.Run("failures_lock_the_student_at_the_maximum_and_a_success_clears_them", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			now := time.Now().Truncate(time.Millisecond)
			fixedClock(s, now)
			id := x.students[0].ID
			const max, lock = 5, 15 * time.Minute
			fail := func() time.Time {
				t.Helper()
				ok, _, err := s.BeginLogin(ctx, id, max, 15*time.Minute)
				if err != nil || !ok {
					t.Fatalf("begin: %v %v", ok, err)
				}
				_, until, err := s.EndLogin(ctx, id, false, max, lock)
				if err != nil {
					t.Fatal(err)
				}
				return until
			}
			for i := 1; i < max; i++ {
				if until := fail(); !until.IsZero() {
					t.Fatalf("failure %d: locked until %v", i, until)
				}
			}
			if st, _ := s.StudentByID(ctx, id); st.FailedLogins != max-1 || !st.LockedUntil.IsZero() {
				t.Errorf("after %d failures: %+v", max-1, st)
			}
			if until := fail(); !until.Equal(now.Add(lock)) {
				t.Fatalf("failure %d: locked until %v, want %v", max, until, now.Add(lock))
			}
			st, _ := s.StudentByID(ctx, id)
			if !st.LockedUntil.Equal(now.Add(lock)) {
				t.Errorf("stored lock %v", st.LockedUntil)
			}
			if other, _ := s.StudentByID(ctx, x.students[1].ID); other.FailedLogins != 0 || !other.LockedUntil.IsZero() {
				t.Errorf("another student was touched: %+v", other)
			}
			if ok, until, _ := s.BeginLogin(ctx, id, max, 15*time.Minute); ok || !until.Equal(now.Add(lock)) {
				t.Errorf("a locked student may begin a login: %v %v", ok, until)
			}
			fixedClock(s, now.Add(lock+time.Second))
			if ok, _, _ := s.BeginLogin(ctx, id, max, 15*time.Minute); !ok {
				t.Fatal("lock did not end")
			}
			if ok, _, err := s.EndLogin(ctx, id, true, max, lock); !ok || err != nil {
				t.Fatalf("success refused: %v", err)
			}
			if st, _ := s.StudentByID(ctx, id); st.FailedLogins != 0 || !st.LockedUntil.IsZero() {
				t.Errorf("after success: %+v", st)
			}
		})
	})
}

func TestParallelGuessesCannotOutrunTheLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		id := x.students[0].ID
		const max = 5
		var mu sync.Mutex
		begun := 0
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := s.BeginLogin(ctx, id, max, 15*time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					begun++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if begun != max {
			t.Fatalf("%d of 40 parallel attempts began, want exactly %d", begun, max)
		}
	})
}

// TestAbandonedLoginsEndInALock: attempts whose password check never
// finished (the client hung up) do not lock the student out for good:
// once stale they count as failures and end in the ordinary lock.
func TestAbandonedLoginsEndInALock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		now := time.Now().Truncate(time.Millisecond)
		at := fixedClock(s, now)
		id := x.students[0].ID
		const max, lock = 5, 15 * time.Minute
		for i := 0; i < max; i++ {
			if ok, _, err := s.BeginLogin(ctx, id, max, lock); !ok || err != nil {
				t.Fatalf("attempt %d refused: %v", i, err)
			}
		}
		if ok, until, _ := s.BeginLogin(ctx, id, max, lock); ok || !until.IsZero() {
			t.Fatalf("while attempts are in flight: ok=%v until=%v, want a refusal without a lock", ok, until)
		}
		at(time.Minute)
		ok, until, err := s.BeginLogin(ctx, id, max, lock)
		if ok || err != nil || !until.Equal(now.Add(time.Minute).Add(lock)) {
			t.Fatalf("stale attempts: ok=%v until=%v err=%v, want a lock", ok, until, err)
		}
		at(time.Minute + lock + time.Second)
		if ok, _, _ := s.BeginLogin(ctx, id, max, lock); !ok {
			t.Fatal("the student is still locked out after the lock ended")
		}
	})
}
