package importer

import (
	"fmt"
	"strings"
)

// column describes one column an import file may have.
type column struct {
	label    string   // canonical Chinese header, used in messages
	english  string   // canonical English header
	aliases  []string // further accepted headers (already normalized)
	required bool
}

// header maps each known column to its index in a record (-1 if absent).
type header struct {
	line  int
	width int
	idx   []int
}

// normHeader normalizes a header cell for matching: trimmed, lower-case,
// without required-markers ("*学号"), a unit suffix ("应缴金额（元）",
// "amount (yuan)") or inner spaces, and with '-' and ' ' folded into '_'.
func normHeader(s string) string {
	s = strings.ToLower(trimCell(s))
	s = strings.Trim(s, "*＊ ")
	for _, open := range []string{"（", "("} {
		if i := strings.Index(s, open); i > 0 && (strings.HasSuffix(s, ")") || strings.HasSuffix(s, "）")) {
			s = strings.TrimSpace(s[:i])
		}
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\u3000':
			return '_'
		}
		return r
	}, s)
	return s
}

// parseHeader reads the header record. It records every header problem in
// errs and reports whether data rows can be read.
func parseHeader(rec record, cols []column, errs *Errors) (*header, bool) {
	h := &header{line: rec.line, width: len(rec.cells), idx: make([]int, len(cols))}
	for i := range h.idx {
		h.idx[i] = -1
	}
	lookup := make(map[string]int, 4*len(cols))
	for i, c := range cols {
		lookup[normHeader(c.label)] = i
		lookup[c.english] = i
		for _, a := range c.aliases {
			lookup[a] = i
		}
	}
	ok, known := true, 0
	for j, cell := range rec.cells {
		i, found := lookup[normHeader(cell)]
		if !found {
			continue // unknown columns are ignored
		}
		known++
		if prev := h.idx[i]; prev >= 0 {
			errs.Add(rec.line, cols[i].label, fmt.Sprintf("表头重复：第 %d 列 %q 与第 %d 列 %q 都表示“%s”", prev+1, rec.cells[prev], j+1, cell, cols[i].label))
			ok = false
			continue
		}
		h.idx[i] = j
	}
	if known == 0 {
		errs.Add(rec.line, "", "找不到表头：第一行应为列名，如 "+headerExample(cols))
		return h, false
	}
	for i, c := range cols {
		if c.required && h.idx[i] < 0 {
			errs.Add(rec.line, c.label, fmt.Sprintf("缺少必需的列“%s”（或 %s）；表头应为 %s", c.label, c.english, headerExample(cols)))
			ok = false
		}
	}
	return h, ok
}

func headerExample(cols []column) string {
	zh := make([]string, len(cols))
	en := make([]string, len(cols))
	for i, c := range cols {
		zh[i], en[i] = c.label, c.english
	}
	return strings.Join(zh, ",") + "（或 " + strings.Join(en, ",") + "）"
}
