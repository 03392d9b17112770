package pagesec

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHeaders(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, c := range []struct {
		name          string
		proto         string
		noStore       bool
		hsts, nocache bool
	}{
		{"plain http", "", false, false, false},
		{"behind a TLS proxy", "https", false, true, false},
		{"no-store door", "", true, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
			w := httptest.NewRecorder()
			Headers("default-src 'none'", c.noStore, ok).ServeHTTP(w, r)
			h := w.Header()
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "default-src 'none'" {
				t.Errorf("headers %v", h)
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != c.hsts {
				t.Errorf("HSTS %v, want %v", got, c.hsts)
			}
			if got := h.Get("Cache-Control") == "no-store"; got != c.nocache {
				t.Errorf("no-store %v, want %v", got, c.nocache)
			}
		})
	}
}

func TestAllowFormAction(t *testing.T) {
	for _, c := range []struct{ target, want string }{
		{"https://gateway.95516.com/gateway/api/frontTransReq.do", "form-action 'self' https://gateway.95516.com"},
		{"/s/x/pay", "form-action 'self'"},
		{"javascript:alert(1)", "form-action 'self'"},
		{"ftp://x.example/", "form-action 'self'"},
	} {
		w := httptest.NewRecorder()
		w.Header().Set("Content-Security-Policy", "form-action 'self'")
		AllowFormAction(w, "form-action 'self'", c.target)
		if got := w.Header().Get("Content-Security-Policy"); got != c.want {
			t.Errorf("%s: %q, want %q", c.target, got, c.want)
		}
	}
}
