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
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"kickq.dev/kickq/internal/netguard"
)

func node(name string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
}

func service(ns, name string, ips ...string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ips[0], ClusterIPs: ips}}
}

func slice(ns, name, svc string, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
	}
	return s
}

func clusterObjects() []client.Object {
	return []client.Object{
		node("n1", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.11"},
			corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.11"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}),
		node("n2", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00:1::12"}),
		service("default", "kubernetes", "10.96.0.1", "fd00:96::1"),
		slice("default", "kubernetes", "kubernetes", "192.168.1.10"),
		service("kickq-system", "kickq-report", "10.96.5.5"),
		slice("kickq-system", "kickq-report-abc", "kickq-report", "10.244.0.7", "10.244.1.8"),
		service("kickq-system", "other", "10.96.6.6"),
		slice("kickq-system", "other-abc", "other", "10.244.2.2"),
		service("shop", "mailer", "10.96.7.7"),
		slice("shop", "mailer-abc", "mailer", "10.244.0.7"), // another namespace's Service is not the manager's
	}
}

func newClusterAddresses(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) (*ClusterAddresses, client.Client) {
	t.Helper()
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = discoveryv1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
	return &ClusterAddresses{Reader: c, Guard: netguard.New(nil, nil), Namespace: "kickq-system",
		Own: func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.244.0.7")} }}, c
}

// expectClasses checks the guard's verdict on each address ("" = allowed).
func expectClasses(t *testing.T, g *netguard.Guard, want map[string]netguard.Class) {
	t.Helper()
	for addr, class := range want {
		err := g.Check(netip.MustParseAddr(addr))
		if class == "" {
			if err != nil {
				t.Errorf("%s: refused (%v), want allowed", addr, err)
			}
			continue
		}
		if r, ok := netguard.IsRefused(err); !ok || r.Class != class {
			t.Errorf("%s: got %v, want refused as %s", addr, err, class)
		}
	}
}

func TestClusterAddressesRefresh(t *testing.T) {
	ca, _ := newClusterAddresses(t, interceptor.Funcs{}, clusterObjects()...)
	if err := ca.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectClasses(t, ca.Guard, map[string]netguard.Class{
		"10.96.0.1":       netguard.APIServer, // the kubernetes Service
		"fd00:96::1":      netguard.APIServer,
		"192.168.1.10":    netguard.APIServer, // its endpoint
		"192.168.1.11":    netguard.Node,
		"203.0.113.11":    netguard.Node,
		"fd00:1::12":      netguard.Node,
		"10.244.0.7":      netguard.Manager, // the manager's pod
		"10.244.1.8":      netguard.Manager, // another replica behind the manager's Service
		"10.96.5.5":       netguard.Manager, // the Service that fronts the manager
		"10.96.6.6":       "",               // a Service in the manager's namespace that does not front it
		"10.244.2.2":      "",
		"10.96.7.7":       "", // a tenant's Service
		"10.88.0.5":       "", // a pod
		"169.254.169.254": netguard.Metadata,
	})
}

func TestClusterAddressesKeepsWhatASourceLastGave(t *testing.T) {
	failNodes := false
	funcs := interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if _, ok := list.(*corev1.NodeList); ok && failNodes {
			return errors.New("nodes is forbidden")
		}
		return c.List(ctx, list, opts...)
	}}
	ca, c := newClusterAddresses(t, funcs, clusterObjects()...)
	ctx := context.Background()
	if err := ca.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	failNodes = true
	if err := c.Delete(ctx, node("n1")); err != nil {
		t.Fatal(err)
	}
	if err := ca.Refresh(ctx); err == nil {
		t.Fatal("a failed node list must be reported")
	}
	expectClasses(t, ca.Guard, map[string]netguard.Class{"192.168.1.11": netguard.Node, "10.96.0.1": netguard.APIServer})
	failNodes = false
	if err := ca.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expectClasses(t, ca.Guard, map[string]netguard.Class{"192.168.1.11": "", "fd00:1::12": netguard.Node})
}

// Start lists at once and then every Interval on its clock.
func TestClusterAddressesStartTicks(t *testing.T) {
	listed := make(chan struct{}, 1) // a Refresh listed the nodes, its last step
	funcs := interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		err := c.List(ctx, list, opts...)
		if _, ok := list.(*corev1.NodeList); ok {
			listed <- struct{}{}
		}
		return err
	}}
	ca, c := newClusterAddresses(t, funcs, clusterObjects()...)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ca.Clock, ca.Interval = clk, time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ca.Start(ctx) }()
	<-listed
	if err := c.Create(ctx, node("n3", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.13"})); err != nil {
		t.Fatal(err)
	}
	clk.Step(59 * time.Second)
	select {
	case <-listed:
		t.Fatal("listed again before the interval")
	default:
	}
	clk.Step(time.Second)
	<-listed
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectClasses(t, ca.Guard, map[string]netguard.Class{"192.168.1.13": netguard.Node})
	if ca.NeedLeaderElection() {
		t.Error("every replica keeps its guard current")
	}
}
