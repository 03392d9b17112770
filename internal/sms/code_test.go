package sms

import (
	"bytes"
	"testing"
	"time"
)

func TestNewCodeIsSixDigits(t *testing.T) {
	for range 1000 {
		if c := NewCode(); !validCode(c) {
			t.Fatalf("NewCode() = %q", c)
		}
	}
}

func TestNewCodeFromRejectsOutOfRangeDraws(t *testing.T) {
	// rand.Int draws 20 bits (3 bytes, top nibble masked) for [0, 10^6):
	// 0xFFFFF = 1048575 is out of range and must be redrawn, not reduced
	// modulo 10^6 (which would favour low codes); 0x0002A is 42.
	r := bytes.NewReader([]byte{0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x2A})
	c, err := NewCodeFrom(r)
	if err != nil || c != "000042" {
		t.Fatalf("NewCodeFrom = %q, %v; want 000042", c, err)
	}
	if _, err := NewCodeFrom(bytes.NewReader([]byte{1})); err == nil {
		t.Fatal("a short reader gave a code")
	}
}

func TestNewCodeDigitsAreUniform(t *testing.T) {
	// 60000 codes: each digit value at each position expected 6000 times,
	// σ ≈ 73; a band of ±600 fails a broken generator, not a fair one.
	const n = 60000
	var counts [CodeLen][10]int
	for range n {
		c := NewCode()
		for i := range CodeLen {
			counts[i][c[i]-'0']++
		}
	}
	for i := range counts {
		for d, k := range counts[i] {
			if k < n/10-600 || k > n/10+600 {
				t.Fatalf("digit %d at position %d drawn %d times of %d", d, i, k, n)
			}
		}
	}
}

func TestHashAndCheckCode(t *testing.T) {
	secret := []byte("server-secret")
	h := HashCode(secret, "13800138000", PurposeLogin, "123456")
	if len(h) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", h)
	}
	cases := []struct {
		name                 string
		secret               []byte
		phone, purpose, code string
		ok                   bool
	}{
		{"the right code", secret, "13800138000", PurposeLogin, "123456", true},
		{"a wrong code", secret, "13800138000", PurposeLogin, "123457", false},
		{"another phone", secret, "13800138001", PurposeLogin, "123456", false},
		{"another purpose", secret, "13800138000", PurposeChangePhone, "123456", false},
		{"another server secret", []byte("other"), "13800138000", PurposeLogin, "123456", false},
		{"fields shifted across the separator", secret, "13800138000" + "\x00" + PurposeLogin, "", "123456", false},
	}
	for _, c := range cases {
		if got := CheckCode(c.secret, c.phone, c.purpose, c.code, h); got != c.ok {
			t.Errorf("%s: CheckCode = %v, want %v", c.name, got, c.ok)
		}
	}
	if CheckCode(secret, "13800138000", PurposeLogin, "123456", h[:63]) {
		t.Error("a truncated stored hash matched")
	}
}

func TestVerify(t *testing.T) {
	l := DefaultLimits()
	secret := []byte("k")
	is := Issued{Hash: HashCode(secret, "13800138000", PurposeLogin, "654321"), IssuedAt: t0}
	cases := []struct {
		name   string
		given  string
		failed int
		at     time.Duration
		want   Verdict
	}{
		{"the right code at once", "654321", 0, 0, CodeAccepted},
		{"a wrong code", "654320", 0, 0, CodeWrong},
		{"the right code after 4 wrong tries", "654321", 4, time.Minute, CodeAccepted},
		{"the right code after 5 wrong tries", "654321", 5, time.Minute, CodeDead},
		{"the right code 1 ns before 5 minutes", "654321", 0, 5*time.Minute - 1, CodeAccepted},
		{"the right code at exactly 5 minutes", "654321", 0, 5 * time.Minute, CodeDead},
	}
	for _, c := range cases {
		is := is
		is.Failed = c.failed
		if got := l.Verify(secret, "13800138000", PurposeLogin, c.given, is, t0.Add(c.at)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// BenchmarkHashAndCheck measures what one send (hash) and one try (check)
// cost: microseconds, unlike a password hash.
func BenchmarkHashAndCheck(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for b.Loop() {
		h := HashCode(secret, "13800138000", PurposeLogin, "123456")
		if !CheckCode(secret, "13800138000", PurposeLogin, "123456", h) {
			b.Fatal("mismatch")
		}
	}
}
