package config

import (
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// Config is the whole admin config file. Its YAML keys are a documented contract
// (configs/config.example.yaml): extend them, never rename them.
type Config struct {
	Server    Server    `yaml:"server"`
	DataDir   string    `yaml:"data_dir"` // default ./data
	Language  string    `yaml:"language"` // zh (default) | en
	Retention Retention `yaml:"retention"`
	WeCom     WeCom     `yaml:"wecom"`
	PVE       PVE       `yaml:"pve"`

	Users      []User          `yaml:"users"`
	Roles      map[string]Role `yaml:"roles"`
	Confirm    []string        `yaml:"confirm"`     // default: shutdown, reboot, stop, reset, suspend
	ConfirmTTL Duration        `yaml:"confirm_ttl"` // default 5m
	ReadOnly   bool            `yaml:"read_only"`
	RateLimit  RateLimit       `yaml:"rate_limit"`

	// Pushes (push.go): scheduled reports and alerts.
	Timezone  string            `yaml:"timezone"` // default Asia/Shanghai
	Targets   map[string]Target `yaml:"targets"`
	Schedules []Schedule        `yaml:"schedules"`
	Alerts    Alerts            `yaml:"alerts"`

	// PVEWebhook receives PVE's own notifications (pvewebhook.go); off when absent.
	PVEWebhook PVEWebhook `yaml:"pve_webhook"`

	// Menu is the WeCom app's menu set by `bot menu sync` (ops.go); empty: DefaultMenu.
	Menu []MenuItem `yaml:"menu"`

	// Path is the file the config was loaded from (not a YAML key).
	Path string `yaml:"-"`

	// lines maps a key path ("users[2].role") to its line in the file, so that
	// Validate can point at it. Nil for a Config built by hand. A pointer, so
	// that printing a Config with %+v does not dump it.
	lines *lineIndex
}

type lineIndex struct{ m map[string]int }

// Server is the HTTP listeners: the public one WeCom calls and the operator's.
type Server struct {
	// Listen is the public listener: only the callback path, /healthz and /readyz.
	Listen       string `yaml:"listen"`        // default 127.0.0.1:8080
	CallbackPath string `yaml:"callback_path"` // default /wecom/callback
	// AdminListen is the operator's listener: /status, /metrics and, with Console, the
	// console. Never publish it: behind a TCP tunnel or a whole-site proxy every client
	// looks local. "" turns it off.
	AdminListen string `yaml:"admin_listen"` // default 127.0.0.1:8081
	// Console also serves the local chat console (`bot console`) at "/" of the admin
	// listener. Off by default: the console answers only requests from this machine
	// (loopback peer, loopback Host, no proxy headers), so it is for an operator on the
	// bot's host, never for the public side of a reverse proxy.
	Console bool `yaml:"console"`
}

// Retention says how long embedded records are kept.
type Retention struct {
	Audit Duration `yaml:"audit"` // default 180d
}

// WeCom is the self-built app. After Load each secret holds its value even when
// it came from its *_file twin (whose path Load makes relative to the config
// file's directory).
type WeCom struct {
	CorpID             string   `yaml:"corp_id"`
	AgentID            int      `yaml:"agent_id"`
	Secret             Secret   `yaml:"secret"`
	SecretFile         string   `yaml:"secret_file"`
	Token              Secret   `yaml:"token"`
	TokenFile          string   `yaml:"token_file"`
	EncodingAESKey     Secret   `yaml:"encoding_aes_key"`
	EncodingAESKeyFile string   `yaml:"encoding_aes_key_file"`
	APIBaseURL         string   `yaml:"api_base_url"` // default https://qyapi.weixin.qq.com, no /cgi-bin
	ReplyMode          string   `yaml:"reply_mode"`   // card (default) | text
	MaxClockSkew       Duration `yaml:"max_clock_skew"`
	// MaxClockSkewSet tells an explicit 0 (off) from an absent key (default 10m).
	MaxClockSkewSet bool `yaml:"-"`
	// SmartBot is the smart bot (智能机器人, API mode), beside the app or instead of it.
	SmartBot SmartBot `yaml:"smartbot"`
}

// AppConfigured reports whether any self-built app key is set: a bot may run with only
// a smart bot, and then the app's keys are not required.
func (w WeCom) AppConfigured() bool {
	return w.CorpID != "" || w.AgentID != 0 || w.Secret != "" || w.SecretFile != "" || w.Token != "" ||
		w.TokenFile != "" || w.EncodingAESKey != "" || w.EncodingAESKeyFile != ""
}

// SmartBot is a WeCom smart bot in API mode. In websocket mode (the default) the bot
// connects out to WeCom with BotID and Secret: no public URL. In webhook mode WeCom
// posts encrypted JSON to CallbackPath, with Token and EncodingAESKey.
type SmartBot struct {
	Mode   string `yaml:"mode"`   // websocket (default) | webhook
	BotID  string `yaml:"bot_id"` // 智能机器人 → API 模式: BotID
	Name   string `yaml:"name"`   // the bot's display name, removed as "@name" from texts (optional)
	Secret Secret `yaml:"secret"` // websocket mode
	// SecretFile is Secret's *_file twin.
	SecretFile         string `yaml:"secret_file"`
	WSURL              string `yaml:"ws_url"` // default wss://openws.work.weixin.qq.com
	Token              Secret `yaml:"token"`  // webhook mode
	TokenFile          string `yaml:"token_file"`
	EncodingAESKey     Secret `yaml:"encoding_aes_key"` // webhook mode
	EncodingAESKeyFile string `yaml:"encoding_aes_key_file"`
	CallbackPath       string `yaml:"callback_path"` // webhook mode, default /wecom/smartbot
}

// Configured reports whether a smart bot is set up.
func (s SmartBot) Configured() bool {
	return s.BotID != "" || s.Mode != "" || s.Name != "" || s.Secret != "" || s.SecretFile != "" || s.WSURL != "" ||
		s.Token != "" || s.TokenFile != "" || s.EncodingAESKey != "" || s.EncodingAESKeyFile != "" || s.CallbackPath != ""
}

// Webhook reports whether the smart bot runs in webhook mode.
func (s SmartBot) Webhook() bool { return s.Mode == "webhook" }

// PVE holds every cluster the bot manages.
type PVE struct {
	Timeout     Duration  `yaml:"timeout"`      // per request, default 15s
	TaskTimeout Duration  `yaml:"task_timeout"` // longest wait for a task, default 5m
	Clusters    []Cluster `yaml:"clusters"`
}

// Cluster is one PVE cluster (or single node) reached with one API token.
type Cluster struct {
	Name      string   `yaml:"name"`
	BaseURL   string   `yaml:"base_url"`  // https://host:8006, /api2/json is added by the bot
	Endpoints []string `yaml:"endpoints"` // more nodes, tried in order when base_url does not answer
	// WebURL is the PVE web UI address people open in a browser (links on cards); Load
	// sets it to BaseURL when empty.
	WebURL             string     `yaml:"web_url"`
	TokenID            string     `yaml:"token_id"` // user@realm!name
	TokenSecret        Secret     `yaml:"token_secret"`
	TokenSecretFile    string     `yaml:"token_secret_file"`
	Fingerprint        StringList `yaml:"fingerprint"` // SHA-256 of the leaf certificate(s); Load normalises to "AB:CD:..."
	CAFile             string     `yaml:"ca_file"`     // Load makes it relative to the config file's directory
	InsecureSkipVerify bool       `yaml:"insecure_skip_verify"`
	Protected          []string   `yaml:"protected"` // guest selectors that only admins may power-manage
	// BotGuest names the guest (VMID or name) the bot itself runs in, if it runs in this
	// cluster: a node reboot or shutdown of its node then warns and asks for the node's name.
	BotGuest string `yaml:"bot_guest"`

	// ProtectedSel is Protected parsed (filled by Load).
	ProtectedSel selector.List `yaml:"-"`
}

// User is one WeCom member allowed to use the bot.
type User struct {
	ID    string   `yaml:"id"` // WeCom UserID, matched case-insensitively
	Role  string   `yaml:"role"`
	Scope []string `yaml:"scope"` // guest selectors; empty = everything

	// ScopeSel is Scope parsed (filled by Load); nil means everything.
	ScopeSel selector.List `yaml:"-"`
}

// Role lists the actions (command names) a role allows.
type Role struct {
	Allow []string `yaml:"allow"`
}

// RateLimit limits commands per user, and the bot's own messages per member.
type RateLimit struct {
	PerUser Rate `yaml:"per_user"` // "20/m" (default); "0" turns it off
	// PerMember keeps the bot's app messages to one member under WeCom's limit, which
	// drops the excess silently: "30/m" (default); "0" turns it off (load tests).
	PerMember Rate `yaml:"per_member"`
}

// Rate is N events per Per ("20/m", "100/h", "5/s"). Zero N means unlimited.
type Rate struct {
	N   int
	Per time.Duration
}
