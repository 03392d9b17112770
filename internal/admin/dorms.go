package admin

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"campuspay/internal/importer"
)

// maxDormRows bounds a dormitory file.
const maxDormRows = 200_000

// ParseDorms reads a CSV file (UTF-8, with or without BOM) whose header
// names 学号 and 宿舍类型 (or student_no and dorm_type; other columns are
// ignored) into student number → dormitory type, with the line of each
// number. Every bad line is reported; with any problem the map is nil.
func ParseDorms(b []byte) (dorms map[string]string, lines map[string]int, problems []importer.LineError) {
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	bad := func(line int, col, reason string) {
		if len(problems) < importer.MaxStoredErrors {
			problems = append(problems, importer.LineError{Line: line, Column: col, Reason: reason})
		}
	}
	if !utf8.Valid(b) {
		bad(1, "", "文件须为 UTF-8 编码的 CSV")
		return nil, nil, problems
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		bad(1, "", "文件为空或不是 CSV：第一行应为表头 学号,宿舍类型")
		return nil, nil, problems
	}
	noCol, dormCol := -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "学号", "student_no":
			noCol = i
		case "宿舍类型", "dorm_type":
			dormCol = i
		}
	}
	if noCol < 0 || dormCol < 0 {
		bad(1, "", "表头须包含“学号”和“宿舍类型”两列")
		return nil, nil, problems
	}
	dorms, lines = map[string]string{}, map[string]int{}
	for {
		line, _ := r.FieldPos(0)
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			bad(line, "", "CSV 格式错误："+err.Error())
			break
		}
		line, _ = r.FieldPos(0)
		if len(dorms) >= maxDormRows {
			bad(line, "", fmt.Sprintf("文件过大：最多 %d 行", maxDormRows))
			break
		}
		get := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		no, dorm := get(noCol), get(dormCol)
		if no == "" && dorm == "" {
			continue
		}
		switch {
		case no == "" || utf8.RuneCountInString(no) > 32 || !printable(no):
			bad(line, "学号", "学号不能为空，最多 32 个字符，不能有不可见字符")
		case dorm == "" || utf8.RuneCountInString(dorm) > 64 || !printable(dorm):
			bad(line, "宿舍类型", "宿舍类型不能为空，最多 64 个字，不能有不可见字符")
		case lines[no] != 0:
			bad(line, "学号", fmt.Sprintf("学号 %s 重复：与第 %d 行相同", no, lines[no]))
		default:
			dorms[no], lines[no] = dorm, line
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return dorms, lines, nil
}
