package outbound

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientKeepsConnections: bursts of concurrent calls to one host reuse
// the connections of the first burst instead of dialling anew.
func TestClientKeepsConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // let the burst overlap
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	// With the standard transport's two idle connections per host, each
	// burst after the first dials about 14 anew (some 70 in all).
	client := Client(5*time.Second, 16)
	for range 5 {
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	if n := conns.Load(); n > 32 {
		t.Errorf("%d connections for 5 bursts of 16 calls with 16 kept per host, want at most 32", n)
	}
}
