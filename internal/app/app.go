// Package app wires the bot together from a loaded config: the store, the WeCom client
// and callback, the PVE fleet, the command dispatcher, the inbox and the HTTP server.
// cmd/bot only parses flags and calls it; tests start whole bots through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/commands"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
	"github.com/wecom-home-ops/wecom-home-ops/internal/inbox"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pvewebhook"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// Options are the seams tests and the demo use; the zero value is production.
type Options struct {
	Logger *zap.Logger
	Now    func() time.Time
	// HTTPClient overrides the client used for WeCom (tests).
	WeComHTTPClient *http.Client
	// PVE overrides options of the PVE clients (tests shorten poll intervals).
	PVE pve.Options
	// QuickWait overrides how long a command waits for its task before answering
	// "running" (tests).
	QuickWait time.Duration
	// ShutdownTimeout bounds the graceful shutdown (default 30s).
	ShutdownTimeout time.Duration
	// Replier replaces the WeCom replier (the local console).
	Replier chat.Replier
	// PushSender, when set, receives scheduled reports and alerts instead of WeCom (the
	// demo's group chat pane in the console; see NewWithConsole's PushToConsole).
	PushSender notify.Sender
	// PushToConsole makes NewWithConsole send pushes to the console's group panes.
	PushToConsole bool
	// ReplyBackoff overrides the first pause before a reply WeCom refused is tried again
	// (tests).
	ReplyBackoff time.Duration
	// Clock drives scheduled reports and alert checks (push.go); tests pass a
	// schedule.ManualClock. Default: the wall clock.
	Clock schedule.Clock
	// SmartbotBackoff and SmartbotHeartbeat override the smart bot's reconnect pause and
	// ping interval (tests).
	SmartbotBackoff   func(attempt int) time.Duration
	SmartbotHeartbeat time.Duration
}

// App is one running bot.
type App struct {
	cfg   *config.Config
	o     Options
	log   *zap.Logger
	store *store.Store
	wecom *wecom.Client // nil with a local Replier (console)
	obs   *observer     // metrics and /status state (observe.go)
	// push is scheduled reports and alerts (push.go); nil when none are configured.
	// pushMu guards it and pushCtx against a reload.
	pushMu  sync.Mutex
	push    *pusher
	pushCtx context.Context
	// budget is the per-member send budget every app message to a member goes through.
	budget *wecom.Budget
	fleet  *pve.Fleet
	disp   *commands.Dispatcher
	inbox  *inbox.Inbox
	// router is the public listener's (server.listen): the callback, /healthz, /readyz.
	// Under `bot demo` and `bot console` (no callback) it serves the admin routes too.
	router chi.Router
	ln     net.Listener
	srv    *http.Server
	// admin is the operator's listener (server.admin_listen): /status, /metrics and the
	// console beside WeCom; nil when off and under `bot demo` and `bot console`.
	admin    chi.Router
	adminLn  net.Listener
	adminSrv *http.Server
	// console is the local console: the chat of `bot console`, or beside WeCom under
	// `serve` with server.console (source.go); nil otherwise.
	console *console.Console
	// hook is PVE's webhook endpoint and its delivery worker (pvewebhook.go); nil when off.
	hook   *pvewebhook.Receiver
	hookWG sync.WaitGroup
	// sb is the smart bot transport (smartbot.go); nil without wecom.smartbot.
	sb *smartbotSide
}

// New opens the store (taking data_dir for this process), builds every part and binds
// the listener. It fails on what the bot cannot run without: a broken data_dir, a port in
// use. A PVE cluster or WeCom being down is not such a failure.
func New(cfg *config.Config, o Options) (a *App, err error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	log := o.Logger
	a = &App{cfg: cfg, o: o, log: log}

	a.store, err = store.Open(cfg.DataDir, store.Options{Now: o.Now, AuditRetention: cfg.Retention.Audit.Std(), Logger: log.Named("store")})
	if err != nil {
		return nil, err
	}
	st := a.store
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()

	replier := o.Replier
	if replier == nil {
		if cfg.WeCom.AppConfigured() || !cfg.WeCom.SmartBot.Configured() {
			a.wecom, err = wecom.NewClient(wecom.ClientConfig{
				CorpID: cfg.WeCom.CorpID, AgentID: cfg.WeCom.AgentID, Secret: cfg.WeCom.Secret.Value(),
				BaseURL: cfg.WeCom.APIBaseURL, HTTPClient: o.WeComHTTPClient, Now: o.Now, Observe: a.observeWeCom,
			}, log.Named("wecom"))
			if err != nil {
				return nil, fmt.Errorf("app: wecom client: %w", err)
			}
			r := wecom.NewReplier(a.wecom, cfg.WeCom.ReplyMode, cfg.Language, log.Named("reply"))
			clock := o.Clock
			if clock == nil {
				clock = schedule.SystemClock{}
			}
			// One send budget per member for replies and pushes alike (push.go).
			a.budget = wecom.NewBudget(cfg.RateLimit.PerMember.N, cfg.RateLimit.PerMember.Per, clock)
			r.UseBudget(a.budget)
			replier = a.observeReplier(r)
		}
		if a.sb, err = a.initSmartbot(cfg); err != nil { // smartbot.go
			return nil, fmt.Errorf("app: smartbot: %w", err)
		}
		if a.sb != nil {
			replier = smartbotRouter{sb: a.observeReplier(a.sb.replier), next: replier}
		}
		if cfg.Server.Console {
			if cfg.Server.AdminListen == "" {
				return nil, errors.New("app: server.console needs server.admin_listen: the console is served only there")
			}
			replier = a.withConsole(replier) // source.go: console replies to the console
		}
	}

	po := o.PVE
	po.Logger = log.Named("pve")
	po.Observe = func(cluster string, took time.Duration, answered bool) {
		a.Metrics().PVERequest(cluster, took, answered) // nil-safe before initObserve
	}
	if po.Timeout == 0 {
		po.Timeout = cfg.PVE.Timeout.Std()
	}
	if po.TaskTimeout == 0 {
		po.TaskTimeout = cfg.PVE.TaskTimeout.Std()
	}
	a.fleet, err = pve.NewFleet(cfg.PVE, po)
	if err != nil {
		return nil, fmt.Errorf("app: pve: %w", err)
	}

	a.disp = commands.New(cfg, commands.Options{
		Fleet: a.fleet, History: a.fleet, Store: a.store, Notify: replier, Logger: log.Named("commands"), Now: o.Now,
		QuickWait: o.QuickWait, TaskTimeout: cfg.PVE.TaskTimeout.Std(),
		Observe: func(command string, replies []chat.Reply) {
			a.Metrics().Command(command, replyResult(replies))
		},
	})
	var journal inbox.Journal = a.store
	if a.sb != nil && a.sb.hook != nil {
		journal = finishJournal{Journal: a.store, hook: a.sb.hook} // closes webhook streams
	}
	a.inbox = inbox.New(inbox.Options{Journal: journal, Handler: a.disp, Replier: replier, Logger: log.Named("inbox"), ReplyBackoff: o.ReplyBackoff})

	a.router = chi.NewRouter()
	if o.Replier == nil && cfg.Server.AdminListen != "" {
		a.admin = chi.NewRouter()
	}
	if o.Replier == nil && a.wecom != nil {
		cb, err := wecom.NewCallback(wecom.CallbackConfig{
			Token: cfg.WeCom.Token.Value(), EncodingAESKey: cfg.WeCom.EncodingAESKey.Value(),
			CorpID: cfg.WeCom.CorpID, AgentID: cfg.WeCom.AgentID, MaxClockSkew: cfg.WeCom.MaxClockSkew.Std(), Now: o.Now,
		}, wecom.InboxFunc(a.accept), log.Named("callback"))
		if err != nil {
			return nil, fmt.Errorf("app: callback: %w", err)
		}
		a.router.Method(http.MethodGet, cfg.Server.CallbackPath, cb)
		a.router.Method(http.MethodPost, cfg.Server.CallbackPath, cb)
	}
	if o.Replier == nil {
		a.sb.mount(a, cfg.WeCom.SmartBot.CallbackPath) // webhook mode only
		a.mountConsole()                               // server.console only
	}
	healthz := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	a.router.Get("/healthz", healthz)
	if a.admin != nil {
		a.admin.Get("/healthz", healthz)
	}
	if err := a.initObserve(); err != nil { // observe.go: /readyz, /status, /metrics
		return nil, err
	}
	if err := a.initPush(); err != nil { // push.go: scheduled reports and alerts
		return nil, err
	}
	a.initWebhook() // pvewebhook.go: PVE's own notifications

	a.ln, err = net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("app: listen on %s: %w", cfg.Server.Listen, err)
	}
	a.srv = a.httpServer(a.router)
	if a.admin != nil {
		a.adminLn, err = net.Listen("tcp", cfg.Server.AdminListen)
		if err != nil {
			_ = a.ln.Close()
			return nil, fmt.Errorf("app: listen on %s (server.admin_listen): %w", cfg.Server.AdminListen, err)
		}
		a.adminSrv = a.httpServer(a.admin)
	}
	return a, nil
}

// httpServer serves h with the bot's timeouts.
func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
	}
}

// opsRouter is where the operator's routes go: the admin listener under `serve`, the one
// listener of `bot demo` and `bot console`; nil when server.admin_listen is off.
func (a *App) opsRouter() chi.Router {
	if a.o.Replier != nil {
		return a.router
	}
	return a.admin
}

// accept hands a verified callback message to the inbox. The inbox refuses nothing for
// load (what waits is in the store); its only error is a store that cannot record the
// message, which the callback answers 500 and logs at error.
func (a *App) accept(ctx context.Context, m chat.Message) error {
	return a.inbox.Accept(ctx, m)
}

// Addr is the address of the public listener (server.listen).
func (a *App) Addr() string { return a.ln.Addr().String() }

// AdminAddr is the address of the admin listener (server.admin_listen); "" when there is
// none. Under `bot demo` and `bot console` the admin routes are on Addr.
func (a *App) AdminAddr() string {
	if a.adminLn == nil {
		return ""
	}
	return a.adminLn.Addr().String()
}

// Handle runs a message through the inbox as if it came from WeCom (the local console).
func (a *App) Handle(ctx context.Context, m chat.Message) error { return a.inbox.Accept(ctx, m) }

// Store is the bot's embedded store (the console shows the audit log).
func (a *App) Store() *store.Store { return a.store }

// Run serves until ctx ends, then shuts down gracefully: stop taking callbacks, finish
// queued and running messages (bounded by ShutdownTimeout), close the store. Messages
// still unfinished are resumed at the next start.
func (a *App) Run(ctx context.Context) error {
	// Settle what a previous run left open before taking new work: actions first (never
	// re-POST), then the messages that were received but not answered.
	a.disp.Recover(ctx)
	if pending, err := a.store.Unfinished(ctx); err != nil {
		a.log.Error("cannot read unfinished messages", zap.Error(err))
	} else if len(pending) > 0 {
		msgs := make([]chat.Message, len(pending))
		for i, p := range pending {
			msgs[i] = p.Msg
		}
		go func() {
			if err := a.inbox.Resume(ctx, msgs...); err != nil {
				a.log.Warn("resuming unfinished messages stopped", zap.Error(err))
			}
		}()
	}
	a.fleet.Start(ctx)
	a.sb.run(ctx, a.log) // the smart bot's long connection, if any
	go a.prune(ctx)
	a.runPush(ctx)
	a.runWebhook(ctx)

	errc := make(chan error, 2)
	go func() { errc <- a.srv.Serve(a.ln) }()
	if a.adminSrv != nil {
		go func() { errc <- a.adminSrv.Serve(a.adminLn) }()
	}
	a.log.Info("bot serving", zap.String("listen", a.Addr()), zap.String("admin_listen", a.AdminAddr()),
		zap.String("callback_path", a.cfg.Server.CallbackPath))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.o.ShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		a.log.Warn("http shutdown", zap.Error(err))
	}
	if a.adminSrv != nil {
		if err := a.adminSrv.Shutdown(sctx); err != nil {
			a.log.Warn("admin http shutdown", zap.Error(err))
		}
	}
	if err := a.inbox.Close(sctx); err != nil {
		a.log.Warn("some messages were cut short by shutdown; they resume at the next start", zap.Error(err))
	}
	if err := a.disp.Close(sctx); err != nil {
		a.log.Warn("some task results were not followed to the end; they resume at the next start", zap.Error(err))
	}
	a.hookWG.Wait()
	a.sb.stop() // after the last replies went out on it
	a.waitPush()
	if err := a.store.Close(); err != nil {
		a.log.Error("closing the store", zap.Error(err))
	}
	a.fleet.CloseIdleConnections()
	if a.wecom != nil {
		a.wecom.CloseIdleConnections()
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("app: serve: %w", serveErr)
	}
	return nil
}

// prune applies retention hourly.
func (a *App) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.store.Prune(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("retention pruning failed", zap.Error(err))
		} else if n > 0 {
			a.log.Debug("pruned old records", zap.Int64("rows", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
