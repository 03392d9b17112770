// Package importer reads the two files a school's finance office imports into
// campuspay — the student list and the bill list — from CSV or XLSX.
//
// Parsing is streaming and strictly validating: every data row is checked,
// every bad line is collected (with its physical line number, its column
// and a reason in Simplified Chinese), and the caller's callback receives
// every valid row in file order, also after bad ones, so that problems only
// the database can see (an unknown student) are found in the same pass.
// The parser never touches a database; Apply hands the rows to a Target
// inside one transaction that is rolled back when any line is bad, in form
// or in meaning, so a file is applied all or nothing, and its error lists
// both kinds of problem together in line order.
//
// Text cells may not hide anything from the person who checks the file:
// control characters, zero-width characters, a byte order mark inside a
// cell and bidirectional overrides are refused with the character named.
//
// Amounts are integer fen (money.Fen), parsed with money.ParseYuan; floats are
// never used for money.
package importer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Format is the container format of an import file.
type Format int

const (
	// CSV is comma-separated text, UTF-8 (with or without BOM) or GB18030.
	CSV Format = iota
	// XLSX is an Office Open XML workbook; only the first sheet is read.
	XLSX
)

// String returns "CSV" or "XLSX".
func (f Format) String() string {
	switch f {
	case CSV:
		return "CSV"
	case XLSX:
		return "XLSX"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// FormatOf tells the format of an import file from its extension (.csv or
// .xlsx, case-insensitive). Any other extension is an error in Chinese.
func FormatOf(filename string) (Format, error) {
	switch ext := strings.ToLower(filepath.Ext(filename)); ext {
	case ".csv":
		return CSV, nil
	case ".xlsx":
		return XLSX, nil
	case ".xls":
		return 0, fmt.Errorf("不支持旧版 Excel 文件 %q：请在 Excel 中另存为 .xlsx 或 .csv（UTF-8）后再导入", filepath.Base(filename))
	case "":
		return 0, fmt.Errorf("无法识别文件 %q 的格式：文件名没有扩展名，应为 .csv 或 .xlsx", filepath.Base(filename))
	default:
		return 0, fmt.Errorf("不支持的文件格式 %q（文件 %q）：只接受 .csv 或 .xlsx", ext, filepath.Base(filename))
	}
}

// MaxStoredErrors is how many line errors an Errors keeps; further errors are
// only counted in Errors.Truncated.
const MaxStoredErrors = 1000

// LineError is one problem found in an import file.
type LineError struct {
	// Line is the physical line of the record in a CSV file (the line its
	// first field starts on) or the row number in a spreadsheet; the header
	// is line 1. File-level problems (empty file, missing column) are
	// reported on line 1.
	Line int
	// Column is the canonical Chinese name of the column concerned (e.g.
	// "应缴金额"), or "" when the problem concerns the whole line or file.
	Column string
	// Reason explains the problem in Simplified Chinese, e.g.
	// `应缴金额格式错误："58OO"（应为元，如 5800.00）`.
	Reason string
}

// String renders the error as "第 N 行：Reason".
func (e LineError) String() string {
	if e.Line < 1 {
		return e.Reason
	}
	return "第 " + strconv.Itoa(e.Line) + " 行：" + e.Reason
}

// Errors collects the problems of one import file. It implements error; its
// zero value is ready to use. At most MaxStoredErrors are kept in Errs, the
// rest are counted in Truncated.
type Errors struct {
	Errs      []LineError
	Truncated int
}

// Add records a problem on a line. Callers use it too, for semantic errors
// found while applying rows (an unknown student, a paid line that changed).
func (e *Errors) Add(line int, column, reason string) {
	if len(e.Errs) >= MaxStoredErrors {
		e.Truncated++
		return
	}
	e.Errs = append(e.Errs, LineError{Line: line, Column: column, Reason: reason})
}

// Empty reports whether no problem has been recorded.
func (e *Errors) Empty() bool { return e == nil || (len(e.Errs) == 0 && e.Truncated == 0) }

// Len is the total number of problems recorded, including truncated ones.
func (e *Errors) Len() int {
	if e == nil {
		return 0
	}
	return len(e.Errs) + e.Truncated
}

// Error lists every stored problem, one per line, as "第 N 行：...".
func (e *Errors) Error() string {
	if e.Empty() {
		return "导入文件没有错误"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "导入文件有 %d 处错误：", e.Len())
	for _, le := range e.Errs {
		b.WriteByte('\n')
		b.WriteString(le.String())
	}
	if e.Truncated > 0 {
		fmt.Fprintf(&b, "\n……另有 %d 处错误未列出", e.Truncated)
	}
	return b.String()
}

// orNil returns e as an error, or nil when it is empty (avoiding a typed nil).
func (e *Errors) orNil() error {
	if e.Empty() {
		return nil
	}
	return e
}
