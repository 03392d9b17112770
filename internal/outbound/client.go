// Package outbound makes the HTTP clients the platform and the sandbox
// use to call other parties: payment channels, SMS providers, merchants'
// notification URLs.
package outbound

import (
	"net"
	"net/http"
	"time"
)

// Client is an HTTP client with every timeout set (connect 5 s, TLS
// handshake 5 s, response headers and the whole call within timeout)
// that keeps up to perHost idle connections to each host. The standard
// transport keeps two, so a burst of calls to one party dials (and the
// party accepts) a new connection for nearly every call.
func Client(timeout time.Duration, perHost int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 5 * time.Second
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = perHost
	return &http.Client{Timeout: timeout, Transport: tr}
}
