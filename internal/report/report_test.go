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

package report

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

func TestTokens(t *testing.T) {
	s, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Token("uid-a", 3)
	if n, err := s.Verify(tok, "uid-a"); err != nil || n != 3 {
		t.Fatalf("own token: %d %v", n, err)
	}
	if _, err := s.Verify(tok, "uid-b"); err == nil {
		t.Fatal("another job's token must be refused")
	}
	other, _ := NewSigner([]byte("another key, also 32 bytes long."))
	if _, err := other.Verify(tok, "uid-a"); err == nil {
		t.Fatal("a token signed with another key must be refused")
	}
	forged := strings.Replace(tok, "kq1.3.", "kq1.4.", 1)
	if _, err := s.Verify(forged, "uid-a"); err == nil {
		t.Fatal("changing the attempt must break the signature")
	}
	for _, bad := range []string{"", "kq1", "kq1.x.y", "kq2.3." + strings.Split(tok, ".")[2], "kq1.0.abc"} {
		if _, err := s.Verify(bad, "uid-a"); err == nil {
			t.Fatalf("%q must be refused", bad)
		}
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("a short key must be refused")
	}
}

// TestTokenKeyRotation: a signer with a new key and the old one as previous signs with the new
// key and still accepts the tokens the old key signed; once the old key is dropped, they fail.
func TestTokenKeyRotation(t *testing.T) {
	oldKey, newKey := []byte("the old key, 32 bytes long......"), []byte("the new key, 32 bytes long......")
	before, _ := NewSigner(oldKey)
	inFlight := before.Token("uid-a", 2)
	during, err := NewSigner(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := during.Verify(inFlight, "uid-a"); err != nil || n != 2 {
		t.Fatalf("a token signed before the rotation: %d %v, want attempt 2", n, err)
	}
	fresh := during.Token("uid-a", 3)
	after, _ := NewSigner(newKey)
	if _, err := after.Verify(fresh, "uid-a"); err != nil {
		t.Fatalf("new tokens are signed with the new key: %v", err)
	}
	if _, err := after.Verify(inFlight, "uid-a"); err == nil {
		t.Fatal("once the old key is dropped, its tokens are refused")
	}
	if _, err := before.Verify(fresh, "uid-a"); err == nil {
		t.Fatal("a manager with only the old key refuses the new key's tokens")
	}
	if _, err := NewSigner(newKey, []byte("short")); err == nil {
		t.Fatal("a short previous key must be refused")
	}
	many := make([][]byte, limits.MaxSigningKeys)
	for i := range many {
		many[i] = oldKey
	}
	if _, err := NewSigner(newKey, many...); err == nil {
		t.Fatalf("more than %d keys must be refused", limits.MaxSigningKeys)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		body string
		code int
	}{
		{`{"progress":{"percent":40,"message":"4/10"}}`, 0},
		{`{"log":"one line"}`, 0},
		{`{"log":["a","b"]}`, 0},
		{`{"heartbeat":true}`, 0},
		{`{"result":{"rows":3}}`, 0},
		{`{"outcome":"Retry","retryAfterSeconds":30}`, 0},
		{`{}`, 0},
		{`{"progress":{"percent":101}}`, http.StatusBadRequest},
		{`{"outcome":"Done"}`, http.StatusBadRequest},
		{`{"outcome":"Fail","retryAfterSeconds":3}`, http.StatusBadRequest},
		{`{"progres":{}}`, http.StatusBadRequest},
		{`{"log":3}`, http.StatusBadRequest},
		{`not json`, http.StatusBadRequest},
		{`{"heartbeat":true} {}`, http.StatusBadRequest},
		{`{"result":"` + strings.Repeat("x", limits.MaxResultBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{`{"log":[` + strings.TrimSuffix(strings.Repeat(`"l",`, maxLogLines+1), ",") + `]}`, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		_, code, msg := parse([]byte(c.body))
		if code != c.code {
			t.Errorf("%.60s: code %d (%s), want %d", c.body, code, msg, c.code)
		}
		if code != 0 && msg == "" {
			t.Errorf("%.60s: an error needs a message", c.body)
		}
	}
	r, _, _ := parse([]byte(`{"log":"` + strings.Repeat("é", limits.MaxMessageBytes) + `"}`))
	if len(r.Logs[0]) > limits.MaxMessageBytes {
		t.Fatalf("a long line is cut to %d bytes, got %d", limits.MaxMessageBytes, len(r.Logs[0]))
	}
}

func TestStoreCoalesces(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	wakes := make(chan struct{}, 100)
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	s := NewStore(clk, func(types.NamespacedName) { wakes <- struct{}{} })
	woken := 0
	drain := func() int {
		for {
			select {
			case <-wakes:
				woken++
			case <-time.After(50 * time.Millisecond):
				return woken
			}
		}
	}

	// The first report after a quiet time is due at once.
	s.Add(key, 1, Report{Progress: &kickqv1alpha1.Progress{Percent: 1}})
	if drain() != 1 {
		t.Fatalf("woken %d times, want 1", woken)
	}
	p := s.Take(key, 1)
	if p == nil || p.Progress.Percent != 1 {
		t.Fatalf("take: %+v", p)
	}
	s.Ack(key, p)

	// A burst within the interval wakes once, at its end, and is written as one.
	for i := 2; i <= 100; i++ {
		s.Add(key, 1, Report{Progress: &kickqv1alpha1.Progress{Percent: int32(i)}, Logs: []string{"line"}})
	}
	if drain() != 1 {
		t.Fatalf("a burst woke %d times before the interval ended", woken-1)
	}
	if s.Take(key, 1) != nil {
		t.Fatal("reports inside the interval are held back")
	}
	clk.Step(DefaultInterval)
	if drain() != 2 {
		t.Fatalf("woken %d times, want 2", woken)
	}
	p = s.Take(key, 1)
	if p.Progress.Percent != 100 || len(p.Logs) != 99 {
		t.Fatalf("coalesced: percent %d, %d lines", p.Progress.Percent, len(p.Logs))
	}
	// A report that arrives between Take and Ack stays for the next write.
	s.Add(key, 1, Report{Logs: []string{"late"}})
	s.Ack(key, p)
	clk.Step(DefaultInterval)
	p = s.Take(key, 1)
	if p == nil || len(p.Logs) != 1 || p.Logs[0].Message != "late" || p.Progress != nil {
		t.Fatalf("after ack: %+v", p)
	}
	s.Ack(key, p)

	// An outcome is due at once, and its reporter learns when it is written.
	ack := s.Add(key, 1, Report{Outcome: kickqv1alpha1.OutcomeSucceed})
	p = s.Take(key, 1)
	if p == nil || p.Outcome != kickqv1alpha1.OutcomeSucceed {
		t.Fatalf("outcome not due at once: %+v", p)
	}
	s.Ack(key, p)
	if a := <-ack; !a.Written {
		t.Fatal("the outcome was written")
	}
	// A dropped outcome says so.
	ack = s.Add(key, 2, Report{Outcome: kickqv1alpha1.OutcomeFail})
	s.Drop(key)
	if a := <-ack; a.Written {
		t.Fatal("a dropped outcome is not written")
	}
}

func TestStoreBoundsLogs(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1700000000, 0))
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	s := NewStore(clk, func(types.NamespacedName) {})
	for range 30 {
		s.Add(key, 1, Report{Logs: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}})
	}
	p := s.Take(key, 1)
	if len(p.Logs) != limits.MaxLogEntries || p.LogsDropped != 200 {
		t.Fatalf("%d lines, %d dropped; want %d and 200", len(p.Logs), p.LogsDropped, limits.MaxLogEntries)
	}
	// Another attempt's reports replace the old attempt's.
	s.Add(key, 2, Report{Logs: []string{"new"}})
	if s.Take(key, 1) != nil {
		t.Fatal("attempt 1's reports are gone")
	}
}

func TestStoreFlushGivesWhatIsHeldBack(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1700000000, 0))
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	s := NewStore(clk, func(types.NamespacedName) {})
	s.Add(key, 1, Report{Logs: []string{"a"}})
	s.Ack(key, s.Take(key, 1))
	s.Add(key, 1, Report{Progress: &kickqv1alpha1.Progress{Percent: 99}, Logs: []string{"b"}})
	if s.Take(key, 1) != nil {
		t.Fatal("held back inside the interval")
	}
	p := s.Flush(key, 1)
	if p == nil || p.Progress.Percent != 99 || len(p.Logs) != 1 || p.Logs[0].Message != "b" {
		t.Fatalf("flush: %+v", p)
	}
	if s.Flush(key, 2) != nil {
		t.Fatal("another attempt has no reports")
	}
	s.Ack(key, p)
	if s.Flush(key, 1) != nil {
		t.Fatal("written reports are gone")
	}
}

// TestStoreIntervalCountsFromTheSnapshot: the coalescing interval counts from when the written
// snapshot was taken, not from its Ack: a slow write (or a test's clock stepped while it was under
// way) must not push the next flush out by another interval.
func TestStoreIntervalCountsFromTheSnapshot(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	s := NewStore(clk, func(types.NamespacedName) {})
	s.Add(key, 1, Report{Progress: &kickqv1alpha1.Progress{Percent: 1}})
	p := s.Take(key, 1)
	if p == nil {
		t.Fatal("the first report is not due at once")
	}
	clk.Step(DefaultInterval) // the status write took a whole interval
	s.Ack(key, p)
	s.Add(key, 1, Report{Progress: &kickqv1alpha1.Progress{Percent: 2}})
	if p := s.Take(key, 1); p == nil || p.Progress.Percent != 2 {
		t.Fatalf("take one interval after the previous snapshot: %+v, want progress 2 due now", p)
	}
}
