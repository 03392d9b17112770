package receipts

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"strconv"

	"campuspay/internal/apperr"
	"campuspay/internal/payment"
	"campuspay/internal/receipt"
	"campuspay/internal/throttle"
)

//go:embed templates/*.html assets/*
var files embed.FS

// The pages inline their stylesheet and script and allow them by hash,
// with their own Content-Security-Policy whatever front door serves them;
// the QR code is an inline PNG (img-src data:).
var (
	styleCSS template.CSS
	printJS  template.JS
	csp      string
	pages    *template.Template
)

func init() {
	css, err := fs.ReadFile(files, "assets/receipt.css")
	if err != nil {
		panic(err)
	}
	js, err := fs.ReadFile(files, "assets/print.js")
	if err != nil {
		panic(err)
	}
	styleCSS, printJS = template.CSS(css), template.JS(js)
	csp = "default-src 'none'; style-src " + hash(string(css)) + "; script-src " + hash(string(js)) +
		"; img-src data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"css": func() template.CSS { return styleCSS },
		"js":  func() template.JS { return printJS },
		"inc": func(i int) int { return i + 1 },
	}).ParseFS(files, "templates/*.html"))
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

// headers are what every receipt answer carries: its own CSP, no caching
// (a receipt is personal; a verification is of now).
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// Links are where the receipt page's links go: back to the records of
// the front door that shows it, and its PDF.
type Links struct {
	Back, BackLabel string
	PDF             string
}

type itemView struct {
	Project, Name, Amount string
}

// kv is one label and value of a grid; a wide one takes a whole row.
type kv struct {
	Label, Value string
	Wide         bool
}

// pageModel is the printable receipt page.
type pageModel struct {
	R        receipt.Receipt
	Links    Links
	Student  []kv
	Payment  []kv
	Items    []itemView
	Total    string
	Capital  string
	Refunded string // "" when nothing was refunded
	RefundCa string
	Net      string
	NetCa    string
	Stamp    string // 已部分退款 or 已全额退款
	Masked   string // the name as the verification page shows it
	QR       template.URL
}

// PaidAtText is a payment time as receipts write it, in Beijing time.
func PaidAtText(r receipt.Receipt) string {
	return r.Verification().PaidAt.Format("2006年01月02日 15:04:05") + "（北京时间）"
}

func modelOf(r receipt.Receipt, l Links) (pageModel, error) {
	qr, err := receipt.QRPNG(r.VerifyURL)
	if err != nil {
		return pageModel{}, err
	}
	m := pageModel{R: r, Links: l, Total: receipt.Grouped(r.Total), Capital: receipt.Capital(r.Total), Masked: receipt.MaskName(r.StudentName),
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(qr))}
	m.Student = []kv{{Label: "学号", Value: r.StudentNo}, {Label: "姓名", Value: r.StudentName}}
	for _, f := range []kv{{Label: "年级", Value: r.Grade}, {Label: "专业", Value: r.Major}, {Label: "班级", Value: r.Class}} {
		if f.Value != "" {
			m.Student = append(m.Student, f)
		}
	}
	m.Payment = []kv{{Label: "支付方式", Value: r.Channel}, {Label: "订单号", Value: r.OrderNo}}
	if r.MaskedCard != "" {
		m.Payment = append(m.Payment, kv{Label: "支付卡号", Value: r.MaskedCard, Wide: true})
	}
	m.Payment = append(m.Payment, kv{Label: "支付时间", Value: PaidAtText(r), Wide: true})
	for _, it := range r.Items {
		m.Items = append(m.Items, itemView{Project: it.Project, Name: it.Name, Amount: receipt.Grouped(it.Amount)})
	}
	if r.Refunded > 0 {
		m.Refunded, m.RefundCa = receipt.Grouped(r.Refunded), receipt.Capital(r.Refunded)
		m.Net, m.NetCa = receipt.Grouped(r.Total-r.Refunded), receipt.Capital(r.Total-r.Refunded)
		m.Stamp = "已部分退款"
		if r.Refunded == r.Total {
			m.Stamp = "已全额退款"
		}
	}
	return m, nil
}

// render executes a page into a buffer first, so that an error is a clean
// 500 rather than half a page.
func render(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return err
	}
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// WritePage answers with r's printable page (HTML styled for the screen
// of a phone or a computer and for A4 paper), with its own headers.
func WritePage(w http.ResponseWriter, r receipt.Receipt, l Links) error {
	m, err := modelOf(r, l)
	if err != nil {
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return err
	}
	return render(w, http.StatusOK, "receipt.html", m)
}

// Filename is the name a receipt's PDF is downloaded under.
func Filename(r receipt.Receipt) string { return "缴费凭证-" + r.ReceiptNo + ".pdf" }

// WritePDF answers with r as a PDF to download.
func WritePDF(w http.ResponseWriter, r receipt.Receipt) error {
	var buf bytes.Buffer
	if err := receipt.PDF(&buf, r); err != nil {
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": Filename(r)}))
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(buf.Bytes())
	return err
}

// ---- the public verification page ----

type verifyModel struct {
	Platform   string
	No, Code   string
	Checked    *checkedView
	ErrorTitle string // 未能核验, 查询过于频繁, 暂时无法核验
	Error      string
	Hint       string
}

type checkedView struct {
	School, ReceiptNo, OrderNo, Name string
	Amount, Capital, PaidAt, Channel string
	Status                           string // 已支付, 已部分退款（¥…）, 已全额退款
	Refunded                         bool
}

// Handler serves the public verification page at VerifyPath: a form, and
// with ?no=…&code=… the check. No login; throttled per client.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+VerifyPath, s.verifyPage)
	mux.HandleFunc(VerifyPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return mux
}

func (s *Service) verifyPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := verifyModel{Platform: s.cfg.PlatformName, No: clip(q.Get("no"), 40), Code: clip(q.Get("code"), 40)}
	w.Header().Set("X-Robots-Tag", "noindex")
	if m.No == "" && m.Code == "" {
		s.logRender(render(w, http.StatusOK, "verify.html", m))
		return
	}
	c, err := s.Verify(r.Context(), throttle.ClientIP(r, s.cfg.TrustedProxies), m.No, m.Code)
	if err != nil {
		status := apperr.HTTPStatus(err)
		_, m.Error = apperr.Public(err)
		switch {
		case apperr.CodeOf(err) == CodeNotVerified:
			m.ErrorTitle, m.Error = "未能核验", "凭证号（订单号）或验证码不正确。"
			m.Hint = "请核对凭证上的凭证号（或订单号）和 12 位验证码（字母不区分大小写）。如仍无法核验，该凭证可能被改动过，请向学校财务处核实。"
		case status == http.StatusTooManyRequests:
			m.ErrorTitle = "查询过于频繁"
		default:
			m.ErrorTitle = "暂时无法核验"
			s.cfg.Log.Error("receipt verification", "err", err)
		}
		if e, ok := apperr.As(err); ok && status == http.StatusTooManyRequests {
			if secs, ok := e.Details["retry_after_seconds"].(int); ok {
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
		}
		s.logRender(render(w, status, "verify.html", m))
		return
	}
	v := &checkedView{School: c.SchoolName, ReceiptNo: c.ReceiptNo, OrderNo: c.OrderNo, Name: c.MaskedName,
		Amount: receipt.Grouped(c.Total), Capital: receipt.Capital(c.Total), PaidAt: c.PaidAt.Format("2006年01月02日 15:04:05") + "（北京时间）",
		Channel: c.Channel, Status: "已支付"}
	switch {
	case c.Refunded > 0 && c.Refunded >= c.Total:
		v.Status, v.Refunded = "已全额退款", true
	case c.Refunded > 0:
		v.Status, v.Refunded = "已部分退款 ¥"+receipt.Grouped(c.Refunded)+"，实收 ¥"+receipt.Grouped(c.Total-c.Refunded), true
	case c.Status == payment.StatusRefunded:
		v.Status, v.Refunded = "已全额退款", true
	}
	m.Checked = v
	s.logRender(render(w, http.StatusOK, "verify.html", m))
}

func (s *Service) logRender(err error) {
	if err != nil {
		s.cfg.Log.Error("receipt page", "err", err)
	}
}

// clip keeps at most n runes of what a link carries.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}
