package receipts_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"campuspay/internal/receipt"
	"campuspay/internal/receipts"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// receiptJSON is the API's receipt.
type receiptJSON struct {
	ReceiptNo  string `json:"receipt_no"`
	OrderNo    string `json:"order_no"`
	SchoolName string `json:"school_name"`
	Student    struct {
		StudentNo string `json:"student_no"`
		Name      string `json:"name"`
	} `json:"student"`
	Items []struct {
		Project string `json:"project"`
		Name    string `json:"name"`
		Amount  int64  `json:"amount"`
	} `json:"items"`
	Amount        int64  `json:"amount"`
	AmountInWords string `json:"amount_in_words"`
	Refunded      int64  `json:"refunded"`
	Channel       string `json:"channel"`
	PaidAt        string `json:"paid_at"`
	VerifyCode    string `json:"verify_code"`
	VerifyURL     string `json:"verify_url"`
}

var codeShape = regexp.MustCompile(`^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$`)

// TestReceipt is the proof, on both engines: a student pays through the
// sandbox; the receipt's PDF opens and pdftotext reads its Chinese text
// (school, name and masked name, items, amounts in 元); its QR code, read
// from the printed page, is the verification link, and that page (no
// login) confirms the order, amount, date and school with a masked name
// only; a wrong or altered code is refused like an unknown order; a
// refund shows on the receipt and on the page.
func TestReceipt(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) { testReceipt(t, d) })
	}
}

func testReceipt(t *testing.T, d store.Dialect) {
	srv := boot(t, d)
	base := srv.URL
	const no = "2026010003" // 司马洋勇, 计算机科学与技术 计科2601班
	tok := login(t, base, no)
	orderNo := payMandatory(t, base, tok)

	var rc receiptJSON
	t.Run("the API answers the receipt as JSON", func(t *testing.T) {
		st, b, _ := call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt", nil, tok, &rc)
		if st != 200 {
			t.Fatalf("receipt: %d %s", st, b)
		}
		if rc.ReceiptNo != "SJ"+orderNo || rc.OrderNo != orderNo || rc.SchoolName != "重庆建筑职业学院（演示）" ||
			rc.Student.StudentNo != no || rc.Student.Name != "司马洋勇" || rc.Amount != 770000 || rc.AmountInWords != "柒仟柒佰元整" ||
			rc.Refunded != 0 || rc.Channel != "微信支付" || rc.PaidAt == "" || len(rc.Items) != 2 {
			t.Errorf("receipt = %+v", rc)
		}
		if !codeShape.MatchString(rc.VerifyCode) {
			t.Errorf("verify code %q is not XXXX-XXXX-XXXX", rc.VerifyCode)
		}
		if want := base + receipts.VerifyPath + "?code=" + rc.VerifyCode + "&no=" + orderNo; rc.VerifyURL != want {
			t.Errorf("verify_url = %s, want %s", rc.VerifyURL, want)
		}
	})

	var pdf []byte
	t.Run("the PDF opens and pdftotext reads its Chinese text", func(t *testing.T) {
		st, b, h := call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt?format=pdf", nil, tok, nil)
		if st != 200 || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(b), "%PDF-") {
			t.Fatalf("pdf: %d %s %.40q", st, h.Get("Content-Type"), b)
		}
		if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, url.PathEscape("缴费凭证")) {
			t.Errorf("Content-Disposition %q", cd)
		}
		pdf = b
		text := pdfText(t, pdf)
		for _, want := range []string{
			"缴费凭证", "电子收据", "收款单位：重庆建筑职业学院（演示）", "学号", no, "姓名", "司马洋勇", "（缴费人：司***）",
			"计算机科学与技术", "计科2601班", "2026学年学费住宿费", "学费", "住宿费", "金额（元）", "6,500.00", "1,200.00",
			"合计：人民币（大写）柒仟柒佰元整", "¥7,700.00", "微信支付", orderNo, "SJ" + orderNo, "验证码", rc.VerifyCode,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("the PDF's text lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "已退款") || strings.Contains(text, "□") {
			t.Errorf("a receipt of a paid order shows a refund or a missing character:\n%s", text)
		}
	})

	t.Run("its QR code decodes to the verification page, which confirms the order", func(t *testing.T) {
		got := pdfQR(t, pdf)
		if got != rc.VerifyURL {
			t.Fatalf("the printed QR code reads %q, want %q", got, rc.VerifyURL)
		}
		st, page := get(t, got)
		if st != 200 {
			t.Fatalf("verification page: %d\n%s", st, page)
		}
		for _, want := range []string{"✓ 凭证有效", "重庆建筑职业学院（演示）", orderNo, "SJ" + orderNo, "司***", "¥7,700.00", "柒仟柒佰元整", "已支付", "微信支付", "（北京时间）"} {
			if !strings.Contains(page, want) {
				t.Errorf("the verification page lacks %q", want)
			}
		}
		// Nothing personal beyond the masked name.
		for _, personal := range []string{"司马洋勇", no, "计科2601班", "计算机科学与技术", "500112"} {
			if strings.Contains(page, personal) {
				t.Errorf("the public page shows %q", personal)
			}
		}
	})

	t.Run("a wrong or altered code is refused like an unknown order", func(t *testing.T) {
		alter := func(code string) string {
			b := []byte(code)
			if b[0] == 'A' {
				b[0] = 'B'
			} else {
				b[0] = 'A'
			}
			return string(b)
		}
		other := login(t, base, "2026010004")
		otherOrder := payMandatory(t, base, other)
		var orc receiptJSON
		call(t, base, "GET", "/api/v1/orders/"+otherOrder+"/receipt", nil, other, &orc)
		cases := []struct{ name, no, code string }{
			{"one character altered", orderNo, alter(rc.VerifyCode)},
			{"another receipt's code", orderNo, orc.VerifyCode},
			{"the code under another order", otherOrder, rc.VerifyCode},
			{"an order that does not exist", "CP20260101000000000000", rc.VerifyCode},
			{"no code", orderNo, ""},
			{"a code far too long", orderNo, strings.Repeat(rc.VerifyCode, 5)},
		}
		for _, c := range cases {
			st, page := get(t, base+receipts.VerifyPath+"?"+url.Values{"no": {c.no}, "code": {c.code}}.Encode())
			if st != 404 || !strings.Contains(page, "未能核验") || strings.Contains(page, "凭证有效") || strings.Contains(page, "¥7,700.00") {
				t.Errorf("%s: %d, verified or telling:\n%.600s", c.name, st, page)
			}
		}
		// What a person types: the receipt number, lower case, spaces.
		typed := url.Values{"no": {" sj" + strings.ToLower(orderNo) + " "}, "code": {strings.ToLower(strings.ReplaceAll(rc.VerifyCode, "-", " "))}}
		if st, page := get(t, base+receipts.VerifyPath+"?"+typed.Encode()); st != 200 || !strings.Contains(page, "凭证有效") {
			t.Errorf("the receipt number and code as typed: %d\n%.400s", st, page)
		}
	})

	t.Run("another student's order and an unpaid one have no receipt", func(t *testing.T) {
		other := login(t, base, "2026010005")
		if st, b, _ := call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt", nil, other, nil); st != 404 || !strings.Contains(string(b), "order_not_found") {
			t.Errorf("another student's receipt: %d %s", st, b)
		}
		var o struct {
			OrderNo string `json:"order_no"`
		}
		var bills struct {
			Projects []struct {
				Items []struct{ ID int64 } `json:"items"`
			} `json:"projects"`
		}
		call(t, base, "GET", "/api/v1/bills", nil, other, &bills)
		ids := []int64{bills.Projects[0].Items[0].ID, bills.Projects[0].Items[1].ID}
		if st, b, _ := call(t, base, "POST", "/api/v1/orders", map[string]any{"item_ids": ids, "channel": "unionpay"}, other, &o); st != 201 {
			t.Fatalf("order: %d %s", st, b)
		}
		if st, b, _ := call(t, base, "GET", "/api/v1/orders/"+o.OrderNo+"/receipt", nil, other, nil); st != 409 || !strings.Contains(string(b), receipts.CodeNotAvailable) {
			t.Errorf("an unpaid order's receipt: %d %s", st, b)
		}
	})

	t.Run("a refunded order's receipt and page say so", func(t *testing.T) {
		// The refund service moves a paid order to partially_refunded
		// with what went back; here the order is put in that state.
		if _, err := srv.Store.DB().ExecContext(ctx, `UPDATE orders SET status = 'partially_refunded', refunded = 120000 WHERE order_no = $1`, orderNo); err != nil {
			t.Fatal(err)
		}
		st, b, _ := call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt?format=pdf", nil, tok, nil)
		if st != 200 {
			t.Fatalf("pdf: %d", st)
		}
		text := pdfText(t, b)
		// The stamp is rotated: pdftotext reads it as 退款已部分.
		for _, want := range []string{"已部分", "已退款：人民币（大写）壹仟贰佰元整", "-¥1,200.00", "实收净额：人民币（大写）陆仟伍佰元整", "¥6,500.00"} {
			if !strings.Contains(text, want) {
				t.Errorf("the partly refunded receipt lacks %q:\n%s", want, text)
			}
		}
		if got := pdfQR(t, b); got != rc.VerifyURL {
			t.Errorf("a refund changed the verification link: %s", got)
		}
		if _, page := get(t, rc.VerifyURL); !strings.Contains(page, "凭证有效") || !strings.Contains(page, "已部分退款 ¥1,200.00，实收 ¥6,500.00") {
			t.Errorf("the verification page does not show the refund:\n%.800s", page)
		}
		if _, err := srv.Store.DB().ExecContext(ctx, `UPDATE orders SET status = 'refunded', refunded = amount WHERE order_no = $1`, orderNo); err != nil {
			t.Fatal(err)
		}
		var j receiptJSON
		call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt", nil, tok, &j)
		if j.Refunded != j.Amount {
			t.Errorf("a refunded order's receipt: refunded %d of %d", j.Refunded, j.Amount)
		}
		_, b, _ = call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt?format=pdf", nil, tok, nil)
		if text := pdfText(t, b); !strings.Contains(text, "已全额") || !strings.Contains(text, "实收净额：人民币（大写）零元整") {
			t.Errorf("the refunded receipt does not say so:\n%s", text)
		}
		if _, page := get(t, rc.VerifyURL); !strings.Contains(page, "已全额退款") {
			t.Errorf("the verification page does not say the order was refunded:\n%.800s", page)
		}
	})

	t.Run("the code is the receipt package's HMAC under the deployment's key", func(t *testing.T) {
		o, err := srv.Store.Order(ctx, orderNo)
		if err != nil {
			t.Fatal(err)
		}
		if got := srv.Receipts.Code(o); got != rc.VerifyCode {
			t.Errorf("Code = %s, the receipt says %s", got, rc.VerifyCode)
		}
		if receipt.CheckCode([]byte("some other key, 32 bytes long..."), o.OrderNo, o.Amount, o.PaidAt, rc.VerifyCode) {
			t.Error("the code checks under another key")
		}
	})
}
