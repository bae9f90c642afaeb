package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/alert"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/report"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// pusher is the scheduled-report and alert side of one App, built from one config. A
// reload builds a new one and swaps it in (alert state lives in the store, so nothing
// is forgotten or sent twice).
type pusher struct {
	notifier *notify.Notifier
	engine   *alert.Engine // nil when alerts.to is empty
	sched    *schedule.Scheduler
	client   *wecom.Client                    // nil when Options.PushSender replaces WeCom
	reports  map[string]func(context.Context) // by schedule name, for PushReportNow
	wg       sync.WaitGroup                   // the outbox loop
	cancel   context.CancelFunc
}

// initPush builds scheduled reports and alerts (issue 5).
func (a *App) initPush() error {
	p, err := a.buildPush(a.cfg)
	a.push = p
	return err
}

// buildPush builds the push side for cfg; nil when cfg has no schedules and no alerts.
// Pushes go to WeCom through a client of their own (group chats and robots are not
// reachable through a Replier); the local console (Options.Replier) has no WeCom, so it
// gets none.
func (a *App) buildPush(cfg *config.Config) (*pusher, error) {
	if len(cfg.Schedules) == 0 && len(cfg.Alerts.To) == 0 && !cfg.PVEWebhook.On() {
		return nil, nil
	}
	log := a.log.Named("push")
	if a.o.Replier != nil && a.o.PushSender == nil {
		log.Info("scheduled reports and alerts are off without WeCom (console mode)")
		return nil, nil
	}
	clock := a.o.Clock
	if clock == nil {
		clock = schedule.SystemClock{}
	}
	var client *wecom.Client
	// sender stays nil (not a nil *Client) with a smart bot alone.
	sender := a.o.PushSender
	if sender == nil && cfg.WeCom.AppConfigured() {
		var err error
		client, err = wecom.NewClient(wecom.ClientConfig{
			CorpID: cfg.WeCom.CorpID, AgentID: cfg.WeCom.AgentID, Secret: cfg.WeCom.Secret.Value(),
			BaseURL: cfg.WeCom.APIBaseURL, HTTPClient: a.o.WeComHTTPClient, Now: a.o.Now, Observe: a.observeWeCom,
		}, log.Named("wecom"))
		if err != nil {
			return nil, fmt.Errorf("app: push: wecom client: %w", err)
		}
		sender = client
	}
	no := notify.Options{Logger: log.Named("notify"), Clock: clock, Budget: a.budget}
	if a.sb != nil && a.sb.ws != nil {
		no.Smartbot = a.sb.replier // smartbot_chat and smartbot_user targets
	}
	p := &pusher{
		client:   client,
		notifier: notify.New(cfg, sender, a.store, no),
		sched:    schedule.New(clock, log.Named("schedule")),
		reports:  map[string]func(context.Context){},
	}
	if len(cfg.Alerts.To) > 0 {
		p.engine = alert.New(cfg, a.fleet, a.store, a.store, p.notifier, alert.Options{Logger: log.Named("alert"), Clock: clock})
		err := p.sched.Add(schedule.Job{Name: "alerts", Spec: cron.Every(cfg.Alerts.Interval.Std()),
			Run: func(ctx context.Context, _ time.Time) { p.engine.Check(ctx) }})
		if err != nil {
			return nil, fmt.Errorf("app: push: %w", err)
		}
	}
	loc := cfg.Location()
	for _, s := range cfg.Schedules {
		kind, to, lang, chart := s.Report, s.To, i18n.Parse(cfg.Language), s.Chart
		run := func(ctx context.Context, at time.Time) {
			d := report.Gather(ctx, a.fleet, kind, clock.Now(), loc)
			if kind == report.Summary && p.engine != nil {
				d.Firing = p.engine.Firing(ctx)
			}
			msg := notify.Message{Time: clock.Now(), Markdown: func(limit int) string {
				return report.Render(kind, lang, d, limit)
			}}
			if chart {
				png, err := report.Chart(ctx, a.fleet, d)
				if err != nil {
					log.Warn("summary chart not drawn; the report goes without it", zap.Error(err))
				}
				msg.Image = png
			}
			n := p.notifier.Push(ctx, to, msg)
			log.Info("scheduled report pushed", zap.String("report", kind), zap.Time("due", at), zap.Int("delivered", n), zap.Int("targets", len(to)))
		}
		p.reports[s.Name] = func(ctx context.Context) { run(ctx, clock.Now()) }
		err := p.sched.Add(schedule.Job{Name: "report " + s.Name, Spec: s.Spec, Location: s.Location, Run: run})
		if err != nil {
			return nil, fmt.Errorf("app: push: %w", err)
		}
	}
	return p, nil
}

// runPush starts the scheduler, the alert engine and the outbox; they stop with ctx.
func (a *App) runPush(ctx context.Context) {
	a.pushMu.Lock()
	defer a.pushMu.Unlock()
	a.pushCtx = ctx
	a.startPush(a.push)
}

// startPush runs p under a child of the run context (pushMu held).
func (a *App) startPush(p *pusher) {
	if p == nil || a.pushCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(a.pushCtx)
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.notifier.EnsureChats(ctx)
		if p.engine != nil {
			p.engine.Check(ctx) // at start: a rule that cannot see its data says so now
		}
		p.notifier.Run(ctx)
	}()
	p.sched.Start(ctx)
}

// stopPush stops p and waits until nothing of it writes to the store any more.
func stopPush(p *pusher) {
	if p == nil {
		return
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.sched.Wait()
	p.wg.Wait()
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// errNoPush answers PushReportNow and CheckAlertsNow when nothing of the kind is configured.
var errNoPush = errors.New("app: no such schedule or no alerts configured")

// PushReportNow runs the scheduled report named name at once, as its schedule would
// (the demo's "send the report now").
func (a *App) PushReportNow(ctx context.Context, name string) error {
	a.pushMu.Lock()
	p := a.push
	a.pushMu.Unlock()
	if p == nil || p.reports[name] == nil {
		return errNoPush
	}
	p.reports[name](ctx)
	return nil
}

// CheckAlertsNow runs one alert check at once, as alerts.interval would.
func (a *App) CheckAlertsNow(ctx context.Context) error {
	a.pushMu.Lock()
	p := a.push
	a.pushMu.Unlock()
	if p == nil || p.engine == nil {
		return errNoPush
	}
	p.engine.Check(ctx)
	return nil
}

// reloadPush swaps the schedules, targets and alert rules for those of cfg. A config
// whose push side cannot be built leaves the old one running.
func (a *App) reloadPush(cfg *config.Config) error {
	p, err := a.buildPush(cfg)
	if err != nil {
		return err
	}
	a.pushMu.Lock()
	defer a.pushMu.Unlock()
	old := a.push
	stopPush(old)
	a.push = p
	a.startPush(p)
	return nil
}

// waitPush waits, after Run's context ended, until the scheduler, the alert engine and
// the outbox loop have stopped, so that nothing writes to the store after it closed.
func (a *App) waitPush() {
	a.pushMu.Lock()
	defer a.pushMu.Unlock()
	stopPush(a.push)
}
