package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/store"
)

// clientFrom is an HTTP client whose connections come from 127.0.0.n, so
// that a test can be many clients on one machine (throttles count per
// client address; the server never trusts X-Forwarded-For unless told).
func clientFrom(n int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(n/250), byte(2+n%250))}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}}
}

// vmHWM is a process's peak resident memory, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestLoginFloodStaysBounded: 300 logins, 100 at a time from 100 client
// addresses, with student numbers that do not exist. Password hashing is
// bounded (about one argon2id per core, a bounded queue, a deadline), so
// the server's peak memory grows by less than 200 MiB, and the logins
// that would exceed the bound are answered 429 with retry_after_seconds
// rather than queued without end.
func TestLoginFloodStaysBounded(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + dir + "/campuspay.db"
	seedDemo(t, dsn)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	srv := start(t, base, "serve", "--addr", fmt.Sprintf("0.0.0.0:%d", port), "--db", dsn, "--public-url", base)
	before := vmHWM(t, srv.cmd.Process.Pid)
	const total, inFlight = 300, 100
	var mu sync.Mutex
	statuses := map[int]int{}
	retryAfter := 0
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			body := fmt.Sprintf(`{"school_code":%q,"student_no":"99%08d","password":"guess-%d"}`, app.DemoSchool, i, i)
			resp, err := clientFrom(i%inFlight).Post(base+"/api/v1/auth/student-login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			statuses[resp.StatusCode]++
			if resp.StatusCode == 429 {
				var e struct {
					Error struct {
						Code       string `json:"code"`
						RetryAfter int    `json:"retry_after_seconds"`
					} `json:"error"`
				}
				if json.Unmarshal(b, &e) == nil && e.Error.RetryAfter > 0 && resp.Header.Get("Retry-After") != "" {
					retryAfter++
				}
			}
		}(i)
	}
	wg.Wait()
	after := vmHWM(t, srv.cmd.Process.Pid)
	growth := after - before
	t.Logf("answers %v; peak RSS %d MiB → %d MiB", statuses, before>>20, after>>20)
	if statuses[401]+statuses[429] != total {
		t.Fatalf("answers %v, want only 401 and 429", statuses)
	}
	if statuses[429] == 0 || retryAfter != statuses[429] {
		t.Fatalf("%d answers 429, %d of them with retry_after_seconds and Retry-After", statuses[429], retryAfter)
	}
	if growth > 200<<20 {
		t.Fatalf("peak RSS grew by %d MiB", growth>>20)
	}
}

// TestLoginTimingTellsNoOneApart: the time a wrong password takes does
// not tell whether the student number exists, or whether the student is
// still on the public initial password: the fastest answers of the three
// kinds are within a factor 1.5 of each other. The leak this guards against
// is a path that skips the hash (a few ms against tens of ms, a factor
// over 10). Each kind's fastest of 15 tries is its cost without the
// noise of a loaded machine (other processes taking the cores), which
// moves medians and quartiles by more than 1.5× on a shared machine; on
// a quiet one the medians agree within 1.5× too (see the README).
func TestLoginTimingTellsNoOneApart(t *testing.T) {
	srv := boot(t, store.SQLite)
	base := srv.URL
	try := func(c *http.Client, no, pw string) (int, time.Duration) {
		body := fmt.Sprintf(`{"school_code":%q,"student_no":%q,"password":%q}`, app.DemoSchool, no, pw)
		t0 := time.Now()
		resp, err := c.Post(base+"/api/v1/auth/student-login", "application/json", strings.NewReader(body))
		took := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, took
	}
	login(t, base, app.DemoSchool, "2026010050") // a student who has set a password
	kinds := []struct{ name, no string }{
		{"no such student", "2099000001"},
		{"on the initial password", "2026010051"},
		{"with a password of their own", "2026010050"},
	}
	const samples = 15 // within an account's 20 failures before its ceiling
	times := make([][]time.Duration, len(kinds))
	for i := 0; i < samples; i++ { // the kinds take turns, so the machine's load falls on all alike
		for k, kind := range kinds {
			st, d := try(clientFrom(10+k*samples+i), kind.no, fmt.Sprintf("wrong-%d", i))
			if st != 401 {
				t.Fatalf("%s: status %d", kind.name, st)
			}
			times[k] = append(times[k], d)
		}
	}
	med := map[string]time.Duration{}
	for k, ds := range times {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		med[kinds[k].name] = ds[0]
	}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for _, d := range med {
		lo, hi = min(lo, d), max(hi, d)
	}
	t.Logf("fastest answer times %v", med)
	if float64(hi) > 1.5*float64(lo) {
		t.Fatalf("fastest answer times %v differ by more than 1.5×", med)
	}
}
