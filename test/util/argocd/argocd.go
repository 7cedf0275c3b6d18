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

// Package argocd runs kickq's Argo CD health scripts (config/argocd) the way Argo CD does: with
// gopher-lua, the object as the global table obj, and the script's returned table read for
// status and message.
package argocd

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// Health is what a health script returned.
type Health struct {
	Status  string
	Message string
}

// ScriptPath is the path of a script in config/argocd ("health-queue.lua",
// "health-queuejob.lua").
func ScriptPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "config", "argocd", name)
}

// Run runs the script at path on obj (an unstructured object's content).
func Run(path string, obj map[string]any) (Health, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Health{}, err
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(src)); err != nil {
		return Health{}, fmt.Errorf("running %s: %w", filepath.Base(path), err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return Health{}, fmt.Errorf("%s returned %s, not a table", filepath.Base(path), L.Get(-1).Type())
	}
	return Health{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}, nil
}

// toLua converts a JSON-like Go value as Argo CD does: objects to tables, arrays to 1-based
// tables, numbers to Lua numbers.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.RawSetString(k, toLua(L, v[k]))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}
