package importer

import (
	"errors"
	"fmt"
	"io"

	"campuspay/internal/money"
)

// StudentRow is one valid row of a students file.
type StudentRow struct {
	Line      int    // file line (CSV) or row number (XLSX); header is 1
	StudentNo string // 1–32 letters, digits or '-'
	Name      string // 1–64 characters
	IDCard    string // "", 15 digits, or 18 characters with a valid checksum (upper-case X)
	Grade     string // optional, e.g. "2026"
	Major     string // optional
	Class     string // optional
	Phone     string // "" or 11 digits starting with 1
}

// BillRow is one valid row of a bills file: what one student owes for one
// item of one charging project.
type BillRow struct {
	Line      int       // file line (CSV) or row number (XLSX); header is 1
	StudentNo string    // 1–32 letters, digits or '-'
	Project   string    // 收费项目, 1–64 characters
	Item      string    // 子项目, 1–64 characters
	Amount    money.Fen // > 0
	Mandatory bool      // 必缴; false when the column is absent or the cell empty
}

// Students file columns, in StudentRow order.
const (
	sNo = iota
	sName
	sIDCard
	sGrade
	sMajor
	sClass
	sPhone
)

var studentColumns = []column{
	sNo:     {label: "学号", english: "student_no", aliases: []string{"studentno", "student_id", "学生学号", "学籍号"}, required: true},
	sName:   {label: "姓名", english: "name", aliases: []string{"student_name", "学生姓名"}, required: true},
	sIDCard: {label: "身份证号", english: "id_card", aliases: []string{"idcard", "id_no", "id_number", "身份证", "身份证号码", "证件号码"}},
	sGrade:  {label: "年级", english: "grade", aliases: []string{"入学年级"}},
	sMajor:  {label: "专业", english: "major", aliases: []string{"专业名称"}},
	sClass:  {label: "班级", english: "class", aliases: []string{"班级名称", "class_name"}},
	sPhone:  {label: "手机号", english: "phone", aliases: []string{"mobile", "手机", "手机号码", "联系电话"}},
}

// Bills file columns, in BillRow order.
const (
	bNo = iota
	bProject
	bItem
	bAmount
	bMandatory
)

var billColumns = []column{
	bNo:        {label: "学号", english: "student_no", aliases: []string{"studentno", "student_id", "学生学号", "学籍号"}, required: true},
	bProject:   {label: "收费项目", english: "project", aliases: []string{"大项目", "项目", "项目名称", "收费项目名称"}, required: true},
	bItem:      {label: "子项目", english: "item", aliases: []string{"收费子项目", "子项目名称", "明细项目", "收费明细"}, required: true},
	bAmount:    {label: "应缴金额", english: "amount", aliases: []string{"金额", "应收金额", "应交金额", "收费金额"}, required: true},
	bMandatory: {label: "必缴", english: "mandatory", aliases: []string{"是否必缴", "必交", "是否必交", "required"}},
}

// rowReader hands build the cells of one record by column.
type rowReader struct {
	h     *header
	cells []string
}

func (r rowReader) get(col int) string {
	if i := r.h.idx[col]; i >= 0 && i < len(r.cells) {
		return r.cells[i]
	}
	return ""
}

// ParseStudents streams the rows of a students file to fn in file order.
//
// Every row is validated and parsing continues to the end, so that every
// bad line is reported. fn is called for every valid row, also after bad
// ones, so that a caller applying rows finds the problems only it can see
// (an unknown student) in the same pass; when ParseStudents returns an error
// the caller must discard what fn applied. It returns an *Errors if any
// line was bad, fn's error (unwrapped, at once) if fn failed, or nil.
func ParseStudents(r io.Reader, f Format, fn func(StudentRow) error) error {
	seen := make(map[string]int)
	return parse(r, f, studentColumns, func(line int, row rowReader, errs *Errors) (StudentRow, bool) {
		out := StudentRow{Line: line}
		ok := true
		bad := func(col int, reason string) {
			errs.Add(line, studentColumns[col].label, reason)
			ok = false
		}
		var reason string
		if out.StudentNo, reason = checkStudentNo(row.get(sNo)); reason != "" {
			bad(sNo, reason)
		} else if first, dup := seen[out.StudentNo]; dup {
			bad(sNo, fmt.Sprintf("学号 %s 重复：与第 %d 行相同", q(out.StudentNo), first))
		} else {
			seen[out.StudentNo] = line
		}
		out.Name = row.get(sName)
		if reason, good := checkText("姓名", out.Name, true); !good {
			bad(sName, reason)
		}
		if out.IDCard, reason = checkIDCard(row.get(sIDCard)); reason != "" {
			bad(sIDCard, reason)
		}
		for _, c := range []struct {
			col int
			dst *string
		}{{sGrade, &out.Grade}, {sMajor, &out.Major}, {sClass, &out.Class}} {
			*c.dst = flatten(row.get(c.col))
			if reason, good := checkText(studentColumns[c.col].label, *c.dst, false); !good {
				bad(c.col, reason)
			}
		}
		if out.Phone, reason = checkPhone(row.get(sPhone)); reason != "" {
			bad(sPhone, reason)
		}
		return out, ok
	}, fn)
}

// ParseBills streams the rows of a bills file to fn in file order.
//
// Every row is validated and parsing continues to the end, so that every
// bad line is reported. fn is called for every valid row, also after bad
// ones, so that a caller applying rows finds the problems only it can see
// (an unknown student) in the same pass; when ParseBills returns an error
// the caller must discard what fn applied. It returns an *Errors if any
// line was bad, fn's error (unwrapped, at once) if fn failed, or nil.
func ParseBills(r io.Reader, f Format, fn func(BillRow) error) error {
	type key struct{ no, project, item string }
	seen := make(map[key]int)
	return parse(r, f, billColumns, func(line int, row rowReader, errs *Errors) (BillRow, bool) {
		out := BillRow{Line: line}
		ok := true
		bad := func(col int, reason string) {
			errs.Add(line, billColumns[col].label, reason)
			ok = false
		}
		var reason string
		if out.StudentNo, reason = checkStudentNo(row.get(bNo)); reason != "" {
			bad(bNo, reason)
		}
		out.Project = flatten(row.get(bProject))
		if reason, good := checkText("收费项目", out.Project, true); !good {
			bad(bProject, reason)
		}
		out.Item = flatten(row.get(bItem))
		if reason, good := checkText("子项目", out.Item, true); !good {
			bad(bItem, reason)
		}
		if out.Amount, reason = checkAmount(row.get(bAmount)); reason != "" {
			bad(bAmount, reason)
		}
		if out.Mandatory, reason = checkMandatory(row.get(bMandatory)); reason != "" {
			bad(bMandatory, reason)
		}
		if out.StudentNo != "" && out.Project != "" && out.Item != "" {
			k := key{out.StudentNo, out.Project, out.Item}
			if first, dup := seen[k]; dup {
				bad(bItem, fmt.Sprintf("收费明细重复：学号 %s 的“%s / %s”已在第 %d 行出现", q(out.StudentNo), out.Project, out.Item, first))
			} else {
				seen[k] = line
			}
		}
		return out, ok
	}, fn)
}

// parse drives a source: header first, then every data row through build;
// every valid row goes to fn, whatever came before it.
func parse[T any](r io.Reader, f Format, cols []column, build func(int, rowReader, *Errors) (T, bool), fn func(T) error) error {
	errs := &Errors{}
	fail := func(err error) error {
		var fe *fileError
		if errors.As(err, &fe) {
			errs.Add(1, "", fe.reason)
			return errs
		}
		return err
	}
	src, err := newSource(r, f)
	if err != nil {
		return fail(err)
	}
	defer src.close()

	// Header: the first non-blank record.
	rec, err := src.next()
	if err == io.EOF {
		errs.Add(1, "", "文件为空：没有表头，也没有数据行；第一行应为表头，如 "+headerExample(cols))
		return errs
	}
	if err != nil {
		return fail(err)
	}
	if rec.err != "" {
		errs.Add(rec.line, "", "表头无法读取："+rec.err)
		return errs
	}
	h, ok := parseHeader(rec, cols, errs)
	if !ok {
		return errs
	}

	rows := 0
	for {
		rec, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		rows++
		if rec.err != "" {
			errs.Add(rec.line, "", rec.err)
			continue
		}
		if f == CSV && len(rec.cells) != h.width && !(len(rec.cells) > h.width && blank(rec.cells[h.width:])) {
			errs.Add(rec.line, "", fmt.Sprintf("列数不对：表头有 %d 列，此行有 %d 列（单元格内有英文逗号时须用英文双引号括起）", h.width, len(rec.cells)))
			continue
		}
		v, good := build(rec.line, rowReader{h: h, cells: rec.cells}, errs)
		if good {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	if rows == 0 {
		errs.Add(h.line, "", "文件只有表头，没有数据行")
	}
	return errs.orNil()
}
