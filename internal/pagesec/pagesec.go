// Package pagesec is what every HTML front door (the student portal, the
// phone app, the finance office's console) sends to keep its pages safe:
// one set of security headers, a Content-Security-Policy of the door's
// own, and whether the browser came over TLS.
package pagesec

import (
	"net/http"
	"net/url"
	"strings"
)

// Secure reports whether the browser reached us over TLS (directly or
// through a proxy that says so): cookies get the Secure flag, answers HSTS.
func Secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Headers wraps next so that every answer carries nosniff, a same-origin
// referrer policy, no framing, csp, HSTS over TLS and, with noStore, no
// caching at all.
func Headers(csp string, noStore bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", csp)
		if noStore {
			hd.Set("Cache-Control", "no-store")
		}
		if Secure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// AllowFormAction widens csp's form-action to target's origin (the real
// UnionPay gateway) for this answer; same-origin targets need nothing,
// and anything but an http(s) URL with a host is ignored.
func AllowFormAction(w http.ResponseWriter, csp, target string) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return
	}
	w.Header().Set("Content-Security-Policy", csp+" "+u.Scheme+"://"+u.Host)
}
