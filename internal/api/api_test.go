package api_test

import (
	"campuspay/demo"
	"campuspay/internal/app/apptest"
	"campuspay/internal/store/storetest"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Demo data (demo/bills.csv): every student owes the fees project (学费
// and 住宿费 mandatory, 提档费 optional) and the extra project (optional
// items only). Student 2026010101's 学费 is 5800.00, 住宿费 1200.00.
const (
	feesProject  = "2026学年学费住宿费"
	extraProject = "2026学年代收费"
)

func TestErrorsAreOneJSONShapeWithChineseMessages(t *testing.T) {
	base := boot(t)
	fresh, must := login(t, base, "2026010001", initialPW)
	id1 := demo.IDLast6("2026010001")
	if !must {
		t.Fatal("a student on the initial password should be told to change it")
	}
	loginURL := base + "/api/v1/auth/student-login"
	cred := func(schoolCode, no, pw string) string {
		return mustJSON(map[string]string{"school_code": schoolCode, "student_no": no, "password": pw})
	}
	order := mustJSON(map[string]any{"item_ids": []int64{1}, "channel": "unionpay"})
	cases := []struct {
		name         string
		method, path string
		token, body  string
		status       int
		code         string
	}{
		{"bills without a token are unauthorized", "GET", "/api/v1/bills", "", "", 401, "unauthorized"},
		{"orders with a made-up token are unauthorized", "GET", "/api/v1/orders", "not-a-real-token", "", 401, "unauthorized"},
		{"a password change without a token is unauthorized", "POST", "/api/v1/me/password", "", mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword}), 401, "unauthorized"},
		{"a wrong password is bad credentials", "POST", "/api/v1/auth/student-login", "", cred(school, "2026010002", "222222"), 401, "bad_credentials"},
		{"an unknown student number is bad credentials", "POST", "/api/v1/auth/student-login", "", cred(school, "2099999999", initialPW), 401, "bad_credentials"},
		{"an unknown school is bad credentials too", "POST", "/api/v1/auth/student-login", "", cred("nosuchschool", "2026010002", initialPW), 401, "bad_credentials"},
		{"malformed JSON is an invalid request", "POST", "/api/v1/auth/student-login", "", `{"school_code":`, 422, "invalid_request"},
		{"an unknown field is an invalid request", "POST", "/api/v1/auth/student-login", "", `{"school_code":"cqjz","student_no":"2026010002","password":"x","admin":true}`, 422, "invalid_request"},
		{"a wrongly typed field is an invalid request", "POST", "/api/v1/auth/student-login", "", `{"school_code":1}`, 422, "invalid_request"},
		{"an unknown endpoint is a JSON 404", "GET", "/api/v1/no-such-endpoint", "", "", 404, "not_found"},
		{"an unknown endpoint with a token is a JSON 404", "POST", "/api/v1/orders/x/refund", fresh, "", 404, "not_found"},
		{"bills on the initial password must change it first", "GET", "/api/v1/bills", fresh, "", 403, "must_change_password"},
		{"creating an order on the initial password must change it first", "POST", "/api/v1/orders", fresh, order, 403, "must_change_password"},
		{"listing orders on the initial password must change it first", "GET", "/api/v1/orders", fresh, "", 403, "must_change_password"},
		{"an order's detail on the initial password must change it first", "GET", "/api/v1/orders/ABCDEFGH1234", fresh, "", 403, "must_change_password"},
		{"cancelling on the initial password must change it first", "POST", "/api/v1/orders/ABCDEFGH1234/cancel", fresh, "", 403, "must_change_password"},
		{"a wrong old password is refused", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": "654321", "new_password": newPassword, "id_card_last6": id1}), 422, "bad_old_password"},
		{"the first change without the ID number's last 6 is refused", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword}), 422, "identity_mismatch"},
		{"the first change with another ID number's last 6 is refused", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword, "id_card_last6": "000000"}), 422, "identity_mismatch"},
		{"a short new password is weak", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": "ab12", "id_card_last6": id1}), 422, "weak_password"},
		{"a common password is weak", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": "12345678", "id_card_last6": id1}), 422, "weak_password"},
		{"a new password containing the student number is weak", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": "x2026010001y", "id_card_last6": id1}), 422, "weak_password"},
		{"keeping the initial password is weak", "POST", "/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": initialPW, "id_card_last6": id1}), 422, "weak_password"},
		{"malformed JSON on a password change is an invalid request", "POST", "/api/v1/me/password", fresh, `[]`, 422, "invalid_request"},
	}
	messages := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			messages[c.name] = do(t, c.method, base+c.path, c.token, c.body).wantError(t, c.status, c.code)
		})
	}

	t.Run("an unknown school reads exactly like a wrong password", func(t *testing.T) {
		a := do(t, "POST", loginURL, "", cred("nosuchschool", "2026010004", initialPW)).wantError(t, 401, "bad_credentials")
		b := do(t, "POST", loginURL, "", cred(school, "2026010004", "999999")).wantError(t, 401, "bad_credentials")
		if a != b {
			t.Fatalf("unknown school says %q, wrong password says %q: the answer reveals which", a, b)
		}
	})

	t.Run("the initial-password token may change the password and then reach the bills", func(t *testing.T) {
		r := do(t, "POST", base+"/api/v1/me/password", fresh, mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword, "id_card_last6": id1}))
		if r.status != 200 || strings.TrimSpace(string(r.body)) != "{}" {
			t.Fatalf("change password: %d %s, want 200 {}", r.status, r.body)
		}
		if r := do(t, "GET", base+"/api/v1/bills", fresh, ""); r.status != 200 {
			t.Fatalf("bills after the change: %d %s", r.status, r.body)
		}
		if _, must := login(t, base, "2026010001", newPassword); must {
			t.Fatal("the new password still asks for a change")
		}
		do(t, "POST", loginURL, "", cred(school, "2026010001", initialPW)).wantError(t, 401, "bad_credentials")
	})
}

var orderNoRE = regexp.MustCompile(`^[A-Za-z0-9]{8,32}$`)

// integer reports whether a JSON number is an integer (fen, never yuan).
func integer(n json.Number) bool {
	_, err := strconv.ParseInt(string(n), 10, 64)
	return err == nil
}

func TestShapesOfAppendixA(t *testing.T) {
	base := boot(t)

	t.Run("student login answers a token and must_change_password", func(t *testing.T) {
		r := do(t, "POST", base+"/api/v1/auth/student-login", "", mustJSON(map[string]string{"school_code": school, "student_no": "2026010101", "password": initialPW}))
		var out map[string]any
		r.decode(t, &out)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if tok, ok := out["token"].(string); !ok || len(tok) < 16 {
			t.Fatalf("token %#v", out["token"])
		}
		if must, ok := out["must_change_password"].(bool); !ok || !must {
			t.Fatalf("must_change_password %#v, want true", out["must_change_password"])
		}
	})

	t.Run("regions list 500000 with the demo school, without a token", func(t *testing.T) {
		r := do(t, "GET", base+"/api/v1/regions", "", "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var out struct {
			Regions []struct {
				Code    string `json:"code"`
				Name    string `json:"name"`
				Schools []struct {
					Code string `json:"code"`
					Name string `json:"name"`
				} `json:"schools"`
			} `json:"regions"`
		}
		r.decode(t, &out)
		found := false
		for _, rg := range out.Regions {
			if rg.Code != "500000" {
				continue
			}
			if rg.Name != "重庆市" {
				t.Errorf("region 500000 named %q", rg.Name)
			}
			for _, s := range rg.Schools {
				if s.Code == school && s.Name != "" {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("no school %s under region 500000 in %s", school, r.body)
		}
	})

	tok := ready(t, base, "2026010101")
	other := ready(t, base, "2026010102")
	b := getBills(t, base, tok)

	t.Run("bills carry the student and projects of items in integer fen", func(t *testing.T) {
		r := do(t, "GET", base+"/api/v1/bills", tok, "")
		var raw struct {
			Student  map[string]any `json:"student"`
			Projects []struct {
				ID           json.Number      `json:"id"`
				Name         string           `json:"name"`
				SelectedLock *bool            `json:"selected_lock"`
				Items        []map[string]any `json:"items"`
			} `json:"projects"`
		}
		r.decode(t, &raw)
		for _, k := range []string{"id", "school_code", "student_no", "name"} {
			if _, ok := raw.Student[k]; !ok {
				t.Errorf("student lacks %q: %v", k, raw.Student)
			}
		}
		if b.Student.SchoolCode != school || b.Student.StudentNo != "2026010101" || b.Student.Name == "" || b.Student.ID == 0 {
			t.Errorf("student %+v", b.Student)
		}
		if len(raw.Projects) != 2 {
			t.Fatalf("%d projects, want 2: %s", len(raw.Projects), r.body)
		}
		for _, p := range raw.Projects {
			if p.SelectedLock == nil || p.Name == "" || !integer(p.ID) {
				t.Errorf("project %+v lacks id, name or selected_lock", p)
			}
			if len(p.Items) == 0 {
				t.Errorf("project %s has no items", p.Name)
			}
			for _, it := range p.Items {
				for _, k := range []string{"id", "amount", "paid_amount"} {
					if n, ok := it[k].(json.Number); !ok || !integer(n) {
						t.Errorf("item %v: %s is %#v, want an integer", it["name"], k, it[k])
					}
				}
				if _, ok := it["mandatory"].(bool); !ok {
					t.Errorf("item %v: mandatory %#v", it["name"], it["mandatory"])
				}
				if it["status"] != "unpaid" {
					t.Errorf("item %v: status %v, want unpaid", it["name"], it["status"])
				}
			}
		}
		want := map[string]struct {
			amount    int64
			mandatory bool
		}{"学费": {580000, true}, "住宿费": {120000, true}, "提档费": {5000, false}}
		for _, p := range b.Projects {
			if p.Name != feesProject {
				continue
			}
			for _, it := range p.Items {
				w, ok := want[it.Name]
				if !ok {
					continue
				}
				delete(want, it.Name)
				if it.Amount != w.amount || it.PaidAmount != 0 || it.Mandatory != w.mandatory {
					t.Errorf("%s: %+v, want amount %d mandatory %v paid 0", it.Name, it, w.amount, w.mandatory)
				}
			}
		}
		if len(want) != 0 {
			t.Errorf("items missing from %s: %v", feesProject, want)
		}
	})

	mandatory, mandatoryTotal := b.pick(feesProject, "学费", "住宿费")
	upgrade, _ := b.pick(feesProject, "提档费")
	books, _ := b.pick(extraProject, "教材费")
	othersItems, _ := getBills(t, base, other).pick(feesProject, "学费")
	if len(mandatory) != 2 || len(upgrade) != 1 || len(books) != 1 || len(othersItems) != 1 {
		t.Fatalf("demo bills not as expected: %v %v %v %v", mandatory, upgrade, books, othersItems)
	}
	create := func(t *testing.T, tok string, body map[string]any) reply {
		t.Helper()
		return do(t, "POST", base+"/api/v1/orders", tok, mustJSON(body))
	}

	refusals := []struct {
		name   string
		ids    []int64
		status int
		code   string
	}{
		{"an optional item before the mandatory ones is refused", upgrade, 422, "mandatory_first"},
		{"an optional item of the other project before the mandatory ones is refused", books, 422, "mandatory_first"},
		{"items of two projects in one order are refused", append(slices.Clone(mandatory), books...), 422, "one_project_per_order"},
		{"an item that does not exist is not payable", []int64{99999999}, 422, "item_not_payable"},
		{"another student's item is not payable", othersItems, 422, "item_not_payable"},
		{"an empty selection is refused", []int64{}, 422, "empty_selection"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			create(t, tok, map[string]any{"item_ids": c.ids, "channel": "unionpay"}).wantError(t, c.status, c.code)
		})
	}
	t.Run("a return_url outside the school's own paths, or that could split a signed field, is refused", func(t *testing.T) {
		own := base + "/s/" + school + "/return/unionpay"
		for _, u := range []string{"https://evil.example/return", base + ".evil.example/return", "//evil.example/", "javascript:alert(1)",
			own + "?from=app", own + "&orderId=CP20260101000000000001&txnAmt=1", own + "%26txnAmt=1", own + "#x",
			base + "/s/other/return/unionpay", base + "/s/" + school + "/../x", "http://user@" + strings.TrimPrefix(base, "http://") + "/m/"} {
			create(t, tok, map[string]any{"item_ids": mandatory, "channel": "unionpay", "return_url": u}).wantError(t, 422, "invalid_return_url")
		}
	})

	var unionNo string
	t.Run("a UnionPay order answers 201 with the form to post", func(t *testing.T) {
		ret := base + "/s/" + school + "/return/unionpay"
		r := create(t, tok, map[string]any{"item_ids": mandatory, "channel": "unionpay", "return_url": ret})
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var o struct {
			OrderNo   string `json:"order_no"`
			Status    string `json:"status"`
			Amount    int64  `json:"amount"`
			ExpiresAt string `json:"expires_at"`
			Items     []struct {
				ID     int64 `json:"id"`
				Amount int64 `json:"amount"`
			} `json:"items"`
			Pay struct {
				Type    string            `json:"type"`
				URL     string            `json:"url"`
				Fields  map[string]string `json:"fields"`
				CodeURL string            `json:"code_url"`
			} `json:"pay"`
		}
		r.decode(t, &o)
		if !orderNoRE.MatchString(o.OrderNo) {
			t.Errorf("order_no %q is not 8–32 letters and digits", o.OrderNo)
		}
		if o.Status != "paying" || o.Amount != mandatoryTotal {
			t.Errorf("status %q amount %d, want paying %d", o.Status, o.Amount, mandatoryTotal)
		}
		exp, err := time.Parse(time.RFC3339, o.ExpiresAt)
		if err != nil || !exp.After(time.Now()) {
			t.Errorf("expires_at %q: %v (want RFC 3339, in the future)", o.ExpiresAt, err)
		}
		var ids []int64
		var sum int64
		for _, it := range o.Items {
			ids = append(ids, it.ID)
			sum += it.Amount
		}
		slices.Sort(ids)
		if want := slices.Sorted(slices.Values(mandatory)); !slices.Equal(ids, want) || sum != o.Amount {
			t.Errorf("items %v summing to %d, want %v summing to %d", ids, sum, want, o.Amount)
		}
		if o.Pay.Type != "form_post" || !strings.HasPrefix(o.Pay.URL, "http") || len(o.Pay.Fields) == 0 {
			t.Errorf("pay %+v, want a form_post with url and fields", o.Pay)
		}
		if o.Pay.Fields["orderId"] != o.OrderNo || o.Pay.Fields["frontUrl"] != ret {
			t.Errorf("form orderId %q frontUrl %q, want %q %q", o.Pay.Fields["orderId"], o.Pay.Fields["frontUrl"], o.OrderNo, ret)
		}
		unionNo = o.OrderNo
	})
	if unionNo == "" {
		t.Fatal("no order to go on with")
	}

	t.Run("items held by an open order are locked", func(t *testing.T) {
		create(t, tok, map[string]any{"item_ids": mandatory, "channel": "wechat"}).wantError(t, 409, "items_locked")
	})

	t.Run("the order list shows the order", func(t *testing.T) {
		r := do(t, "GET", base+"/api/v1/orders", tok, "")
		var out struct {
			Orders []map[string]any `json:"orders"`
		}
		r.decode(t, &out)
		if r.status != 200 || len(out.Orders) != 1 {
			t.Fatalf("%d %s, want one order", r.status, r.body)
		}
		o := out.Orders[0]
		for _, k := range []string{"order_no", "status", "amount", "channel", "created_at", "paid_at"} {
			if _, ok := o[k]; !ok {
				t.Errorf("listed order lacks %q: %v", k, o)
			}
		}
		if o["order_no"] != unionNo || o["status"] != "paying" || o["channel"] != "unionpay" || o["amount"] != json.Number(strconv.FormatInt(mandatoryTotal, 10)) || o["paid_at"] != nil {
			t.Errorf("listed %v", o)
		}
		if _, err := time.Parse(time.RFC3339, o["created_at"].(string)); err != nil {
			t.Errorf("created_at: %v", err)
		}
	})

	t.Run("an order's detail is its owner's only", func(t *testing.T) {
		r := do(t, "GET", base+"/api/v1/orders/"+unionNo, tok, "")
		var o map[string]any
		r.decode(t, &o)
		if r.status != 200 || o["order_no"] != unionNo || o["status"] != "paying" || o["channel"] != "unionpay" {
			t.Fatalf("own order: %d %s", r.status, r.body)
		}
		if _, ok := o["items"].([]any); !ok {
			t.Errorf("detail lacks items: %s", r.body)
		}
		do(t, "GET", base+"/api/v1/orders/"+unionNo, other, "").wantError(t, 404, "order_not_found")
		do(t, "POST", base+"/api/v1/orders/"+unionNo+"/cancel", other, "").wantError(t, 404, "order_not_found")
		do(t, "GET", base+"/api/v1/orders/NOSUCHORDER123", tok, "").wantError(t, 404, "order_not_found")
	})

	t.Run("cancelling answers the order closed and frees its items", func(t *testing.T) {
		r := do(t, "POST", base+"/api/v1/orders/"+unionNo+"/cancel", tok, "")
		var out map[string]any
		r.decode(t, &out)
		if r.status != 200 || out["order_no"] != unionNo || out["status"] != "closed" {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		var o struct {
			Status string `json:"status"`
		}
		do(t, "GET", base+"/api/v1/orders/"+unionNo, tok, "").decode(t, &o)
		if o.Status != "closed" {
			t.Fatalf("after cancel the order is %q", o.Status)
		}
	})

	t.Run("a WeChat order answers 201 with a code_url", func(t *testing.T) {
		r := create(t, tok, map[string]any{"item_ids": mandatory, "channel": "wechat"})
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var o struct {
			OrderNo string         `json:"order_no"`
			Status  string         `json:"status"`
			Amount  int64          `json:"amount"`
			Pay     map[string]any `json:"pay"`
		}
		r.decode(t, &o)
		if !orderNoRE.MatchString(o.OrderNo) || o.OrderNo == unionNo || o.Status != "paying" || o.Amount != mandatoryTotal {
			t.Errorf("order %+v", o)
		}
		if cu, _ := o.Pay["code_url"].(string); o.Pay["type"] != "qr" || !strings.HasPrefix(cu, "weixin://") {
			t.Errorf("pay %v, want qr with a weixin:// code_url", o.Pay)
		}
	})

	t.Run("an unknown channel is refused", func(t *testing.T) {
		create(t, other, map[string]any{"item_ids": othersItems, "channel": "alipay"}).wantError(t, 422, "invalid_channel")
	})
}

// TestWrongPasswordsBackOff: a few typos cost nothing, then the same
// client waits longer after each wrong password (login_locked with
// Retry-After), even for the right password; another student, and the
// same student from another address, are not held up; an unknown student
// number gets exactly the same answers, so the lock tells nothing.
func TestWrongPasswordsBackOff(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	start := time.Now()
	_, move := storetest.FixedClock(srv.Store, start)
	url := base + "/api/v1/auth/student-login"
	try := func(no, pw string) reply {
		return do(t, "POST", url, "", mustJSON(map[string]string{"school_code": school, "student_no": no, "password": pw}))
	}
	for _, no := range []string{"2026010003", "2099999999"} {
		t.Run("student "+no, func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				try(no, "wrong"+strconv.Itoa(i)).wantError(t, 401, "bad_credentials")
			}
			locked := try(no, "wrong4")
			locked.wantError(t, 401, "bad_credentials") // the 4th is judged, then the wait begins
			locked = try(no, initialPW)
			locked.wantError(t, 429, "login_locked")
			var e struct {
				Error struct {
					RetryAfter int `json:"retry_after_seconds"`
				} `json:"error"`
			}
			locked.decode(t, &e)
			if e.Error.RetryAfter != 1 {
				t.Fatalf("retry_after_seconds %d after the first failure past the typos, want 1", e.Error.RetryAfter)
			}
			if h := locked.header.Get("Retry-After"); h != "1" {
				t.Fatalf("Retry-After header %q, want 1", h)
			}
			move(1100 * time.Millisecond)
			try(no, "wrong5").wantError(t, 401, "bad_credentials")
			try(no, initialPW).wantError(t, 429, "login_locked") // now 2 s
			move(2100 * time.Millisecond)
		})
	}
	t.Run("after the wait the right password works", func(t *testing.T) {
		if _, must := login(t, base, "2026010003", initialPW); !must {
			t.Fatal("want must_change_password")
		}
	})
	t.Run("another student is not held up", func(t *testing.T) {
		if _, must := login(t, base, "2026010004", initialPW); !must {
			t.Fatal("want must_change_password")
		}
	})
}
