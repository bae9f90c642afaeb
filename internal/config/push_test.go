package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pushDoc = `timezone: Asia/Shanghai
targets:
  ops-group:
    appchat: "opsroom"
    appchat_members: [zhangsan, lisi]
  robot:
    webhook_key: "${WECOM_ROBOT_KEY}"
  admins:
    users: [zhangsan]
schedules:
  - name: morning
    cron: "5 9 * * *"
    timezone: America/New_York
    report: summary
    to: [ops-group, robot]
  - name: often
    cron: "@every 30m"
    to: [admins]
alerts:
  interval: 1m
  to: [ops-group]
  rules:
    node_cpu: { enabled: false }
    guest_stopped:  { guests: ["101", "tag:critical"], for: 5m }
    storage_usage:  { above: 90%, clear_below: 85% }
  quiet_hours: { from: "23:00", to: "07:30", except: [node_offline, pve_unreachable] }
  repeat: 0
`

func TestPushConfig(t *testing.T) {
	c, ps := parseWith(t, minimal+pushDoc, map[string]string{"WECOM_ROBOT_KEY": "robot-key-1"})
	if ps != nil {
		t.Fatalf("problems:\n%v", ps)
	}
	if got := c.Targets["robot"].WebhookKey.Value(); got != "robot-key-1" {
		t.Errorf("robot key = %q", got)
	}
	for name, want := range map[string]string{"ops-group": "appchat", "robot": "robot", "admins": "users"} {
		if got := c.Targets[name].Kind(); got != want {
			t.Errorf("targets.%s kind = %q, want %q", name, got, want)
		}
	}
	s := c.Schedules[0]
	if s.Spec == nil || s.Location == nil || s.Location.String() != "America/New_York" {
		t.Fatalf("schedule 0 not parsed: %+v", s)
	}
	if got := c.Schedules[1]; got.Report != ReportSummary || got.Location.String() != "Asia/Shanghai" {
		t.Errorf("schedule 1 report %q zone %v, want summary in the top-level zone", got.Report, got.Location)
	}
	r := c.Alerts.Rules
	checks := []struct {
		name      string
		got, want any
	}{
		{"node_cpu off", r.NodeCPU.Enabled, false},
		{"node_cpu keeps its threshold", r.NodeCPU.Above, Percent(0.90)},
		{"node_offline default on", r.NodeOffline.Enabled, true},
		{"node_offline for", r.NodeOffline.For, Duration(2 * time.Minute)},
		{"guest_stopped for", r.GuestStopped.For, Duration(5 * time.Minute)},
		{"guest selectors", len(r.GuestStopped.GuestsSel), 2},
		{"storage above", r.StorageUsage.Above, Percent(0.90)},
		{"storage for default", r.StorageUsage.For, Duration(10 * time.Minute)},
		{"repeat 0", c.Alerts.Repeat, Duration(0)},
		{"quiet from", c.Alerts.QuietHours.FromMin, 23 * 60},
		{"quiet to", c.Alerts.QuietHours.ToMin, 7*60 + 30},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	q := c.Alerts.QuietHours
	for clock, want := range map[string]bool{"23:00": true, "02:00": true, "07:29": true, "07:30": false, "12:00": false} {
		tm, _ := time.ParseInLocation("15:04", clock, sh)
		if got := q.Contains(tm); got != want {
			t.Errorf("quiet at %s = %v, want %v", clock, got, want)
		}
	}
}

func TestPushDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	if c.Timezone != "Asia/Shanghai" || c.Location().String() != "Asia/Shanghai" {
		t.Errorf("timezone = %q", c.Timezone)
	}
	if c.Alerts.Interval != Duration(time.Minute) || c.Alerts.Repeat != Duration(6*time.Hour) || !c.Alerts.Rules.StorageUsage.Enabled {
		t.Errorf("alert defaults = %+v", c.Alerts)
	}
}

func TestPushProblems(t *testing.T) {
	tests := []struct {
		name, doc, key, msg string
		line                int
	}{
		{"unknown target", "schedules:\n  - name: a\n    cron: \"5 9 * * *\"\n    to: [nowhere]\n", "schedules[0].to[0]", `unknown target "nowhere"`, 4},
		{"bad cron", "targets: {a: {users: [x]}}\nschedules:\n  - name: a\n    cron: \"61 9 * * *\"\n    to: [a]\n", "schedules[0].cron", "61 9", 4},
		{"bad zone", "timezone: Mars/Base\n", "timezone", "unknown time zone", 1},
		{"bad schedule zone", "targets: {a: {users: [x]}}\nschedules:\n  - name: a\n    cron: \"@daily\"\n    timezone: Nowhere/X\n    to: [a]\n", "schedules[0].timezone", "unknown time zone", 5},
		{"bad report", "targets: {a: {users: [x]}}\nschedules:\n  - name: a\n    cron: \"@daily\"\n    report: weather\n    to: [a]\n", "schedules[0].report", "summary, guests, storage or backups", 5},
		{"chart on guests", "targets: {a: {users: [x]}}\nschedules:\n  - name: a\n    cron: \"@daily\"\n    report: guests\n    chart: true\n    to: [a]\n", "schedules[0].chart", "only the summary", 6},
		{"alert to unknown", "alerts:\n  to: [ops]\n", "alerts.to[0]", `unknown target "ops"`, 2},
		{"two kinds", "targets:\n  x:\n    appchat: room\n    users: [a]\n", "targets.x", "only one of", 2},
		{"no kind", "targets:\n  x: {}\n", "targets.x", "set one of", 2},
		{"one member", "targets:\n  x: {appchat: room, appchat_members: [a]}\n", "targets.x.appchat_members", "at least 2", 2},
		{"chatid with a dash", "targets:\n  x: {appchat: ops-room}\n", "targets.x.appchat", "letters and digits only", 2},
		{"chatid with a dot", "targets:\n  x: {appchat: ops.room}\n", "targets.x.appchat", "at most 32 characters", 2},
		{"chatid of 33", "targets:\n  x: {appchat: " + strings.Repeat("a", 33) + "}\n", "targets.x.appchat", "at most 32 characters", 2},
		{"bad percent", "alerts:\n  rules:\n    storage_usage: {above: lots}\n", "alerts.rules.storage_usage.above", "percentage", 3},
		{"clear above above", "alerts:\n  rules:\n    node_cpu: {above: 80%, clear_below: 90%}\n", "alerts.rules.node_cpu.clear_below", "must not be above", 3},
		{"bad quiet", "alerts:\n  quiet_hours: {from: \"25:00\", to: \"07:00\"}\n", "alerts.quiet_hours.from", "time of day", 2},
		{"bad except", "alerts:\n  quiet_hours: {from: \"23:00\", to: \"07:00\", except: [fire]}\n", "alerts.quiet_hours.except[0]", `unknown rule "fire"`, 2},
		{"unknown rule key", "alerts:\n  rules:\n    disk_full: {for: 1m}\n", "alerts.rules.disk_full", "unknown key", 3},
		{"bad selector", "alerts:\n  rules:\n    guest_stopped: {guests: [\"tag:\"]}\n", "alerts.rules.guest_stopped.guests[0]", "", 3},
		{"older_than elsewhere", "alerts:\n  rules:\n    guest_stopped: {older_than: 1h}\n", "alerts.rules.guest_stopped.older_than", "only applies to backup_missing", 3},
		{"backup_missing zero window", "alerts:\n  rules:\n    backup_missing: {older_than: 0s}\n", "alerts.rules.backup_missing.older_than", "positive", 3},
		{"webhook without secret", "targets: {a: {users: [x]}}\npve_webhook:\n  path: /pve/webhook\n  to: [a]\n", "pve_webhook.secret", "must be set", 2},
		{"webhook short secret", "targets: {a: {users: [x]}}\npve_webhook:\n  path: /pve/webhook\n  secret: short\n  to: [a]\n", "pve_webhook.secret", "too short", 4},
		{"webhook no path", "targets: {a: {users: [x]}}\npve_webhook:\n  secret: fake-webhook-secret-0123456789\n  to: [a]\n", "pve_webhook.path", "must be set", 2},
		{"webhook route unknown target", "targets: {a: {users: [x]}}\npve_webhook:\n  path: /pve/webhook\n  secret: fake-webhook-secret-0123456789\n  to: [a]\n  routes:\n    - {match: {type: [vzdump]}, to: [b]}\n", "pve_webhook.routes[0].to[0]", `unknown target "b"`, 7},
		{"webhook bad severity", "targets: {a: {users: [x]}}\npve_webhook:\n  path: /pve/webhook\n  secret: fake-webhook-secret-0123456789\n  to: [a]\n  routes:\n    - {match: {severity: [fatal]}, to: [a]}\n", "pve_webhook.routes[0].match.severity[0]", `unknown severity "fatal"`, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, minimal+tt.doc, nil)
			base := strings.Count(minimal, "\n")
			for _, p := range ps {
				if p.Key == tt.key {
					if !strings.Contains(p.Msg, tt.msg) {
						t.Errorf("msg = %q, want it to contain %q", p.Msg, tt.msg)
					}
					if got, want := p.Line, base+tt.line; got != want {
						t.Errorf("line = %d, want %d", got, want)
					}
					return
				}
			}
			t.Errorf("no problem for %s; got:\n%v", tt.key, ps)
		})
	}
}

func TestRobotKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "robot.key"), []byte("file-key-9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := minimal + "targets:\n  robot: {webhook_key_file: robot.key}\n"
	c, err := parse([]byte(doc), filepath.Join(dir, "config.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Targets["robot"].WebhookKey.Value(); got != "file-key-9" {
		t.Errorf("key = %q, want it read from the file", got)
	}
	if ps := c.Validate(); len(ps) != 0 { // validating again must not see "both"
		t.Errorf("second Validate: %v", ps)
	}
	_, err = parse([]byte(minimal+"targets:\n  robot: {webhook_key: a, webhook_key_file: robot.key}\n"), filepath.Join(dir, "config.yaml"), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("key and file: err = %v, want \"not both\"", err)
	}
}

func TestPVEWebhookRoutes(t *testing.T) {
	doc := "targets: {ops: {users: [x]}, admins: {users: [y]}}\npve_webhook:\n  path: /pve/webhook\n  secret: \"${PVE_WEBHOOK_SECRET}\"\n  to: [ops]\n" +
		"  routes:\n    - {match: {severity: [error], type: [vzdump, fencing]}, to: [ops, admins]}\n    - {match: {type: [package-updates]}, to: [admins]}\n"
	c, ps := parseWith(t, minimal+doc, map[string]string{"PVE_WEBHOOK_SECRET": "fake-webhook-secret-0123456789"})
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if got := c.PVEWebhook.Secret.Value(); got != "fake-webhook-secret-0123456789" {
		t.Errorf("secret from env = %q", got)
	}
	for _, tt := range []struct {
		sev, typ string
		want     string
	}{
		{"error", "vzdump", "ops,admins"},
		{"info", "vzdump", "ops"},
		{"error", "fencing", "ops,admins"},
		{"info", "package-updates", "admins"},
		{"error", "package-updates", "admins"},
		{"unknown", "system-mail", "ops"},
	} {
		if got := strings.Join(c.PVEWebhook.TargetsFor(tt.sev, tt.typ), ","); got != tt.want {
			t.Errorf("TargetsFor(%s, %s) = %s, want %s", tt.sev, tt.typ, got, tt.want)
		}
	}
}
