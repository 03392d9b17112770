package mobile

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever a client sends as next, the redirect stays a
// path of the app (never another host, never the login pages).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/m/", "/m/s/1/", "//evil.example/m/", "/m/../s/x", "https://evil.example/m/", "/m/login", "/m/\\evil",
		"/m/%2e%2e/admin", "/m/me?x=1#y", "/mm/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(got, "//") || !strings.HasPrefix(path.Clean(u.Path)+"/", "/m/") ||
			strings.HasPrefix(u.Path, "/m/login") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the app", next, got)
		}
	})
}

// FuzzParseIDs: item ids from a form are positive, and only what was sent.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"1", "1,2,3", " 4 , -5,x,0", "9223372036854775807", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, id := range parseIDs([]string{v}) {
			if id <= 0 {
				t.Fatalf("parseIDs(%q) gave %d", v, id)
			}
		}
	})
}
