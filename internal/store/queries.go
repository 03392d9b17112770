package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Every statement the store runs is declared by name in a query set per
// dialect, queries/sqlite/*.sql and queries/postgres/*.sql:
//
//	-- name: order_by_no
//	SELECT … FROM orders WHERE order_no = ?1
//
// A write may be more than one statement in one dialect (SQLite has no
// writable CTE): a line "-- and:" starts the next statement of the same
// name; each gets the same arguments and binds those it numbers.
//
// SQLite's set binds ?NNN parameters (modernc binds them at the speed of
// plain ?, unlike $N); PostgreSQL's binds $N. Where the engines differ in
// more than placeholders (row locks, SKIP LOCKED, writable CTEs, upserts)
// the difference is written out in the dialect's own file, not rewritten
// at run time. Both sets must declare the same names: a test checks it,
// and the conformance suite runs every query on both engines.
//
// Plain SQL files, not sqlc: with two dialects whose results scan into the
// same Go types, sqlc would generate two differently typed APIs and a
// layer to reconcile them (river's driver per database); here one Go call
// site serves both sets.

//go:embed queries
var queryFiles embed.FS

// querySet maps a query's name to its statements in one dialect.
type querySet map[string][]string

func loadQueries(dialect Dialect) (querySet, error) {
	dir := "queries/" + string(dialect)
	names, err := fs.Glob(queryFiles, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	qs := querySet{}
	for _, n := range names {
		b, err := fs.ReadFile(queryFiles, n)
		if err != nil {
			return nil, err
		}
		if err := parseQueries(path.Base(n), string(b), qs); err != nil {
			return nil, err
		}
	}
	return qs, nil
}

// parseQueries reads "-- name: x" blocks into qs.
func parseQueries(file, text string, qs querySet) error {
	var name string
	var stmts []string
	var body strings.Builder
	next := func() error {
		q := strings.TrimSpace(body.String())
		q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
		body.Reset()
		if q == "" {
			return fmt.Errorf("store: %s: query %s has an empty statement", file, name)
		}
		stmts = append(stmts, q)
		return nil
	}
	end := func() error {
		if name == "" {
			if strings.TrimSpace(body.String()) != "" {
				return fmt.Errorf("store: %s: SQL before the first -- name:", file)
			}
			return nil
		}
		if err := next(); err != nil {
			return err
		}
		if _, dup := qs[name]; dup {
			return fmt.Errorf("store: %s: query %s declared twice", file, name)
		}
		qs[name], stmts = stmts, nil
		return nil
	}
	for _, line := range strings.Split(text, "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := end(); err != nil {
				return err
			}
			name = strings.TrimSpace(n)
			continue
		}
		if strings.TrimSpace(line) == "-- and:" && name != "" {
			if err := next(); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	return end()
}

// sameNames reports the names one set has and the other lacks.
func sameNames(a, b querySet) (onlyA, onlyB []string) {
	for n := range a {
		if _, ok := b[n]; !ok {
			onlyA = append(onlyA, n)
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			onlyB = append(onlyB, n)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

// CheckQueries prepares every query of the store's set on its engine, so
// that a query the engine cannot parse or plan fails here, not in use.
func (s *Store) CheckQueries(ctx context.Context) error {
	c, err := s.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	names := make([]string, 0, len(s.q))
	for n := range s.q {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, q := range s.q[n] {
			st, err := c.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("store: %s query %s: %w", s.dialect, n, err)
			}
			st.Close()
		}
	}
	return nil
}
