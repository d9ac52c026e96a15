package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/middleware"
)

// clientIPRouter is a chi router with ClientIP in front of a handler that
// writes back the auth.Client it was given.
func clientIPRouter(t testing.TB, trusted ...string) http.Handler {
	t.Helper()
	prefixes := make([]netip.Prefix, len(trusted))
	for i, s := range trusted {
		prefixes[i] = netip.MustParsePrefix(s)
	}
	r := chi.NewRouter()
	r.Use(middleware.ClientIP(prefixes))
	r.Get("/client", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(auth.ClientFromContext(r.Context()))
	})
	return r
}

func clientOf(t testing.TB, h http.Handler, req *http.Request) auth.Client {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var c auth.Client
	if err := json.NewDecoder(rec.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientIP(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.0.2.10/32", "::1/128", "fd00::/8"}
	tests := []struct {
		name    string
		trusted []string
		peer    string
		xff     []string
		want    string
	}{
		{name: "peer without proxies", peer: "203.0.113.7:4711", want: "203.0.113.7"},
		{name: "untrusted peer's header is ignored", trusted: proxies, peer: "203.0.113.7:4711", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "header ignored when nothing is trusted", peer: "10.0.0.1:4711", xff: []string{"198.51.100.1"}, want: "10.0.0.1"},
		{name: "IPv6 peer", peer: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "IPv4-mapped peer is unmapped", peer: "[::ffff:203.0.113.9]:1234", want: "203.0.113.9"},
		{name: "peer without port", peer: "203.0.113.4", want: "203.0.113.4"},
		{name: "unparseable peer", peer: "@", xff: []string{"198.51.100.1"}, want: ""},
		{name: "empty peer", peer: "", want: ""},
		{name: "peer is a name", trusted: proxies, peer: "proxy.internal:80", xff: []string{"198.51.100.1"}, want: ""},

		{name: "trusted peer without header", trusted: proxies, peer: "10.0.0.1:80", want: "10.0.0.1"},
		{name: "trusted peer", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted single address", trusted: proxies, peer: "192.0.2.10:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "neighbour of a single trusted address", trusted: proxies, peer: "192.0.2.11:80", xff: []string{"198.51.100.1"}, want: "192.0.2.11"},
		{name: "trusted IPv6 loopback", trusted: proxies, peer: "[::1]:5555", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "trusted mapped peer", trusted: proxies, peer: "[::ffff:10.1.2.3]:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted hops are skipped", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"198.51.100.1, 10.0.0.2, fd00::3"}, want: "198.51.100.1"},
		{name: "spoofed left entries are not believed", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"1.1.1.1, 8.8.8.8, 203.0.113.5"}, want: "203.0.113.5"},
		{name: "spoofed trusted address at the left", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"10.9.9.9, 203.0.113.5"}, want: "203.0.113.5"},
		{name: "header lines are one list", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"1.1.1.1", "203.0.113.5, 10.0.0.3"}, want: "203.0.113.5"},
		{name: "walk continues into earlier lines", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"203.0.113.5", "10.0.0.3", "10.0.0.4"}, want: "203.0.113.5"},
		{name: "all trusted gives the leftmost", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"10.0.0.5, 10.0.0.6"}, want: "10.0.0.5"},
		{name: "malformed entry stops at the last good address", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"203.0.113.5, unknown, 10.0.0.6"}, want: "10.0.0.6"},
		{name: "malformed last entry gives the peer", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"203.0.113.5, 999.1.1.1"}, want: "10.0.0.1"},
		{name: "empty elements are skipped", trusted: proxies, peer: "10.0.0.1:80", xff: []string{" , 203.0.113.5,, ,"}, want: "203.0.113.5"},
		{name: "empty header", trusted: proxies, peer: "10.0.0.1:80", xff: []string{""}, want: "10.0.0.1"},
		{name: "entry with a port", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"203.0.113.5:4711"}, want: "203.0.113.5"},
		{name: "bracketed IPv6 entry", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"[2001:db8::5]"}, want: "2001:db8::5"},
		{name: "bracketed IPv6 entry with a port", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"[2001:db8::5]:443"}, want: "2001:db8::5"},
		{name: "mapped entry is unmapped", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"::ffff:203.0.113.8"}, want: "203.0.113.8"},
		{name: "mapped trusted entry is skipped", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"203.0.113.8, ::ffff:10.0.0.9"}, want: "203.0.113.8"},
		{name: "zone is dropped", trusted: proxies, peer: "10.0.0.1:80", xff: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "mapped trusted prefix", trusted: []string{"::ffff:10.0.0.0/104"}, peer: "10.0.0.1:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "unmasked trusted prefix", trusted: []string{"10.1.2.3/8"}, peer: "10.200.0.1:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trust everything still reads from the right", trusted: []string{"0.0.0.0/0"}, peer: "10.0.0.1:80", xff: []string{"198.51.100.1, 203.0.113.5"}, want: "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := clientIPRouter(t, tt.trusted...)
			req := httptest.NewRequest(http.MethodGet, "/client", nil)
			req.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := clientOf(t, h, req).IP; got != tt.want {
				t.Errorf("client IP = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestClientIPOverRealConnection(t *testing.T) {
	srv := httptest.NewServer(clientIPRouter(t, "127.0.0.0/8"))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/client", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.50")
	req.Header.Set("User-Agent", "tokengate-test/1.0")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c auth.Client
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if want := (auth.Client{IP: "203.0.113.50", UserAgent: "tokengate-test/1.0"}); c != want {
		t.Errorf("client = %+v; want %+v", c, want)
	}
}

func TestClientUserAgent(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name string
		ua   string
		want string
	}{
		{"plain", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
		{"missing", "", ""},
		{"control characters removed", "Mozilla\x00/5.0\x1b[31m\x7f\u0085", "Mozilla/5.0[31m"},
		{"bidi override removed", "curl/8.0 \u202egnp.exe\u202c", "curl/8.0 gnp.exe"},
		{"invalid UTF-8 removed", "agent\xff\xfe/1", "agent/1"},
		{"non-ASCII kept", "Navigateur/1.0 (été)", "Navigateur/1.0 (été)"},
		{"truncated to 256 bytes", long, long[:256]},
		{"cut between characters", strings.Repeat("a", 255) + "é", strings.Repeat("a", 255)},
		{"cut after cleaning", strings.Repeat("\x01", 100) + long, long[:256]},
		{"spaces trimmed", "  agent/1  ", "agent/1"},
	}
	h := clientIPRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/client", nil)
			req.Header.Set("User-Agent", tt.ua)
			if got := clientOf(t, h, req).UserAgent; got != tt.want {
				t.Errorf("user agent = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestClientIPPanicsOnInvalidPrefix(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an invalid prefix")
		}
	}()
	middleware.ClientIP([]netip.Prefix{{}})
}

// FuzzClientIP feeds arbitrary peers, header lines and user agents through
// the middleware. It must never panic, the IP must be empty or a plain
// parseable address, an untrusted peer must always be the answer, and the
// user agent must be clean.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.1, 10.0.0.2", "", "Mozilla/5.0")
	f.Add("[::ffff:10.0.0.1]:80", "[2001:db8::1]:443", "unknown", "\x00\u202e")
	f.Add("203.0.113.7:1", "1.1.1.1", "", "")
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fd00::/8"),
	}
	var got auth.Client
	h := middleware.ClientIP(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.ClientFromContext(r.Context())
	}))
	f.Fuzz(func(t *testing.T, peer, xff1, xff2, ua string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = peer
		req.Header["X-Forwarded-For"] = []string{xff1, xff2}
		req.Header["User-Agent"] = []string{ua}
		got = auth.Client{IP: "unset"}
		h.ServeHTTP(httptest.NewRecorder(), req)

		if got.IP != "" {
			addr, err := netip.ParseAddr(got.IP)
			if err != nil {
				t.Fatalf("IP %q does not parse: %v", got.IP, err)
			}
			if addr.Is4In6() || addr.Zone() != "" || addr.String() != got.IP {
				t.Fatalf("IP %q is not in plain form", got.IP)
			}
		}
		if p, err := netip.ParseAddrPort(peer); err == nil {
			a := p.Addr().WithZone("").Unmap()
			trustedPeer := false
			for _, pre := range trusted {
				trustedPeer = trustedPeer || pre.Contains(a)
			}
			if !trustedPeer && got.IP != a.String() {
				t.Fatalf("untrusted peer %q, yet IP %q", peer, got.IP)
			}
		}

		if len(got.UserAgent) > 256 || !utf8.ValidString(got.UserAgent) || strings.ContainsFunc(got.UserAgent, unicode.IsControl) {
			t.Fatalf("user agent %q is not clean", got.UserAgent)
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	h := middleware.ClientIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:4711"
	req.Header.Set("X-Forwarded-For", "203.0.113.5, 10.0.0.2")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
