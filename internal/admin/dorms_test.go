package admin_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"campuspay/internal/admin"
)

func TestParseDorms(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		lines    []int // lines of the problems
	}{
		{"chinese header with BOM and extra columns", "\xEF\xBB\xBF姓名,学号,宿舍类型\n张三,2026001,四人间\n李四,2026002, 六人间 \n\n", map[string]string{"2026001": "四人间", "2026002": "六人间"}, nil},
		{"english header", "student_no,dorm_type\nA1,single\n", map[string]string{"A1": "single"}, nil},
		{"every bad line is named", "学号,宿舍类型\n2026001,四人间\n2026001,六人间\n,四人间\n2026003,\n2026004,四\u200b人间\n", nil, []int{3, 4, 5, 6}},
		{"a header without the columns", "学号,类型\n1,2\n", nil, []int{1}},
		{"not UTF-8", "\xff\xfe学号", nil, []int{1}},
		{"a broken quote is named by its line", "学号,宿舍类型\n1,\"a\n", nil, []int{2}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			got, lines, probs := admin.ParseDorms([]byte(tc.in))
			var pl []int
			for _, p := range probs {
				pl = append(pl, p.Line)
			}
			if len(pl) != len(tc.lines) {
				t.Fatalf("problems %+v, want lines %v", probs, tc.lines)
			}
			for i := range pl {
				if pl[i] != tc.lines[i] {
					t.Fatalf("problems %+v, want lines %v", probs, tc.lines)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v || lines[k] == 0 {
					t.Errorf("%s: %q (line %d), want %q", k, got[k], lines[k], v)
				}
			}
		})
	}
}

func FuzzParseDorms(f *testing.F) {
	for _, s := range []string{"学号,宿舍类型\n1,四人间\n", "student_no,dorm_type\n\"a,b\",c\n", "\xEF\xBB\xBF学号,宿舍类型\r\n1,x\r\n", "", "学号\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dorms, lines, probs := admin.ParseDorms(b)
		if len(probs) > 0 && dorms != nil {
			t.Fatalf("both problems and a result")
		}
		for no, d := range dorms {
			if no == "" || d == "" || !utf8.ValidString(no) || !utf8.ValidString(d) || lines[no] < 2 {
				t.Fatalf("bad entry %q=%q line %d", no, d, lines[no])
			}
		}
		for _, p := range probs {
			if p.Line < 1 || p.Reason == "" {
				t.Fatalf("problem without a line or reason: %+v", p)
			}
		}
	})
}
