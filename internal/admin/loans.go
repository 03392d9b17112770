package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/money"
)

// LoanFileResult is what a bank's student-loan file did: the request it
// made (waiting for approval, or applied), or every bad line and nothing
// recorded.
type LoanFileResult struct {
	Request   Request
	Rows      []AdjustmentRow
	Problems  []importer.LineError
	Truncated int
}

// RequestLoanFile reads a bank's loan file (CSV or XLSX: 学号, 姓名,
// 收费项目, 子项目, 贷款金额, 合同编号) and asks for every row at once, all or
// nothing: a bad line (unknown student, a name that is not the roll's, an
// item the student does not have, more than the item can take) is reported
// with its line number and nothing is recorded. The same file twice is
// refused (loan_file_seen). Like every money request it applies at once
// for an admin and waits for an admin's approval otherwise.
func (s *Service) RequestLoanFile(ctx context.Context, p Principal, schoolID int64, filename string, content []byte, reason string) (LoanFileResult, error) {
	if _, err := s.school(ctx, p, PermRequestMoney, schoolID); err != nil {
		return LoanFileResult{}, err
	}
	if len(content) > MaxImportBytes {
		return LoanFileResult{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "文件过大：最多 64 MiB")
	}
	filename = filepath.Base(filename)
	if utf8.RuneCountInString(filename) > 128 || !printable(filename) {
		filename = "upload" + filepath.Ext(filename)
	}
	f, err := importer.FormatOf(filename)
	if err != nil {
		return LoanFileResult{}, apperr.New(apperr.Invalid, CodeLoanFileRefused, err.Error())
	}
	type studentLines struct {
		st    billing.Student
		lines []billing.Line
		err   error
	}
	cache := map[string]*studentLines{}
	var rows []AdjustmentRow
	var total money.Fen
	sem := &importer.Errors{}
	perr := importer.ParseLoans(bytes.NewReader(content), f, func(r importer.LoanRow) error {
		sl, ok := cache[r.StudentNo]
		if !ok {
			sl = &studentLines{}
			sl.st, sl.err = s.st.StudentByNo(ctx, schoolID, r.StudentNo)
			if sl.err == nil {
				sl.lines, sl.err = s.st.Lines(ctx, sl.st.ID)
			}
			if sl.err != nil && !isNotFound(sl.err) {
				return sl.err
			}
			cache[r.StudentNo] = sl
		}
		if sl.err != nil {
			sem.Add(r.Line, "学号", fmt.Sprintf("学号 %s 不在本校学生名单中", r.StudentNo))
			return nil
		}
		if r.Name != "" && r.Name != sl.st.Name {
			sem.Add(r.Line, "姓名", fmt.Sprintf("姓名“%s”与学号 %s 的学生（%s）不符", r.Name, r.StudentNo, sl.st.Name))
			return nil
		}
		var line *billing.Line
		for i, l := range sl.lines {
			if l.ProjectName == r.Project && l.ItemName == r.Item {
				line = &sl.lines[i]
			}
		}
		if line == nil {
			sem.Add(r.Line, "子项目", fmt.Sprintf("学号 %s 没有“%s / %s”这一收费项目", r.StudentNo, r.Project, r.Item))
			return nil
		}
		if most := line.Amount - line.Loan; r.Amount > most {
			sem.Add(r.Line, "贷款金额", fmt.Sprintf("贷款金额 %s 元超过“%s / %s”尚可由贷款缴纳的 %s 元", r.Amount.Yuan(), r.Project, r.Item, most.Yuan()))
			return nil
		}
		rows = append(rows, AdjustmentRow{LineID: line.ID, Kind: ReqLoan, Amount: r.Amount, ContractNo: r.ContractNo, FileLine: r.Line,
			StudentNo: r.StudentNo, StudentName: sl.st.Name, Project: r.Project, Item: r.Item})
		total += r.Amount
		return nil
	})
	var probs []importer.LineError
	truncated := sem.Truncated
	if pe, ok := perr.(*importer.Errors); ok {
		probs, truncated = append(probs, pe.Errs...), truncated+pe.Truncated
	} else if perr != nil {
		return LoanFileResult{}, perr
	}
	probs = append(probs, sem.Errs...)
	if len(probs) > 0 || truncated > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		for i := range probs {
			probs[i].Reason = strings.ReplaceAll(probs[i].Reason, billing.ColumnAmount, "贷款金额")
		}
		return LoanFileResult{Problems: probs, Truncated: truncated}, nil
	}
	if reason = strings.TrimSpace(reason); reason == "" {
		reason = "银行助学贷款到账（" + filename + "）"
	}
	if reason, err = checkReason(reason); err != nil {
		return LoanFileResult{}, err
	}
	sum := sha256.Sum256(content)
	q := Request{SchoolID: schoolID, Kind: ReqLoanFile, Amount: total, Reason: reason, FileHash: hex.EncodeToString(sum[:]),
		Detail: fmt.Sprintf("文件 %s：%d 行，合计 %s 元", filename, len(rows), total.Yuan())}
	out, err := s.submit(ctx, p, q, rows)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Details["line"] != nil {
			line, _ := e.Details["line"].(int)
			reason, _ := e.Details["reason"].(string)
			return LoanFileResult{Problems: []importer.LineError{{Line: line, Reason: reason}}}, nil
		}
		return LoanFileResult{}, err
	}
	return LoanFileResult{Request: out, Rows: rows}, nil
}
