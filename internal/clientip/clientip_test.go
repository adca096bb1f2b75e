package clientip

import (
	"net/http"
	"testing"
)

func mustParse(t *testing.T, list string) *Resolver {
	t.Helper()
	r, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClientIP(t *testing.T) {
	proxies := mustParse(t, "127.0.0.1, 10.0.0.0/8, fd00::/8")
	for _, tc := range []struct {
		name     string
		resolver *Resolver
		peer     string
		xff      []string
		want     string
	}{
		{"a direct client is its peer", proxies, "203.0.113.9:5000", nil, "203.0.113.9"},
		{"an untrusted peer's X-Forwarded-For is ignored", proxies, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"nobody is trusted by default", mustParse(t, ""), "127.0.0.1:5000", []string{"198.51.100.1"}, "127.0.0.1"},
		{"behind a trusted proxy the forwarded client counts", proxies, "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a spoofed leftmost entry is skipped", proxies, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped from the right", proxies, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several header lines are one list", proxies, "127.0.0.1:5000", []string{"1.2.3.4", "198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"a client claiming to be a trusted proxy gains nothing", proxies, "127.0.0.1:5000", []string{"198.51.100.1, 10.0.0.1"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", proxies, "127.0.0.1:5000", []string{"10.0.0.7, 10.0.0.1"}, "10.0.0.7"},
		{"garbage stops the walk at the last trusted hop", proxies, "127.0.0.1:5000", []string{"198.51.100.1, not-an-ip, 10.0.0.1"}, "10.0.0.1"},
		{"a garbage rightmost entry leaves the peer", proxies, "127.0.0.1:5000", []string{"198.51.100.1, <script>"}, "127.0.0.1"},
		{"an empty header leaves the peer", proxies, "127.0.0.1:5000", []string{""}, "127.0.0.1"},
		{"entries with ports are read", proxies, "127.0.0.1:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 peers and entries", proxies, "[fd00::1]:5000", []string{"[2001:db8::5]:80, fd00::2"}, "2001:db8::5"},
		{"IPv4-mapped IPv6 is IPv4", proxies, "[::ffff:127.0.0.1]:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"zones are refused", proxies, "127.0.0.1:5000", []string{"fe80::1%eth0"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.resolver.ClientIP(r).String(); got != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTrustsPeer(t *testing.T) {
	r := mustParse(t, "192.0.2.0/24")
	for peer, want := range map[string]bool{"192.0.2.10:1": true, "192.0.3.1:1": false, "garbage": false} {
		if got := r.TrustsPeer(&http.Request{RemoteAddr: peer}); got != want {
			t.Errorf("TrustsPeer(%s) = %v, want %v", peer, got, want)
		}
	}
}

func TestParseRefusesWhatIsNoAddress(t *testing.T) {
	for _, list := range []string{"10.0.0.0/33", "localhost", "10.0.0.1/8", "10.0.0.0/8,,nonsense"} {
		if _, err := Parse(list); err == nil {
			t.Errorf("Parse(%q) accepted it", list)
		}
	}
	r := mustParse(t, " 10.0.0.0/8 , ::1 ")
	if got := r.Trusted(); len(got) != 2 || got[1].String() != "::1/128" {
		t.Errorf("Trusted = %v", got)
	}
}
