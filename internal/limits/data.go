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
	"bytes"
	"encoding/json"
	"strconv"
)

// OversizedDataKey is the one key of the marker that stands, in the manager's cache, for a
// spec.data over MaxDataBytes: {"kickq.dev/oversized-bytes": <the original size>}.
const OversizedDataKey = "kickq.dev/oversized-bytes"

var oversizedPrefix = []byte(`{"` + OversizedDataKey + `":`)

// OversizedDataMarker is the marker for a spec.data of n bytes.
func OversizedDataMarker(n int) []byte {
	b := strconv.AppendInt(append([]byte{}, oversizedPrefix...), int64(n), 10)
	return append(b, '}')
}

// DataBytes is the size of spec.data as written: the size a marker records, else len(raw).
func DataBytes(raw []byte) int {
	if len(raw) > 64 || !bytes.HasPrefix(raw, oversizedPrefix) {
		return len(raw)
	}
	var m map[string]int
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 || m[OversizedDataKey] <= MaxDataBytes {
		return len(raw)
	}
	return m[OversizedDataKey]
}
