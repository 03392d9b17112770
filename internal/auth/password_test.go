package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// useLimiter installs l as the process-wide bound for the test.
func useLimiter(t testing.TB, l *Limiter) {
	old := passwordLimiter.Load()
	passwordLimiter.Store(l)
	t.Cleanup(func() { passwordLimiter.Store(old) })
}

// cheapHash encodes pw with tiny argon2id parameters, so that tests of
// the bound can run many checks without the real cost.
func cheapHash(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("Secret123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id at OWASP's parameters", h)
	}
	if !CheckPassword(h, "Secret123") {
		t.Fatal("right password refused")
	}
	if CheckPassword(h, "Secret124") || CheckPassword("", "Secret123") || CheckPassword("$argon2id$x", "a") {
		t.Fatal("wrong password or bad hash accepted")
	}
	h2, _ := HashPassword("Secret123")
	if h == h2 {
		t.Fatal("two hashes of one password share a salt")
	}
	ok, err := CheckPasswordCtx(context.Background(), h, "Secret123")
	if !ok || err != nil {
		t.Fatalf("CheckPasswordCtx = %v, %v", ok, err)
	}
}

func TestStoredHashCeilings(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	enc := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	cases := []struct {
		name, encoded string
		ok            bool
	}{
		{"OWASP parameters", enc("m=19456,t=2,p=1"), true},
		{"at the ceiling", enc("m=65536,t=10,p=8"), true},
		{"memory above 64 MiB", enc("m=65537,t=2,p=1"), false},
		{"a gibibyte of memory", enc("m=1048576,t=2,p=1"), false},
		{"memory overflowing uint32", enc("m=4294967296,t=2,p=1"), false},
		{"eleven passes", enc("m=19456,t=11,p=1"), false},
		{"too many lanes", enc("m=19456,t=2,p=9"), false},
		{"zero passes", enc("m=19456,t=0,p=1"), false},
		{"zero lanes", enc("m=19456,t=2,p=0"), false},
		{"memory below 8 per lane", enc("m=8,t=1,p=2"), false},
		{"signed number", enc("m=+19456,t=2,p=1"), false},
		{"parameters out of order", enc("t=2,m=19456,p=1"), false},
		{"extra parameter", enc("m=19456,t=2,p=1,x=1"), false},
		{"other version", strings.Replace(enc("m=19456,t=2,p=1"), "v=19", "v=16", 1), false},
		{"argon2i", strings.Replace(enc("m=19456,t=2,p=1"), "argon2id", "argon2i", 1), false},
		{"huge key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 1<<16)), false},
		{"short key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 8)), false},
		{"padded base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, false},
		{"text before", "x$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"empty", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseHash(c.encoded)
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBadHash)) {
				t.Fatalf("parseHash(%q) = %v, want ok=%v", c.encoded, err, c.ok)
			}
		})
	}

	t.Run("a hostile hash is refused without hashing", func(t *testing.T) {
		l := NewLimiter(LimiterConfig{Concurrent: 1})
		runs := 0
		l.onRun = func() { runs++ }
		useLimiter(t, l)
		ok, err := CheckPasswordCtx(context.Background(), enc("m=4194304,t=1000,p=1"), "x")
		if ok || !errors.Is(err, ErrBadHash) || runs != 0 {
			t.Fatalf("ok %v err %v runs %d", ok, err, runs)
		}
		if CheckPassword(enc("m=1048576,t=2,p=1"), "x") || runs != 0 {
			t.Fatalf("CheckPassword ran %d hashes for a hostile row", runs)
		}
	})
}

func TestHashAndCheckGoThroughTheBound(t *testing.T) {
	l := NewLimiter(LimiterConfig{Concurrent: 1})
	runs := 0
	l.onRun = func() { runs++ }
	useLimiter(t, l)
	if !CheckPassword(cheapHash("pw"), "pw") || runs != 1 {
		t.Fatalf("CheckPassword: runs %d", runs)
	}
	if ok, err := CheckPasswordCtx(context.Background(), cheapHash("pw"), "px"); ok || err != nil || runs != 2 {
		t.Fatalf("CheckPasswordCtx: %v %v runs %d", ok, err, runs)
	}
	if _, err := HashPassword("Secret123"); err != nil || runs != 3 {
		t.Fatalf("HashPassword: %v runs %d", err, runs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := HashPasswordCtx(ctx, "Secret123"); !errors.Is(err, context.Canceled) || runs != 3 {
		t.Fatalf("HashPasswordCtx on a cancelled context: %v runs %d", err, runs)
	}
	if ok, err := CheckPasswordCtx(context.Background(), cheapHash("pw"), strings.Repeat("p", 2000)); ok || err != nil || runs != 3 {
		t.Fatalf("an overlong password was hashed: %v %v runs %d", ok, err, runs)
	}
}

func TestTokens(t *testing.T) {
	s, h := NewToken()
	if HashToken(s) != h || len(s) < 40 || s == h {
		t.Fatal("token hash mismatch")
	}
}
