package auth

import "time"

// LoginLock says whether a student's logins are refused now by the
// account's failure budget (R5's lockout), and for how long. It reports
// this process's throttle: each server keeps its own.
func (s *Service) LoginLock(schoolCode, studentNo string) (locked bool, retryAfter time.Duration) {
	d := s.guard.AccountLocked(account(schoolCode, studentNo))
	return !d.Allowed, d.RetryAfter
}

// UnlockLogin clears a student's failure budget and every back-off on the
// account, so the student can log in again at once.
func (s *Service) UnlockLogin(schoolCode, studentNo string) {
	s.guard.Unlock(account(schoolCode, studentNo))
}
