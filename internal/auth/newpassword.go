package auth

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Length bounds of a new password, in characters.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 64
)

// Why a new password is refused (SPEC R5); each message is shown as is.
var (
	ErrPasswordTooShort     = errors.New("新密码至少 8 位")
	ErrPasswordTooLong      = errors.New("新密码最多 64 位")
	ErrPasswordBadChars     = errors.New("新密码不能包含换行、制表符等不可见字符")
	ErrPasswordIsInitial    = errors.New("新密码不能与初始密码相同")
	ErrPasswordHasStudentNo = errors.New("新密码不能包含学号")
	ErrPasswordCommon       = errors.New("这个密码太常见，容易被猜到，请换一个")
)

// passwordRule is the rule as pages show it.
const passwordRule = "新密码：至少 8 位；不能包含学号；不能使用常见密码（如 12345678）"

// PasswordRule returns the new-password rule in words for pages.
func PasswordRule() string { return passwordRule }

// ErrWeakPassword carries the rule text.
//
// Deprecated: CheckNewPassword returns the precise reason; pages use
// PasswordRule.
var ErrWeakPassword = errors.New(passwordRule)

// CheckNewPassword enforces R5 on a new password: 8 to 64 characters, not
// the initial password, not containing the student number (ignoring case
// and full-width forms), not a common password. It returns nil or one of
// the ErrPassword… errors, whose message explains the refusal in Chinese.
//
// Student numbers shorter than 4 characters are only refused as the whole
// password: forbidding every password that contains "7" would be absurd.
// No mix of letters and digits is demanded (NIST SP 800-63B): length and
// the blocklist do the work.
func CheckNewPassword(pw, studentNo, initial string) error {
	if !utf8.ValidString(pw) {
		return ErrPasswordBadChars
	}
	for _, r := range pw {
		if r != ' ' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r)) {
			return ErrPasswordBadChars
		}
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLen:
		return ErrPasswordTooShort
	case n > MaxPasswordLen:
		return ErrPasswordTooLong
	}
	if initial != "" && pw == initial {
		return ErrPasswordIsInitial
	}
	norm := foldPassword(pw)
	if no := foldPassword(strings.TrimSpace(studentNo)); no != "" {
		if norm == no || len(no) >= 4 && strings.Contains(norm, no) {
			return ErrPasswordHasStudentNo
		}
	}
	if IsCommonPassword(pw) {
		return ErrPasswordCommon
	}
	return nil
}

// foldPassword folds full-width forms to ASCII and upper case to lower, so
// that "２０２５００１" and "ABC" match "2025001" and "abc".
func foldPassword(s string) string {
	return strings.ToLower(width.Fold.String(s))
}

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded blocklist as a set.
var commonPasswords = func() map[string]struct{} {
	m := make(map[string]struct{}, 3200)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSpace(line)
		if line != "" && line[0] != '#' {
			m[line] = struct{}{}
		}
	}
	return m
}()

// IsCommonPassword reports whether pw (case-insensitive, full-width folded)
// is on the built-in blocklist or of a shape guessers try first: a date
// (YYYYMMDD, MMDDYYYY or DDMMYYYY, years 1950–2030), one repeated
// character, a straight run like 12345678 or abcdefgh, or a short unit
// repeated, like 12121212 or abcabcabc.
func IsCommonPassword(pw string) bool {
	s := foldPassword(pw)
	if _, ok := commonPasswords[s]; ok {
		return true
	}
	return isDate8(s) || isRun(s) || isRepeated(s)
}

// isDate8 reports an 8-digit calendar date between 1950 and 2030, in the
// orders Chinese (YYYYMMDD) and Western users write.
func isDate8(s string) bool {
	if len(s) != 8 || !allDigits(s) {
		return false
	}
	num := func(t string) int {
		n := 0
		for i := 0; i < len(t); i++ {
			n = n*10 + int(t[i]-'0')
		}
		return n
	}
	return validDate(num(s[:4]), num(s[4:6]), num(s[6:])) || // YYYYMMDD
		validDate(num(s[4:]), num(s[:2]), num(s[2:4])) || // MMDDYYYY
		validDate(num(s[4:]), num(s[2:4]), num(s[:2])) // DDMMYYYY
}

func validDate(y, m, d int) bool {
	if y < 1950 || y > 2030 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if m == 2 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return d <= 28
	}
	return d <= days[m]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isRun reports a straight run of ASCII digits or letters, up or down
// (12345678, 98765432, abcdefgh; 1234567890 counts, 0 following 9).
func isRun(s string) bool {
	if len(s) < 2 {
		return false
	}
	next := func(a, b byte, step int) bool {
		if a == '9' && b == '0' && step == 1 || a == '0' && b == '9' && step == -1 {
			return true
		}
		return int(b)-int(a) == step && (isDigit(a) && isDigit(b) || isLower(a) && isLower(b))
	}
	for _, step := range []int{1, -1} {
		ok := true
		for i := 1; i < len(s) && ok; i++ {
			ok = next(s[i-1], s[i], step)
		}
		if ok {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// isRepeated reports a unit of 1 to 4 characters repeated to fill s
// (aaaaaaaa, 12121212, abcabcabc, 12341234).
func isRepeated(s string) bool {
	r := []rune(s)
	for unit := 1; unit <= 4 && unit*2 <= len(r); unit++ {
		ok := true
		for i := unit; i < len(r) && ok; i++ {
			ok = r[i] == r[i-unit]
		}
		if ok {
			return true
		}
	}
	return false
}
