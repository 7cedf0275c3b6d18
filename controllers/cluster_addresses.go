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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kickq.dev/kickq/internal/netguard"
)

// DefaultClusterAddressInterval is how often ClusterAddresses lists the cluster's addresses again.
const DefaultClusterAddressInterval = time.Minute

// nodePage is how many Nodes one List call returns.
const nodePage = 500

// ClusterAddresses keeps the webhook guard's dynamic deny set current: the Kubernetes API server's
// addresses (the default/kubernetes Service's cluster IPs and its EndpointSlices' addresses), every
// node's InternalIP and ExternalIP addresses (kubelets, host-network pods), and the manager's own
// (its pod's addresses, POD_IP/POD_IPS and its interfaces, and the cluster IPs and endpoints of the
// Services in its namespace that front it: metrics, the report API, every replica). It lists them
// at start and every Interval on its clock, as a manager Runnable on every replica; a source it
// cannot read keeps the addresses it last had. The operator's --webhook-allow-cidrs win over it.
type ClusterAddresses struct {
	// Reader reads Nodes, Services and EndpointSlices from the API server (the manager's API
	// reader: none of them is cached).
	Reader client.Reader
	Guard  *netguard.Guard
	// Namespace is the manager's namespace (POD_NAMESPACE); "" skips the Services that front it.
	Namespace string
	// Interval between listings; 0 means DefaultClusterAddressInterval.
	Interval time.Duration
	// Clock ticks the listings; nil means the real clock.
	Clock clock.WithTicker
	// Own returns the manager's own addresses; nil means OwnAddresses.
	Own func() []netip.Addr
}

// NeedLeaderElection is false: a standby replica keeps its guard current too.
func (c *ClusterAddresses) NeedLeaderElection() bool { return false }

// Start lists the addresses now and then every Interval until ctx ends.
func (c *ClusterAddresses) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("cluster-addresses")
	clk, every := c.Clock, c.Interval
	if clk == nil {
		clk = clock.RealClock{}
	}
	if every <= 0 {
		every = DefaultClusterAddressInterval
	}
	t := clk.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil {
			log.Error(err, "listing the cluster addresses webhooks may not reach; the ones last found stay refused")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// Refresh lists the addresses once and hands them to the guard, class by class.
func (c *ClusterAddresses) Refresh(ctx context.Context) error {
	own := c.Own
	if own == nil {
		own = OwnAddresses
	}
	var errs []error
	mine, err := c.frontingServices(ctx, own())
	if err != nil {
		// Keep what fronted the manager before; its own addresses are always known.
		mine = append(mine, c.Guard.ClusterAddresses(netguard.Manager)...)
		errs = append(errs, err)
	}
	c.Guard.SetClusterAddresses(netguard.Manager, mine)
	if api, err := c.apiServer(ctx); err != nil {
		errs = append(errs, err)
	} else {
		c.Guard.SetClusterAddresses(netguard.APIServer, api)
	}
	if nodes, err := c.nodes(ctx); err != nil {
		errs = append(errs, err)
	} else {
		c.Guard.SetClusterAddresses(netguard.Node, nodes)
	}
	return errors.Join(errs...)
}

// OwnAddresses are the manager's own addresses: POD_IP and POD_IPS (the downward API) and the
// addresses of its network interfaces.
func OwnAddresses() []netip.Addr {
	var out []netip.Addr
	for _, v := range append(strings.Split(os.Getenv("POD_IPS"), ","), os.Getenv("POD_IP")) {
		if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
			out = append(out, a)
		}
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		if n, ok := ia.(*net.IPNet); ok {
			if a, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}

// frontingServices returns own plus, for each Service in the manager's namespace with an endpoint
// at one of own's addresses, the Service's cluster IPs and all its endpoints (other replicas).
func (c *ClusterAddresses) frontingServices(ctx context.Context, own []netip.Addr) ([]netip.Addr, error) {
	out := append([]netip.Addr(nil), own...)
	if c.Namespace == "" {
		return out, nil
	}
	mine := map[netip.Addr]bool{}
	for _, a := range own {
		mine[a.Unmap()] = true
	}
	var slices discoveryv1.EndpointSliceList
	if err := c.Reader.List(ctx, &slices, client.InNamespace(c.Namespace)); err != nil {
		return out, fmt.Errorf("listing the EndpointSlices of namespace %s: %w", c.Namespace, err)
	}
	services := map[string]bool{}
	for i := range slices.Items {
		s := &slices.Items[i]
		addrs := sliceAddresses(s)
		for _, a := range addrs {
			if mine[a] {
				out = append(out, addrs...)
				if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
					services[name] = true
				}
				break
			}
		}
	}
	for name := range services {
		ips, err := c.clusterIPs(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name})
		if err != nil {
			return out, err
		}
		out = append(out, ips...)
	}
	return out, nil
}

// apiServer returns the default/kubernetes Service's cluster IPs and its endpoints.
func (c *ClusterAddresses) apiServer(ctx context.Context) ([]netip.Addr, error) {
	out, err := c.clusterIPs(ctx, client.ObjectKey{Namespace: corev1.NamespaceDefault, Name: "kubernetes"})
	if err != nil {
		return nil, err
	}
	var slices discoveryv1.EndpointSliceList
	if err := c.Reader.List(ctx, &slices, client.InNamespace(corev1.NamespaceDefault),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		return nil, fmt.Errorf("listing the kubernetes Service's EndpointSlices: %w", err)
	}
	for i := range slices.Items {
		out = append(out, sliceAddresses(&slices.Items[i])...)
	}
	return out, nil
}

// clusterIPs returns a Service's cluster IPs (none when it does not exist).
func (c *ClusterAddresses) clusterIPs(ctx context.Context, key client.ObjectKey) ([]netip.Addr, error) {
	var svc corev1.Service
	if err := c.Reader.Get(ctx, key, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Service %s: %w", key, err)
	}
	return parseAddrs(append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...)), nil
}

// nodes returns every node's InternalIP and ExternalIP addresses.
func (c *ClusterAddresses) nodes(ctx context.Context) ([]netip.Addr, error) {
	var out []netip.Addr
	opts := []client.ListOption{client.Limit(nodePage)}
	for {
		var nodes corev1.NodeList
		if err := c.Reader.List(ctx, &nodes, opts...); err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		for i := range nodes.Items {
			for _, a := range nodes.Items[i].Status.Addresses {
				if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
					out = append(out, parseAddrs([]string{a.Address})...)
				}
			}
		}
		if nodes.Continue == "" {
			return out, nil
		}
		opts = []client.ListOption{client.Limit(nodePage), client.Continue(nodes.Continue)}
	}
}

func sliceAddresses(s *discoveryv1.EndpointSlice) []netip.Addr {
	var out []netip.Addr
	for _, e := range s.Endpoints {
		out = append(out, parseAddrs(e.Addresses)...)
	}
	return out
}

// parseAddrs parses the IP addresses among ss (names, "None" and "" are skipped).
func parseAddrs(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}
