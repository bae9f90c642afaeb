package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/logging"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// bot is one in-process bot under test.
type bot struct {
	t      *testing.T
	env    *apptest.Env
	app    *app.App
	cfg    *config.Config
	logs   *apptest.LogBuffer
	cancel context.CancelFunc
	done   chan error
	send   *wecomtest.Sender
}

type botOptions struct {
	cfg       apptest.ConfigOptions
	now       func() time.Time
	quickWait time.Duration
	// clock drives scheduled reports and alerts (default: the wall clock).
	clock schedule.Clock
}

// startBot loads a config joining env's fakes and runs a bot on it until the test ends.
// At the end it checks that no secret reached the logs, the chat or the files of data_dir.
func startBot(t *testing.T, env *apptest.Env, o botOptions) *bot {
	t.Helper()
	if o.cfg.DataDir == "" {
		o.cfg.DataDir = t.TempDir()
	}
	path := env.WriteConfig(t, t.TempDir(), o.cfg)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &apptest.LogBuffer{}
	log, err := logging.New(logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, app.Options{
		Logger: log, Now: o.now, QuickWait: o.quickWait, Clock: o.clock, ReplyBackoff: 50 * time.Millisecond,
		PVE:             pve.Options{PollInterval: 10 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: time.Second},
		ShutdownTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bot{t: t, env: env, app: a, cfg: cfg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- a.Run(ctx) }()
	b.send = env.Sender("http://" + a.Addr())
	if o.now != nil {
		b.send.Now = o.now
	}
	waitReady(t, "http://"+a.Addr()+"/healthz")
	t.Cleanup(func() {
		b.stop()
		env.CheckNoSecrets(t, "bot log", logs.String())
		env.CheckNoSecrets(t, "chat replies", env.SentTexts()...)
		env.CheckNoSecretsInDir(t, o.cfg.DataDir)
	})
	return b
}

// stop shuts the bot down gracefully (idempotent).
func (b *bot) stop() {
	b.t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		b.t.Error("bot did not stop within 20s")
	}
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot not ready at %s: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// text sends a text message from user and checks WeCom would be answered 200.
func (b *bot) text(user, content string) {
	b.t.Helper()
	resp, err := b.send.Text(context.Background(), user, content)
	b.expectOK(resp, err)
}

// click sends a card button click.
func (b *bot) click(user, key, responseCode string) {
	b.t.Helper()
	resp, err := b.send.CardClick(context.Background(), user, key, "task", responseCode)
	b.expectOK(resp, err)
}

func (b *bot) expectOK(resp *http.Response, err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("callback: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		b.t.Fatalf("callback answered %d %q, want an empty 200", resp.StatusCode, body)
	}
}

// waitSent waits until the fake WeCom delivered n messages in all, and returns them.
func (b *bot) waitSent(n int) []wecomtest.SentMessage {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sent, err := b.env.WeCom.WaitSent(ctx, n)
	if err != nil {
		b.t.Fatalf("waiting for %d sent messages (have %d): %v\nlog:\n%s", n, len(b.env.WeCom.Sent()), err, tail(b.logs.String(), 4000))
	}
	return sent
}

// waitUpdates waits until n card updates were made.
func (b *bot) waitUpdates(n int) []wecomtest.CardUpdate {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if u := b.env.WeCom.Updates(); len(u) >= n {
			return u
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %d card updates (have %d)\nlog:\n%s", n, len(b.env.WeCom.Updates()), tail(b.logs.String(), 4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}
