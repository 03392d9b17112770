package importer

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"
)

// demoDir holds the demo files shipped in the repository.
var demoDir = filepath.Join("..", "..", "demo")

func openDemo(t *testing.T, name string) (*os.File, Format) {
	t.Helper()
	f, err := os.Open(filepath.Join(demoDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	format, err := FormatOf(name)
	if err != nil {
		t.Fatal(err)
	}
	return f, format
}

func demoStudents(t *testing.T, name string) []StudentRow {
	f, format := openDemo(t, name)
	var rows []StudentRow
	if err := ParseStudents(f, format, func(r StudentRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rows
}

func demoBills(t *testing.T, name string) ([]BillRow, error) {
	f, format := openDemo(t, name)
	var rows []BillRow
	err := ParseBills(f, format, func(r BillRow) error { rows = append(rows, r); return nil })
	return rows, err
}

func TestDemoFiles(t *testing.T) {
	students := demoStudents(t, "students.csv")
	if len(students) != 300 {
		t.Errorf("students.csv: %d rows, want 300", len(students))
	}
	known := map[string]bool{}
	for _, s := range students {
		known[s.StudentNo] = true
		if len(s.IDCard) != 18 || s.IDCard[:2] != "50" || s.Phone[:2] != "13" || s.Grade != "2026" || s.Major == "" || s.Class == "" {
			t.Errorf("students.csv line %d: %+v", s.Line, s)
		}
	}

	raw, err := os.ReadFile(filepath.Join(demoDir, "students_gb18030.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(raw) {
		t.Error("students_gb18030.csv is valid UTF-8; it should be GB18030")
	}
	if gb := demoStudents(t, "students_gb18030.csv"); len(gb) != 5 || gb[0].Name == "" {
		t.Errorf("students_gb18030.csv: %+v", gb)
	}

	bills, err := demoBills(t, "bills.csv")
	if err != nil || len(bills) != 1800 {
		t.Fatalf("bills.csv: %d rows, %v", len(bills), err)
	}
	var total, mandatory int
	for _, b := range bills {
		if !known[b.StudentNo] {
			t.Errorf("bills.csv line %d: unknown student %s", b.Line, b.StudentNo)
		}
		total += int(b.Amount)
		if b.Mandatory {
			mandatory++
		}
	}
	if mandatory != 600 {
		t.Errorf("bills.csv: %d mandatory lines, want 600 (学费 and 住宿费)", mandatory)
	}
	xbills, err := demoBills(t, "bills.xlsx")
	if err != nil {
		t.Fatalf("bills.xlsx: %v", err)
	}
	if !reflect.DeepEqual(xbills, bills) {
		t.Errorf("bills.xlsx differs from bills.csv (%d vs %d rows)", len(xbills), len(bills))
	}
	t.Logf("demo: %d students, %d bill lines totalling %d fen", len(students), len(bills), total)

	_, err = demoBills(t, "bills_bad.csv")
	errs := asErrors(t, err)
	want := []LineError{
		{Line: 5, Column: "应缴金额", Reason: `应缴金额格式错误："58OO"（应为元，如 5800.00）`},
		{Line: 8, Column: "学号", Reason: "学号不能为空"},
		{Line: 12, Column: "必缴", Reason: `必缴格式错误："maybe"（应为 是 或 否）`},
	}
	if !reflect.DeepEqual(errs.Errs, want) || errs.Truncated != 0 {
		t.Errorf("bills_bad.csv:\n got %+v\nwant %+v", errs.Errs, want)
	}
	t.Logf("bills_bad.csv:\n%v", errs)
}
