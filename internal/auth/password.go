// Package auth hashes passwords with argon2id under a process-wide bound
// (so a burst of logins cannot exhaust memory), checks new passwords
// against the R5 rules, and makes session tokens stored only as hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Ceilings on the parameters of a stored hash: a corrupted or hostile row
// cannot make one check cost more than 64 MiB or 10 passes.
const (
	maxHashMemory  = 64 * 1024 // KiB
	maxHashTime    = 10
	maxHashThreads = 8
	maxHashBytes   = 64 // salt and key
)

// maxPasswordBytes bounds what is hashed at all; no password we accept is
// longer (64 characters of at most 4 bytes).
const maxPasswordBytes = 1024

// ErrBadHash means a stored hash is malformed or its parameters exceed the
// ceilings; the password is refused without hashing.
var ErrBadHash = errors.New("auth: stored password hash is malformed or too costly")

// HashPassword returns an encoded argon2id hash with a random salt. It goes
// through the process-wide bound and may return ErrBusy.
func HashPassword(pw string) (string, error) {
	return HashPasswordCtx(context.Background(), pw)
}

// HashPasswordCtx is HashPassword that stops waiting for a slot when ctx ends.
func HashPasswordCtx(ctx context.Context, pw string) (string, error) {
	if len(pw) > maxPasswordBytes {
		return "", errors.New("auth: password too long to hash")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var key []byte
	if err := passwordLimiter.Load().Do(ctx, func() {
		key = argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the encoded hash, in constant
// time. It fails closed: a busy bound (ErrBusy) or a bad hash answer
// false, so callers that must tell "wrong" from "busy" use CheckPasswordCtx.
func CheckPassword(encoded, pw string) bool {
	ok, _ := CheckPasswordCtx(context.Background(), encoded, pw)
	return ok
}

// CheckPasswordCtx reports whether pw matches the encoded hash. The error
// is ErrBusy (a *BusyError with a retry-after) when the bound refused the
// work, ErrBadHash for a malformed or too costly hash, or ctx's error; the
// answer is then false and nothing was learnt about pw.
func CheckPasswordCtx(ctx context.Context, encoded, pw string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > maxPasswordBytes {
		return false, nil
	}
	var got []byte
	if err := passwordLimiter.Load().Do(ctx, func() {
		got = argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	}); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// argonHash is a decoded "$argon2id$v=19$m=…,t=…,p=…$salt$key".
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseHash decodes an encoded hash strictly and enforces the ceilings.
func parseHash(encoded string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, ErrBadHash
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, ErrBadHash
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return h, ErrBadHash
		}
		vals[i] = n
	}
	if vals[0] > maxHashMemory || vals[1] > maxHashTime || vals[2] > maxHashThreads || vals[0] < 8*vals[2] {
		return h, fmt.Errorf("%w: m=%d,t=%d,p=%d above m=%d,t=%d,p=%d", ErrBadHash, vals[0], vals[1], vals[2], maxHashMemory, maxHashTime, maxHashThreads)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > maxHashBytes || len(key) < 16 || len(key) > maxHashBytes {
		return h, ErrBadHash
	}
	return argonHash{memory: uint32(vals[0]), time: uint32(vals[1]), threads: uint8(vals[2]), salt: salt, key: key}, nil
}

// EqualConstantTime compares two secrets without leaking their prefix.
func EqualConstantTime(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// NewToken returns a random secret for a session or API token, and the
// hash under which it is stored. The secret itself is never stored.
func NewToken() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// HashToken is how a token is looked up.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
