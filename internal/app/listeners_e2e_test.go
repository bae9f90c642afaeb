package app_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// do sends one request to addr with the given headers ("Host" sets the Host) and returns
// the status and body.
func do(t *testing.T, method, addr, path string, header map[string]string) (int, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"user":"zhangsan","text":"vm start 105"}`)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Headers a request reaching the public listener may carry: straight from the internet,
// through a TCP tunnel (frp tcp, ssh -R: a loopback peer with the Host the client chose),
// through a default nginx proxy_pass (Host of the upstream, no X-Forwarded-For).
var publicHeaders = map[string]map[string]string{
	"direct":                 nil,
	"tunnel, Host localhost": {"Host": "localhost"},
	"proxy, Host 127.0.0.1":  {"Host": "127.0.0.1"},
	"X-Forwarded-For":        {"X-Forwarded-For": "203.0.113.7"},
	"X-Forwarded-Host":       {"X-Forwarded-Host": "localhost", "X-Forwarded-Proto": "https"},
	"Forwarded":              {"Forwarded": "for=203.0.113.7;host=localhost"},
}

// TestPublicListenerServesOnlyTheCallback: with server.console: true, the public listener
// answers the console, its API, /status and /metrics with 404 whatever Host and forwarding
// headers a request carries; the admin listener serves them.
func TestPublicListenerServesOnlyTheCallback(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startServe(t, env, true, 0)
	public, admin := b.app.Addr(), b.app.AdminAddr()
	if admin == "" || admin == public {
		t.Fatalf("admin listener %q, public %q: want a separate admin listener", admin, public)
	}
	hidden := []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/index.html"},
		{http.MethodPost, "/api/send"},
		{http.MethodGet, "/api/messages?user=zhangsan"},
		{http.MethodGet, "/api/config"},
		{http.MethodGet, "/api/audit"},
		{http.MethodGet, "/status"},
		{http.MethodGet, "/status/"},
		{http.MethodGet, "//status"},
		{http.MethodGet, "/metrics"},
		{http.MethodGet, "/metrics?format=json"},
		{http.MethodGet, "/wecom/callback/../status"},
	}
	for hname, h := range publicHeaders {
		for _, r := range hidden {
			code, body := do(t, r.method, public, r.path, h)
			if code != http.StatusNotFound {
				t.Errorf("public %s %s (%s) = %d %q, want 404", r.method, r.path, hname, code, tail(body, 80))
			}
		}
		if code, _ := do(t, http.MethodGet, public, "/healthz", h); code != http.StatusOK {
			t.Errorf("public /healthz (%s) = %d, want 200", hname, code)
		}
		if code, _ := do(t, http.MethodGet, public, "/readyz", h); code != http.StatusOK {
			t.Errorf("public /readyz (%s) = %d, want 200", hname, code)
		}
		if code, _ := do(t, http.MethodGet, public, "/wecom/callback", h); code != http.StatusForbidden {
			t.Errorf("public callback without a signature (%s) = %d, want 403", hname, code)
		}
	}
	if got := env.PVE.Count("POST", "/nodes/pve2/qemu/105/status/start"); got != 0 {
		t.Errorf("public requests started 105 %d times, want 0", got)
	}

	for _, path := range []string{"/", "/status", "/metrics", "/healthz", "/readyz"} {
		if code, body := do(t, http.MethodGet, admin, path, nil); code != http.StatusOK {
			t.Errorf("admin %s = %d %q, want 200", path, code, tail(body, 80))
		}
	}
	// The console keeps its own checks on the admin listener.
	if code, _ := do(t, http.MethodGet, admin, "/", map[string]string{"X-Forwarded-For": "203.0.113.7"}); code != http.StatusForbidden {
		t.Errorf("admin / with X-Forwarded-For = %d, want 403", code)
	}
}

// TestAdminListenOff: with server.admin_listen "" there is no admin listener, and the
// public one still serves only the callback and health.
func TestAdminListenOff(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{AdminListen: "off"}})
	if got := b.app.AdminAddr(); got != "" {
		t.Errorf("AdminAddr = %q, want none", got)
	}
	for _, path := range []string{"/status", "/metrics", "/"} {
		if code, _ := do(t, http.MethodGet, b.app.Addr(), path, nil); code != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", path, code)
		}
	}
	b.text(apptest.Admin, "vm list")
	b.waitSent(1)
}

// TestPublicListenerEchoesNoConfig: a refused reload whose problems quote text typed into
// the config shows on the admin listener's /status, never on the public listener.
func TestPublicListenerEchoesNoConfig(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startServe(t, env, true, 0)
	const typed = "SECRET-typed-where-a-value-belongs"
	raw, err := os.ReadFile(b.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, b.cfg.Path, strings.Replace(string(raw), "wecom:\n", "wecom:\n  "+typed+": x\n", 1))
	if err := b.app.ReloadFile(b.cfg.Path); err == nil {
		t.Fatal("reload of a file with an unknown key succeeded")
	}
	if _, status := get(t, b.adminURL("/status")); !strings.Contains(status, typed) {
		t.Errorf("admin /status does not show the refused reload's problem: %s", tail(status, 200))
	}
	for hname, h := range publicHeaders {
		for _, path := range []string{"/", "/status", "/metrics", "/readyz", "/healthz", "/api/config", "/wecom/callback", "/wecom/callback?echostr=x"} {
			if _, body := do(t, http.MethodGet, b.app.Addr(), path, h); strings.Contains(body, typed) || strings.Contains(body, "wecom.") {
				t.Errorf("public %s (%s) echoes the config: %q", path, hname, tail(body, 200))
			}
		}
	}
}
