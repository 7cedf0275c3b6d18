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

package api

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// hostileManifests are more inputs the API server refuses at create, each naming the field.
var hostileManifests = []TableEntry{
	Entry("job heartbeatTimeoutSeconds of 4", badCase{job("j", "heartbeatTimeoutSeconds: 4\n"+podTarget), "spec.heartbeatTimeoutSeconds"}),
	Entry("queue defaultHandler heartbeatTimeoutSeconds of 4", badCase{queue("q", "defaultHandler: {worker: {}, heartbeatTimeoutSeconds: 4}"), "spec.defaultHandler.heartbeatTimeoutSeconds"}),
	Entry("queue defaults heartbeatTimeoutSeconds of 4", badCase{queue("q", "defaults: {heartbeatTimeoutSeconds: 4}"), "spec.defaults.heartbeatTimeoutSeconds"}),
	Entry("queue webhookURLPrefixes entry ftp://x", badCase{queue("q", "webhookURLPrefixes: [\"ftp://x\"]"), "spec.webhookURLPrefixes[0]"}),
	Entry("cron schedule longer than 256", badCase{job("j", "cron: {schedule: \""+strings.Repeat("*", 257)+"\"}\n"+podTarget), "spec.cron.schedule"}),
}

var _ = Describe("Validation of hostile input at create", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	DescribeTable("refuses hostile input with a message naming the field",
		func(c badCase) {
			err := env.Client.Create(env.Ctx, obj(ns, c.manifest))
			Expect(err).To(HaveOccurred(), "the API server accepted:\n%s", c.manifest)
			Expect(err.Error()).To(ContainSubstring(c.message))
			AddReportEntry("refused", err.Error())
		},
		hostileManifests,
	)
})
