package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Limits of the transport, named with their unit last.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnsPerHostMax = 4
	idleConnTimeout     = 90 * time.Second
)

// errNotPublic is why the worker refuses to dial an address.
var errNotPublic = errors.New("the address is not public (loopback, private, link-local or reserved); see --webhooks-allow-private-networks")

// nonPublic are the ranges, beyond those netip classifies, that are no place for a
// webhook: "this network", carrier-grade NAT, IETF protocol assignments, benchmarking,
// NAT64 and the documentation ranges.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// publicHost reports whether a URL's host may be public: a public address literal, or a
// name other than localhost (which names resolve to is checked when dialling).
func publicHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return publicAddr(ip)
	}
	return true
}

// newTransport returns the worker's transport. Unless allowPrivate, its dialer refuses
// every address that is not public, after name resolution, on every connection: a name
// that resolves to a private address (or is made to, later) reaches nothing inside. It
// ignores HTTP_PROXY and the like, whose address the guard would check instead of the
// receiver's.
func newTransport(allowPrivate bool) *http.Transport {
	dialer := &net.Dialer{Timeout: dialTimeout}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: dial %s: %w", address, err)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("webhook: dial %s: %w", address, errNotPublic)
			}
			return nil
		}
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: RequestTimeout,
		MaxIdleConnsPerHost:   idleConnsPerHostMax,
		IdleConnTimeout:       idleConnTimeout,
	}
}
