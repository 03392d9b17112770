package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/jobs"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func enqueue(t *testing.T, s *store.Store, kind, ref string, at time.Time) {
	t.Helper()
	if err := s.InTx(ctx, func(tx *store.Tx) error { tx.Enqueue(kind, ref, at); return nil }); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

func TestJobs(t *testing.T) {
	t.Run("enqueueing_the_same_kind_and_ref_twice_makes_one_job", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			now := time.Now()
			fixedClock(s, now)
			enqueue(t, s, payment.JobQuery, "CP1", now.Add(time.Minute))
			enqueue(t, s, payment.JobQuery, "CP1", now)
			enqueue(t, s, payment.JobExpire, "CP1", now)
			if n := count(t, s, "jobs", "kind = $1 AND ref = $2", payment.JobQuery, "CP1"); n != 1 {
				t.Errorf("%d query jobs for CP1", n)
			}
			got, err := s.Claim(ctx, "w1", 10, time.Minute)
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
				enqueue(t, s, payment.JobQuery, fmt.Sprintf("CP%03d", i), now.Add(-time.Second))
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
						got, err := s.Claim(ctx, worker, 7, time.Hour)
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
			enqueue(t, s, payment.JobRefund, "RF1", now)
			got, _ := s.Claim(ctx, "w1", 10, time.Minute)
			if len(got) != 1 || got[0].Attempts != 1 {
				t.Fatalf("claimed %+v", got)
			}
			if again, _ := s.Claim(ctx, "w2", 10, time.Minute); len(again) != 0 {
				t.Errorf("a leased job was claimed again: %+v", again)
			}
			if err := s.Retry(ctx, got[0], now.Add(30*time.Second), "channel timeout"); err != nil {
				t.Fatal(err)
			}
			if early, _ := s.Claim(ctx, "w2", 10, time.Minute); len(early) != 0 {
				t.Errorf("a retried job ran before its time: %+v", early)
			}
			move(31 * time.Second)
			got, _ = s.Claim(ctx, "w2", 10, time.Minute)
			if len(got) != 1 || got[0].Attempts != 2 {
				t.Fatalf("retry claimed %+v", got)
			}
			var lastErr string
			s.DB().QueryRowContext(ctx, `SELECT last_error FROM jobs WHERE id = $1`, got[0].ID).Scan(&lastErr)
			if lastErr != "channel timeout" {
				t.Errorf("last_error %q", lastErr)
			}
			if err := s.Complete(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
			move(time.Hour)
			if late, _ := s.Claim(ctx, "w3", 10, time.Minute); len(late) != 0 {
				t.Errorf("a completed job was claimed: %+v", late)
			}
			if p, _ := s.Counts(ctx); p[jobs.StatePending][payment.JobRefund] != 0 {
				t.Errorf("pending %v", p)
			}
			// a lease that ran out lets another worker take the job
			enqueue(t, s, payment.JobQuery, "CP9", s2now(s))
			first, _ := s.Claim(ctx, "w1", 1, time.Minute)
			move(2 * time.Minute)
			second, _ := s.Claim(ctx, "w2", 1, time.Minute)
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
	t.Run("a_session_is_found_with_its_student_and_school_until_deleted", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			now := time.Now().Truncate(time.Millisecond)
			move := fixedClock(s, now)
			stu := x.students[0]
			for _, h := range []string{"a", "b", "c"} {
				if err := s.CreateSession(ctx, auth.Session{TokenHash: h, Kind: auth.KindWeb, StudentID: stu.ID, CSRF: "c-" + h, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			se, st, sc, err := s.SessionPrincipal(ctx, "a")
			if err != nil || se.CSRF != "c-a" || se.Kind != auth.KindWeb || !se.LastSeen.Equal(now) || !se.ExpiresAt.Equal(now.Add(time.Hour)) ||
				st.ID != stu.ID || st.StudentNo != stu.StudentNo || sc.ID != x.school.ID || sc.Code != x.school.Code || sc.Policy.HelpLine == "" {
				t.Fatalf("session %+v student %+v school %+v err %v", se, st, sc, err)
			}
			move(time.Minute)
			if err := s.TouchSession(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if se, _, _, _ := s.SessionPrincipal(ctx, "a"); !se.LastSeen.Equal(now.Add(time.Minute)) {
				t.Errorf("touched at %v", se.LastSeen)
			}
			if err := s.DeleteSession(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := s.SessionPrincipal(ctx, "b"); apperr.CodeOf(err) != apperr.CodeNotFound {
				t.Errorf("deleted session: %v", err)
			}
			if err := s.DeleteStudentSessions(ctx, stu.ID, "a"); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := s.SessionPrincipal(ctx, "c"); apperr.CodeOf(err) != apperr.CodeNotFound {
				t.Errorf("another session of the student survived: %v", err)
			}
			if _, _, _, err := s.SessionPrincipal(ctx, "a"); err != nil {
				t.Errorf("the kept session: %v", err)
			}
		})
	})
}
