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
	"testing"
)

// TestDefaultRetentionFlag: --default-retention is off by default, and a bad value stops the
// manager at start (validate), naming the item.
func TestDefaultRetentionFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "off by default"},
		{name: "TTLs", args: []string{"--default-retention=succeeded.ttl=24h,failed.ttl=168h"}},
		{name: "a history limit", args: []string{"--default-retention=succeeded.historyLimit=1000"}},
		{name: "a bad phase", args: []string{"--default-retention=done.ttl=1h"}, wantErr: true},
		{name: "a bad duration", args: []string{"--default-retention=failed.ttl=soon"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(t, tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tc.wantErr)
			}
			if len(tc.args) == 0 && o.defaultRetention != "" {
				t.Fatalf("--default-retention defaults to %q, want off", o.defaultRetention)
			}
		})
	}
}
