package web

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies configured", "203.0.113.9:4000", []string{"1.2.3.4"}, nil, "203.0.113.9"},
		{"untrusted peer: header ignored", "203.0.113.9:4000", []string{"1.2.3.4"}, trusted, "203.0.113.9"},
		{"trusted peer, one client", "127.0.0.1:4000", []string{"198.51.100.4"}, trusted, "198.51.100.4"},
		{"client-written entries ignored", "127.0.0.1:4000", []string{"6.6.6.6, 198.51.100.4"}, trusted, "198.51.100.4"},
		{"chain of trusted proxies", "127.0.0.1:4000", []string{"198.51.100.4, 10.1.2.3", "10.0.0.7"}, trusted, "198.51.100.4"},
		{"trusted peer, no header", "127.0.0.1:4000", nil, trusted, "127.0.0.1"},
		{"all trusted", "127.0.0.1:4000", []string{"10.0.0.1"}, trusted, "10.0.0.1"},
		{"garbage next to the proxy", "127.0.0.1:4000", []string{"not an address"}, trusted, "127.0.0.1"},
		{"entry with a port", "127.0.0.1:4000", []string{"198.51.100.4:5555"}, trusted, "198.51.100.4"},
		{"ipv6", "[::1]:4000", []string{"2001:db8::1"}, trusted, "2001:db8::1"},
		{"ipv4-mapped peer", "[::ffff:127.0.0.1]:4000", []string{"198.51.100.4"}, trusted, "198.51.100.4"},
		{"peer without port", "127.0.0.1", []string{"198.51.100.4"}, trusted, "198.51.100.4"},
		{"too many hops", "127.0.0.1:1", []string{"198.51.100.4" + strings.Repeat(", 10.0.0.1", 40)}, trusted, "10.0.0.1"},
	} {
		if got := clientAddr(tc.peer, tc.xff, tc.trusted); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// The hop limit on its boundary: with the client and MaxForwardedHops−1
	// trusted proxies the client is found; one trusted proxy more and the
	// walk stops at the leftmost proxy it may read (the client's entry is
	// beyond the limit), in one header line or in one line per hop.
	for _, proxies := range []int{MaxForwardedHops - 1, MaxForwardedHops} {
		entries := []string{"198.51.100.4"}
		for i := proxies; i >= 1; i-- {
			entries = append(entries, "10.0.0."+strconv.Itoa(i))
		}
		want := "198.51.100.4"
		if proxies == MaxForwardedHops {
			want = "10.0.0." + strconv.Itoa(MaxForwardedHops)
		}
		if got := clientAddr("127.0.0.1:1", []string{strings.Join(entries, ", ")}, trusted); got != want {
			t.Errorf("client behind %d proxies, one header line: %q, want %q", proxies, got, want)
		}
		if got := clientAddr("127.0.0.1:1", entries, trusted); got != want {
			t.Errorf("client behind %d proxies, one line each: %q, want %q", proxies, got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", "1.2.3.4/8/2", strings.Repeat("1.2.3.4,", 300)} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
	if p, err := ParseTrustedProxies(" "); err != nil || len(p) != 0 {
		t.Errorf("empty list: %v, %v", p, err)
	}
}

// FuzzClientAddr: any header gives an address that is the peer or appears
// in the header.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.1:1", "198.51.100.4, 10.0.0.1")
	f.Add("10.0.0.1:1", "[::1]:80,,  ,x")
	trusted, _ := ParseTrustedProxies("10.0.0.0/8,127.0.0.0/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		got := clientAddr(peer, []string{xff}, trusted)
		if got == "" && peer != "" && !strings.HasPrefix(peer, ":") {
			t.Fatalf("empty address for peer %q", peer)
		}
		if a, err := netip.ParseAddr(got); err == nil && got != a.String() {
			t.Fatalf("address %q not in canonical form", got)
		}
	})
}
