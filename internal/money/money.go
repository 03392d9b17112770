// Package money holds the one representation of an amount in campuspay:
// integer fen (分). Yuan exist only where a person reads or types them.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount of Chinese yuan in fen (1 yuan = 100 fen). Never a float.
type Fen int64

// MaxFen bounds any single amount the platform accepts (100 million yuan);
// it keeps sums of many lines far from int64 overflow.
const MaxFen Fen = 100_000_000_00

// ErrBadAmount is returned by ParseYuan for text that is not a yuan amount.
var ErrBadAmount = errors.New("money: not a yuan amount")

// ParseYuan reads a yuan amount such as "5800", "5800.5" or "5,800.00" into
// fen. At most two decimals; no sign; no exponent; at most MaxFen.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "¥")
	s = strings.TrimPrefix(s, "￥")
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return 0, ErrBadAmount
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(frac) > 2 || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w: %q", ErrBadAmount, s)
	}
	for _, r := range intPart + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%w: %q", ErrBadAmount, s)
		}
	}
	if len(intPart) > 12 {
		return 0, fmt.Errorf("%w: %q too large", ErrBadAmount, s)
	}
	y, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadAmount, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	v := Fen(y*100 + f)
	if v > MaxFen {
		return 0, fmt.Errorf("%w: %q too large", ErrBadAmount, s)
	}
	return v, nil
}

// Yuan formats an amount as yuan with two decimals, e.g. "5800.00".
func (f Fen) Yuan() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// String is Yuan, so that amounts print as people read them.
func (f Fen) String() string { return f.Yuan() }
