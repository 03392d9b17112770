package store

import (
	"reflect"
	"testing"
)

func TestRebind(t *testing.T) {
	cases := []struct {
		in    string
		args  []any
		out   string
		bound []any
	}{
		{"SELECT 1", nil, "SELECT 1", []any{}},
		{"a=$1 AND b=$2", []any{"x", "y"}, "a=? AND b=?", []any{"x", "y"}},
		{"($2,$1,$1)", []any{1, 2}, "(?,?,?)", []any{2, 1, 1}},
		{"v=$10,w=$1", []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "v=?,w=?", []any{10, 1}},
		{"x LIKE 'a$%'", nil, "x LIKE 'a$%'", []any{}},
	}
	for _, c := range cases {
		b := rebind(c.in)
		got := b.args(c.args)
		if b.q != c.out || !reflect.DeepEqual(got, c.bound) {
			t.Errorf("rebind(%q) = %q %v, want %q %v", c.in, b.q, got, c.out, c.bound)
		}
	}
}
