package send

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// resolverFunc is a Resolver made of a function.
type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// resolveTo answers every lookup with addrs.
func resolveTo(addrs ...string) resolverFunc {
	return func(context.Context, string, string) ([]netip.Addr, error) {
		out := make([]netip.Addr, len(addrs))
		for i, a := range addrs {
			out[i] = netip.MustParseAddr(a)
		}
		return out, nil
	}
}

// TestAddressRule: each forbidden range, at its edges, in IPv4, IPv6 and
// the IPv6 forms that carry an IPv4 address; and public neighbours that
// stay allowed.
func TestAddressRule(t *testing.T) {
	forbiddenAddrs := []struct{ addr, why string }{
		{"0.0.0.0", "this network"},
		{"0.255.255.255", "this network"},
		{"10.0.0.0", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.0", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"172.16.0.0", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.170", "IETF"},
		{"192.0.2.1", "documentation"},
		{"192.168.0.1", "private"},
		{"192.168.255.255", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},

		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"fe80::1", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fe80::1%eth0", "scoped"},
		{"fc00::1", "unique-local"},
		{"fd12:3456:789a::1", "unique-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"2001:db8::1", "documentation"},
		{"100::1", "discard"},
		{"2001::1", "Teredo"},
		{"64:ff9b:1::1", "NAT64"},

		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:100.64.0.1", "carrier-grade NAT"},
		{"::ffff:0.0.0.0", "this network"},
		{"::ffff:224.0.0.1", "multicast"},
		{"64:ff9b::7f00:1", "embeds 127.0.0.1"},
		{"64:ff9b::a9fe:a9fe", "embeds 169.254.169.254"},
		{"2002:7f00:1::1", "embeds 127.0.0.1"},
		{"2002:c0a8:101::1", "embeds 192.168.1.1"},
	}
	for _, c := range forbiddenAddrs {
		t.Run(c.addr+" is refused", func(t *testing.T) {
			why := forbidden(netip.MustParseAddr(c.addr))
			if why == "" {
				t.Fatalf("%s is allowed", c.addr)
			}
			if !strings.Contains(why, c.why) {
				t.Errorf("%s is refused as %q, want it to say %q", c.addr, why, c.why)
			}
		})
	}
	for _, a := range []string{
		"1.1.1.1", "8.8.8.8", "93.184.215.14",
		"9.255.255.255", "11.0.0.0", // around 10/8
		"100.63.255.255", "100.128.0.0", // around 100.64/10
		"126.255.255.255", "128.0.0.0", // around 127/8
		"169.253.255.255", "169.255.0.0", // around 169.254/16
		"172.15.255.255", "172.32.0.0", // around 172.16/12
		"192.167.255.255", "192.169.0.0", // around 192.168/16
		"223.255.255.255", // below 224/4
		"2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	} {
		t.Run(a+" is allowed", func(t *testing.T) {
			if why := forbidden(netip.MustParseAddr(a)); why != "" {
				t.Errorf("%s is refused: %s", a, why)
			}
		})
	}
}

// TestAddressRuleCoversNetipsClasses: whatever the standard library calls
// private, loopback, link-local, multicast or unspecified, in either
// family or IPv4-mapped, the rule refuses; checked on random addresses
// drawn inside and outside those classes, as an independent oracle for
// the table.
func TestAddressRuleCoversNetipsClasses(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := func(a netip.Addr) bool {
		a = a.Unmap()
		return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
			a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
	}
	// First bytes that lead into the classes, so that they are drawn often.
	first4 := []byte{0, 10, 127, 169, 172, 192, 224, 239, 255}
	first6 := []byte{0x00, 0xfc, 0xfd, 0xfe, 0xff}
	checked := 0
	for range 200000 {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		var a netip.Addr
		switch r.IntN(4) {
		case 0:
			a = netip.AddrFrom4([4]byte(b[:4]))
		case 1:
			b[0] = first4[r.IntN(len(first4))]
			a = netip.AddrFrom4([4]byte(b[:4]))
		case 2:
			b[0] = first6[r.IntN(len(first6))]
			a = netip.AddrFrom16(b)
		case 3: // ::ffff:a.b.c.d
			b[0] = first4[r.IntN(len(first4))]
			a = netip.AddrFrom16(netip.AddrFrom4([4]byte(b[:4])).As16())
		}
		if special(a) {
			checked++
			if forbidden(a) == "" {
				t.Fatalf("%s is special to net/netip but allowed", a)
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d special addresses were drawn", checked)
	}
}

// TestControlRefusesForbiddenAddresses: the dialer's Control function,
// which sees the address being connected to, refuses the forbidden ones
// in every form it may be handed, and lets public ones through.
func TestControlRefusesForbiddenAddresses(t *testing.T) {
	for _, a := range []string{"127.0.0.1:443", "[::1]:443", "[::ffff:127.0.0.1]:443", "169.254.169.254:80", "[fe80::1%lo]:443", "10.0.0.1:8443", "0.0.0.0:443", "not-an-address:443"} {
		err := control("tcp", a, nil)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Errorf("control(%s) = %v, want a *RefusedError", a, err)
		}
	}
	for _, a := range []string{"93.184.215.14:443", "[2606:4700:4700::1111]:443"} {
		if err := control("tcp", a, nil); err != nil {
			t.Errorf("control(%s) = %v, want nil", a, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	public := resolveTo("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
	mixed := resolveTo("93.184.215.14", "10.0.0.5")
	failing := resolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
		return nil, errors.New("lookup hooks.example.com on 10.0.0.2:53: no such host")
	})
	none := resolveTo()
	ctx := context.Background()
	for _, c := range []struct {
		name         string
		url          string
		allowPrivate bool
		r            Resolver
		refused      string // "" when allowed
	}{
		{"https to a public host is allowed", "https://hooks.example.com/keywarden?x=1", false, public, ""},
		{"a public IP address is allowed", "https://93.184.215.14:8443/in", false, nil, ""},
		{"http is refused", "http://hooks.example.com/", false, public, "must be https"},
		{"http is allowed with allowPrivate", "http://hooks.example.com/", true, public, ""},
		{"another scheme is refused", "ftp://hooks.example.com/", false, public, "absolute https"},
		{"another scheme is refused with allowPrivate too", "file:///etc/passwd", true, public, "absolute https"},
		{"a relative URL is refused", "/keywarden", false, public, "absolute https"},
		{"an opaque URL is refused", "https:hooks.example.com", false, public, "no host"},
		{"a URL without host is refused", "https:///keywarden", false, public, "no host"},
		{"a URL with a port only is refused", "https://:443/", false, public, "no host"},
		{"user info is refused", "https://user:pass@hooks.example.com/", false, public, "user name or password"},
		{"a user alone is refused", "https://user@hooks.example.com/", true, public, "user name or password"},
		{"port 0 is refused", "https://hooks.example.com:0/", false, public, "port"},
		{"port 65536 is refused", "https://hooks.example.com:65536/", false, public, "port"},
		{"a URL that does not parse is refused", "https://hooks.example.com/%zz", false, public, "does not parse"},
		{"a long URL is refused", "https://hooks.example.com/" + strings.Repeat("a", MaxURLLength), false, public, "longer than"},
		{"a loopback literal is refused", "https://127.0.0.1/", false, nil, "loopback"},
		{"an IPv6 loopback literal is refused", "https://[::1]:8443/", false, nil, "loopback"},
		{"a mapped loopback literal is refused", "https://[::ffff:7f00:1]/", false, nil, "loopback"},
		{"the metadata address is refused", "https://169.254.169.254/latest/meta-data/", false, nil, "link-local"},
		{"a zoned literal is refused", "https://[fe80::1%25eth0]/", false, nil, "scoped"},
		{"a host resolving to loopback is refused", "https://localtest.example/", false, resolveTo("127.0.0.1"), "loopback"},
		{"one private address among public ones is refused", "https://hooks.example.com/", false, mixed, "10.0.0.5 is a private address"},
		{"a host that does not resolve is refused", "https://hooks.example.com/", false, failing, "does not resolve"},
		{"a host without addresses is refused", "https://hooks.example.com/", false, none, "does not resolve"},
		{"private addresses are allowed with allowPrivate", "https://10.0.0.5/", true, nil, ""},
		{"allowPrivate does not resolve", "https://hooks.example.com/", true, failing, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckURL(ctx, c.url, c.allowPrivate, c.r)
			if c.refused == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v", c.url, err)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("CheckURL(%q) = %v, want a *RefusedError", c.url, err)
			}
			if !strings.Contains(err.Error(), c.refused) {
				t.Errorf("CheckURL(%q) = %q, want it to say %q", c.url, err, c.refused)
			}
			if strings.Contains(err.Error(), "10.0.0.2") {
				t.Errorf("CheckURL(%q) = %q shows the resolver's address", c.url, err)
			}
		})
	}
}
