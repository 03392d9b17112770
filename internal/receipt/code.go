package receipt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"campuspay/internal/money"
)

// codeAlphabet has 32 characters a person can read off paper and type:
// no 0/O and no 1/I.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// codeLen is the number of characters of a verification code (60 bits).
const codeLen = 12

// Code is a receipt's verification code: 12 characters of an HMAC-SHA256
// under secret over the order number, the amount and the payment time (to
// the second, so a time read back from any database gives the same code),
// grouped XXXX-XXXX-XXXX. Only the holder of secret can make one.
func Code(secret []byte, orderNo string, amount money.Fen, paidAt time.Time) string {
	raw := rawCode(secret, orderNo, amount, paidAt)
	return raw[:4] + "-" + raw[4:8] + "-" + raw[8:]
}

func rawCode(secret []byte, orderNo string, amount money.Fen, paidAt time.Time) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("campuspay receipt v1\n" + orderNo + "\n" +
		strconv.FormatInt(int64(amount), 10) + "\n" + strconv.FormatInt(paidAt.Unix(), 10)))
	v := binary.BigEndian.Uint64(m.Sum(nil)) // the first 64 bits; 60 are used
	b := make([]byte, codeLen)
	for i := range b {
		b[i] = codeAlphabet[v>>59]
		v <<= 5
	}
	return string(b)
}

// CheckCode reports whether code is the verification code of the order,
// amount and payment time, in constant time. It forgives what people do
// when typing a code: lower case, and spaces or dashes anywhere.
func CheckCode(secret []byte, orderNo string, amount money.Fen, paidAt time.Time, code string) bool {
	typed := normalizeCode(code)
	if len(typed) != codeLen || len(secret) == 0 {
		return false
	}
	return hmac.Equal([]byte(typed), []byte(rawCode(secret, orderNo, amount, paidAt)))
}

// normalizeCode upper-cases code and drops spaces and dashes (ASCII and
// full-width, as Chinese input methods type them).
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range code {
		switch {
		case r == ' ' || r == '-' || r == '\u3000' || r == '－' || r == '—':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= '！' && r <= '～': // full-width ASCII
			b.WriteRune(normalizeFullWidth(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func normalizeFullWidth(r rune) rune {
	r = r - '！' + '!'
	if r >= 'a' && r <= 'z' {
		r = r - 'a' + 'A'
	}
	return r
}

// MaskName shows a name as its first character and one * for each of the
// others (张三 → 张*, 欧阳娜娜 → 欧***); a single character is * alone.
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	switch n {
	case 0:
		return ""
	case 1:
		return "*"
	}
	first, _ := utf8.DecodeRuneInString(name)
	return string(first) + strings.Repeat("*", n-1)
}
