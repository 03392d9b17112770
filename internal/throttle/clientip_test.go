package throttle

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.168.1.5 ,,fd00::/8, 172.16.3.9/12, ::ffff:100.64.0.0/106, ::1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.5/32", "fd00::/8", "172.16.0.0/12", "100.64.0.0/10", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %v, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "10.0.0", "proxy.internal", "10.0.0.0/8;", "fe80::1%eth0", "::ffff:10.0.0.0/8"} {
		_, err := ParseTrustedProxies("127.0.0.1/32, " + bad)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), EnvTrustedProxies) {
			t.Errorf("%q: error %v does not name the entry", bad, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote string
		xff          []string
		want         string // "" for the zero Addr
	}{
		{"a direct client", "203.0.113.7:50000", nil, "203.0.113.7"},
		{"an untrusted peer's X-Forwarded-For is ignored", "203.0.113.7:50000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"an untrusted peer cannot pose as a trusted proxy either", "203.0.113.7:50000", []string{"198.51.100.1, 10.0.0.2"}, "203.0.113.7"},
		{"behind a trusted proxy", "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's own X-Forwarded-For is ignored behind the proxy", "10.0.0.2:443", []string{"1.1.1.1, 8.8.8.8, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.2:443", []string{"6.6.6.6, 198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"several header lines read as one list", "10.0.0.2:443", []string{"6.6.6.6", "198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"a trusted proxy without the header", "10.0.0.2:443", nil, "10.0.0.2"},
		{"every entry trusted", "10.0.0.2:443", []string{"10.0.0.4, 10.0.0.3"}, "10.0.0.4"},
		{"garbage left of the client is never reached", "10.0.0.2:443", []string{"<script>, 198.51.100.1"}, "198.51.100.1"},
		{"garbage written by a trusted hop stops the walk", "10.0.0.2:443", []string{"198.51.100.1, unknown"}, "10.0.0.2"},
		{"garbage behind a trusted hop", "10.0.0.2:443", []string{"6.6.6.6, bogus, 10.0.0.3"}, "10.0.0.3"},
		{"empty items", "10.0.0.2:443", []string{" , 198.51.100.1 ,, "}, "198.51.100.1"},
		{"an entry with a port", "10.0.0.2:443", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"an IPv6 entry with a port", "10.0.0.2:443", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"an IPv6 proxy", "[::1]:8080", []string{"2001:db8::7"}, "2001:db8::7"},
		{"an IPv4-mapped peer is IPv4", "[::ffff:10.0.0.2]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"an IPv4-mapped client is IPv4", "10.0.0.2:443", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"a zone is dropped", "[fe80::1%eth0]:443", nil, "fe80::1"},
		{"an unreadable peer", "@", []string{"198.51.100.1"}, ""},
		{"no peer", "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := ClientIP(r, trusted)
			if c.want == "" {
				if got.IsValid() {
					t.Fatalf("got %v, want the zero Addr", got)
				}
				return
			}
			if got != netip.MustParseAddr(c.want) {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
	t.Run("with no trusted proxies the peer always wins", func(t *testing.T) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", "198.51.100.1")
		if got := ClientIP(r, nil); got != netip.MustParseAddr("127.0.0.1") {
			t.Fatal(got)
		}
	})
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":               "203.0.113.7",
		"::ffff:203.0.113.7":        "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::/64",
		"::1":                       "::/64",
		"2001:db8:abcd:12:99::2000": "2001:db8:abcd:12::/64",
	} {
		if got := ClientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("ClientKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := ClientKey(netip.Addr{}); got != "invalid" {
		t.Errorf("zero Addr: %s", got)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:443", "1.1.1.1, 198.51.100.1")
	f.Add("203.0.113.7:1", "10.0.0.1")
	f.Add("[::1]:80", "[2001:db8::1]:443, ::ffff:1.2.3.4, ,garbage")
	f.Add("@", "")
	trusted, _ := ParseTrustedProxies("10.0.0.0/8, ::1, 198.51.100.0/24")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := ClientIP(r, trusted)
		peer := peerAddr(remote)
		if !got.IsValid() {
			if peer.IsValid() {
				t.Fatalf("zero Addr for peer %v", peer)
			}
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("%v not normalised", got)
		}
		if !isTrusted(peer, trusted) && got != peer {
			t.Fatalf("untrusted peer %v, but got %v from %q", peer, got, xff)
		}
		if got != peer {
			found := false
			for item := range strings.SplitSeq(xff, ",") {
				if a, ok := forwardedAddr(strings.TrimSpace(item)); ok && a == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("%v is neither the peer nor in %q", got, xff)
			}
		}
	})
}

func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8, ::1", "", "::ffff:1.2.3.4/120", "a/b", "1.2.3.4/0,fd00::/8,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseTrustedProxies(s)
		if err != nil {
			if !strings.Contains(err.Error(), EnvTrustedProxies) {
				t.Fatalf("error %v does not say where", err)
			}
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
				t.Fatalf("%v from %q", p, s)
			}
			again, err := ParseTrustedProxies(p.String())
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%v does not round-trip: %v %v", p, again, err)
			}
		}
	})
}
