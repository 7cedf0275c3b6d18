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

package limits

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, s, suffix, want string
		n                     int
	}{
		{name: "fits", s: "hello", n: 5, suffix: Ellipsis, want: "hello"},
		{name: "empty", s: "", n: 0, suffix: Ellipsis, want: ""},
		{name: "cut with ellipsis", s: "hello world", n: 8, suffix: Ellipsis, want: "hello" + Ellipsis},
		{name: "cut without suffix", s: "hello world", n: 5, suffix: "", want: "hello"},
		{name: "cut at a rune boundary", s: "ééééé", n: 5, suffix: "", want: "éé"},
		{name: "suffix longer than the bound", s: "hello world", n: 2, suffix: TruncatedMark, want: TruncatedMark},
		{name: "truncated mark", s: strings.Repeat("a", 30), n: 20, suffix: TruncatedMark, want: "aaaaaa" + TruncatedMark},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.s, tc.n, tc.suffix)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d, %q) = %q, want %q", tc.s, tc.n, tc.suffix, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Truncate(%q) = %q is not valid UTF-8", tc.s, got)
			}
		})
	}
}
