package app

import (
	"context"

	"github.com/wecom-home-ops/wecom-home-ops/internal/alert"
	"github.com/wecom-home-ops/wecom-home-ops/internal/commands"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pvewebhook"
	"github.com/wecom-home-ops/wecom-home-ops/internal/report"
)

// The fleet gives the backup features what they read (an interface left unimplemented would
// silently turn the backup report, summary line and alert rules off).
var (
	_ commands.Fleet      = (*pve.Fleet)(nil)
	_ report.BackupSource = (*pve.Fleet)(nil)
	_ alert.BackupFleet   = (*pve.Fleet)(nil)
)

// initWebhook mounts PVE's webhook endpoint (pve_webhook.path) on the public listener: it is
// what PVE must reach, and it takes nothing without the Bearer secret. Off without the block.
func (a *App) initWebhook() {
	cfg := a.cfg
	if !cfg.PVEWebhook.On() {
		return
	}
	lang, loc := i18n.Parse(cfg.Language), cfg.Location()
	a.hook = pvewebhook.New(cfg.PVEWebhook, pvewebhook.Options{
		KV: a.store, Logger: a.log.Named("pve_webhook"), Now: a.o.Now, Push: a.pushWebhook,
		Render: func(r pvewebhook.Record) notify.Message { return pvewebhook.Render(r, lang, loc) },
	})
	a.router.Handle(cfg.PVEWebhook.Path, a.hook)
}

// pushWebhook hands a rendered PVE event to the push side's outbox; false while there is
// no push side (the event then waits in the store).
func (a *App) pushWebhook(ctx context.Context, to []string, m notify.Message) bool {
	a.pushMu.Lock()
	p := a.push
	a.pushMu.Unlock()
	if p == nil {
		return false
	}
	p.notifier.Push(ctx, to, m)
	return true
}

// runWebhook delivers recorded PVE events until ctx ends.
func (a *App) runWebhook(ctx context.Context) {
	if a.hook == nil {
		return
	}
	a.hookWG.Add(1)
	go func() {
		defer a.hookWG.Done()
		a.hook.Run(ctx)
	}()
}

// reloadWebhook takes a reloaded secret and routes (the path needs a restart).
func (a *App) reloadWebhook(cfg *config.Config) {
	if a.hook != nil {
		a.hook.SetConfig(cfg.PVEWebhook)
	}
}

// DeliverWebhookNow delivers the PVE events waiting in the store at once (tests, the demo).
func (a *App) DeliverWebhookNow(ctx context.Context) int {
	if a.hook == nil {
		return 0
	}
	return a.hook.Deliver(ctx)
}
