package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezone: and schedules[].timezone must work on hosts without zoneinfo (scratch images)

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// DefaultTimezone is the zone schedules, quiet hours and times in messages use when the
// config names none: the bot's users are mostly in China.
const DefaultTimezone = "Asia/Shanghai"

// Report kinds a schedule may send.
const (
	ReportSummary = "summary"
	ReportGuests  = "guests"
	ReportStorage = "storage"
	ReportBackups = "backups"
)

// Alert rule names, as written under alerts.rules and in quiet_hours.except.
const (
	RuleNodeOffline    = "node_offline"
	RuleGuestStopped   = "guest_stopped"
	RuleStorageUsage   = "storage_usage"
	RuleNodeMemory     = "node_memory"
	RuleNodeCPU        = "node_cpu"
	RulePVEUnreachable = "pve_unreachable"
	RuleBackupFailed   = "backup_failed"
	RuleBackupMissing  = "backup_missing"
)

// RuleNames lists every alert rule in a stable order.
var RuleNames = []string{RuleNodeOffline, RuleGuestStopped, RuleStorageUsage, RuleNodeMemory, RuleNodeCPU, RulePVEUnreachable, RuleBackupFailed, RuleBackupMissing}

// Target is one place pushes go to, named under targets. Exactly one of AppChat,
// WebhookKey (or its file twin) and Users is set.
type Target struct {
	AppChat        string   `yaml:"appchat"`         // an app-owned group chat's chatid
	AppChatMembers []string `yaml:"appchat_members"` // to create it on start (2 or more)
	WebhookKey     Secret   `yaml:"webhook_key"`     // a group robot's key
	WebhookKeyFile string   `yaml:"webhook_key_file"`
	Users          []string `yaml:"users"` // direct app messages
	// SmartbotChat is a group chat's chatid and SmartbotUser a member's UserID, reached
	// through the smart bot's long connection (no app needed). The conversation must have
	// talked to the bot once; `whoami` in a group shows its chat id.
	SmartbotChat string `yaml:"smartbot_chat"`
	SmartbotUser string `yaml:"smartbot_user"`

	keyFromFile bool // WebhookKey was read from WebhookKeyFile (so Validate may run again)
}

// Kind is "appchat", "robot", "users", "smartbot_chat" or "smartbot_user" ("" when the
// target is not valid).
func (t Target) Kind() string {
	switch {
	case t.SmartbotChat != "":
		return "smartbot_chat"
	case t.SmartbotUser != "":
		return "smartbot_user"
	case t.AppChat != "":
		return "appchat"
	case t.WebhookKey != "":
		return "robot"
	case len(t.Users) > 0:
		return "users"
	}
	return ""
}

// Schedule is one scheduled report.
type Schedule struct {
	Name     string   `yaml:"name"`
	Cron     string   `yaml:"cron"`     // 5-field cron, or @every 30m, @daily, @hourly...
	Timezone string   `yaml:"timezone"` // default: the top-level timezone
	Report   string   `yaml:"report"`   // summary (default) | guests | storage | backups
	To       []string `yaml:"to"`       // target names
	// Chart adds a picture of the cluster's CPU and memory over the last day, sent before
	// the text (summary only).
	Chart bool `yaml:"chart"`

	// Spec and Location are Cron and Timezone parsed (filled by Validate).
	Spec     cron.Schedule  `yaml:"-"`
	Location *time.Location `yaml:"-"`
}

// Alerts configures the alert engine.
type Alerts struct {
	Interval   Duration   `yaml:"interval"` // how often PVE is checked, default 1m
	To         []string   `yaml:"to"`       // target names; empty: no alert is pushed
	Rules      Rules      `yaml:"rules"`
	QuietHours QuietHours `yaml:"quiet_hours"`
	Repeat     Duration   `yaml:"repeat"` // remind while firing; 0 = never; default 6h
}

// Rules holds every rule by name. A struct (not a map) so that `node_cpu: {enabled:
// false}` keeps the other defaults of node_cpu and of every other rule.
type Rules struct {
	NodeOffline    Rule `yaml:"node_offline"`
	GuestStopped   Rule `yaml:"guest_stopped"`
	StorageUsage   Rule `yaml:"storage_usage"`
	NodeMemory     Rule `yaml:"node_memory"`
	NodeCPU        Rule `yaml:"node_cpu"`
	PVEUnreachable Rule `yaml:"pve_unreachable"`
	BackupFailed   Rule `yaml:"backup_failed"`
	BackupMissing  Rule `yaml:"backup_missing"`
}

// ByName returns the rule called name (one of RuleNames).
func (r *Rules) ByName(name string) (*Rule, bool) {
	switch name {
	case RuleNodeOffline:
		return &r.NodeOffline, true
	case RuleGuestStopped:
		return &r.GuestStopped, true
	case RuleStorageUsage:
		return &r.StorageUsage, true
	case RuleNodeMemory:
		return &r.NodeMemory, true
	case RuleNodeCPU:
		return &r.NodeCPU, true
	case RulePVEUnreachable:
		return &r.PVEUnreachable, true
	case RuleBackupFailed:
		return &r.BackupFailed, true
	case RuleBackupMissing:
		return &r.BackupMissing, true
	}
	return nil, false
}

// Rule is one alert rule. Above and ClearBelow apply to the threshold rules
// (storage_usage, node_memory, node_cpu), Guests to guest_stopped and backup_missing,
// OlderThan to backup_missing.
type Rule struct {
	Enabled    bool     `yaml:"enabled"`
	For        Duration `yaml:"for"`
	Above      Percent  `yaml:"above"`
	ClearBelow Percent  `yaml:"clear_below"`
	Guests     []string `yaml:"guests"`
	OlderThan  Duration `yaml:"older_than"`

	// GuestsSel is Guests parsed (filled by Validate).
	GuestsSel selector.List `yaml:"-"`
}

// QuietHours hold back alerts between From and To (local "HH:MM", may wrap midnight),
// except for the rules in Except.
type QuietHours struct {
	From   string   `yaml:"from"`
	To     string   `yaml:"to"`
	Except []string `yaml:"except"`

	// FromMin and ToMin are From and To in minutes after midnight (filled by Validate).
	FromMin int `yaml:"-"`
	ToMin   int `yaml:"-"`
}

// Active reports whether quiet hours are set (from and to given and different).
func (q QuietHours) Active() bool { return q.From != "" && q.To != "" && q.FromMin != q.ToMin }

// Contains reports whether the local time t falls in the quiet hours.
func (q QuietHours) Contains(t time.Time) bool {
	if !q.Active() {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if q.FromMin < q.ToMin {
		return m >= q.FromMin && m < q.ToMin
	}
	return m >= q.FromMin || m < q.ToMin
}

// Percent is a share written "85%" (or a bare 85), held as 0.85.
type Percent float64

// UnmarshalYAML reads "85%", "85" or "85.5%".
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	const hint = `must be a percentage like "85%"`
	if n.Kind != yaml.ScalarNode {
		return errors.New(hint)
	}
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(n.Value), "%"))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 {
		return errors.New(hint + " (0 to 100)")
	}
	*p = Percent(f / 100)
	return nil
}

// String writes "85%".
func (p Percent) String() string { return strconv.FormatFloat(float64(p)*100, 'f', -1, 64) + "%" }

// MarshalYAML writes String.
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// defaultAlerts is the alerts section as the contract documents it.
func defaultAlerts() Alerts {
	return Alerts{
		Interval: Duration(time.Minute),
		Rules: Rules{
			NodeOffline:    Rule{Enabled: true, For: Duration(2 * time.Minute)},
			GuestStopped:   Rule{Enabled: true, For: Duration(2 * time.Minute)},
			StorageUsage:   Rule{Enabled: true, For: Duration(10 * time.Minute), Above: 0.85, ClearBelow: 0.80},
			NodeMemory:     Rule{Enabled: true, For: Duration(10 * time.Minute), Above: 0.90, ClearBelow: 0.85},
			NodeCPU:        Rule{Enabled: true, For: Duration(15 * time.Minute), Above: 0.90, ClearBelow: 0.80},
			PVEUnreachable: Rule{Enabled: true, For: Duration(3 * time.Minute)},
			BackupFailed:   Rule{Enabled: true},
			BackupMissing:  Rule{Enabled: true, OlderThan: Duration(26 * time.Hour)},
		},
		Repeat: Duration(6 * time.Hour),
	}
}

var (
	targetName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// chatID is WeCom's rule for an app group chat's id (appchat/create answers 86001
	// to anything else): at most 32 characters, letters and digits only.
	chatID    = regexp.MustCompile(`^[0-9A-Za-z]{1,32}$`)
	clockTime = regexp.MustCompile(`^([01]?\d|2[0-3]):([0-5]\d)$`)
)

// Location is the top-level timezone, loaded (UTC when it is not valid; Validate reports it).
func (c *Config) Location() *time.Location {
	tz := c.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.UTC
}

// push checks timezone, targets, schedules and alerts.
func (v *validator) push() {
	c := v.c
	if _, err := time.LoadLocation(c.Timezone); err != nil || strings.TrimSpace(c.Timezone) == "" {
		v.add("timezone", "unknown time zone %q: use an IANA name like Asia/Shanghai or UTC", c.Timezone)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Targets)) {
		t := c.Targets[name]
		v.target(name, &t)
		c.Targets[name] = t
	}
	names := map[string]string{}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		key := fmt.Sprintf("schedules[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			v.add(key+".name", "must not be empty (it names the schedule in logs)")
		default:
			if prev, dup := names[s.Name]; dup {
				v.add(key+".name", "%q is already used by %s", s.Name, prev)
			}
			names[s.Name] = key
		}
		s.Spec = nil
		if strings.TrimSpace(s.Cron) == "" {
			v.add(key+".cron", `must not be empty: 5-field cron like "5 9 * * *" or @every 30m, @daily, @hourly`)
		} else if spec, err := cron.ParseStandard(s.Cron); err != nil {
			v.add(key+".cron", `%q: %v (5 fields: minute hour day-of-month month day-of-week, or @every 30m, @daily, @hourly)`, s.Cron, err)
		} else {
			s.Spec = spec
		}
		tz := s.Timezone
		if tz == "" {
			tz = c.Timezone
		}
		s.Location = nil
		if loc, err := time.LoadLocation(tz); err == nil && tz != "" {
			s.Location = loc
		} else if s.Timezone != "" {
			v.add(key+".timezone", "unknown time zone %q: use an IANA name like Asia/Shanghai or UTC", s.Timezone)
		}
		if s.Report == "" {
			s.Report = ReportSummary
		}
		if s.Report != ReportSummary && s.Report != ReportGuests && s.Report != ReportStorage && s.Report != ReportBackups {
			v.add(key+".report", "must be summary, guests, storage or backups")
		}
		if s.Chart && s.Report != ReportSummary {
			v.add(key+".chart", "only the summary report has a chart")
		}
		if len(s.To) == 0 {
			v.add(key+".to", "must name at least one target (a key under targets)")
		}
		v.targetRefs(key+".to", s.To)
	}
	v.alerts()
}

func (v *validator) target(name string, t *Target) {
	key := "targets." + name
	if !targetName.MatchString(name) {
		v.add(key, "a target name may only hold letters, digits, _ . and -")
	}
	if t.keyFromFile {
		t.WebhookKey = ""
	}
	if f := strings.TrimSpace(t.WebhookKeyFile); f != "" {
		if t.WebhookKey != "" {
			v.add(key+".webhook_key", "give %s.webhook_key or %s.webhook_key_file, not both", key, key)
		} else {
			path := f
			if !filepath.IsAbs(path) && v.c.Path != "" {
				path = filepath.Join(filepath.Dir(v.c.Path), path)
			}
			data, err := readSmall(path, maxSecretBytes)
			switch {
			case err != nil:
				v.add(key+".webhook_key_file", "%v", err)
			case strings.TrimSpace(string(data)) == "":
				v.add(key+".webhook_key_file", "file %s is empty", path)
			default:
				t.WebhookKey = Secret(strings.TrimSpace(string(data)))
				t.keyFromFile = true
			}
		}
	}
	n := 0
	if t.AppChat != "" {
		n++
	}
	if t.WebhookKey != "" || t.WebhookKeyFile != "" {
		n++
	}
	if len(t.Users) > 0 {
		n++
	}
	if t.SmartbotChat != "" || t.SmartbotUser != "" {
		n++
		sb := v.c.WeCom.SmartBot
		if !sb.Configured() || sb.Webhook() {
			v.add(key, "a smartbot_chat or smartbot_user target needs wecom.smartbot in websocket mode (webhook mode cannot send unasked)")
		}
		if t.SmartbotChat != "" && t.SmartbotUser != "" {
			n++
		}
	}
	if (t.AppChat != "" || len(t.Users) > 0 || t.WebhookKey != "" || t.WebhookKeyFile != "") && !v.c.WeCom.AppConfigured() {
		v.add(key, "appchat, webhook_key and users targets send through the self-built app's client, which is not configured: use smartbot_chat or smartbot_user")
	}
	switch {
	case n == 0:
		v.add(key, "set one of appchat, webhook_key (or webhook_key_file), users, smartbot_chat and smartbot_user")
	case n > 1:
		v.add(key, "set only one of appchat, webhook_key (or webhook_key_file), users, smartbot_chat and smartbot_user")
	}
	if len(t.AppChatMembers) > 0 {
		if t.AppChat == "" {
			v.add(key+".appchat_members", "only applies to an appchat target")
		} else if len(t.AppChatMembers) < 2 || len(t.AppChatMembers) > 2000 {
			v.add(key+".appchat_members", "WeCom needs at least 2 and at most 2000 members to create a group chat")
		}
	}
	if t.AppChat != "" && !chatID.MatchString(t.AppChat) {
		v.add(key+".appchat", "%q is not a WeCom chatid: at most 32 characters, letters and digits only (0-9, a-z, A-Z)", t.AppChat)
	}
	for i, u := range t.Users {
		if strings.TrimSpace(u) == "" {
			v.add(fmt.Sprintf("%s.users[%d]", key, i), "must not be empty (a WeCom UserID)")
		}
	}
}

// targetRefs reports names that are not under targets.
func (v *validator) targetRefs(key string, names []string) {
	for i, n := range names {
		if _, ok := v.c.Targets[n]; !ok {
			known := slices.Sorted(maps.Keys(v.c.Targets))
			hint := "none is defined"
			if len(known) > 0 {
				hint = "known: " + strings.Join(known, ", ")
			}
			v.add(fmt.Sprintf("%s[%d]", key, i), "unknown target %q (%s)", n, hint)
		}
	}
}

func (v *validator) alerts() {
	a := &v.c.Alerts
	v.positive("alerts.interval", a.Interval)
	if a.Repeat < 0 {
		v.add("alerts.repeat", "must not be negative (0 = never remind)")
	}
	v.targetRefs("alerts.to", a.To)
	for _, name := range RuleNames {
		r, _ := a.Rules.ByName(name)
		key := "alerts.rules." + name
		if r.For < 0 {
			v.add(key+".for", "must not be negative")
		}
		threshold := name == RuleStorageUsage || name == RuleNodeMemory || name == RuleNodeCPU
		if threshold {
			switch {
			case r.Above <= 0:
				v.add(key+".above", `must be a percentage above 0, like "85%%"`)
			case r.ClearBelow > r.Above:
				v.add(key+".clear_below", "must not be above %s (above)", r.Above)
			}
		} else if r.Above != 0 || r.ClearBelow != 0 {
			v.add(key, "above and clear_below only apply to storage_usage, node_memory and node_cpu")
		}
		if name != RuleGuestStopped && name != RuleBackupMissing && len(r.Guests) > 0 {
			v.add(key+".guests", "only applies to guest_stopped and backup_missing")
		}
		if name == RuleBackupMissing && r.OlderThan <= 0 {
			v.add(key+".older_than", `must be a positive duration like "26h"`)
		} else if name != RuleBackupMissing && r.OlderThan != 0 {
			v.add(key+".older_than", "only applies to backup_missing")
		}
		r.GuestsSel = nil
		for j, e := range r.Guests {
			s, err := selector.Parse(e)
			if err != nil {
				v.add(fmt.Sprintf("%s.guests[%d]", key, j), "%v", err)
				continue
			}
			r.GuestsSel = append(r.GuestsSel, s)
		}
	}
	q := &a.QuietHours
	if q.From != "" || q.To != "" {
		for _, p := range []struct {
			key string
			val string
			out *int
		}{{"alerts.quiet_hours.from", q.From, &q.FromMin}, {"alerts.quiet_hours.to", q.To, &q.ToMin}} {
			m := clockTime.FindStringSubmatch(strings.TrimSpace(p.val))
			if m == nil {
				v.add(p.key, `must be a time of day like "23:00" (both from and to)`)
				continue
			}
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			*p.out = h*60 + mi
		}
	}
	for i, e := range q.Except {
		if !slices.Contains(RuleNames, e) {
			v.add(fmt.Sprintf("alerts.quiet_hours.except[%d]", i), "unknown rule %q; use one of %s", e, strings.Join(RuleNames, ", "))
		}
	}
}
