package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
	"github.com/wecom-home-ops/wecom-home-ops/internal/logging"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// The demo's users: one per built-in role, so that the console shows what each may do.
const (
	demoAdmin    = "admin"
	demoOperator = "operator"
	demoViewer   = "viewer"
)

// demoOptions shape a demo bot; tests shorten the tasks and listen on a free port.
type demoOptions struct {
	Listen       string
	Language     string
	TaskDuration time.Duration // how long a simulated power action runs
	Logger       *zap.Logger
}

// demoBot is a bot on a simulated cluster with the local console as its chat.
type demoBot struct {
	PVE     *pvetest.Server
	App     *app.App
	Console *console.Console
	URL     string
	dir     string
}

// demoConfig is the demo's config: the fake cluster pinned by its certificate fingerprint,
// three users, card replies. The wecom values are obviously fake and never used: the
// console replaces WeCom.
func demoConfig(pv *pvetest.Server, listen, dataDir, lang string) string {
	return fmt.Sprintf(`server:
  listen: %q
data_dir: %q
language: %s
wecom:
  corp_id: "ww0000demo0not0used"
  agent_id: 1000002
  secret: "demo-not-a-secret"
  token: "demo-not-a-token"
  encoding_aes_key: %q
  reply_mode: card
pve:
  timeout: 5s
  task_timeout: 2m
  clusters:
    - name: home
      base_url: %q
      token_id: %q
      token_secret: %q
      fingerprint: %q
      protected: ["tag:critical"]
users:
  - id: %s
    role: admin
  - id: %s
    role: operator
    scope: ["pool:media", "tag:lab"]
  - id: %s
    role: viewer
confirm_ttl: 5m
rate_limit: { per_user: "0" }
timezone: Asia/Shanghai
targets:
  family:
    appchat: %s
schedules:
  - name: %s
    cron: "0 8 * * *"
    report: summary
    chart: true
    to: [family]
alerts:
  to: [family]
  rules:
    node_offline: { for: 0s }
pve_webhook:
  path: %q
  secret: %q
  to: [family]
`, listen, dataDir, lang, strings.Repeat("A", 43), pv.URL(), pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret,
		pv.Fingerprint(), demoAdmin, demoOperator, demoViewer, demoGroup, demoReport, demoWebhookPath, demoWebhookSecret)
}

// The demo's group chat, whose pane in the console receives the scheduled report and the
// alerts, and the report its button sends at once.
const (
	demoGroup  = "homegroup"
	demoReport = "morning"
	// PVE's notifications reach the demo here; the "replay" button posts a sample like PVE does.
	demoWebhookPath   = "/pve/webhook"
	demoWebhookSecret = "demo-not-a-webhook-secret"
)

// startDemo starts the fake cluster and a bot on it with the console mounted, listening
// but not yet serving (call App.Run). close removes everything it made.
func startDemo(o demoOptions) (d *demoBot, err error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.TaskDuration == 0 {
		o.TaskDuration = 2 * time.Second
	}
	if o.Language == "" {
		o.Language = "zh"
	}
	dir, err := os.MkdirTemp("", "wecom-home-ops-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: temp dir: %w", err)
	}
	// HA guests (homeassistant) move in the HA manager's rounds of 10 s, as on a real cluster:
	// the bot answers that the request is with the HA manager, then the final state.
	pv := pvetest.New(pvetest.Options{TLS: true, ErrorFormat: pvetest.Modern, ClusterName: "home",
		TaskDuration: o.TaskDuration})
	pvetest.SeedHomeLab(pv)
	d = &demoBot{PVE: pv, dir: dir}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	cfg, err := config.Parse([]byte(demoConfig(pv, o.Listen, filepath.Join(dir, "data"), o.Language)), "demo")
	if err != nil {
		return d, fmt.Errorf("demo: config: %w", err)
	}
	banner := "演示：模拟的 PVE 集群（2 个节点，16 台虚拟机/容器），操作只影响模拟环境"
	if o.Language == "en" {
		banner = "Demo: a simulated PVE cluster (2 nodes, 16 guests); actions only change the simulation"
	}
	d.App, d.Console, err = app.NewWithConsole(cfg, app.Options{Logger: o.Logger, PushToConsole: true},
		console.Options{Banner: banner, Actions: d.actions(o.Language)})
	if err != nil {
		return d, err
	}
	d.URL = "http://" + d.App.Addr() + "/"
	return d, nil
}

// actions are the console's demo buttons: the morning report now, and pve2 losing power
// (or coming back), which the alert check then reports in the group chat.
func (d *demoBot) actions(lang string) []console.Action {
	zh := lang != "en"
	pick := func(z, e string) string {
		if zh {
			return z
		}
		return e
	}
	var mu sync.Mutex
	offline := false
	return []console.Action{
		{ID: "report", Label: pick("立即发送日报", "Send the morning report now"), Run: func(ctx context.Context) error {
			return d.App.PushReportNow(ctx, demoReport)
		}},
		{ID: "node", Label: pick("模拟 pve2 断电 / 恢复", "Simulate pve2 losing power / coming back"), Run: func(ctx context.Context) error {
			mu.Lock()
			offline = !offline
			d.PVE.SetNodeOnline("pve2", !offline)
			mu.Unlock()
			return d.App.CheckAlertsNow(ctx)
		}},
		{ID: "pve-backup-failed", Label: pick("回放一条 PVE 备份失败通知", "Replay a PVE failed-backup notification"), Run: func(ctx context.Context) error {
			n := pvetest.SampleBackupFailure(time.Now().Truncate(time.Second))
			code, err := pvetest.PostWebhook(ctx, "http://"+d.App.Addr()+demoWebhookPath, demoWebhookSecret, n)
			if err != nil {
				return err
			}
			if code != 200 {
				return fmt.Errorf("demo: the webhook answered %d", code)
			}
			d.App.DeliverWebhookNow(ctx)
			return nil
		}},
	}
}

// close stops the fake cluster and removes the demo's data. Call it after Run returned.
func (d *demoBot) close() {
	d.PVE.Close()
	_ = os.RemoveAll(d.dir)
}

// demoCmd runs the bot against an embedded simulated cluster with a local chat console.
func demoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "loopback address for the console")
	lang := fs.String("lang", "zh", "language of the bot and the console: zh or en")
	level := fs.String("log-level", "error", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := loopbackListen(*listen); err != nil {
		fmt.Fprintln(stderr, "bot demo:", err)
		return 2
	}
	log, err := logging.New(stderr, "console", *level)
	if err != nil {
		fmt.Fprintln(stderr, "bot demo:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if err := portFree(*listen); err != nil {
		fmt.Fprintln(stderr, "bot demo:", listenHint(err, *listen))
		return 1
	}
	d, err := startDemo(demoOptions{Listen: *listen, Language: *lang, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "bot demo:", listenHint(err, *listen))
		return 1
	}
	defer d.close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	try := "vm list · 状态 · 关机 104 · vm status 102 · 图表 102 · 节点图表 pve1 周 · 帮助"
	if *lang == "en" {
		try = "vm list · status · vm shutdown 104 · vm status 102 · vm graph 102 · node graph pve1 week · help"
	}
	fmt.Fprintf(stdout, `wecom-home-ops demo: a simulated Proxmox VE cluster and a local chat console.

  Open %s
  Users: %s (admin), %s (operator: media and lab guests), %s (viewer)
  Try:   %s

Press Ctrl-C to stop; the demo's data is removed on exit.
`, d.URL, demoAdmin, demoOperator, demoViewer, try)
	if err := d.App.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "bot demo:", err)
		return 1
	}
	return 0
}

// consoleCmd runs the local chat console against the clusters and users of a config file.
func consoleCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
	listen := fs.String("listen", "127.0.0.1:8081", "loopback address for the console")
	dataDir := fs.String("data-dir", "", "embedded store to use (default: the config's data_dir)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := loopbackListen(*listen); err != nil {
		fmt.Fprintln(stderr, "bot console:", err)
		return 2
	}
	log, err := logging.New(stderr, "console", *level)
	if err != nil {
		fmt.Fprintln(stderr, "bot console:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if err := portFree(*listen); err != nil {
		fmt.Fprintln(stderr, "bot console:", listenHint(err, *listen))
		return 1
	}
	a, err := startConsole(*path, *listen, *dataDir, log)
	if err != nil {
		fmt.Fprintln(stderr, "bot console:", listenHint(err, *listen))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "wecom-home-ops console for %s: open http://%s/ (this machine only). Ctrl-C stops it.\n", *path, a.Addr())
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "bot console:", err)
		return 1
	}
	return 0
}

// startConsole loads the config file and builds a bot on it whose chat is the console,
// listening on listen (and using dataDir instead of data_dir when set).
func startConsole(path, listen, dataDir string, log *zap.Logger) (*app.App, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("the config file has problems:\n%w", err)
	}
	cfg.Server.Listen = listen
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	banner := "本地控制台：真实集群，操作会真正执行"
	if cfg.Language == "en" {
		banner = "Local console: real clusters, actions really run"
	}
	a, _, err := app.NewWithConsole(cfg, app.Options{Logger: log}, console.Options{Banner: banner})
	return a, err
}

// loopbackListen refuses a listen address other hosts could reach: the console has no
// login, whoever reaches it acts as any configured user.
func loopbackListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: want host:port, e.g. 127.0.0.1:8080", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-listen %q: the console listens on loopback only (127.0.0.1 or ::1): it has no login", addr)
}

// portFree fails fast, before the fake cluster or the store start, when listen is taken.
func portFree(listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	return ln.Close()
}

// listenHint explains the common start failure: the port is taken.
func listenHint(err error, listen string) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Sprintf("%s is already in use (another bot demo or program?): stop it, or pick another port with -listen 127.0.0.1:8090", listen)
	}
	return err.Error()
}
