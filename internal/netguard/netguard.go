/*
Copyright 2026 The kickq Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package netguard decides which addresses webhook calls may reach (the SSRF guard). The check
// runs at dial time, on the address actually dialled (net.Dialer.Control), so host names that
// resolve to a refused address, and DNS rebinding between a check and the dial, are caught.
//
// A Guard refuses, by default, fixed classes of addresses (loopback, link-local, cloud metadata,
// unspecified, multicast, broadcast), also in their IPv4-compatible and NAT64 (64:ff9b::/96)
// forms, and a dynamic set of cluster addresses the manager keeps current (SetClusterAddresses:
// the API server's, the nodes', the manager's own). The operator's --webhook-deny-cidrs are
// checked first and --webhook-allow-cidrs next, so an allowed range wins over both default sets.
// URLWithin (urlprefix.go) decides whether a URL lies under a queue's webhookURLPrefixes. The
// package reads no clock and no API: what the cluster's addresses are is the caller's to say.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Class names a kind of address the guard refuses by default.
type Class string

// Address classes refused unless allowed.
const (
	Loopback    Class = "loopback"
	LinkLocal   Class = "link-local"
	Metadata    Class = "cloud metadata"
	Unspecified Class = "unspecified"
	Multicast   Class = "multicast"
	Broadcast   Class = "broadcast"
	Denied      Class = "denied by --webhook-deny-cidrs"

	// The dynamic classes: the cluster's own addresses, as the manager last found them.
	APIServer Class = "Kubernetes API server"
	Node      Class = "node"
	Manager   Class = "kickq manager"
)

// metadata are the cloud metadata endpoints: the link-local one most clouds use and AWS's IPv6
// one (named for a clearer message), Azure's WireServer and Alibaba Cloud's.
var metadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("168.63.129.16/32"),
	netip.MustParsePrefix("100.100.100.200/32"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d through a
// NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// RefusedError says that an address may not be dialled, and why.
type RefusedError struct {
	Addr  netip.Addr
	Class Class
}

func (e *RefusedError) Error() string {
	if e.Class == Denied {
		return fmt.Sprintf("address %s is refused: it is in the manager's --webhook-deny-cidrs", e.Addr)
	}
	return fmt.Sprintf("address %s is refused: %s addresses are blocked for webhooks (manager flags --webhook-allow-cidrs / --webhook-deny-cidrs)", e.Addr, e.Class)
}

// IsRefused reports whether err (or an error it wraps) is a RefusedError, and returns it.
func IsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// Guard classifies addresses. The zero Guard refuses the default classes and allows the rest.
// Its methods are safe for concurrent use.
type Guard struct {
	allow []netip.Prefix
	deny  []netip.Prefix

	// mu serialises SetClusterAddresses; Check reads cluster without it.
	mu      sync.Mutex
	cluster atomic.Pointer[clusterSet]
}

// clusterSet is an immutable snapshot of the dynamic deny set: each address with its class, and
// each class's addresses (what SetClusterAddresses replaces).
type clusterSet struct {
	addrs   map[netip.Addr]Class
	byClass map[Class][]netip.Addr
}

// New returns a guard. deny is checked first, then allow, then the cluster addresses and the
// default classes.
func New(allow, deny []netip.Prefix) *Guard {
	return &Guard{allow: allow, deny: deny}
}

// SetClusterAddresses replaces the addresses of one dynamic class (APIServer, Node, Manager):
// they are refused unless an allow CIDR covers them. Other classes keep theirs.
func (g *Guard) SetClusterAddresses(c Class, addrs []netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := &clusterSet{addrs: map[netip.Addr]Class{}, byClass: map[Class][]netip.Addr{}}
	if cur := g.cluster.Load(); cur != nil {
		for k, v := range cur.byClass {
			if k != c {
				next.byClass[k] = v
			}
		}
	}
	own := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			own = append(own, plain(a))
		}
	}
	next.byClass[c] = own
	for k, as := range next.byClass {
		for _, a := range as {
			if _, seen := next.addrs[a]; !seen {
				next.addrs[a] = k
			}
		}
	}
	g.cluster.Store(next)
}

// ClusterAddresses returns the addresses of one dynamic class, as last set.
func (g *Guard) ClusterAddresses(c Class) []netip.Addr {
	cur := g.cluster.Load()
	if cur == nil {
		return nil
	}
	return append([]netip.Addr(nil), cur.byClass[c]...)
}

// ParseCIDRs parses a comma-separated list of CIDRs or single addresses.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("parsing %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// plain is a without a zone and with an IPv4-mapped address as its IPv4 address
// (::ffff:127.0.0.1 is 127.0.0.1).
func plain(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// forms are the addresses a dial to a reaches: a itself and, for an IPv4-compatible (::a.b.c.d),
// IPv4-translated (::ffff:0:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address, the IPv4 address it
// embeds.
func forms(a netip.Addr) []netip.Addr {
	a = plain(a)
	if !a.Is6() {
		return []netip.Addr{a}
	}
	b := a.As16()
	compatible := [12]byte(b[:12]) == [12]byte{}
	translated := [12]byte(b[:12]) == [12]byte{8: 0xff, 9: 0xff}
	if !compatible && !translated && !nat64.Contains(a) {
		return []netip.Addr{a}
	}
	return []netip.Addr{a, netip.AddrFrom4([4]byte(b[12:]))}
}

// Check returns a *RefusedError when a may not be dialled. Every rule applies to each of a's
// forms (the address and the IPv4 address it embeds): the deny CIDRs first, then the allow CIDRs
// (an allowed form is allowed), then the cluster addresses, then the default classes.
func (g *Guard) Check(a netip.Addr) error {
	fs := forms(a)
	a = fs[0]
	if anyIn(fs, g.deny) {
		return &RefusedError{Addr: a, Class: Denied}
	}
	if anyIn(fs, g.allow) {
		return nil
	}
	if cur := g.cluster.Load(); cur != nil {
		for _, f := range fs {
			if c, ok := cur.addrs[f]; ok {
				return &RefusedError{Addr: a, Class: c}
			}
		}
	}
	for _, f := range fs {
		if c, blocked := classify(f); blocked {
			return &RefusedError{Addr: a, Class: c}
		}
	}
	return nil
}

// anyIn reports whether one of the addresses lies in one of the prefixes.
func anyIn(addrs []netip.Addr, prefixes []netip.Prefix) bool {
	for _, a := range addrs {
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// classify returns the default-refused class of a, if any.
func classify(a netip.Addr) (Class, bool) {
	for _, p := range metadata {
		if p.Contains(a) {
			return Metadata, true
		}
	}
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.Is4() && a.As4()[0] == 0:
		return Unspecified, true
	case a.IsLoopback():
		return Loopback, true
	case a.IsLinkLocalUnicast():
		return LinkLocal, true
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return Multicast, true
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return Broadcast, true
	}
	return "", false
}

// Control is a net.Dialer Control function: it refuses the connection before it is made when
// the address dialled is refused.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("parsing dial address %q: %w", address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("parsing dial address %q: %w", address, err)
	}
	return g.Check(a)
}
