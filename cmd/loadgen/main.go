// Command loadgen measures a real bot process under load, on loopback only.
//
// It starts a fake WeCom (wecomtest) and a fake PVE cluster (pvetest, the home-lab seed)
// in its own process, writes a config joining them with N users (rate limits off), builds
// the bot and runs it as a separate process (so that its CPU time and RSS are its own),
// then posts encrypted callbacks at a fixed rate or at full speed and reports acks per
// second, ack and end-to-end latency, errors (non-200, missing and duplicate replies), the
// bot's CPU time per callback, its RSS, goroutines and whether its connections to WeCom
// were reused. docs/benchmarks.md has the figures and the commands that produced them.
//
//	go run ./cmd/loadgen -rate 1000 -duration 10s -mix help
//	go run ./cmd/loadgen -rate 0 -concurrency 64 -n 100000
//	go run ./cmd/loadgen -rate 500 -duration 10m -sample 30s   # soak
//	go run ./cmd/loadgen -fleet 50 -pve-latency 20ms -mix list -parts 5 -rate 20   # 10,000 guests
//
// Every loop is bounded by -n or -duration; nothing leaves 127.0.0.1.
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
	"time"
)

// options are the command-line flags.
type options struct {
	bot          string // bot binary; built from this module when empty
	users        int
	rate         int // callbacks per second; 0 = full speed
	concurrency  int
	duration     time.Duration
	n            int
	mix          string // help | list | status
	fleet        int    // extra clusters of fleetGuests guests each (0: the home lab only)
	fleetGuests  int
	parts        int           // messages per reply
	idleAfter    time.Duration // RSS measured this long after start, before any callback
	push         bool          // alerts and a schedule each minute (soak)
	wecomLatency time.Duration
	pveLatency   time.Duration
	sample       time.Duration
	warmup       int
	drain        time.Duration
	perf         string   // perf record output file, "" = no profile
	env          []string // extra environment of the bot (GOGC=..., GOMEMLIMIT=...)
	logLevel     string
	replyMode    string
	keep         bool
	// inProcessBot, for tests, starts the bot with this command instead of -bot.
	botCmd []string
}

type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, ",") }
func (e *envFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bot, "bot", "", "bot binary (default: go build ./cmd/bot into a temporary directory)")
	fs.IntVar(&o.users, "users", 1000, "configured users (user0000...), callbacks cycle through them")
	fs.IntVar(&o.rate, "rate", 1000, "callbacks per second; 0 sends at full speed with -concurrency senders")
	fs.IntVar(&o.concurrency, "concurrency", 0, "concurrent senders (default 64 at full speed, 512 at a fixed rate)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (ignored when -n is set)")
	fs.IntVar(&o.n, "n", 0, "number of callbacks to send (overrides -duration)")
	fs.StringVar(&o.mix, "mix", "help", "what users send: help, list (vm list through pvetest), status (状态 <a guest's name>) or mixed (the three in turn)")
	fs.IntVar(&o.fleet, "fleet", 0, "add this many clusters (c00, c01, ...) of -guests guests each, every one a pvetest with -pve-latency")
	fs.IntVar(&o.fleetGuests, "guests", 200, "guests per -fleet cluster")
	fs.IntVar(&o.parts, "parts", 1, "messages a reply to vm list is split into (over -fleet 50 -guests 200: 5); other replies are one")
	fs.BoolVar(&o.push, "push", false, "turn on every alert rule and a summary report each minute, to a group chat and a robot (soak)")
	fs.DurationVar(&o.idleAfter, "idle-after", 0, "also measure the bot's RSS this long after start, before any callback")
	fs.DurationVar(&o.wecomLatency, "wecom-latency", 0, "latency the fake WeCom adds to every answer")
	fs.DurationVar(&o.pveLatency, "pve-latency", 0, "latency the fake PVE adds to every answer")
	fs.DurationVar(&o.sample, "sample", 0, "print the bot's RSS and goroutines this often (soak)")
	fs.IntVar(&o.warmup, "warmup", 100, "callbacks sent and answered before the clock starts")
	fs.DurationVar(&o.drain, "drain", 60*time.Second, "how long to wait for replies after the last callback")
	fs.StringVar(&o.perf, "perf", "", "record a CPU profile of the bot with `perf record -g` into this file")
	fs.Var((*envFlag)(&o.env), "env", "KEY=VALUE added to the bot's environment (repeatable), e.g. GOMEMLIMIT=30MiB")
	fs.StringVar(&o.logLevel, "log-level", "info", "the bot's log level")
	fs.StringVar(&o.replyMode, "reply-mode", "card", "wecom.reply_mode: card or text")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, data_dir, bot log)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.users < 1 || o.users > 100000:
		return o, fmt.Errorf("-users %d: want 1..100000", o.users)
	case o.rate < 0:
		return o, fmt.Errorf("-rate %d: want >= 0", o.rate)
	case o.n < 0 || o.n > maxMessages:
		return o, fmt.Errorf("-n %d: want 0..%d", o.n, maxMessages)
	case o.n == 0 && o.duration <= 0:
		return o, fmt.Errorf("give -n or a positive -duration")
	case o.mix != "help" && o.mix != "list" && o.mix != "status" && o.mix != "mixed":
		return o, fmt.Errorf("-mix %q: want help, list, status or mixed", o.mix)
	case o.fleet < 0 || o.fleet > 100 || o.fleetGuests < 1 || o.fleetGuests > 1000:
		return o, fmt.Errorf("-fleet %d -guests %d: want 0..100 clusters of 1..1000 guests", o.fleet, o.fleetGuests)
	case o.parts < 1 || o.parts > 10:
		return o, fmt.Errorf("-parts %d: want 1..10", o.parts)
	case o.replyMode != "card" && o.replyMode != "text":
		return o, fmt.Errorf("-reply-mode %q: want card or text", o.replyMode)
	}
	if o.concurrency <= 0 {
		o.concurrency = 64
		if o.rate > 0 {
			o.concurrency = 512
		}
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
}
