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

package kickqtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/cachetransform"
	"kickq.dev/kickq/internal/netguard"
)

// stopTimeout bounds how long Stop waits for the controllers.
const stopTimeout = 30 * time.Second

// startControllers runs kickq's controllers in this process, as the manager binary wires them.
func (e *Env) startControllers(opts Options) error {
	logger := opts.Logger
	if logger.GetSink() == nil {
		logger = logr.Discard()
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 opts.Scheme,
		Logger:                 logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultTransform: cachetransform.Transform},
		// Several Envs may run in one test binary: their controllers' names repeat.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("kickqtest: creating the controllers' manager: %w", err)
	}
	co := controllers.Options{}
	if opts.Clock != nil {
		co.Clock = opts.Clock
	}
	if opts.AllowLoopbackWebhooks {
		co.WebhookGuard = netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, nil)
	}
	if opts.ReportAPI {
		co.ReportBindAddress = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = ctrl.LoggerInto(ctx, logger)
	ctrls, err := controllers.Setup(ctx, mgr, co)
	if err != nil {
		cancel()
		return fmt.Errorf("kickqtest: setting up kickq's controllers: %w", err)
	}
	if opts.ReportAPI {
		e.ReportURL = ctrls.Endpoint.BaseURL
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	e.stopControllers = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(stopTimeout):
			return errors.New("kickqtest: kickq's controllers did not stop within 30s")
		}
	}
	return nil
}
