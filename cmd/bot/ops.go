package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for backup's read-only connection

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// healthcheckCmd exits 0 when the local bot answers /healthz with 200 within 3 s: the
// image's HEALTHCHECK, in an image without a shell or curl.
func healthcheckCmd(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "http://127.0.0.1:8080/healthz", "health URL of the bot")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		fmt.Fprintln(stderr, "bot healthcheck:", err)
		return 2
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "bot healthcheck:", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "bot healthcheck: %s answered %s\n", *u, resp.Status)
		return 1
	}
	return 0
}

// backupCmd writes a consistent copy of the embedded store while the bot runs. The
// running bot holds data_dir's lock, so this does not Open the store: it opens the
// SQLite file read-only (WAL mode lets a reader in next to the writer) and runs VACUUM
// INTO, which writes a consistent snapshot. It works the same when the bot is stopped.
// Restore: put the copy as bot.db in an empty directory and point data_dir at it.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file (for data_dir)")
	out := fs.String("o", "", "the backup file to write (must not exist)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "bot backup: -o FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bot backup: the config file has problems:\n%v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := backupFile(ctx, cfg.DataDir, *out); err != nil {
		fmt.Fprintln(stderr, "bot backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup written to %s (restore: put it as %s in an empty data_dir)\n", *out, store.FileName)
	return 0
}

func backupFile(ctx context.Context, dataDir, dst string) error {
	src := filepath.Join(dataDir, store.FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no store at %s: %w", src, err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.VacuumInto(ctx, db, dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// menuCmd sets the WeCom app's menu from the config's menu section (or the default):
// `bot menu sync -config FILE`.
func menuCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "sync" {
		fmt.Fprintln(stderr, "usage: bot menu sync -config FILE")
		return 2
	}
	fs := flag.NewFlagSet("menu sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bot menu sync: the config file has problems:\n%v\n", err)
		return 1
	}
	client, err := wecom.NewClient(wecom.ClientConfig{
		CorpID: cfg.WeCom.CorpID, AgentID: cfg.WeCom.AgentID, Secret: cfg.WeCom.Secret.Value(), BaseURL: cfg.WeCom.APIBaseURL,
	}, nil)
	if err != nil {
		fmt.Fprintln(stderr, "bot menu sync:", err)
		return 1
	}
	items := cfg.MenuItems()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MenuCreate(ctx, menuButtons(items)); err != nil {
		var apiErr *wecom.APIError
		if errors.As(err, &apiErr) && apiErr.ConfigProblem() {
			fmt.Fprintln(stderr, "bot menu sync: WeCom refused the credentials:", err)
		} else {
			fmt.Fprintln(stderr, "bot menu sync:", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "menu set for agent %d:\n", cfg.WeCom.AgentID)
	for _, it := range items {
		if len(it.SubButtons) == 0 {
			fmt.Fprintf(stdout, "  %s -> %s\n", it.Name, it.Key)
			continue
		}
		fmt.Fprintf(stdout, "  %s\n", it.Name)
		for _, sb := range it.SubButtons {
			fmt.Fprintf(stdout, "    %s -> %s\n", sb.Name, sb.Key)
		}
	}
	fmt.Fprintln(stdout, "members see it after reopening the app (WeCom caches menus for a few minutes)")
	return 0
}

func menuButtons(items []config.MenuItem) []wecom.MenuButton {
	out := make([]wecom.MenuButton, 0, len(items))
	for _, it := range items {
		if len(it.SubButtons) == 0 {
			out = append(out, wecom.ClickButton(it.Name, it.Key))
			continue
		}
		out = append(out, wecom.MenuButton{Name: it.Name, SubButtons: menuButtons(it.SubButtons)})
	}
	return out
}
