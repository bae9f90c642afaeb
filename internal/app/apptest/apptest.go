// Package apptest starts whole bots for end-to-end tests: a fake WeCom
// (wecomtest), a fake PVE cluster (pvetest) and a config file that joins them, with
// distinctive secrets so that tests can prove none of them leaks.
package apptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// Distinctive secrets: no log line, error or reply may ever contain them.
const (
	CorpSecret    = "wecom-SECRET-7f3a9c1e-never-log-me"
	CallbackToken = "cbTOKEN9e2dNeverLog"
	// PVETokenSecret is the fake cluster's token secret.
	PVETokenSecret = pvetest.HomeLabTokenSecret
	// RobotKey is a group robot's webhook key, for tests that configure a robot target.
	RobotKey = "robotKEY-4b8e-never-log-me"
)

// AESKey is a 43-character EncodingAESKey (32 bytes once decoded).
var AESKey = strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("e2e-aes-key-0123456789abcdef-XYZ")), "=")

// Secrets lists every secret value a bot under test knows.
func Secrets() []string {
	return []string{CorpSecret, CallbackToken, AESKey, PVETokenSecret, RobotKey}
}

// Env is a fake WeCom and a fake PVE with the home-lab seed.
type Env struct {
	WeCom *wecomtest.Server
	PVE   *pvetest.Server
}

// NewEnv starts both fakes; they stop with the test. opts add to the fake WeCom's.
func NewEnv(t testing.TB, opts ...wecomtest.ServerOption) *Env {
	t.Helper()
	wc := wecomtest.NewServer(t, append([]wecomtest.ServerOption{wecomtest.WithCorp(wecomtest.FakeCorpID, CorpSecret, wecomtest.FakeAgentID)}, opts...)...)
	pv := pvetest.New(pvetest.Options{TLS: true, ErrorFormat: pvetest.Modern, ClusterName: "home"})
	pvetest.SeedHomeLab(pv)
	t.Cleanup(pv.Close)
	return &Env{WeCom: wc, PVE: pv}
}

// Sender returns a sender that posts callbacks to the bot at baseURL (http://host:port).
func (e *Env) Sender(baseURL string) *wecomtest.Sender {
	return &wecomtest.Sender{
		URL: baseURL + "/wecom/callback", Token: CallbackToken, EncodingAESKey: AESKey,
		CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID,
	}
}

// ConfigOptions shape the config file.
type ConfigOptions struct {
	DataDir string
	Listen  string // default 127.0.0.1:0
	// AdminListen is server.admin_listen: default 127.0.0.1:0 (a free port, never the
	// real default that parallel tests would fight over), "off" for none.
	AdminListen string
	ReplyMode   string // card (default) | text
	Language    string // zh (default) | en
	ReadOnly    bool
	RateLimit   string // default "0" (off)
	// Extra is appended verbatim at the end (more top-level keys).
	Extra string
	// Protected is the cluster's protected list (YAML flow sequence), default ["tag:infra"].
	Protected string
	// PVETimeout is pve.timeout (default 5s).
	PVETimeout string
	// Console sets server.console (serve also mounts the local console).
	Console bool
	// PerMember is rate_limit.per_member (default "30/m").
	PerMember string
	// Users, when set, replaces the seeded users with these, all viewers (load tests).
	Users []string
	// SmartBot is placed under wecom: as is ("  smartbot:\n    bot_id: ..."); NoApp
	// leaves the self-built app's keys out (a bot with a smart bot alone).
	SmartBot string
	NoApp    bool
}

// Users of the seeded config: an admin, an operator without a scope, an operator with a
// scope (pool media and tag lab), a viewer, and a user of the custom role "family".
const (
	Admin         = "zhangsan"
	Operator      = "zhaoliu"
	ScopedOp      = "lisi"
	Viewer        = "wangwu"
	FamilyMember  = "qianqi"
	ScopedOpScope = `["pool:media", "tag:lab"]`
)

// Config returns the YAML of a config joining the fakes.
func (e *Env) Config(o ConfigOptions) string {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	switch o.AdminListen {
	case "":
		o.AdminListen = "127.0.0.1:0"
	case "off":
		o.AdminListen = ""
	}
	if o.ReplyMode == "" {
		o.ReplyMode = "card"
	}
	if o.Language == "" {
		o.Language = "zh"
	}
	if o.RateLimit == "" {
		o.RateLimit = "0"
	}
	if o.PerMember == "" {
		o.PerMember = "30/m"
	}
	users := fmt.Sprintf(`users:
  - id: %s
    role: admin
  - id: %s
    role: operator
  - id: %s
    role: operator
    scope: %s
  - id: %s
    role: viewer
  - id: %s
    role: family
`, Admin, Operator, ScopedOp, ScopedOpScope, Viewer, FamilyMember)
	if o.Users != nil {
		var b strings.Builder
		b.WriteString("users:\n")
		for _, u := range o.Users {
			fmt.Fprintf(&b, "  - { id: %s, role: viewer }\n", u)
		}
		users = b.String()
	}
	if o.PVETimeout == "" {
		o.PVETimeout = "5s"
	}
	if o.Protected == "" {
		o.Protected = `["tag:infra"]`
	}
	doc := fmt.Sprintf(`server:
  listen: %q
  admin_listen: %q
  console: %v
data_dir: %q
language: %s
wecom:
  corp_id: %q
  agent_id: %d
  secret: %q
  token: %q
  encoding_aes_key: %q
  api_base_url: %q
  reply_mode: %s
pve:
  timeout: %s
  task_timeout: 20s
  clusters:
    - name: home
      base_url: %q
      token_id: %q
      token_secret: %q
      fingerprint: %q
      protected: %s
%sroles:
  family: { allow: [status, list, start, shutdown] }
confirm_ttl: 5m
read_only: %v
rate_limit: { per_user: %q, per_member: %q }
%s`, o.Listen, o.AdminListen, o.Console, o.DataDir, o.Language,
		wecomtest.FakeCorpID, wecomtest.FakeAgentID, CorpSecret, CallbackToken, AESKey, e.WeCom.URL(), o.ReplyMode,
		o.PVETimeout, e.PVE.URL(), pvetest.HomeLabTokenID, PVETokenSecret, e.PVE.Fingerprint(), o.Protected,
		users, o.ReadOnly, o.RateLimit, o.PerMember, o.Extra)
	if o.NoApp {
		app := fmt.Sprintf("  corp_id: %q\n  agent_id: %d\n  secret: %q\n  token: %q\n  encoding_aes_key: %q\n",
			wecomtest.FakeCorpID, wecomtest.FakeAgentID, CorpSecret, CallbackToken, AESKey)
		doc = strings.Replace(doc, app, "", 1)
	}
	return strings.Replace(doc, "\nwecom:\n", "\nwecom:\n"+o.SmartBot, 1)
}

// WriteConfig writes the config into dir/config.yaml and returns its path.
func (e *Env) WriteConfig(t testing.TB, dir string, o ConfigOptions) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(e.Config(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// LogBuffer collects log output safely from many goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CheckNoSecrets fails the test if any secret, or any access token the fake WeCom
// issued, appears in any of texts.
func (e *Env) CheckNoSecrets(t testing.TB, what string, texts ...string) {
	t.Helper()
	secrets := e.secrets()
	for _, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains a secret (%.6s…)", what, s)
			}
		}
	}
}

// secrets is Secrets plus every access token the fake WeCom issued (read from the
// calls that used one).
func (e *Env) secrets() []string {
	secrets := Secrets()
	seen := map[string]bool{}
	for _, c := range e.WeCom.Calls() {
		if tok := c.Query.Get("access_token"); tok != "" && !seen[tok] {
			seen[tok] = true
			secrets = append(secrets, tok)
		}
	}
	return secrets
}

// CheckNoSecretsInDir fails the test if any file under dir (a data_dir: the SQLite
// database, its WAL and journal, the lock file) holds a secret or an access token in its
// raw bytes. Files that vanish while it walks (a WAL checkpointed away) are skipped.
func (e *Env) CheckNoSecretsInDir(t testing.TB, dir string) {
	t.Helper()
	secrets := e.secrets()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s contains a secret (%.6s…)", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("walking %s: %v", dir, err)
	}
}

// SentTexts returns the text of everything the fake WeCom delivered: contents and card
// titles, fields and buttons.
func (e *Env) SentTexts() []string {
	var out []string
	for _, m := range e.WeCom.Sent() {
		out = append(out, MessageText(m))
	}
	for _, u := range e.WeCom.Updates() {
		s := u.ReplaceName
		if u.Card != nil {
			s += " " + string(u.Card.Raw)
		}
		out = append(out, s)
	}
	return out
}

// MessageText flattens one sent message to searchable text.
func MessageText(m wecomtest.SentMessage) string {
	if m.Card == nil {
		return m.Content
	}
	return string(m.Card.Raw)
}
