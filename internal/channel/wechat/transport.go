package wechat

import (
	"net/http"
	"net/url"
	"strings"
)

// Hosts the SDK talks to; its base URL is a constant.
const (
	apiHost       = "api.mch.weixin.qq.com"
	apiHostBackup = "api2.mch.weixin.qq.com"
)

// rewriteTransport sends the SDK's requests for the WeChat hosts to another
// base URL (the sandbox). The SDK signs the path and query it built, before
// the rewrite; the sandbox strips its prefix again before verifying.
type rewriteTransport struct {
	next   http.RoundTripper
	scheme string
	host   string
	path   string // decoded prefix, no trailing slash
	rawPth string // escaped prefix
}

func newRewriteTransport(next http.RoundTripper, base *url.URL) *rewriteTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &rewriteTransport{
		next:   next,
		scheme: base.Scheme,
		host:   base.Host,
		path:   strings.TrimSuffix(base.Path, "/"),
		rawPth: strings.TrimSuffix(base.EscapedPath(), "/"),
	}
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.URL.Hostname(); h != apiHost && h != apiHostBackup {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	escaped := req.URL.EscapedPath()
	r.URL.Scheme = t.scheme
	r.URL.Host = t.host
	r.URL.Path = t.path + req.URL.Path
	r.URL.RawPath = t.rawPth + escaped
	if r.URL.EscapedPath() != r.URL.RawPath {
		// Not needed or not valid as a raw path: let net/url escape Path.
		r.URL.RawPath = ""
	}
	// NewRequest copied the SDK's host into Host; send the sandbox's.
	r.Host = t.host
	return t.next.RoundTrip(r)
}

// toSDKURL maps an absolute URL the sandbox handed out (a bill
// download_url) back to the form the SDK uses, so that the transport adds
// the prefix again and the signature covers the path without it. URLs on
// the real hosts come back unchanged; ok is false for any other host, to
// which no signed request may go.
func toSDKURL(base *url.URL, raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", false
	}
	if h := u.Hostname(); (h == apiHost || h == apiHostBackup) && u.Scheme == "https" {
		return raw, true
	}
	if base == nil || !strings.EqualFold(u.Host, base.Host) {
		return "", false
	}
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	p := u.EscapedPath()
	if !strings.HasPrefix(p, prefix+"/") {
		return "", false
	}
	out := "https://" + apiHost + strings.TrimPrefix(p, prefix)
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, true
}
