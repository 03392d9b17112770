package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestProfilesAndCountersFromServers: one server serves a profile and the
// database counters behind a token, the other serves neither; the first
// gives a profile file and counters, the second is skipped quietly and
// makes the counters n/a.
func TestProfilesAndCountersFromServers(t *testing.T) {
	with := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/debug/pprof/profile":
			if r.URL.Query().Get("seconds") != "1" {
				http.Error(w, "seconds", 400)
				return
			}
			w.Write([]byte{0x1f, 0x8b, 8, 0})
		case "/metrics":
			w.Write([]byte("campuspay_db_statements_total 40\ncampuspay_db_transactions_total{kind=\"write\"} 6\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer with.Close()
	without := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>student portal</html>")) // a catch-all page, not a profile
	}))
	defer without.Close()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "prof")
	files := fetchProfiles(ctx, []string{without.URL, with.URL}, dir, "tok", 1)
	if len(files) != 1 || filepath.Base(files[0]) != "cpu-server2.pprof" {
		t.Fatalf("profiles %v, want only the second server's", files)
	}
	if b, err := os.ReadFile(files[0]); err != nil || len(b) != 4 {
		t.Fatalf("profile file: %v %v", b, err)
	}
	c := readDBCounters(ctx, http.DefaultClient, []string{with.URL}, "tok")
	if !c.ok || c.statements != 40 || c.transactions != 6 {
		t.Fatalf("counters %+v", c)
	}
	if c := readDBCounters(ctx, http.DefaultClient, []string{with.URL}, "wrong"); c.ok {
		t.Fatalf("counters read without the token: %+v", c)
	}
	if c := readDBCounters(ctx, http.DefaultClient, []string{with.URL, without.URL}, "tok"); c.ok {
		t.Fatalf("a server without counters should make them n/a: %+v", c)
	}
}
