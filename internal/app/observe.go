package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/metrics"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// How /status and /metrics probe the clusters: each request asks every cluster for
// /version (one cheap GET), at most once per probeEvery for /metrics, bounded by
// probeTimeout so that a hanging cluster cannot hang the operator's request.
const (
	probeEvery   = 10 * time.Second
	probeTimeout = 3 * time.Second
)

// observer is the bot's observability state: metrics, the current config (hot reload)
// and the last WeCom success and error.
type observer struct {
	m            *metrics.Metrics
	cfg          atomic.Pointer[config.Config]
	callbackPath string
	now          func() time.Time
	log          *zap.Logger

	reloadMu      sync.Mutex // one reload at a time
	mu            sync.Mutex
	loadedAt      time.Time
	reloadErr     string // the last refused reload's problems; "" after a success
	wecomOK       time.Time
	wecomErr      string
	wecomErrAt    time.Time
	lastProbe     time.Time
	probeInFlight chan struct{}
}

// observedRouter is the App's router plus the observer: it counts callbacks by outcome
// on their way through.
type observedRouter struct {
	chi.Router
	obs *observer
}

// ServeHTTP counts callbacks by the status the callback handler answered.
func (r *observedRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != r.obs.callbackPath {
		r.Router.ServeHTTP(w, req)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	r.Router.ServeHTTP(sw, req)
	r.obs.m.Callback(callbackOutcome(req.Method, sw.status))
}

func callbackOutcome(method string, status int) string {
	switch {
	case status == http.StatusServiceUnavailable:
		return metrics.OutcomeBusy
	case status >= 500:
		return metrics.OutcomeError
	case status >= 400:
		return metrics.OutcomeRejected
	case method == http.MethodGet:
		return metrics.OutcomeVerify
	}
	return metrics.OutcomeAccepted
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// initObserve mounts /readyz next to /healthz on both listeners, /status and /metrics on
// the admin listener only (nothing on the public listener tells a stranger about the
// config), and wraps the public router to count callbacks.
func (a *App) initObserve() error {
	o := &observer{
		m:            metrics.New(a.inbox.Depth),
		callbackPath: a.cfg.Server.CallbackPath,
		now:          a.o.Now,
		log:          a.log.Named("observe"),
	}
	o.cfg.Store(a.cfg)
	o.loadedAt = o.now()
	o.m.Reload(true, o.loadedAt)
	for _, name := range a.fleet.ClusterNames() {
		o.m.PVEUp(name, false) // unknown until the first request: not up
	}
	a.router.Get("/readyz", a.readyz)
	if r := a.opsRouter(); r != nil {
		if r != a.router {
			r.Get("/readyz", a.readyz)
		}
		r.Get("/status", a.status)
		r.Get("/metrics", func(w http.ResponseWriter, r *http.Request) {
			a.probeClusters(r.Context(), false)
			o.m.Handler().ServeHTTP(w, r)
		})
	}
	a.router = &observedRouter{Router: a.router, obs: o}
	a.obs = o
	return nil
}

// Metrics is the bot's metrics, for the parts that record their own series (the alert
// engine sets AlertsFiring). Nil-safe: every method of a nil *Metrics does nothing.
func (a *App) Metrics() *metrics.Metrics {
	if o := a.obs; o != nil {
		return o.m
	}
	return nil
}

// Config is the config the bot runs on now (it changes with each successful reload).
func (a *App) Config() *config.Config {
	if o := a.obs; o != nil {
		return o.cfg.Load()
	}
	return a.cfg
}

// readyz answers 200 when the bot can take callbacks: a config is loaded, data_dir is
// writable and this listener answers. PVE and WeCom are deliberately not asked: the bot
// must stay in service during their outages, since it is the one telling people.
func (a *App) readyz(w http.ResponseWriter, _ *http.Request) {
	var problems []string
	if a.Config() == nil {
		problems = append(problems, "no config loaded")
	}
	if err := probeWritable(a.store.Dir()); err != nil {
		a.log.Warn("readiness: data_dir is not writable", zap.Error(err))
		problems = append(problems, "data_dir is not writable")
	}
	if len(problems) > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, p := range problems {
			_, _ = w.Write([]byte(p + "\n"))
		}
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// probeWritable creates and removes a small file in dir: the one test that holds for
// read-only remounts, full disks and changed permissions alike.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".ready-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok\n"))
	return errors.Join(werr, f.Close(), os.Remove(name))
}

// probeClusters asks every cluster for its version (unless force is false and a probe
// ran less than probeEvery ago), recording latency and reachability. Concurrent callers
// share one probe.
func (a *App) probeClusters(ctx context.Context, force bool) {
	o := a.obs
	o.mu.Lock()
	if wait := o.probeInFlight; wait != nil {
		o.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		return
	}
	if !force && o.now().Sub(o.lastProbe) < probeEvery {
		o.mu.Unlock()
		return
	}
	done := make(chan struct{})
	o.probeInFlight = done
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.lastProbe, o.probeInFlight = o.now(), nil
		o.mu.Unlock()
		close(done)
	}()

	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range a.fleet.Clients() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, _ = c.Version(ctx)
			_, lastErr := c.Health()
			o.m.PVERequest(c.Name(), time.Since(start), lastErr == nil)
		}()
	}
	wg.Wait()
}

// componentStatus is one part of /status.
type componentStatus struct {
	Name        string     `json:"name,omitempty"`
	OK          bool       `json:"ok"`
	LastSuccess *time.Time `json:"last_success"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// statusReport is /status: what an operator (or a script) wants to know first.
type statusReport struct {
	Config struct {
		File       string    `json:"file,omitempty"`
		LoadedAt   time.Time `json:"loaded_at"`
		ReloadOK   bool      `json:"reload_ok"`
		ReloadErr  string    `json:"reload_error,omitempty"`
		Clusters   int       `json:"clusters"`
		Users      int       `json:"users"`
		ReplyMode  string    `json:"reply_mode"`
		DataDir    string    `json:"data_dir"`
		ListenAddr string    `json:"listen"`
		AdminAddr  string    `json:"admin_listen,omitempty"`
	} `json:"config"`
	Clusters   []componentStatus `json:"clusters"`
	WeCom      componentStatus   `json:"wecom"`
	SmartBot   *smartbotReport   `json:"smartbot,omitempty"` // smartbot.go
	QueueDepth int               `json:"queue_depth"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// status answers /status as JSON after probing the clusters. Errors are the bot's own
// scrubbed messages (pve and wecom errors never carry secrets); no secret is included.
func (a *App) status(w http.ResponseWriter, r *http.Request) {
	a.probeClusters(r.Context(), true)
	o := a.obs
	cfg := a.Config()
	var rep statusReport
	o.mu.Lock()
	rep.Config.LoadedAt, rep.Config.ReloadErr = o.loadedAt, o.reloadErr
	rep.WeCom = componentStatus{OK: o.wecomErr == "", LastSuccess: timePtr(o.wecomOK), LastError: o.wecomErr, LastErrorAt: timePtr(o.wecomErrAt)}
	o.mu.Unlock()
	rep.Config.ReloadOK = rep.Config.ReloadErr == ""
	rep.Config.File, rep.Config.Clusters, rep.Config.Users = cfg.Path, len(cfg.PVE.Clusters), len(cfg.Users)
	rep.Config.ReplyMode, rep.Config.DataDir, rep.Config.ListenAddr = cfg.WeCom.ReplyMode, cfg.DataDir, a.Addr()
	rep.Config.AdminAddr = a.AdminAddr()
	rep.Clusters = []componentStatus{}
	for _, c := range a.fleet.Clients() {
		lastOK, lastErr := c.Health()
		cs := componentStatus{Name: c.Name(), OK: lastErr == nil && !lastOK.IsZero(), LastSuccess: timePtr(lastOK)}
		if lastErr != nil {
			cs.LastError = wecom.Scrub(lastErr.Error())
		}
		rep.Clusters = append(rep.Clusters, cs)
	}
	rep.SmartBot = a.smartbotReport()
	rep.QueueDepth = a.inbox.Depth()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rep)
}

// noteWeCom records the outcome of a WeCom call for /status and /metrics.
func (o *observer) noteWeCom(err error) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.wecomOK, o.wecomErr = o.now(), ""
		return
	}
	o.wecomErr, o.wecomErrAt = wecom.Scrub(err.Error()), o.now()
}

// observeWeCom is the WeCom clients' Observe hook: every call (gettoken, pushes, the
// start-up group check, replies) feeds WeCom's health on /status. The observer is looked
// up at call time, so clients built before initObserve are fine.
func (a *App) observeWeCom(_ string, err error) { a.obs.noteWeCom(err) }

// observeReplier wraps the WeCom replier to count send errors by errcode and keep
// WeCom's last success and error for /status. The observer is looked up at call time,
// so wrapping before initObserve is fine.
func (a *App) observeReplier(r chat.Replier) chat.Replier {
	return replierFunc(func(ctx context.Context, user string, rep chat.Reply) error {
		err := r.Reply(ctx, user, rep)
		o := a.obs
		if o == nil {
			return err
		}
		o.noteWeCom(err)
		if err != nil && ctx.Err() == nil {
			var apiErr *wecom.APIError
			code := 0
			if errors.As(err, &apiErr) {
				code = apiErr.Code
			}
			o.m.WeComSendError(code)
		}
		return err
	})
}

type replierFunc func(ctx context.Context, user string, r chat.Reply) error

func (f replierFunc) Reply(ctx context.Context, user string, r chat.Reply) error {
	return f(ctx, user, r)
}

// replyResult sums up a command's replies for the commands metric: the worst severity
// among them (ok, warning, error).
func replyResult(rs []chat.Reply) string {
	res := "ok"
	for _, r := range rs {
		switch r.Severity {
		case chat.SeverityError:
			return "error"
		case chat.SeverityWarning:
			res = "warning"
		}
	}
	return res
}
