package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

func runBot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestCheckOnline(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(env *apptest.Env, cfg string) string
		wantCode int
		want     []string
	}{
		{"full token", nil, 0, []string{"✔ PVE home: reachable", "✔ PVE home: privileges for power", "✔ WeCom: access token obtained", "every online check passed"}},
		{"token lacks VM.PowerMgmt", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "Sys.Audit", "Datastore.Audit"}})
			return cfg
		}, 1, []string{"✘ PVE home: privileges for power: missing VM.PowerMgmt", "pveum role add ChatBot", "pveum acl modify / --tokens 'chatbot@pve!bot' --roles ChatBot", "✔ WeCom"}},
		{"token lacks the agent privilege", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"}})
			return cfg
		}, 0, []string{"! PVE home: optional privileges for addresses: missing VM.Monitor", `pveum role add ChatBotAgent --privs "VM.Monitor"`, "every online check passed"}},
		{"token lacks Pool.Audit, pool selectors configured", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit"}})
			return cfg
		}, 1, []string{"✘ PVE home: privileges for pools: missing Pool.Audit",
			"✘ PVE home: pool selectors the token cannot evaluate: users." + apptest.ScopedOp + ".scope: pool:media",
			`pveum role add ChatBot --privs "VM.Audit VM.PowerMgmt Sys.Audit Datastore.Audit Pool.Audit"`,
			"pveum acl modify / --users 'chatbot@pve' --roles ChatBot", "pveum acl modify / --tokens 'chatbot@pve!bot' --roles ChatBot"}},
		{"role on the user, none on its token", func(env *apptest.Env, cfg string) string {
			env.PVE.SetUserACL("chatbot@pve", map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"}})
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit"}})
			return cfg
		}, 1, []string{"✘ PVE home: privileges for power: missing VM.PowerMgmt", "but the token's own ACL does not",
			"pveum acl modify / --tokens 'chatbot@pve!bot' --roles ChatBot"}},
		{"role on the token, none on its user", func(env *apptest.Env, cfg string) string {
			env.PVE.SetUserACL("chatbot@pve", map[string][]string{})
			return cfg
		}, 1, []string{"✘ PVE home: privileges for power: missing VM.PowerMgmt", "the user chatbot@pve lacks",
			"pveum acl modify / --users 'chatbot@pve' --roles ChatBot"}},
		{"token lacks the backup privileges", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit", "VM.Monitor"}})
			return cfg
		}, 0, []string{"! PVE home: optional privileges for backups: missing VM.Backup", "! PVE home: optional privileges for backup storage: missing Datastore.AllocateSpace",
			`pveum role add ChatBotBackup --privs "VM.Backup"`, `pveum role add ChatBotBackupStorage --privs "Datastore.AllocateSpace"`, "every online check passed"}},
		{"webhook on, target unreadable", func(_ *apptest.Env, cfg string) string {
			return cfg + webhookBlock
		}, 0, []string{"✔ PVE home: privileges for backups", "✔ PVE home: privileges for backup storage",
			"! PVE home: cannot tell whether PVE's webhook target for /pve/webhook exists", "pvesh create /cluster/notifications/endpoints/webhook --name wecom-home-ops",
			"pvesh create /cluster/notifications/matchers --name wecom-home-ops --target wecom-home-ops"}},
		{"webhook on, no target", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit", "Mapping.Audit"}})
			return cfg + webhookBlock
		}, 1, []string{"✘ PVE home: no webhook target posts to /pve/webhook", "--url 'https://<the bot's public address>/pve/webhook'"}},
		{"webhook on, target there", func(env *apptest.Env, cfg string) string {
			env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit", "Mapping.Audit"}})
			env.PVE.AddWebhookTarget(pvetest.WebhookTarget{Name: "wecom-home-ops", URL: "https://bot.example.net/pve/webhook"})
			return cfg + webhookBlock
		}, 0, []string{"✔ PVE home: webhook target wecom-home-ops posts to https://bot.example.net/pve/webhook"}},
		{"wrong WeCom secret", func(_ *apptest.Env, cfg string) string {
			return strings.Replace(cfg, apptest.CorpSecret, "not-the-secret", 1)
		}, 1, []string{"✘ WeCom: access token", "errcode 40001", "wrong app secret"}},
		{"wrong fingerprint", func(_ *apptest.Env, cfg string) string {
			return strings.Replace(cfg, "fingerprint: ", "fingerprint: \"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\"\n      # was: ", 1)
		}, 1, []string{"✘ PVE home: certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := apptest.NewEnv(t)
			dir := t.TempDir()
			path := env.WriteConfig(t, dir, apptest.ConfigOptions{DataDir: filepath.Join(dir, "data")})
			if tt.edit != nil {
				raw, _ := os.ReadFile(path)
				if err := os.WriteFile(path, []byte(tt.edit(env, string(raw))), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errOut := runBot(t, "check", "-config", path, "--online", "-timeout", "5s")
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			env.CheckNoSecrets(t, "check output", out, errOut)
		})
	}
}

const webhookBlock = `
targets:
  ops: {users: [zhangsan]}
pve_webhook:
  path: /pve/webhook
  secret: "fake-pve-webhook-secret-0123456789"
  to: [ops]
`

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer ok.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer sick.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name, url string
		want      int
	}{
		{"healthy", ok.URL + "/healthz", 0},
		{"unhealthy", sick.URL + "/healthz", 1},
		{"not running", gone.URL + "/healthz", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, errOut := runBot(t, "healthcheck", "-url", tt.url); got != tt.want {
				t.Errorf("exit = %d, want %d (%s)", got, tt.want, errOut)
			}
		})
	}
}

// TestBackupWhileRunning copies the store of a running bot and starts a bot from the copy.
func TestBackupWhileRunning(t *testing.T) {
	env := apptest.NewEnv(t)
	dir := t.TempDir()
	path := env.WriteConfig(t, dir, apptest.ConfigOptions{DataDir: filepath.Join(dir, "data")})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	entry := store.AuditEntry{Time: time.Now(), User: apptest.Admin, Command: "start 101", Decision: "allowed", Cluster: "home", VMID: 101, Result: "ok"}
	if err := a.Store().Audit(ctx, entry); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "restore", store.FileName)
	code, out, errOut := runBot(t, "backup", "-config", path, "-o", backup)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code != 0 {
		t.Fatalf("backup exit = %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := runBot(t, "backup", "-config", path, "-o", backup); code != 1 {
		t.Errorf("a second backup over the same file: exit %d, want 1", code)
	}

	restored := env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: filepath.Dir(backup)})
	cfg2, err := config.Load(restored)
	if err != nil {
		t.Fatal(err)
	}
	b, err := app.New(cfg2, app.Options{})
	if err != nil {
		t.Fatalf("a bot does not start from the backup: %v", err)
	}
	got, err := b.Store().RecentAudit(context.Background(), 10)
	if err != nil || len(got) != 1 || got[0].Command != "start 101" {
		t.Errorf("audit in the restored store = %+v, %v; want the entry written before the backup", got, err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := b.Run(ctx2); err != nil {
		t.Errorf("Run on the restored store: %v", err)
	}
}

func TestMenuSync(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"default", "", `{"button":[{"type":"click","name":"概览","key":"status"},{"type":"click","name":"列表","key":"vm list"},{"type":"click","name":"帮助","key":"help"}]}`},
		{"configured", "menu:\n  - {name: 列表, key: vm list}\n  - name: 更多\n    sub_button: [{name: 任务, key: task}]\n",
			`{"button":[{"type":"click","name":"列表","key":"vm list"},{"name":"更多","sub_button":[{"type":"click","name":"任务","key":"task"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := apptest.NewEnv(t)
			dir := t.TempDir()
			path := env.WriteConfig(t, dir, apptest.ConfigOptions{DataDir: filepath.Join(dir, "data"), Extra: tt.extra})
			code, out, errOut := runBot(t, "menu", "sync", "-config", path)
			if code != 0 {
				t.Fatalf("exit = %d\n%s%s", code, out, errOut)
			}
			if got := string(env.WeCom.Menu()); got != tt.want {
				t.Errorf("menu sent = %s\nwant %s", got, tt.want)
			}
			env.CheckNoSecrets(t, "menu sync output", out, errOut)
		})
	}
}

// serve without a config file says which file it looked for and how to give one.
func TestServeWithoutConfigSaysWhatToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.yaml")
	code, _, errOut := runBot(t, "serve", "-config", missing)
	if code != 1 {
		t.Errorf("exit = %d, want 1", code)
	}
	for _, w := range []string{"no config file at " + missing, "-config", "configs/config.example.yaml", "bot demo"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "open: open") {
		t.Errorf("stderr doubles the cause:\n%s", errOut)
	}
}

// The release config and the script CI runs build the same static targets with the same
// flags, and the version flag names a variable that exists.
func TestReleaseScriptMatchesGoreleaser(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Main    string   `yaml:"main"`
			Env     []string `yaml:"env"`
			Flags   []string `yaml:"flags"`
			Tags    []string `yaml:"tags"`
			Ldflags []string `yaml:"ldflags"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Goarm   []string `yaml:"goarm"`
		} `yaml:"builds"`
		Checksum struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("builds = %d, want 1", len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if b.Main != "./cmd/bot" || !slices.Contains(b.Env, "CGO_ENABLED=0") || !slices.Equal(b.Goos, []string{"linux"}) ||
		!slices.Equal(b.Goarch, []string{"amd64", "arm64", "arm"}) || !slices.Equal(b.Goarm, []string{"7"}) || cfg.Checksum.Algorithm != "sha256" {
		t.Errorf(".goreleaser.yaml build = %+v, checksum %q; want static ./cmd/bot for linux amd64, arm64, armv7 with sha256", b, cfg.Checksum.Algorithm)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "deploy", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ld := strings.ReplaceAll(strings.Join(b.Ldflags, " "), "{{ .Version }}", "$version")
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "amd64:", "arm64:", "arm:7", "-trimpath", "-tags " + strings.Join(b.Tags, ","),
		`-ldflags "` + ld + `"`, "sha256sum", "./cmd/bot"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("deploy/release.sh lacks %q (keep it in step with .goreleaser.yaml)", want)
		}
	}
	if !strings.Contains(ld, "-X main.version=") || version == "" {
		t.Errorf("ldflags %q do not set main.version", ld)
	}
}
