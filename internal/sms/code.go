package sms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/big"
	"time"
)

// CodeLen is the number of digits in a verification code.
const CodeLen = 6

var million = big.NewInt(1_000_000)

// NewCode returns a uniformly random 6-digit code ("000000"–"999999") from
// crypto/rand.
func NewCode() string {
	c, err := NewCodeFrom(rand.Reader)
	if err != nil {
		panic("sms: crypto/rand failed: " + err.Error())
	}
	return c
}

// NewCodeFrom draws a uniformly random 6-digit code from r (rejection
// sampling, no modulo bias).
func NewCodeFrom(r io.Reader) (string, error) {
	n, err := rand.Int(r, million)
	if err != nil {
		return "", err
	}
	s := n.String()
	for len(s) < CodeLen {
		s = "0" + s
	}
	return s, nil
}

// HashCode is the keyed hash a code is stored as: hex HMAC-SHA256 under the
// server's secret of (phone, purpose, code), so a stored hash is good for
// one phone and purpose only. A slow password hash (argon2) is neither
// needed nor wanted: a code has 10^6 values, lives 5 minutes and dies after
// 5 wrong tries, so online guessing is bounded by R4, and offline guessing of
// a leaked table is impossible without the secret and trivial with it
// whatever the hash costs; HMAC keeps each send and try at microseconds.
func HashCode(secret []byte, phone, purpose, code string) string {
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, "campuspay/sms-code/v1\x00")
	io.WriteString(m, phone)
	m.Write([]byte{0})
	io.WriteString(m, purpose)
	m.Write([]byte{0})
	io.WriteString(m, code)
	return hex.EncodeToString(m.Sum(nil))
}

// CheckCode reports in constant time whether code hashes to stored for
// phone and purpose.
func CheckCode(secret []byte, phone, purpose, code, stored string) bool {
	return hmac.Equal([]byte(HashCode(secret, phone, purpose, code)), []byte(stored))
}

// Issued is what the store keeps for one code sent to a phone.
type Issued struct {
	Hash     string    // HashCode of the code
	IssuedAt time.Time // when it was sent
	Failed   int       // wrong tries so far
}

// Verdict is the outcome of one try of a code.
type Verdict int

// Verdicts of Limits.Verify.
const (
	// CodeAccepted: right and alive; the caller consumes (deletes) the code.
	CodeAccepted Verdict = iota
	// CodeWrong: wrong but alive; the caller adds one to Failed.
	CodeWrong
	// CodeDead: expired or out of tries; the caller deletes it. Answer "bad_code".
	CodeDead
)

// Verify decides one try of given against the issued code. The caller must
// count the try atomically (e.g. UPDATE … SET failed = failed + 1 WHERE
// failed < MaxTries) so that parallel guesses cannot exceed MaxTries.
func (l Limits) Verify(secret []byte, phone, purpose, given string, is Issued, now time.Time) Verdict {
	if !l.CodeAlive(is.IssuedAt, is.Failed, now) {
		return CodeDead
	}
	if CheckCode(secret, phone, purpose, given, is.Hash) {
		return CodeAccepted
	}
	return CodeWrong
}
