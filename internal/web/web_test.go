package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"campuspay/internal/billing"
)

// TestPortal drives the portal over real HTTP against a booted server with
// the sandbox; each subtest uses its own student.
func TestPortal(t *testing.T) {
	srv := boot(t)
	base := "/s/" + school

	t.Run("the home page links every school and the sandbox", func(t *testing.T) {
		p := newClient(t, srv.URL).get("/")
		if p.Status != 200 || !strings.Contains(p.Body, `href="/s/tst/"`) || !strings.Contains(p.Body, "测试职业学院") || !strings.Contains(p.Body, `href="/sandbox/"`) {
			t.Fatalf("home: %d\n%s", p.Status, p.Body)
		}
	})

	t.Run("the login page shows the help line, the banks and the initial password hint", func(t *testing.T) {
		p := newClient(t, srv.URL).get(base + "/")
		for _, want := range []string{"400-028-1024", `<span class="nowrap">周一至周五 9:00—20:00</span>，<span class="nowrap">周六 9:00—18:00</span>`, "中国工商银行、中国建设银行、中国农业银行",
			`placeholder="初始密码为 111111"`, `<label for="student_no">学号</label>`, `<label for="password">密码</label>`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("login page lacks %q", want)
			}
		}
		for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy"} {
			if p.Header.Get(h) == "" {
				t.Errorf("missing header %s", h)
			}
		}
		if !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("CSP %q lacks frame-ancestors", p.Header.Get("Content-Security-Policy"))
		}
	})

	t.Run("after a few wrong passwords the student waits, even with the right one", func(t *testing.T) {
		c := newClient(t, srv.URL)
		var p page
		for i := 0; i < 4; i++ {
			p = c.login(studentNo(1), "wrong-password")
			if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "学号或密码错误") {
				t.Fatalf("attempt %d: %d\n%.1500s", i+1, p.Status, p.Body)
			}
		}
		p = c.login(studentNo(1), "111111")
		if p.Status != http.StatusTooManyRequests || !regexp.MustCompile(`尝试次数过多，请 \d+ 秒后再试`).MatchString(p.Body) {
			t.Fatalf("right password right after 4 failures: %d\n%.2000s", p.Status, p.Body)
		}
	})

	t.Run("session cookie flags: HttpOnly, SameSite=Lax, the school's path, Secure behind TLS", func(t *testing.T) {
		for _, proto := range []string{"", "https"} {
			c := newClient(t, srv.URL).noFollow()
			lp := c.get(base + "/login")
			req, _ := http.NewRequest("POST", srv.URL+base+"/login", strings.NewReader(url.Values{"csrf": {csrf(t, lp.Body)}, "student_no": {studentNo(2)}, "password": {"111111"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			p := c.do(req)
			if p.Status != http.StatusSeeOther {
				t.Fatalf("login: %d", p.Status)
			}
			var sc string
			for _, v := range p.Header.Values("Set-Cookie") {
				if strings.HasPrefix(v, "campuspay_session=") {
					sc = v
				}
			}
			for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/s/tst/"} {
				if !strings.Contains(sc, want) {
					t.Errorf("session cookie %q lacks %s", sc, want)
				}
			}
			if got := strings.Contains(sc, "Secure"); got != (proto == "https") {
				t.Errorf("proto %q: Secure = %v in %q", proto, got, sc)
			}
		}
	})

	t.Run("a new student must change the initial password before any fee page", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.login(studentNo(3), "111111")
		if !strings.HasSuffix(p.URL, base+"/password") || !strings.Contains(p.Body, "首次登录请先修改初始密码") {
			t.Fatalf("login landed on %s", p.URL)
		}
		for _, path := range []string{"/fees", "/orders"} {
			if p := c.get(base + path); !strings.HasSuffix(p.URL, base+"/password") {
				t.Errorf("%s reached %s", path, p.URL)
			}
		}
		tok := csrf(t, p.Body)
		for _, tc := range []struct{ old, pw, again, want string }{
			{"111111", "abc12345", "abc12346", "两次输入的新密码不一致"},
			{"111111", "12345678", "12345678", "这个密码太常见，容易被猜到，请换一个"},
			{"222222", "abc12345", "abc12345", "原密码不正确"},
		} {
			p := c.post(base+"/password", url.Values{"csrf": {tok}, "old_password": {tc.old}, "id_card_last6": {idLast6(studentNo(3))},
				"new_password": {tc.pw}, "confirm_password": {tc.again}})
			if p.Status != 422 || !strings.Contains(p.Body, tc.want) {
				t.Errorf("%+v: %d\n%.1500s", tc, p.Status, p.Body)
			}
		}
		if p := c.post(base+"/password", url.Values{"csrf": {tok}, "old_password": {"111111"}, "id_card_last6": {"000000"},
			"new_password": {newPassword}, "confirm_password": {newPassword}}); p.Status != 422 || !strings.Contains(p.Body, "身份证号后 6 位与学籍信息不符") {
			t.Errorf("another ID number: %d\n%.1500s", p.Status, p.Body)
		}
		p = c.post(base+"/password", url.Values{"csrf": {tok}, "old_password": {"111111"}, "id_card_last6": {strings.ToLower(idLast6(studentNo(3)))},
			"new_password": {newPassword}, "confirm_password": {newPassword}})
		if !strings.Contains(p.URL, base+"/fees") || !strings.Contains(p.Body, "密码修改成功") || !strings.Contains(p.Body, "✓ 必缴") {
			t.Fatalf("after change: %s\n%.1500s", p.URL, p.Body)
		}
	})

	t.Run("the fee page pre-ticks and locks the mandatory items and explains R7 R8 R9", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(4))
		for _, want := range []string{billing.SeedMandatoryFirst, billing.SeedOneProject, "需同学们等待10分钟才能再次选择缴费项目进行支付",
			`checked disabled><input type="hidden" name="item"`, "可勾选", "✓ 必缴", `<strong id="total">7000.00</strong>`, `class="tick"`, "5800.00"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("fee page lacks %q", want)
			}
		}
		if strings.Contains(p.Body, "50011720080614420") {
			t.Error("the fee page shows an unmasked ID number")
		}
	})

	t.Run("POSTs without the CSRF token are refused", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(5))
		ids := items(t, p.Body)
		if p := c.post(base+"/checkout", url.Values{"item": {ids["学费"], ids["住宿费"]}}); p.Status != http.StatusForbidden {
			t.Errorf("checkout without csrf: %d", p.Status)
		}
		if p := c.post(base+"/checkout", url.Values{"csrf": {"forged"}, "item": {ids["学费"]}}); p.Status != http.StatusForbidden {
			t.Errorf("checkout with a forged csrf: %d", p.Status)
		}
		if p := newClient(t, srv.URL).post(base+"/login", url.Values{"student_no": {studentNo(5)}, "password": {newPassword}}); p.Status != http.StatusForbidden {
			t.Errorf("login without the double-submit token: %d", p.Status)
		}
	})

	t.Run("rule refusals come back on the fee page in Chinese", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(6))
		tok, ids := csrf(t, p.Body), items(t, p.Body)
		for _, tc := range []struct {
			name string
			sel  []string
			want string
		}{
			{"optional before mandatory", []string{ids["提档费"]}, billing.SeedMandatoryFirst},
			{"two projects in one order", []string{ids["学费"], ids["住宿费"], ids["教材费"]}, billing.SeedOneProject},
			{"an unknown item", []string{"999999"}, "所选项目不存在或已缴清"},
			{"nothing ticked", nil, "请至少选择一个缴费项目"},
		} {
			p := c.post(base+"/checkout", url.Values{"csrf": {tok}, "item": tc.sel})
			if p.Status < 400 || !strings.Contains(p.Body, tc.want) || !strings.Contains(p.Body, `role="alert"`) {
				t.Errorf("%s: %d\n%.1500s", tc.name, p.Status, p.Body)
			}
		}
		p = c.post(base+"/checkout", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"], ids["提档费"]}})
		if p.Status != 200 || !strings.Contains(p.Body, "支付信息") || !strings.Contains(p.Body, "¥7050.00") ||
			!strings.Contains(p.Body, "只支持中国银联储蓄卡/借记卡支付，不支持信用卡支付") || !strings.Contains(p.Body, `value="wechat"`) {
			t.Fatalf("checkout: %d\n%.2000s", p.Status, p.Body)
		}
		p = c.post(base+"/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"unionpay"}})
		if p.Status != 200 || !strings.Contains(p.Body, `id="unionpay-form"`) || !strings.Contains(p.Body, "前往银联支付") {
			t.Fatalf("pay: %d\n%.2000s", p.Status, p.Body)
		}
		p = c.post(base+"/checkout", url.Values{"csrf": {tok}, "item": {ids["学费"]}})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "待支付订单") || !strings.Contains(p.Body, "继续支付") || !strings.Contains(p.Body, "取消订单") {
			t.Fatalf("held items: %d\n%.2500s", p.Status, p.Body)
		}
		// Cancel frees them.
		no := regexp.MustCompile(`orders/(CP\d+)/cancel`).FindStringSubmatch(p.Body)
		if no == nil {
			t.Fatal("no cancel form")
		}
		p = c.post(base+"/orders/"+no[1]+"/cancel", url.Values{"csrf": {tok}})
		if !strings.Contains(p.Body, "已取消") || !strings.Contains(p.Body, `<strong id="total">7000.00</strong>`) {
			t.Fatalf("after cancel: %s\n%.2000s", p.URL, p.Body)
		}
		if r := c.get(base + "/orders"); !strings.Contains(r.Body, "已关闭") || !strings.Contains(r.Body, no[1]) {
			t.Errorf("records lack the closed order:\n%.2000s", r.Body)
		}
	})

	t.Run("another student's order, its QR code and its status are not found", func(t *testing.T) {
		owner := newClient(t, srv.URL)
		p := owner.ready(studentNo(7))
		tok, ids := csrf(t, p.Body), items(t, p.Body)
		p = owner.post(base+"/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"wechat"}})
		if p.Status != 200 || !strings.Contains(p.Body, "请使用手机微信扫描电脑屏幕上的二维码，请勿扫描他人发来的二维码截图") ||
			!strings.Contains(p.Body, `<noscript><meta http-equiv="refresh" content="5"></noscript>`) || !strings.Contains(p.Body, "在沙箱中模拟手机扫码支付") {
			t.Fatalf("wechat page: %d\n%.2000s", p.Status, p.Body)
		}
		orderPath := strings.TrimPrefix(p.URL, srv.URL)
		if q := owner.get(orderPath + "/qr.png"); q.Status != 200 || q.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix([]byte(q.Body), []byte("\x89PNG")) {
			t.Fatalf("qr: %d %s", q.Status, q.Header.Get("Content-Type"))
		}
		var st struct {
			Status string `json:"status"`
			Final  bool   `json:"final"`
		}
		if s := owner.get(orderPath + "/status"); json.Unmarshal([]byte(s.Body), &st) != nil || st.Status != "paying" || st.Final {
			t.Fatalf("status: %s", s.Body)
		}
		other := newClient(t, srv.URL)
		other.ready(studentNo(8))
		for _, suffix := range []string{"", "/qr.png", "/status", "/pay"} {
			if p := other.get(orderPath + suffix); p.Status != http.StatusNotFound {
				t.Errorf("other student GET %s: %d", suffix, p.Status)
			}
		}
	})

	t.Run("a forged UnionPay return is refused and changes nothing", func(t *testing.T) {
		p := newClient(t, srv.URL).post(base+"/return/unionpay", url.Values{"orderId": {"CP2026000000000000000001"}, "respCode": {"00"}, "signature": {"x"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "支付结果验证失败") {
			t.Fatalf("%d\n%.1000s", p.Status, p.Body)
		}
	})

	t.Run("R2: a refused amount shows the three ways out and the items that fit", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(9))
		tok, ids := csrf(t, p.Body), items(t, p.Body)
		p = c.post(base+"/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"unionpay"}})
		no := submitUnionPayForm(t, c, p.Body)
		payWithHelper(t, srv.URL, no, "6228481000000000009", "13800000002", "33")
		// The failure reaches the order by the worker's query; wait for it.
		var o page
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if o = c.get(base + "/orders/" + no); strings.Contains(o.Body, "交易金额超限") {
				break
			}
		}
		for _, want := range []string{"交易金额超限", "先缴纳在限额内的项目金额，隔天再缴纳余下的", "换另外一张银联储蓄卡/借记卡进行缴纳",
			"开通网上银行的，可以进入该卡的网上银行提高当日或当月最高限额", "超过这张卡的可用限额，无论怎样分开缴纳，都无法用这张卡支付", "请换一张限额更高的银联储蓄卡/借记卡",
			"以下项目合计在限额内，可先用这张卡缴纳：", "住宿费", "继续支付", "取消订单"} {
			if !strings.Contains(o.Body, want) {
				t.Errorf("order page lacks %q", want)
			}
		}
		if t.Failed() {
			t.Fatalf("%.3000s", o.Body)
		}
		// 取消本订单，先缴纳这些项目: cancel, then the fee page ticks 住宿费 only.
		f := c.post(base+"/orders/"+no+"/cancel", url.Values{"csrf": {tok}, "select": {ids["住宿费"]}})
		if !strings.Contains(f.Body, `<strong id="total">1200.00</strong>`) || !strings.Contains(f.Body, "已取消") {
			t.Fatalf("fit selection: %s\n%.3000s", f.URL, f.Body)
		}
	})

	t.Run("money that arrives after a cancel is said to have arrived, never 未扣款", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(19))
		tok, ids := csrf(t, p.Body), items(t, p.Body)
		p = c.post(base+"/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"unionpay"}})
		no := submitUnionPayForm(t, c, p.Body)
		if f := c.post(base+"/orders/"+no+"/cancel", url.Values{"csrf": {tok}}); !strings.Contains(f.Body, "已取消") {
			t.Fatalf("cancel: %s\n%.1500s", f.URL, f.Body)
		}
		payWithHelper(t, srv.URL, no, "6222021000000000009", "13800000001", "00") // the bank takes it anyway
		var o page
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if o = c.get(base + "/orders/" + no); strings.Contains(o.Body, "款项已到账") {
				break
			}
		}
		if !strings.Contains(o.Body, "款项已到账，订单已关闭") || !strings.Contains(o.Body, "将原路退回") || strings.Contains(o.Body, "未扣款") {
			t.Fatalf("late success page:\n%.3000s", o.Body)
		}
	})

	t.Run("R1 and R3: each card refusal is explained in the seed's words", func(t *testing.T) {
		for i, tc := range []struct{ card, phone, code, want string }{
			{"6225751000000000008", "13800000006", "68", "不支持信用卡支付"},
			{"6222021000000000009", "13900000001", "66", "预留手机号确实错误了，请到银行柜台修改"},
			{"6217002000000000002", "13800000004", "77", "请前往银行网点开通网银"},
			{"6217991000000000005", "13800000005", "72", "登录银联在线开通"},
			{"6216611000000000007", "13800000007", "64", "余额不足"},
		} {
			t.Run(tc.code, func(t *testing.T) {
				t.Parallel()
				c := newClient(t, srv.URL)
				p := c.ready(studentNo(14 + i))
				tok, ids := csrf(t, p.Body), items(t, p.Body)
				p = c.post(base+"/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"unionpay"}})
				no := submitUnionPayForm(t, c, p.Body)
				payWithHelper(t, srv.URL, no, tc.card, tc.phone, tc.code)
				var o page
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
					if o = c.get(base + "/orders/" + no); strings.Contains(o.Body, "支付未成功") {
						break
					}
				}
				if !strings.Contains(o.Body, tc.want) || !strings.Contains(o.Body, "继续支付") {
					t.Fatalf("order page lacks %q:\n%.2500s", tc.want, o.Body)
				}
			})
		}
	})

	t.Run("logout ends the session", func(t *testing.T) {
		c := newClient(t, srv.URL)
		p := c.ready(studentNo(10))
		p = c.post(base+"/logout", url.Values{"csrf": {csrf(t, p.Body)}})
		if !strings.Contains(p.Body, "您已安全退出") {
			t.Fatalf("%s", p.URL)
		}
		if p := c.get(base + "/fees"); !strings.Contains(p.URL, "/login") {
			t.Fatalf("fees after logout: %s", p.URL)
		}
	})
}

// TestSessionIdleTimeout moves the store's clock 16 minutes on: the web
// session has expired and the student is sent to log in again.
func TestSessionIdleTimeout(t *testing.T) {
	srv := boot(t)
	c := newClient(t, srv.URL)
	c.ready(studentNo(1))
	if p := c.get("/s/" + school + "/fees"); !strings.HasSuffix(p.URL, "/fees") {
		t.Fatalf("fees: %s", p.URL)
	}
	start := time.Now()
	srv.Store.SetClock(func() time.Time { return start.Add(16 * time.Minute) })
	p := c.get("/s/" + school + "/fees")
	if !strings.Contains(p.URL, "/login") || !strings.Contains(p.Body, "登录已超时") {
		t.Fatalf("after 16 idle minutes: %s\n%.1500s", p.URL, p.Body)
	}
}

var fieldRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// submitUnionPayForm posts the auto-submitting form to the sandbox gateway,
// as the browser would, and returns the order number.
func submitUnionPayForm(t *testing.T, c *client, body string) string {
	t.Helper()
	action := regexp.MustCompile(`<form id="unionpay-form" method="post" action="([^"]+)"`).FindStringSubmatch(body)
	if action == nil {
		t.Fatalf("no UnionPay form:\n%.2000s", body)
	}
	form := url.Values{}
	body = body[strings.Index(body, `id="unionpay-form"`):]
	body = body[:strings.Index(body, "</form>")]
	for _, m := range fieldRe.FindAllStringSubmatch(body, -1) {
		form.Set(unescape(m[1]), unescape(m[2]))
	}
	u := unescape(action[1])
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p := c.do(req); p.Status != 200 {
		t.Fatalf("gateway: %d\n%.1500s", p.Status, p.Body)
	}
	return form.Get("orderId")
}

func unescape(s string) string { return html.UnescapeString(s) }

func payWithHelper(t *testing.T, base, orderNo, card, phone, want string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"order_no": orderNo, "card_no": card, "pin": "123456", "phone": phone, "sms_code": "111111"})
	resp, err := http.Post(base+"/sandbox/test-helpers/unionpay/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		RespCode string `json:"resp_code"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if out.RespCode != want {
		t.Fatalf("helper pay: %s, want %s", out.RespCode, want)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestFormPostsRedirect: every form a student posts is answered with a
// redirect to a page (post/redirect/get), refused or not, so that Back and
// reload never post it again; the answer's words travel in a flash that
// only this server can write and that shows once.
func TestFormPostsRedirect(t *testing.T) {
	srv := boot(t)
	base := "/s/" + school
	c := newClient(t, srv.URL)
	p := c.ready(studentNo(1))
	tok, ids := csrf(t, p.Body), items(t, p.Body)
	nf := c.noFollow()
	lp := newClient(t, srv.URL)
	lpage := lp.get(base + "/login")
	for _, tc := range []struct {
		name   string
		c      *client
		path   string
		form   url.Values
		to     string // where the redirect goes
		status int    // what that page then answers
		says   string
	}{
		{"a wrong password", lp.noFollow(), base + "/login", url.Values{"csrf": {csrf(t, lpage.Body)}, "student_no": {studentNo(2)}, "password": {"wrong-password"}},
			base + "/login", http.StatusUnauthorized, "学号或密码错误"},
		{"a login without its token", newClient(t, srv.URL).noFollow(), base + "/login", url.Values{"student_no": {studentNo(2)}, "password": {"x"}},
			base + "/login", http.StatusForbidden, "页面已过期"},
		{"a password change with two different new passwords", nf, base + "/password", url.Values{"csrf": {tok}, "old_password": {newPassword},
			"new_password": {"abc12345x"}, "confirm_password": {"abc12345y"}}, base + "/password", 422, "两次输入的新密码不一致"},
		{"a post without the session's token", nf, base + "/checkout", url.Values{"item": {ids["学费"]}},
			base + "/fees", http.StatusForbidden, "页面已过期或请求来源不明"},
		{"a selection of two projects", nf, base + "/checkout", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"], ids["教材费"]}},
			base + "/fees?check=1&select=", 422, billing.SeedOneProject},
		{"an allowed selection", nf, base + "/checkout", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}},
			base + "/checkout?items=", http.StatusOK, "支付信息"},
		{"an unknown channel", nf, base + "/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"bitcoin"}},
			base + "/checkout?", 422, "请选择支付方式"},
		{"a new UnionPay order", nf, base + "/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"unionpay"}},
			base + "/orders/CP", http.StatusOK, `id="unionpay-form"`},
		{"the same items again", nf, base + "/pay", url.Values{"csrf": {tok}, "item": {ids["学费"], ids["住宿费"]}, "channel": {"wechat"}},
			base + "/fees?check=1&select=", http.StatusConflict, "「学费、住宿费」已在待支付订单"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.post(tc.path, tc.form)
			loc := r.Header.Get("Location")
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, tc.to) {
				t.Fatalf("POST %s: %d to %q; want 303 to %s…\n%.800s", tc.path, r.Status, loc, tc.to, r.Body)
			}
			follow := &client{t: t, base: srv.URL, hc: &http.Client{Jar: tc.c.hc.Jar, Timeout: 20 * time.Second}}
			g := follow.get(loc)
			if g.Status != tc.status || !strings.Contains(html.UnescapeString(g.Body), tc.says) {
				t.Fatalf("GET %s: %d; want %d with %q\n%.2500s", loc, g.Status, tc.status, tc.says, g.Body)
			}
			if tc.status >= 400 {
				if again := follow.get(loc); strings.Contains(again.Body, `role="alert"`) && !strings.Contains(loc, "check=1") {
					t.Errorf("the flash showed twice:\n%.800s", again.Body)
				}
			}
		})
	}
	t.Run("a flash another site wrote is not shown", func(t *testing.T) {
		jar := c.hc.Jar
		u := mustURL(srv.URL + base + "/")
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"s":422,"m":"请拨打 110-0000 领取退款"}`)) + ".bm90LXRoZS1tYWM"
		jar.SetCookies(u, []*http.Cookie{{Name: "campuspay_flash", Value: forged, Path: base + "/"}})
		if p := c.get(base + "/fees"); p.Status != 200 || strings.Contains(p.Body, "领取退款") {
			t.Fatalf("forged flash shown: %d\n%.1500s", p.Status, p.Body)
		}
	})
	t.Run("the fee board's check says the rules for a selection and holds nothing", func(t *testing.T) {
		cc := newClient(t, srv.URL)
		p := cc.ready(studentNo(3))
		ids := items(t, p.Body)
		var got struct {
			Total   string `json:"total"`
			Project int64  `json:"project"`
			Notes   []struct {
				Project int64   `json:"project"`
				Text    string  `json:"text"`
				Items   []int64 `json:"items"`
			} `json:"notes"`
		}
		r := cc.get(base + "/fees/check?items=" + ids["学费"] + "," + ids["住宿费"] + "," + ids["教材费"])
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil || r.Status != 200 {
			t.Fatalf("%d %s %v", r.Status, r.Body, err)
		}
		books, _ := strconv.ParseInt(ids["教材费"], 10, 64)
		if got.Total != "7520.00" || got.Project == 0 || len(got.Notes) != 1 || !strings.Contains(got.Notes[0].Text, billing.SeedOneProject) ||
			len(got.Notes[0].Items) != 1 || got.Notes[0].Items[0] != books || got.Notes[0].Project == got.Project {
			t.Fatalf("check: %+v", got)
		}
		if p := cc.get(base + "/fees"); strings.Contains(p.Body, `class="card open-orders"`) {
			t.Error("checking held something")
		}
	})
}
