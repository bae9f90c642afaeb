package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/logging"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// TestMain lets the tests run this binary as the bot (LOADGEN_BOT_FOR_TEST=1), so that
// they measure a real separate process without building cmd/bot.
func TestMain(m *testing.M) {
	if os.Getenv("LOADGEN_BOT_FOR_TEST") == "1" {
		os.Exit(serveForTest(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// serveForTest is a minimal `bot serve`: load, start, run until SIGTERM.
func serveForTest(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "")
	fs.Bool("watch", false, "")
	level := fs.String("log-level", "info", "")
	if len(args) == 0 || args[0] != "serve" || fs.Parse(args[1:]) != nil {
		fmt.Fprintln(os.Stderr, "usage: serve -config FILE")
		return 2
	}
	log, err := logging.New(os.Stderr, "json", *level)
	if err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := app.New(cfg, app.Options{Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		return 1
	}
	return 0
}

func testOptions(t *testing.T, mods ...func(*options)) options {
	t.Helper()
	o, err := parseFlags([]string{"-users", "20", "-warmup", "10", "-drain", "20s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.botCmd = []string{os.Args[0]}
	o.env = []string{"LOADGEN_BOT_FOR_TEST=1"}
	for _, m := range mods {
		m(&o)
	}
	return o
}

// A short run against a real bot process: every callback acknowledged and answered
// exactly once, and the process figures filled in.
func TestRunAgainstABotProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a bot process")
	}
	tests := []struct {
		name string
		mod  func(*options)
	}{
		{"full speed help", func(o *options) { o.rate, o.n, o.concurrency = 0, 200, 8 }},
		{"fixed rate list", func(o *options) { o.rate, o.n, o.mix, o.concurrency = 400, 100, "list", 32 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t, tt.mod)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := run(ctx, o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != o.n || rep.Sent != o.n {
				t.Errorf("sent %d, acknowledged %d; want %d and %d (statuses %v, transport errors %d)",
					rep.Sent, rep.OK, o.n, o.n, rep.Statuses, rep.Transport)
			}
			if rep.Replies != o.n || rep.Dups != 0 || rep.Missing != 0 || rep.Unknown != 0 {
				t.Errorf("replies %d, duplicates %d, missing %d, unknown %d; want %d, 0, 0, 0",
					rep.Replies, rep.Dups, rep.Missing, rep.Unknown, o.n)
			}
			if rep.IdleRSS <= 0 || rep.PeakRS < rep.IdleRSS || rep.CPU <= 0 || rep.GoroutinesAfter <= 0 {
				t.Errorf("process figures missing: idle RSS %d, peak %d, CPU %s, goroutines %v",
					rep.IdleRSS, rep.PeakRS, rep.CPU, rep.GoroutinesAfter)
			}
			if rep.SecretInLog {
				t.Error("the bot's log holds a secret or an access token")
			}
			if rep.BotExit != "SIGTERM: exit 0" {
				t.Errorf("bot exit = %q, want a clean SIGTERM exit", rep.BotExit)
			}
			var out strings.Builder
			rep.print(&out)
			if !strings.Contains(out.String(), "duplicates 0") {
				t.Errorf("report does not show the duplicates:\n%s", out.String())
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args     []string
		wantErr  string
		wantConc int
	}{
		{args: []string{"-rate", "0"}, wantConc: 64},
		{args: []string{"-rate", "100"}, wantConc: 512},
		{args: []string{"-rate", "0", "-concurrency", "8"}, wantConc: 8},
		{args: []string{"-mix", "reboot"}, wantErr: "-mix"},
		{args: []string{"-users", "0"}, wantErr: "-users"},
		{args: []string{"-rate", "-1"}, wantErr: "-rate"},
		{args: []string{"-duration", "0"}, wantErr: "-n or a positive -duration"},
		{args: []string{"-n", "20000000"}, wantErr: "-n"},
		{args: []string{"-env", "GOGC"}, wantErr: "KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.concurrency != tt.wantConc {
				t.Errorf("concurrency = %d, want %d", o.concurrency, tt.wantConc)
			}
		})
	}
}

// The generated config is valid, has every user, and turns both rate limits off.
func TestConfigYAML(t *testing.T) {
	pv := pvetest.New(pvetest.Options{TLS: true})
	defer pv.Close()
	users := userIDs(25)
	wc := wecomtest.NewServer(t)
	cfg, err := config.Parse([]byte(botConfig(&apptest.Env{WeCom: wc, PVE: pv}, "127.0.0.1:1", "127.0.0.1:2", t.TempDir(), users, "card", false)), "loadgen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.Users); got != 25 {
		t.Errorf("users = %d, want 25", got)
	}
	if cfg.RateLimit.PerUser.N != 0 || cfg.RateLimit.PerMember.N != 0 {
		t.Errorf("rate limits = %+v, want both off", cfg.RateLimit)
	}
	if len(cfg.PVE.Clusters) != 1 || len(cfg.PVE.Clusters[0].Fingerprint) != 1 {
		t.Errorf("clusters = %+v, want one with a pinned fingerprint", cfg.PVE.Clusters)
	}
}

// -push and -fleet give a valid config: alerts and a schedule on, 1 + 3 clusters each
// with its own pinned fingerprint, every problem checked (Validate), none found.
func TestConfigYAMLPushAndFleet(t *testing.T) {
	pv := pvetest.New(pvetest.Options{TLS: true})
	defer pv.Close()
	fleet := startFleet(3, 5, 0)
	defer func() {
		for _, s := range fleet {
			s.Close()
		}
	}()
	wc := wecomtest.NewServer(t)
	raw, err := withFleet(botConfig(&apptest.Env{WeCom: wc, PVE: pv}, "127.0.0.1:1", "127.0.0.1:2", t.TempDir(), userIDs(5), "card", true), fleet, apptest.PVETokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(raw), "loadgen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if problems := cfg.Validate(); len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if len(cfg.Schedules) != 1 || len(cfg.Alerts.To) != 1 {
		t.Errorf("schedules %+v, alerts to %v; want one each", cfg.Schedules, cfg.Alerts.To)
	}
	if len(cfg.PVE.Clusters) != 4 || cfg.PVE.Clusters[3].Name != "c02" || len(cfg.PVE.Clusters[3].Fingerprint) != 1 ||
		cfg.PVE.Clusters[3].Fingerprint[0] == cfg.PVE.Clusters[0].Fingerprint[0] {
		t.Errorf("clusters = %+v, want home and c00..c02, each with its own fingerprint", cfg.PVE.Clusters)
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "4242 (bot) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 9 0 100 0 0", 1750 * time.Millisecond, false},
		{"name with spaces and parens", "7 (my (odd) bot) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0", 70 * time.Millisecond, false},
		{"truncated", "7 (bot) R 1 7", 0, true},
		{"no name", "garbage", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tbot\nVmHWM:\t   30000 kB\nVmRSS:\t   20000 kB\nRssAnon:\t    6000 kB\nRssFile:\t   14000 kB\n"
	got, err := parseStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	want := memStatus{RSS: 20000 << 10, HWM: 30000 << 10, Anon: 6000 << 10}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parseStatus([]byte("Name:\tbot\n")); err == nil {
		t.Error("status without memory lines: got nil error")
	}
}

func TestFindSeries(t *testing.T) {
	text := "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_goroutines_extra 7\n"
	got, err := findSeries(strings.NewReader(text), "go_goroutines")
	if err != nil || got != 42 {
		t.Errorf("got %v, %v; want 42", got, err)
	}
	if _, err := findSeries(strings.NewReader(text), "process_resident_memory_bytes"); err == nil {
		t.Error("missing series: got nil error")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %s, want %s", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %s, want 0", got)
	}
}

// The matcher pairs each reply with one callback; extra replies are duplicates, and a
// withdrawn callback (the bot said 503) expects none.
func TestMatcher(t *testing.T) {
	users := userIDs(2)
	m := newMatcher(users)
	a1 := m.expect(0, 1)
	m.expect(0, 1)
	b1 := m.expect(1, 1)
	m.cancel(b1)
	m.sent(wecomtest.SentMessage{ToUser: []string{users[0]}})
	if _, _, _, out := m.counts(); out != 1 {
		t.Errorf("outstanding = %d, want 1", out)
	}
	if !a1.done {
		t.Error("the first reply did not go to the oldest callback")
	}
	m.sent(wecomtest.SentMessage{ToUser: []string{users[0]}})
	m.sent(wecomtest.SentMessage{ToUser: []string{users[0]}}) // one too many
	m.sent(wecomtest.SentMessage{ToUser: []string{users[1]}}) // for a withdrawn callback
	m.sent(wecomtest.SentMessage{ToUser: []string{"stranger"}})
	replies, dups, unknown, out := m.counts()
	if replies != 5 || dups != 2 || unknown != 1 || out != 0 {
		t.Errorf("replies %d, dups %d, unknown %d, outstanding %d; want 5, 2, 1, 0", replies, dups, unknown, out)
	}
	if got := len(m.latencies()); got != 2 {
		t.Errorf("latencies = %d, want 2", got)
	}
}

// A long list's reply is several messages and every other reply one: in a mixed run each
// callback waits for its own number, and the warm-up's total counts both.
func TestMatcherPartsPerCallback(t *testing.T) {
	users := userIDs(1)
	m := newMatcher(users)
	list := m.expect(0, 3)
	help := m.expect(0, 1)
	if got := m.expectedMessages(); got != 4 {
		t.Fatalf("expected messages = %d, want 4", got)
	}
	for range 3 {
		m.sent(wecomtest.SentMessage{ToUser: []string{users[0]}})
	}
	if !list.done || help.done {
		t.Fatalf("after 3 messages: list done %v, help done %v; want true, false", list.done, help.done)
	}
	m.sent(wecomtest.SentMessage{ToUser: []string{users[0]}})
	if _, dups, _, out := m.counts(); !help.done || out != 0 || dups != 0 {
		t.Errorf("after 4 messages: help done %v, outstanding %d, duplicates %d; want true, 0, 0", help.done, out, dups)
	}
}

// At a fixed rate no callback is encrypted more than a minute before it is sent: a
// 30-minute soak at 50/s would otherwise send callbacks stamped up to 30 minutes ago,
// which the bot refuses (max_clock_skew) after the first ten.
func TestPrefillStaysFresh(t *testing.T) {
	for _, c := range []struct{ total, rate, want int }{
		{90000, 50, 3000},       // 30 minutes at 50/s: one minute ahead
		{100, 50, 100},          // a short run: all of it
		{36000, 10, 600},        // 60 minutes at 10/s
		{1_000_000, 0, 150_000}, // full speed: the prefill cap
	} {
		if got := prefillCount(c.total, c.rate); got != c.want {
			t.Errorf("prefillCount(%d, %d) = %d, want %d", c.total, c.rate, got, c.want)
		}
	}
}
