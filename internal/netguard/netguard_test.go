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

package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestDefaultClasses(t *testing.T) {
	g := New(nil, nil)
	cases := []struct {
		addr  string
		class Class // "" = allowed
	}{
		{"127.0.0.1", Loopback},
		{"127.9.9.9", Loopback},
		{"::1", Loopback},
		{"::ffff:127.0.0.1", Loopback}, // IPv4-mapped
		{"169.254.169.254", Metadata},
		{"fd00:ec2::254", Metadata},
		{"169.254.1.1", LinkLocal},
		{"fe80::1", LinkLocal},
		{"0.0.0.0", Unspecified},
		{"0.1.2.3", Unspecified},
		{"::", Unspecified},
		{"224.0.0.1", Multicast},
		{"239.1.2.3", Multicast},
		{"ff02::1", Multicast},
		{"255.255.255.255", Broadcast},
		// Cloud metadata endpoints outside link-local: Azure WireServer, Alibaba Cloud.
		{"168.63.129.16", Metadata},
		{"100.100.100.200", Metadata},
		{"168.63.129.17", ""},
		{"100.100.100.201", ""},
		// IPv4-compatible, IPv4-translated and NAT64 forms of refused IPv4 addresses.
		{"::127.0.0.1", Loopback},
		{"::169.254.169.254", Metadata},
		{"::ffff:0:169.254.169.254", Metadata},
		{"::ffff:0:127.0.0.1", Loopback},
		{"64:ff9b::127.0.0.1", Loopback},
		{"64:ff9b::a9fe:a9fe", Metadata}, // 169.254.169.254
		{"64:ff9b::168.63.129.16", Metadata},
		{"64:ff9b::100.100.100.200", Metadata},
		{"64:ff9b::169.254.1.1", LinkLocal},
		{"64:ff9b::0.0.0.0", Unspecified},
		{"64:ff9b::224.0.0.1", Multicast},
		{"64:ff9b::255.255.255.255", Broadcast},
		{"::ffff:168.63.129.16", Metadata}, // IPv4-mapped
		// The same forms of ordinary addresses are ordinary.
		{"64:ff9b::93.184.216.34", ""},
		{"::10.96.0.10", ""},
		{"64:ff9b:1::1", ""}, // not the well-known /96
		// In-cluster service and pod addresses are the normal case.
		{"10.96.0.10", ""},
		{"10.88.0.5", ""},
		{"172.16.0.1", ""},
		{"192.168.1.1", ""},
		{"fd12:3456::1", ""},
		{"93.184.216.34", ""},
	}
	for _, c := range cases {
		err := g.Check(netip.MustParseAddr(c.addr))
		if c.class == "" {
			if err != nil {
				t.Errorf("%s: refused (%v), want allowed", c.addr, err)
			}
			continue
		}
		r, ok := IsRefused(err)
		if !ok || r.Class != c.class {
			t.Errorf("%s: got %v, want refused as %s", c.addr, err, c.class)
		}
	}
}

func TestAllowAndDenyFlags(t *testing.T) {
	allow, err := ParseCIDRs("127.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	deny, err := ParseCIDRs("10.0.0.0/8,127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	g := New(allow, deny)
	if err := g.Check(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("allowed loopback refused: %v", err)
	}
	if err := g.Check(netip.MustParseAddr("::1")); err != nil {
		t.Errorf("allowed ::1 refused: %v", err)
	}
	if r, ok := IsRefused(g.Check(netip.MustParseAddr("127.0.0.2"))); !ok || r.Class != Denied {
		t.Errorf("deny is checked before allow: got %v", r)
	}
	if r, ok := IsRefused(g.Check(netip.MustParseAddr("10.1.2.3"))); !ok || r.Class != Denied {
		t.Errorf("denied range allowed: %v", r)
	}
	if r, ok := IsRefused(g.Check(netip.MustParseAddr("169.254.169.254"))); !ok || r.Class != Metadata {
		t.Errorf("allowing loopback must not allow metadata: %v", r)
	}
	// The flags see the IPv4 address a NAT64 or IPv4-compatible address embeds.
	if err := g.Check(netip.MustParseAddr("64:ff9b::127.0.0.1")); err != nil {
		t.Errorf("allowed loopback, NAT64 form, refused: %v", err)
	}
	if r, ok := IsRefused(g.Check(netip.MustParseAddr("64:ff9b::10.1.2.3"))); !ok || r.Class != Denied {
		t.Errorf("denied range, NAT64 form, allowed: %v", r)
	}
	if r, ok := IsRefused(g.Check(netip.MustParseAddr("::10.1.2.3"))); !ok || r.Class != Denied {
		t.Errorf("denied range, IPv4-compatible form, allowed: %v", r)
	}
	if _, err := ParseCIDRs("10.0.0.0/33"); err == nil {
		t.Error("a bad CIDR must be an error")
	}
	if _, err := ParseCIDRs("not-an-ip"); err == nil {
		t.Error("a bad address must be an error")
	}
}

// The cluster's addresses are refused by class; an allow CIDR wins over them, a deny CIDR over
// that; each class is replaced on its own.
func TestClusterAddresses(t *testing.T) {
	allow, _ := ParseCIDRs("10.88.0.0/16")
	deny, _ := ParseCIDRs("10.88.0.7")
	g := New(allow, deny)
	g.SetClusterAddresses(APIServer, []netip.Addr{netip.MustParseAddr("10.96.0.1"), netip.MustParseAddr("192.168.5.10")})
	g.SetClusterAddresses(Node, []netip.Addr{netip.MustParseAddr("192.168.5.20"), netip.MustParseAddr("2001:db8::20"), {}})
	g.SetClusterAddresses(Manager, []netip.Addr{netip.MustParseAddr("10.244.1.9"), netip.MustParseAddr("10.88.0.1"), netip.MustParseAddr("::ffff:10.244.1.10")})
	cases := []struct {
		addr  string
		class Class // "" = allowed
	}{
		{"10.96.0.1", APIServer},
		{"192.168.5.10", APIServer},
		{"::ffff:10.96.0.1", APIServer},
		{"64:ff9b::10.96.0.1", APIServer},
		{"::10.96.0.1", APIServer},
		{"192.168.5.20", Node},
		{"2001:db8::20", Node},
		{"fe80::1%eth0", LinkLocal},
		{"10.244.1.9", Manager},
		{"10.244.1.10", Manager}, // stored unmapped
		{"10.88.0.1", ""},        // the allow CIDR wins over the cluster set
		{"10.88.0.7", Denied},    // the deny CIDR wins over the allow CIDR
		{"10.244.1.11", ""},      // only the exact addresses, not their subnet
		{"192.168.5.21", ""},
	}
	check := func() {
		t.Helper()
		for _, c := range cases {
			err := g.Check(netip.MustParseAddr(c.addr))
			if c.class == "" {
				if err != nil {
					t.Errorf("%s: refused (%v), want allowed", c.addr, err)
				}
				continue
			}
			if r, ok := IsRefused(err); !ok || r.Class != c.class {
				t.Errorf("%s: got %v, want refused as %s", c.addr, err, c.class)
			}
		}
	}
	check()
	if got := g.ClusterAddresses(Node); len(got) != 2 {
		t.Errorf("node addresses %v, want the 2 valid ones", got)
	}
	// A new node list replaces the old one and leaves the other classes alone.
	g.SetClusterAddresses(Node, []netip.Addr{netip.MustParseAddr("192.168.5.21")})
	cases[5].class, cases[6].class, cases[len(cases)-1].class = "", "", Node
	check()
	var zero Guard
	if err := zero.Check(netip.MustParseAddr("10.96.0.1")); err != nil {
		t.Errorf("the zero guard has no cluster addresses: %v", err)
	}
	if r, ok := IsRefused(zero.Check(netip.MustParseAddr("169.254.169.254"))); !ok || r.Class != Metadata {
		t.Errorf("the zero guard refuses the default classes: %v", r)
	}
}

func TestRefusedMessages(t *testing.T) {
	for _, tc := range []struct {
		err  RefusedError
		want string
	}{
		{RefusedError{Addr: netip.MustParseAddr("10.96.0.1"), Class: APIServer},
			"address 10.96.0.1 is refused: Kubernetes API server addresses are blocked for webhooks (manager flags --webhook-allow-cidrs / --webhook-deny-cidrs)"},
		{RefusedError{Addr: netip.MustParseAddr("10.0.0.1"), Class: Denied},
			"address 10.0.0.1 is refused: it is in the manager's --webhook-deny-cidrs"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// The dial hook refuses before any packet is sent. Only loopback is dialled here.
func TestControlRefusesAtDialTime(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	blocked := &net.Dialer{Control: New(nil, nil).Control}
	_, err = blocked.DialContext(context.Background(), "tcp", l.Addr().String())
	var r *RefusedError
	if !errors.As(err, &r) || r.Class != Loopback {
		t.Fatalf("dial to %s: %v, want refused as loopback", l.Addr(), err)
	}
	// A name that resolves to loopback is refused too: the check sees the resolved address.
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_, err = blocked.DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if !errors.As(err, &r) {
		t.Fatalf("dial to localhost: %v, want refused", err)
	}
	allowed := &net.Dialer{Control: New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil).Control}
	c, err := allowed.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("allowed dial failed: %v", err)
	}
	_ = c.Close()
	if err := New(nil, nil).Control("tcp", "no-port", nil); err == nil {
		t.Fatal("a malformed dial address must be an error")
	}
}
