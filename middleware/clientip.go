package middleware

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokengate/tokengate/auth"
)

// maxUserAgentBytes bounds the User-Agent kept for a session: it is stored
// with every session and shown back in the session list, so a client must
// not be able to make it arbitrarily large.
const maxUserAgentBytes = 256

// ClientIP decides once, before any handler runs, which IP address and user
// agent the request comes from, and stores them with
// auth.NewContextWithClient for the rate limits and the session list.
//
// The client IP is the TCP peer, unless the peer is one of trustedProxies:
// then X-Forwarded-For (every header line, each a comma list) is read from
// the right, skipping trusted addresses, and the first untrusted address is
// the client. Reading from the right matters: the client writes whatever it
// likes at the left, and only what the trusted proxies appended is true. A
// malformed entry ends the walk at the last good address. X-Forwarded-For
// from an untrusted peer is never believed. IPv4-mapped IPv6 addresses are
// unmapped, so one client has one key whichever way it connects.
//
// The IP is empty when the peer address cannot be parsed (a Unix socket).
// ClientIP panics when a prefix is invalid: a bad configuration fails at
// start-up, never per request.
func ClientIP(trustedProxies []netip.Prefix) func(http.Handler) http.Handler {
	trusted := make([]netip.Prefix, 0, len(trustedProxies))
	for _, p := range trustedProxies {
		if !p.IsValid() {
			panic(fmt.Sprintf("middleware: ClientIP: invalid trusted proxy prefix %q", p))
		}
		trusted = append(trusted, unmapPrefix(p))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := auth.Client{
				IP:        clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted),
				UserAgent: cleanUserAgent(r.UserAgent()),
			}
			next.ServeHTTP(w, r.WithContext(auth.NewContextWithClient(r.Context(), c)))
		})
	}
}

// clientIP applies the trusted-proxy rule of ClientIP to the peer address
// and the X-Forwarded-For header lines.
func clientIP(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer, ok := parseAddr(remoteAddr)
	if !ok {
		return ""
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	// The walk runs over the header in place, from the last line and the
	// last entry backwards, without splitting it into a slice.
	last := peer
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		line := forwardedFor[i]
		for line != "" {
			entry := line
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				line = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				// HTTP list syntax allows empty elements ("a, , b").
				continue
			}
			addr, ok := parseAddr(entry)
			if !ok {
				return last.String()
			}
			if !isTrusted(addr, trusted) {
				return addr.String()
			}
			last = addr
		}
	}
	return last.String()
}

// parseAddr reads an address as a peer or a proxy writes it: bare
// ("203.0.113.7", "2001:db8::1"), bracketed ("[2001:db8::1]") or with a port
// ("203.0.113.7:4711", "[2001:db8::1]:443"). The zone is dropped (it names
// an interface of the machine that wrote it, not the client) and IPv4-mapped
// addresses are unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		switch {
		case perr == nil:
			addr, err = ap.Addr(), nil
		case len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
			addr, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it means, since addresses are unmapped before the check.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if addr := p.Addr(); addr.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(addr.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// cleanUserAgent makes a User-Agent safe to store and show: valid UTF-8, no
// control characters (nor bidirectional overrides, which could make a
// session list lie about a device), at most maxUserAgentBytes, cut only
// between characters.
func cleanUserAgent(ua string) string {
	if isPlainUserAgent(ua) {
		return strings.TrimSpace(ua)
	}
	var b strings.Builder
	b.Grow(min(len(ua), maxUserAgentBytes))
	for len(ua) > 0 {
		r, size := utf8.DecodeRuneInString(ua)
		ua = ua[size:]
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			continue
		}
		if b.Len()+size > maxUserAgentBytes {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// isPlainUserAgent reports whether ua needs no cleaning: short printable
// ASCII, as almost every real one is, so the common case does not allocate.
func isPlainUserAgent(ua string) bool {
	if len(ua) > maxUserAgentBytes {
		return false
	}
	for i := 0; i < len(ua); i++ {
		if ua[i] < 0x20 || ua[i] > 0x7e {
			return false
		}
	}
	return true
}
