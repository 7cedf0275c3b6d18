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

package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

const dashboardPath = "../../config/grafana/kickq-dashboard.json"

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// queries returns every PromQL query of the dashboard: its panels' targets and its query
// variables, named for messages.
func (d *dashboard) queries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			out[p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query: %v", v.Name, err)
		}
		out["variable "+v.Name] = q.Query
	}
	return out
}

// exportedNames are the series names the manager exports, read from the registry: each family's
// name, and for histograms the _bucket, _sum and _count series.
func exportedNames(fams []*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var (
	// metricName finds the kickq series a query names.
	metricName = regexp.MustCompile(`\bkickq_[a-zA-Z0-9_:]*`)
	// identifier finds every bare word of a query, to catch a metric of another prefix.
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// promqlWords are the words a kickq query may hold besides metric names: functions, aggregation
// keywords, label names and Grafana's functions.
var promqlWords = map[string]bool{
	"sum": true, "max": true, "min": true, "avg": true, "by": true, "without": true, "rate": true, "increase": true,
	"histogram_quantile": true, "label_values": true, "le": true,
	LabelNamespace: true, LabelQueue: true, LabelType: true, LabelPhase: true, LabelOutcome: true, LabelLimit: true,
	LabelCodeClass: true, LabelResult: true, LabelCode: true,
}

// TestDashboardQueries: every query of config/grafana's dashboard names only series the manager
// exports, and the dashboard shows what issue 14 asks for.
func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	exported := exportedNames(gatherKickq(t))
	used := map[string]bool{}
	queries := d.queries(t)
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for where, q := range queries {
		// Grafana's variables ($namespace, $__rate_interval) and quoted label values are not
		// PromQL names.
		bare := regexp.MustCompile(`"[^"]*"|\$\{?[a-zA-Z_]+\}?|\[[^\]]*\]|[0-9.]+`).ReplaceAllString(q, " ")
		names := metricName.FindAllString(bare, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no kickq metric", where, q)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: %q names %s, which the manager does not export", where, q, n)
			}
			used[strings.TrimSuffix(n, "_bucket")] = true
		}
		for _, w := range identifier.FindAllString(bare, -1) {
			if !strings.HasPrefix(w, "kickq_") && !promqlWords[w] {
				t.Errorf("%s: %q holds %q, neither a kickq metric nor a known PromQL word or label", where, q, w)
			}
		}
		if strings.Count(q, "(") != strings.Count(q, ")") || strings.Count(q, "{") != strings.Count(q, "}") {
			t.Errorf("%s: %q has unbalanced brackets", where, q)
		}
	}
	// Jobs by phase, throughput, wait/run p95, lateness, limits hit, webhook codes.
	for _, want := range []string{"kickq_jobs", "kickq_attempts_total", "kickq_job_wait_seconds", "kickq_job_run_seconds",
		"kickq_start_lateness_seconds", "kickq_limited_total", "kickq_webhook_requests_total"} {
		if !used[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}
