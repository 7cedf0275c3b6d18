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

package main

import (
	"context"
	"time"
)

// StormStats are what a kill storm did.
type StormStats struct {
	Kills int
	// Restart is the longest time from a SIGKILL until the next process's caches synced.
	Restart time.Duration
	Took    time.Duration
}

// KillStorm SIGKILLs the manager kills times and starts it again at once each time. Each kill
// comes a random uptime in [minUp, maxUp) after the process's caches synced (so that it lands
// while the manager works, not while it starts). It stops early when ctx ends or stop returns
// true.
func (h *Harness) KillStorm(ctx context.Context, m *Manager, kills int, minUp, maxUp time.Duration, stop func() bool) (StormStats, error) {
	st := StormStats{}
	t0 := time.Now()
	for st.Kills < kills && ctx.Err() == nil {
		if err := m.WaitSynced(ctx, 2*time.Minute); err != nil {
			return st, err
		}
		up := minUp + time.Duration(h.Rand.Int64N(int64(maxUp-minUp)))
		select {
		case <-time.After(up):
		case <-ctx.Done():
			return st, ctx.Err()
		}
		if stop != nil && stop() {
			break
		}
		m.Kill()
		st.Kills++
		k := time.Now()
		if err := m.Restart(ctx); err != nil {
			return st, err
		}
		if err := m.WaitSynced(ctx, 2*time.Minute); err != nil {
			return st, err
		}
		st.Restart = max(st.Restart, time.Since(k))
	}
	st.Took = time.Since(t0)
	return st, nil
}
