package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"
)

// TOTP parameters (RFC 6238 as authenticator apps expect them): SHA-1,
// 6 digits, 30-second steps; a code of the step before or after is
// accepted (a phone's clock a little off), and a code is good once.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpDigits = otp.DigitsSix
)

// NewTOTPSecret makes a random 160-bit secret, base32 without padding.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// TOTPURL is the otpauth:// URL an authenticator app enrols from.
func TOTPURL(issuer, account, secret string) string {
	raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits,
		Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return ""
	}
	return k.URL()
}

// QRDataURL renders an otpauth URL as a PNG QR code in a data: URL, for a
// page to show once.
func QRDataURL(u string) string {
	qr, err := qrcode.New(u, qrcode.Medium)
	if err != nil {
		return ""
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, qr.Image(220)); err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TOTPCode is the code of a secret at a time (tests and the demo).
func TOTPCode(secret string, at time.Time) string {
	c, _ := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	return c
}

// matchTOTP returns the step a code is good for at now (now's step or one
// either side), or 0 when it is good for none.
func matchTOTP(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0
	}
	step := now.Unix() / totpPeriod
	for _, s := range []int64{step, step - 1, step + 1}[:1+2*totpSkew] {
		ok, err := hotp.ValidateCustom(code, uint64(s), secret, hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && ok {
			return s
		}
	}
	return 0
}

// recoveryAlphabet avoids characters people confuse (0/O, 1/I/L).
const recoveryAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newRecoveryCodes makes n single-use codes like "K7QM-4XTP-RW9D" (about
// 59 bits each) and their hashes.
func newRecoveryCodes(n int) (codes, hashes []string) {
	limit := byte(256 / len(recoveryAlphabet) * len(recoveryAlphabet)) // rejection sampling: no bias
	for i := 0; i < n; i++ {
		var sb strings.Builder
		var b [1]byte
		for j := 0; j < 12; {
			if _, err := rand.Read(b[:]); err != nil {
				panic(err)
			}
			if b[0] >= limit {
				continue
			}
			if j > 0 && j%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(recoveryAlphabet[int(b[0])%len(recoveryAlphabet)])
			j++
		}
		codes = append(codes, sb.String())
		hashes = append(hashes, hashRecovery(sb.String()))
	}
	return codes, hashes
}

// hashRecovery is how a recovery code is stored: normalised (case,
// spaces and dashes do not matter), then SHA-256.
func hashRecovery(code string) string {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte("campuspay-recovery:" + c))
	return hex.EncodeToString(h[:])
}

// looksLikeRecovery tells a recovery code from a 6-digit TOTP code.
func looksLikeRecovery(s string) bool {
	return len(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s))) == 12
}
