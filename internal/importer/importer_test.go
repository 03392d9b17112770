package importer

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"campuspay/internal/money"
)

// collectStudents parses a students file and returns the rows passed to fn and
// the error.
func collectStudents(t *testing.T, data []byte, f Format) ([]StudentRow, *Errors) {
	t.Helper()
	var rows []StudentRow
	err := ParseStudents(bytes.NewReader(data), f, func(r StudentRow) error {
		rows = append(rows, r)
		return nil
	})
	return rows, asErrors(t, err)
}

func collectBills(t *testing.T, data []byte, f Format) ([]BillRow, *Errors) {
	t.Helper()
	var rows []BillRow
	err := ParseBills(bytes.NewReader(data), f, func(r BillRow) error {
		rows = append(rows, r)
		return nil
	})
	return rows, asErrors(t, err)
}

func asErrors(t *testing.T, err error) *Errors {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T (%v), want *Errors", err, err)
	}
	if errs.Empty() {
		t.Fatalf("non-nil *Errors is empty")
	}
	return errs
}

func errLines(errs *Errors) []int {
	if errs == nil {
		return nil
	}
	var lines []int
	for _, e := range errs.Errs {
		lines = append(lines, e.Line)
	}
	return lines
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.csv": CSV, "学生.CSV": CSV, "/x/y/b.xlsx": XLSX, "B.XlSx": XLSX} {
		if got, err := FormatOf(name); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"a.xls", "a.txt", "noext", "a.csv.gz"} {
		_, err := FormatOf(name)
		if err == nil || !strings.Contains(err.Error(), ".xlsx") {
			t.Errorf("FormatOf(%q) err = %v, want a Chinese error naming .csv/.xlsx", name, err)
		}
	}
}

func TestStudentsCSVHeaders(t *testing.T) {
	want := []StudentRow{
		{Line: 2, StudentNo: "2026010001", Name: "张伟", IDCard: "11010519491231002X", Grade: "2026", Major: "会计学", Class: "会计2601班", Phone: "13800138000"},
		{Line: 3, StudentNo: "A-17", Name: "欧阳娜娜"},
	}
	cases := map[string]string{
		"chinese": "学号,姓名,身份证号,年级,专业,班级,手机号\n" +
			"2026010001,张伟,11010519491231002x,2026,会计学,会计2601班,13800138000\n" +
			"A-17,欧阳娜娜,,,,,\n",
		"english reordered, case and spaces": " Phone ,NAME,Student_No,id_card,grade,major,class,备注\n" +
			"13800138000,张伟,2026010001,11010519491231002X,2026,会计学,会计2601班,转专业\n" +
			",欧阳娜娜,A-17,,,,,\n",
		"bom crlf full-width spaces blank lines": "\ufeff学号,姓名,身份证号,年级,专业,班级,手机号\r\n" +
			"\u30002026010001\u3000, 张伟 ,11010519491231002x,2026,会计学,会计2601班,138-0013-8000\r\n" +
			"\r\n\r\n" +
			"A-17,欧阳娜娜,,,,,\r\n,,,,,,\r\n",
		"only required columns": "姓名,学号\n张伟,2026010001\n欧阳娜娜,A-17\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			rows, errs := collectStudents(t, []byte(in), CSV)
			if errs != nil {
				t.Fatalf("errors: %v", errs)
			}
			w := want
			if name == "only required columns" {
				w = []StudentRow{{Line: 2, StudentNo: "2026010001", Name: "张伟"}, {Line: 3, StudentNo: "A-17", Name: "欧阳娜娜"}}
			}
			if name == "bom crlf full-width spaces blank lines" {
				w = append([]StudentRow(nil), want...)
				w[1].Line = 5
			}
			if !reflect.DeepEqual(rows, w) {
				t.Errorf("rows:\n got %+v\nwant %+v", rows, w)
			}
		})
	}
}

func TestBillsCSVHeadersAndAliases(t *testing.T) {
	in := "学号,大项目,子项目,金额（元）,是否必缴\n" +
		"2026010001,2026学年学费住宿费,学费,\"5,800.00\",是\n" +
		"2026010001,2026学年学费住宿费,住宿费,1200,TRUE\n" +
		"2026010001,2026学年学费住宿费,提档费,50.5,\n" +
		"2026010001,2026学年代收费,教材费,￥480.00,选缴\n" +
		"2026010001,2026学年代收费,体检费,６０．００,Y\n"
	rows, errs := collectBills(t, []byte(in), CSV)
	if errs != nil {
		t.Fatal(errs)
	}
	want := []BillRow{
		{2, "2026010001", "2026学年学费住宿费", "学费", 580000, true},
		{3, "2026010001", "2026学年学费住宿费", "住宿费", 120000, true},
		{4, "2026010001", "2026学年学费住宿费", "提档费", 5050, false},
		{5, "2026010001", "2026学年代收费", "教材费", 48000, false},
		{6, "2026010001", "2026学年代收费", "体检费", 6000, true},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %+v\nwant %+v", rows, want)
	}

	// English headers, no mandatory column at all.
	rows, errs = collectBills(t, []byte("amount,item,project,student_no\n5800.00,学费,学费住宿费,S1\n"), CSV)
	if errs != nil || len(rows) != 1 || rows[0].Amount != 580000 || rows[0].Mandatory {
		t.Errorf("english headers: %+v %v", rows, errs)
	}
	// 项目 is an alias of 收费项目.
	if _, errs = collectBills(t, []byte("学号,项目,子项目,应缴金额\nS1,学费住宿费,学费,1\n"), CSV); errs != nil {
		t.Errorf("项目 alias: %v", errs)
	}
}

func TestMandatoryWords(t *testing.T) {
	for in, want := range map[string]bool{"是": true, "否": false, "true": true, "False": false, "1": true, "0": false,
		"y": true, "N": false, "YES": true, "no": false, "必缴": true, "选缴": false, "": false} {
		got, reason := checkMandatory(in)
		if reason != "" || got != want {
			t.Errorf("checkMandatory(%q) = %v %q", in, got, reason)
		}
	}
	for _, in := range []string{"maybe", "2", "对", "t"} {
		if _, reason := checkMandatory(in); !strings.Contains(reason, "必缴格式错误") {
			t.Errorf("checkMandatory(%q) reason %q", in, reason)
		}
	}
}

func TestFieldValidation(t *testing.T) {
	studentBad := []struct{ line, want string }{
		{",张三,,,,,", "学号不能为空"},
		{"2026 01,张三,,,,,", "学号格式错误"},
		{strings.Repeat("1", 33) + ",张三,,,,,", "学号过长"},
		{"S1,,,,,,", "姓名不能为空"},
		{"S1," + strings.Repeat("名", 65) + ",,,,,", "姓名过长"},
		{"S1,\"张\x01三\",,,,,", "控制字符"},
		{"S1,张三,110105194912310021,,,,", "身份证号校验位不正确"},
		{"S1,张三,11010519491231002,,,,", "身份证号格式错误"},
		{"S1,张三,1.10105E+17,,,,", "科学计数法"},
		{"S1,张三,,,,,23800138000", "手机号格式错误"},
		{"S1,张三,,,,,1380013800", "手机号格式错误"},
		{"S1,张三,,,," + strings.Repeat("班", 65) + ",", "班级过长"},
	}
	for _, c := range studentBad {
		rows, errs := collectStudents(t, []byte("学号,姓名,身份证号,年级,专业,班级,手机号\n"+c.line+"\n"), CSV)
		if len(rows) != 0 || errs == nil || len(errs.Errs) != 1 || errs.Errs[0].Line != 2 || !strings.Contains(errs.Errs[0].Reason, c.want) {
			t.Errorf("%q: rows %v errs %v, want one error on line 2 containing %q", c.line, rows, errs, c.want)
		}
	}
	// Valid optional variants: 15-digit ID, +86 phone.
	rows, errs := collectStudents(t, []byte("学号,姓名,身份证号,手机号\nS1,张三,110105491231002,+86 138 0013 8000\n"), CSV)
	if errs != nil || rows[0].IDCard != "110105491231002" || rows[0].Phone != "13800138000" {
		t.Errorf("optional variants: %+v %v", rows, errs)
	}

	billBad := []struct{ amount, want string }{
		{"58OO", `应缴金额格式错误："58OO"（应为元，如 5800.00）`},
		{"0", "应缴金额必须大于 0"},
		{"0.00", "应缴金额必须大于 0"},
		{"-5800.00", "应缴金额必须大于 0"},
		{"5800.001", "最多两位小数"},
		{"1e3", "应缴金额格式错误"},
		{"", "应缴金额不能为空"},
		{"100000000000", "超出上限"},
	}
	for _, c := range billBad {
		_, errs := collectBills(t, []byte("学号,收费项目,子项目,应缴金额\nS1,P,I,"+c.amount+"\n"), CSV)
		if errs == nil || len(errs.Errs) != 1 || errs.Errs[0].Column != "应缴金额" || !strings.Contains(errs.Errs[0].Reason, c.want) {
			t.Errorf("amount %q: %v, want %q", c.amount, errs, c.want)
			continue
		}
		if !strings.Contains(errs.Errs[0].Reason, "5800.00") && c.want != "超出上限" {
			t.Errorf("amount %q: reason %q does not show the expected form", c.amount, errs.Errs[0].Reason)
		}
	}
}

func TestThreeBadLinesAllReported(t *testing.T) {
	in := "学号,收费项目,子项目,应缴金额,必缴\n" + // 1
		"S1,P,学费,5800.00,是\n" + // 2
		"S1,P,住宿费,58OO,是\n" + // 3 bad
		"S2,P,学费,5800.00,是\n" + // 4
		",P,学费,5800.00,是\n" + // 5 bad
		"S3,P,学费,5800.00,是\n" + // 6
		"S3,P,住宿费,1200.00,maybe\n" + // 7 bad
		"S4,P,学费,5800.00,是\n" // 8
	var called []int
	err := ParseBills(strings.NewReader(in), CSV, func(r BillRow) error {
		called = append(called, r.Line)
		return nil
	})
	errs := asErrors(t, err)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{3, 5, 7}) {
		t.Errorf("error lines %v, want [3 5 7]; %v", got, errs)
	}
	if !reflect.DeepEqual(called, []int{2, 4, 6, 8}) {
		t.Errorf("fn called for lines %v, want every valid line [2 4 6 8], also after the first error", called)
	}
	msg := errs.Error()
	for _, want := range []string{"第 3 行：应缴金额格式错误：\"58OO\"（应为元，如 5800.00）", "第 5 行：学号不能为空", "第 7 行：必缴格式错误"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() = %q, missing %q", msg, want)
		}
	}
}

func TestDuplicates(t *testing.T) {
	_, errs := collectStudents(t, []byte("学号,姓名\nS1,甲\nS2,乙\nS1,丙\nS1,丁\n"), CSV)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{4, 5}) || !strings.Contains(errs.Errs[0].Reason, "第 2 行") {
		t.Errorf("student duplicates: %v", errs)
	}
	_, errs = collectBills(t, []byte("学号,收费项目,子项目,应缴金额\nS1,P,学费,1\nS1,Q,学费,1\nS2,P,学费,1\nS1,P,学费,2\n"), CSV)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{5}) || !strings.Contains(errs.Errs[0].Reason, "第 2 行") {
		t.Errorf("bill duplicates: %v", errs)
	}
}

func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
		bills          bool
	}{
		{"empty", "", "文件为空", false},
		{"only blank lines", "\n\n\r\n", "文件为空", false},
		{"bom only", "\ufeff", "文件为空", true},
		{"header only", "学号,姓名\n", "只有表头", false},
		{"header only bills", "学号,收费项目,子项目,应缴金额\n\n", "只有表头", true},
		{"missing name", "学号,手机号\nS1,13800138000\n", "缺少必需的列“姓名”", false},
		{"missing amount", "学号,收费项目,子项目,必缴\nS1,P,I,是\n", "缺少必需的列“应缴金额”", true},
		{"duplicate header", "学号,姓名,name\nS1,甲,甲\n", "表头重复", false},
		{"duplicate alias", "学号,收费项目,子项目,金额,应缴金额\nS1,P,I,1,1\n", "表头重复", true},
		{"no header", "2026010001,张三\n", "找不到表头", false},
		{"utf16", "\xff\xfe\x00\x00", "UTF-16", false},
		{"xlsx named csv", "PK\x03\x04rest", "Excel 工作簿", true},
	}
	for _, c := range cases {
		var err error
		if c.bills {
			_, errs := collectBills(t, []byte(c.in), CSV)
			err = errs
			if errs != nil && errs.Errs[0].Line != 1 {
				t.Errorf("%s: line %d, want 1", c.name, errs.Errs[0].Line)
			}
		} else {
			_, errs := collectStudents(t, []byte(c.in), CSV)
			err = errs
			if errs != nil && errs.Errs[0].Line != 1 {
				t.Errorf("%s: line %d, want 1", c.name, errs.Errs[0].Line)
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCSVStructure(t *testing.T) {
	in := "学号,姓名,班级\n" + // 1
		"S1,\"张,三\",\"一班\n（二部）\"\n" + // 2-3: quoted comma and newline
		"S2,李四\n" + // 4: too few columns
		"S3,王五,一班,多余\n" + // 5: too many
		"S4,\"赵\"六\",一班\n" + // 6: bare quote
		"S5,\"孙\"\"七\",\"多\n\n行\"\n" + // 7-9: escaped quote, blank line inside quotes
		"S6,周八,一班,,\n" // 10: extra empty trailing cells are tolerated
	var rows []StudentRow
	err := ParseStudents(strings.NewReader(in), CSV, func(r StudentRow) error { rows = append(rows, r); return nil })
	errs := asErrors(t, err)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{4, 5, 6}) {
		t.Errorf("error lines %v, want [4 5 6]: %v", got, errs)
	}
	// A line break inside a class cell (Alt+Enter in Excel) becomes a space;
	// valid rows after the bad ones still arrive, with their own line numbers.
	if len(rows) != 3 || rows[0].Name != "张,三" || rows[0].Class != "一班 （二部）" || rows[0].Line != 2 ||
		rows[1].Line != 7 || rows[1].Name != `孙"七` || rows[1].Class != "多 行" || rows[2].Line != 10 {
		t.Errorf("rows %+v", rows)
	}

	// Records after multi-line records keep their physical line numbers.
	in = "学号,姓名,专业\nS1,\"张,三\",\"计算机\n科学\"\nS2,\"李\"\"四\",会计\n\nS3,王五,\"a,b\"\nS4,\"赵\n六\",会计\n"
	rows = nil
	err = ParseStudents(strings.NewReader(in), CSV, func(r StudentRow) error { rows = append(rows, r); return nil })
	errs = asErrors(t, err) // a line break in a name is refused
	if got := errLines(errs); !reflect.DeepEqual(got, []int{7}) || errs.Errs[0].Column != "姓名" {
		t.Errorf("error lines %v: %v", got, errs)
	}
	var lines []int
	for _, r := range rows {
		lines = append(lines, r.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 4, 6}) || rows[0].Major != "计算机 科学" || rows[1].Name != `李"四` {
		t.Errorf("rows %+v", rows)
	}

	in = "学号,姓名,专业\nS1,\"张,三\",\"计算机, 科学\"\nS2,\"李\"\"四\",\"\"\n\n\nS3,王五,\"a,b\"\n"
	rows = nil
	if err := ParseStudents(strings.NewReader(in), CSV, func(r StudentRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1].Name != `李"四` || rows[2].Line != 6 || rows[0].Major != "计算机, 科学" {
		t.Errorf("rows %+v", rows)
	}
}

func TestUnterminatedQuote(t *testing.T) {
	in := "学号,姓名\nS1,甲\nS2,\"乙\nS3,丙\n"
	_, errs := collectStudents(t, []byte(in), CSV)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{3}) || !strings.Contains(errs.Error(), "双引号") {
		t.Errorf("%v", errs)
	}
}

func TestGB18030(t *testing.T) {
	utf := "student_no,name,major,class\n2026020001,张伟,会计学,会计2601班\n2026020002,欧阳娜娜,汉语言文学,汉文2601班\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	rows, errs := collectStudents(t, []byte(gb), CSV)
	if errs != nil {
		t.Fatal(errs)
	}
	if len(rows) != 2 || rows[0].Name != "张伟" || rows[1].Major != "汉语言文学" {
		t.Errorf("rows %+v", rows)
	}

	// Chinese headers, GB18030, and a file larger than the sniff window whose
	// Chinese text starts only after 64 KiB.
	var b strings.Builder
	b.WriteString("学号,姓名\n")
	n := 0
	for b.Len() < sniffSize+100 {
		n++
		fmt.Fprintf(&b, "A%d,Zhang\n", n)
	}
	b.WriteString("B1,李四\n")
	gb, _ = simplifiedchinese.GB18030.NewEncoder().String(b.String())
	rows, errs = collectStudents(t, []byte(gb), CSV)
	// The first 64 KiB are not valid UTF-8 because of the header, so the
	// whole file is decoded as GB18030.
	if errs != nil || len(rows) != n+1 || rows[n].Name != "李四" {
		t.Errorf("big GB18030: %d rows, %v", len(rows), errs)
	}
}

func TestValidUTF8Prefix(t *testing.T) {
	s := []byte("学号")
	if !validUTF8Prefix(s[:4], false) || validUTF8Prefix(s[:4], true) || validUTF8Prefix([]byte{0xC4, 0xE3, 'a'}, false) {
		t.Error("validUTF8Prefix")
	}
}

func TestFnErrorStopsAtOnce(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	err := ParseBills(strings.NewReader("学号,收费项目,子项目,应缴金额\nS1,P,A,1\nS1,P,B,1\nS1,P,C,x\n"), CSV, func(BillRow) error {
		calls++
		return boom
	})
	if err != boom || calls != 1 {
		t.Errorf("err %v calls %d", err, calls)
	}
}

func TestErrorsCap(t *testing.T) {
	var e Errors
	if !e.Empty() {
		t.Fatal("zero Errors not empty")
	}
	for i := 1; i <= MaxStoredErrors+5; i++ {
		e.Add(i, "学号", "学号不能为空")
	}
	if len(e.Errs) != MaxStoredErrors || e.Truncated != 5 || e.Len() != MaxStoredErrors+5 || e.Empty() {
		t.Errorf("len %d truncated %d", len(e.Errs), e.Truncated)
	}
	msg := e.Error()
	if !strings.Contains(msg, "第 1000 行：学号不能为空") || strings.Contains(msg, "第 1001 行") || !strings.Contains(msg, "另有 5 处错误") {
		t.Errorf("Error() tail: %q", msg[len(msg)-200:])
	}

	// A big bad file: every line is counted.
	var b strings.Builder
	b.WriteString("学号,姓名\n")
	for range 1500 {
		b.WriteString(",甲\n")
	}
	_, errs := collectStudents(t, []byte(b.String()), CSV)
	if errs.Len() != 1500 || errs.Truncated != 500 {
		t.Errorf("Len %d Truncated %d", errs.Len(), errs.Truncated)
	}
}

// ---- XLSX ----

// buildXLSX writes rows (string, float64, int, bool cells) to the first sheet.
func buildXLSX(t testing.TB, rows [][]any, style func(f *excelize.File, sheet string)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for i, r := range rows {
		if r == nil {
			continue
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if style != nil {
		style(f, sheet)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBillsXLSX(t *testing.T) {
	data := buildXLSX(t, [][]any{
		{"学号", "收费项目", "子项目", "应缴金额", "必缴", "备注"},
		{"2026010001", "学费住宿费", "学费", 5800, "是"},
		{2026010001, "学费住宿费", "住宿费", 5800.5, true}, // numeric student number, bool cell
		nil, // blank row 4
		{"2026010001", "代收费", "教材费", "480.00", false},
		{"2026010001", "代收费", "体检费", 60.1 + 0.2, "否"},       // 60.300000000000004 in the file
		{"2026010001", "代收费", "军训服装费", 150.25, "否", "x"},    // extra cell
		{"2026010001", "代收费", "保险费", 12345678.99, nil, nil}, // shown as 12,345,679
	}, func(f *excelize.File, sheet string) {
		// Number formats that hide decimals must not change the amount.
		id, err := f.NewStyle(&excelize.Style{NumFmt: 3}) // #,##0
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle(sheet, "D2", "D8", id); err != nil {
			t.Fatal(err)
		}
	})
	rows, errs := collectBills(t, data, XLSX)
	if errs != nil {
		t.Fatal(errs)
	}
	want := []BillRow{
		{2, "2026010001", "学费住宿费", "学费", 580000, true},
		{3, "2026010001", "学费住宿费", "住宿费", 580050, true},
		{5, "2026010001", "代收费", "教材费", 48000, false},
		{6, "2026010001", "代收费", "体检费", 6030, false},
		{7, "2026010001", "代收费", "军训服装费", 15025, false},
		{8, "2026010001", "代收费", "保险费", 1234567899, false},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got  %+v\nwant %+v", rows, want)
	}

	// What excelize itself returns, for the record: formatted text loses the
	// decimals, which is why the importer reads raw values.
	f, _ := excelize.OpenReader(bytes.NewReader(data))
	formatted, _ := f.GetCellValue(f.GetSheetName(0), "D3")
	raw, _ := f.GetCellValue(f.GetSheetName(0), "D3", excelize.Options{RawCellValue: true})
	f.Close()
	t.Logf("excelize D3 (5800.5 with format #,##0): formatted %q, raw %q", formatted, raw)
	if raw != "5800.5" {
		t.Errorf("raw value %q", raw)
	}
}

func TestXLSXErrors(t *testing.T) {
	data := buildXLSX(t, [][]any{
		{"student_no", "project", "item", "amount", "mandatory"},
		{"S1", "P", "学费", 5800.123, "是"}, // 3 decimals
		{"S1", "P", "住宿费", 0, "是"},
		{"S1", "P", "提档费", -50, "是"},
		{"S1", "P", "教材费", "58OO", "maybe"},
	}, nil)
	_, errs := collectBills(t, data, XLSX)
	if got := errLines(errs); !reflect.DeepEqual(got, []int{2, 3, 4, 5, 5}) {
		t.Errorf("lines %v: %v", got, errs)
	}

	_, errs = collectBills(t, []byte("not a zip"), XLSX)
	if errs == nil || errs.Errs[0].Line != 1 || !strings.Contains(errs.Error(), "XLSX") {
		t.Errorf("garbage xlsx: %v", errs)
	}
	_, errs = collectBills(t, buildXLSX(t, nil, nil), XLSX)
	if errs == nil || !strings.Contains(errs.Error(), "文件为空") {
		t.Errorf("empty xlsx: %v", errs)
	}
}

func TestStudentsXLSX(t *testing.T) {
	data := buildXLSX(t, [][]any{
		{"姓名", "学号", "身份证号", "手机号", "年级"},
		{"张伟", 2026010001, "11010519491231002x", 13800138000, 2026},
	}, nil)
	rows, errs := collectStudents(t, data, XLSX)
	if errs != nil {
		t.Fatal(errs)
	}
	want := StudentRow{Line: 2, StudentNo: "2026010001", Name: "张伟", IDCard: "11010519491231002X", Phone: "13800138000", Grade: "2026"}
	if len(rows) != 1 || rows[0] != want {
		t.Errorf("got %+v", rows)
	}
}

func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"5800.5":             "5800.5",
		"5800.123":           "5800.123",
		"60.300000000000004": "60.3",
		"5800.4999999999991": "5800.5",
		"2.026010001E+9":     "2026010001",
		"1.3800138001E10":    "13800138001",
		"58OO":               "58OO",
		"1.5e300":            "1.5e300",
		"abc":                "abc",
	} {
		if got := normalizeNumber(in); got != want {
			t.Errorf("normalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDCheckChar(t *testing.T) {
	// Published GB 11643 examples.
	for _, id := range []string{"11010519491231002X", "440524188001010014"} {
		if c := idCheckChar(id[:17]); c != id[17] {
			t.Errorf("%s: check char %c", id, c)
		}
	}
}

var _ = money.Fen(0)
