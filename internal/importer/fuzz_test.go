package importer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"",
	"\ufeff学号,姓名,身份证号,年级,专业,班级,手机号\n2026010001,张伟,11010519491231002x,2026,会计学,会计2601班,13800138000\n",
	"student_no,name\nS1,\"a,\nb\"\n\nS1,x\n",
	"学号,收费项目,子项目,应缴金额,必缴\nS1,P,学费,5800.00,是\nS1,P,学费,58OO,maybe\n,P,I,0,\n",
	"amount,item,project,student_no,mandatory\n\"5,800.5\",I,P,S-1,Y\n1e3,I,P,S2,n\n",
	"学号,项目,子项目,金额\nS1,\"P\"x\",I,1\nS2,\"P,I,1\n",
	"\xd1\xa7\xba\xc5,\xd0\xd5\xc3\xfb\nS1,\xd5\xc5\xc8\xfd\n", // GB18030 学号,姓名
	"\xff\xfe",
	"PK\x03\x04",
	"学号,姓名,专业\nS1,张\u202e三,会计\nS2,李四,\u200b会计\u200b学\nS3,王五,\u2066x\u2069\n",
	"\ufeff学号,收费项目,子项目,应缴金额,必缴\nS1,P\ufeff,学费,5800.00,是\nS2,P,学费,58\u200d00,是\nS3,P,学费,1,\u00ad是\n",
}

func checkLines(t *testing.T, err error) {
	if err == nil {
		return
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v is not *Errors", err, err)
	}
	if errs.Empty() {
		t.Fatal("empty *Errors returned")
	}
	for _, e := range errs.Errs {
		if e.Line < 1 || e.Reason == "" {
			t.Fatalf("bad LineError %+v", e)
		}
	}
}

func validText(t *testing.T, what, s string, required bool) {
	if (required && s == "") || utf8.RuneCountInString(s) > maxTextLen || !utf8.ValidString(s) ||
		strings.ContainsAny(s, "\x00\r\n\t\u2028\u2029") || trimCell(s) != s {
		t.Fatalf("invalid %s %q passed to fn", what, s)
	}
	noHidden(t, what, s)
}

// noHidden fails on a control or format (Cf) character in a value handed on.
func noHidden(t *testing.T, what, s string) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("%s %q with hidden character U+%04X passed to fn", what, s, r)
		}
	}
}

func validStudentNo(t *testing.T, s string) {
	if s == "" || len(s) > maxStudentNoLen {
		t.Fatalf("invalid student_no %q", s)
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			t.Fatalf("invalid student_no %q", s)
		}
	}
}

func FuzzParseStudents(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		last := 0
		seen := map[string]bool{}
		err := ParseStudents(bytes.NewReader(data), CSV, func(r StudentRow) error {
			if r.Line <= last || r.Line < 2 {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
			validStudentNo(t, r.StudentNo)
			noHidden(t, "id card", r.IDCard)
			noHidden(t, "phone", r.Phone)
			if seen[r.StudentNo] {
				t.Fatalf("duplicate %q passed to fn", r.StudentNo)
			}
			seen[r.StudentNo] = true
			validText(t, "name", r.Name, true)
			for _, s := range []string{r.Grade, r.Major, r.Class} {
				validText(t, "text", s, false)
			}
			switch len(r.IDCard) {
			case 0, 15:
			case 18:
				if idCheckChar(r.IDCard[:17]) != r.IDCard[17] {
					t.Fatalf("bad id card %q", r.IDCard)
				}
			default:
				t.Fatalf("bad id card %q", r.IDCard)
			}
			if r.Phone != "" && (len(r.Phone) != 11 || r.Phone[0] != '1' || !allASCIIDigits(r.Phone)) {
				t.Fatalf("bad phone %q", r.Phone)
			}
			return nil
		})
		checkLines(t, err)
	})
}

func FuzzParseBills(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		last := 0
		type key struct{ a, b, c string }
		seen := map[key]bool{}
		err := ParseBills(bytes.NewReader(data), CSV, func(r BillRow) error {
			if r.Line <= last || r.Line < 2 {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
			validStudentNo(t, r.StudentNo)
			validText(t, "project", r.Project, true)
			validText(t, "item", r.Item, true)
			if r.Amount <= 0 || r.Amount > 100_000_000_00 {
				t.Fatalf("bad amount %d", r.Amount)
			}
			k := key{r.StudentNo, r.Project, r.Item}
			if seen[k] {
				t.Fatalf("duplicate %v passed to fn", k)
			}
			seen[k] = true
			return nil
		})
		checkLines(t, err)
	})
}
