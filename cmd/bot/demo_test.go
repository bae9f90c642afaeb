package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// xssName is a guest name that runs script wherever a page puts text in as markup.
const xssName = `<img src=x onerror=alert(1)>`

// runDemo starts an in-process demo on a free port, with short tasks, serving until the
// test ends. ready waits for it to answer.
func runDemo(t *testing.T, lang string, seed func(*pvetest.Server)) *demoBot {
	t.Helper()
	d, err := startDemo(demoOptions{Listen: "127.0.0.1:0", Language: lang, TaskDuration: 300 * time.Millisecond,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatalf("startDemo: %v", err)
	}
	if seed != nil {
		seed(d.PVE)
	}
	serveUntilDone(t, d.App, d.close)
	return d
}

// serveUntilDone runs a until the test ends, then calls after.
func serveUntilDone(t *testing.T, a *app.App, after func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the bot did not stop within 20s")
		}
		if after != nil {
			after()
		}
	})
	waitHealthy(t, "http://"+a.Addr()+"/healthz")
}

func waitHealthy(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer", u)
		case <-tick.C:
		}
	}
}

// consoleClient talks to a console's API like its page does.
type consoleClient struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	ver  map[string]int64
	seen map[string][]console.Entry
}

func newConsoleClient(t *testing.T, addr string) *consoleClient {
	return &consoleClient{t: t, base: "http://" + addr, ver: map[string]int64{}, seen: map[string][]console.Entry{}}
}

func (c *consoleClient) post(path string, body any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(c.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		c.t.Fatalf("POST %s: status %d, want 202", path, resp.StatusCode)
	}
}

func (c *consoleClient) send(user, text string) {
	c.post("/api/send", map[string]string{"user": user, "text": text})
}

func (c *consoleClient) click(user, key string, card int64) {
	c.post("/api/click", map[string]any{"user": user, "key": key, "card": card})
}

// waitFor long-polls user's conversation until an entry satisfies ok, and returns it.
func (c *consoleClient) waitFor(user, what string, ok func(console.Entry) bool) console.Entry {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, e := range c.seen[user] {
			if ok(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: no such message for %s; have %+v", what, user, c.seen[user])
		}
		q := url.Values{"user": {user}, "after": {fmt.Sprint(c.ver[user])}, "wait": {"1"}}
		resp, err := http.Get(c.base + "/api/messages?" + q.Encode())
		if err != nil {
			c.t.Fatal(err)
		}
		var got struct {
			Ver     int64           `json:"ver"`
			Entries []console.Entry `json:"entries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			c.t.Fatal(err)
		}
		c.ver[user] = max(c.ver[user], got.Ver)
		// Newest version of each entry first, so that ok sees updated cards.
		merged := got.Entries
		for _, old := range c.seen[user] {
			if !hasEntry(got.Entries, old.ID) {
				merged = append(merged, old)
			}
		}
		c.seen[user] = merged
	}
}

func hasEntry(es []console.Entry, id int64) bool {
	for _, e := range es {
		if e.ID == id {
			return true
		}
	}
	return false
}

func cardText(e console.Entry) string {
	if e.Card == nil {
		return e.Text
	}
	parts := []string{e.Card.Title, e.Card.Footer, e.Card.Done}
	for _, f := range e.Card.Fields {
		parts = append(parts, f.Label+" "+f.Value)
	}
	return strings.Join(append(parts, e.Card.Lines...), "\n")
}

func fromBot(contains string) func(console.Entry) bool {
	return func(e console.Entry) bool { return e.From == "bot" && strings.Contains(cardText(e), contains) }
}

func TestLoopbackListen(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"[::1]:8080", true},
		{"localhost:8081", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.168.1.5:8080", false},
		{"pve.example:8080", false},
		{"8080", false},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			if err := loopbackListen(tc.addr); (err == nil) != tc.ok {
				t.Errorf("loopbackListen(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}

func TestConsoleAndDemoRefuseAPublicListenAddress(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"console", []string{"console", "-config", "nonexistent.yaml", "-listen", "0.0.0.0:8081"}},
		{"demo", []string{"demo", "-listen", ":8080"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), "loopback only") {
				t.Errorf("stderr = %q, want it to say the console is loopback only", stderr.String())
			}
		})
	}
}

func TestDemoSaysWhenThePortIsBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "-listen", ln.Addr().String()}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if got := stderr.String(); !strings.Contains(got, "already in use") || !strings.Contains(got, "-listen") {
		t.Errorf("stderr = %q, want it to say the port is in use and how to pick another", got)
	}
}

// The demo works end to end over the console's API: a list, a refusal, and a shutdown
// through the confirm button that changes the simulated cluster.
func TestDemoOverTheConsoleAPI(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())

	c.send(demoViewer, "vm list")
	c.waitFor(demoViewer, "guest list", fromBot("104 docker-host"))
	c.send(demoViewer, "关机 104")
	c.waitFor(demoViewer, "refusal", func(e console.Entry) bool { return e.From == "bot" && e.Card.Kind == "text" })

	c.send(demoAdmin, "关机 104")
	confirm := c.waitFor(demoAdmin, "confirmation card", func(e console.Entry) bool { return e.From == "bot" && len(e.Card.Buttons) == 2 })
	c.click(demoAdmin, confirm.Card.Buttons[0].Key, confirm.ID)
	result := c.waitFor(demoAdmin, "result on the clicked card", func(e console.Entry) bool {
		return e.ID == confirm.ID && e.Card.Updated && strings.Contains(cardText(e), "已关机")
	})
	if result.Card.Severity != "ok" {
		t.Errorf("result severity = %q, want ok", result.Card.Severity)
	}
	if g, _ := d.PVE.Guest(104); g.Status != "stopped" {
		t.Errorf("guest 104 is %q in the simulated cluster, want stopped", g.Status)
	}
	c.send(demoAdmin, "vm list")
	c.waitFor(demoAdmin, "list with 104 stopped", fromBot("⚪ 104 docker-host"))

	resp, err := http.Get("http://" + d.App.Addr() + "/api/audit")
	if err != nil {
		t.Fatal(err)
	}
	var audit []struct{ User, Command, Decision string }
	_ = json.NewDecoder(resp.Body).Decode(&audit)
	resp.Body.Close()
	var allowed, refused bool
	for _, a := range audit {
		allowed = allowed || a.User == demoAdmin && a.Decision == "allowed" && strings.Contains(a.Command, "shutdown docker-host")
		refused = refused || a.User == demoViewer && a.Decision == "refused"
	}
	if !allowed || !refused {
		t.Errorf("audit = %+v, want admin's shutdown allowed and viewer's refused", audit)
	}
}

// Home Assistant is HA-managed: its shutdown first reads as handed to the HA manager, and the
// final state comes as one new message once the HA rounds have run (the test runs them
// instead of waiting 20 s for the demo's real 10 s rounds).
func TestDemoHAGuest(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())
	c.send(demoAdmin, "关机 102")
	confirm := c.waitFor(demoAdmin, "confirmation card", func(e console.Entry) bool { return e.From == "bot" && len(e.Card.Buttons) == 2 })
	c.click(demoAdmin, confirm.Card.Buttons[0].Key, confirm.ID)
	waiting := c.waitFor(demoAdmin, "the waiting state on the clicked card", func(e console.Entry) bool {
		return e.ID == confirm.ID && e.Card.Updated && strings.Contains(cardText(e), "HA 管理器")
	})
	if strings.Contains(cardText(waiting), "已关机") {
		t.Errorf("waiting card claims the result: %q", cardText(waiting))
	}
	if g, _ := d.PVE.Guest(102); g.Status != "running" {
		t.Fatalf("homeassistant is %s before the HA manager acted", g.Status)
	}
	d.PVE.RunHARound() // the CRM takes the request up
	d.PVE.RunHARound() // the LRM runs the shutdown
	c.waitFor(demoAdmin, "the final state as a new message", func(e console.Entry) bool {
		return e.From == "bot" && e.ID != confirm.ID && strings.Contains(cardText(e), "homeassistant (102) 已关机")
	})
}

// `bot console` serves the same console for the users and clusters of a config file.
func TestConsoleFromAConfigFile(t *testing.T) {
	pv := pvetest.New(pvetest.Options{TLS: true, ErrorFormat: pvetest.Modern})
	pvetest.SeedHomeLab(pv)
	t.Cleanup(pv.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(demoConfig(pv, "0.0.0.0:8080", filepath.Join(dir, "data"), "en")), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := startConsole(path, "127.0.0.1:0", filepath.Join(dir, "console-data"), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("startConsole: %v", err)
	}
	serveUntilDone(t, a, nil)
	if host, _, _ := net.SplitHostPort(a.Addr()); host != "127.0.0.1" {
		t.Errorf("listening on %s, want the loopback -listen, not the config's server.listen", a.Addr())
	}
	resp, err := http.Get("http://" + a.Addr() + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Language string
		Users    []console.User
	}
	_ = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.Language != "en" || len(cfg.Users) != 3 || cfg.Users[1] != (console.User{ID: demoOperator, Role: "operator"}) {
		t.Errorf("config = %+v, want the file's language and users", cfg)
	}
	c := newConsoleClient(t, a.Addr())
	c.send(demoOperator, "vm list")
	c.waitFor(demoOperator, "the operator's scoped list", fromBot("103 jellyfin"))
	if _, err := os.Stat(filepath.Join(dir, "console-data")); err != nil {
		t.Errorf("-data-dir not used: %v", err)
	}
}

// chromium finds the browser, or skips (fails under CI) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: install Debian's chromium package")
	}
	t.Skip("chromium not found: skipping the browser test (apt-get install chromium to run it)")
	return ""
}

// The demo in a real (headless) browser: type vm list, see the guests (a hostile name shows
// as text), shut one down through the confirm button, see it stopped; screenshot.
func TestDemoInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	exe := chromium(t)
	d := runDemo(t, "zh", func(s *pvetest.Server) {
		s.AddGuest(pvetest.Guest{VMID: 120, Name: xssName, Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}, MaxCPU: 1, MaxMem: 1 << 30})
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first Run starts the browser and must not carry a timeout (it would bound the
	// browser's life); the steps after it do.
	if err := chromedp.Do(bctx, chromedp.Navigate(d.URL)); err != nil {
		t.Fatalf("browser: open %s: %v", d.URL, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	wait := func(what, js string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(30*time.Second))(ctx, tg); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			return nil
		})
	}
	typeCommand := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SetValue(chromedp.CSS("#input"), text),
			chromedp.Click(chromedp.CSS("#send")),
		)
	}
	screenshot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			shot, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err == nil {
				saveScreenshot(t, name, shot)
			}
			return err
		})
	}
	const botText = `[...document.querySelectorAll('#messages .msg.bot')].map(e => e.textContent)`
	err := chromedp.Do(ctx,
		wait("the user picker", `document.querySelectorAll('#user option').length >= 4`),
		// Any dialog an injected handler opened would be recorded here.
		chromedp.Evaluate[chromedp.Void](`window.__alerted = false; window.alert = window.confirm = window.prompt = () => { window.__alerted = true; }`),
		typeCommand("vm list"),
		wait("the guest list", botText+`.some(t => t.includes('104 docker-host') && t.includes('102 homeassistant'))`),
		wait("the hostile name as text", botText+`.some(t => t.includes(`+"`"+xssName+"`"+`))`),
		typeCommand("关机 104"),
		wait("the confirmation card", `!!document.querySelector('.card.confirm button[data-key^="confirm:"]:not(:disabled)')`),
		screenshot("confirm-card"),
		chromedp.Click(chromedp.CSS(`.card.confirm button[data-key^="confirm:"]`)),
		wait("the result on the card", `[...document.querySelectorAll('.card.sev-ok')].some(c => c.textContent.includes('docker-host (104) 已关机'))`),
		screenshot("confirmed"),
		typeCommand("vm list"),
		wait("104 stopped in a new list", botText+`.some(t => t.includes('⚪ 104 docker-host · pve2 · 已停止'))`),
		wait("the audit log", `[...document.querySelectorAll('#audit li')].some(li => li.textContent.includes('shutdown docker-host (104)'))`),
		// Cancelling greys the card's buttons with the answer, like update_template_card.
		typeCommand("关机 103"),
		wait("a second confirmation card", `!!document.querySelector('.card.confirm button[data-key^="cancel:"]:not(:disabled)')`),
		chromedp.Click(chromedp.CSS(`.card.confirm button[data-key^="cancel:"]:not(:disabled)`)),
		wait("the greyed buttons", `[...document.querySelectorAll('.card.confirm .btn.done')].some(b => b.disabled && b.textContent.includes('jellyfin (103)'))`),
		// A status card offers the actions this user may run now; a press runs it like typed
		// text, and the pressed card greys with the choice.
		typeCommand("状态 105"),
		wait("the status card's start button", `!!document.querySelector('button[data-key="run:启动 105"]:not(:disabled)')`),
		screenshot("status-buttons"),
		chromedp.Click(chromedp.CSS(`button[data-key="run:启动 105"]`)),
		wait("the start's result", botText+`.some(t => t.includes('dev-ubuntu (105)') && t.includes('已启动'))`),
		// The overview is markdown: its headings render bold, without the asterisks.
		typeCommand("概览"),
		wait("the overview's bold heading", `[...document.querySelectorAll('#messages .bubble.list strong')].some(s => s.textContent === '节点')`),
		wait("no raw markdown", `![...document.querySelectorAll('#messages .msg.bot')].some(e => e.textContent.includes('**'))`),
		// The demo's report button pushes to the group chat, whose pane shows it.
		chromedp.Click(chromedp.CSS(`.chip.act[data-action="report"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('user'); s.value = '#`+demoGroup+`'; s.dispatchEvent(new Event('change')); })()`),
		wait("the report in the group pane", botText+`.some(t => t.includes('集群概览'))`),
		wait("no typing in a group pane", `document.getElementById('input').disabled`),
		// On a phone-sized screen the chat keeps most of the height.
		chromedp.EmulateViewport(390, 844),
		wait("a chat that fits a phone", `(() => { const c = document.querySelector('.chat').getBoundingClientRect(); return c.height > 0.6 * window.innerHeight && c.width <= window.innerWidth; })()`),
		screenshot("phone"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#messages img:not(.picture)').length`))
	if err != nil {
		t.Fatal(err)
	}
	alerted, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__alerted`))
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || alerted {
		t.Errorf("the hostile guest name became markup (%d img elements, dialog opened %v)", imgs, alerted)
	}
	if g, _ := d.PVE.Guest(104); g.Status != "stopped" {
		t.Errorf("guest 104 is %q in the simulated cluster, want stopped", g.Status)
	}
	if g, _ := d.PVE.Guest(103); g.Status != "running" {
		t.Errorf("guest 103 is %q after a cancelled shutdown, want running", g.Status)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "final", shot)
}

// saveScreenshot writes a PNG under the test's temp dir (removed after the test; run
// with -v to see the paths, and copy them while debugging) and logs its path.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "console-"+name+"-*.png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(png); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%s): %s", name, f.Name())
}

// The demo shows reports and alerts: its buttons send the morning report and take pve2
// off the simulated cluster, and both arrive in the group chat's pane.
func TestDemoGroupChatGetsReportsAndAlerts(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())
	resp, err := http.Get(c.base + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Groups  []string `json:"groups"`
		Actions []struct{ ID, Label string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if !slices.Contains(cfg.Groups, demoGroup) || len(cfg.Actions) != 3 {
		t.Fatalf("config = %+v, want the group %s and three demo actions", cfg, demoGroup)
	}
	action := func(id string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"id": id})
		resp, err := http.Post(c.base+"/api/action", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("action %s: status %d, want 200", id, resp.StatusCode)
		}
	}
	group := console.GroupPrefix + demoGroup
	lineWith := func(s string) func(console.Entry) bool {
		return func(e console.Entry) bool {
			return e.Card != nil && strings.Contains(strings.Join(e.Card.Lines, "\n"), s)
		}
	}
	action("report")
	c.waitFor(group, "the morning report", lineWith("**集群概览**"))
	action("node")
	c.waitFor(group, "the node-offline alert", lineWith("节点离线：pve2"))
	action("node")
	c.waitFor(group, "the recovery", lineWith("节点恢复在线：pve2"))
	// PVE's notification of a failed backup job, replayed, arrives as a card naming the guest.
	action("pve-backup-failed")
	c.waitFor(group, "the failed-backup card", lineWith("truenas (101)：unable to create temporary directory"))
	// Nobody can type into a group pane.
	b, _ := json.Marshal(map[string]string{"user": group, "text": "vm list"})
	if resp, err := http.Post(c.base+"/api/send", "application/json", bytes.NewReader(b)); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("send to the group pane: %v %v, want 400", resp.StatusCode, err)
	}
}

// The console shows command buttons (a status card's actions, ambiguous candidates) and a
// press runs the command: the pressed card greys with the choice, the result comes new.
func TestDemoCommandButtonsOverTheConsoleAPI(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())

	c.send(demoAdmin, "vm status 105")
	card := c.waitFor(demoAdmin, "status card", func(e console.Entry) bool {
		return e.From == "bot" && e.Card != nil && e.Card.Form == "card" && len(e.Card.Buttons) > 0
	})
	if b := card.Card.Buttons; len(b) != 3 || b[0].Text != "启动" || b[0].Key != "run:启动 105" || b[1].Key != "run:快照 105" || b[2].Key != "run:备份 105" {
		t.Fatalf("buttons = %+v, want start, a snapshot and a backup for the stopped guest", b)
	}
	c.click(demoAdmin, card.Card.Buttons[0].Key, card.ID)
	c.waitFor(demoAdmin, "the pressed card greyed", func(e console.Entry) bool { return e.ID == card.ID && e.Card.Done == "已选择：启动 105" })
	c.waitFor(demoAdmin, "the start's result", fromBot("已启动"))
	if g, _ := d.PVE.Guest(105); g.Status != "running" {
		t.Errorf("guest 105 is %q, want running", g.Status)
	}

	c.send(demoAdmin, "关机 dev")
	pick := c.waitFor(demoAdmin, "candidates", fromBot("匹配多个"))
	if n := len(pick.Card.Buttons); n != 2 {
		t.Fatalf("candidates = %+v, want 2 buttons", pick.Card.Buttons)
	}
}
