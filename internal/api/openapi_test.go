package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"campuspay/demo"
	"campuspay/internal/api"
	"campuspay/internal/app/apptest"
	"campuspay/internal/sms"
)

// specClient sends requests through the OpenAPI document: each request
// must be a documented operation in its documented shape, and each
// answer must have a documented status and body; it records what it saw.
type specClient struct {
	base   string
	router routers.Router
	seen   map[string][]int // "POST /orders" → statuses answered
}

var validation = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}

func (c *specClient) call(t *testing.T, method, path, token, body string, header ...string) reply {
	t.Helper()
	newReq := func() *http.Request {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, c.base+"/api/v1"+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return req
	}
	req := newReq()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not an operation of the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validation}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("%s %s: the request does not match the document: %v", method, path, err)
	}
	resp, err := httpClient.Do(newReq())
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: validation}
	if err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(b)); err != nil {
		t.Errorf("%s %s answered %d in a shape the document does not give: %v\n%s", method, path, resp.StatusCode, err, b)
	}
	key := route.Method + " " + route.Path
	c.seen[key] = append(c.seen[key], resp.StatusCode)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// want fails unless r has status.
func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// TestOpenAPIDocument validates the served document with kin-openapi,
// holds it against every route the handler registers (both ways), then
// walks every documented operation against a booted server: each request
// and each answer, success or error, is checked against the document.
func TestOpenAPIDocument(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	raw := do(t, "GET", base+"/api/v1/openapi.json", "", "")
	if raw.status != 200 || !strings.HasPrefix(raw.header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %q", raw.status, raw.header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw.body)
	if err != nil {
		t.Fatalf("the document does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("openapi %q servers %v, want 3.x on /api/v1", doc.OpenAPI, doc.Servers)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, p := range api.Routes() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("route %q has no method", p)
			continue
		}
		served[method+" "+strings.TrimPrefix(path, "/api/v1")] = true
	}
	t.Run("every route the handler serves is documented", func(t *testing.T) {
		for r := range served {
			if !documented[r] {
				t.Errorf("%s is served but not documented", r)
			}
		}
	})
	t.Run("every documented operation is a route of the handler", func(t *testing.T) {
		for r := range documented {
			if !served[r] {
				t.Errorf("%s is documented but not served", r)
			}
		}
	})

	doc.Servers = openapi3.Servers{{URL: base + "/api/v1"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &specClient{base: base, router: router, seen: map[string][]int{}}

	t.Run("the walk", func(t *testing.T) {
		c.call(t, "GET", "/openapi.json", "", "").want(t, 200)
		c.call(t, "GET", "/regions", "", "").want(t, 200)

		// A student on the web login's token.
		const no = "2026010201"
		stu := c.call(t, "POST", "/auth/student-login", "", mustJSON(map[string]string{"school_code": school, "student_no": no, "password": initialPW})).want(t, 200)
		var lg struct{ Token string }
		stu.decode(t, &lg)
		c.call(t, "GET", "/bills", lg.Token, "").want(t, 403)
		c.call(t, "POST", "/me/password", lg.Token, mustJSON(map[string]string{"old_password": initialPW, "new_password": newPassword, "id_card_last6": demo.IDLast6(no)})).want(t, 200)
		var b bills
		c.call(t, "GET", "/bills", lg.Token, "").want(t, 200).decode(t, &b)
		ids, _ := b.pick(feesProject, "学费", "住宿费")
		var o struct {
			OrderNo string `json:"order_no"`
		}
		c.call(t, "POST", "/orders", lg.Token, mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay"}), "Idempotency-Key", "walk-1").want(t, 201).decode(t, &o)
		c.call(t, "POST", "/orders", lg.Token, mustJSON(map[string]any{"item_ids": ids, "channel": "wechat"})).want(t, 409)
		c.call(t, "GET", "/orders", lg.Token, "").want(t, 200)
		c.call(t, "GET", "/orders/"+o.OrderNo+"?pay=1", lg.Token, "").want(t, 200)
		c.call(t, "GET", "/orders/NOSUCHORDER1", lg.Token, "").want(t, 404)
		c.call(t, "POST", "/orders/"+o.OrderNo+"/cancel", lg.Token, "").want(t, 200)
		// Paid by WeChat through the sandbox: the receipt, as JSON and PDF;
		// the cancelled order has none.
		var wo struct {
			OrderNo string `json:"order_no"`
			Pay     struct {
				CodeURL string `json:"code_url"`
			} `json:"pay"`
		}
		c.call(t, "POST", "/orders", lg.Token, mustJSON(map[string]any{"item_ids": ids, "channel": "wechat"})).want(t, 201).decode(t, &wo)
		if r := do(t, "POST", base+"/sandbox/test-helpers/wechat/pay", "", mustJSON(map[string]string{"code_url": wo.Pay.CodeURL})); r.status != 200 {
			t.Fatalf("sandbox pay: %d %s", r.status, r.body)
		}
		for i := 0; ; i++ {
			var got struct{ Status string }
			c.call(t, "GET", "/orders/"+wo.OrderNo+"?wait_seconds=5", lg.Token, "").want(t, 200).decode(t, &got)
			if got.Status == "paid" {
				break
			}
			if i == 5 {
				t.Fatalf("order %s still %s", wo.OrderNo, got.Status)
			}
		}
		c.call(t, "GET", "/orders/"+wo.OrderNo+"/receipt", lg.Token, "").want(t, 200)
		if r := c.call(t, "GET", "/orders/"+wo.OrderNo+"/receipt?format=pdf", lg.Token, "").want(t, 200); !bytes.HasPrefix(r.body, []byte("%PDF-")) {
			t.Errorf("the receipt PDF starts %.20q", r.body)
		}
		c.call(t, "GET", "/orders/"+o.OrderNo+"/receipt", lg.Token, "").want(t, 409)
		c.call(t, "GET", "/me", lg.Token, "").want(t, 403)
		c.call(t, "POST", "/auth/logout", lg.Token, "").want(t, 200)

		// A parent on the phone app.
		const phone = "13912340001"
		c.call(t, "POST", "/sms", "", mustJSON(map[string]string{"phone": phone, "purpose": sms.PurposeLogin})).want(t, 200)
		c.call(t, "POST", "/sms", "", mustJSON(map[string]string{"phone": phone, "purpose": sms.PurposeLogin})).want(t, 429)
		code, _ := srv.SMSOutbox.LastCode(phone, sms.PurposeLogin)
		c.call(t, "POST", "/auth/sms-login", "", mustJSON(map[string]string{"phone": phone, "code": wrongOf(code)})).want(t, 401)
		var sl struct{ Token string }
		c.call(t, "POST", "/auth/sms-login", "", mustJSON(map[string]string{"phone": phone, "code": code})).want(t, 200).decode(t, &sl)
		c.call(t, "GET", "/me", sl.Token, "").want(t, 200)
		var pw struct{ Token string }
		c.call(t, "POST", "/me/password", sl.Token, mustJSON(map[string]string{"new_password": newPassword})).want(t, 200).decode(t, &pw)
		var pl struct{ Token string }
		c.call(t, "POST", "/auth/login", "", mustJSON(map[string]string{"phone": phone, "password": newPassword})).want(t, 200).decode(t, &pl)
		c.call(t, "POST", "/auth/login", "", mustJSON(map[string]string{"phone": phone, "password": "not-it-at-all"})).want(t, 401)
		tok := pl.Token
		c.call(t, "PUT", "/me/school", tok, mustJSON(map[string]string{"school_code": school})).want(t, 200)
		c.call(t, "PUT", "/me/school", tok, mustJSON(map[string]string{"school_code": "nosuch"})).want(t, 404)
		c.call(t, "GET", "/bills", tok, "").want(t, 403) // nothing bound yet
		wrong := rollEntry(t, srv, "2026010202")
		wrong["name"] = "不是本人"
		c.call(t, "POST", "/bindings", tok, mustJSON(wrong)).want(t, 422)
		var bound struct{ Student struct{ ID int64 } }
		c.call(t, "POST", "/bindings", tok, mustJSON(rollEntry(t, srv, "2026010202"))).want(t, 201).decode(t, &bound)
		second := bindStudent(t, srv, tok, "2026010203")
		c.call(t, "GET", "/bindings", tok, "").want(t, 200)
		c.call(t, "GET", "/bills", tok, "").want(t, 422) // two bound: say which
		c.call(t, "GET", "/bills"+qs(bound.Student.ID), tok, "").want(t, 200).decode(t, &b)
		ids, _ = b.pick(feesProject, "学费", "住宿费")
		var po struct {
			OrderNo string `json:"order_no"`
			Pay     struct{ Type string }
		}
		c.call(t, "POST", "/orders"+qs(bound.Student.ID), tok, mustJSON(map[string]any{"item_ids": ids, "channel": "wechat", "device": "phone"})).want(t, 201).decode(t, &po)
		if po.Pay.Type != "h5" {
			t.Errorf("a phone's WeChat order pays by %q, want h5", po.Pay.Type)
		}
		c.call(t, "GET", "/orders"+qs(bound.Student.ID), tok, "").want(t, 200)
		c.call(t, "GET", "/orders/"+po.OrderNo+qs(bound.Student.ID), tok, "").want(t, 200)
		c.call(t, "GET", "/orders/"+po.OrderNo+qs(second), tok, "").want(t, 404)
		c.call(t, "POST", "/orders/"+po.OrderNo+"/cancel"+qs(bound.Student.ID), tok, "").want(t, 200)
		c.call(t, "GET", "/bills?student=1", tok, "").want(t, 404)
		c.call(t, "POST", "/sms", tok, mustJSON(map[string]string{"phone": "13912340002", "purpose": sms.PurposeChangePhone})).want(t, 200)
		code, _ = srv.SMSOutbox.LastCode("13912340002", sms.PurposeChangePhone)
		var ch struct{ Token string }
		c.call(t, "PUT", "/me/phone", tok, mustJSON(map[string]string{"new_phone": "13912340002", "code": code})).want(t, 200).decode(t, &ch)
		c.call(t, "GET", "/me", tok, "").want(t, 401)
		tok = ch.Token
		c.call(t, "DELETE", fmt.Sprintf("/bindings/%d", second), tok, "").want(t, 200)
		c.call(t, "DELETE", fmt.Sprintf("/bindings/%d", second), tok, "").want(t, 404)
		c.call(t, "POST", "/auth/logout", tok, "").want(t, 200)
		c.call(t, "GET", "/bindings", tok, "").want(t, 401)
	})

	t.Run("the walk reached every documented operation with a success", func(t *testing.T) {
		var missing []string
		for r := range documented {
			if !slices.ContainsFunc(c.seen[r], func(s int) bool { return s >= 200 && s < 300 }) {
				missing = append(missing, r)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("never answered with a success: %v", missing)
		}
	})
}

// wrongOf is a 6-digit code other than c.
func wrongOf(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(bytes.Clone(b))
}
