package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// A valid AES key in the shape WeCom generates (43 characters, decodes to 32 bytes).
const fakeAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// minimal is the smallest valid file: only what WeCom needs.
const minimal = `wecom:
  corp_id: wx1234
  agent_id: 1000002
  secret: s3cret
  token: t
  encoding_aes_key: ` + fakeAESKey + `
`

// full is a valid file using every section; rows of the validation table
// change one thing in it.
const full = `server:
  listen: "0.0.0.0:9000"
  callback_path: /cb
data_dir: /var/lib/bot
language: en
retention: {audit: 30d}
wecom:
  corp_id: ww0123456789abcdef
  agent_id: 1000002
  secret: s3cret
  token: tok
  encoding_aes_key: ` + fakeAESKey + `
  api_base_url: http://127.0.0.1:3128/
  reply_mode: text
  max_clock_skew: 30s
pve:
  timeout: 5s
  task_timeout: 1m
  clusters:
    - name: home
      base_url: https://192.168.1.10:8006/
      endpoints: [https://192.168.1.11:8006]
      token_id: chatbot@pve!bot
      token_secret: 11111111-2222-3333-4444-555555555555
      fingerprint: ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89
      protected: ["100", "tag:infra", "home/name:router"]
    - name: lab-2
      base_url: https://10.0.0.2:8006
      web_url: https://pve-lab.example.lan/
      token_id: root@pam!x1
      token_secret: x
      insecure_skip_verify: true
users:
  - id: zhangsan
    role: admin
  - id: LiSi
    role: family
    scope: ["100-199", "lab-2/*"]
roles:
  family: {allow: [status, list, start]}
confirm: [stop, reset]
confirm_ttl: 2m
read_only: true
rate_limit: {per_user: 5/s}
`

// parseWith parses doc as "config.yaml" with the given environment.
func parseWith(t *testing.T, doc string, env map[string]string) (*Config, Problems) {
	t.Helper()
	c, err := parse([]byte(doc), "config.yaml", func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err == nil {
		return c, nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("parse error %T %v, want Problems", err, err)
	}
	if c != nil {
		t.Errorf("parse returned a Config with problems")
	}
	return nil, ps
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, ps := parseWith(t, doc, nil)
	if ps != nil {
		t.Fatalf("parse: unexpected problems:\n%v", ps)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", c.Server.Listen, "127.0.0.1:8080"},
		{"server.callback_path", c.Server.CallbackPath, "/wecom/callback"},
		{"data_dir", c.DataDir, "./data"},
		{"language", c.Language, "zh"},
		{"retention.audit", c.Retention.Audit.Std(), 180 * 24 * time.Hour},
		{"wecom.api_base_url", c.WeCom.APIBaseURL, "https://qyapi.weixin.qq.com"},
		{"wecom.reply_mode", c.WeCom.ReplyMode, "card"},
		{"wecom.max_clock_skew", c.WeCom.MaxClockSkew.Std(), 10 * time.Minute},
		{"wecom.MaxClockSkewSet", c.WeCom.MaxClockSkewSet, false},
		{"pve.timeout", c.PVE.Timeout.Std(), 15 * time.Second},
		{"pve.task_timeout", c.PVE.TaskTimeout.Std(), 5 * time.Minute},
		{"pve.clusters", len(c.PVE.Clusters), 0},
		{"confirm", c.Confirm, []string{"node_power", "shutdown", "reboot", "suspend", "stop", "reset", "migrate", "rollback", "delete_snapshot"}},
		{"confirm_ttl", c.ConfirmTTL.Std(), 5 * time.Minute},
		{"read_only", c.ReadOnly, false},
		{"rate_limit.per_user", c.RateLimit.PerUser, Rate{N: 20, Per: time.Minute}},
		{"Path", c.Path, "config.yaml"},
		{"corp_id wx accepted", c.WeCom.CorpID, "wx1234"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestFull(t *testing.T) {
	c := mustParse(t, full)
	home := c.PVE.Clusters[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"api_base_url trimmed", c.WeCom.APIBaseURL, "http://127.0.0.1:3128"},
		{"max_clock_skew", c.WeCom.MaxClockSkew.Std(), 30 * time.Second},
		{"MaxClockSkewSet", c.WeCom.MaxClockSkewSet, true},
		{"audit", c.Retention.Audit.Std(), 30 * 24 * time.Hour},
		{"base_url trimmed", home.BaseURL, "https://192.168.1.10:8006"},
		{"web_url defaults to base_url", home.WebURL, "https://192.168.1.10:8006"},
		{"web_url trimmed", c.PVE.Clusters[1].WebURL, "https://pve-lab.example.lan"},
		{"fingerprint normalised", []string(home.Fingerprint), []string{"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"}},
		{"protected", home.ProtectedSel.Strings(), []string{"100", "tag:infra", "home/name:router"}},
		{"token secret", home.TokenSecret.Value(), "11111111-2222-3333-4444-555555555555"},
		{"scope", c.Users[1].ScopeSel.Strings(), []string{"100-199", "lab-2/*"}},
		{"no scope is nil", c.Users[0].ScopeSel == nil, true},
		{"roles", c.Roles["family"].Allow, []string{"status", "list", "start"}},
		{"confirm", c.Confirm, []string{"stop", "reset"}},
		{"read_only", c.ReadOnly, true},
		{"rate", c.RateLimit.PerUser.String(), "5/s"},
		{"insecure", c.PVE.Clusters[1].InsecureSkipVerify, true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

// TestAdminListen: on by default on loopback, "" turns it off.
func TestAdminListen(t *testing.T) {
	if got, want := mustParse(t, minimal).Server.AdminListen, "127.0.0.1:8081"; got != want {
		t.Errorf("default admin_listen = %q, want %q", got, want)
	}
	c := mustParse(t, "server:\n  admin_listen: \"\"\n"+minimal)
	if got := c.Server.AdminListen; got != "" {
		t.Errorf(`admin_listen: "" gives %q, want "" (off)`, got)
	}
}

// TestMaxClockSkewLimitIsDedupeRetention: a skew the store cannot back with its dedupe
// records would let a captured callback be replayed.
func TestMaxClockSkewLimitIsDedupeRetention(t *testing.T) {
	if MaxClockSkewLimit != store.DefaultDedupeRetention {
		t.Errorf("MaxClockSkewLimit = %v, store keeps dedupe records %v: they must match", MaxClockSkewLimit, store.DefaultDedupeRetention)
	}
}

func TestMaxClockSkew(t *testing.T) {
	tests := []struct {
		val     string
		want    time.Duration
		wantSet bool
	}{
		{"", 10 * time.Minute, false}, // empty value keeps the default
		{"0", 0, true},
		{"0s", 0, true},
		{"90s", 90 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			c := mustParse(t, minimal+"  max_clock_skew: "+tt.val+"\n")
			if got := c.WeCom.MaxClockSkew.Std(); got != tt.want {
				t.Errorf("MaxClockSkew = %v, want %v", got, tt.want)
			}
			if got := c.WeCom.MaxClockSkewSet; got != tt.wantSet {
				t.Errorf("MaxClockSkewSet = %v, want %v", got, tt.wantSet)
			}
		})
	}
}

func TestEmptyConfirmMeansNone(t *testing.T) {
	c := mustParse(t, minimal+"confirm: []\nrate_limit: {per_user: 0}\n")
	if len(c.Confirm) != 0 {
		t.Errorf("confirm = %v, want empty", c.Confirm)
	}
	if !c.RateLimit.PerUser.Off() {
		t.Errorf("rate_limit.per_user = %v, want off", c.RateLimit.PerUser)
	}
}

func TestUnknownKeys(t *testing.T) {
	doc := `server:
  listn: ":8080"
wecom:
  corp_id: ww1
  agent_id: 1
  secret: s
  token: t
  encoding_aes_key: ` + fakeAESKey + `
  secrt: x
pve:
  clusters:
    - name: home
      base_url: https://h:8006
      token_id: a@pve!bot
      token_secret: s
      fingerprnt: x
users:
  - id: a
    role: viewer
    scop: [1]
roles:
  family: {allow: [list], deny: [stop]}
extra: 1
`
	_, ps := parseWith(t, doc, nil)
	want := []Problem{
		{File: "config.yaml", Key: "server.listn", Line: 2, Msg: "unknown key"},
		{File: "config.yaml", Key: "wecom.secrt", Line: 9, Msg: "unknown key"},
		{File: "config.yaml", Key: "pve.clusters[0].fingerprnt", Line: 16, Msg: "unknown key"},
		{File: "config.yaml", Key: "users[0].scop", Line: 20, Msg: "unknown key"},
		{File: "config.yaml", Key: "roles.family.deny", Line: 22, Msg: "unknown key"},
		{File: "config.yaml", Key: "extra", Line: 23, Msg: "unknown key"},
	}
	if !reflect.DeepEqual([]Problem(ps), want) {
		t.Errorf("problems:\n%v\nwant:\n%v", ps, Problems(want))
	}
	if got, want := ps[0].Error(), "config.yaml:2: server.listn: unknown key"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestBrokenFileListsEveryProblem is the `bot check` contract: every problem at
// once, one per line, each with its key and line.
func TestBrokenFileListsEveryProblem(t *testing.T) {
	doc := `server:
  listen: "8080"
language: fr
wecom:
  corp_id: ""
  agent_id: abc
  secret: s
  encoding_aes_key: tooshort
  reply_mode: cards
pve:
  timeout: 15
  clusters:
    - name: Home
      base_url: https://192.168.1.10:8006/api2/json
      token_id: root@pam
      token_secret: x
users:
  - id: a
    role: boss
confirm: [shutdown, list]
rate_limit: {per_user: lots}
`
	_, ps := parseWith(t, doc, nil)
	want := strings.Join([]string{
		`config.yaml:2: server.listen: must be host:port, like 127.0.0.1:8080 or :8080`,
		`config.yaml:3: language: must be zh or en`,
		`config.yaml:4: wecom.token: set wecom.token or wecom.token_file`,
		`config.yaml:5: wecom.corp_id: must not be empty (the 企业ID / CorpID, starting with ww or wx)`,
		`config.yaml:6: wecom.agent_id: must be a whole number`,
		`config.yaml:8: wecom.encoding_aes_key: must be 43 characters (got 8)`,
		`config.yaml:9: wecom.reply_mode: must be card or text`,
		`config.yaml:11: pve.timeout: must be a duration with a unit, like 15s, 10m or 180d`,
		`config.yaml:13: pve.clusters[0].name: must be lower-case letters, digits, - or _ (it is the prefix in home/101)`,
		`config.yaml:14: pve.clusters[0].base_url: must not end in /api2/json: the bot adds /api2/json`,
		`config.yaml:15: pve.clusters[0].token_id: must be an API token id user@realm!tokenname, like chatbot@pve!bot`,
		`config.yaml:19: users[0].role: unknown role "boss": use admin, operator, viewer or define it under roles`,
		`config.yaml:20: confirm[1]: "list" is not a power action; use node_power, start, shutdown, reboot, suspend, resume, stop, reset, migrate, snapshot, rollback, delete_snapshot, backup`,
		`config.yaml:21: rate_limit.per_user: must be like 20/m, 100/h, 5/s or 0 (off)`,
	}, "\n")
	if got := ps.Error(); got != want {
		t.Errorf("Error():\n%s\nwant:\n%s", got, want)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		wantLine  int
		wantMsg   string
	}{
		{"bad indent", "server:\n  listen: a\n bad: b\n", 3, "did not find expected key"},
		// yaml.v3 names the line where the enclosing block starts; the bot names the line
		// that is wrong.
		{"bad indent deep in a block", "wecom:\n  agent_id: 1\n\n  # the app\n  secret: x\n  token: y\n\n" +
			"  reply_mode: card\n corp_id: ww1\n  encoding_aes_key: z\n", 9, "did not find expected key (in the block that starts at line"},
		{"bad indent in a list item", "users:\n  - id: a\n    role: admin\n\n  # b\n  - id: b\n    scope: []\n   role: viewer\n", 8, "did not find expected"},
		{"duplicate key", minimal + "language: zh\nlanguage: en\n", 8, "language: given twice (first at line 7)"},
		{"duplicate role", minimal + "roles:\n  a: {allow: []}\n  a: {allow: [list]}\n", 9, "roles.a: given twice (first at line 8)"},
		{"two documents", minimal + "---\nlanguage: en\n", 7, "only one YAML document"},
		{"not a mapping", "- a\n- b\n", 1, "must be a mapping"},
		{"wrong shape", minimal + "users: {id: a}\n", 7, "users: must be a list"},
		{"scalar section", minimal + "server: yes\n", 7, "server: must be a mapping"},
		{"bool", minimal + "read_only: maybe\n", 7, "read_only: must be true or false"},
		{"merge key", minimal + "x: &x {listen: a}\nserver:\n  <<: *x\n", 7, "x: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, tt.doc, nil)
			if len(ps) == 0 {
				t.Fatal("no problems, want some")
			}
			if got := ps[0].Line; got != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", got, tt.wantLine, ps)
			}
			if !strings.Contains(ps.Error(), tt.wantMsg) {
				t.Errorf("problems %q, want them to contain %q", ps.Error(), tt.wantMsg)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	_, ps := parseWith(t, "", nil)
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	want := []string{"wecom.corp_id", "wecom.agent_id", "wecom.secret", "wecom.token", "wecom.encoding_aes_key"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("problem keys = %q, want %q", keys, want)
	}
}

func TestEnvExpansion(t *testing.T) {
	base := `wecom:
  corp_id: ${CORP}
  agent_id: ${AGENT}
  secret: "${WECOM_SECRET}"
  token: pre-${A}-${B}-post
  encoding_aes_key: ` + fakeAESKey + `
`
	env := map[string]string{"CORP": "ww42", "AGENT": "1000003", "WECOM_SECRET": "from-env", "A": "x", "B": "y"}
	c, ps := parseWith(t, base, env)
	if ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	if got, want := c.WeCom.CorpID, "ww42"; got != want {
		t.Errorf("corp_id = %q, want %q", got, want)
	}
	if got, want := c.WeCom.AgentID, 1000003; got != want {
		t.Errorf("agent_id = %d, want %d", got, want)
	}
	if got, want := c.WeCom.Secret.Value(), "from-env"; got != want {
		t.Errorf("secret = %q, want %q", got, want)
	}
	if got, want := c.WeCom.Token.Value(), "pre-x-y-post"; got != want {
		t.Errorf("token = %q, want %q", got, want)
	}

	errTests := []struct {
		name, line, want string
	}{
		{"unset", `language: ${LANG_UNSET}`, `config.yaml:7: language: environment variable LANG_UNSET is not set`},
		{"bad name", `language: ${1X}`, `config.yaml:7: language: ${1X}: not a valid environment variable name`},
		{"unterminated", `language: ${LANG`, `config.yaml:7: language: unterminated ${`},
		{"in a list", `confirm: ["${NOPE}"]`, `config.yaml:7: confirm[0]: environment variable NOPE is not set`},
		{"in a duration", "confirm_ttl: ${NOPE}", `config.yaml:7: confirm_ttl: environment variable NOPE is not set`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base+tt.line+"\n", env)
			if len(ps) != 1 {
				t.Fatalf("problems = %v, want exactly one", ps)
			}
			if got := ps.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("problem = %q, want prefix %q", got, tt.want)
			}
		})
	}

	t.Run("escape", func(t *testing.T) {
		c, ps := parseWith(t, strings.Replace(base, "pre-${A}", "pre-$${A}", 1), env)
		if ps != nil {
			t.Fatalf("problems: %v", ps)
		}
		if got, want := c.WeCom.Token.Value(), "pre-${A}-y-post"; got != want {
			t.Errorf("token = %q, want %q", got, want)
		}
	})
	t.Run("expanded value is not re-expanded", func(t *testing.T) {
		c, ps := parseWith(t, base, map[string]string{"CORP": "ww${AGENT}", "AGENT": "1", "WECOM_SECRET": "s", "A": "", "B": ""})
		if ps != nil {
			t.Fatalf("problems: %v", ps)
		}
		if got, want := c.WeCom.CorpID, "ww${AGENT}"; got != want {
			t.Errorf("corp_id = %q, want %q", got, want)
		}
	})
	t.Run("unset secret is reported once", func(t *testing.T) {
		delete := map[string]string{"CORP": "ww1", "AGENT": "1", "A": "", "B": ""}
		_, ps := parseWith(t, base, delete)
		if got, want := ps.Error(), "config.yaml:4: wecom.secret: environment variable WECOM_SECRET is not set"; got != want {
			t.Errorf("problems = %q, want %q", got, want)
		}
	})
}

func TestValidationRules(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string
		wantMsg string // substring; "" = valid
	}{
		{"full is valid", func(c *Config) {}, "", ""},
		{"listen without port", func(c *Config) { c.Server.Listen = "localhost" }, "server.listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Server.Listen = "localhost:http" }, "server.listen", "host:port"},
		{"listen port range", func(c *Config) { c.Server.Listen = ":70000" }, "server.listen", "host:port"},
		{"listen :0 ok", func(c *Config) { c.Server.Listen = "127.0.0.1:0" }, "", ""},
		{"listen ipv6 ok", func(c *Config) { c.Server.Listen = "[::1]:8080" }, "", ""},
		{"callback_path", func(c *Config) { c.Server.CallbackPath = "wecom" }, "server.callback_path", "must start with /"},
		{"data_dir", func(c *Config) { c.DataDir = " " }, "data_dir", "must not be empty"},
		{"language", func(c *Config) { c.Language = "ZH" }, "language", "must be zh or en"},
		{"retention zero", func(c *Config) { c.Retention.Audit = 0 }, "retention.audit", "positive"},
		{"corp_id", func(c *Config) { c.WeCom.CorpID = "" }, "wecom.corp_id", "must not be empty"},
		{"corp_id any length", func(c *Config) { c.WeCom.CorpID = "wx1" }, "", ""},
		{"agent_id zero", func(c *Config) { c.WeCom.AgentID = 0 }, "wecom.agent_id", "positive"},
		{"agent_id negative", func(c *Config) { c.WeCom.AgentID = -1 }, "wecom.agent_id", "positive"},
		{"secret empty", func(c *Config) { c.WeCom.Secret = "" }, "wecom.secret", "set wecom.secret or wecom.secret_file"},
		{"token empty", func(c *Config) { c.WeCom.Token = "" }, "wecom.token", "set wecom.token or wecom.token_file"},
		{"token short ok", func(c *Config) { c.WeCom.Token = "a" }, "", ""},
		{"aes key empty", func(c *Config) { c.WeCom.EncodingAESKey = "" }, "wecom.encoding_aes_key", "set wecom.encoding_aes_key or"},
		{"aes key 42", func(c *Config) { c.WeCom.EncodingAESKey = Secret(fakeAESKey[:42]) }, "wecom.encoding_aes_key", "must be 43 characters (got 42)"},
		{"aes key 44", func(c *Config) { c.WeCom.EncodingAESKey = fakeAESKey + "A" }, "wecom.encoding_aes_key", "must be 43 characters (got 44)"},
		{"aes key not base64", func(c *Config) { c.WeCom.EncodingAESKey = Secret(fakeAESKey[:42] + "!") }, "wecom.encoding_aes_key", "base64"},
		// The official WeCom sample key: its last character carries non-zero
		// trailing bits, which StrictEncoding would refuse.
		{"aes key official vector", func(c *Config) { c.WeCom.EncodingAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C" }, "", ""},
		{"aes key trailing bits", func(c *Config) { c.WeCom.EncodingAESKey = Secret(fakeAESKey[:42] + "H") }, "", ""},
		{"api_base_url relative", func(c *Config) { c.WeCom.APIBaseURL = "qyapi.weixin.qq.com" }, "wecom.api_base_url", "absolute http:// or https://"},
		{"api_base_url ftp", func(c *Config) { c.WeCom.APIBaseURL = "ftp://x" }, "wecom.api_base_url", "absolute http:// or https://"},
		{"api_base_url cgi-bin", func(c *Config) { c.WeCom.APIBaseURL = "https://qyapi.weixin.qq.com/cgi-bin/" }, "wecom.api_base_url", "must not end in /cgi-bin"},
		{"api_base_url query", func(c *Config) { c.WeCom.APIBaseURL = "https://x/?a=b" }, "wecom.api_base_url", "query"},
		{"api_base_url userinfo", func(c *Config) { c.WeCom.APIBaseURL = "https://u:p@x" }, "wecom.api_base_url", "user:password"},
		{"api_base_url http ok", func(c *Config) { c.WeCom.APIBaseURL = "http://proxy.lan:8080/wecom" }, "", ""},
		{"reply_mode", func(c *Config) { c.WeCom.ReplyMode = "markdown" }, "wecom.reply_mode", "card or text"},
		{"max_clock_skew negative", func(c *Config) { c.WeCom.MaxClockSkew = -1 }, "wecom.max_clock_skew", "negative"},
		{"max_clock_skew zero ok", func(c *Config) { c.WeCom.MaxClockSkew = 0 }, "", ""},
		{"max_clock_skew 48h ok", func(c *Config) { c.WeCom.MaxClockSkew = Duration(48 * time.Hour) }, "", ""},
		{"max_clock_skew over the dedupe retention", func(c *Config) { c.WeCom.MaxClockSkew = Duration(49 * time.Hour) }, "wecom.max_clock_skew", "at most 48h"},
		{"admin_listen off ok", func(c *Config) { c.Server.AdminListen = "" }, "", ""},
		{"admin_listen without port", func(c *Config) { c.Server.AdminListen = "localhost" }, "server.admin_listen", "host:port"},
		{"admin_listen same as listen", func(c *Config) { c.Server.AdminListen = c.Server.Listen }, "server.admin_listen", "must differ from server.listen"},
		{"console without admin_listen", func(c *Config) { c.Server.Console, c.Server.AdminListen = true, "" }, "server.console", "needs server.admin_listen"},
		{"console with admin_listen ok", func(c *Config) { c.Server.Console = true }, "", ""},
		{"pve.timeout", func(c *Config) { c.PVE.Timeout = 0 }, "pve.timeout", "positive"},
		{"pve.task_timeout", func(c *Config) { c.PVE.TaskTimeout = -1 }, "pve.task_timeout", "positive"},
		{"no clusters ok", func(c *Config) { c.PVE.Clusters = nil; c.Users[1].Scope = nil }, "", ""},
		{"cluster name empty", func(c *Config) { c.PVE.Clusters[0].Name = "" }, "pve.clusters[0].name", "must not be empty"},
		{"cluster name upper", func(c *Config) { c.PVE.Clusters[0].Name = "Home" }, "pve.clusters[0].name", "lower-case"},
		{"cluster name slash", func(c *Config) { c.PVE.Clusters[0].Name = "a/b" }, "pve.clusters[0].name", "lower-case"},
		{"cluster name duplicate", func(c *Config) { c.PVE.Clusters[1].Name = "home"; c.Users[1].Scope = nil }, "pve.clusters[1].name", `"home" is already used by pve.clusters[0]`},
		{"base_url empty", func(c *Config) { c.PVE.Clusters[0].BaseURL = "" }, "pve.clusters[0].base_url", "must not be empty"},
		{"base_url no scheme", func(c *Config) { c.PVE.Clusters[0].BaseURL = "192.168.1.10:8006" }, "pve.clusters[0].base_url", "absolute"},
		{"base_url api2/json", func(c *Config) { c.PVE.Clusters[0].BaseURL = "https://h:8006/api2/json/" }, "pve.clusters[0].base_url", "the bot adds /api2/json"},
		{"base_url http ok", func(c *Config) { c.PVE.Clusters[0].BaseURL = "http://h:8006" }, "", ""},
		{"endpoint bad", func(c *Config) { c.PVE.Clusters[0].Endpoints = []string{"https://ok:8006", "h2:8006"} }, "pve.clusters[0].endpoints[1]", "absolute"},
		{"endpoint api2", func(c *Config) { c.PVE.Clusters[0].Endpoints = []string{"https://h2:8006/api2/json"} }, "pve.clusters[0].endpoints[0]", "the bot adds /api2/json"},
		{"token_id empty", func(c *Config) { c.PVE.Clusters[0].TokenID = "" }, "pve.clusters[0].token_id", "must not be empty"},
		{"token_id user only", func(c *Config) { c.PVE.Clusters[0].TokenID = "root@pam" }, "pve.clusters[0].token_id", "user@realm!tokenname"},
		{"token_id bad tokenname", func(c *Config) { c.PVE.Clusters[0].TokenID = "a@pve!1bot" }, "pve.clusters[0].token_id", "user@realm!tokenname"},
		{"token_id one-char tokenname", func(c *Config) { c.PVE.Clusters[0].TokenID = "a@pve!b" }, "pve.clusters[0].token_id", "user@realm!tokenname"},
		{"token_id dotted ok", func(c *Config) { c.PVE.Clusters[0].TokenID = "chat.bot@pve!Bot-1.x_y" }, "", ""},
		{"token_secret empty", func(c *Config) { c.PVE.Clusters[0].TokenSecret = "" }, "pve.clusters[0].token_secret", "set pve.clusters[0].token_secret or pve.clusters[0].token_secret_file"},
		{"fingerprint and insecure", func(c *Config) { c.PVE.Clusters[0].InsecureSkipVerify = true }, "pve.clusters[0]", "at most one of fingerprint, ca_file and insecure_skip_verify"},
		{"insecure and fingerprint", func(c *Config) { c.PVE.Clusters[1].Fingerprint = c.PVE.Clusters[0].Fingerprint }, "pve.clusters[1]", "at most one"},
		{"fingerprint short", func(c *Config) { c.PVE.Clusters[0].Fingerprint = StringList{"AB:CD"} }, "pve.clusters[0].fingerprint", "32 bytes in hex"},
		{"fingerprint sha1", func(c *Config) {
			c.PVE.Clusters[0].Fingerprint = StringList{strings.Repeat("ab", 20)}
		}, "pve.clusters[0].fingerprint", "32 bytes in hex"},
		{"fingerprint not hex", func(c *Config) { c.PVE.Clusters[0].Fingerprint = StringList{strings.Repeat("zz", 32)} }, "pve.clusters[0].fingerprint", "32 bytes in hex"},
		{"fingerprint second of two", func(c *Config) {
			c.PVE.Clusters[0].Fingerprint = StringList{strings.Repeat("ab", 32), "x"}
		}, "pve.clusters[0].fingerprint[1]", "32 bytes in hex"},
		{"protected bad", func(c *Config) { c.PVE.Clusters[0].Protected = []string{"100", "foo:bar"} }, "pve.clusters[0].protected[1]", `selector "foo:bar": unknown form`},
		{"protected reversed", func(c *Config) { c.PVE.Clusters[0].Protected = []string{"200-100"} }, "pve.clusters[0].protected[0]", "reversed range"},
		{"protected other cluster", func(c *Config) { c.PVE.Clusters[0].Protected = []string{"lab-2/101"} }, "pve.clusters[0].protected[0]", `names cluster "lab-2"`},
		{"user id empty", func(c *Config) { c.Users[0].ID = "" }, "users[0].id", "must not be empty"},
		{"user id duplicate", func(c *Config) { c.Users[1].ID = "ZhangSan" }, "users[1].id", "already listed as users[0]"},
		{"user role empty", func(c *Config) { c.Users[0].Role = "" }, "users[0].role", "must not be empty"},
		{"user role unknown", func(c *Config) { c.Users[0].Role = "root" }, "users[0].role", `unknown role "root"`},
		{"user role builtin", func(c *Config) { c.Users[1].Role = "viewer" }, "", ""},
		{"user scope bad", func(c *Config) { c.Users[1].Scope = []string{"100-199", "home/"} }, "users[1].scope[1]", "nothing after the cluster"},
		{"user scope unknown cluster", func(c *Config) { c.Users[1].Scope = []string{"hme/*"} }, "users[1].scope[0]", `names cluster "hme", which is not in pve.clusters`},
		{"role unknown action", func(c *Config) { c.Roles["family"] = Role{Allow: []string{"list", "destroy"}} }, "roles.family.allow[1]", `unknown action "destroy"`},
		{"role overrides builtin", func(c *Config) { c.Roles["viewer"] = Role{Allow: []string{"list"}} }, "", ""},
		{"confirm not power", func(c *Config) { c.Confirm = []string{"stop", "audit"} }, "confirm[1]", `"audit" is not a power action`},
		{"confirm every power action", func(c *Config) { c.Confirm = slices.Clone(PowerActions) }, "", ""},
		{"confirm_ttl", func(c *Config) { c.ConfirmTTL = 0 }, "confirm_ttl", "positive"},
		{"web_url without scheme", func(c *Config) { c.PVE.Clusters[1].WebURL = "pve.lan:8006" }, "pve.clusters[1].web_url", "http"},
		{"web_url with fragment", func(c *Config) { c.PVE.Clusters[1].WebURL = "https://pve.lan/#x" }, "pve.clusters[1].web_url", "fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, full)
			tt.mutate(c)
			ps := c.Validate()
			if tt.wantMsg == "" {
				if len(ps) != 0 {
					t.Errorf("Validate() = %v, want no problems", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("Validate() = %v, want exactly one problem", ps)
			}
			if got := ps[0].Key; got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
			if !strings.Contains(ps[0].Msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", ps[0].Msg, tt.wantMsg)
			}
			if ps[0].Line == 0 {
				t.Errorf("line = 0, want the line of %s (or its parent)", tt.wantKey)
			}
		})
	}
}

func TestValidateByHand(t *testing.T) {
	c := Default()
	c.WeCom = WeCom{CorpID: "ww1", AgentID: 1, Secret: "s", Token: "t", EncodingAESKey: fakeAESKey,
		APIBaseURL: "https://qyapi.weixin.qq.com/", ReplyMode: "card"}
	c.Users = []User{{ID: "a", Role: "viewer", Scope: []string{"101"}}}
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("Validate() = %v, want none", ps)
	}
	if got, want := c.WeCom.APIBaseURL, "https://qyapi.weixin.qq.com"; got != want {
		t.Errorf("APIBaseURL = %q, want %q", got, want)
	}
	if got, want := c.Users[0].ScopeSel.Strings(), []string{"101"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ScopeSel = %q, want %q", got, want)
	}
	c.Language = "de"
	ps := c.Validate()
	if got, want := ps.Error(), "language: must be zh or en"; got != want {
		t.Errorf("by-hand problem = %q, want %q (no file, no line)", got, want)
	}
}

func TestFingerprintForms(t *testing.T) {
	want := "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	tests := []struct {
		in string
		ok bool
	}{
		{want, true},
		{strings.ToLower(want), true},
		{strings.ReplaceAll(want, ":", ""), true},
		{strings.ToLower(strings.ReplaceAll(want, ":", "")), true},
		{"  " + want + " ", true},
		{want[:len(want)-3], false},
		{want + ":00", false},
		{strings.ReplaceAll(want, ":", "-"), false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := NormalizeFingerprint(tt.in)
			if ok != tt.ok {
				t.Fatalf("NormalizeFingerprint(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if ok && got != want {
				t.Errorf("NormalizeFingerprint(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}

	lower := strings.ToLower(strings.ReplaceAll(want, ":", ""))
	doc := minimal + `pve:
  clusters:
    - name: home
      base_url: https://h:8006
      token_id: a@pve!bot
      token_secret: s
      fingerprint:
        - ` + lower + `
        - ` + want + `
        - nope
`
	_, ps := parseWith(t, doc, nil)
	if got, wantP := ps.Error(), "config.yaml:16: pve.clusters[0].fingerprint[2]: must be a SHA-256 fingerprint"; !strings.HasPrefix(got, wantP) {
		t.Errorf("problem = %q, want prefix %q", got, wantP)
	}
	c := mustParse(t, strings.Replace(doc, "        - nope\n", "", 1))
	if got := []string(c.PVE.Clusters[0].Fingerprint); !reflect.DeepEqual(got, []string{want, want}) {
		t.Errorf("fingerprints = %q, want both normalised", got)
	}
	c = mustParse(t, strings.Replace(doc, "fingerprint:\n        - "+lower+"\n        - "+want+"\n        - nope\n", `fingerprint: ""`+"\n", 1))
	if got := c.PVE.Clusters[0].Fingerprint; len(got) != 0 {
		t.Errorf("empty fingerprint = %q, want none", got)
	}
}

func TestBuiltinRoles(t *testing.T) {
	roles := BuiltinRoles()
	want := map[string][]string{
		"viewer":   {"status", "list", "node", "storage", "graph", "task", "snapshots", "backups"},
		"operator": {"status", "list", "node", "storage", "graph", "task", "start", "shutdown", "reboot", "suspend", "resume", "snapshots", "snapshot", "backups", "backup", "mute"},
		"admin":    Actions,
	}
	if !reflect.DeepEqual(roles, want) {
		t.Errorf("BuiltinRoles() = %v, want %v", roles, want)
	}
	roles["viewer"][0] = "changed"
	if BuiltinRoles()["viewer"][0] != "status" {
		t.Error("BuiltinRoles shares its slices between calls")
	}
	for _, a := range PowerActions {
		if !slices.Contains(Actions, a) {
			t.Errorf("power action %q is not in Actions", a)
		}
	}

	c := mustParse(t, full)
	tests := []struct {
		role string
		want []string
		ok   bool
	}{
		{"family", []string{"status", "list", "start"}, true},
		{"viewer", want["viewer"], true},
		{"nobody", nil, false},
	}
	for _, tt := range tests {
		got, ok := c.RoleAllows(tt.role)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("RoleAllows(%q) = %v, %v; want %v, %v", tt.role, got, ok, tt.want, tt.ok)
		}
	}
	if u, ok := c.UserByID(" lisi "); !ok || u.ID != "LiSi" {
		t.Errorf("UserByID(lisi) = %+v, %v; want LiSi", u, ok)
	}
	if _, ok := c.UserByID("nobody"); ok {
		t.Error("UserByID(nobody) found someone")
	}
}

func TestProblemFormat(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "c.yaml", Key: "a.b", Line: 3, Msg: "bad"}, "c.yaml:3: a.b: bad"},
		{Problem{File: "c.yaml", Key: "a.b", Msg: "bad"}, "c.yaml: a.b: bad"},
		{Problem{File: "c.yaml", Line: 2, Msg: "syntax"}, "c.yaml:2: syntax"},
		{Problem{Key: "a", Msg: "bad"}, "a: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
}
