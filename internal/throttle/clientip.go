package throttle

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// EnvTrustedProxies names the variable that lists the reverse proxies
// whose X-Forwarded-For is believed.
const EnvTrustedProxies = "CAMPUSPAY_TRUSTED_PROXIES"

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes (a
// bare address counts as a single-address prefix), as in
// CAMPUSPAY_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.5, fd00::/8". Spaces
// and empty entries are ignored; a bad entry is an error that names it.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil || p.Addr().Zone() != "" {
				return nil, fmt.Errorf("%s: %q is not a network like 10.0.0.0/8 or fd00::/8", EnvTrustedProxies, entry)
			}
			if p.Addr().Is4In6() {
				if p.Bits() < 96 {
					return nil, fmt.Errorf("%s: %q mixes IPv4 and IPv6; write the IPv4 network", EnvTrustedProxies, entry)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(entry)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%s: %q is not an address or a network like 10.0.0.0/8", EnvTrustedProxies, entry)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ClientIP returns the address of the client behind r: the TCP peer,
// unless the peer is a trusted proxy, in which case the right-most address
// of X-Forwarded-For that is not a trusted proxy (every proxy appends the
// address it was called from, so only the entries right of the first
// untrusted one are known true; whatever a client wrote further left is
// ignored). If every entry is trusted, the left-most is returned; if an
// entry cannot be read, the last good address right of it. IPv4-mapped
// IPv6 addresses are unmapped. An unreadable peer gives the zero Addr.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, item = list[:j], list[j+1:]
			} else {
				list, item = "", list
			}
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			a, ok := forwardedAddr(item)
			if !ok {
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return client
}

// peerAddr parses http.Request.RemoteAddr ("ip:port", or a bare address).
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// forwardedAddr reads one X-Forwarded-For entry: an address, or an
// address with a port ("1.2.3.4:5678", "[2001:db8::1]:443").
func forwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientKey is the throttling key of a client address: an IPv4 address
// itself, an IPv6 address by its /64 (one subscriber's whole network), and
// "invalid" for the zero Addr.
func ClientKey(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.Is4():
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
