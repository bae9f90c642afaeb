package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	watch := fs.Bool("watch", true, "reload the config when the file changes (SIGHUP always reloads)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := logging.New(stderr, *format, *level)
	if err != nil {
		fmt.Fprintln(stderr, "bot:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if hint := missingConfig(*path); hint != "" {
		fmt.Fprintln(stderr, "bot serve:", hint)
		return 1
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bot: the config file has problems:\n%v\n", err)
		return 1
	}
	if fsType, ok := networkFS(cfg.DataDir); ok {
		log.Warn("data_dir is on a network file system; SQLite's locking is unreliable there and the store may be corrupted: use a local disk",
			zap.String("data_dir", cfg.DataDir), zap.String("fs", fsType))
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

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the config", zap.String("file", *path))
				_ = a.ReloadFile(*path) // a refused reload is logged; the bot keeps its config
			}
		}
	}()
	if *watch {
		go func() {
			if err := a.WatchConfig(ctx, *path); err != nil {
				log.Warn("cannot watch the config file; reload with SIGHUP", zap.Error(err))
			}
		}()
	}
	if err := a.Run(ctx); err != nil {
		log.Error("stopped with an error", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}

// missingConfig says, when path does not exist, which file was looked for and how to give
// one; "" when the file exists (or cannot be checked: Load reports that).
func missingConfig(path string) string {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fmt.Sprintf("no config file at %s\n"+
		"  pass one with: bot serve -config /path/to/config.yaml\n"+
		"  start from configs/config.example.yaml, check it with: bot check -config /path/to/config.yaml\n"+
		"  or try the bot without any config: bot demo", abs)
}
