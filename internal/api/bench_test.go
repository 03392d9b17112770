package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/throttle"
)

// recorder is a dev SMS provider that keeps every code, however many:
// the benchmarks log in with codes sent long before.
type recorder struct {
	mu    sync.Mutex
	codes map[string]string
}

func (r *recorder) SendCode(_ context.Context, phone, code, _ string) error {
	r.mu.Lock()
	r.codes[phone] = code
	r.mu.Unlock()
	return nil
}
func (r *recorder) SendNotice(context.Context, string, string, []string) error { return nil }
func (r *recorder) Dev() bool                                                  { return true }

func (r *recorder) code(phone string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.codes[phone]
}

// benchServer boots the demo server on SQLite with the recorder as SMS
// provider and the per-client throttles of sends and logins opened (every
// request comes from 127.0.0.1 here; R4's per-phone limits stay).
func benchServer(b *testing.B) (*app.Server, *recorder) {
	b.Helper()
	rec := &recorder{codes: map[string]string{}}
	ctx := context.Background()
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(b.TempDir(), "bench.db"),
		Sandbox: true, SandboxKeys: apptest.KeysDir(), TimeScale: 0.001, NoWorker: true, Log: slog.New(slog.DiscardHandler),
		Phone: app.PhoneConfig{Sender: rec, Account: account.Config{SendRate: throttle.RateConfig{Burst: 1 << 30, Every: time.Nanosecond},
			Login: throttle.GuardConfig{ClientBurst: 1 << 30, ClientEvery: time.Nanosecond}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := app.LoadDemo(ctx, s.Store, io.Discard); err != nil {
		b.Fatal(err)
	}
	return s, rec
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

func post(b *testing.B, url, body string) {
	resp, err := benchClient.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("%s: %d", url, resp.StatusCode)
	}
}

var phoneSeq atomic.Int64

func nextPhone() string { return fmt.Sprintf("139%08d", phoneSeq.Add(1)) }

// BenchmarkSMSSend: POST /api/v1/sms with the dev provider, each to a new
// phone (R4 counted in SQLite behind the phone's lock), 16 at a time.
func BenchmarkSMSSend(b *testing.B) {
	s, _ := benchServer(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, s.URL+"/api/v1/sms", fmt.Sprintf(`{"phone":%q,"purpose":"login"}`, nextPhone()))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// BenchmarkSMSLogin: POST /api/v1/auth/sms-login with codes sent before
// the clock starts: each consumes its code, makes the account and a token.
func BenchmarkSMSLogin(b *testing.B) {
	s, rec := benchServer(b)
	phones := make([]string, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				phones[i] = nextPhone()
				post(b, s.URL+"/api/v1/sms", fmt.Sprintf(`{"phone":%q,"purpose":"login"}`, phones[i]))
			}
		}()
	}
	wg.Wait()
	next.Store(0)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := phones[next.Add(1)-1]
			post(b, s.URL+"/api/v1/auth/sms-login", fmt.Sprintf(`{"phone":%q,"code":%q}`, p, rec.code(p)))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkBoundStudentBills: GET /api/v1/bills?student=ID by a parent's
// account token, for a student with 50 bill lines in 5 projects, one
// request at a time; it reports the p50 and p99 latency.
func BenchmarkBoundStudentBills(b *testing.B) {
	s, rec := benchServer(b)
	ctx := context.Background()
	sc, err := s.Store.CreateSchool(ctx, billing.School{Code: "bench", Name: "基准测试学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	var bills strings.Builder
	bills.WriteString("学号,收费项目,子项目,应缴金额,必缴\n")
	for p := range 5 {
		for i := range 10 {
			fmt.Fprintf(&bills, "2099000001,项目%d,子项目%d,%d.00,%s\n", p, i, 100+p*10+i, map[bool]string{true: "是", false: "否"}[i < 2])
		}
	}
	for _, f := range []struct{ kind, body string }{
		{importer.Students, "学号,姓名\n2099000001,基准学生\n"},
		{importer.Bills, bills.String()},
	} {
		if _, err := importer.Apply(ctx, s.Store, sc.ID, f.kind, f.kind+".csv", strings.NewReader(f.body)); err != nil {
			b.Fatal(err)
		}
	}
	phone := nextPhone()
	post(b, s.URL+"/api/v1/sms", fmt.Sprintf(`{"phone":%q,"purpose":"login"}`, phone))
	resp, err := benchClient.Post(s.URL+"/api/v1/auth/sms-login", "application/json", strings.NewReader(fmt.Sprintf(`{"phone":%q,"code":%q}`, phone, rec.code(phone))))
	if err != nil {
		b.Fatal(err)
	}
	var tok string
	{
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tok = strings.Split(strings.Split(string(body), `"token":"`)[1], `"`)[0]
	}
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/bindings", strings.NewReader(`{"school_code":"bench","student_no":"2099000001","name":"基准学生"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = benchClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("bind: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := strings.Split(strings.Split(string(body), `"id":`)[1], ",")[0]
	get := func() time.Duration {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/bills?student="+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		resp, err := benchClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 5000 {
			b.Fatalf("bills: %d, %d bytes", resp.StatusCode, n)
		}
		return time.Since(start)
	}
	for range 50 { // warm the statement caches and the connection
		get()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		lat = append(lat, get())
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
