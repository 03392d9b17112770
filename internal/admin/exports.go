package admin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"campuspay/internal/apperr"
	"campuspay/internal/board"
	"campuspay/internal/export"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Export kinds (the audit row's target and the CLI's words).
const (
	ExportPaymentsKind    = "payments"
	ExportOutstandingKind = "outstanding"
	ExportBoardKind       = "board"
	ExportAuditKind       = "audit"
)

var beijing = time.FixedZone("CST", 8*3600)

// sheet streams one worksheet of an XLSX workbook row by row: excelize's
// StreamWriter keeps at most a chunk of rows in memory and spills the
// rest to a temporary file, so 250,000 lines cost no more memory than 25.
// Every string goes through export.SafeCell; amounts are numbers.
type sheet struct {
	f     *excelize.File
	sw    *excelize.StreamWriter
	row   int
	money int // style id of yuan amounts
	head  int
}

func newSheet(name string, widths []float64, header ...string) (*sheet, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", name); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		f.Close()
		return nil, err
	}
	numFmt := "#,##0.00"
	mStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt})
	if err != nil {
		f.Close()
		return nil, err
	}
	hStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		f.Close()
		return nil, err
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			f.Close()
			return nil, err
		}
	}
	s := &sheet{f: f, sw: sw, money: mStyle, head: hStyle}
	cells := make([]any, len(header))
	for i, h := range header {
		cells[i] = excelize.Cell{StyleID: hStyle, Value: export.SafeCell(h)}
	}
	return s, s.add(cells...)
}

// add writes the next row; strings are made safe, money.Fen becomes a
// number of yuan with two decimals shown.
func (s *sheet) add(cells ...any) error {
	s.row++
	out := make([]any, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case string:
			out[i] = export.SafeCell(v)
		case money.Fen:
			out[i] = excelize.Cell{StyleID: s.money, Value: yuan(v)}
		default:
			out[i] = v
		}
	}
	cell, err := excelize.CoordinatesToCellName(1, s.row)
	if err != nil {
		return err
	}
	return s.sw.SetRow(cell, out)
}

// yuan is an amount as a spreadsheet number. A spreadsheet stores numbers
// as binary doubles; fen/100 is the double nearest the decimal amount,
// and it is printed back exactly (shortest round trip) for any amount
// below 2^53 fen.
func yuan(f money.Fen) float64 { return float64(f) / 100 }

// finish writes the workbook to w and frees its temporary files.
func (s *sheet) finish(w io.Writer) error {
	defer s.f.Close()
	if err := s.sw.Flush(); err != nil {
		return err
	}
	_, err := s.f.WriteTo(w)
	return err
}

func (s *sheet) abort() { s.f.Close() }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(beijing).Format("2006-01-02 15:04:05")
}

// auditExport records an export before it is made: an auditor sees who
// took what out, even if the download was never finished.
func (s *Service) auditExport(ctx context.Context, p Principal, schoolID int64, kind string, params map[string]any) error {
	params["kind"] = kind
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		_, err := tx.Audit(ctx, record(p, ActExport, "export:"+kind, schoolID, nil, params))
		return err
	})
}

// ExportPayments writes the payments the channels reported for the
// school's orders in [from, to) as an XLSX workbook, streamed.
func (s *Service) ExportPayments(ctx context.Context, p Principal, schoolID int64, from, to time.Time, w io.Writer) error {
	if _, err := s.school(ctx, p, PermExport, schoolID); err != nil {
		return err
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) || to.Sub(from) > 400*24*time.Hour {
		return apperr.New(apperr.Invalid, CodeInvalidPeriod, "请选择起止日期（最长 400 天）")
	}
	if err := s.auditExport(ctx, p, schoolID, ExportPaymentsKind, map[string]any{"from": from.UTC(), "to": to.UTC()}); err != nil {
		return err
	}
	sh, err := newSheet("缴费明细", []float64{20, 24, 14, 10, 8, 18, 14, 10, 30, 12, 10, 40},
		"到账时间", "订单号", "学号", "姓名", "年级", "专业", "班级", "支付渠道", "渠道交易号", "金额（元）", "处理结果", "缴费项目")
	if err != nil {
		return err
	}
	err = s.st.ExportPayments(ctx, schoolID, from, to, func(r PaymentRow) error {
		return sh.add(fmtTime(r.PaidAt), r.OrderNo, r.StudentNo, r.Name, r.Grade, r.Major, r.Class, s.channelLabel(r.Channel),
			r.ChannelTxnID, r.Amount, dispositionLabel(r.Disposition), r.Items)
	})
	if err != nil {
		sh.abort()
		return err
	}
	return sh.finish(w)
}

// ExportOutstanding writes every bill line still owed, student by
// student, as an XLSX workbook, streamed.
func (s *Service) ExportOutstanding(ctx context.Context, p Principal, schoolID int64, w io.Writer) error {
	if _, err := s.school(ctx, p, PermExport, schoolID); err != nil {
		return err
	}
	if err := s.auditExport(ctx, p, schoolID, ExportOutstandingKind, map[string]any{}); err != nil {
		return err
	}
	sh, err := newSheet("欠费明细", []float64{14, 10, 8, 18, 14, 14, 18, 14, 6, 12, 12, 12},
		"学号", "姓名", "年级", "专业", "班级", "手机号", "收费项目", "子项目", "必缴", "应缴（元）", "已缴（元）", "欠缴（元）")
	if err != nil {
		return err
	}
	err = s.st.ExportOutstanding(ctx, schoolID, func(r OutstandingRow) error {
		m := "否"
		if r.Mandatory {
			m = "是"
		}
		return sh.add(r.StudentNo, r.Name, r.Grade, r.Major, r.Class, r.Phone, r.Project, r.Item, m, r.Due, r.Paid, r.Due-r.Paid)
	})
	if err != nil {
		sh.abort()
		return err
	}
	return sh.finish(w)
}

// ExportBoard writes the board under a filter: totals, then by project,
// grade, major and class.
func (s *Service) ExportBoard(ctx context.Context, p Principal, schoolID int64, f board.Filter, w io.Writer) error {
	v, err := s.Board(ctx, p, schoolID, f)
	if err != nil {
		return err
	}
	if err := authorize(p, PermExport, schoolID); err != nil {
		return err
	}
	if err := s.auditExport(ctx, p, schoolID, ExportBoardKind, map[string]any{"project_id": f.ProjectID, "grade": f.Grade,
		"major": f.Major, "class": f.Class}); err != nil {
		return err
	}
	sh, err := newSheet("收费看板", []float64{12, 24, 10, 18, 16, 16, 16, 10, 12},
		"分组", "名称", "年级", "专业", "应缴（元）", "已缴（元）", "欠缴（元）", "学生数", "已缴清人数")
	if err != nil {
		return err
	}
	groups := []struct {
		label string
		rows  []board.Row
	}{{"合计", []board.Row{v.Figures.Total}}, {"按项目", v.Figures.ByProject}, {"按年级", v.Figures.ByGrade},
		{"按专业", v.Figures.ByMajor}, {"按班级", v.Figures.ByClass}}
	for _, g := range groups {
		for _, r := range g.rows {
			if err := sh.add(g.label, r.Name, r.Grade, r.Major, r.Due, r.Paid, r.Outstanding(), r.Students, r.PaidInFull); err != nil {
				sh.abort()
				return err
			}
		}
	}
	if err := sh.add(); err != nil {
		sh.abort()
		return err
	}
	if err := sh.add("导出时间", fmtTime(v.At)); err != nil {
		sh.abort()
		return err
	}
	return sh.finish(w)
}

// ExportAudit writes a page of the audit log (newest first) as XLSX.
func (s *Service) ExportAudit(ctx context.Context, p Principal, schoolID int64, q AuditQuery, w io.Writer) error {
	q.Limit = 100_000
	recs, err := s.AuditLog(ctx, p, schoolID, q)
	if err != nil {
		return err
	}
	if err := s.auditExport(ctx, p, schoolID, ExportAuditKind, map[string]any{"actor": q.Actor, "action": q.Action}); err != nil {
		return err
	}
	sh, err := newSheet("审计日志", []float64{8, 20, 14, 12, 22, 26, 16, 40, 40, 20},
		"序号", "时间", "操作人", "角色", "操作", "对象", "来源地址", "变更前", "变更后", "哈希")
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := sh.add(r.Seq, fmtTime(r.At), r.Actor, r.Role, r.Action, r.Target, r.Client, r.Before, r.After, r.Hash); err != nil {
			sh.abort()
			return err
		}
	}
	return sh.finish(w)
}

func dispositionLabel(d string) string {
	switch payment.Disposition(d) {
	case payment.Apply:
		return "入账"
	case payment.Overpay:
		return "溢缴（待退回或冲抵）"
	case payment.RefundNonDebit:
		return "非借记卡，原路退回"
	}
	return d
}

// ExportFilename names an export file, e.g. cqjz-payments-20260828.xlsx.
func ExportFilename(schoolCode, kind string, at time.Time) string {
	return fmt.Sprintf("%s-%s-%s.xlsx", schoolCode, kind, at.In(beijing).Format("20060102-150405"))
}

// channelLabel names a channel as the office reads it.
func (s *Service) channelLabel(name string) string {
	if s.cfg.ChannelLabel == nil {
		return name
	}
	return s.cfg.ChannelLabel(name)
}
