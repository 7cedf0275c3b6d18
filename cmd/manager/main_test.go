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
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWebhookTimeoutMaxFlag(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{name: "default", want: 5 * time.Minute},
		{name: "the API's maximum", args: []string{"--webhook-timeout-max=10m"}, want: 10 * time.Minute},
		{name: "seconds", args: []string{"--webhook-timeout-max=45s"}, want: 45 * time.Second},
		{name: "below a second", args: []string{"--webhook-timeout-max=500ms"}, want: 500 * time.Millisecond, wantErr: true},
		{name: "zero", args: []string{"--webhook-timeout-max=0"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(t, tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && o.webhookTimeoutMax != tc.want {
				t.Fatalf("--webhook-timeout-max = %s, want %s", o.webhookTimeoutMax, tc.want)
			}
		})
	}
}

// TestReportKeyFiles: during a rotation the manager signs with --report-token-key-file and
// still accepts --report-token-previous-key-file's tokens.
func TestReportKeyFiles(t *testing.T) {
	dir := t.TempDir()
	cur, prev := filepath.Join(dir, "key"), filepath.Join(dir, "previous")
	if err := os.WriteFile(cur, []byte("the new key, 32 bytes long......\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prev, []byte("the old key, 32 bytes long......\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, previous, err := reportKey(context.Background(), nil, &options{reportKeyFile: cur, reportPrevKeyFile: prev})
	if err != nil || string(key) != "the new key, 32 bytes long......" || string(previous) != "the old key, 32 bytes long......" {
		t.Fatalf("reportKey = %q, %q, %v", key, previous, err)
	}
	key, previous, err = reportKey(context.Background(), nil, &options{reportKeyFile: cur})
	if err != nil || len(key) == 0 || previous != nil {
		t.Fatalf("without a previous key: %q, %q, %v", key, previous, err)
	}
	if _, _, err := reportKey(context.Background(), nil, &options{reportPrevKeyFile: prev}); err == nil {
		t.Fatal("a previous key file without a key file must be refused")
	}
}

// TestLeaderElectionFlags: the defaults replace a crashed leader within 20 s (lease duration plus
// two jittered retry periods), and client-go's ordering of the three durations is checked at start.
func TestLeaderElectionFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "defaults"},
		{name: "longer lease", args: []string{"--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=4s"}},
		{name: "renew deadline not under the lease", args: []string{"--leader-elect-lease-duration=10s", "--leader-elect-renew-deadline=10s"}, wantErr: true},
		{name: "retry period too long for the renew deadline", args: []string{"--leader-elect-retry-period=9s"}, wantErr: true},
		{name: "zero retry period", args: []string{"--leader-elect-retry-period=0"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOptions(t, tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
	o, _ := parseOptions(t, nil)
	if worst := o.leaseDuration + time.Duration(2*1.2*float64(o.retryPeriod)); worst > 18*time.Second {
		t.Fatalf("default worst-case failover %s, want at most 18s (20 s promised, with room for the API server's latency)", worst)
	}
}

// parseOptions parses the manager's flags from args and validates them.
func parseOptions(t *testing.T, args []string) (options, error) {
	t.Helper()
	var o options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, o.validate()
}

// TestCacheOptions: the informers never resync, and the cache keeps QueueJobs through the
// transform that trims finished ones.
func TestCacheOptions(t *testing.T) {
	o := cacheOptions()
	if o.SyncPeriod == nil || *o.SyncPeriod != 0 {
		t.Errorf("SyncPeriod = %v, want 0 (no resync)", o.SyncPeriod)
	}
	if o.DefaultTransform == nil {
		t.Error("no DefaultTransform")
	}
}
