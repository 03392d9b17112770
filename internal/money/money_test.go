package money

import (
	"errors"
	"testing"
)

func TestParseYuan(t *testing.T) {
	cases := []struct {
		in   string
		want Fen
		bad  bool
	}{
		{"5800.00", 580000, false},
		{"5800", 580000, false},
		{"5,800.5", 580050, false},
		{" 0.01 ", 1, false},
		{"￥12.30", 1230, false},
		{"", 0, true},
		{"-1.00", 0, true},
		{"1.234", 0, true},
		{"1.", 0, true},
		{".5", 0, true},
		{"1e3", 0, true},
		{"abc", 0, true},
		{"1000000000000", 0, true},
		{"100000000.01", 0, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseYuan(c.in)
			if c.bad {
				if !errors.Is(err, ErrBadAmount) {
					t.Fatalf("ParseYuan(%q) = %v, %v; want ErrBadAmount", c.in, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseYuan(%q) = %v, %v; want %d", c.in, int64(got), err, c.want)
			}
		})
	}
}

func TestYuanRoundTrip(t *testing.T) {
	for _, f := range []Fen{0, 1, 99, 100, 580000, 123456789} {
		got, err := ParseYuan(f.Yuan())
		if err != nil || got != f {
			t.Fatalf("round trip of %d: %v %v", f, got, err)
		}
	}
	if Fen(-150).Yuan() != "-1.50" {
		t.Fatal(Fen(-150).Yuan())
	}
}

func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"5800.00", "1", "0.5", "x", "1,2,3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseYuan(s)
		if err != nil {
			return
		}
		if v < 0 || v > MaxFen {
			t.Fatalf("%q parsed to out-of-range %d", s, v)
		}
		back, err := ParseYuan(v.Yuan())
		if err != nil || back != v {
			t.Fatalf("%q: %d does not round-trip", s, v)
		}
	})
}
