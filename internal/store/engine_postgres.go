package store

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgEngine is PostgreSQL through pgx's native interface, so that a
// transaction's statements can be pipelined: BEGIN travels with the first
// read, queued writes with the next read, and the last writes with COMMIT.
// A payment is applied in two round trips instead of a dozen. pgx prepares
// and caches each statement per connection by its text.
type pgEngine struct {
	p     *pgxpool.Pool
	sdb   *sql.DB
	stats *Stats
}

func openPostgres(ctx context.Context, dsn string, stats *Stats) (*pgEngine, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	// Every query is a short, indexed lookup whose best plan does not
	// depend on its parameters: plan each prepared statement once rather
	// than at every execution.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return &pgEngine{p: p, sdb: stdlib.OpenDBFromPool(p), stats: stats}, nil
}

func (e *pgEngine) db() *sql.DB { return e.sdb }

func (e *pgEngine) param(i int) string { return "$" + strconv.Itoa(i) }

func (e *pgEngine) close() error {
	err := e.sdb.Close()
	e.p.Close()
	return err
}

func (e *pgEngine) classify(err error) failure {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return failUnique
		case pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03":
			return failRetry
		case strings.HasPrefix(pe.Code, "23"):
			return failConstraint
		case strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300":
			return failUnavailable
		}
		return failOther
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) {
		return failUnavailable
	}
	return failOther
}

func (e *pgEngine) pool() queryConn { return pgPool{e} }

type pgPool struct{ e *pgEngine }

func (p pgPool) exec(ctx context.Context, q string, args ...any) (int64, error) {
	p.e.stats.Statements.Add(1)
	tag, err := p.e.p.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (p pgPool) query(ctx context.Context, q string, args ...any) (rows, error) {
	p.e.stats.Statements.Add(1)
	r, err := p.e.p.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (e *pgEngine) begin(ctx context.Context) (txConn, error) {
	c, err := e.p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	e.stats.Transactions.Add(1)
	return &pgTx{e: e, c: c}, nil
}

type queued struct {
	name string
	q    string
	want int64
	args []any
}

// pgTx keeps BEGIN and the queued writes until something must be read or
// the transaction commits, then sends them as one pipeline.
type pgTx struct {
	e       *pgEngine
	c       *pgxpool.Conn
	begun   bool // BEGIN has been sent
	pending []queued
	err     error
	done    bool
}

func (t *pgTx) queue(name, q string, want int64, args ...any) {
	if t.err == nil {
		t.pending = append(t.pending, queued{name: name, q: q, want: want, args: args})
	}
}

// send pipelines BEGIN (if not sent yet), the pending writes and extra
// (the statement the caller wants an answer from, or COMMIT). It checks
// the writes and returns the batch with extra's result still unread.
func (t *pgTx) send(ctx context.Context, extra string, args ...any) (pgx.BatchResults, error) {
	if extra == "" {
		return t.sendMany(ctx, "", nil)
	}
	return t.sendMany(ctx, extra, [][]any{args})
}

// sendMany is send with extra run once per argument list.
func (t *pgTx) sendMany(ctx context.Context, extra string, argsList [][]any) (pgx.BatchResults, error) {
	if t.err != nil {
		return nil, t.err
	}
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
	}
	for _, w := range t.pending {
		b.Queue(w.q, w.args...)
	}
	for _, args := range argsList {
		b.Queue(extra, args...)
	}
	t.e.stats.Statements.Add(int64(b.Len()))
	br := t.c.SendBatch(ctx, b)
	if !t.begun {
		t.begun = true
		if _, err := br.Exec(); err != nil {
			br.Close()
			t.err = err
			return nil, err
		}
	}
	pending := t.pending
	t.pending = t.pending[:0]
	for _, w := range pending {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			t.err = &stmtError{Name: w.name, Err: err}
			return nil, t.err
		}
		if w.want != anyRows && tag.RowsAffected() != w.want {
			br.Close()
			t.err = &errRowCount{Name: w.name, Want: w.want, Got: tag.RowsAffected()}
			return nil, t.err
		}
	}
	return br, nil
}

func (t *pgTx) flush(ctx context.Context) error {
	if t.err != nil || (t.begun && len(t.pending) == 0) {
		return t.err
	}
	br, err := t.send(ctx, "")
	if err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		t.err = err
	}
	return t.err
}

// copyRows loads rows with COPY … FROM STDIN (binary) inside the
// transaction, after BEGIN and the queued writes.
func (t *pgTx) copyRows(ctx context.Context, table string, columns []string, rows [][]any) (int64, error) {
	if err := t.flush(ctx); err != nil { // sends BEGIN if not sent yet
		return 0, err
	}
	t.e.stats.Statements.Add(1)
	n, err := t.c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	if err != nil {
		t.err = &stmtError{Name: "copy " + table, Err: err}
		return n, t.err
	}
	return n, nil
}

func (t *pgTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	br, err := t.send(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.err = err
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t *pgTx) query(ctx context.Context, q string, args ...any) (rows, error) {
	br, err := t.send(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		br.Close()
		t.err = err
		return nil, err
	}
	return &batchRows{Rows: r, br: br, tx: t}, nil
}

func (t *pgTx) queryEach(ctx context.Context, q string, argsList [][]any, scan func(int, rows) error) error {
	if len(argsList) == 0 {
		return t.flush(ctx)
	}
	br, err := t.sendMany(ctx, q, argsList)
	if err != nil {
		return err
	}
	for i := range argsList {
		r, err := br.Query()
		if err == nil {
			err = each(r, func(r rows) error { return scan(i, r) })
		}
		if err != nil {
			br.Close()
			t.err = err
			return err
		}
	}
	if err := br.Close(); err != nil {
		t.err = err
	}
	return t.err
}

// batchRows closes its batch with itself; the connection is busy until then.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
	tx *pgTx
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if err := r.Rows.Err(); err != nil && r.tx.err == nil {
		r.tx.err = err
	}
	if err := r.br.Close(); err != nil && r.tx.err == nil {
		r.tx.err = err
	}
}

func (t *pgTx) commit(ctx context.Context) error {
	if t.done {
		return errors.New("store: transaction already ended")
	}
	if !t.begun && len(t.pending) == 0 && t.err == nil {
		t.done = true
		t.c.Release()
		return nil
	}
	br, err := t.send(ctx, "COMMIT")
	if err != nil {
		t.rollback()
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() != "COMMIT" {
		err = errors.New("store: transaction was rolled back at commit")
	}
	if err != nil {
		t.err = err
		t.rollback()
		return err
	}
	t.done = true
	t.c.Release()
	return nil
}

func (t *pgTx) rollback() {
	if t.done {
		return
	}
	t.done = true
	if t.begun {
		// A failed connection cannot take the ROLLBACK; Release then
		// destroys it rather than return it in a transaction.
		t.c.Exec(context.Background(), "ROLLBACK")
	}
	t.c.Release()
}
