// Package export holds what every spreadsheet and CSV export of campuspay
// shares. SafeCell is the one place where text from outside (names, item
// names, remarks, anything a student, a school or a file supplied) is made
// safe to open in Excel, WPS or LibreOffice.
package export

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// SafeCell neutralises formula injection (CSV injection, DDE): a cell whose
// first character, after any leading spaces, control or invisible format
// characters, is '=', '+', '-' or '@' (or a full-width or small form of
// them, such as '＝' U+FF1D, which some spreadsheet programs also accept),
// or whose leading run holds a tab or a carriage return, is prefixed with
// a single quote "'", so the program shows it as text instead of running
// it. Any other string is returned unchanged.
//
// Every such string is escaped, "-12.50" and "+86 138…" included: SafeCell
// is for text. Amounts are written by the exporters as numbers (a numeric
// XLSX cell; in CSV the decimal yuan formatted from money.Fen by our own
// code), never through SafeCell, so no amount gains a quote. Quoting of
// commas and double quotes stays the job of the CSV writer.
func SafeCell(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\t' || r == '\r':
			return "'" + s
		case r == utf8.RuneError && size <= 1, unicode.IsSpace(r), unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			i += size
			continue
		}
		if isTrigger(r) {
			return "'" + s
		}
		return s
	}
	return s
}

// isTrigger reports a character that starts a formula: = + - @, or any
// character whose compatibility form is one of them (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫).
func isTrigger(r rune) bool {
	switch r {
	case '=', '+', '-', '@':
		return true
	}
	if r < utf8.RuneSelf {
		return false
	}
	k := norm.NFKC.String(string(r))
	return k != "" && strings.ContainsRune("=+-@", rune(k[0])) && utf8.RuneCountInString(k) == 1
}
