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

import "testing"

func TestURLWithin(t *testing.T) {
	prefixes := []string{
		"https://hooks.shop.example/kickq",
		"http://receiver.shop.svc:8080/",
		"https://callbacks.example",
		"https://[fd00::1]:8443/in/",
		"not a url",
		"ftp://files.example/",
		"https://q.example/?a=1",
	}
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://hooks.shop.example/kickq", true},
		{"https://hooks.shop.example/kickq/", true},
		{"https://hooks.shop.example/kickq/done?job=1", true},
		{"https://HOOKS.shop.example./kickq/a", true},
		{"https://hooks.shop.example:443/kickq/a", true},
		{"HTTPS://hooks.shop.example/kickq/a", true},
		{"https://user:pw@hooks.shop.example/kickq/a", true},
		{"https://hooks.shop.example/kickqx", false},       // not at a segment boundary
		{"https://hooks.shop.example/other", false},        // another path
		{"https://hooks.shop.example:8443/kickq/a", false}, // another port
		{"http://hooks.shop.example/kickq/a", false},       // another scheme
		{"https://hooks.shop.example.evil.example/kickq", false},
		{"https://evil.example/https://hooks.shop.example/kickq", false},
		{"https://hooks.shop.example@evil.example/kickq", false}, // the host is evil.example
		{"https://hooks.shop.example/kickq/../admin", false},
		{"https://hooks.shop.example/kickq/%2e%2e/admin", false},
		{"https://hooks.shop.example/kickq/..;/admin", false},
		{"https://hooks.shop.example/kickq/./a", false},
		{"https://hooks.shop.example/kickq/a%5c..%5cadmin", false},
		{"http://receiver.shop.svc:8080/any/path", true},
		{"http://receiver.shop.svc:08080/x", true},
		{"http://receiver.shop.svc/any", false}, // port 80, not 8080
		{"https://callbacks.example", true},
		{"https://callbacks.example/anything", true},
		{"https://[fd00::1]:8443/in/x", true},
		{"https://[fd00::1]:8443/out", false},
		{"ftp://files.example/x", false},
		{"https://q.example/?a=1", false}, // a prefix with a query covers nothing
		{"mailto:a@b.c", false},
		{"://bad", false},
		{"", false},
	} {
		if got := URLWithin(tc.url, prefixes); got != tc.want {
			t.Errorf("URLWithin(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
	if URLWithin("https://callbacks.example/x", nil) {
		t.Error("no prefixes cover nothing")
	}
}
