// Command bot is wecom-home-ops: run Proxmox VE guests from WeCom.
//
//	bot serve   -config FILE   run the service
//	bot check   -config FILE   validate the config file; exit 0 when it is good, 1 with every problem listed
//	bot version                print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `wecom-home-ops: run Proxmox VE guests from WeCom (企业微信)

Usage:
  bot serve   -config FILE [-log-format json|console] [-log-level info]
  bot check   -config FILE
  bot version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bot: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "wecom-home-ops " + v
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
	format := fs.String("log-format", "json", "log format: json or console")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := logging.New(stderr, *format, *level)
	if err != nil {
		fmt.Fprintln(stderr, "bot:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bot: the config file has problems:\n%v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.New(cfg, app.Options{Logger: log})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		fmt.Fprintln(stderr, "bot:", err)
		return 1
	}
	log.Info("starting", zap.String("version", versionString()), zap.String("config", *path))
	if err := a.Run(ctx); err != nil {
		log.Error("stopped with an error", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
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
	return 0
}
