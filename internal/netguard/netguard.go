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
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
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
)

// metadata are the cloud metadata endpoints (also link-local; named for a clearer message).
var metadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// RefusedError says that an address may not be dialled, and why.
type RefusedError struct {
	Addr  netip.Addr
	Class Class
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("address %s is refused: %s addresses are blocked for webhooks (manager flags --webhook-allow-cidrs / --webhook-deny-cidrs)", e.Addr, e.Class)
}

// IsRefused reports whether err (or an error it wraps) is a RefusedError, and returns it.
func IsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// Guard classifies addresses. The zero Guard refuses the default classes and allows the rest.
type Guard struct {
	allow []netip.Prefix
	deny  []netip.Prefix
}

// New returns a guard. deny is checked first, then allow, then the default classes.
func New(allow, deny []netip.Prefix) *Guard {
	return &Guard{allow: allow, deny: deny}
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

// Check returns a *RefusedError when a may not be dialled.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	for _, p := range g.deny {
		if p.Contains(a) {
			return &RefusedError{Addr: a, Class: Denied}
		}
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return nil
		}
	}
	if c, blocked := classify(a); blocked {
		return &RefusedError{Addr: a, Class: c}
	}
	return nil
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
