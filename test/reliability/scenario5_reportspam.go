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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/test/util/audit"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func init() {
	Register(Scenario{ID: 5, Name: "Report spam", Run: scenario5, Doc: "A report without an outcome is answered 202 and held in the " +
		"report store, which writes a job's status at most about once a second (outcomes at once); status keeps the newest " +
		"100 log lines and counts the rest in `status.logsDropped`. The report API closes a connection whose headers take over 5 s, " +
		"whose request takes over 10 s, or that stays idle over 30 s (internal/limits: ReportReadHeaderTimeout, ReportReadTimeout, " +
		"ReportIdleTimeout), and serves at most 512 connections at once."})
}

// spamLimits leave every accepted webhook job running at once.
var spamLimits = MixLimits{PodConcurrency: 8, PodRate: 1000, PodPeriod: 1, HookConcurrency: 500, HookRate: 1000, HookPeriod: 1, WorkConcurrency: 6}

// spamJob is one job that reports: its name and the token its call carried.
type spamJob struct{ name, token string }

// scenario5 floods the report API: 1,000 reports/s at one job, then 100 jobs at 10/s each (every
// job a webhook job whose receiver answered 202 and reports), with slow and idle connections
// open meanwhile. Invariants: status stays under its caps, about one status write per second per
// job, the manager's memory bounded, slow and idle connections closed by the server's timeouts,
// and every job ends with its one attempt once it reports its outcome.
func scenario5(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 5, Name: "Report spam"}
	secs := h.Scale(10, 3)
	many := h.Scale(100, 20)
	row.Done = "webhook jobs whose receiver answered 202 report progress and a log line through the report API as fast as told, then their outcome"
	row.Load = fmt.Sprintf("1,000 reports/s at one job for %d s, then %d jobs at 10 reports/s each for %d s", secs, many, secs)
	row.Faults = "report floods; a slowloris connection (headers 1 byte/s), a slow body (1 byte/s), an idle kept-alive connection"
	m, err := h.StartManager(ctx, ManagerOptions{Name: "a"})
	if err != nil {
		row.Fail("manager start", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s5", MixOptions{Limits: spamLimits, HookDelay: time.Millisecond})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	jobs, err := h.acceptedJobs(ctx, mix, many+1)
	if err != nil {
		row.Fail("accepted jobs", err.Error())
		return row
	}
	mem := watchRSS(m)
	slow := make(chan slowResults, 1)
	go func() { slow <- probeSlowClients(ctx, m.ReportURL, mix.NS, jobs[len(jobs)-1]) }()

	hotStart := time.Now()
	hot := spam(ctx, m.ReportURL, mix.NS, jobs[:1], 1000, secs)
	hotEnd := time.Now()
	warmStart := time.Now()
	warm := spam(ctx, m.ReportURL, mix.NS, jobs[1:], 10, secs)
	warmEnd := time.Now()
	time.Sleep(2 * time.Second) // the last coalesced writes
	base, peak := mem.stop()

	hotRate, warmRate := float64(hot.sent)/hot.took.Seconds(), float64(warm.sent)/warm.took.Seconds()
	row.Check("flood rates reached (at least 70 % of 1,000/s and of 10/s per job)", hotRate >= 700 && warmRate >= 0.7*10*float64(many),
		"%.0f reports/s at the hot job, %.1f/s per job", hotRate, warmRate/float64(many))
	row.Check("reports answered (202 accepted, or 429/503 with Retry-After)", hot.bad+warm.bad == 0,
		"hot job: %s; %d jobs: %s", hot, many, warm)
	h.checkSpamWrites(ctx, row, mix.NS, jobs, hotStart, hotEnd, warmStart, warmEnd)
	h.checkSpamCaps(ctx, row, mix.NS, jobs)
	row.Check("manager memory bounded (RSS growth under 200 MiB)", peak-base < 200<<20, "RSS %d MiB before, %d MiB at most during the spam",
		base>>20, peak>>20)
	s := <-slow
	row.Check("slowloris headers closed (ReadHeaderTimeout 5 s)", s.headers > 0 && s.headers <= 9*time.Second, "closed after %s", s.headers.Round(100*time.Millisecond))
	row.Check("slow body closed (ReadTimeout 10 s)", s.body > 0 && s.body <= 14*time.Second, "closed after %s", s.body.Round(100*time.Millisecond))
	row.Check("idle kept-alive connection closed (IdleTimeout 30 s)", s.idle > 0 && s.idle <= 35*time.Second, "closed after %s", s.idle.Round(100*time.Millisecond))

	for _, j := range jobs {
		code, _, err := reportRetrying(ctx, m.ReportURL, mix.NS, j, `{"outcome":"Succeed","message":"done after the spam"}`)
		if err != nil || code != http.StatusOK {
			row.Fail("outcome report of "+j.name, fmt.Sprintf("status %d%s", code, errSuffix(err)))
		}
	}
	final, err := h.WaitTerminal(ctx, []string{mix.NS}, len(jobs), 2*time.Minute)
	ok, once := 0, 0
	for i := range final {
		if final[i].Status.Phase == kickqv1alpha1.PhaseSucceeded {
			ok++
		}
		if final[i].Status.Attempts == 1 {
			once++
		}
	}
	row.Check("every job Succeeded with its one attempt", err == nil && ok == len(jobs) && once == len(jobs),
		"%d of %d Succeeded, %d with 1 attempt%s", ok, len(jobs), once, errSuffix(err))
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics", m.Panics())
	return row
}

// acceptedJobs creates n webhook jobs whose receiver answers 202 and returns them, with the
// token each call carried, once every call came.
func (h *Harness) acceptedJobs(ctx context.Context, mix *Mix, n int) ([]spamJob, error) {
	for i := range n {
		job := utiltesting.MakeQueueJob(fmt.Sprintf("spam-%03d", i), mix.NS).Queue(QueueHooks).Type(TypeWebhook).
			Data(map[string]any{"webhook": WebhookPlan{Accept: true}}).Obj()
		if err := createRetrying(ctx, h.CP.Harness, job); err != nil {
			return nil, err
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		tokens := map[string]string{}
		for _, c := range mix.Receiver.Calls() {
			tokens[c.Job] = c.Token
		}
		if len(tokens) >= n {
			out := make([]spamJob, 0, n)
			for name, tok := range tokens {
				out = append(out, spamJob{name, tok})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
			return out, nil
		}
	}
	return nil, fmt.Errorf("not every one of %d webhook calls came within 2 minutes", n)
}

// spamStats counts the answers of a flood.
type spamStats struct {
	sent, ok, limited, unavailable, bad int64
	took                                time.Duration
}

func (s spamStats) String() string {
	return fmt.Sprintf("%d sent in %s (%.0f/s): %d answered 202, %d 429, %d 503, %d otherwise or failed",
		s.sent, s.took.Round(100*time.Millisecond), float64(s.sent)/s.took.Seconds(), s.ok, s.limited, s.unavailable, s.bad)
}

// spamClient keeps connections alive, as a worker's client does.
var spamClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}

// spam sends perSecond reports a second to each job for secs seconds, paced in 10 ms ticks.
func spam(ctx context.Context, baseURL, ns string, jobs []spamJob, perSecond, secs int) spamStats {
	var st spamStats
	start := time.Now()
	ticks := secs * 100
	per := float64(perSecond) / 100 // reports per job per tick
	sem := make(chan struct{}, 96)
	var wg sync.WaitGroup
	var due float64
	for tick := 0; tick < ticks && ctx.Err() == nil; tick++ {
		time.Sleep(time.Until(start.Add(time.Duration(tick) * 10 * time.Millisecond)))
		due += per
		for ; due >= 1; due-- {
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				n := atomic.AddInt64(&st.sent, 1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					body := fmt.Sprintf(`{"progress":{"percent":%d,"message":"report %d"},"log":"line %d of the spam"}`, n%101, n, n)
					code, retry, err := postReport(ctx, baseURL, ns, j, body)
					switch {
					case err == nil && (code == http.StatusAccepted || code == http.StatusOK):
						atomic.AddInt64(&st.ok, 1)
					case err == nil && code == http.StatusTooManyRequests && retry != "":
						atomic.AddInt64(&st.limited, 1)
					case err == nil && code == http.StatusServiceUnavailable && retry != "":
						atomic.AddInt64(&st.unavailable, 1)
					default:
						atomic.AddInt64(&st.bad, 1)
					}
				}()
			}
		}
	}
	wg.Wait()
	st.took = time.Since(start)
	return st
}

func postReport(ctx context.Context, baseURL, ns string, j spamJob, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/namespaces/"+ns+"/queuejobs/"+j.name+"/report", bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+j.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := spamClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// reportRetrying sends a report until it is not answered 429/503 (as the documented clients do).
func reportRetrying(ctx context.Context, baseURL, ns string, j spamJob, body string) (int, string, error) {
	for i := 0; ; i++ {
		code, retry, err := postReport(ctx, baseURL, ns, j, body)
		if i == 30 || (err == nil && code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable) {
			return code, retry, err
		}
		time.Sleep(time.Second)
	}
}

// checkSpamWrites counts the manager's status writes of each job in the audit log, during each
// flood (and the second after it, for the last coalesced write).
func (h *Harness) checkSpamWrites(ctx context.Context, row *Row, ns string, jobs []spamJob, hotStart, hotEnd, warmStart, warmEnd time.Time) {
	evs, err := h.CP.ReadAudit(func(e *audit.Event) bool {
		return e.ObjectRef != nil && e.ObjectRef.Resource == "queuejobs" && e.ObjectRef.Subresource == "status" &&
			e.ObjectRef.Namespace == ns && (e.Verb == "update" || e.Verb == "patch") && e.User.Username == UserManager
	})
	if err != nil {
		row.Fail("status writes (audit log)", err.Error())
		return
	}
	count := func(name string, from, to time.Time) int {
		n := 0
		for i := range evs {
			if evs[i].ObjectRef.Name == name && !evs[i].RequestReceivedTimestamp.Time.Before(from) && evs[i].RequestReceivedTimestamp.Time.Before(to.Add(time.Second)) {
				n++
			}
		}
		return n
	}
	hotSecs := hotEnd.Sub(hotStart).Seconds() + 1
	hot := count(jobs[0].name, hotStart, hotEnd)
	warmSecs := warmEnd.Sub(warmStart).Seconds() + 1
	most, total := 0, 0
	for _, j := range jobs[1:] {
		n := count(j.name, warmStart, warmEnd)
		total += n
		most = max(most, n)
	}
	// About one a second: the coalescing interval is 1 s; 1.5/s leaves room for a write that
	// waited on a conflict and the API server's answer times.
	row.Check("about 1 status write per second per job (coalesced)", float64(hot) <= 1.5*hotSecs+1 && float64(most) <= 1.5*warmSecs+1,
		"hot job: %d writes in %.0f s; %d jobs: %.2f writes/s per job on average, at most %d writes in %.0f s", hot, hotSecs,
		len(jobs)-1, float64(total)/float64(len(jobs)-1)/warmSecs, most, warmSecs)
}

// checkSpamCaps reads every job: status keeps at most limits.MaxLogEntries lines and counts the
// dropped ones, and the object stays small.
func (h *Harness) checkSpamCaps(ctx context.Context, row *Row, ns string, jobs []spamJob) {
	largest, lines := 0, 0
	var dropped int64
	for _, j := range jobs {
		var qj kickqv1alpha1.QueueJob
		if err := h.CP.Harness.Get(ctx, client.ObjectKey{Namespace: ns, Name: j.name}, &qj); err != nil {
			row.Fail("read "+j.name, err.Error())
			return
		}
		raw, _ := json.Marshal(&qj)
		largest = max(largest, len(raw))
		lines = max(lines, len(qj.Status.Logs))
		if j.name == jobs[0].name {
			dropped = qj.Status.LogsDropped
		}
	}
	row.Check("status under its caps (logs, size)", lines <= limits.MaxLogEntries && largest <= 64<<10 && dropped > 0,
		"at most %d log lines kept (cap %d), hot job's logsDropped %d, largest object %d KiB", lines, limits.MaxLogEntries, dropped, largest>>10)
}
