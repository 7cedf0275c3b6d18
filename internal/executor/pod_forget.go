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

package executor

import (
	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var _ JobForgetter = &Pods{}

// ForgetJob drops the expectations and refusals of every job of that name that the executor
// knows, as Forget does for one UID: a job deleted before it finished leaves nothing behind.
func (p *Pods) ForgetJob(job types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid := range p.names.uids[job] {
		p.forgetLocked(uid)
	}
}

// jobNames maps the UIDs the pod executor holds state for to their jobs' names and back: the
// reconciler of a deleted job knows only its name, and a name may have been used by several UIDs.
type jobNames struct {
	names map[types.UID]types.NamespacedName
	uids  map[types.NamespacedName]map[types.UID]struct{}
}

func newJobNames() jobNames {
	return jobNames{names: map[types.UID]types.NamespacedName{}, uids: map[types.NamespacedName]map[types.UID]struct{}{}}
}

// add records the job's name for its UID.
func (n jobNames) add(job *kickqv1alpha1.QueueJob) {
	if _, ok := n.names[job.UID]; ok {
		return
	}
	key := types.NamespacedName{Namespace: job.Namespace, Name: job.Name}
	n.names[job.UID] = key
	if n.uids[key] == nil {
		n.uids[key] = map[types.UID]struct{}{}
	}
	n.uids[key][job.UID] = struct{}{}
}

// remove drops the UID.
func (n jobNames) remove(uid types.UID) {
	key, ok := n.names[uid]
	if !ok {
		return
	}
	delete(n.names, uid)
	delete(n.uids[key], uid)
	if len(n.uids[key]) == 0 {
		delete(n.uids, key)
	}
}
