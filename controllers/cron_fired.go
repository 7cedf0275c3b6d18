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
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// firedChildren remembers, per template, the children this process created in a pass whose
// status write is still to come: the pass that writes the status may run before the cache has
// seen them, and must neither create them again nor leave them out of status.active. An entry
// lives from the firing to the status write that records it (or the template's deletion): at
// most the children of one pass per template.
type firedChildren struct {
	mu sync.Mutex
	// m maps a template to its remembered children's names and the kickq.dev/run-now value each
	// was created for ("" for a scheduled firing).
	m map[types.NamespacedName]map[string]string
}

func (f *firedChildren) add(key types.NamespacedName, c cronChild) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[key] == nil {
		f.m[key] = map[string]string{}
	}
	f.m[key][c.Name] = c.RunNow
}

func (f *firedChildren) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

// addTo adds the remembered children the cache does not show yet to what a pass sees: they exist
// and have not finished (they were created moments ago).
func (f *firedChildren) addTo(key types.NamespacedName, seen *cronChildren) {
	f.mu.Lock()
	defer f.mu.Unlock()
	added := false
	for name, runNow := range f.m[key] {
		if runNow != "" {
			seen.RunNow[runNow] = true
		}
		if !seen.Existing[name] {
			seen.Existing[name] = true
			seen.Active = append(seen.Active, name)
			added = true
		}
	}
	if added {
		sort.Strings(seen.Active)
	}
}
