package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/smartbot"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
	online := fs.Bool("online", false, "also reach every PVE cluster, WeCom and the appchat targets")
	timeout := fs.Duration("timeout", 20*time.Second, "with --online: how long each check may take")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n%v\n", *path, len(probs), err)
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d users, %d PVE clusters, reply mode %s, language %s)\n",
		*path, len(cfg.Users), len(cfg.PVE.Clusters), cfg.WeCom.ReplyMode, cfg.Language)
	fmt.Fprintf(stdout, "  WeCom: %s\n", transports(cfg))
	if !*online {
		return 0
	}
	oc := onlineCheck{w: stdout, timeout: *timeout}
	oc.run(cfg)
	if oc.failed > 0 {
		fmt.Fprintf(stdout, "\n✘ %d check(s) failed\n", oc.failed)
		return 1
	}
	fmt.Fprintln(stdout, "\n✔ every online check passed")
	return 0
}

// onlineCheck prints one line per check, ✔ or ✘, with indented advice under a failure.
type onlineCheck struct {
	w       io.Writer
	timeout time.Duration
	failed  int
	// pveOptions and smartbotHTTP are test seams; zero is production.
	pveOptions   pve.Options
	smartbotHTTP *http.Client
}

func (oc *onlineCheck) ok(format string, a ...any) { fmt.Fprintf(oc.w, "✔ "+format+"\n", a...) }
func (oc *onlineCheck) fail(format string, a ...any) {
	oc.failed++
	fmt.Fprintf(oc.w, "✘ "+format+"\n", a...)
}
func (oc *onlineCheck) note(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(oc.w, "    %s\n", l)
	}
}

func (oc *onlineCheck) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), oc.timeout)
}

func (oc *onlineCheck) run(cfg *config.Config) {
	for _, cl := range cfg.PVE.Clusters {
		oc.cluster(cfg, cl)
	}
	if cfg.WeCom.AppConfigured() || !cfg.WeCom.SmartBot.Configured() {
		oc.wecom(cfg)
	}
	oc.smartbot(cfg)
}

// transports says which WeCom transports the config sets up.
func transports(cfg *config.Config) string {
	var parts []string
	if cfg.WeCom.AppConfigured() {
		parts = append(parts, "self-built app (callback "+cfg.Server.CallbackPath+")")
	}
	if sb := cfg.WeCom.SmartBot; sb.Configured() {
		if sb.Webhook() {
			parts = append(parts, "smart bot "+sb.BotID+", webhook at "+sb.CallbackPath)
		} else {
			parts = append(parts, "smart bot "+sb.BotID+", long connection (no public URL needed)")
		}
	}
	return strings.Join(parts, "; ")
}

// smartbot connects and subscribes once in websocket mode. WeCom keeps one connection
// per bot, so a running bot with the same BotID is disconnected by it (and says so).
func (oc *onlineCheck) smartbot(cfg *config.Config) {
	sb := cfg.WeCom.SmartBot
	if !sb.Configured() {
		return
	}
	if sb.Webhook() {
		fmt.Fprintf(oc.w, "- smart bot %s: webhook mode is checked by WeCom when you save the URL in the admin console\n", sb.BotID)
		return
	}
	ctx, cancel := oc.ctx()
	defer cancel()
	c := smartbot.New(smartbot.Options{URL: sb.WSURL, BotID: sb.BotID, Secret: sb.Secret.Value(), HTTPClient: oc.smartbotHTTP}, nil)
	err := c.CheckOnline(ctx)
	var ae *smartbot.APIError
	switch {
	case err == nil:
		oc.ok("smart bot %s: connected to %s and subscribed", sb.BotID, sb.WSURL)
		oc.note("a running bot with the same BotID was disconnected by this check: WeCom keeps one connection per bot;",
			"it reconnects after its pause (15 minutes), or restart it now")
	case errors.As(err, &ae):
		oc.fail("smart bot %s: WeCom refused the subscription (errcode %d): %s", sb.BotID, ae.Code, ae.Msg)
		oc.note("check wecom.smartbot.bot_id and secret: 智能机器人 → API 模式 → 长连接 shows both")
	default:
		oc.fail("smart bot %s: cannot connect to %s: %v", sb.BotID, sb.WSURL, err)
	}
}

func (oc *onlineCheck) cluster(cfg *config.Config, cl config.Cluster) {
	name := "PVE " + cl.Name
	o := oc.pveOptions
	if o.Timeout == 0 {
		o.Timeout = cfg.PVE.Timeout.Std()
	}
	c, err := pve.NewClient(cl, o)
	if err != nil {
		oc.fail("%s: %v", name, err)
		return
	}
	ctx, cancel := oc.ctx()
	defer cancel()
	sc, err := c.Check(ctx)
	if err != nil {
		var pe *pve.Error
		kind := pve.Kind("")
		if errors.As(err, &pe) {
			kind = pe.Kind
		}
		switch kind {
		case pve.KindTLS:
			oc.ok("%s: reachable at %s", name, cl.BaseURL)
			oc.fail("%s: certificate: %v", name, err)
			if pe.Presented != "" {
				oc.note("the server presents fingerprint " + pe.Presented + "; if that is your PVE's certificate, set fingerprint: to it (or ca_file: to pve-root-ca.pem)")
			}
		case pve.KindTokenRejected:
			oc.ok("%s: reachable at %s, certificate trusted", name, cl.BaseURL)
			oc.fail("%s: token %s rejected: %v", name, cl.TokenID, err)
			oc.note("check token_id and token_secret (pveum user token list " + strings.SplitN(cl.TokenID, "!", 2)[0] + "), and that the token has not expired")
		default:
			oc.fail("%s: not reachable at %s: %v", name, cl.BaseURL, err)
		}
		return
	}
	oc.ok("%s: reachable at %s (PVE %s), certificate trusted, token %s valid", name, cl.BaseURL, sc.Version, c.TokenID())
	for _, f := range sc.Features {
		switch {
		case f.OK && !f.Partial:
			oc.ok("%s: privileges for %s", name, f.Name)
		case f.Optional:
			fmt.Fprintf(oc.w, "! %s: optional privileges for %s: missing %s: %s\n", name, f.Name, strings.Join(f.Missing, ", "), f.Consequence)
			oc.note(f.Grant...)
		default:
			oc.fail("%s: privileges for %s: missing %s: %s", name, f.Name, strings.Join(f.Missing, ", "), f.Consequence)
			if f.Name == "pools" {
				if sels := poolSelectors(cfg, cl.Name); len(sels) > 0 {
					oc.fail("%s: pool selectors the token cannot evaluate: %s", name, strings.Join(sels, "; "))
				}
			}
		}
	}
	if fix := sc.PveumFix(c.TokenID()); fix != nil {
		oc.note("to grant what is missing, run on a PVE node:")
		oc.note(fix...)
	}
	for _, w := range sc.Warnings {
		fmt.Fprintf(oc.w, "! %s: %s\n", name, w)
	}
	oc.webhookTarget(cfg, c, name) // check_webhook.go
}

// poolSelectors lists, as "key: selector", the pool selectors of the config that concern
// cluster: its protected list, users' scopes and alert rules.
func poolSelectors(cfg *config.Config, cluster string) []string {
	var out []string
	add := func(key string, sels []string) {
		for _, s := range sels {
			l := strings.ToLower(strings.TrimSpace(s))
			if strings.HasPrefix(l, "pool:") || strings.HasPrefix(l, strings.ToLower(cluster)+"/pool:") {
				out = append(out, key+": "+s)
			}
		}
	}
	for _, cl := range cfg.PVE.Clusters {
		if cl.Name == cluster {
			add("pve.clusters."+cl.Name+".protected", cl.Protected)
		}
	}
	for _, u := range cfg.Users {
		add("users."+u.ID+".scope", u.Scope)
	}
	add("alerts.rules.guest_stopped.guests", cfg.Alerts.Rules.GuestStopped.Guests)
	return out
}

func (oc *onlineCheck) wecom(cfg *config.Config) {
	client, err := wecom.NewClient(wecom.ClientConfig{
		CorpID: cfg.WeCom.CorpID, AgentID: cfg.WeCom.AgentID, Secret: cfg.WeCom.Secret.Value(),
		BaseURL: cfg.WeCom.APIBaseURL, MaxRetries: 1,
	}, nil)
	if err != nil {
		oc.fail("WeCom: %v", err)
		return
	}
	ctx, cancel := oc.ctx()
	defer cancel()
	if _, err := client.Token(ctx); err != nil {
		oc.fail("WeCom: access token: %v", err)
		return
	}
	oc.ok("WeCom: access token obtained (corp %s, agent %d)", cfg.WeCom.CorpID, cfg.WeCom.AgentID)
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := cfg.Targets[n]
		switch t.Kind() {
		case "appchat":
			if _, err := client.AppChatGet(ctx, t.AppChat); err != nil {
				oc.fail("target %s: group chat %s: %v", n, t.AppChat, err)
				if len(t.AppChatMembers) > 0 {
					oc.note("it is created at start from appchat_members")
				}
				continue
			}
			oc.ok("target %s: group chat %s exists", n, t.AppChat)
		case "robot":
			fmt.Fprintf(oc.w, "- target %s: group robot not checked (checking would post a message)\n", n)
		case "users":
			fmt.Fprintf(oc.w, "- target %s: %d member(s), reached through the app\n", n, len(t.Users))
		}
	}
}
