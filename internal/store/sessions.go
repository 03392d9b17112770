package store

import (
	"context"
	"time"
)

// Session is a logged-in student's session or API token (stored hashed).
type Session struct {
	TokenHash string
	Kind      string // "web" or "api"
	StudentID int64
	CSRF      string
	LastSeen  time.Time
	ExpiresAt time.Time
}

// CreateSession stores a session under the hash of its token.
func (s *Store) CreateSession(ctx context.Context, se Session) error {
	now := s.clock()
	_, err := s.x().ExecContext(ctx, `INSERT INTO sessions (token_hash, kind, student_id, csrf, created_at, last_seen, expires_at)
		VALUES ($1,$2,$3,$4,$5,$5,$6)`, se.TokenHash, se.Kind, se.StudentID, se.CSRF, ms(now), ms(se.ExpiresAt))
	return err
}

// TouchSession finds a live session and slides its idle window: it is
// valid while last use is within idle and before its absolute expiry.
func (s *Store) TouchSession(ctx context.Context, hash string, idle time.Duration) (Session, bool, error) {
	now := s.clock()
	var se Session
	var last, exp int64
	err := s.x().QueryRowContext(ctx, `SELECT token_hash, kind, student_id, csrf, last_seen, expires_at FROM sessions WHERE token_hash=$1`, hash).
		Scan(&se.TokenHash, &se.Kind, &se.StudentID, &se.CSRF, &last, &exp)
	if err != nil {
		return se, false, nil
	}
	se.LastSeen, se.ExpiresAt = fromMS(last), fromMS(exp)
	if now.After(se.ExpiresAt) || (idle > 0 && now.Sub(se.LastSeen) > idle) {
		s.x().ExecContext(ctx, `DELETE FROM sessions WHERE token_hash=$1`, hash)
		return se, false, nil
	}
	if now.Sub(se.LastSeen) > 5*time.Second {
		s.x().ExecContext(ctx, `UPDATE sessions SET last_seen=$1 WHERE token_hash=$2`, ms(now), hash)
	}
	return se, true, nil
}

// DeleteSession logs out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.x().ExecContext(ctx, `DELETE FROM sessions WHERE token_hash=$1`, hash)
	return err
}

// DeleteStudentSessions ends every session of a student except keep.
func (s *Store) DeleteStudentSessions(ctx context.Context, studentID int64, keep string) error {
	_, err := s.x().ExecContext(ctx, `DELETE FROM sessions WHERE student_id=$1 AND token_hash<>$2`, studentID, keep)
	return err
}
