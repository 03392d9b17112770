package sms

import (
	"errors"
	"testing"
)

func TestValidPhone(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"13800138000", true},
		{"19912345678", true},
		{"13000000000", true},
		{"12800138000", false}, // second digit 2
		{"10800138000", false},
		{"1380013800", false},   // 10 digits
		{"138001380000", false}, // 12 digits
		{"23800138000", false},
		{"1380013800a", false},
		{"+8613800138000", false}, // canonical form only
		{"1380013800０", false},    // full-width zero is not \d
		{"", false},
	}
	for _, c := range cases {
		if got := ValidPhone(c.in); got != c.ok {
			t.Errorf("ValidPhone(%q) = %v, want %v", c.in, got, c.ok)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, want string // want "" means ErrBadPhone
	}{
		{"13800138000", "13800138000"},
		{"+8613800138000", "13800138000"},
		{"+86 138 0013 8000", "13800138000"},
		{"8613800138000", "13800138000"},
		{"008613800138000", "13800138000"},
		{" 138-0013-8000 ", "13800138000"},
		{"138\u30000013\t8000", "13800138000"}, // ideographic space, tab
		{"+86-13800138000", "13800138000"},
		{"86 13800138000", "13800138000"},
		{"+8612800138000", ""},
		{"+85213800138000", ""},   // Hong Kong prefix
		{"861380013800", ""},      // 86 + 10 digits
		{"+86+8613800138000", ""}, // one prefix only
		{"0013800138000", ""},     // 00 without 86
		{"86138001380001", ""},    // too long
		{"１３８００１３８０００", ""},       // full-width digits
		{"", ""},
	}
	for _, c := range cases {
		got, err := NormalizePhone(c.in)
		if c.want == "" {
			if !errors.Is(err, ErrBadPhone) {
				t.Errorf("NormalizePhone(%q) = %q, %v; want ErrBadPhone", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
