package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// An engine is one database product behind the store: how to connect,
// begin a transaction, run a statement and classify a failure. There are
// two, SQLite (engine_sqlite.go) and PostgreSQL (engine_postgres.go); the
// SQL each runs is declared in its own query set (queries/<dialect>/*.sql),
// loaded by name, never rewritten at run time.
type engine interface {
	// begin starts a write transaction. The first statement may be sent
	// lazily (PostgreSQL sends BEGIN with the transaction's first batch).
	begin(ctx context.Context) (txConn, error)
	// pool runs single statements outside a transaction.
	pool() queryConn
	// classify says what kind of failure err is, from the driver's code.
	classify(err error) failure
	// db is a database/sql handle on the same database, for migrations,
	// health checks and tests' ad-hoc queries.
	db() *sql.DB
	close() error
	// param is the i-th (1-based) parameter in statements the store
	// generates (multi-row INSERTs): SQLite's plain ?, PostgreSQL's $i.
	param(i int) string
}

// queryConn runs statements; rows are closed by the caller.
type queryConn interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// txConn is one transaction. Writes may be queued: the engine sends them
// with the next read or the commit (PostgreSQL pipelines them into one
// round trip; SQLite, in process, runs each at once). A queued write's
// failure, or a row count other than the one it expects, fails the
// transaction at the next flush.
type txConn interface {
	queryConn
	// queryEach runs q once per argument list, scanning each answer with
	// scan(i, rows); PostgreSQL sends them all (after the queued writes)
	// in one pipeline.
	queryEach(ctx context.Context, q string, argsList [][]any, scan func(i int, r rows) error) error
	queue(name, q string, want int64, args ...any)
	flush(ctx context.Context) error
	commit(ctx context.Context) error
	rollback()
}

// bulkLoader is a transaction that can load many new rows at once by a
// bulk protocol (PostgreSQL's COPY). Engines without one insert the rows
// with multi-row INSERTs instead (see Store.linesInsertSQL).
type bulkLoader interface {
	// copyRows sends the queued writes, then loads rows into table's
	// columns and returns how many it loaded.
	copyRows(ctx context.Context, table string, columns []string, rows [][]any) (int64, error)
}

// rows is what a query returns, on either engine.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// anyRows means a queued write may change any number of rows.
const anyRows = -1

// failure classifies a driver error.
type failure int

const (
	failOther       failure = iota
	failUnique              // a unique or primary-key constraint refused the row
	failRetry               // serialization failure, deadlock or busy: run the transaction again
	failConstraint          // another constraint (check, foreign key, not null)
	failUnavailable         // the database could not be reached
)

// stmtError is a failed statement, with the name of the query that failed
// so that callers can tell which guard refused.
type stmtError struct {
	Name string
	Err  error
}

func (e *stmtError) Error() string { return "store: " + e.Name + ": " + e.Err.Error() }
func (e *stmtError) Unwrap() error { return e.Err }

// errRowCount is a guarded write that changed another number of rows than
// it expected: a guard refused, so the whole transaction is undone.
type errRowCount struct {
	Name      string
	Want, Got int64
}

func (e *errRowCount) Error() string {
	return fmt.Sprintf("store: %s changed %d rows, want %d", e.Name, e.Got, e.Want)
}

// failedIn reports whether err is a stmtError of the named query whose
// cause is of kind f.
func (s *Store) failedIn(err error, name string, f failure) bool {
	var se *stmtError
	return errors.As(err, &se) && se.Name == name && s.eng.classify(se.Err) == f
}

// Stats counts statements and transactions, for metrics and the load
// test's "statements per flow".
type Stats struct {
	Statements   atomic.Int64
	Transactions atomic.Int64
	Retries      atomic.Int64
}
