package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// callError is a failed step: code is the API's error.code, else
// "http_NNN", else a network error class (see netClass).
type callError struct {
	step, code string
}

func (e *callError) Error() string { return e.step + ": " + e.code }

// netClass names a transport error without its addresses.
func netClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "net_timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "net_reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "net_no_local_port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "net_eof"
	}
	return "net_other"
}

// errorCounts counts failures by "step:code".
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
	n  int64
}

func (e *errorCounts) add(step string, err error) {
	code := "other"
	var ce *callError
	if errors.As(err, &ce) {
		step, code = ce.step, ce.code
	} else if err != nil {
		code = netClass(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[step+":"+code]++
	e.n++
}

func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// sorted returns the counts, most frequent first.
func (e *errorCounts) sorted() []errorCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]errorCount, 0, len(e.m))
	for k, v := range e.m {
		out = append(out, errorCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// errorCount is one line of the report's errors.
type errorCount struct {
	Key string // step:code
	N   int64
}

// newClients returns n HTTP clients that never follow redirects. When
// every address the run talks to is on loopback, each client sends from
// its own source address in 127.0.0.0/8, as students on many networks
// would, so that a throttle per client address (now or later) sees many
// clients rather than one.
func newClients(n int, loopback bool) []*http.Client {
	out := make([]*http.Client, n)
	for i := range out {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		if loopback {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(2+i%250))}
		}
		out[i] = &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConns: 1024, MaxIdleConnsPerHost: 256,
				IdleConnTimeout: 90 * time.Second, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return out
}

// isLoopback reports whether every URL's host is an IPv4 loopback
// address ("localhost" may resolve to ::1, which a 127.x source cannot
// reach).
func isLoopback(urls ...string) bool {
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			return false
		}
		ip := net.ParseIP(p.Hostname())
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// call does one JSON request. A non-2xx answer is a *callError with the
// API's error.code (or http_NNN); out, when non-nil, receives the body.
func call(ctx context.Context, hc *http.Client, step, method, u, token string, header map[string]string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &callError{step, netClass(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &callError{step, netClass(err)}
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		code := "http_" + strconv.Itoa(resp.StatusCode)
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			code = e.Error.Code
		}
		return &callError{step, code}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return &callError{step, "bad_json"}
		}
	}
	return nil
}

// postForm posts fields url-encoded, as the payer's browser posts the
// UnionPay front form; it follows nothing and wants 200.
func postForm(ctx context.Context, hc *http.Client, step, u string, fields map[string]string) error {
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", u, bytes.NewReader([]byte(v.Encode())))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return &callError{step, netClass(err)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return &callError{step, netClass(err)}
	}
	if resp.StatusCode != http.StatusOK {
		return &callError{step, "http_" + strconv.Itoa(resp.StatusCode)}
	}
	return nil
}

// sandboxTotals reads GET /sandbox/test-helpers/totals.
type sandboxTotals struct {
	UnionPay int64 `json:"unionpay"`
	WeChat   int64 `json:"wechat"`
	Count    int64 `json:"count"`
}

func readTotals(ctx context.Context, hc *http.Client, sandboxURL string) (sandboxTotals, error) {
	var t sandboxTotals
	err := call(ctx, hc, "totals", "GET", sandboxURL+"/sandbox/test-helpers/totals", "", nil, nil, &t)
	return t, err
}
