package importer

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// sniffSize is how much of a CSV file is examined to choose its encoding.
const sniffSize = 64 << 10

// record is one non-blank row of an import file.
type record struct {
	line  int      // physical line / spreadsheet row number, >= 1
	cells []string // trimmed cells; valid only until the next call to next
	err   string   // a Chinese reason when the row itself could not be read
}

// source yields the records of a file. next returns io.EOF at the end, or an
// error (in Chinese) that makes the rest of the file unreadable.
type source interface {
	next() (record, error)
	close()
}

// fileError is an error that concerns the whole file, reported on line 1.
type fileError struct{ reason string }

func (e *fileError) Error() string { return e.reason }

func newSource(r io.Reader, f Format) (source, error) {
	switch f {
	case CSV:
		return newCSVSource(r)
	case XLSX:
		return newXLSXSource(r)
	}
	return nil, fmt.Errorf("不支持的文件格式（%v）：只接受 CSV 或 XLSX", f)
}

// ---- CSV ----

type csvSource struct {
	r     *csv.Reader
	cells []string
}

func newCSVSource(r io.Reader) (source, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("读取文件失败：%v", err)
	}
	full := len(head) < sniffSize // the whole file is in head
	var in io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		// UTF-8 with BOM: skip the BOM.
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, &fileError{"文件编码为 UTF-16（Excel 的“Unicode 文本”），无法导入：请另存为“CSV UTF-8（逗号分隔）”"}
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return nil, &fileError{"文件内容是 Excel 工作簿而不是 CSV：请把扩展名改为 .xlsx，或在 Excel 中另存为 CSV"}
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return nil, &fileError{"文件内容是旧版 Excel（.xls）而不是 CSV：请在 Excel 中另存为 CSV 或 .xlsx"}
	case !validUTF8Prefix(head, full):
		in = simplifiedchinese.GB18030.NewDecoder().Reader(br)
	}
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = true
	return &csvSource{r: cr}, nil
}

// validUTF8Prefix reports whether b is valid UTF-8, allowing an incomplete
// rune at the very end when b is only a prefix of the file.
func validUTF8Prefix(b []byte, full bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if full {
		return false
	}
	// Drop at most utf8.UTFMax-1 trailing bytes of a rune cut by the sniff window.
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			return utf8.Valid(b[:len(b)-i])
		}
	}
	return false
}

func (s *csvSource) next() (record, error) {
	for {
		rec, err := s.r.Read()
		if err == io.EOF {
			return record{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line := pe.StartLine
				if line < 1 {
					line = max(pe.Line, 1)
				}
				return record{line: line, err: csvReason(pe)}, nil
			}
			return record{}, fmt.Errorf("读取文件失败：%v", err)
		}
		line, _ := s.r.FieldPos(0)
		s.cells = trimAll(s.cells[:0], rec)
		if blank(s.cells) {
			continue
		}
		return record{line: max(line, 1), cells: s.cells}, nil
	}
}

func (s *csvSource) close() {}

func csvReason(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return "CSV 格式错误：单元格中有多余的英文双引号（含引号的单元格须整体用英文双引号括起，内部的引号写成两个 \"\"）"
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf("CSV 格式错误：英文双引号没有闭合，第 %d 行到第 %d 行被读成了一个单元格", pe.StartLine, pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		return "CSV 格式错误：英文双引号不成对（以引号开头的单元格须以引号结束，内部的引号写成两个 \"\"）"
	}
	return fmt.Sprintf("CSV 格式错误：%v", pe.Err)
}

// ---- XLSX ----

type xlsxSource struct {
	f     *excelize.File
	rows  *excelize.Rows
	row   int
	cells []string
}

// xlsxUnzipLimit bounds the uncompressed size of a workbook (zip bombs).
const xlsxUnzipLimit = 1 << 30

func newXLSXSource(r io.Reader) (source, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: xlsxUnzipLimit})
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		if errors.Is(err, excelize.ErrWorkbookFileFormat) || errors.Is(err, zip.ErrFormat) {
			return nil, &fileError{"无法读取 XLSX 文件：文件不是有效的 .xlsx 工作簿（旧版 .xls 请在 Excel 中另存为 .xlsx；设置了打开密码的文件请先取消密码）"}
		}
		return nil, &fileError{fmt.Sprintf("无法读取 XLSX 文件：%v", err)}
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, &fileError{"XLSX 文件中没有工作表"}
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, &fileError{fmt.Sprintf("无法读取工作表 %q：%v", sheets[0], err)}
	}
	return &xlsxSource{f: f, rows: rows}, nil
}

func (s *xlsxSource) next() (record, error) {
	for s.rows.Next() {
		s.row++
		// Raw values: number formats are not applied, so a numeric amount
		// such as 5800.5 shown as "5,801" still comes out as "5800.5".
		cols, err := s.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return record{}, &fileError{fmt.Sprintf("读取 XLSX 第 %d 行失败：%v", s.row, err)}
		}
		s.cells = trimAll(s.cells[:0], cols)
		for i, c := range s.cells {
			s.cells[i] = normalizeNumber(c)
		}
		if blank(s.cells) {
			continue
		}
		return record{line: s.row, cells: s.cells}, nil
	}
	if err := s.rows.Error(); err != nil {
		return record{}, &fileError{fmt.Sprintf("读取 XLSX 文件失败：%v", err)}
	}
	return record{}, io.EOF
}

func (s *xlsxSource) close() {
	_ = s.rows.Close()
	_ = s.f.Close()
}

// normalizeNumber undoes binary floating-point noise in raw numeric cells:
// Excel stores 5800.3 computed by a formula as e.g. "5800.3000000000002" and
// large integers as "2.02601E+9". Such text (a float with an exponent or with
// 16 or more significant digits) is rewritten the way Excel displays it, with
// 15 significant digits; any other text is returned unchanged, so "5800.123"
// still fails amount validation.
func normalizeNumber(s string) string {
	if s == "" || len(s) > 40 || !looksFloat(s) {
		return s
	}
	hasExp := strings.ContainsAny(s, "eE")
	if !hasExp && sigDigits(s) < 16 {
		return s
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v < 0 || v >= 1e15 {
		return s
	}
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// looksFloat reports whether s is made only of digits, '.', 'e', 'E', '+' and
// '-', with at least one digit.
func looksFloat(s string) bool {
	digit := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return false
		}
	}
	return digit
}

func sigDigits(s string) int {
	s = strings.TrimLeft(s, "0.")
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// ---- cells ----

// trimAll appends the trimmed cells of rec to dst.
func trimAll(dst, rec []string) []string {
	for _, c := range rec {
		dst = append(dst, trimCell(c))
	}
	return dst
}

// trimCell strips ASCII and Unicode spaces (including the ideographic space
// U+3000), NBSP and zero-width characters / BOMs around a cell.
func trimCell(s string) string {
	// Fast path: nothing to trim.
	if s == "" || (s[0] > ' ' && s[0] < 0x80 && s[len(s)-1] > ' ' && s[len(s)-1] < 0x80) {
		return s
	}
	return strings.TrimFunc(s, isTrimRune)
}

func isTrimRune(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0, 0x3000, 0xFEFF, 0x200B, 0x200C, 0x200D, 0x2060:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

func blank(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}
