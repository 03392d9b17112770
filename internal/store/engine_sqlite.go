package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteEngine is SQLite through modernc.org/sqlite (pure Go): WAL,
// synchronous FULL, foreign keys on, immediate write transactions (a
// transaction takes the write lock at BEGIN, so writers queue instead of
// failing at commit). Every named query is prepared once per connection
// and reused; modernc would parse a statement on each call otherwise.
type sqliteEngine struct {
	sdb   *sql.DB
	stats *Stats
	// writer queues this process's writes (transactions and single
	// statements) in order, a token taken before a connection: SQLite
	// has one writer, and without it a writer that finds the lock taken
	// backs off in the busy handler's growing sleeps (1, 2, 5, 10, 20… ms)
	// while holding one of the pool's few connections, which the
	// transaction holding the lock may need. Writers of other processes
	// on the same file still meet the busy timeout.
	writer chan struct{}

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // by query text, prepared on the pool
}

func openSQLite(ctx context.Context, path string, stats *Stats) (*sqliteEngine, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(15000)", "synchronous(FULL)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One writer at a time is SQLite's nature; a small pool keeps readers
	// concurrent while writers queue on the busy timeout.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteEngine{sdb: db, stats: stats, stmts: map[string]*sql.Stmt{}, writer: make(chan struct{}, 1)}, nil
}

func (e *sqliteEngine) db() *sql.DB { return e.sdb }

// param is plain ?: modernc binds numbered parameters by searching the
// statement for each, 8× slower on a 2,000-parameter INSERT (measured:
// 190k rows/s with ? against 24k with $N).
func (e *sqliteEngine) param(int) string { return "?" }

func (e *sqliteEngine) close() error {
	e.mu.Lock()
	for _, st := range e.stmts {
		st.Close()
	}
	e.stmts = map[string]*sql.Stmt{}
	e.mu.Unlock()
	return e.sdb.Close()
}

// prepare returns the pool-level prepared statement for q. database/sql
// prepares it again on each connection that runs it (inside a
// transaction, on the transaction's own connection) and keeps it there.
// Generated statements (multi-row INSERTs) are not kept.
func (e *sqliteEngine) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.stmts[q]; ok {
		return st, nil
	}
	st, err := e.sdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(e.stmts) < 1024 {
		e.stmts[q] = st
	}
	return st, nil
}

// prepareAll prepares every named query up front, before any transaction
// holds the write lock (preparing needs a connection of its own).
func (e *sqliteEngine) prepareAll(ctx context.Context, qs querySet) error {
	for name, stmts := range qs {
		for _, q := range stmts {
			if _, err := e.prepare(ctx, q); err != nil {
				return fmt.Errorf("store: prepare %s: %w", name, err)
			}
		}
	}
	return nil
}

func (e *sqliteEngine) classify(err error) failure {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return failOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return failUnique
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
		return failRetry
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
		return failUnavailable
	}
	if se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return failConstraint
	}
	if se.Code()&0xff == sqlite3.SQLITE_BUSY {
		return failRetry
	}
	return failOther
}

func (e *sqliteEngine) pool() queryConn { return sqlitePool{e} }

type sqlitePool struct{ e *sqliteEngine }

func (p sqlitePool) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := p.e.lockWriter(ctx); err != nil {
		return 0, err
	}
	defer p.e.unlockWriter()
	p.e.stats.Statements.Add(1)
	st, err := p.e.prepare(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (p sqlitePool) query(ctx context.Context, q string, args ...any) (rows, error) {
	p.e.stats.Statements.Add(1)
	st, err := p.e.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

// sqlRows adapts *sql.Rows (whose Close returns an error nobody needs).
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// lockWriter takes the writer token, or gives up when ctx ends.
func (e *sqliteEngine) lockWriter(ctx context.Context) error {
	select {
	case e.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *sqliteEngine) unlockWriter() { <-e.writer }

func (e *sqliteEngine) begin(ctx context.Context) (txConn, error) {
	if err := e.lockWriter(ctx); err != nil {
		return nil, err
	}
	tx, err := e.sdb.BeginTx(ctx, nil)
	if err != nil {
		e.unlockWriter()
		return nil, err
	}
	e.stats.Transactions.Add(1)
	return &sqliteTx{e: e, tx: tx, ctx: ctx}, nil
}

// sqliteTx runs queued writes at once: SQLite is in process, so there is
// no round trip to save. A failure is kept and reported at the next flush,
// as PostgreSQL's pipeline reports it, so that callers see one behaviour.
type sqliteTx struct {
	e   *sqliteEngine
	tx  *sql.Tx
	ctx context.Context
	err error
	// local holds generated statements (multi-row INSERTs) prepared for
	// this transaction only: a bulk import runs its full batch's text
	// hundreds of times, but such texts are not worth keeping after it.
	local map[string]*sql.Stmt
}

func (t *sqliteTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	st, err := t.e.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, st), nil
}

func (t *sqliteTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	t.e.stats.Statements.Add(1)
	var res sql.Result
	var err error
	if len(q) > 4096 { // generated multi-row statements
		st, ok := t.local[q]
		if !ok {
			if st, err = t.tx.PrepareContext(ctx, q); err != nil {
				return 0, err
			}
			if t.local == nil {
				t.local = map[string]*sql.Stmt{}
			}
			t.local[q] = st
		}
		res, err = st.ExecContext(ctx, args...)
	} else {
		var st *sql.Stmt
		if st, err = t.stmt(ctx, q); err == nil {
			res, err = st.ExecContext(ctx, args...)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *sqliteTx) query(ctx context.Context, q string, args ...any) (rows, error) {
	if t.err != nil {
		return nil, t.err
	}
	t.e.stats.Statements.Add(1)
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (t *sqliteTx) queryEach(ctx context.Context, q string, argsList [][]any, scan func(int, rows) error) error {
	for i, args := range argsList {
		r, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		if err := each(r, func(r rows) error { return scan(i, r) }); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqliteTx) queue(name, q string, want int64, args ...any) {
	if t.err != nil {
		return
	}
	n, err := t.exec(t.ctx, q, args...)
	switch {
	case err != nil:
		t.err = &stmtError{Name: name, Err: err}
	case want != anyRows && n != want:
		t.err = &errRowCount{Name: name, Want: want, Got: n}
	}
}

func (t *sqliteTx) flush(ctx context.Context) error { return t.err }

func (t *sqliteTx) commit(ctx context.Context) error {
	defer t.e.unlockWriter()
	defer t.closeLocal()
	if t.err != nil {
		t.tx.Rollback()
		return t.err
	}
	return t.tx.Commit()
}

// closeLocal closes the transaction's own statements (database/sql
// closes them with the transaction too; this frees them at once).
func (t *sqliteTx) closeLocal() {
	for _, st := range t.local {
		st.Close()
	}
	t.local = nil
}

func (t *sqliteTx) rollback() {
	t.closeLocal()
	t.tx.Rollback()
	t.e.unlockWriter()
}
