package importer

import (
	"bytes"
	"strings"
	"testing"

	"campuspay/internal/money"
)

func TestParseLoans(t *testing.T) {
	for _, c := range []struct {
		name  string
		file  string
		rows  []LoanRow
		lines map[int]string // line → a word its problem names
	}{
		{"Chinese headers, BOM, optional name and contract",
			"\ufeff学号,姓名,收费项目,子项目,贷款金额,合同编号\n2025001,张三,学费,学费,5800.00,HT-1\n2025002,,学费,住宿费,1200,\n",
			[]LoanRow{{Line: 2, StudentNo: "2025001", Name: "张三", Project: "学费", Item: "学费", Amount: 580000, ContractNo: "HT-1"},
				{Line: 3, StudentNo: "2025002", Project: "学费", Item: "住宿费", Amount: 120000}}, nil},
		{"English headers in another order",
			"amount,item,project,student_no\n100.5,学费,学费,S1\n",
			[]LoanRow{{Line: 2, StudentNo: "S1", Project: "学费", Item: "学费", Amount: 10050}}, nil},
		{"every bad line named",
			"学号,收费项目,子项目,贷款金额,合同编号\nS1,学费,学费,0,A\nS1,学费,学费,10,B\n,学费,学费,10,C\nS3,学费,学费,10,A\n",
			nil, map[int]string{2: "大于 0", 3: "", 4: "学号", 5: "合同编号"}},
		{"a required column missing", "学号,收费项目,贷款金额\nS1,学费,1\n", nil, map[int]string{1: "子项目"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []LoanRow
			err := ParseLoans(strings.NewReader(c.file), CSV, func(r LoanRow) error { got = append(got, r); return nil })
			if c.lines == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(c.rows) {
					t.Fatalf("rows %+v", got)
				}
				for i := range got {
					if got[i] != c.rows[i] {
						t.Fatalf("row %d: %+v, want %+v", i, got[i], c.rows[i])
					}
				}
				return
			}
			errs, ok := err.(*Errors)
			if !ok {
				t.Fatalf("error %v", err)
			}
			seen := map[int]bool{}
			for _, e := range errs.Errs {
				if w, ok := c.lines[e.Line]; ok && strings.Contains(e.Reason+e.Column, w) {
					seen[e.Line] = true
				}
			}
			if len(seen) != len(c.lines) {
				t.Fatalf("problems %+v, want lines %v", errs.Errs, c.lines)
			}
		})
	}
}

func FuzzParseLoans(f *testing.F) {
	f.Add("学号,姓名,收费项目,子项目,贷款金额,合同编号\n2025001,张三,学费,学费,5800.00,HT-1\n")
	f.Add("student_no,project,item,amount\nS1,P,I,1e3\nS1,P,I,1\n")
	f.Add("学号,收费项目,子项目,金额\nS1,\"P\"x\",I,1\n")
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var rows []LoanRow
		err := ParseLoans(bytes.NewReader([]byte(in)), CSV, func(r LoanRow) error {
			rows = append(rows, r)
			return nil
		})
		checkLines(t, err)
		for _, r := range rows {
			if r.Line < 2 || r.Amount <= 0 || r.Amount > money.MaxFen {
				t.Fatalf("bad row %+v", r)
			}
			validText(t, "学号", r.StudentNo, true)
			validText(t, "收费项目", r.Project, true)
			validText(t, "子项目", r.Item, true)
			validText(t, "姓名", r.Name, false)
			validText(t, "合同编号", r.ContractNo, false)
		}
	})
}
