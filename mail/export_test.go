package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
)

// TrustRoots makes s verify the server against roots instead of the
// system's.
func TrustRoots(s *SMTPSender, roots *x509.CertPool) {
	s.tlsConfig = &tls.Config{ServerName: s.cfg.Host, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// DialThrough makes s connect to addr whatever host its configuration
// names, so a test server on a loopback port can stand for a remote host.
func DialThrough(s *SMTPSender, addr func() string) {
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr())
	}
}
