// Package store keeps campuspay's state in SQLite (embedded default) or
// PostgreSQL (production). It persists what the services decide: each
// method is one transaction or one statement, with the SQL of every
// statement declared per dialect in queries/<dialect>/*.sql. It enforces
// in SQL the invariants that must hold whoever writes (guards, unique
// keys, the append-only journal), and classifies driver failures by the
// driver's own codes. It holds no business rule and no words for people.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"campuspay/internal/apperr"
)

//go:embed migrations
var migrations embed.FS

// Dialect names a database engine.
type Dialect string

// Supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the database.
type Store struct {
	eng     engine
	dialect Dialect
	q       querySet
	now     atomic.Pointer[func() time.Time] // set by SetClock; read by every transaction
	stats   *Stats

	closeOnce sync.Once
	closeErr  error
}

// Open connects to dsn: "sqlite:PATH" or a "postgres://" URL. It does not
// migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	st := &Store{stats: &Stats{}}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st.dialect = Postgres
		st.eng, err = openPostgres(ctx, dsn, st.stats)
	case strings.HasPrefix(dsn, "sqlite:"):
		st.dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("store: sqlite DSN needs a path, e.g. sqlite:campuspay.db")
		}
		st.eng, err = openSQLite(ctx, path, st.stats)
	default:
		return nil, fmt.Errorf("store: unknown DSN %q (want sqlite:PATH or postgres://…)", redactDSN(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("store: connect %s: %w", redactDSN(dsn), err)
	}
	if st.q, err = loadQueries(st.dialect); err != nil {
		st.eng.close()
		return nil, err
	}
	st.SetClock(time.Now)
	return st, nil
}

// redactDSN hides a password in a URL DSN, for errors and logs.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return dsn
}

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now.Store(&now) }

// clock is the current clock (SetClock may change it while others read).
func (s *Store) clock() time.Time { return (*s.now.Load())() }

// Now is the store's clock: the one clock the services share, so that a
// test moving it moves every deadline together.
func (s *Store) Now() time.Time { return s.clock() }

// Dialect reports the engine.
func (s *Store) Dialect() Dialect { return s.dialect }

// WriteLanes is how many write transactions are worth running at once:
// one on SQLite (a single writer, whatever else waits), one per core and
// at least two on PostgreSQL (each runs in its own server process).
func (s *Store) WriteLanes() int {
	if s.dialect == Postgres {
		return max(2, runtime.NumCPU())
	}
	return 1
}

// DB is a database/sql handle on the store's database, for health checks,
// benchmarks and tests' ad-hoc queries (which may use $N placeholders on
// both engines).
func (s *Store) DB() *sql.DB { return s.eng.db() }

// Stats counts the statements and transactions run so far.
func (s *Store) Stats() *Stats { return s.stats }

// Close closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.eng.close() })
	return s.closeErr
}

// Migrate applies every pending migration of the store's dialect, each in
// its own transaction, then prepares the query set.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.DB(), sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if e, ok := s.eng.(*sqliteEngine); ok {
		return e.prepareAll(ctx, s.q)
	}
	return nil
}

// sql returns the text of a named single-statement query; a name missing
// from the set is a bug that the query-set test catches.
func (s *Store) sql(name string) string {
	qs := s.stmts(name)
	if len(qs) != 1 {
		panic("store: query " + name + " is not one statement in " + string(s.dialect))
	}
	return qs[0]
}

// stmts returns the statements of a named query.
func (s *Store) stmts(name string) []string {
	qs, ok := s.q[name]
	if !ok {
		panic("store: no query named " + name + " for " + string(s.dialect))
	}
	return qs
}

// Tx is one database transaction. Reads go to the database at once;
// writes are queued (see txConn) and checked at the next read or commit.
type Tx struct {
	s      *Store
	c      txConn
	ctx    context.Context
	now    time.Time
	writes int
	bad    error // a write refused before reaching the database
}

// fail refuses the transaction: it will not commit.
func (t *Tx) fail(err error) {
	if t.bad == nil {
		t.bad = err
	}
}

// maxAttempts bounds how often a transaction is run again after a
// retryable failure.
const maxAttempts = 6

// InTx runs fn in a transaction, committing when fn returns nil. A
// serialization failure, deadlock or busy database runs it again (bounded,
// with jittered back-off, honouring ctx), so fn must decide only from what
// it reads through the transaction.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.inTxOnce(ctx, fn)
		if err == nil || attempt == maxAttempts || !s.retryable(err) {
			return s.translate(err)
		}
		s.stats.Retries.Add(1)
		backoff := time.Duration(attempt*attempt) * 5 * time.Millisecond
		t := time.NewTimer(backoff/2 + time.Duration(rand.Int64N(int64(backoff))))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *Store) inTxOnce(ctx context.Context, fn func(*Tx) error) (err error) {
	c, err := s.eng.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{s: s, c: c, ctx: ctx, now: s.clock().Truncate(time.Millisecond)}
	defer func() {
		if p := recover(); p != nil {
			c.rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		c.rollback()
		return err
	}
	if tx.bad != nil {
		c.rollback()
		return tx.bad
	}
	return c.commit(ctx)
}

// retryable reports whether a failed transaction may succeed if run again:
// a deadlock, a serialization failure or a busy database; or a concurrent
// transaction that recorded the same channel transaction between our read
// and our write (PostgreSQL's read committed), which the next run reads.
func (s *Store) retryable(err error) bool {
	var se *stmtError
	if errors.As(err, &se) {
		switch s.eng.classify(se.Err) {
		case failRetry:
			return true
		case failUnique:
			return se.Name == "payment_insert" || se.Name == "suspense_insert"
		}
		return false
	}
	return s.eng.classify(err) == failRetry
}

// translate turns what a caller can act on into the domain's errors: an
// unavailable database into an internal error (never a "not found").
func (s *Store) translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if f := s.eng.classify(err); f == failUnavailable {
		return apperr.Internalf("store: database unavailable: %w", err)
	}
	return err
}

// Now is the transaction's clock reading.
func (t *Tx) Now() time.Time { return t.now }

// Writes counts the writes this transaction has issued.
func (t *Tx) Writes() int { return t.writes }

// write queues a named write; want is the number of rows its (last)
// statement must change, or anyRows.
func (t *Tx) write(name string, want int64, args ...any) {
	t.writes++
	qs := t.s.stmts(name)
	for i, q := range qs {
		w := want
		if i < len(qs)-1 {
			w = anyRows
		}
		t.c.queue(name, q, w, args...)
	}
}

// read runs a named query now (sending queued writes first).
func (t *Tx) read(ctx context.Context, name string, args ...any) (rows, error) {
	r, err := t.c.query(ctx, t.s.sql(name), args...)
	if err != nil {
		return nil, wrapStmt(name, err)
	}
	return r, nil
}

// readRow runs a named query and scans its one row into dest; no row is
// sql.ErrNoRows.
func (t *Tx) readRow(ctx context.Context, name string, args []any, dest ...any) error {
	r, err := t.read(ctx, name, args...)
	if err != nil {
		return err
	}
	return scanOne(r, dest...)
}

// exec runs a named write now and returns how many rows it changed.
func (t *Tx) exec(ctx context.Context, name string, args ...any) (int64, error) {
	t.writes++
	n, err := t.c.exec(ctx, t.s.sql(name), args...)
	return n, wrapStmt(name, err)
}

// flush sends the queued writes.
func (t *Tx) flush(ctx context.Context) error { return t.c.flush(ctx) }

func wrapStmt(name string, err error) error {
	if err == nil {
		return nil
	}
	var se *stmtError
	var rc *errRowCount
	if errors.As(err, &se) || errors.As(err, &rc) {
		return err
	}
	return &stmtError{Name: name, Err: err}
}

// read runs a named query outside a transaction.
func (s *Store) read(ctx context.Context, name string, args ...any) (rows, error) {
	r, err := s.eng.pool().query(ctx, s.sql(name), args...)
	if err != nil {
		return nil, s.translate(wrapStmt(name, err))
	}
	return r, nil
}

// readRow runs a named query outside a transaction and scans its one row.
func (s *Store) readRow(ctx context.Context, name string, args []any, dest ...any) error {
	r, err := s.read(ctx, name, args...)
	if err != nil {
		return err
	}
	return s.translate(scanOne(r, dest...))
}

// exec runs a named write outside a transaction.
func (s *Store) exec(ctx context.Context, name string, args ...any) (int64, error) {
	n, err := s.eng.pool().exec(ctx, s.sql(name), args...)
	return n, s.translate(wrapStmt(name, err))
}

// scanOne scans the first row of r and closes it.
func scanOne(r rows, dest ...any) error {
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.Scan(dest...); err != nil {
		return err
	}
	return r.Err()
}

// each scans every row of r with scan, and closes it.
func each(r rows, scan func(rows) error) error {
	defer r.Close()
	for r.Next() {
		if err := scan(r); err != nil {
			return err
		}
	}
	return r.Err()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// notFound turns sql.ErrNoRows into the domain's not-found (the services
// say what was not found, in their words); any other error passes
// unchanged.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, apperr.CodeNotFound, "").Wrap(err)
	}
	return err
}
