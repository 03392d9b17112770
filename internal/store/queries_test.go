package store

import (
	"strings"
	"testing"
)

// TestQuerySets: both dialects declare the same queries, each in its own
// parameter style, and nothing is left to rewrite at run time.
func TestQuerySets(t *testing.T) {
	lite, err := loadQueries(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadQueries(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) < 50 {
		t.Fatalf("only %d queries loaded", len(lite))
	}
	onlyLite, onlyPG := sameNames(lite, pg)
	if len(onlyLite)+len(onlyPG) > 0 {
		t.Errorf("queries only in sqlite: %v; only in postgres: %v", onlyLite, onlyPG)
	}
	for name, qs := range lite {
		for _, q := range qs {
			if strings.Contains(q, "$1") || strings.Contains(q, "FOR UPDATE") || strings.Contains(q, "::") || strings.Contains(q, ";") {
				t.Errorf("sqlite query %s has PostgreSQL syntax or two statements in one: %s", name, q)
			}
		}
	}
	for name, qs := range pg {
		for _, q := range qs {
			if strings.Contains(q, "?1") || strings.Contains(q, ";") {
				t.Errorf("postgres query %s has SQLite parameters or two statements in one: %s", name, q)
			}
		}
	}
}

func TestParseQueries(t *testing.T) {
	for _, bad := range []string{"SELECT 1", "-- name: a\n", "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;"} {
		if err := parseQueries("x.sql", bad, querySet{}); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	qs := querySet{}
	if err := parseQueries("x.sql", "-- comment\n-- name: a\n-- why\nSELECT 1;\n\n-- name: b\nSELECT 2;\n-- and:\nSELECT 3\n", qs); err != nil ||
		len(qs["a"]) != 1 || qs["a"][0] != "SELECT 1" || len(qs["b"]) != 2 || qs["b"][1] != "SELECT 3" {
		t.Errorf("%v %v", qs, err)
	}
}
