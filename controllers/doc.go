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

// Package controllers holds kickq's reconcilers. The RBAC markers below are the permissions the
// manager needs, cluster-wide, and no more: config/rbac/role.yaml is generated from them. Spec
// writes are patches (the batch label, a cron child's spec.cancel), status writes are updates,
// Events go through events.k8s.io (leader election's core Events are granted in the manager's
// namespace only, config/rbac/leader_election_role.yaml). Secrets are read cluster-wide because
// webhook and callback secrets live in each job's namespace.
package controllers

// +kubebuilder:rbac:groups=kickq.dev,resources=queuejobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=kickq.dev,resources=queuejobs/status,verbs=update
// +kubebuilder:rbac:groups=kickq.dev,resources=queuejobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=kickq.dev,resources=queues,verbs=get;list;watch
// +kubebuilder:rbac:groups=kickq.dev,resources=queues/status,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// ClusterAddresses (cluster_addresses.go): the addresses webhook calls may not reach.
// +kubebuilder:rbac:groups="",resources=nodes,verbs=list
// +kubebuilder:rbac:groups="",resources=services,verbs=get
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The report API (internal/report): TokenReviews of the ServiceAccount tokens pod attempts report with.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
