package mobile_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/sms"
	"campuspay/internal/store/storetest"
)

var (
	sidRE      = regexp.MustCompile(`/m/s/(\d+)/`)
	itemIDRE   = regexp.MustCompile(`id="item-(\d+)"`)
	formRE     = regexp.MustCompile(`(?s)<form id="unionpay-form" method="post" action="([^"]+)">(.*?)</form>`)
	hiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	h5RE       = regexp.MustCompile(`id="h5-go" href="([^"]+)"`)
	orderNoRE  = regexp.MustCompile(`<span class="mono">([A-Za-z0-9]{8,32})</span>`)
	itemFormRE = regexp.MustCompile(`name="item" value="(\d+)"`)
)

// projectLink is the link of the fee page's project named name.
func projectLink(t *testing.T, fees page, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`href="(/m/s/\d+/p/\d+)"><span>` + regexp.QuoteMeta(name)).FindStringSubmatch(fees.Body)
	if m == nil {
		t.Fatalf("no project %s on the fee page:\n%.2000s", name, text(fees.Body))
	}
	return m
}

// payProject opens a project from the fee page, ticks 全选 (?all=1, as
// the page's no-script link does), 支付 → 支付确认, and pays on channel;
// it returns the page that sends the phone on to the channel.
func (c *client) payProject(fees page, project, channel string) page {
	c.t.Helper()
	t := c.t
	m := projectLink(t, fees, project)
	p := c.get(m[1]+"?all=1").want(t, 200, "全选", "可勾选", "支付")
	form := url.Values{"csrf": {csrf(t, p.Body)}, "pid": {m[1][strings.LastIndex(m[1], "/")+1:]}}
	for _, id := range itemFormRE.FindAllStringSubmatch(p.Body, -1) {
		form.Add("item", id[1])
	}
	p = c.post(sidRE.FindString(m[1])+"confirm", form).want(t, 200, "支付确认", "支付方式", "不支持信用卡支付", "400-028-1024")
	form.Set("csrf", csrf(t, p.Body))
	form.Del("pid")
	form.Set("channel", channel)
	return c.post(sidRE.FindString(m[1])+"pay", form)
}

// payByForm posts the UnionPay form to the sandbox gateway as the phone's
// browser would and pays with the ICBC test card through the test helper.
func payByForm(t *testing.T, base string, p page) string {
	t.Helper()
	m := formRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no UnionPay form:\n%.2000s", p.Body)
	}
	fields := url.Values{}
	for _, f := range hiddenRE.FindAllStringSubmatch(m[2], -1) {
		fields.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	if fields.Get("channelType") != "08" {
		t.Errorf("channelType %q, want 08 (a phone)", fields.Get("channelType"))
	}
	resp, err := http.PostForm(html.UnescapeString(m[1]), fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	body, _ := json.Marshal(map[string]string{"order_no": fields.Get("orderId"), "card_no": "6222021000000000009", "pin": "123456",
		"phone": "13800000001", "sms_code": "111111"})
	resp, err = http.Post(base+"/sandbox/test-helpers/unionpay/pay", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sandbox pay: %v %v", resp, err)
	}
	resp.Body.Close()
	return fields.Get("orderId")
}

// waitPaid reloads an order page until it shows 支付成功.
func (c *client) waitPaid(path string) page {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := c.get(path)
		if p.Status == 200 && strings.Contains(p.Body, "支付成功") {
			return p
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s is not 支付成功 after 20 s:\n%.2000s", path, text(p.Body))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJourney is the seed's App journey over HTTP: sign up by SMS, set a
// password, choose region and school, bind a student, pay a project by
// UnionPay (channelType 08) and by WeChat H5, see 已缴费 and 交易记录,
// change the phone.
func TestJourney(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	c := newClient(t, base)
	c.signUp(srv, "13955550001")
	home := c.chooseSchool()
	if !strings.Contains(home.Body, `href="/m/pay"`) {
		t.Fatalf("the main screen has no 缴费 menu:\n%.1500s", text(home.Body))
	}
	c.get("/m/pay").want(t, 200, "录取通知书上有学号")
	fees := c.bind(srv, "2026010241")
	sid := sidRE.FindStringSubmatch(fees.URL)[1]
	fees.want(t, 200, "2026学年学费住宿费", "2026学年代收费", "✓", "400-028-1024")

	t.Run("UnionPay on the phone, then 支付成功, 完成 and 已缴费", func(t *testing.T) {
		c := c.with(t)
		c.get(projectLink(t, fees, feesProject)[1]).want(t, 200, "学费", "必缴", "提档费", "可勾选", `checked disabled`, "¥<span id=\"total\">7000.00</span>")
		p := c.payProject(fees, feesProject, "unionpay").want(t, 200, "正在前往中国银联在线支付", "7050.00")
		no := payByForm(t, base, p)
		res := c.waitPaid("/m/s/" + sid + "/orders/" + no)
		res.want(t, 200, "学费", "住宿费", "提档费", "7050.00", `id="done"`)
		paid := c.get("/m/s/"+sid+"/?tab=paid").want(t, 200, "已缴费", "学费", "5800.00", "住宿费", "1200.00")
		if !strings.Contains(paid.Body, "累计已缴 ¥7050.00") {
			t.Errorf("paid total:\n%.1500s", text(paid.Body))
		}
	})

	t.Run("WeChat Pay on the phone goes by H5", func(t *testing.T) {
		c := c.with(t)
		p := c.payProject(c.get("/m/s/"+sid+"/"), extraProject, "wechat").want(t, 200, "正在前往微信支付")
		m := h5RE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no h5_url:\n%s", p.Body)
		}
		h5 := html.UnescapeString(m[1])
		u, _ := url.Parse(h5)
		ret, _ := url.QueryUnescape(u.Query().Get("redirect_url"))
		if !strings.HasPrefix(ret, base+"/m/s/"+sid+"/orders/") {
			t.Errorf("redirect_url %q, want this student's order page", ret)
		}
		body, _ := json.Marshal(map[string]string{"h5_url": h5})
		resp, err := http.Post(base+"/sandbox/test-helpers/wechat/pay", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("sandbox h5 pay: %v %v", resp, err)
		}
		resp.Body.Close()
		no := orderNoRE.FindStringSubmatch(p.Body)[1]
		c.waitPaid("/m/s/"+sid+"/orders/"+no).want(t, 200, "微信支付", "690.00")
	})

	t.Run("我的 → 交易记录 lists both payments", func(t *testing.T) {
		c := c.with(t)
		c.get("/m/me").want(t, 200, "交易记录", "个人资料", "139****0001")
		r := c.get("/m/me/records").want(t, 200, "2026010241", "银联在线", "微信支付", "7050.00", "690.00")
		if n := strings.Count(r.Body, "支付成功"); n != 2 {
			t.Errorf("%d orders 支付成功, want 2", n)
		}
	})

	t.Run("我的 → 个人资料 → 手机号: a code to the new phone, and the old sessions end", func(t *testing.T) {
		c := c.with(t)
		other := newClient(t, base) // the same account on another phone
		lp := other.get("/m/login/password")
		other.post("/m/login/password", url.Values{"csrf": {csrf(t, lp.Body)}, "phone": {"13955550001"}, "password": {newPassword}}).want(t, 200, "校园缴费")
		c.get("/m/me/profile").want(t, 200, "手机号", "139****0001")
		p := c.get("/m/me/phone").want(t, 200, "新手机号", "免费获取")
		p = c.post("/m/me/phone/sms", url.Values{"csrf": {csrf(t, p.Body)}, "new_phone": {"13955550002"}}).want(t, 200, "验证码已发送")
		code, _ := srv.SMSOutbox.LastCode("13955550002", sms.PurposeChangePhone)
		p = c.post("/m/me/phone", url.Values{"csrf": {csrf(t, p.Body)}, "new_phone": {"13955550002"}, "code": {code}})
		p.want(t, 200, "手机号修改成功", "139****0002")
		if p := other.get("/m/me"); !strings.Contains(p.URL, "/m/login") {
			t.Errorf("the other phone's session survived the change: %s", p.URL)
		}
	})
}

// TestPagesDecideNothingThemselves: R4 and the rules answer on the pages
// in the services' words, and another family's student or order is not
// found.
func TestPagesAnswerTheRules(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	_, move := storetest.FixedClock(srv.Store, time.Now())

	t.Run("the 6th 免费获取 of a day says when to try again", func(t *testing.T) {
		c := newClient(t, base)
		const phone = "13966660001"
		p := c.get("/m/login")
		p = c.post("/m/login", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}})
		for i := range 5 {
			p = c.post("/m/login/sms", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}}).want(t, 200, "验证码已发送")
			if i < 4 && !strings.Contains(p.Body, `data-wait="60"`) {
				t.Errorf("send %d: no 60 s countdown on 免费获取", i+1)
			}
			move(61 * time.Second)
		}
		p = c.post("/m/login/sms", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {phone}}).want(t, 429, "24 小时内获取验证码已达 5 次", "再试")
		if !regexp.MustCompile(`data-wait="(8[0-9]{4})"`).MatchString(p.Body) {
			t.Errorf("no countdown of about 24 h on 免费获取:\n%.1500s", p.Body)
		}
	})

	t.Run("a wrong code is refused on the page", func(t *testing.T) {
		c := newClient(t, base)
		p := c.get("/m/login")
		p = c.post("/m/login", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {"13966660002"}})
		c.post("/m/login/code", url.Values{"csrf": {csrf(t, p.Body)}, "phone": {"13966660002"}, "code": {"123456"}}).want(t, 401, "验证码错误或已失效")
	})

	t.Run("a login form without its token is refused", func(t *testing.T) {
		c := newClient(t, base)
		c.post("/m/login", url.Values{"phone": {"13966660003"}}).want(t, 403)
		req, _ := http.NewRequest("POST", base+"/m/login", strings.NewReader("phone=13966660003"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		c.do(req).want(t, 403, "请求来源不明")
	})

	mine, theirs := newClient(t, base), newClient(t, base)
	mine.signUp(srv, "13966660011")
	mine.chooseSchool()
	myFees := mine.bind(srv, "2026010251")
	theirs.signUp(srv, "13966660012")
	theirs.chooseSchool()
	theirFees := theirs.bind(srv, "2026010252")
	theirSID := sidRE.FindStringSubmatch(theirFees.URL)[1]
	mySID := sidRE.FindStringSubmatch(myFees.URL)[1]
	p := theirs.payProject(theirFees, feesProject, "unionpay").want(t, 200, "正在前往中国银联在线支付")
	theirOrder := formRE.FindStringSubmatch(p.Body)
	fields := hiddenRE.FindAllStringSubmatch(theirOrder[2], -1)
	var no string
	for _, f := range fields {
		if f[1] == "orderId" {
			no = f[2]
		}
	}

	t.Run("a parent binds a second child and sees both, each with its own records", func(t *testing.T) {
		mine := mine.with(t)
		second := mine.bind(srv, "2026010253")
		secondSID := sidRE.FindStringSubmatch(second.URL)[1]
		menu := mine.get("/m/pay").want(t, 200, "选择学生", "2026010251", "2026010253")
		for _, sid := range []string{mySID, secondSID} {
			if !strings.Contains(menu.Body, `href="/m/s/`+sid+`/"`) {
				t.Errorf("the 缴费 menu has no link to student %s", sid)
			}
		}
		mine.get("/m/me/records").want(t, 200, "2026010251", "2026010253")
		mine.get("/m/").want(t, 200, "已绑定的学生", "2026010251", "2026010253")
	})

	t.Run("R9: the same items cannot enter a second order while the first holds them", func(t *testing.T) {
		theirs := theirs.with(t)
		fees := theirs.get("/m/s/"+theirSID+"/").want(t, 200, "待支付订单", "继续支付", "取消订单")
		link := projectLink(t, fees, feesProject)
		p := theirs.get(link[1]).want(t, 200, "待支付订单")
		if strings.Contains(p.Body, `id="pay-btn"`) {
			t.Errorf("held items can be paid again:\n%.1500s", text(p.Body))
		}
		form := url.Values{"csrf": {csrf(t, p.Body)}, "pid": {link[1][strings.LastIndex(link[1], "/")+1:]}}
		for _, id := range itemIDRE.FindAllStringSubmatch(p.Body, -1) {
			form.Add("item", id[1])
		}
		theirs.post("/m/s/"+theirSID+"/confirm", form).want(t, 409, "继续支付")
	})

	t.Run("another family's student and orders are not found", func(t *testing.T) {
		for _, path := range []string{"/m/s/" + theirSID + "/", "/m/s/" + theirSID + "/p/1", "/m/s/" + theirSID + "/orders/" + no,
			"/m/s/" + mySID + "/orders/" + no, "/m/s/" + theirSID + "/orders/" + no + "/pay", "/m/s/abc/"} {
			p := mine.get(path)
			if p.Status != 404 || strings.Contains(p.Body, no) || strings.Contains(p.Body, "2026010252") {
				t.Errorf("%s: %d\n%.800s", path, p.Status, text(p.Body))
			}
		}
		f := mine.get("/m/s/" + mySID + "/")
		for _, path := range []string{"/m/s/" + theirSID + "/orders/" + no + "/cancel", "/m/s/" + theirSID + "/unbind", "/m/s/" + mySID + "/orders/" + no + "/cancel"} {
			if p := mine.post(path, url.Values{"csrf": {csrf(t, f.Body)}}); p.Status != 404 {
				t.Errorf("POST %s: %d", path, p.Status)
			}
		}
		if p := theirs.get("/m/s/" + theirSID + "/orders/" + no); p.Status != 200 || !strings.Contains(p.Body, "待支付") {
			t.Errorf("their order after my tries: %d %.500s", p.Status, text(p.Body))
		}
	})

	t.Run("money that arrives after a cancel is said to have arrived", func(t *testing.T) {
		theirs := theirs.with(t)
		form := url.Values{}
		for _, f := range fields {
			form.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
		}
		resp, err := http.PostForm(html.UnescapeString(theirOrder[1]), form) // the payer's browser at the gateway
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("gateway: %v %v", err, resp)
		}
		resp.Body.Close()
		f := theirs.get("/m/s/" + theirSID + "/orders/" + no)
		theirs.post("/m/s/"+theirSID+"/orders/"+no+"/cancel", url.Values{"csrf": {csrf(t, f.Body)}})
		body := `{"order_no":"` + no + `","card_no":"6222021000000000009","pin":"123456","phone":"13800000001","sms_code":"111111"}`
		if resp, err := http.Post(base+"/sandbox/test-helpers/unionpay/pay", "application/json", strings.NewReader(body)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("late pay: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		var p page
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if p = theirs.get("/m/s/" + theirSID + "/orders/" + no); strings.Contains(p.Body, "款项已到账") {
				break
			}
		}
		if !strings.Contains(p.Body, "款项已到账，订单已关闭") || strings.Contains(p.Body, "支付未成功") {
			t.Fatalf("late success page:\n%.2000s", text(p.Body))
		}
	})
}

// TestInstallableShell: the manifest, the icons and the service worker,
// and no personal page stored by the browser.
func TestInstallableShell(t *testing.T) {
	srv := apptest.Demo(t)
	c := newClient(t, srv.URL)
	var man struct {
		Name, StartURL, Scope, Display, Lang string
		Icons                                []struct{ Src, Sizes, Type, Purpose string }
	}
	mp := c.get("/m/manifest.webmanifest").want(t, 200)
	if err := json.Unmarshal([]byte(mp.Body), &man); err != nil {
		t.Fatal(err)
	}
	// JSON names are snake_case.
	var raw map[string]any
	json.Unmarshal([]byte(mp.Body), &raw)
	if raw["start_url"] != "/m/" || raw["scope"] != "/m/" || raw["display"] != "standalone" || man.Lang != "zh-CN" || man.Name == "" {
		t.Errorf("manifest %s", mp.Body)
	}
	sizes := map[string]bool{}
	for _, ic := range man.Icons {
		p := c.get(ic.Src).want(t, 200)
		img, err := png.Decode(strings.NewReader(p.Body))
		if err != nil {
			t.Fatalf("icon %s: %v", ic.Src, err)
		}
		if got := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()); got != ic.Sizes {
			t.Errorf("icon %s is %s, manifest says %s", ic.Src, got, ic.Sizes)
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("icons %v, want 192 and 512", sizes)
	}
	sw := c.get("/m/sw.js").want(t, 200, "caches.open", "/m/offline")
	if ct := sw.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("sw.js Content-Type %q", ct)
	}
	shell := regexp.MustCompile(`const SHELL = (\[.*\]);`).FindStringSubmatch(sw.Body)
	if shell == nil {
		t.Fatalf("no shell list in sw.js:\n%s", sw.Body)
	}
	var list []string
	if err := json.Unmarshal([]byte(shell[1]), &list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if !strings.HasPrefix(u, "/m/assets/") && u != "/m/offline" && u != "/m/manifest.webmanifest" {
			t.Errorf("the worker caches %s, which is not the shell", u)
		}
		if p := c.get(u); p.Status != 200 || strings.Contains(p.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("shell %s: %d %q", u, p.Status, p.Header.Get("Cache-Control"))
		}
	}
	c.get("/m/offline").want(t, 200, "网络不可用")

	c.signUp(srv, "13977770001")
	c.chooseSchool()
	fees := c.bind(srv, "2026010261")
	for _, path := range []string{fees.URL, "/m/", "/m/me", "/m/me/records", "/m/pay"} {
		p := c.get(path)
		if p.Status != 200 || p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d Cache-Control %q, want no-store", path, p.Status, p.Header.Get("Cache-Control"))
		}
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "worker-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	me := c.get("/m/me")
	c.post("/m/logout", url.Values{"csrf": {csrf(t, me.Body)}}).want(t, 200, "您已安全退出")
	if p := c.get(fees.URL); !strings.Contains(p.URL, "/m/login") || strings.Contains(p.Body, "2026010261") {
		t.Errorf("the fee page after logout: %s\n%.500s", p.URL, text(p.Body))
	}
}

var _ = app.SMSDev

// Demo projects (demo/bills.csv).
const (
	feesProject  = "2026学年学费住宿费"
	extraProject = "2026学年代收费"
)
