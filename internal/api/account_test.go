package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"campuspay/internal/app/apptest"
	"campuspay/internal/sms"
	"campuspay/internal/store/storetest"
)

// retryOf reads error.retry_after_seconds.
func (r reply) retryOf(t *testing.T) int {
	t.Helper()
	var e struct {
		Error struct {
			RetryAfter int `json:"retry_after_seconds"`
		} `json:"error"`
	}
	r.decode(t, &e)
	if e.Error.RetryAfter <= 0 {
		t.Fatalf("no retry_after_seconds in %s", r.body)
	}
	if h := r.header.Get("Retry-After"); h != fmt.Sprint(e.Error.RetryAfter) {
		t.Errorf("Retry-After header %q, body says %d", h, e.Error.RetryAfter)
	}
	return e.Error.RetryAfter
}

// TestSMSOverTheAPI: R4 end to end. The 6th code of a day is refused with
// sms_daily_limit until 24 h after the first; a code is good once, for 5
// minutes, and dies after 5 wrong tries.
func TestSMSOverTheAPI(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	_, move := storetest.FixedClock(srv.Store, time.Now())
	send := func(phone string) reply {
		return do(t, "POST", base+"/api/v1/sms", "", mustJSON(map[string]string{"phone": phone, "purpose": sms.PurposeLogin}))
	}
	login := func(phone, code string) reply {
		return do(t, "POST", base+"/api/v1/auth/sms-login", "", mustJSON(map[string]string{"phone": phone, "code": code}))
	}
	lastCode := func(phone string) string {
		c, ok := srv.SMSOutbox.LastCode(phone, sms.PurposeLogin)
		if !ok {
			t.Fatalf("no code for %s", phone)
		}
		return c
	}

	t.Run("the 6th SMS of a day is refused with sms_daily_limit until 24 h after the first", func(t *testing.T) {
		const phone = "13811110001"
		var elapsed time.Duration
		for i := 1; i <= 5; i++ {
			r := send(phone)
			if r.status != 200 {
				t.Fatalf("send %d: %d %s", i, r.status, r.body)
			}
			var out struct {
				RetryAfter int `json:"retry_after_seconds"`
			}
			r.decode(t, &out)
			if i < 5 && out.RetryAfter != 60 {
				t.Errorf("send %d: retry_after_seconds %d, want 60", i, out.RetryAfter)
			}
			move(61 * time.Second)
			elapsed += 61 * time.Second
		}
		r := send(phone)
		r.wantError(t, 429, sms.CodeDailyLimit)
		got := time.Duration(r.retryOf(t)) * time.Second
		if want := 24*time.Hour - elapsed; got < want || got > want+time.Second {
			t.Fatalf("retry_after %v, want %v: 24 h after the first send", got, want)
		}
		move(got)
		if r := send(phone); r.status != 200 {
			t.Fatalf("after the wait: %d %s", r.status, r.body)
		}
	})

	t.Run("two sends within 60 s: sms_too_frequent", func(t *testing.T) {
		const phone = "13811110002"
		send(phone)
		move(20 * time.Second)
		r := send(phone)
		r.wantError(t, 429, sms.CodeTooFrequent)
		if got := r.retryOf(t); got != 40 {
			t.Errorf("retry_after_seconds %d, want 40", got)
		}
	})

	t.Run("a code used once is refused the second time", func(t *testing.T) {
		const phone = "13811110003"
		send(phone)
		c := lastCode(phone)
		if r := login(phone, c); r.status != 200 {
			t.Fatalf("first use: %d %s", r.status, r.body)
		}
		login(phone, c).wantError(t, 401, "bad_code")
	})

	t.Run("a code older than 5 minutes is refused", func(t *testing.T) {
		const phone = "13811110004"
		send(phone)
		c := lastCode(phone)
		move(5*time.Minute + time.Second)
		login(phone, c).wantError(t, 401, "bad_code")
	})

	t.Run("the right code on the 6th try, after 5 wrong ones, is refused", func(t *testing.T) {
		const phone = "13811110005"
		send(phone)
		c := lastCode(phone)
		for range 5 {
			r := login(phone, wrongOf(c))
			if r.status == 429 { // the client's back-off: wait it out
				move(time.Duration(r.retryOf(t)) * time.Second)
				r = login(phone, wrongOf(c))
			}
			r.wantError(t, 401, "bad_code")
		}
		move(5 * time.Second)
		r := login(phone, c)
		if r.status == 429 {
			move(time.Duration(r.retryOf(t)) * time.Second)
			r = login(phone, c)
		}
		r.wantError(t, 401, "bad_code")
	})

	t.Run("malformed input", func(t *testing.T) {
		send("12345").wantError(t, 422, "invalid_phone")
		do(t, "POST", base+"/api/v1/sms", "", mustJSON(map[string]string{"phone": "13811110009", "purpose": "reset"})).wantError(t, 422, "invalid_purpose")
		do(t, "POST", base+"/api/v1/sms", "", mustJSON(map[string]string{"phone": "13811110009", "purpose": sms.PurposeChangePhone})).wantError(t, 401, "unauthorized")
	})

	t.Run("GET /dev/sms lists the codes sent to a phone", func(t *testing.T) {
		r := do(t, "GET", base+"/dev/sms?phone=13811110003", "", "")
		var out struct {
			Messages []struct {
				Phone, Code, Purpose string
				SentAt               time.Time `json:"sent_at"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Messages) != 1 ||
			out.Messages[0].Phone != "13811110003" || len(out.Messages[0].Code) != 6 || out.Messages[0].Purpose != "login" {
			t.Fatalf("/dev/sms: %d %s", r.status, r.body)
		}
	})
}

// TestAccountsOverTheAPI: passwords, the phone change that ends every old
// token, bindings refused and throttled, and the parent's view.
func TestAccountsOverTheAPI(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	_, move := storetest.FixedClock(srv.Store, time.Now())

	t.Run("password login, and a phone change ends every old token", func(t *testing.T) {
		tok := phoneUser(t, srv, "13822220001")
		var l struct{ Token string }
		do(t, "POST", base+"/api/v1/auth/login", "", mustJSON(map[string]string{"phone": "13822220001", "password": newPassword})).decode(t, &l)
		if l.Token == "" {
			t.Fatal("no token from phone + password")
		}
		code := sendCode(t, srv, tok, "13822220002", sms.PurposeChangePhone)
		r := do(t, "PUT", base+"/api/v1/me/phone", tok, mustJSON(map[string]string{"new_phone": "13822220002", "code": code}))
		if r.status != 200 {
			t.Fatalf("change phone: %d %s", r.status, r.body)
		}
		var nt struct{ Token string }
		r.decode(t, &nt)
		for _, old := range []string{tok, l.Token} {
			do(t, "GET", base+"/api/v1/me", old, "").wantError(t, 401, "unauthorized")
		}
		var me struct{ Phone string }
		do(t, "GET", base+"/api/v1/me", nt.Token, "").decode(t, &me)
		if me.Phone != "13822220002" {
			t.Fatalf("phone after the change %q", me.Phone)
		}
		do(t, "POST", base+"/api/v1/auth/login", "", mustJSON(map[string]string{"phone": "13822220001", "password": newPassword})).wantError(t, 401, "bad_credentials")
		if r := do(t, "POST", base+"/api/v1/auth/login", "", mustJSON(map[string]string{"phone": "13822220002", "password": newPassword})); r.status != 200 {
			t.Fatalf("login with the new phone: %d %s", r.status, r.body)
		}
	})

	t.Run("a wrong binding is refused and then throttled", func(t *testing.T) {
		tok := phoneUser(t, srv, "13822220003")
		good := rollEntry(t, srv, "2026010211")
		bad := map[string]string{"school_code": school, "student_no": good["student_no"], "name": "冒名顶替", "id_card_last6": good["id_card_last6"]}
		unknown := map[string]string{"school_code": school, "student_no": "2099999999", "name": good["name"], "id_card_last6": good["id_card_last6"]}
		noID := map[string]string{"school_code": school, "student_no": good["student_no"], "name": good["name"]}
		do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(bad)).wantError(t, 422, "binding_mismatch")
		do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(unknown)).wantError(t, 422, "binding_mismatch")
		do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(noID)).wantError(t, 422, "id_card_required")
		do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(bad)).wantError(t, 422, "binding_mismatch")
		r := do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(good))
		r.wantError(t, 429, "too_many_requests")
		move(time.Duration(r.retryOf(t)) * time.Second)
		if r := do(t, "POST", base+"/api/v1/bindings", tok, mustJSON(good)); r.status != 201 {
			t.Fatalf("the right details after the wait: %d %s", r.status, r.body)
		}
	})

	t.Run("a parent with two children sees both, pays for each, and sees each child's records", func(t *testing.T) {
		tok := phoneUser(t, srv, "13822220004")
		kids := []int64{bindStudent(t, srv, tok, "2026010221"), bindStudent(t, srv, tok, "2026010222")}
		var list struct{ Students []struct{ ID int64 } }
		do(t, "GET", base+"/api/v1/bindings", tok, "").decode(t, &list)
		if len(list.Students) != 2 || list.Students[0].ID != kids[0] || list.Students[1].ID != kids[1] {
			t.Fatalf("bindings %+v, want %v", list, kids)
		}
		for _, kid := range kids {
			b := billsOf(t, base, tok, qs(kid))
			if b.Student.ID != kid {
				t.Fatalf("bills for %d show student %d", kid, b.Student.ID)
			}
			ids, total := b.pick(feesProject, "学费", "住宿费")
			r := do(t, "POST", base+"/api/v1/orders"+qs(kid), tok, mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay", "device": "phone"}))
			if r.status != 201 {
				t.Fatalf("order for %d: %d %s", kid, r.status, r.body)
			}
			var o struct {
				OrderNo string `json:"order_no"`
				Amount  int64
				Pay     struct {
					URL    string
					Fields map[string]string
				}
			}
			r.decode(t, &o)
			if o.Amount != total || o.Pay.Fields["channelType"] != "08" {
				t.Fatalf("order %+v: amount %d want %d, channelType want 08 (phone)", o, o.Amount, total)
			}
			if fu := o.Pay.Fields["frontUrl"]; fu != fmt.Sprintf("%s/m/s/%d/return/unionpay", base, kid) {
				t.Errorf("frontUrl %q, want the mobile app's return for the child", fu)
			}
			payUnionPay(t, base, tok, qs(kid), o.OrderNo, o.Pay.Fields, o.Pay.URL)
			var os struct {
				Orders []struct {
					OrderNo string `json:"order_no"`
					Status  string
				}
			}
			do(t, "GET", base+"/api/v1/orders"+qs(kid), tok, "").decode(t, &os)
			if len(os.Orders) != 1 || os.Orders[0].OrderNo != o.OrderNo || os.Orders[0].Status != "paid" {
				t.Fatalf("records of %d: %+v", kid, os)
			}
		}
	})
}

// TestNoAccountSeesAnotherFamily: every route that takes a student or an
// order, tried with another family's id, answers 404 and no data.
func TestNoAccountSeesAnotherFamily(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	mine := phoneUser(t, srv, "13833330001")
	theirs := phoneUser(t, srv, "13833330002")
	myKid := bindStudent(t, srv, mine, "2026010231")
	theirKid := bindStudent(t, srv, theirs, "2026010232")
	b := billsOf(t, base, theirs, qs(theirKid))
	ids, _ := b.pick(feesProject, "学费", "住宿费")
	var their struct {
		OrderNo string `json:"order_no"`
	}
	do(t, "POST", base+"/api/v1/orders"+qs(theirKid), theirs, mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay"})).decode(t, &their)
	// A student who logs in on the web with their own token.
	webTok := ready(t, base, "2026010233")

	cases := []struct {
		name, method, path, token, body string
		code                            string
	}{
		{"bills of their child", "GET", "/api/v1/bills" + qs(theirKid), mine, "", "student_not_found"},
		{"orders of their child", "GET", "/api/v1/orders" + qs(theirKid), mine, "", "student_not_found"},
		{"an order for their child", "POST", "/api/v1/orders" + qs(theirKid), mine, mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay"}), "student_not_found"},
		{"their order through my child", "GET", "/api/v1/orders/" + their.OrderNo + qs(myKid), mine, "", "order_not_found"},
		{"their order through my only child", "GET", "/api/v1/orders/" + their.OrderNo, mine, "", "order_not_found"},
		{"their order through their child's id", "GET", "/api/v1/orders/" + their.OrderNo + qs(theirKid), mine, "", "student_not_found"},
		{"cancelling their order through my child", "POST", "/api/v1/orders/" + their.OrderNo + "/cancel" + qs(myKid), mine, "", "order_not_found"},
		{"cancelling their order through their child's id", "POST", "/api/v1/orders/" + their.OrderNo + "/cancel" + qs(theirKid), mine, "", "student_not_found"},
		{"unbinding their child", "DELETE", fmt.Sprintf("/api/v1/bindings/%d", theirKid), mine, "", "student_not_found"},
		{"a student id that is not a number", "GET", "/api/v1/bills?student=abc", mine, "", "student_not_found"},
		{"a web student's token naming their child", "GET", "/api/v1/bills" + qs(theirKid), webTok, "", "student_not_found"},
		{"a web student's token on their order", "GET", "/api/v1/orders/" + their.OrderNo, webTok, "", "order_not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, base+c.path, c.token, c.body)
			r.wantError(t, 404, c.code)
			for _, leak := range []string{their.OrderNo, `"projects"`, `"orders"`, `"items"`, `"student"`} {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("the answer leaks %q: %s", leak, r.body)
				}
			}
		})
	}
	t.Run("their order is still open and their binding still there", func(t *testing.T) {
		var o struct{ Status string }
		do(t, "GET", base+"/api/v1/orders/"+their.OrderNo, theirs, "").decode(t, &o)
		if o.Status != "paying" {
			t.Errorf("their order is %q after my tries, want paying", o.Status)
		}
		var list struct{ Students []struct{ ID int64 } }
		do(t, "GET", base+"/api/v1/bindings", theirs, "").decode(t, &list)
		if len(list.Students) != 1 || list.Students[0].ID != theirKid {
			t.Errorf("their bindings %+v", list)
		}
	})
	t.Run("account routes refuse a web student's token", func(t *testing.T) {
		do(t, "GET", base+"/api/v1/bindings", webTok, "").wantError(t, 403, "account_required")
		do(t, "GET", base+"/api/v1/me", webTok, "").wantError(t, 403, "account_required")
	})
}
