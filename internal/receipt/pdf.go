package receipt

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
	"github.com/skip2/go-qrcode"

	"campuspay/internal/money"
)

// Page geometry, in millimetres: A4 portrait, the paper every finance
// office and home printer has; a receipt of a few lines fills its upper
// half, a long one flows onto further pages.
const (
	pageMargin   = 15.0
	contentWidth = 210 - 2*pageMargin
	rowHeight    = 7.5
	lineHeight   = 5.0
	fontFamily   = "wqy"
	qrSize       = 34.0
)

// QRPNG is the QR code of url as a PNG, 8 pixels per module with the
// standard quiet zone, medium error correction: what the PDF embeds and
// what a page may show beside the receipt.
func QRPNG(url string) ([]byte, error) {
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("receipt: qr code: %w", err)
	}
	return q.PNG(-8)
}

// PDF writes r as a printable A4 receipt: title, school and student,
// the items with 金额（元）, the total in figures and in capital numerals,
// any refund, the channel and the payment time in Beijing time, and the
// verification code beside the QR code of VerifyURL. Characters the font
// lacks print as □ (see Unrenderable) with a note saying so. The same
// receipt always gives the same bytes.
func PDF(w io.Writer, r Receipt) error {
	if err := r.Validate(); err != nil {
		return err
	}
	f, err := receiptFont()
	if err != nil {
		return err
	}
	qr, err := QRPNG(r.VerifyURL)
	if err != nil {
		return err
	}
	missing, err := Unrenderable(r)
	if err != nil {
		return err
	}
	d := &doc{Fpdf: fpdf.New("P", "mm", "A4", ""), font: f, r: r}
	d.setup()
	d.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	d.AddPage()
	d.header()
	d.student()
	d.items()
	d.payment()
	d.verification(len(missing) > 0)
	if err := d.Error(); err != nil {
		return fmt.Errorf("receipt: pdf: %w", err)
	}
	return d.Output(w)
}

// doc is one receipt being laid out.
type doc struct {
	*fpdf.Fpdf
	font *font
	r    Receipt
}

func (d *doc) setup() {
	r := d.r
	d.SetMargins(pageMargin, pageMargin, pageMargin)
	d.SetAutoPageBreak(true, 18)
	d.SetCellMargin(2)
	d.AddUTF8FontFromBytes(fontFamily, "", d.font.ttf)
	d.SetTitle(d.text("缴费凭证 "+r.ReceiptNo), true)
	d.SetAuthor(d.text(r.SchoolName), true)
	d.SetCreator(d.text(r.PlatformName), true)
	d.SetProducer("campuspay", false)
	d.SetCreationDate(r.PaidAt) // the same receipt, the same bytes
	d.SetModificationDate(r.PaidAt)
	d.SetFooterFunc(func() {
		d.SetY(-12)
		d.setFont(8, 120)
		d.CellFormat(0, 5, d.text(fmt.Sprintf("%s　凭证号 %s　第 %d 页", r.PlatformName, r.ReceiptNo, d.PageNo())), "", 0, "C", false, 0, "")
	})
}

// text is s as the font can draw it.
func (d *doc) text(s string) string { return d.font.clean(s, nil) }

func (d *doc) setFont(size float64, gray int) {
	d.SetFont(fontFamily, "", size)
	d.SetTextColor(gray, gray, gray)
}

func (d *doc) header() {
	r := d.r
	d.setFont(9, 110)
	d.CellFormat(contentWidth/2, 5, d.text(r.PlatformName), "", 0, "L", false, 0, "")
	d.CellFormat(contentWidth/2, 5, d.text("凭证号："+r.ReceiptNo), "", 1, "R", false, 0, "")
	d.Ln(3)
	d.setFont(22, 0)
	d.CellFormat(contentWidth, 11, "缴费凭证", "", 1, "C", false, 0, "")
	d.setFont(11, 60)
	d.CellFormat(contentWidth, 6, "（电子收据）", "", 1, "C", false, 0, "")
	if r.Refunded > 0 {
		d.refundStamp()
	}
	d.Ln(2)
	y := d.GetY()
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.6)
	d.Line(pageMargin, y, pageMargin+contentWidth, y)
	d.SetLineWidth(0.2)
	d.Line(pageMargin, y+1, pageMargin+contentWidth, y+1)
	d.Ln(3)
	d.setFont(11, 0)
	for _, l := range d.wrap(d.text("收款单位："+r.SchoolName), contentWidth-4) {
		d.CellFormat(contentWidth, rowHeight-1, l, "", 1, "L", false, 0, "")
	}
	d.Ln(2)
}

// refundStamp marks a refunded receipt in red beside the title.
func (d *doc) refundStamp() {
	label := "已部分退款"
	if d.r.Refunded == d.r.Total {
		label = "已全额退款"
	}
	x, y := pageMargin+contentWidth-42, pageMargin+8
	d.SetDrawColor(200, 30, 30)
	d.SetTextColor(200, 30, 30)
	d.SetLineWidth(0.6)
	d.SetFont(fontFamily, "", 14)
	d.TransformBegin()
	d.TransformRotate(12, x+20, y+6)
	d.Rect(x, y, 40, 12, "D")
	d.SetXY(x, y)
	d.CellFormat(40, 12, label, "", 0, "C", false, 0, "")
	d.TransformEnd()
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.2)
	d.SetXY(pageMargin, y+17)
}

// pairs draws label/value pairs two to a row in a bordered grid.
func (d *doc) pairs(kv [][2]string) {
	const labelW, valueW = 24.0, contentWidth/2 - 24
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.2)
	d.SetFillColor(242, 242, 242)
	for i := 0; i < len(kv); i += 2 {
		d.ensureSpace(rowHeight)
		for j := i; j < i+2; j++ {
			label, value := "", ""
			if j < len(kv) {
				label, value = kv[j][0], kv[j][1]
			}
			d.setFont(10, 60)
			d.CellFormat(labelW, rowHeight, label, "1", 0, "C", true, 0, "")
			d.setFont(10, 0)
			d.CellFormat(valueW, rowHeight, d.fit(d.text(value), valueW-4), "1", 0, "L", false, 0, "")
		}
		d.Ln(-1)
	}
}

func (d *doc) student() {
	r := d.r
	kv := [][2]string{{"学号", r.StudentNo}, {"姓名", r.StudentName}}
	for _, f := range [][2]string{{"年级", r.Grade}, {"专业", r.Major}, {"班级", r.Class}} {
		if strings.TrimSpace(f[1]) != "" {
			kv = append(kv, f)
		}
	}
	d.pairs(kv)
	d.Ln(4)
}

// Column widths of the items table: 序号, 收费项目, 收费子项, 金额（元）.
var itemCols = [4]float64{14, 72, 56, contentWidth - 14 - 72 - 56}

func (d *doc) itemsHeader() {
	d.setFont(10, 0)
	d.SetFillColor(230, 230, 230)
	for i, h := range []string{"序号", "收费项目", "收费子项", "金额（元）"} {
		d.CellFormat(itemCols[i], rowHeight, h, "1", 0, "C", true, 0, "")
	}
	d.Ln(-1)
}

func (d *doc) items() {
	r := d.r
	d.ensureSpace(2 * rowHeight)
	d.itemsHeader()
	for i, it := range r.Items {
		project := d.wrap(d.text(it.Project), itemCols[1]-4)
		name := d.wrap(d.text(it.Name), itemCols[2]-4)
		h := max(rowHeight, float64(max(len(project), len(name)))*lineHeight+2.5)
		if d.ensureSpace(h) {
			d.itemsHeader()
		}
		x, y := d.GetX(), d.GetY()
		d.setFont(10, 0)
		d.CellFormat(itemCols[0], h, fmt.Sprint(i+1), "1", 0, "C", false, 0, "")
		d.cellLines(itemCols[1], h, project)
		d.cellLines(itemCols[2], h, name)
		d.CellFormat(itemCols[3], h, grouped(it.Amount), "1", 0, "R", false, 0, "")
		d.SetXY(x, y+h)
	}
	sumRow := func(label string, f money.Fen, prefix string) {
		d.ensureSpace(rowHeight + 1)
		w := contentWidth - itemCols[3]
		d.setFont(10, 0)
		d.CellFormat(w, rowHeight+1, label+"人民币（大写）"+Capital(f), "1", 0, "L", false, 0, "")
		d.setFont(11, 0)
		d.CellFormat(itemCols[3], rowHeight+1, prefix+"¥"+grouped(f), "1", 1, "R", false, 0, "")
	}
	sumRow("合计：", r.Total, "")
	if r.Refunded > 0 {
		sumRow("已退款：", r.Refunded, "-")
		sumRow("实收净额：", r.Total-r.Refunded, "")
	}
	d.Ln(4)
}

func (d *doc) payment() {
	r := d.r
	kv := [][2]string{
		{"支付方式", r.Channel}, {"订单号", r.OrderNo},
		{"支付时间", r.PaidAt.In(beijing).Format("2006年01月02日 15:04:05") + "（北京时间）"},
	}
	if strings.TrimSpace(r.MaskedCard) != "" {
		kv = append(kv, [2]string{"支付卡号", r.MaskedCard})
	}
	d.pairs(kv)
	d.Ln(5)
}

// verification draws the code and the QR code in one box, with the
// notes beneath it.
func (d *doc) verification(fallbackUsed bool) {
	r := d.r
	const boxH = qrSize + 8
	d.ensureSpace(boxH + 30)
	x, y := d.GetX(), d.GetY()
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.3)
	d.Rect(x, y, contentWidth, boxH, "D")
	d.ImageOptions("qr", x+contentWidth-qrSize-4, y+4, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	textW := contentWidth - qrSize - 14
	d.SetXY(x+4, y+5)
	d.setFont(10, 60)
	d.CellFormat(22, 8, "验证码", "", 0, "L", false, 0, "")
	d.setFont(16, 0)
	d.CellFormat(textW-22, 8, d.text(r.VerifyCode), "", 1, "L", false, 0, "")
	d.setFont(9, 60)
	lines := d.wrap("扫描右侧二维码，或在浏览器中打开以下地址，可核验本凭证的订单号、金额和支付时间：", textW)
	lines = append(lines, d.wrapAny(d.text(r.VerifyURL), textW)...)
	for _, l := range lines {
		d.SetX(x + 4)
		d.CellFormat(textW, lineHeight, l, "", 1, "L", false, 0, "")
	}
	d.SetXY(x, y+boxH+3)
	d.setFont(8.5, 90)
	notes := []string{
		"本凭证根据支付渠道确认的支付结果生成，证明上述款项已经缴纳；如需财政票据，请向学校财务处申请。",
		"核验页面只显示收款单位、订单号、金额、支付时间和隐去部分的姓名（缴费人：" + d.text(MaskName(r.StudentName)) + "）。",
	}
	if fallbackUsed {
		notes = append(notes, "注：“□”表示本凭证字体无法显示的字符，以学校登记的信息为准。")
	}
	for _, n := range notes {
		for _, l := range d.wrap(n, contentWidth) {
			d.CellFormat(contentWidth, 4.5, l, "", 1, "L", false, 0, "")
		}
	}
}

// ensureSpace starts a new page when h more millimetres do not fit on
// this one, and reports whether it did.
func (d *doc) ensureSpace(h float64) bool {
	_, pageH := d.GetPageSize()
	_, bottom := d.GetAutoPageBreak()
	if d.GetY()+h <= pageH-bottom {
		return false
	}
	d.AddPage()
	return true
}

// cellLines draws a bordered cell of width w and height h holding lines,
// vertically centred, and leaves the cursor to its right.
func (d *doc) cellLines(w, h float64, lines []string) {
	x, y := d.GetX(), d.GetY()
	d.Rect(x, y, w, h, "D")
	top := y + (h-float64(len(lines))*lineHeight)/2
	for i, l := range lines {
		d.SetXY(x, top+float64(i)*lineHeight)
		d.CellFormat(w, lineHeight, l, "", 0, "L", false, 0, "")
	}
	d.SetXY(x+w, y)
}

// wrap breaks s into lines no wider than w at the current font, between
// any two characters but keeping ASCII words whole where it can.
func (d *doc) wrap(s string, w float64) []string {
	var lines []string
	var line []rune
	lastSpace := -1
	for _, r := range s {
		line = append(line, r)
		if r == ' ' {
			lastSpace = len(line) - 1
		}
		if d.GetStringWidth(string(line)) <= w || len(line) == 1 {
			continue
		}
		cut := len(line) - 1
		if r < 0x80 && r != ' ' && lastSpace > 0 {
			cut = lastSpace + 1
		}
		lines = append(lines, strings.TrimRight(string(line[:cut]), " "))
		line = []rune(strings.TrimLeft(string(line[cut:]), " "))
		lastSpace = -1
	}
	if len(line) > 0 || len(lines) == 0 {
		lines = append(lines, string(line))
	}
	return lines
}

// wrapAny breaks s between any two characters (for URLs).
func (d *doc) wrapAny(s string, w float64) []string {
	var lines []string
	var line []rune
	for _, r := range s {
		if len(line) > 0 && d.GetStringWidth(string(append(line, r))) > w {
			lines = append(lines, string(line))
			line = nil
		}
		line = append(line, r)
	}
	return append(lines, string(line))
}

// fit shortens s with "…" until it is no wider than w.
func (d *doc) fit(s string, w float64) string {
	if d.GetStringWidth(s) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && d.GetStringWidth(string(rs)+"…") > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// Grouped formats an amount as yuan with thousands separators, 6,500.00,
// as the receipt prints it (pages showing a receipt use it too).
func Grouped(f money.Fen) string { return grouped(f) }

// grouped formats an amount as yuan with thousands separators: 6,500.00.
func grouped(f money.Fen) string {
	s := f.Yuan()
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String() + "." + frac
}
