package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// promote rewrites the bot's config file with the viewer made an operator.
func promote(t *testing.T, b *bot) {
	t.Helper()
	raw, err := os.ReadFile(b.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	from := "- id: " + apptest.Viewer + "\n    role: viewer"
	if !strings.Contains(string(raw), from) {
		t.Fatalf("config has no %q", from)
	}
	writeFile(t, b.cfg.Path, strings.Replace(string(raw), from, "- id: "+apptest.Viewer+"\n    role: operator", 1))
}

// writeFile replaces path the way editors do: a new file renamed over the old one.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// url is path on the public listener, adminURL on the admin listener.
func (b *bot) url(path string) string { return "http://" + b.app.Addr() + path }

func (b *bot) adminURL(path string) string { return "http://" + b.app.AdminAddr() + path }

// startIsAllowed sends "启动 dev-ubuntu" as the viewer and reports whether it was done
// (dev-ubuntu started) rather than refused.
func startAttempt(t *testing.T, b *bot, n int) string {
	t.Helper()
	b.text(apptest.Viewer, "启动 dev-ubuntu")
	return lastText(b, n)
}

func TestReloadChangesRoleWithoutRestart(t *testing.T) {
	for _, via := range []string{"App.Reload", "file change"} {
		t.Run(via, func(t *testing.T) {
			env := apptest.NewEnv(t)
			b := startBot(t, env, botOptions{})
			if got := startAttempt(t, b, 1); !strings.Contains(got, "只读成员") {
				t.Fatalf("before the reload: %q, want a refusal naming the viewer role", got)
			}
			if n := powerPosts(env, "pve2", "qemu", "105"); n != 0 {
				t.Fatalf("POSTs before the reload = %d, want 0", n)
			}
			switch via {
			case "App.Reload":
				promote(t, b)
				if err := b.app.ReloadFile(b.cfg.Path); err != nil {
					t.Fatalf("ReloadFile: %v", err)
				}
			case "file change":
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- b.app.WatchConfig(ctx, b.cfg.Path) }()
				t.Cleanup(func() { cancel(); <-done })
				time.Sleep(50 * time.Millisecond) // let the watch start before the change (fsnotify has no "ready")
				promote(t, b)
				waitFor(t, "the reload", func() bool {
					u, _ := b.app.Config().UserByID(apptest.Viewer)
					return u.Role == "operator"
				})
			}
			_ = startAttempt(t, b, 2)
			if n := powerPosts(env, "pve2", "qemu", "105"); n != 1 {
				t.Errorf("start POSTs after the reload = %d, want 1\nlog:\n%s", n, tail(b.logs.String(), 3000))
			}
			_, metrics := get(t, b.adminURL("/metrics"))
			contains(t, "/metrics", metrics, "config_reload_success 1\n")
		})
	}
}

func TestInvalidReloadKeepsOldConfig(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	raw, err := os.ReadFile(b.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(raw), "role: viewer", "role: operator\n    colour: blue", 1)
	broken = strings.Replace(broken, "role: admin", "role: nobody", 1)
	writeFile(t, b.cfg.Path, broken)
	err = b.app.ReloadFile(b.cfg.Path)
	if err == nil {
		t.Fatal("ReloadFile of a broken file succeeded")
	}
	contains(t, "reload error", err.Error(), "colour", "nobody")
	contains(t, "log", b.logs.String(), "config reload refused", "colour", "nobody")
	if u, _ := b.app.Config().UserByID(apptest.Viewer); u.Role != "viewer" {
		t.Errorf("viewer's role after a refused reload = %q, want viewer", u.Role)
	}
	if got := startAttempt(t, b, 1); !strings.Contains(got, "只读成员") {
		t.Errorf("after a refused reload: %q, want the viewer still refused", got)
	}
	_, metrics := get(t, b.adminURL("/metrics"))
	contains(t, "/metrics", metrics, "config_reload_success 0\n", "config_last_reload_success_timestamp_seconds ")
	_, status := get(t, b.adminURL("/status"))
	contains(t, "/status", status, `"reload_ok": false`, "colour")
}

type statusJSON struct {
	Clusters []struct {
		Name        string     `json:"name"`
		OK          bool       `json:"ok"`
		LastSuccess *time.Time `json:"last_success"`
		LastError   string     `json:"last_error"`
	} `json:"clusters"`
	WeCom struct {
		OK bool `json:"ok"`
	} `json:"wecom"`
}

func readStatus(t *testing.T, b *bot) statusJSON {
	t.Helper()
	code, body := get(t, b.adminURL("/status"))
	if code != http.StatusOK {
		t.Fatalf("/status = %d %s", code, body)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/status is not JSON: %v\n%s", err, body)
	}
	if len(s.Clusters) != 1 || s.Clusters[0].Name != "home" {
		t.Fatalf("/status clusters = %+v, want home", s.Clusters)
	}
	b.env.CheckNoSecrets(t, "/status", body)
	return s
}

func TestStatusFollowsPVEWhileReady(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	steps := []struct {
		name   string
		hang   bool
		wantOK bool
		wantUp string
	}{
		{"reachable", false, true, "1"},
		{"PVE gone", true, false, "0"},
		{"PVE back", false, true, "1"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			env.PVE.Hang(s.hang)
			st := readStatus(t, b)
			c := st.Clusters[0]
			if c.OK != s.wantOK {
				t.Errorf("cluster ok = %v, want %v (%+v)", c.OK, s.wantOK, c)
			}
			if !s.wantOK && c.LastError == "" {
				t.Errorf("failing cluster has no last_error")
			}
			if c.LastSuccess == nil {
				t.Errorf("last_success is empty: the cluster answered at least once")
			}
			if code, body := get(t, b.url("/readyz")); code != http.StatusOK {
				t.Errorf("/readyz = %d %q, want 200: a PVE outage must not make the bot unready", code, body)
			}
			_, metrics := get(t, b.adminURL("/metrics"))
			contains(t, "/metrics", metrics, `wecom_home_ops_pve_up{cluster="home"} `+s.wantUp+"\n")
		})
	}
}

func TestMetricsSeries(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "vm list")
	b.waitSent(1)
	b.app.Metrics().AlertsFiring.WithLabelValues("node_offline").Set(1)
	_, metrics := get(t, b.adminURL("/metrics"))
	contains(t, "/metrics", metrics,
		`wecom_home_ops_callbacks_total{outcome="accepted"} 1`,
		`wecom_home_ops_callbacks_total{outcome="rejected"} 0`,
		`wecom_home_ops_pve_up{cluster="home"} 1`,
		`wecom_home_ops_pve_request_duration_seconds_count{cluster="home"}`,
		`wecom_home_ops_alerts_firing{rule="node_offline"} 1`,
		`wecom_home_ops_queue_depth 0`,
		`wecom_home_ops_commands_total{command="list",result="ok"} 1`,
		"config_reload_success 1",
		"config_last_reload_success_timestamp_seconds",
	)
	env.CheckNoSecrets(t, "/metrics", metrics)
	resp, err := http.Post(b.url("/wecom/callback?msg_signature=bad&timestamp=1&nonce=n"), "text/xml", strings.NewReader("<xml/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, metrics = get(t, b.adminURL("/metrics"))
	contains(t, "/metrics", metrics, `wecom_home_ops_callbacks_total{outcome="rejected"} 1`)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every PVE request a command makes is timed, and WeCom send errors are counted by errcode.
func TestCommandMetrics(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	count := func(metrics string) string {
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, `wecom_home_ops_pve_request_duration_seconds_count{cluster="home"} `) {
				return strings.Fields(l)[1]
			}
		}
		return "0"
	}
	_, before := get(t, b.adminURL("/metrics")) // probes the cluster now, not again for 10 s
	env.WeCom.FailNext("/cgi-bin/message/send", 60020, 1)
	b.text(apptest.Viewer, "vm list")
	b.waitSent(1)
	_, after := get(t, b.adminURL("/metrics"))
	if count(after) == count(before) {
		t.Errorf("PVE request count stayed %s after a vm list", count(after))
	}
	contains(t, "/metrics", after, `wecom_home_ops_wecom_send_errors_total{errcode="60020"} 1`)
}

// WeCom's health on /status follows every WeCom call, not only replies: a bot whose
// gettoken fails at start-up (the group-chat check) says so.
func TestStatusSaysWeComIsDownWhenGettokenFails(t *testing.T) {
	env := apptest.NewEnv(t)
	env.WeCom.FailNext("gettoken", 40001, 1000)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Extra: pushTargets + "alerts:\n  to: [ops-group]\n"}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := env.WeCom.WaitCalls(ctx, "/cgi-bin/gettoken", 1); err != nil {
		t.Fatalf("the bot never asked for a token: %v", err)
	}
	for {
		code, body := get(t, b.adminURL("/status"))
		var st struct {
			WeCom struct {
				OK          bool       `json:"ok"`
				LastSuccess *time.Time `json:"last_success"`
				LastError   string     `json:"last_error"`
			} `json:"wecom"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("/status = %d %s", code, body)
		}
		if !st.WeCom.OK {
			if st.WeCom.LastError == "" || st.WeCom.LastSuccess != nil {
				t.Errorf("wecom = %+v, want the gettoken error and no success", st.WeCom)
			}
			b.env.CheckNoSecrets(t, "/status", body)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/status still says WeCom is ok after gettoken failed: %s", body)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
