package receipts_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"campuspay/demo"
	"campuspay/internal/app"
	"campuspay/internal/browsertest"
	"campuspay/internal/sms"
	"campuspay/internal/store"
)

// artifacts is where screenshots go: test-artifacts/receipts at the repo root.
var artifacts = browsertest.Artifacts("receipts")

// browser starts one headless Chromium, or skips the test when Chromium
// is missing (unless CAMPUSPAY_REQUIRE_BROWSER=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, artifacts, 1280, 900)
}

// tab opens a tab with its own cookies, set up by setup (a viewport or a
// device), timing out after limit.
func tab(t *testing.T, bctx context.Context, limit time.Duration, setup chromedp.Action[chromedp.Void]) context.Context {
	t.Helper()
	return browsertest.Tab(t, bctx, limit, setup)
}

func shot(t *testing.T, ctx context.Context, name string) {
	browsertest.Shot(t, ctx, artifacts, name)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, steps...)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return browsertest.Text(t, ctx, sel)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func contains(t *testing.T, got string, want ...string) {
	t.Helper()
	browsertest.Contains(t, got, want...)
}

// TestBrowser shows a receipt as a student and a verifier see it: on a
// computer, from the portal's 缴费记录 to the receipt page (and how it
// prints: no toolbar), its PDF fetched from the page; on a phone, from the
// app's 交易记录 to the same receipt, fitting the screen; then the
// verification page its QR code opens, on a phone. Screenshots go to
// test-artifacts/receipts/.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	srv := boot(t, store.SQLite)
	base := srv.URL
	const no = "2026010012"
	tok := login(t, base, no)
	orderNo := payMandatory(t, base, tok)
	var rc receiptJSON
	call(t, base, "GET", "/api/v1/orders/"+orderNo+"/receipt", nil, tok, &rc)
	school := "/s/" + app.DemoSchool + "/"

	t.Run("a: on a computer, from 缴费记录 to the receipt", func(t *testing.T) {
		ctx := tab(t, bctx, 90*time.Second, chromedp.EmulateViewport(1280, 900))
		do(t, ctx, "log in", chromedp.Navigate(base+school+"login"), chromedp.WaitVisible(chromedp.CSS("#student_no")),
			chromedp.SendKeys(chromedp.CSS("#student_no"), no), chromedp.SendKeys(chromedp.CSS("#password"), "campus2026pay"),
			chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		do(t, ctx, "缴费记录", chromedp.Navigate(base+school+"orders"), chromedp.WaitVisible(chromedp.CSS(".records")))
		contains(t, text(t, ctx, ".records"), orderNo, "支付成功", "缴费凭证", "下载 PDF")
		shot(t, ctx, "a-01-records")
		do(t, ctx, "缴费凭证", chromedp.Click(chromedp.CSS(`.records a[href$="/receipt"]`)), chromedp.WaitVisible(chromedp.CSS("#receipt")))
		contains(t, text(t, ctx, "#receipt"), "缴费凭证", "（电子收据）", "收款单位：重庆建筑职业学院（演示）", "SJ"+orderNo, no, "学费", "住宿费",
			"6,500.00", "1,200.00", "合计：人民币（大写）柒仟柒佰元整", "¥7,700.00", "微信支付", rc.VerifyCode, "（北京时间）")
		if w := eval[float64](t, ctx, `document.getElementById("qr").naturalWidth`); w < 100 {
			t.Errorf("the QR code image is %v pixels wide", w)
		}
		if eval[bool](t, ctx, `document.getElementById("print").hidden`) {
			t.Error("the print button is hidden with JavaScript on")
		}
		shot(t, ctx, "a-02-receipt-desktop")

		// The PDF behind 下载 PDF, fetched from the records page with the
		// student's cookie (the receipt page itself may connect nowhere).
		pdfURL := eval[string](t, ctx, `document.getElementById("pdf").href`)

		// As it prints: A4, no toolbar, the sheet without its shadow.
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
			t.Fatal(err)
		}
		if d := eval[string](t, ctx, `getComputedStyle(document.querySelector(".toolbar")).display`); d != "none" {
			t.Errorf("the toolbar prints (display %s)", d)
		}
		shot(t, ctx, "a-03-receipt-print")
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "back to 缴费记录", chromedp.Click(chromedp.CSS(".toolbar .back")), chromedp.WaitVisible(chromedp.CSS(".records")))
		got := eval[string](t, ctx, fmt.Sprintf(`fetch(%q).then(async r => r.headers.get("Content-Type") + " " + (await r.text()).slice(0, 5))`, pdfURL))
		if got != "application/pdf %PDF-" {
			t.Errorf("下载 PDF answers %q", got)
		}
	})

	t.Run("b: on a phone, from the app's 交易记录 to the same receipt", func(t *testing.T) {
		token := phoneAccount(t, srv, no)
		ctx := tab(t, bctx, 90*time.Second, chromedp.Emulate(device.IPhone13))
		u, _ := url.Parse(base)
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "campuspay_m", Value: token, URL: base + "/m/", Domain: u.Hostname(), Path: "/m/"}); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "交易记录", chromedp.Navigate(base+"/m/me/records"), chromedp.WaitVisible(chromedp.CSS(".records")))
		contains(t, text(t, ctx, ".records"), "学费、住宿费", "支付成功", "缴费凭证")
		shot(t, ctx, "b-01-app-records")
		do(t, ctx, "缴费凭证", chromedp.Click(chromedp.CSS(`.records a.receipt`)), chromedp.WaitVisible(chromedp.CSS("#receipt")))
		contains(t, text(t, ctx, "#receipt"), "缴费凭证", "重庆建筑职业学院（演示）", "SJ"+orderNo, "¥7,700.00", rc.VerifyCode)
		if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
			t.Errorf("the receipt is wider than the phone's screen (%v > %v)", eval[float64](t, ctx, `document.documentElement.scrollWidth`), eval[float64](t, ctx, `window.innerWidth`))
		}
		if back := eval[string](t, ctx, `document.querySelector(".toolbar .back").getAttribute("href")`); !strings.HasPrefix(back, "/m/s/") {
			t.Errorf("the back link goes to %s, not into the app", back)
		}
		shot(t, ctx, "b-02-receipt-phone")
	})

	t.Run("d: after a partial refund, the receipt says so", func(t *testing.T) {
		// The refund service moves a paid order to partially_refunded
		// with what went back; here the order is put in that state.
		if _, err := srv.Store.DB().ExecContext(ctx, `UPDATE orders SET status = 'partially_refunded', refunded = 120000 WHERE order_no = $1`, orderNo); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			srv.Store.DB().ExecContext(ctx, `UPDATE orders SET status = 'paid', refunded = 0 WHERE order_no = $1`, orderNo)
		})
		ctx := tab(t, bctx, 60*time.Second, chromedp.EmulateViewport(1280, 900))
		do(t, ctx, "log in", chromedp.Navigate(base+school+"login"), chromedp.WaitVisible(chromedp.CSS("#student_no")),
			chromedp.SendKeys(chromedp.CSS("#student_no"), no), chromedp.SendKeys(chromedp.CSS("#password"), "campus2026pay"),
			chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		do(t, ctx, "缴费记录", chromedp.Navigate(base+school+"orders"), chromedp.WaitVisible(chromedp.CSS(".records")))
		contains(t, text(t, ctx, ".records"), "部分退款", "缴费凭证")
		do(t, ctx, "缴费凭证", chromedp.Click(chromedp.CSS(`.records a[href$="/receipt"]`)), chromedp.WaitVisible(chromedp.CSS("#refund-stamp")))
		contains(t, text(t, ctx, "#receipt"), "已部分退款", "已退款：人民币（大写）壹仟贰佰元整", "-¥1,200.00", "实收净额：人民币（大写）陆仟伍佰元整", "¥6,500.00")
		shot(t, ctx, "d-01-receipt-refunded")
	})

	t.Run("c: the QR code's page on a phone, as a verifier sees it", func(t *testing.T) {
		ctx := tab(t, bctx, 60*time.Second, chromedp.Emulate(device.IPhone13))
		do(t, ctx, "open the verification link", chromedp.Navigate(rc.VerifyURL), chromedp.WaitVisible(chromedp.CSS("#verified")))
		got := text(t, ctx, "#verified")
		contains(t, got, "✓ 凭证有效", "重庆建筑职业学院（演示）", orderNo, "¥7,700.00", "已支付")
		if strings.Contains(got, no) {
			t.Errorf("the public page shows the student number: %s", got)
		}
		shot(t, ctx, "c-01-verify-phone")
		do(t, ctx, "an altered code", chromedp.Navigate(base+"/receipts/verify?no="+orderNo+"&code=2222-2222-2222"), chromedp.WaitVisible(chromedp.CSS("#not-verified")))
		contains(t, text(t, ctx, "#not-verified"), "未能核验")
		shot(t, ctx, "c-02-verify-refused-phone")
	})
}

// phoneAccount makes a phone account bound to the demo student no through
// the API (SMS code from the dev outbox, a password, the school, the
// binding) and returns its token, which the app takes as its cookie.
func phoneAccount(t *testing.T, srv *app.Server, no string) string {
	t.Helper()
	base, phone := srv.URL, "13977770001"
	if st, b, _ := call(t, base, "POST", "/api/v1/sms", map[string]string{"phone": phone, "purpose": sms.PurposeLogin}, "", nil); st != 200 {
		t.Fatalf("sms: %d %s", st, b)
	}
	code, _ := srv.SMSOutbox.LastCode(phone, sms.PurposeLogin)
	var lg struct{ Token string }
	if st, b, _ := call(t, base, "POST", "/api/v1/auth/sms-login", map[string]string{"phone": phone, "code": code}, "", &lg); st != 200 {
		t.Fatalf("sms login: %d %s", st, b)
	}
	if st, b, _ := call(t, base, "POST", "/api/v1/me/password", map[string]string{"new_password": "parent-2026-pay"}, lg.Token, &lg); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	if st, b, _ := call(t, base, "PUT", "/api/v1/me/school", map[string]string{"school_code": app.DemoSchool}, lg.Token, nil); st != 200 {
		t.Fatalf("school: %d %s", st, b)
	}
	sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	st, err := srv.Store.StudentByNo(ctx, sc.ID, no)
	if err != nil {
		t.Fatal(err)
	}
	if code, b, _ := call(t, base, "POST", "/api/v1/bindings", map[string]string{"school_code": app.DemoSchool, "student_no": no, "name": st.Name,
		"id_card_last6": demo.IDLast6(no)}, lg.Token, nil); code != 201 {
		t.Fatalf("bind: %d %s", code, b)
	}
	return lg.Token
}
