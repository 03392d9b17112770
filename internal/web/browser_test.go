package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"campuspay/internal/browsertest"
)

// artifacts is where screenshots go: test-artifacts/web at the repo root.
var artifacts = browsertest.Artifacts("web")

// browser starts one headless Chromium for a test, or skips the test when
// Chromium is missing (unless CAMPUSPAY_REQUIRE_BROWSER=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, artifacts, 390, 844)
}

// phoneDevice is a phone's browser: 375×812, touch, and a phone's user
// agent, so the portal treats it as a phone (WeChat H5, not a QR code).
type phoneDevice struct{}

func (phoneDevice) Device() device.Info {
	return device.Info{Name: "phone", Width: 375, Height: 812, Scale: 1, Mobile: true, Touch: true,
		UserAgent: "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"}
}

// tab opens a tab with its own cookies (a new browser context) as a phone
// (375×812 with a phone's user agent) or a desktop (1280×800); its
// context times out after limit.
func tab(t *testing.T, bctx context.Context, phone bool, limit time.Duration) context.Context {
	t.Helper()
	size := chromedp.EmulateViewport(1280, 800)
	if phone {
		size = chromedp.Emulate(phoneDevice{})
	}
	return browsertest.Tab(t, bctx, limit, size)
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	// A full-page capture keeps the viewport's height for layout, so the
	// sticky pay bar would be drawn over the middle of the page: let it
	// sit in its place for the picture (script may set styles; CSP allows).
	unstick := `document.querySelectorAll(".paybar").forEach(e => e.style.position = %q)`
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(unstick, "static")))
	defer chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(unstick, "")))
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

func mustContain(t *testing.T, got string, want ...string) {
	t.Helper()
	browsertest.Contains(t, got, want...)
}

// loginAndChange logs a new student in with the initial password and sets
// a new one, as the seed's Step2 and R5 ask; it ends on the fee page.
func loginAndChange(t *testing.T, ctx context.Context, base, no, prefix string) {
	t.Helper()
	do(t, ctx, "open login", chromedp.Navigate(base+"/s/"+school+"/login"), chromedp.WaitVisible(chromedp.CSS("#student_no")))
	if prefix != "" {
		shot(t, ctx, prefix+"-01-login")
	}
	do(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("#student_no"), no),
		chromedp.SendKeys(chromedp.CSS("#password"), "111111"),
		chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new_password")))
	if prefix != "" {
		shot(t, ctx, prefix+"-02-must-change-password")
	}
	do(t, ctx, "change password",
		chromedp.SendKeys(chromedp.CSS("#old_password"), "111111"),
		chromedp.SendKeys(chromedp.CSS("#id_card_last6"), idLast6(no)),
		chromedp.SendKeys(chromedp.CSS("#new_password"), newPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm_password"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action$="/password"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#fees-form")))
}

// itemID finds the checkbox id of an item on the fee page by its name.
func itemID(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`[...document.querySelectorAll("#fees-form label")].find(l => l.textContent.includes(%q)).htmlFor`, name)))
	if err != nil || id == "" {
		t.Fatalf("item %s: %q %v", name, id, err)
	}
	return "#" + id
}

// unionPay goes through the sandbox gateway's pages as a person does:
// card number → 下一步 → PIN, phone, 免费获取, SMS code → 确认付款.
func unionPay(t *testing.T, ctx context.Context, card, phone, prefix string) {
	t.Helper()
	do(t, ctx, "gateway card page", chromedp.WaitVisible(chromedp.CSS("#card_no")))
	do(t, ctx, "card number",
		chromedp.SendKeys(chromedp.CSS("#card_no"), card),
		chromedp.Click(chromedp.CSS(`form[action$="/pay/card"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#pin")))
	do(t, ctx, "PIN, phone and SMS code",
		chromedp.SendKeys(chromedp.CSS("#pin"), "123456"),
		chromedp.SendKeys(chromedp.CSS("#phone"), phone),
		chromedp.Click(chromedp.CSS(`button[value=sms]`)),
		chromedp.WaitVisible(chromedp.CSS(".note")),
		chromedp.SendKeys(chromedp.CSS("#sms_code"), "111111"))
	shot(t, ctx, prefix+"-unionpay-verify")
	do(t, ctx, "确认付款", chromedp.Click(chromedp.CSS(`button[value=pay]`)), chromedp.WaitVisible(chromedp.CSS("#back button")))
	shot(t, ctx, prefix+"-unionpay-result")
	do(t, ctx, "返回商户", chromedp.Click(chromedp.CSS("#back button")), chromedp.WaitVisible(chromedp.CSS(".result h1")))
}

// TestBrowser drives the seed's Step1–Step4 in Chromium: UnionPay success
// on a phone-sized window, the ABC card's limit on a desktop, WeChat QR.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	srv := boot(t)
	base := srv.URL

	t.Run("a: a new student pays by UnionPay with the ICBC card and sees the record", func(t *testing.T) {
		ctx := tab(t, bctx, true, 40*time.Second)
		loginAndChange(t, ctx, base, studentNo(11), "a")
		mustContain(t, text(t, ctx, "main"), "✓ 必缴", "可勾选", "缴费须知")
		if got := text(t, ctx, "#total"); got != "7000.00" {
			t.Errorf("default total %q, want 7000.00", got)
		}
		shot(t, ctx, "a-03-fees")
		do(t, ctx, "tick 提档费", chromedp.Click(chromedp.CSS(itemID(t, ctx, "提档费"))))
		if got := text(t, ctx, "#total"); got != "7050.00" {
			t.Errorf("running total %q, want 7050.00", got)
		}
		do(t, ctx, "支付", chromedp.Click(chromedp.CSS(`#fees-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`input[value=unionpay]`)))
		mustContain(t, text(t, ctx, "main"), "支付信息", "7050.00", "只支持中国银联储蓄卡/借记卡支付，不支持信用卡支付", "银联在线", "微信支付")
		shot(t, ctx, "a-04-checkout")
		do(t, ctx, "银联在线", chromedp.Click(chromedp.CSS(`input[value=unionpay]`)), chromedp.Click(chromedp.CSS(`form[action$="/pay"] button[type=submit]`)))
		unionPay(t, ctx, "6222021000000000009", "13800000001", "a-05")
		mustContain(t, text(t, ctx, "main"), "支付成功", "7050.00", "学费", "住宿费", "提档费")
		shot(t, ctx, "a-06-success")
		do(t, ctx, "缴费记录", chromedp.Click(chromedp.CSS(`nav a[href$="/orders"]`)), chromedp.WaitVisible(chromedp.CSS(".records")))
		mustContain(t, text(t, ctx, "main"), "支付成功", "银联在线", "7050.00", "已缴费")
		shot(t, ctx, "a-07-records")
	})

	t.Run("b: the ABC card over its limit shows 交易金额超限, the three ways out and what fits", func(t *testing.T) {
		ctx := tab(t, bctx, false, 40*time.Second)
		loginAndChange(t, ctx, base, studentNo(12), "")
		do(t, ctx, "支付", chromedp.Click(chromedp.CSS(`#fees-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`input[value=unionpay]`)))
		do(t, ctx, "银联在线", chromedp.Click(chromedp.CSS(`input[value=unionpay]`)), chromedp.Click(chromedp.CSS(`form[action$="/pay"] button[type=submit]`)))
		unionPay(t, ctx, "6228481000000000009", "13800000002", "b-01")
		mustContain(t, text(t, ctx, "main"), "交易金额超限", "先缴纳在限额内的项目金额，隔天再缴纳余下的", "换另外一张银联储蓄卡/借记卡进行缴纳",
			"「学费」¥5800.00超过这张卡的可用限额，无论怎样分开缴纳，都无法用这张卡支付", "请换一张限额更高的银联储蓄卡/借记卡缴纳，或到开户银行",
			"开通网上银行的，可以进入该卡的网上银行提高当日或当月最高限额", "以下项目合计在限额内，可先用这张卡缴纳：", "住宿费", "1200.00", "继续支付", "取消订单")
		shot(t, ctx, "b-02-amount-limit")
		do(t, ctx, "先缴纳这些项目", chromedp.Click(chromedp.CSS(`.failure button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		if got := text(t, ctx, "#total"); got != "1200.00" {
			t.Errorf("fit selection total %q, want 1200.00", got)
		}
		shot(t, ctx, "b-03-fees-with-fit")
	})

	t.Run("c: WeChat QR page turns into 支付成功 by itself after the payer pays", func(t *testing.T) {
		ctx := tab(t, bctx, false, 40*time.Second)
		loginAndChange(t, ctx, base, studentNo(13), "")
		do(t, ctx, "支付", chromedp.Click(chromedp.CSS(`#fees-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`input[value=wechat]`)))
		do(t, ctx, "微信支付", chromedp.Click(chromedp.CSS(`input[value=wechat]`)), chromedp.Click(chromedp.CSS(`form[action$="/pay"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("img.qr")))
		mustContain(t, text(t, ctx, "main"), "请使用手机微信扫描电脑屏幕上的二维码，请勿扫描他人发来的二维码截图", "7000.00", "在沙箱中模拟手机扫码支付")
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("img.qr").complete && document.querySelector("img.qr").naturalWidth > 0`))
		if err != nil || !loaded {
			t.Errorf("QR image not loaded: %v", err)
		}
		shot(t, ctx, "c-01-wechat-qr")
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("a")].find(a => a.textContent.includes("在沙箱中模拟手机扫码支付")).href`))
		if err != nil || href == "" {
			t.Fatalf("sandbox link: %v", err)
		}
		// The payer's phone: another tab on the sandbox payer page.
		phone, cancel := chromedp.NewContext(ctx)
		defer cancel()
		do(t, phone, "payer page", chromedp.Navigate(href), chromedp.WaitVisible(chromedp.CSS("form button[type=submit]")))
		shot(t, phone, "c-02-wechat-payer")
		do(t, phone, "确认支付", chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".result.ok")))
		start := time.Now()
		do(t, ctx, "the waiting page turns into the result", chromedp.WaitVisible(chromedp.CSS("h1.ok")))
		t.Logf("the waiting page showed 支付成功 %v after the payer paid", time.Since(start).Round(100*time.Millisecond))
		mustContain(t, text(t, ctx, "main"), "支付成功", "微信支付", "7000.00")
		shot(t, ctx, "c-03-wechat-success")
	})
}
