package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"campuspay/internal/sandbox/upsim"
	"campuspay/internal/sandbox/wxsim"
)

var (
	keysOnce sync.Once
	keys     *Keys
)

func testSandbox(t *testing.T) *httptest.Server {
	return testSandboxWith(t, Options{})
}

func testSandboxWith(t *testing.T, opts Options) *httptest.Server {
	keysOnce.Do(func() {
		up, err := upsim.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		wx, err := wxsim.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		keys = &Keys{UnionPay: up, WeChat: wx}
	})
	sb := New(keys, opts)
	t.Cleanup(sb.Close)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestIndexListsEveryTestCard(t *testing.T) {
	srv := testSandbox(t)
	resp, err := http.Get(srv.URL + "/sandbox/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Fatalf("status %d, page cut short:\n%s", resp.StatusCode, page)
	}
	for _, c := range upsim.Cards() {
		if !strings.Contains(page, c.No) || !strings.Contains(page, c.Phone) {
			t.Errorf("card %s missing from the index", c.No)
		}
	}
	for _, want := range []string{"交易金额超限", "不支持信用卡支付", "不发送后台通知", "111111", "/v3/pay/transactions/h5",
		"redirect_url", "/sandbox/test-helpers/refunds", "fail_order_no", "/sandbox/test-helpers/statements", "drop_order_no",
		"alter_order_no", "fileTransRequest.do", "应答码 68"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
}

func TestSwitchesRoundTrip(t *testing.T) {
	srv := testSandbox(t)
	resp, err := http.Post(srv.URL+"/sandbox/test-helpers/switches", "application/json",
		strings.NewReader(`{"delay_ms":1500,"duplicate":true,"drop":false,"time_scale":0.01}`))
	if err != nil {
		t.Fatal(err)
	}
	var got switchesJSON
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.DelayMS != 1500 || !got.Duplicate || got.Drop || got.TimeScale != 0.01 {
		t.Fatalf("switches %+v", got)
	}
	resp, _ = http.Post(srv.URL+"/sandbox/test-helpers/switches", "application/json", strings.NewReader(`{`))
	if resp.StatusCode != 400 {
		t.Fatalf("bad switches answered %d", resp.StatusCode)
	}
}
