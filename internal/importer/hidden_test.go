package importer

import (
	"reflect"
	"strings"
	"testing"
)

func TestHiddenCharactersAreRefused(t *testing.T) {
	students := "学号,姓名,身份证号,年级,专业,班级,手机号\n"
	bills := "学号,收费项目,子项目,应缴金额,必缴\n"
	cases := []struct {
		name, file, row string
		bills           bool
		column, reason  string
	}{
		{"a right-to-left override in a name", students, "S1,张\u202e三,,,,,", false, "姓名", "姓名含有不可见字符 U+202E（文字方向控制符"},
		{"a left-to-right override in a major", students, "S1,张三,,,会计\u202d学,,", false, "专业", "含有不可见字符 U+202D"},
		{"a first-strong isolate in a class", students, "S1,张三,,,,\u2068一班\u2069,", false, "班级", "含有不可见字符 U+2068"},
		{"a pop-directional isolate in a grade", students, "S1,张三,,2026\u2069,,,", false, "年级", "含有不可见字符 U+2069"},
		{"a zero-width space inside a name", students, "S1,张\u200b三,,,,,", false, "姓名", "含有不可见字符 U+200B（零宽空格）"},
		{"a zero-width joiner inside a name", students, "S1,张\u200d三,,,,,", false, "姓名", "含有不可见字符 U+200D"},
		{"a byte order mark inside a name", students, "S1,张\ufeff三,,,,,", false, "姓名", "含有不可见字符 U+FEFF（字节顺序标记"},
		{"a soft hyphen in a name", students, "S1,Anne\u00adMarie,,,,,", false, "姓名", "含有不可见字符 U+00AD"},
		{"an Arabic letter mark in a name", students, "S1,张\u061c三,,,,,", false, "姓名", "含有不可见字符 U+061C"},
		{"a language tag in a name", students, "S1,张\U000e0041三,,,,,", false, "姓名", "含有不可见字符 U+E0041"},
		{"a C1 control in a name", students, "S1,张\u0085三,,,,,", false, "姓名", "含有换行或控制字符 U+0085"},
		{"an escape in a name", students, "S1,张\x1b[31m三,,,,,", false, "姓名", "含有换行或控制字符 U+001B"},
		{"a line separator in a name", students, "S1,张\u2028三,,,,,", false, "姓名", "U+2028"},
		{"an override in a student number", students, "S\u202e1,张三,,,,,", false, "学号", "学号含有不可见字符 U+202E"},
		{"an override in an ID card", students, "S1,张三,11010519491231002\u202eX,,,,", false, "身份证号", "身份证号含有不可见字符 U+202E"},
		{"an isolate in a phone", students, "S1,张三,,,,,\u2066138001380001\u2069", false, "手机号", "手机号含有不可见字符 U+2066"},
		{"an override in a project", bills, "S1,学费\u202e,学费,5800.00,是", true, "收费项目", "收费项目含有不可见字符 U+202E"},
		{"a zero-width space inside an item", bills, "S1,学费,住\u200b宿费,1200.00,是", true, "子项目", "子项目含有不可见字符 U+200B"},
		{"a zero-width joiner inside an amount", bills, "S1,学费,学费,58\u200d00.00,是", true, "应缴金额", "应缴金额含有不可见字符 U+200D"},
		{"an override in the mandatory flag", bills, "S1,学费,学费,5800.00,\u202e是", true, "必缴", "必缴含有不可见字符 U+202E"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.file + "S0,甲,,,,,\n" + c.row + "\n")
			if c.bills {
				in = []byte(c.file + "S0,P,I,1,是\n" + c.row + "\n")
			}
			var errs *Errors
			var n int
			if c.bills {
				var rows []BillRow
				rows, errs = collectBills(t, in, CSV)
				n = len(rows)
			} else {
				var rows []StudentRow
				rows, errs = collectStudents(t, in, CSV)
				n = len(rows)
			}
			if errs == nil || len(errs.Errs) != 1 {
				t.Fatalf("errors %v, want exactly one", errs)
			}
			e := errs.Errs[0]
			if e.Line != 3 || e.Column != c.column || !strings.Contains(e.Reason, c.reason) {
				t.Fatalf("got %+v, want line 3, column %s, reason containing %q", e, c.column, c.reason)
			}
			if n != 1 {
				t.Fatalf("%d rows handed on, want only the clean line 2", n)
			}
			if strings.ContainsAny(e.Reason, "\u202e\u202d\u2066\u2068\u2069\u200b\u200d\ufeff\x1b") {
				t.Fatalf("the reason echoes the hidden character raw: %q", e.Reason)
			}
		})
	}
}

func TestBOMAndEdgeSpacesStayAccepted(t *testing.T) {
	in := "\ufeff学号,姓名,专业\n" +
		"S1,\u200b张三\u200b,会计学\n" + // zero-width spaces at the edges are trimmed like spaces
		"\ufeffS2,李四,\u3000软件工程\u00a0\n"
	rows, errs := collectStudents(t, []byte(in), CSV)
	if errs != nil {
		t.Fatal(errs)
	}
	want := []StudentRow{{Line: 2, StudentNo: "S1", Name: "张三", Major: "会计学"}, {Line: 3, StudentNo: "S2", Name: "李四", Major: "软件工程"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %+v", rows)
	}
}

func TestHiddenCharactersInXLSX(t *testing.T) {
	data := buildXLSX(t, [][]any{
		{"学号", "姓名"},
		{"S1", "张三"},
		{"S2", "李\u202e四"},
	}, nil)
	rows, errs := collectStudents(t, data, XLSX)
	if errs == nil || len(errs.Errs) != 1 || errs.Errs[0].Line != 3 || !strings.Contains(errs.Errs[0].Reason, "U+202E") || len(rows) != 1 {
		t.Fatalf("rows %+v errs %v", rows, errs)
	}
}

func TestMergeErrors(t *testing.T) {
	t.Run("parse errors and problems come out in line order", func(t *testing.T) {
		a := &Errors{}
		a.Add(3, "应缴金额", "a3")
		a.Add(9, "必缴", "a9")
		a.Add(1, "", "a1 reported last") // a file-level error found mid-file
		b := &Errors{}
		b.Add(5, "学号", "b5")
		b.Add(9, "学号", "b9")
		got := mergeErrors(a, b)
		var order []string
		for _, e := range got.Errs {
			order = append(order, e.Reason)
		}
		if want := []string{"a1 reported last", "a3", "b5", "a9", "b9"}; !reflect.DeepEqual(order, want) {
			t.Fatalf("order %v, want %v", order, want)
		}
	})
	t.Run("the first MaxStoredErrors are kept and the rest counted", func(t *testing.T) {
		a, b := &Errors{}, &Errors{}
		for i := range 1500 {
			if i%2 == 0 {
				a.Add(i+2, "", "parse")
			} else {
				b.Add(i+2, "", "store")
			}
		}
		got := mergeErrors(a, b)
		if len(got.Errs) != MaxStoredErrors || got.Len() != 1500 || got.Truncated != 500 {
			t.Fatalf("stored %d, total %d, truncated %d", len(got.Errs), got.Len(), got.Truncated)
		}
		for i, e := range got.Errs {
			if e.Line != i+2 {
				t.Fatalf("entry %d is line %d", i, e.Line)
			}
		}
		got = mergeErrors(nil, b)
		if got.Len() != b.Len() {
			t.Fatal("nil parse errors")
		}
	})
}
