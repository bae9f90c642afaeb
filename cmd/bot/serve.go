package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/logging"
)

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
