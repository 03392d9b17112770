package api_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"campuspay/demo"
	"campuspay/internal/app"
	"campuspay/internal/sms"
)

// sendCode asks for a code to phone and returns it, read from the dev outbox.
func sendCode(t *testing.T, srv *app.Server, token, phone, purpose string) string {
	t.Helper()
	r := do(t, "POST", srv.URL+"/api/v1/sms", token, mustJSON(map[string]string{"phone": phone, "purpose": purpose}))
	if r.status != 200 {
		t.Fatalf("sms to %s: %d %s", phone, r.status, r.body)
	}
	c, ok := srv.SMSOutbox.LastCode(phone, purpose)
	if !ok {
		t.Fatalf("no %s code in the outbox for %s", purpose, phone)
	}
	return c
}

// phoneUser signs a phone up by SMS and sets its password; it returns the
// account token.
func phoneUser(t *testing.T, srv *app.Server, phone string) string {
	t.Helper()
	code := sendCode(t, srv, "", phone, sms.PurposeLogin)
	r := do(t, "POST", srv.URL+"/api/v1/auth/sms-login", "", mustJSON(map[string]string{"phone": phone, "code": code}))
	if r.status != 200 {
		t.Fatalf("sms-login %s: %d %s", phone, r.status, r.body)
	}
	var out struct {
		Token         string `json:"token"`
		NeedsPassword bool   `json:"needs_password"`
	}
	r.decode(t, &out)
	if !out.NeedsPassword {
		t.Fatalf("a new account does not need a password: %s", r.body)
	}
	r = do(t, "POST", srv.URL+"/api/v1/me/password", out.Token, mustJSON(map[string]string{"new_password": newPassword}))
	if r.status != 200 {
		t.Fatalf("set password %s: %d %s", phone, r.status, r.body)
	}
	var tok struct {
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	return tok.Token
}

// rollEntry is a demo student's binding request.
func rollEntry(t *testing.T, srv *app.Server, no string) map[string]string {
	t.Helper()
	ctx := context.Background()
	sc, err := srv.Store.SchoolByCode(ctx, school)
	if err != nil {
		t.Fatal(err)
	}
	st, err := srv.Store.StudentByNo(ctx, sc.ID, no)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"school_code": school, "student_no": no, "name": st.Name, "id_card_last6": demo.IDLast6(no)}
}

// bindStudent binds a demo student to an account and returns its id.
func bindStudent(t *testing.T, srv *app.Server, token, no string) int64 {
	t.Helper()
	r := do(t, "POST", srv.URL+"/api/v1/bindings", token, mustJSON(rollEntry(t, srv, no)))
	if r.status != 201 {
		t.Fatalf("bind %s: %d %s", no, r.status, r.body)
	}
	var out struct {
		Student struct {
			ID int64 `json:"id"`
		} `json:"student"`
	}
	r.decode(t, &out)
	return out.Student.ID
}

func qs(id int64) string { return "?student=" + strconv.FormatInt(id, 10) }

// billsOf reads GET /api/v1/bills with a query (e.g. ?student=ID).
func billsOf(t *testing.T, base, tok, query string) bills {
	t.Helper()
	r := do(t, "GET", base+"/api/v1/bills"+query, tok, "")
	if r.status != 200 {
		t.Fatalf("bills%s: %d %s", query, r.status, r.body)
	}
	var b bills
	r.decode(t, &b)
	return b
}

// payUnionPay posts an order's form to the sandbox gateway, as the payer's
// browser does, pays it with the ICBC test card through the test helper,
// and waits until the platform has the order paid.
func payUnionPay(t *testing.T, base, tok, query, orderNo string, fields map[string]string, action string) {
	t.Helper()
	vals := url.Values{}
	for k, v := range fields {
		vals.Set(k, v)
	}
	resp, err := httpClient.PostForm(action, vals)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("front form: %d", resp.StatusCode)
	}
	r := do(t, "POST", base+"/sandbox/test-helpers/unionpay/pay", "", mustJSON(map[string]string{"order_no": orderNo,
		"card_no": "6222021000000000009", "pin": "123456", "phone": "13800000001", "sms_code": "111111"}))
	if r.status != 200 || !strings.Contains(string(r.body), `"00"`) {
		t.Fatalf("sandbox pay: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var o struct{ Status string }
		do(t, "GET", base+"/api/v1/orders/"+orderNo+query, tok, "").decode(t, &o)
		if o.Status == "paid" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s 20 s after it was paid", orderNo, o.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
