package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// startServe runs `serve`'s bot (WeCom callback and client) on env's fakes with
// server.console set to console.
func startServe(t *testing.T, env *apptest.Env, console bool, quickWait time.Duration) *bot {
	t.Helper()
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Console: console}, quickWait: quickWait})
	if b.cfg.Server.Console != console {
		t.Fatalf("server.console = %v, want %v", b.cfg.Server.Console, console)
	}
	return b
}

// consoleEntry mirrors the console API's entries (console.Entry) as the page sees them.
type consoleEntry struct {
	ID   int64  `json:"id"`
	Ver  int64  `json:"ver"`
	From string `json:"from"`
	Text string `json:"text"`
	Card *struct {
		Form    string                          `json:"form"`
		Kind    string                          `json:"kind"`
		Title   string                          `json:"title"`
		Fields  []struct{ Label, Value string } `json:"fields"`
		Lines   []string                        `json:"lines"`
		Buttons []struct {
			Text string `json:"text"`
			Key  string `json:"key"`
		} `json:"buttons"`
		Done    string `json:"done"`
		Pending bool   `json:"pending"`
		Updated bool   `json:"updated"`
	} `json:"card"`
}

// text flattens an entry for searching.
func (e consoleEntry) text() string {
	if e.Card == nil {
		return e.Text
	}
	parts := []string{e.Card.Title, e.Card.Done}
	for _, f := range e.Card.Fields {
		parts = append(parts, f.Label+f.Value)
	}
	parts = append(parts, e.Card.Lines...)
	return strings.Join(parts, "\n")
}

// consolePost posts body as JSON to the console API at path and returns the status.
func (b *bot) consolePost(path string, body any) int {
	b.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := http.Post("http://"+b.app.AdminAddr()+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// consoleSay types text as user in the console.
func (b *bot) consoleSay(user, text string) {
	b.t.Helper()
	if got, want := b.consolePost("/api/send", map[string]string{"user": user, "text": text}), http.StatusAccepted; got != want {
		b.t.Fatalf("console send %q: status %d, want %d", text, got, want)
	}
}

// consoleWait long-polls user's console conversation until ok holds for it, and returns it.
func (b *bot) consoleWait(user, what string, ok func([]consoleEntry) bool) []consoleEntry {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var ver int64
	var all []consoleEntry // by id; a changed entry (a clicked card) comes again with a new version
	for {
		q := url.Values{"user": {user}, "after": {strconv.FormatInt(ver, 10)}, "wait": {"1"}}
		resp, err := http.Get("http://" + b.app.AdminAddr() + "/api/messages?" + q.Encode())
		if err != nil {
			b.t.Fatalf("console messages: %v", err)
		}
		var got struct {
			Ver     int64          `json:"ver"`
			Entries []consoleEntry `json:"entries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.t.Fatalf("console messages: status %d, %v", resp.StatusCode, err)
		}
		ver = max(ver, got.Ver)
	merge:
		for _, e := range got.Entries {
			for i := range all {
				if all[i].ID == e.ID {
					all[i] = e
					continue merge
				}
			}
			all = append(all, e)
		}
		if ok(all) {
			return all
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("console of %s: %s did not happen; entries:\n%s\nlog:\n%s", user, what, dumpEntries(all), tail(b.logs.String(), 4000))
		}
	}
}

func dumpEntries(es []consoleEntry) string {
	var sb strings.Builder
	for _, e := range es {
		sb.WriteString(e.From + ": " + strings.ReplaceAll(e.text(), "\n", " | ") + "\n")
	}
	return sb.String()
}

// botSaid is a consoleWait condition: some reply of the bot contains all of wants.
func botSaid(wants ...string) func([]consoleEntry) bool {
	return func(es []consoleEntry) bool {
		for _, e := range es {
			if e.From == "bot" && containsAll(e.text(), wants...) {
				return true
			}
		}
		return false
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// checkNothingToWeCom fails if WeCom got more than sent messages or any card update.
func (b *bot) checkNothingToWeCom(sent int) {
	b.t.Helper()
	if got := len(b.env.WeCom.Sent()); got != sent {
		b.t.Errorf("WeCom got %d messages, want %d (console replies must stay in the console): %q", got, sent, b.env.SentTexts())
	}
	if got := len(b.env.WeCom.Updates()); got != 0 {
		b.t.Errorf("WeCom got %d card updates, want 0", got)
	}
}

func TestServeConsoleRoutesRepliesBySource(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startServe(t, env, true, 0)

	b.text(apptest.Admin, "help")
	sent := b.waitSent(1)
	if got, want := strings.Join(sent[0].ToUser, "|"), apptest.Admin; got != want {
		t.Errorf("help went to %q, want %q", got, want)
	}

	b.consoleSay(apptest.Admin, "vm list")
	entries := b.consoleWait(apptest.Admin, "the vm list reply", botSaid("homeassistant", "jellyfin"))
	var bots int
	for _, e := range entries {
		if e.From == "bot" {
			bots++
		}
	}
	if bots != 1 {
		t.Errorf("console shows %d bot replies, want 1 (the WeCom help must not appear):\n%s", bots, dumpEntries(entries))
	}
	b.checkNothingToWeCom(1)
	for _, s := range b.env.SentTexts() {
		if strings.Contains(s, "jellyfin") {
			t.Errorf("WeCom got the console's vm list: %q", s)
		}
	}

	// WeCom still answers while the console is in use.
	b.text(apptest.Viewer, "vm list")
	contains(t, "WeCom vm list", lastText(b, 2), "homeassistant")
}

func TestServeConsoleConfirmationStaysInConsole(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startServe(t, env, true, 0)

	b.consoleSay(apptest.Operator, "关机 docker-host")
	isConfirm := func(es []consoleEntry) bool {
		for _, e := range es {
			if e.Card != nil && e.Card.Kind == "confirm" && len(e.Card.Buttons) > 0 {
				return true
			}
		}
		return false
	}
	var card consoleEntry
	for _, e := range b.consoleWait(apptest.Operator, "the confirmation card", isConfirm) {
		if e.Card != nil && e.Card.Kind == "confirm" {
			card = e
		}
	}
	var key string
	for _, btn := range card.Card.Buttons {
		if strings.HasPrefix(btn.Key, "confirm:") {
			key = btn.Key
		}
	}
	if key == "" {
		t.Fatalf("confirmation card has no confirm button: %+v", card.Card.Buttons)
	}
	click := map[string]any{"user": apptest.Operator, "key": key, "card": card.ID}
	if got, want := b.consolePost("/api/click", click), http.StatusAccepted; got != want {
		t.Fatalf("click: status %d, want %d", got, want)
	}
	b.consoleWait(apptest.Operator, "the clicked card showing the result", func(es []consoleEntry) bool {
		for _, e := range es {
			if e.ID == card.ID && e.Card != nil && !e.Card.Pending && (e.Card.Updated || e.Card.Done != "") &&
				containsAll(e.text(), "docker-host", "已关机") {
				return true
			}
		}
		return false
	})
	if got, want := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"), 1; got != want {
		t.Errorf("shutdown POSTs = %d, want %d", got, want)
	}
	b.checkNothingToWeCom(0)
}

func TestServeConsoleFollowUpReturnsToItsSource(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startServe(t, env, true, 50*time.Millisecond)
	// Fill the guest cache before PVE slows down.
	b.consoleSay(apptest.Operator, "状态 dev-ubuntu")
	b.consoleWait(apptest.Operator, "the status reply", botSaid("dev-ubuntu"))
	b.text(apptest.Operator, "状态 kali-lab")
	b.waitSent(1)
	env.PVE.SetLatency(200 * time.Millisecond) // every task poll outlasts the 50ms quick wait

	b.consoleSay(apptest.Operator, "启动 dev-ubuntu")
	b.consoleWait(apptest.Operator, "the running notice", botSaid("dev-ubuntu", "正在"))
	b.consoleWait(apptest.Operator, "the follow-up result", botSaid("dev-ubuntu", "已启动"))
	b.checkNothingToWeCom(1)

	// A WeCom user's follow-up still goes to WeCom, and not to the console.
	b.text(apptest.Operator, "启动 kali-lab")
	contains(t, "WeCom running notice", lastText(b, 2), "kali-lab", "正在")
	contains(t, "WeCom follow-up", lastText(b, 3), "kali-lab", "已启动")
	for _, e := range b.consoleWait(apptest.Operator, "anything", func([]consoleEntry) bool { return true }) {
		if strings.Contains(e.text(), "kali-lab") {
			t.Errorf("console shows a WeCom reply: %q", e.text())
		}
	}
}

// The console is mounted only with server.console: true, and even then it answers only
// this machine: requests forwarded by a proxy or naming another host are refused.
func TestServeConsoleMount(t *testing.T) {
	tests := []struct {
		name    string
		console bool
		method  string
		path    string
		header  map[string]string
		want    int
	}{
		{"off: no page", false, http.MethodGet, "/", nil, http.StatusNotFound},
		{"off: no send", false, http.MethodPost, "/api/send", nil, http.StatusNotFound},
		{"off: no messages", false, http.MethodGet, "/api/messages?user=zhangsan", nil, http.StatusNotFound},
		{"off: health", false, http.MethodGet, "/healthz", nil, http.StatusOK},
		{"on: page", true, http.MethodGet, "/", nil, http.StatusOK},
		{"on: health keeps its route", true, http.MethodGet, "/healthz", nil, http.StatusOK},
		{"on: proxied request", true, http.MethodGet, "/", map[string]string{"X-Forwarded-For": "203.0.113.7"}, http.StatusForbidden},
		{"on: foreign host", true, http.MethodGet, "/", map[string]string{"Host": "bot.example.com"}, http.StatusForbidden},
		{"on: proxied send", true, http.MethodPost, "/api/send", map[string]string{"Forwarded": "for=203.0.113.7"}, http.StatusForbidden},
	}
	env := apptest.NewEnv(t)
	bots := map[bool]*bot{false: startServe(t, env, false, 0), true: startServe(t, env, true, 0)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == http.MethodPost {
				body = strings.NewReader(`{"user":"zhangsan","text":"help"}`)
			}
			req, err := http.NewRequest(tt.method, "http://"+bots[tt.console].app.AdminAddr()+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
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
			resp.Body.Close()
			if got := resp.StatusCode; got != tt.want {
				t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
	if got := len(env.WeCom.Sent()); got != 0 {
		t.Errorf("WeCom got %d messages, want 0 (every send was refused)", got)
	}
}
