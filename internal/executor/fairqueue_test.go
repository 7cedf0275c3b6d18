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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// fqStep is one operation on a fairQueue and what it must answer.
type fqStep struct {
	// op is push, pop, done or remove.
	op string
	// call: push "namespace/queue/name"; done and remove the name; pop the name expected ("": none).
	call string
	// refused: push expects ErrBusy's refusal; remove expects that the call was not waiting.
	refused bool
	// wake: pop and remove, the job ("namespace/name") expected to be woken ("": none).
	wake string
}

func TestFairQueue(t *testing.T) {
	push := func(c string) fqStep { return fqStep{op: "push", call: c} }
	refuse := func(c string) fqStep { return fqStep{op: "push", call: c, refused: true} }
	pop := func(name string) fqStep { return fqStep{op: "pop", call: name} }
	popWake := func(name, wake string) fqStep { return fqStep{op: "pop", call: name, wake: wake} }
	done := func(name string) fqStep { return fqStep{op: "done", call: name} }
	cases := []struct {
		name        string
		inFlight    int
		backlog     int
		steps       []fqStep
		allReleased bool // at the end no namespace is remembered
	}{{
		name: "round-robin across namespaces, FIFO inside one", inFlight: 10, backlog: 10,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), push("a/q/a3"), push("b/q/b1"), push("c/q/c1"), push("c/q/c2"),
			pop("a1"), pop("b1"), pop("c1"), pop("a2"), pop("c2"), pop("a3"), pop(""),
			done("a1"), done("b1"), done("c1"), done("a2"), done("c2"), done("a3")},
		allReleased: true,
	}, {
		name: "round-robin across a namespace's queues", inFlight: 10, backlog: 10,
		steps: []fqStep{push("a/bulk/x1"), push("a/bulk/x2"), push("a/bulk/x3"), push("a/mail/y1"), push("b/q/b1"),
			pop("x1"), pop("b1"), pop("y1"), pop("x2"), pop("x3"), pop("")},
	}, {
		name: "a namespace that arrives late is served within one round", inFlight: 10, backlog: 10,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), push("a/q/a3"), push("b/q/b1"), pop("a1"), pop("b1"),
			push("c/q/c1"), pop("a2"), pop("c1"), pop("a3")},
	}, {
		name: "a namespace at its in-flight cap is skipped until one of its calls ends", inFlight: 2, backlog: 10,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), push("a/q/a3"), push("a/q/a4"), push("b/q/b1"),
			pop("a1"), pop("b1"), pop("a2"), pop(""), push("b/q/b2"), pop("b2"), pop(""),
			done("a1"), pop("a3"), pop(""), done("a2"), done("a3"), pop("a4"), done("a4"), done("b1"), done("b2")},
		allReleased: true,
	}, {
		name: "a removed call is never popped; a call in flight is not waiting", inFlight: 10, backlog: 10,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), push("a/q/a3"), {op: "remove", call: "a2"},
			pop("a1"), pop("a3"), pop(""), {op: "remove", call: "a1", refused: true}, {op: "remove", call: "a2", refused: true},
			done("a1"), done("a3")},
		allReleased: true,
	}, {
		name: "removing a namespace's last call keeps the round-robin going", inFlight: 10, backlog: 10,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), push("b/q/b1"), push("c/q/c1"), pop("a1"),
			{op: "remove", call: "b1"}, pop("c1"), pop("a2"), pop("")},
	}, {
		name:     "a full backlog refuses at once, other namespaces are not refused, and freed places wake the refused in turn",
		inFlight: 10, backlog: 2,
		steps: []fqStep{push("a/q/a1"), push("a/q/a2"), refuse("a/q/a3"), refuse("a/q/a4"), refuse("a/q/a3"), push("b/q/b1"),
			popWake("a1", "a/a3"), pop("b1"), {op: "remove", call: "a2", wake: "a/a4"}, pop(""),
			push("a/q/a3"), popWake("a3", ""), done("a1"), done("b1"), done("a3")},
		allReleased: true,
	}, {
		name: "at most backlog jobs are remembered to wake", inFlight: 10, backlog: 1,
		steps: []fqStep{push("a/q/a1"), refuse("a/q/a2"), refuse("a/q/a3"), popWake("a1", "a/a2"),
			push("a/q/a2"), popWake("a2", ""), done("a1"), done("a2")},
		allReleased: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newFairQueue(tc.inFlight, tc.backlog)
			calls := map[string]*call{}
			for i, s := range tc.steps {
				var wake *types.NamespacedName
				switch s.op {
				case "push":
					p := strings.Split(s.call, "/")
					c := &call{job: types.NamespacedName{Namespace: p[0], Name: p[2]}, queue: p[1]}
					if ok := q.push(c); ok == s.refused {
						t.Fatalf("step %d: push %s accepted=%v, want %v", i, s.call, ok, !s.refused)
					}
					calls[p[2]] = c
				case "pop":
					var c *call
					c, wake = q.pop()
					got := ""
					if c != nil {
						got = c.job.Name
					}
					if got != s.call {
						t.Fatalf("step %d: pop = %q, want %q", i, got, s.call)
					}
				case "done":
					q.done(calls[s.call])
				case "remove":
					var ok bool
					ok, wake = q.remove(calls[s.call])
					if ok == s.refused {
						t.Fatalf("step %d: remove %s = %v, want %v", i, s.call, ok, !s.refused)
					}
				}
				if s.op == "pop" || s.op == "remove" {
					got := ""
					if wake != nil {
						got = wake.String()
					}
					if got != s.wake {
						t.Fatalf("step %d: %s %s woke %q, want %q", i, s.op, s.call, got, s.wake)
					}
				}
			}
			if tc.allReleased && len(q.spaces) != 0 {
				t.Fatalf("namespaces still remembered: %v", q.spaces)
			}
		})
	}
}
