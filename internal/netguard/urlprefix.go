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

import (
	"net/url"
	"strings"
)

// URLWithin reports whether raw lies under one of the URL prefixes (a queue's
// spec.webhookURLPrefixes). A URL is under a prefix when both are absolute http(s) URLs with the
// same scheme, the same host (case-insensitive, one trailing dot ignored) and the same port (the
// scheme's default when unset), and the URL's path is the prefix's path or continues it at a "/"
// ("https://h/hooks" covers /hooks and /hooks/a, not /hooksx). The URL's query is free. A URL
// whose path has "." or ".." segments or a backslash is under no prefix, whatever its encoding: a
// receiver could resolve it outside the prefix. A prefix that does not parse, or has a query or a
// fragment, covers nothing.
func URLWithin(raw string, prefixes []string) bool {
	u, ok := parseHTTP(raw)
	if !ok || !cleanPath(u.Path) {
		return false
	}
	for _, p := range prefixes {
		pu, ok := parseHTTP(p)
		if !ok || pu.RawQuery != "" || pu.Fragment != "" {
			continue
		}
		if u.Scheme == pu.Scheme && host(u) == host(pu) && port(u) == port(pu) && underPath(u.Path, pu.Path) {
			return true
		}
	}
	return false
}

// parseHTTP parses an absolute http or https URL with a host.
func parseHTTP(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Hostname() == "" {
		return nil, false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, false
	}
	return u, true
}

func host(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return strings.TrimLeft(p, "0")
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// cleanPath reports whether a decoded path has no "." or ".." segment (also as "..;params", which
// some servers resolve as "..") and no backslash.
func cleanPath(p string) bool {
	if strings.Contains(p, `\`) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// underPath reports whether path p is prefix path pp or continues it at a segment boundary.
func underPath(p, pp string) bool {
	if pp == "" || pp == "/" {
		return true
	}
	if p == pp || p == strings.TrimSuffix(pp, "/") {
		return true
	}
	if !strings.HasSuffix(pp, "/") {
		pp += "/"
	}
	return strings.HasPrefix(p, pp)
}
