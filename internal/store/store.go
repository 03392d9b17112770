// Package store keeps campuspay's state in SQLite (embedded default) or
// PostgreSQL (production), behind one set of methods that take a context.
// SQL is written by hand; where the dialects differ the difference is kept
// next to the query. Every money change happens here inside a transaction
// that also appends its journal entry.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

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
	db      *sql.DB
	dialect Dialect
	now     atomic.Pointer[func() time.Time] // set by SetClock; read by every transaction
	stmts   *stmtCache                       // SQLite only: pgx caches prepared statements itself
	applier *applier                         // SQLite only: group commit of payment successes

	closeOnce sync.Once
	closeErr  error
}

// Open connects to dsn: "sqlite:PATH" (WAL, foreign keys, busy timeout,
// immediate write transactions) or a "postgres://" URL. It does not migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		db      *sql.DB
		err     error
		dialect Dialect
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialect = Postgres
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
		}
	case strings.HasPrefix(dsn, "sqlite:"):
		dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("store: sqlite DSN needs a path, e.g. sqlite:campuspay.db")
		}
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(15000)", "synchronous(FULL)", "cache_size(-65536)", "temp_store(MEMORY)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err == nil {
			// One writer at a time is SQLite's nature; a small pool keeps
			// readers concurrent while writers queue on the busy timeout.
			db.SetMaxOpenConns(4)
		}
	default:
		return nil, fmt.Errorf("store: unknown DSN %q (want sqlite:PATH or postgres://…)", redactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", redactDSN(dsn), err)
	}
	st := &Store{db: db, dialect: dialect}
	st.SetClock(time.Now)
	if dialect == SQLite {
		st.stmts = &stmtCache{db: db, m: map[string]*sql.Stmt{}}
		st.applier = newApplier(st)
	}
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

// Dialect reports the engine.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the handle for benchmarks and health checks.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.applier != nil {
			s.applier.close()
		}
		s.stmts.close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Migrate applies every pending migration of the store's dialect, each in
// its own transaction.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.db, sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Tx is one database transaction.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	now     time.Time
	stmts   *stmtCache
}

// InTx runs fn in a transaction, committing when fn returns nil. On
// PostgreSQL a serialization or deadlock failure is retried (bounded).
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.inTxOnce(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	return err
}

func (s *Store) inTxOnce(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: s.dialect, now: s.clock().Truncate(time.Millisecond), stmts: s.stmts}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

// forUpdate is the row-lock suffix: PostgreSQL locks rows; SQLite's
// immediate transactions already hold the database's write lock.
func (t *Tx) forUpdate() string {
	if t.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.x().ExecContext(ctx, q, args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.x().QueryContext(ctx, q, args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.x().QueryRowContext(ctx, q, args...)
}

// insertID runs an INSERT … RETURNING id (both engines support RETURNING).
func (t *Tx) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.x().QueryRowContext(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// Now is the transaction's clock reading.
func (t *Tx) Now() time.Time { return t.now }

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

// ErrNotFound is the store's not-found, mapped to the domain's at the edge.
var ErrNotFound = apperr.New(apperr.NotFound, "not_found", "未找到")

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "not_found", what+"不存在")
	}
	return err
}
