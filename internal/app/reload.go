package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

// reloadDebounce is how long the watcher waits after the last change to the config
// file before reloading: editors write a file in several steps (truncate and write, or
// write a temporary file and rename it over the old one).
const reloadDebounce = 300 * time.Millisecond

// Reload switches the running bot to cfg, which must come from config.Load (parsed and
// validated): users, roles, scopes and confirmation rules (Dispatcher.SetConfig),
// clusters (Fleet.Reload: in-flight commands finish on the old client) and the push
// configuration (reloadPush). Settings that only take effect at start (listen address,
// callback path, data_dir, WeCom credentials and reply mode, PVE timeouts) are logged as
// needing a restart. On error the bot keeps running on the old config, and the
// config_reload_success metric says 0.
func (a *App) Reload(cfg *config.Config) error {
	o := a.obs
	o.reloadMu.Lock()
	defer o.reloadMu.Unlock()
	if cfg == nil {
		return a.reloadFailed(errors.New("app: reload: no config"))
	}
	old := o.cfg.Load()
	res, err := a.fleet.Reload(cfg.PVE)
	if err != nil {
		return a.reloadFailed(fmt.Errorf("app: reload: %w", err))
	}
	a.disp.SetConfig(cfg)
	if a.console != nil {
		a.console.SetUsers(ConsoleUsers(cfg))
	}
	if err := a.reloadPush(cfg); err != nil {
		// Users and clusters are already switched; push keeps its old rules.
		a.log.Error("config reloaded, but the push settings were refused; they stay as they were", zap.Error(err))
	}
	a.reloadWebhook(cfg)
	for _, name := range res.Removed {
		o.m.ForgetCluster(name)
	}
	for _, name := range append(append([]string(nil), res.Added...), res.Changed...) {
		o.m.PVEUp(name, false)
	}
	o.cfg.Store(cfg)
	now := o.now()
	o.mu.Lock()
	o.loadedAt, o.reloadErr = now, ""
	o.mu.Unlock()
	o.m.Reload(true, now)
	if needs := restartNeeded(old, cfg); len(needs) > 0 {
		a.log.Warn("config reloaded; these settings changed but need a restart to take effect", zap.Strings("needs_restart", needs))
	}
	a.log.Info("config reloaded", zap.String("file", cfg.Path), zap.Int("users", len(cfg.Users)),
		zap.Strings("clusters_added", res.Added), zap.Strings("clusters_removed", res.Removed), zap.Strings("clusters_changed", res.Changed))
	return nil
}

// ReloadFile loads and validates path and, when it is good, Reloads. When it is not,
// every problem is logged, the bot keeps its config, and the error lists the problems.
func (a *App) ReloadFile(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				a.log.Error("config reload refused: problem in the new file", zap.String("problem", p.Error()))
			}
		}
		return a.reloadFailed(fmt.Errorf("app: reload %s: %w", path, err))
	}
	return a.Reload(cfg)
}

func (a *App) reloadFailed(err error) error {
	o := a.obs
	o.mu.Lock()
	o.reloadErr = err.Error()
	o.mu.Unlock()
	o.m.Reload(false, o.now())
	a.log.Error("config reload refused; the bot keeps running on the previous config", zap.Error(err))
	return err
}

// restartNeeded lists the keys that differ between old and cfg but are read only at start.
func restartNeeded(old, cfg *config.Config) []string {
	if old == nil {
		return nil
	}
	checks := []struct {
		key  string
		a, b any
	}{
		{"server.listen", old.Server.Listen, cfg.Server.Listen},
		{"server.callback_path", old.Server.CallbackPath, cfg.Server.CallbackPath},
		{"server.admin_listen", old.Server.AdminListen, cfg.Server.AdminListen},
		{"server.console", old.Server.Console, cfg.Server.Console},
		{"data_dir", old.DataDir, cfg.DataDir},
		{"retention", old.Retention, cfg.Retention},
		{"wecom.corp_id", old.WeCom.CorpID, cfg.WeCom.CorpID},
		{"wecom.agent_id", old.WeCom.AgentID, cfg.WeCom.AgentID},
		{"wecom.secret", old.WeCom.Secret.Value(), cfg.WeCom.Secret.Value()},
		{"wecom.token", old.WeCom.Token.Value(), cfg.WeCom.Token.Value()},
		{"wecom.encoding_aes_key", old.WeCom.EncodingAESKey.Value(), cfg.WeCom.EncodingAESKey.Value()},
		{"wecom.api_base_url", old.WeCom.APIBaseURL, cfg.WeCom.APIBaseURL},
		{"wecom.max_clock_skew", old.WeCom.MaxClockSkew, cfg.WeCom.MaxClockSkew},
		{"wecom.smartbot", old.WeCom.SmartBot, cfg.WeCom.SmartBot},
		{"pve.timeout", old.PVE.Timeout, cfg.PVE.Timeout},
		{"pve.task_timeout", old.PVE.TaskTimeout, cfg.PVE.TaskTimeout},
		{"pve_webhook.path", old.PVEWebhook.Path, cfg.PVEWebhook.Path},
	}
	var out []string
	for _, c := range checks {
		if !reflect.DeepEqual(c.a, c.b) {
			out = append(out, c.key)
		}
	}
	return out
}

// WatchConfig reloads path whenever it changes, until ctx ends. It watches the file's
// directory, not the file: editors and Kubernetes ConfigMaps replace the file (rename
// or symlink swap), which ends a watch on the file itself. Bursts of events are
// debounced into one reload. A reload that fails keeps the old config (see ReloadFile).
func (a *App) WatchConfig(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("app: watch config: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("app: watch config: %w", err)
	}
	defer w.Close()
	dir := filepath.Dir(abs)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("app: watch config: %w", err)
	}
	last := fileStamp(abs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// A ConfigMap swaps a ..data symlink: any change in the directory may be ours.
			if filepath.Clean(ev.Name) == abs || filepath.Base(ev.Name) == "..data" {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			a.log.Warn("config watcher", zap.Error(err))
		case <-timer.C:
			stamp := fileStamp(abs)
			if stamp == "" {
				continue // removed for now; a rename is on its way
			}
			if stamp == last {
				continue
			}
			last = stamp
			a.log.Info("config file changed, reloading", zap.String("file", path))
			_ = a.ReloadFile(path)
		}
	}
}

// fileStamp identifies the file's content (a config file is small), so that touching
// it or a burst of events without a change does not reload.
func fileStamp(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
