package importer

import (
	"fmt"
	"io"

	"campuspay/internal/money"
)

// LoanRow is one valid row of a bank's student-loan file (助学贷款): the
// loan pays Amount of one student's item.
type LoanRow struct {
	Line       int       // file line (CSV) or row number (XLSX); header is 1
	StudentNo  string    // 1–32 letters, digits or '-'
	Name       string    // optional; when given, checked against the roll
	Project    string    // 收费项目
	Item       string    // 子项目
	Amount     money.Fen // > 0
	ContractNo string    // the bank's contract number, optional
}

// Loan file columns, in LoanRow order.
const (
	lNo = iota
	lName
	lProject
	lItem
	lAmount
	lContract
)

var loanColumns = []column{
	lNo:       {label: "学号", english: "student_no", aliases: []string{"studentno", "student_id", "学生学号", "学籍号"}, required: true},
	lName:     {label: "姓名", english: "name", aliases: []string{"student_name", "学生姓名", "借款人姓名", "借款人"}},
	lProject:  {label: "收费项目", english: "project", aliases: []string{"大项目", "项目", "项目名称", "收费项目名称"}, required: true},
	lItem:     {label: "子项目", english: "item", aliases: []string{"收费子项目", "子项目名称", "明细项目", "收费明细"}, required: true},
	lAmount:   {label: "贷款金额", english: "amount", aliases: []string{"金额", "放款金额", "贷款额", "抵缴金额"}, required: true},
	lContract: {label: "合同编号", english: "contract_no", aliases: []string{"合同号", "贷款合同号", "借款合同号", "contract"}},
}

// ParseLoans streams the rows of a loan file to fn in file order, like
// ParseBills: every line is checked and every bad one reported (an
// *Errors); fn sees each valid row; a caller must discard what fn applied
// when an error is returned. A student's item appears once per file, and
// a contract number once.
func ParseLoans(r io.Reader, f Format, fn func(LoanRow) error) error {
	type key struct{ no, project, item string }
	seen := make(map[key]int)
	contracts := make(map[string]int)
	return parse(r, f, loanColumns, func(line int, row rowReader, errs *Errors) (LoanRow, bool) {
		out := LoanRow{Line: line}
		ok := true
		bad := func(col int, reason string) {
			errs.Add(line, loanColumns[col].label, reason)
			ok = false
		}
		var reason string
		if out.StudentNo, reason = checkStudentNo(row.get(lNo)); reason != "" {
			bad(lNo, reason)
		}
		out.Name = row.get(lName)
		if reason, good := checkText("姓名", out.Name, false); !good {
			bad(lName, reason)
		}
		out.Project = flatten(row.get(lProject))
		if reason, good := checkText("收费项目", out.Project, true); !good {
			bad(lProject, reason)
		}
		out.Item = flatten(row.get(lItem))
		if reason, good := checkText("子项目", out.Item, true); !good {
			bad(lItem, reason)
		}
		if out.Amount, reason = checkAmount(row.get(lAmount)); reason != "" {
			bad(lAmount, reason)
		}
		out.ContractNo = narrow(row.get(lContract))
		if reason, good := checkText("合同编号", out.ContractNo, false); !good {
			bad(lContract, reason)
		} else if out.ContractNo != "" {
			if first, dup := contracts[out.ContractNo]; dup {
				bad(lContract, fmt.Sprintf("合同编号 %s 重复：与第 %d 行相同", q(out.ContractNo), first))
			} else {
				contracts[out.ContractNo] = line
			}
		}
		if out.StudentNo != "" && out.Project != "" && out.Item != "" {
			k := key{out.StudentNo, out.Project, out.Item}
			if first, dup := seen[k]; dup {
				bad(lItem, fmt.Sprintf("重复：学号 %s 的“%s / %s”已在第 %d 行出现", q(out.StudentNo), out.Project, out.Item, first))
			} else {
				seen[k] = line
			}
		}
		return out, ok
	}, fn)
}
