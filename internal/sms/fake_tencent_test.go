package sms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTencent is a stand-in for sms.tencentcloudapi.com. It verifies each
// request's TC3-HMAC-SHA256 signature with its own implementation of the
// documented algorithm (not the package's signer), checks the timestamp
// window and the common headers, and answers SendSms in Tencent's shape.
type fakeTencent struct {
	t       *testing.T
	keys    map[string]string // SecretId → SecretKey
	now     func() time.Time
	refuse  map[string]string // E.164 number → per-number status Code
	answer  func(w http.ResponseWriter, r *http.Request) bool
	mu      sync.Mutex
	got     []fakeRequest
	srv     *httptest.Server
	counter int
}

type fakeRequest struct {
	Header http.Header
	Body   sendSmsRequest
}

func newFakeTencent(t *testing.T, now func() time.Time) *fakeTencent {
	f := &fakeTencent{t: t, keys: map[string]string{"AKIDtest": "test-secret-key"}, now: now, refuse: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTencent) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func (f *fakeTencent) writeError(w http.ResponseWriter, code, msg string) {
	f.counter++
	fmt.Fprintf(w, `{"Response":{"Error":{"Code":%q,"Message":%q},"RequestId":"req-%d"}}`, code, msg, f.counter)
}

func (f *fakeTencent) serve(w http.ResponseWriter, r *http.Request) {
	if f.answer != nil && f.answer(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if code, msg := f.verify(r, body); code != "" {
		f.writeError(w, code, msg)
		return
	}
	if r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("X-TC-Version") != "2021-01-11" || r.Header.Get("X-TC-Region") == "" {
		f.writeError(w, "InvalidAction", "action, version or region wrong")
		return
	}
	var req sendSmsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.writeError(w, "FailedOperation.JsonParseFail", err.Error())
		return
	}
	f.got = append(f.got, fakeRequest{Header: r.Header.Clone(), Body: req})
	type status struct {
		SerialNo, PhoneNumber string
		Fee                   int
		SessionContext, Code  string
		Message, IsoCode      string
	}
	var set []status
	for _, n := range req.PhoneNumberSet {
		s := status{SerialNo: "2433:" + strconv.Itoa(len(f.got)), PhoneNumber: n, Fee: 1, Code: "Ok", Message: "send success", IsoCode: "CN"}
		if c, ok := f.refuse[n]; ok {
			s.SerialNo, s.Fee, s.Code, s.Message = "", 0, c, "refused by the fake"
		}
		set = append(set, s)
	}
	f.counter++
	json.NewEncoder(w).Encode(map[string]any{"Response": map[string]any{"SendStatusSet": set, "RequestId": "req-" + strconv.Itoa(f.counter)}})
}

// verify recomputes the signature from the request as received; it returns
// Tencent's error code and message, or "" when the request is good.
func (f *fakeTencent) verify(r *http.Request, body []byte) (string, string) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "TC3-HMAC-SHA256 ")
	if !ok {
		return "AuthFailure.InvalidAuthorization", "not TC3-HMAC-SHA256"
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(p, "=")
		parts[k] = v
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 4 || cred[3] != "tc3_request" {
		return "AuthFailure.InvalidAuthorization", "bad Credential"
	}
	id, date, service := cred[0], cred[1], cred[2]
	key, ok := f.keys[id]
	if !ok {
		return "AuthFailure.SecretIdNotFound", "no such SecretId"
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return "AuthFailure.InvalidAuthorization", "bad X-TC-Timestamp"
	}
	if skew := f.now().Unix() - ts; skew > 300 || skew < -300 {
		return "AuthFailure.SignatureExpire", "signature expired"
	}
	if date != time.Unix(ts, 0).UTC().Format(time.DateOnly) || service != "sms" && service != "cvm" {
		return "AuthFailure.SignatureFailure", "credential scope does not match"
	}
	names := strings.Split(parts["SignedHeaders"], ";")
	if !slices.Contains(names, "content-type") || !slices.Contains(names, "host") || !slices.IsSorted(names) {
		return "AuthFailure.SignatureFailure", "content-type and host must be signed, sorted"
	}
	var canon strings.Builder
	for _, n := range names {
		v := r.Header.Get(n)
		if n == "host" {
			v = r.Host
		}
		canon.WriteString(n + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	creq := strings.Join([]string{r.Method, "/", r.URL.RawQuery, canon.String(), parts["SignedHeaders"], sum(body)}, "\n")
	sts := strings.Join([]string{"TC3-HMAC-SHA256", strconv.FormatInt(ts, 10), date + "/" + service + "/tc3_request", sum([]byte(creq))}, "\n")
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	signing := mac(mac(mac([]byte("TC3"+key), date), service), "tc3_request")
	want := hex.EncodeToString(mac(signing, sts))
	if !hmac.Equal([]byte(want), []byte(parts["Signature"])) {
		return "AuthFailure.SignatureFailure", "signature does not match"
	}
	return "", ""
}

// The fake's verifier is itself checked against the document's example, so
// that a request it accepts is one Tencent would accept.
func TestFakeVerifierAcceptsTheDocumentExample(t *testing.T) {
	f := &fakeTencent{keys: map[string]string{docSecretID: docSecretKey}, now: func() time.Time { return time.Unix(1551113065+299, 0) }}
	r := httptest.NewRequest("POST", "https://cvm.tencentcloudapi.com/", strings.NewReader(docPayload))
	r.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+docSecretID+"/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("X-TC-Timestamp", "1551113065")
	if code, msg := f.verify(r, []byte(docPayload)); code != "" {
		t.Fatalf("the fake refused the document's own example: %s %s", code, msg)
	}
	if code, _ := f.verify(r, []byte(docPayload+" ")); code != "AuthFailure.SignatureFailure" {
		t.Fatalf("the fake accepted a changed body: %q", code)
	}
	f.now = func() time.Time { return time.Unix(1551113065+301, 0) }
	if code, _ := f.verify(r, []byte(docPayload)); code != "AuthFailure.SignatureExpire" {
		t.Fatalf("301 s late: %q, want AuthFailure.SignatureExpire", code)
	}
}
