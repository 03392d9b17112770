package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"campuspay/internal/billing"
)

// js evaluates a JavaScript expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript predicate holds in the page, across
// navigations (a poll inside a page that goes away is asked again).
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(2*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v\nat %s:\n%.1500s", what, err, loc, body)
		}
	}
}

// ticks are the projects whose ✓ the student sees, by name.
func ticks(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return js[[]string](t, ctx, `[...document.querySelectorAll("#fees-form fieldset.project")]
		.filter(f => { const k = f.querySelector(".tick"); return k && !k.hidden && getComputedStyle(k).display !== "none"; })
		.map(f => f.querySelector("legend").firstChild.textContent.trim())`)
}

// box is an item's checkbox as the student sees it.
func box(t *testing.T, ctx context.Context, name string) (checked, disabled bool) {
	t.Helper()
	sel := itemID(t, ctx, name)
	v := js[[]bool](t, ctx, fmt.Sprintf(`[document.querySelector(%q).checked, document.querySelector(%q).disabled]`, sel, sel))
	return v[0], v[1]
}

// noteOf is the rule note a project's box shows, or "" when none shows.
func noteOf(t *testing.T, ctx context.Context, project string) string {
	t.Helper()
	return js[string](t, ctx, fmt.Sprintf(`(() => {
		const f = [...document.querySelectorAll("#fees-form fieldset.project")].find(f => f.querySelector("legend").textContent.includes(%q));
		const n = f && f.querySelector(".rule-note");
		return n && !n.hidden ? n.textContent : "";
	})()`, project))
}

const (
	feesProject  = "2026学年学费住宿费"
	booksProject = "2026学年代收费"
)

// mustLockTheMandatoryLines: 学费 and 住宿费 are ticked and cannot be
// unticked, and only their project carries the ✓.
func mustLockTheMandatoryLines(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	for _, it := range []string{"学费", "住宿费"} {
		if checked, disabled := box(t, ctx, it); !checked || !disabled {
			t.Errorf("%s: %s checked=%v disabled=%v; want ticked and locked", when, it, checked, disabled)
		}
	}
	if got := ticks(t, ctx); len(got) != 1 || got[0] != feesProject {
		t.Errorf("%s: ✓ on %q; want only %s", when, got, feesProject)
	}
}

// noBrokenValues: on a phone, order numbers, dates, amounts and card
// numbers stay on one line and inside the screen.
func noBrokenValues(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	bad := js[[]string](t, ctx, `[...document.querySelectorAll(".mono, .nowrap, .attempts span, .amt")]
		.filter(e => e.getClientRects().length > 1 || e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
		.map(e => e.textContent)`)
	if len(bad) > 0 {
		t.Errorf("%s: values broken across lines or off the screen: %q", page, bad)
	}
	if w := js[float64](t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("%s: the page is %v px wider than the phone", page, w)
	}
}

func clickPay(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "支付", chromedp.Click(chromedp.CSS(`#fees-form button[type=submit]`)))
}

// toCheckout presses 支付 on the fee page and chooses a channel.
func toCheckout(t *testing.T, ctx context.Context, channel string) {
	t.Helper()
	clickPay(t, ctx)
	do(t, ctx, "支付信息", chromedp.WaitVisible(chromedp.CSS(`input[value=`+channel+`]`)), chromedp.Click(chromedp.CSS(`input[value=`+channel+`]`)))
}

func confirmPay(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "确认支付", chromedp.Click(chromedp.CSS(`form[action$="/pay"] button[type=submit]`)))
}

// TestBrowserJourney walks the second pass of the product issue in
// Chromium, item by item, at phone size (375×812, a phone's user agent)
// and desktop size (1280×800), asserting on what the student sees.
func TestBrowserJourney(t *testing.T) {
	bctx := browser(t)
	srv := boot(t)
	base := srv.URL

	for i, phone := range []bool{false, true} {
		size := map[bool]string{false: "desktop", true: "phone"}[phone]
		t.Run("1 and 3 on a "+size+": another project's item is explained as it is ticked, and a refusal keeps the locks and the ✓", func(t *testing.T) {
			ctx := tab(t, bctx, phone, 60*time.Second)
			shotName := "i01-" + size
			loginAndChange(t, ctx, base, studentNo(1+i), "")
			mustLockTheMandatoryLines(t, ctx, "the default board")
			if !phone {
				// The README's picture of the fee board: the board alone, small.
				png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#fees-form")))
				if err != nil {
					t.Fatal(err)
				}
				if len(png) > 120<<10 {
					t.Errorf("fee board picture is %d KB", len(png)>>10)
				}
				docs := filepath.Join("..", "..", "docs")
				if err := os.MkdirAll(docs, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(docs, "fee-board.png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			do(t, ctx, "tick 教材费", chromedp.Click(chromedp.CSS(itemID(t, ctx, "教材费"))))
			waitJS(t, ctx, "the rule shows where it applies", `!document.getElementById("pay-note").hidden`)
			mustContain(t, noteOf(t, ctx, booksProject), billing.SeedOneProject, "本次已勾选「"+feesProject+"」")
			if n := noteOf(t, ctx, feesProject); n != "" {
				t.Errorf("the ✓ project shows a note: %q", n)
			}
			mustLockTheMandatoryLines(t, ctx, "after ticking 教材费")
			shot(t, ctx, shotName+"-01-ticked-another-project")

			clickPay(t, ctx)
			do(t, ctx, "the refusal", chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)))
			mustContain(t, text(t, ctx, ".error"), billing.SeedOneProject)
			mustLockTheMandatoryLines(t, ctx, "after the R8 refusal")
			if checked, _ := box(t, ctx, "教材费"); !checked {
				t.Error("教材费 lost its tick after the refusal")
			}
			mustContain(t, noteOf(t, ctx, booksProject), billing.SeedOneProject)
			if got := text(t, ctx, "#total"); got != "7520.00" {
				t.Errorf("total after the refusal %q, want 7520.00", got)
			}
			shot(t, ctx, shotName+"-02-refused-same-locks")
			if phone {
				noBrokenValues(t, ctx, "fee page")
			}
			// The refusal is a page of its own (post/redirect/get): reloading
			// it asks nothing again and shows the same.
			do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)))
			mustLockTheMandatoryLines(t, ctx, "after reloading the refusal")

			do(t, ctx, "untick 教材费", chromedp.Click(chromedp.CSS(itemID(t, ctx, "教材费"))))
			waitJS(t, ctx, "the note goes", `document.getElementById("pay-note").hidden`)
			if n := noteOf(t, ctx, booksProject); n != "" {
				t.Errorf("note left after unticking: %q", n)
			}
			if got := text(t, ctx, "#total"); got != "7000.00" {
				t.Errorf("total %q, want 7000.00", got)
			}
			if !phone {
				// 全选 of the other project is told the same rule at once.
				// (Clicked by script: the sticky pay bar may cover the box.)
				do(t, ctx, "全选 代收费", chromedp.Evaluate[chromedp.Void](`document.querySelector("fieldset.project:nth-of-type(2) input.select-all").click()`))
				waitJS(t, ctx, "the rule shows for 全选", `!document.getElementById("pay-note").hidden`)
				mustContain(t, noteOf(t, ctx, booksProject), billing.SeedOneProject)
				shot(t, ctx, shotName+"-03-select-all-another-project")
				do(t, ctx, "untick 全选", chromedp.Evaluate[chromedp.Void](`document.querySelector("fieldset.project:nth-of-type(2) input.select-all").click()`))
				waitJS(t, ctx, "the note goes", `document.getElementById("pay-note").hidden`)
			}
			toCheckout(t, ctx, "unionpay")
			mustContain(t, text(t, ctx, "main"), "支付信息", "¥7000.00", "温馨提示："+platformName+"只支持中国银联储蓄卡/借记卡支付")
		})
	}

	t.Run("2: with 学费 and 住宿费 held by a WeChat order, an optional item points to that order", func(t *testing.T) {
		ctx := tab(t, bctx, false, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(3), "")
		toCheckout(t, ctx, "wechat")
		confirmPay(t, ctx)
		do(t, ctx, "QR page", chromedp.WaitVisible(chromedp.CSS("img.qr")))
		do(t, ctx, "缴费", chromedp.Click(chromedp.CSS(`nav a[href$="/fees"]`)), chromedp.WaitVisible(chromedp.CSS(".open-orders")))
		open := text(t, ctx, ".open-orders")
		mustContain(t, open, "学费、住宿费", "微信支付", "继续支付", "取消订单")
		if n := strings.Count(open, "待支付订单"); n != 1 {
			t.Errorf("the pending order box says 待支付订单 %d times:\n%s", n, open)
		}
		for _, it := range []string{"学费", "住宿费"} {
			if _, disabled := box(t, ctx, it); !disabled {
				t.Errorf("%s can be ticked while its order is pending", it)
			}
		}
		mustContain(t, text(t, ctx, "#fees-form"), "已在待支付订单中（微信支付，", "查看订单")
		do(t, ctx, "tick 提档费", chromedp.Click(chromedp.CSS(itemID(t, ctx, "提档费"))))
		waitJS(t, ctx, "the rule shows as 提档费 is ticked", `!document.getElementById("pay-note").hidden`)
		note := noteOf(t, ctx, feesProject)
		mustContain(t, note, "必缴项目「学费、住宿费」已在待支付订单", "继续支付", "取消订单")
		shot(t, ctx, "i02-01-held-by-order-live")
		clickPay(t, ctx)
		do(t, ctx, "the refusal", chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)))
		msg := text(t, ctx, ".error")
		mustContain(t, msg, billing.SeedMandatoryFirst, "「学费、住宿费」已在待支付订单", "继续支付", "取消订单")
		if strings.Contains(msg, "请先勾选") || strings.Contains(note, "请先勾选") {
			t.Errorf("the refusal asks to tick what cannot be ticked: %q / %q", msg, note)
		}
		shot(t, ctx, "i02-02-held-by-order-refused")
	})

	t.Run("4: Back from the bank's page lands on pages, never on a form to post again", func(t *testing.T) {
		ctx := tab(t, bctx, false, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(4), "")
		toCheckout(t, ctx, "unionpay")
		if loc := js[string](t, ctx, `location.pathname + location.search`); !strings.Contains(loc, "/checkout?items=") {
			t.Errorf("支付信息 is at %s, not a page of its own", loc)
		}
		confirmPay(t, ctx)
		do(t, ctx, "the bank's card page", chromedp.WaitVisible(chromedp.CSS("#card_no")))
		mustContain(t, text(t, ctx, "body"), platformName)
		// Back: Chrome leaves out the page that posted the form to the bank,
		// so the student is back on 支付信息, which (its items now in an
		// order) shows that order, never a form to post again.
		back(t, ctx)
		waitJS(t, ctx, "Back from the bank shows the order", `/\/orders\/CP\d+$/.test(location.pathname) && !!document.querySelector(".result h1")`)
		mustContain(t, text(t, ctx, "main"), "订单待支付", "继续支付", "取消订单", "¥7000.00")
		shot(t, ctx, "i04-01-back-from-bank-shows-order")
		back(t, ctx)
		waitJS(t, ctx, "Back again shows the fee page", `/\/fees$/.test(location.pathname) && !!document.querySelector(".open-orders")`)
		mustContain(t, text(t, ctx, ".open-orders"), "继续支付", "取消订单")
		shot(t, ctx, "i04-02-back-to-fees")
		forward(t, ctx)
		waitJS(t, ctx, "Forward shows the order again", `/\/orders\/CP\d+$/.test(location.pathname) && !!document.querySelector(".result h1")`)
		do(t, ctx, "继续支付", chromedp.Click(chromedp.CSS(`.result a.btn.primary`)), chromedp.WaitVisible(chromedp.CSS("#card_no")))
	})

	t.Run("5: a phone pays by WeChat H5, no QR code, and comes back to the result", func(t *testing.T) {
		ctx := tab(t, bctx, true, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(5), "")
		toCheckout(t, ctx, "wechat")
		page := text(t, ctx, "main")
		mustContain(t, page, "将跳转到微信支付页面完成支付")
		if strings.Contains(page, "电脑屏幕") {
			t.Error("the phone's 支付信息 asks to scan the computer's screen")
		}
		shot(t, ctx, "i05-01-phone-checkout")
		confirmPay(t, ctx)
		do(t, ctx, "WeChat's H5 page", chromedp.WaitVisible(chromedp.CSS(`form[action$="/h5"] button[type=submit]`)))
		if loc := js[string](t, ctx, `location.href`); !strings.Contains(loc, "/h5?prepay_id=") {
			t.Errorf("the phone went to %s, not an h5_url", loc)
		}
		mustContain(t, text(t, ctx, "body"), platformName, "¥7000.00", "学费、住宿费")
		if n := js[int](t, ctx, `document.querySelectorAll("img").length`); n != 0 {
			t.Errorf("the phone's payment page shows %d images (a QR code?)", n)
		}
		shot(t, ctx, "i05-02-phone-wechat-h5")
		// Back from WeChat without paying: the order's page says it is
		// confirming, and how to go on.
		do(t, ctx, "取消 in WeChat", chromedp.Click(chromedp.CSS(`a.link`)), chromedp.WaitVisible(chromedp.CSS(".result h1")))
		if h := text(t, ctx, ".result h1"); h != "正在确认支付结果…" {
			t.Errorf("back from WeChat: %q", h)
		}
		mustContain(t, text(t, ctx, ".result"), "¥7000.00", "请勿重复支付", "继续支付", "取消订单")
		if n := js[int](t, ctx, `document.querySelectorAll("img").length`); n != 0 {
			t.Errorf("the phone's order page shows %d images (a QR code?)", n)
		}
		noBrokenValues(t, ctx, "the phone's order page after WeChat")
		shot(t, ctx, "i05-03-phone-back-from-wechat")
		do(t, ctx, "继续支付", chromedp.Click(chromedp.CSS(`.result a.btn.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action$="/h5"] button[type=submit]`)))
		do(t, ctx, "确认支付 in WeChat", chromedp.Click(chromedp.CSS(`form[action$="/h5"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("h1.ok")))
		mustContain(t, text(t, ctx, "main"), "支付成功", "¥7000.00", "微信支付", "完成")
		noBrokenValues(t, ctx, "the phone's result page")
		shot(t, ctx, "i05-04-phone-wechat-success")
		do(t, ctx, "完成", chromedp.Click(chromedp.CSS(`.result a.btn.primary`)), chromedp.WaitVisible(chromedp.CSS(".paid table")))
		mustContain(t, text(t, ctx, ".paid"), "学费", "住宿费")
	})

	t.Run("5: the desktop QR page checks its status quietly and never reloads", func(t *testing.T) {
		ctx := tab(t, bctx, false, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(6), "")
		toCheckout(t, ctx, "wechat")
		confirmPay(t, ctx)
		do(t, ctx, "QR page", chromedp.WaitVisible(chromedp.CSS("img.qr")))
		js[bool](t, ctx, `window.stayed = true`)
		// Three quiet checks take longer than the old full reload's 3 s.
		waitJS(t, ctx, "three status checks", `performance.getEntriesByType("resource").filter(e => e.name.includes("/status")).length >= 3`)
		if !js[bool](t, ctx, `window.stayed === true && performance.getEntriesByType("navigation")[0].type === "navigate"`) {
			t.Error("the QR page reloaded itself")
		}
		if n := js[int](t, ctx, `document.querySelectorAll("meta[http-equiv=refresh]").length`); n != 0 {
			t.Errorf("%d refresh tags act with JavaScript on", n)
		}
		mustContain(t, text(t, ctx, "main"), "支付完成后本页面会自动显示结果")
		shot(t, ctx, "i05-05-desktop-qr-quiet")
	})

	t.Run("6 and 7: a credit card is refused at its number, and the order is plainly still open", func(t *testing.T) {
		ctx := tab(t, bctx, true, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(7), "")
		toCheckout(t, ctx, "unionpay")
		confirmPay(t, ctx)
		do(t, ctx, "card number", chromedp.WaitVisible(chromedp.CSS("#card_no")),
			chromedp.SendKeys(chromedp.CSS("#card_no"), "6225751000000000008"),
			chromedp.Click(chromedp.CSS(`form[action$="/pay/card"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".err")))
		mustContain(t, text(t, ctx, ".err"), "不支持信用卡支付")
		if n := js[int](t, ctx, `document.querySelectorAll("#pin").length`); n != 0 {
			t.Error("the gateway asks a credit card for its PIN")
		}
		shot(t, ctx, "i06-01-credit-refused-at-number")
		do(t, ctx, "返回商户", chromedp.Click(chromedp.CSS("#back button")), chromedp.WaitVisible(chromedp.CSS(".result h1")))
		if h := text(t, ctx, ".result h1"); h != "本次支付未成功" {
			t.Errorf("heading %q", h)
		}
		mustContain(t, text(t, ctx, ".result"), "不支持信用卡支付", "订单仍待支付", "前点击“继续支付”", "继续支付", "取消订单", "不会扣款")
		mustContain(t, text(t, ctx, ".kv"), "待支付", "前有效")
		noBrokenValues(t, ctx, "the failure page")
		shot(t, ctx, "i07-01-attempt-failed-order-open")
	})

	t.Run("8 and 11: 缴费记录 lists each attempt with its time, bank, card and answer", func(t *testing.T) {
		ctx := tab(t, bctx, true, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(8), "")
		toCheckout(t, ctx, "unionpay")
		confirmPay(t, ctx)
		unionPayNoReturn(t, ctx, "6228481000000000009", "13800000002")
		result := text(t, ctx, "main")
		mustContain(t, result, "交易金额超限，本次可用限额 ¥5000.00", "应答码 33")
		if strings.Contains(result, "）（") {
			t.Errorf("brackets stacked: %q", result)
		}
		shot(t, ctx, "i11-01-bank-limit-wording")
		do(t, ctx, "返回商户", chromedp.Click(chromedp.CSS("#back button")), chromedp.WaitVisible(chromedp.CSS(".result h1")))
		do(t, ctx, "继续支付", chromedp.Click(chromedp.CSS(`.result a.btn.primary`)))
		unionPay(t, ctx, "6222021000000000009", "13800000001", "i08")
		mustContain(t, text(t, ctx, ".result"), "支付成功", "完成")
		do(t, ctx, "缴费记录", chromedp.Click(chromedp.CSS(`nav a[href$="/orders"]`)), chromedp.WaitVisible(chromedp.CSS(".records .attempts")))
		att := js[[]string](t, ctx, `[...document.querySelectorAll(".records .attempts li")].map(li => li.textContent)`)
		if len(att) != 2 {
			t.Fatalf("attempts %q; want the refusal and the success", att)
		}
		stamp := regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}`)
		for i, want := range [][]string{{"农业银行 622848****0009", "交易金额超限，可用限额 ¥5000.00"}, {"工商银行 622202****0009", "支付成功"}} {
			mustContain(t, att[i], want...)
			if !stamp.MatchString(att[i]) {
				t.Errorf("attempt %q has no time", att[i])
			}
		}
		noBrokenValues(t, ctx, "缴费记录")
		shot(t, ctx, "i08-01-records-attempts")
	})

	for i, phone := range []bool{false, true} {
		size := map[bool]string{false: "desktop", true: "phone"}[phone]
		t.Run("10 on a "+size+": a page that does not exist keeps the school's header and leads back", func(t *testing.T) {
			ctx := tab(t, bctx, phone, 60*time.Second)
			loginAndChange(t, ctx, base, studentNo(9+i), "")
			do(t, ctx, "a wrong address", chromedp.Navigate(base+"/s/"+school+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS("main h1")))
			if got := text(t, ctx, ".brand"); got != "测试职业学院" {
				t.Errorf("header %q; want the school's", got)
			}
			main := text(t, ctx, "main")
			if n := strings.Count(main, "页面不存在"); n != 1 {
				t.Errorf("页面不存在 said %d times", n)
			}
			mustContain(t, main, "返回缴费页面", "查看缴费记录")
			mustContain(t, text(t, ctx, "nav"), "缴费记录", "退出")
			shot(t, ctx, "i10-"+size+"-not-found")
			do(t, ctx, "返回缴费页面", chromedp.Click(chromedp.CSS(`main a.btn.primary`)), chromedp.WaitVisible(chromedp.CSS("#fees-form")))

			anon := tab(t, bctx, phone, 30*time.Second)
			do(t, anon, "outside any school", chromedp.Navigate(base+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS("main h1")))
			if got := text(t, anon, ".brand"); got != platformName {
				t.Errorf("header %q; want the platform's name", got)
			}
			mustContain(t, text(t, anon, "main"), "页面不存在", "返回首页")
		})
	}

	t.Run("11: two tabs ordering the same items are told every item the first order holds", func(t *testing.T) {
		ctx := tab(t, bctx, false, 60*time.Second)
		loginAndChange(t, ctx, base, studentNo(11), "")
		other, cancel := chromedp.NewContext(ctx) // the same student's second tab
		defer cancel()
		do(t, other, "second tab", chromedp.Navigate(base+"/s/"+school+"/fees"), chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		toCheckout(t, ctx, "wechat")
		toCheckout(t, other, "unionpay")
		confirmPay(t, ctx)
		do(t, ctx, "QR page", chromedp.WaitVisible(chromedp.CSS("img.qr")))
		confirmPay(t, other)
		do(t, other, "the refusal", chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)))
		mustContain(t, text(t, other, ".error"), "「学费、住宿费」已在待支付订单", billing.SeedNoDoublePay)
		shot(t, other, "i11-02-two-tabs")
	})

	t.Run("11: the lockout says how long to wait, never longer on a later try", func(t *testing.T) {
		ctx := tab(t, bctx, true, 60*time.Second)
		wait := regexp.MustCompile(`尝试次数过多，请 (\d+) (秒|分钟)后再试`)
		// The back-off doubles with each failure a try is let through for;
		// a try refused meanwhile shows the time left, which only shrinks.
		// On a slow machine a back-off may end between two tries: that try
		// is let through and fails, and the count starts again.
		var last, shown, inARow int
		for try := 1; try <= 12 && inARow < 2; try++ {
			do(t, ctx, "login page", chromedp.Navigate(base+"/s/"+school+"/login"), chromedp.WaitVisible(chromedp.CSS("#student_no")))
			do(t, ctx, "wrong password", chromedp.SetValue(chromedp.CSS("#student_no"), studentNo(12)),
				chromedp.SendKeys(chromedp.CSS("#password"), "wrong-password"),
				chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(".error")))
			msg := text(t, ctx, ".error")
			m := wait.FindStringSubmatch(msg)
			if m == nil {
				if !strings.Contains(msg, "学号或密码错误") {
					t.Errorf("try %d: %q", try, msg)
				}
				last, inARow = 0, 0
				continue
			}
			secs, _ := strconv.Atoi(m[1])
			if m[2] == "分钟" {
				secs *= 60
			}
			if last > 0 && secs > last {
				t.Errorf("try %d says %s, longer than the try before (%d s)", try, m[0], last)
			}
			last, shown, inARow = secs, shown+1, inARow+1
			if v := js[string](t, ctx, `document.getElementById("student_no").value`); v != studentNo(12) {
				t.Errorf("the student number was not kept: %q", v)
			}
		}
		if shown == 0 {
			t.Error("no lockout after twelve wrong passwords")
		}
		shot(t, ctx, "i11-03-lockout")
	})
}

// back and forward move in the tab's history as its buttons do; what
// shows then is for the caller to wait for (a page restored from the
// back/forward cache fires no load event).
func back(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "Back", chromedp.Evaluate[chromedp.Void](`history.back()`))
}

func forward(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "Forward", chromedp.Evaluate[chromedp.Void](`history.forward()`))
}

// unionPayNoReturn pays on the sandbox gateway's pages and stops on its
// result page, before 返回商户.
func unionPayNoReturn(t *testing.T, ctx context.Context, card, phone string) {
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
		chromedp.SendKeys(chromedp.CSS("#sms_code"), "111111"),
		chromedp.Click(chromedp.CSS(`button[value=pay]`)),
		chromedp.WaitVisible(chromedp.CSS("#back button")))
}
