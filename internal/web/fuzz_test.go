package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseIDs: item ids from forms and ?select= never panic and are
// always positive; anything else is dropped.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"1,2,3", "", ",,", "-1,0,9223372036854775807", "1e3", " 7 , 8 ", "九"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, id := range parseIDs([]string{s, s}) {
			if id <= 0 {
				t.Fatalf("%q gave id %d", s, id)
			}
		}
	})
}

// FuzzSafeNext: the post-login redirect never leaves the school's portal.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/s/cqjz/orders", "//evil.example/s/cqjz/", "https://evil.example/", "/s/cqjz/\r\nSet-Cookie: x", "/s/other/", "/s/cqjz/..%2f..%2f", "\\\\evil", "/s/cqjz/%", "/s/cqjz/../other/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next, "cqjz")
		if !strings.HasPrefix(got, "/s/cqjz/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
	})
}

// FuzzOpenFlash: a flash cookie from outside is shown only when this
// server sealed it; anything else (forged, cut, oversized) is dropped and
// never panics.
func FuzzOpenFlash(f *testing.F) {
	h := &handler{Deps: Deps{Secret: []byte("0123456789abcdef0123456789abcdef")}}
	sealed := h.sealFlash(flash{Status: 422, Message: "两次输入的新密码不一致", StudentNo: "2026000001"})
	for _, s := range []string{sealed, "", ".", "e30.", sealed + "x", "x" + sealed, strings.Repeat("a", 3000), sealed[:len(sealed)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := h.openFlash(v)
		if !ok {
			return
		}
		if v != sealed {
			// Only a value this server sealed opens; re-sealing what opened
			// must give the same value back.
			if h.sealFlash(got) != v && len(v) <= maxFlash {
				body, _, _ := strings.Cut(v, ".")
				if h.flashMAC(body) != v[len(body)+1:] {
					t.Fatalf("opened a value with a wrong MAC: %q", v)
				}
			}
		}
		if got.Message == "" || got.Status < 400 || got.Status > 599 {
			t.Fatalf("opened %q to %+v", v, got)
		}
	})
}
