package pvewebhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

const secret = "fake-webhook-secret-0123456789"

type memKV struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

func (k *memKV) Get(_ context.Context, b, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[b][key]
	return v, ok, nil
}
func (k *memKV) Put(_ context.Context, b, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]map[string][]byte{}
	}
	if k.m[b] == nil {
		k.m[b] = map[string][]byte{}
	}
	k.m[b][key] = v
	return nil
}
func (k *memKV) Delete(_ context.Context, b, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m[b], key)
	return nil
}
func (k *memKV) List(_ context.Context, b string) (map[string][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string][]byte{}
	for key, v := range k.m[b] {
		out[key] = v
	}
	return out, nil
}

type push struct {
	to []string
	m  notify.Message
}

type fixture struct {
	rc     *Receiver
	kv     *memKV
	url    string
	mu     sync.Mutex
	pushes []push
	now    time.Time
}

func newFixture(t *testing.T, cfg config.PVEWebhook) *fixture {
	t.Helper()
	f := &fixture{kv: &memKV{}, now: time.Date(2026, 12, 2, 2, 10, 0, 0, time.UTC)}
	cfg.Secret = secret
	f.rc = New(cfg, Options{KV: f.kv, Now: func() time.Time { return f.now },
		Push: func(_ context.Context, to []string, m notify.Message) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.pushes = append(f.pushes, push{to, m})
			return true
		},
		Render: func(r Record) notify.Message { return Render(r, i18n.LangZH, time.UTC) }})
	srv := httptest.NewServer(f.rc)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/pve/webhook"
	return f
}

// failedJob is what the fake's vzdump task sends for a job where 102 failed and 101 ran.
func failedJob(at time.Time) pvetest.Notification {
	return pvetest.Notification{
		Title:    "vzdump backup status (pve1.home.arpa): backup failed ",
		Severity: "error", Timestamp: at,
		Fields: map[string]string{"type": "vzdump", "hostname": "pve1", "job-id": "backup-nightly"},
		Message: "Details\n=======\nVMID  Name  Status  Time  Size  Filename\n" +
			"101  homeassistant  ok  00:01:00  -  backup\n102  nas  err  -  -  null\n\nTotal running time: 2m0s\n\nLogs\n====\n" +
			"INFO: starting new backup job: vzdump 101 102 --mode snapshot --storage nas\n" +
			"101: INFO: Starting Backup of VM 101 (qemu)\n101: INFO: Finished Backup of VM 101 (00:01:00)\n" +
			"102: INFO: Starting Backup of VM 102 (qemu)\n" +
			"102: ERROR: Backup of VM 102 failed - unable to open file '/mnt/pve/nas/dump/vzdump.tmp' - No space left on device\n",
	}
}

func TestWebhookDeliversFailedBackupOnce(t *testing.T) {
	f := newFixture(t, config.PVEWebhook{Path: "/pve/webhook", To: []string{"ops"},
		Routes: []config.WebhookRoute{{Match: config.WebhookMatch{Severity: []string{"error"}, Type: []string{"vzdump", "fencing"}}, To: []string{"ops", "admins"}}}})
	ctx := context.Background()
	n := failedJob(f.now)
	for range 2 { // PVE's one post, and the same post again
		code, err := pvetest.PostWebhook(ctx, f.url, secret, n)
		if err != nil || code != http.StatusOK {
			t.Fatalf("post: %d %v", code, err)
		}
	}
	if got := f.rc.Deliver(ctx); got != 1 {
		t.Fatalf("delivered %d events, want 1", got)
	}
	if got := f.rc.Deliver(ctx); got != 0 {
		t.Errorf("delivered %d events again, want 0", got)
	}
	if len(f.pushes) != 1 {
		t.Fatalf("got %d pushes, want 1", len(f.pushes))
	}
	p := f.pushes[0]
	if got := strings.Join(p.to, ","); got != "ops,admins" {
		t.Errorf("routed to %s, want ops,admins (first matching route)", got)
	}
	card := p.m.Card
	if card.Severity != chat.SeverityError || !strings.Contains(card.Title, "pve1") {
		t.Errorf("card %+v, want an error card naming node pve1", card)
	}
	text := strings.Join(card.Lines, "\n")
	if !strings.Contains(text, "nas (102)") || !strings.Contains(text, "No space left on device") || strings.Contains(text, "101") {
		t.Errorf("lines %q, want only the failed guest with PVE's reason", text)
	}
	fields := map[string]string{}
	for _, fl := range card.Fields {
		fields[fl.Label] = fl.Value
	}
	if fields["备份任务"] != "backup-nightly" || fields["用时"] != "2m0s" || fields["节点"] != "pve1" {
		t.Errorf("fields %v, want job, node and duration", fields)
	}
	if len(card.Buttons) != 1 || card.Buttons[0].Text != "重新备份失败的虚拟机" || card.Buttons[0].Key != "vm backup 102" {
		t.Errorf("buttons %+v, want one retry button running `vm backup 102`", card.Buttons)
	}
	if md := p.m.Markdown(2048); !strings.Contains(md, "nas (102)") {
		t.Errorf("markdown %q does not name the failed guest", md)
	}
	// backup_failed finds it and does not alert a second time.
	if !BackupFailureSeen(ctx, f.kv, "pve1", f.now.Add(-30*time.Second)) {
		t.Error("BackupFailureSeen = false for the job the webhook reported")
	}
	if BackupFailureSeen(ctx, f.kv, "pve2", f.now) || BackupFailureSeen(ctx, f.kv, "pve1", f.now.Add(-5*time.Hour)) {
		t.Error("BackupFailureSeen = true for another node or another night")
	}
}

func TestWebhookRefusals(t *testing.T) {
	f := newFixture(t, config.PVEWebhook{Path: "/pve/webhook", To: []string{"ops"}})
	ctx := context.Background()
	body := pvetest.WebhookBody(failedJob(f.now))
	post := func(method, auth string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, f.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	big := bytes.Repeat([]byte("x"), 2<<20)
	for _, tt := range []struct {
		name, method, auth string
		body               []byte
		want               int
	}{
		{"no secret", http.MethodPost, "", body, http.StatusUnauthorized},
		{"wrong secret", http.MethodPost, "Bearer fake-wrong-secret-0000000000", body, http.StatusUnauthorized},
		{"secret without Bearer", http.MethodPost, secret, body, http.StatusUnauthorized},
		{"GET", http.MethodGet, "Bearer " + secret, nil, http.StatusMethodNotAllowed},
		{"not JSON", http.MethodPost, "Bearer " + secret, []byte("title=x"), http.StatusBadRequest},
		{"empty object", http.MethodPost, "Bearer " + secret, []byte("{}"), http.StatusBadRequest},
		{"2 MiB body", http.MethodPost, "Bearer " + secret, append(append([]byte(`{"title":"t","message":"`), big...), []byte(`"}`)...), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, text := post(tt.method, tt.auth, tt.body)
			if code != tt.want {
				t.Errorf("got %d, want %d", code, tt.want)
			}
			if code == http.StatusUnauthorized && strings.TrimSpace(text) != "unauthorized" {
				t.Errorf("401 body %q, want no detail", text)
			}
		})
	}
	if got := f.rc.Deliver(ctx); got != 0 || len(f.pushes) != 0 {
		t.Errorf("delivered %d after refused posts, want nothing", got)
	}

	// PVE's largest vzdump message (1 MiB of logs) is taken.
	n := failedJob(f.now)
	n.Message += strings.Repeat("102: INFO: a long log line of the guest's backup\n", (1<<20)/50)
	if code, err := pvetest.PostWebhook(ctx, f.url, secret, n); err != nil || code != http.StatusOK {
		t.Fatalf("1 MiB vzdump message: %d %v, want 200", code, err)
	}
	if got := f.rc.Deliver(ctx); got != 1 {
		t.Errorf("delivered %d, want the large event", got)
	}
	if !strings.Contains(strings.Join(f.pushes[0].m.Card.Lines, "\n"), "No space left") {
		t.Error("the large event lost its failed guest")
	}
}

func TestWebhookRendersEventTypes(t *testing.T) {
	f := newFixture(t, config.PVEWebhook{Path: "/pve/webhook", To: []string{"ops"},
		Routes: []config.WebhookRoute{
			{Match: config.WebhookMatch{Type: []string{"package-updates"}}, To: []string{"admins"}},
			{Match: config.WebhookMatch{Severity: []string{"info"}, Type: []string{"vzdump"}}, To: nil}, // drop successes
		}})
	ctx := context.Background()
	ok := pvetest.Notification{Title: "vzdump backup status (pve1.home.arpa): backup successful ", Severity: "info", Timestamp: f.now,
		Fields: map[string]string{"type": "vzdump", "hostname": "pve1"}, Message: "Details\n=======\n101  homeassistant  ok  00:01:00  -  backup\nTotal running time: 1m0s\n"}
	events := []pvetest.Notification{
		pvetest.FencingNotification("pve2", false, f.now),
		pvetest.PackageUpdatesNotification("pve1", 3, f.now),
		ok,
		{Title: "Test notification", Message: "This is a test of the notification target 'chatbot'.", Severity: "info", Timestamp: f.now},
		{Title: "Replication Job: '101-0' failed", Message: "Replication job 101-0 failed:\nno space", Severity: "error", Timestamp: f.now,
			Fields: map[string]string{"type": "replication", "job-id": "101-0", "hostname": "pve1"}},
	}
	for _, n := range events {
		if code, err := pvetest.PostWebhook(ctx, f.url, secret, n); err != nil || code != 200 {
			t.Fatalf("post %s: %d %v", n.Title, code, err)
		}
	}
	if got := f.rc.Deliver(ctx); got != len(events) {
		t.Fatalf("handled %d, want %d", got, len(events))
	}
	byTitle := map[string]push{}
	for _, p := range f.pushes {
		byTitle[p.m.Card.Title] = p
	}
	want := []struct {
		title, to string
		sev       chat.Severity
	}{
		{"🚨 HA 正在隔离节点 pve2", "ops", chat.SeverityError},
		{"📦 节点 pve1 有 3 个软件包可更新", "admins", chat.SeverityInfo},
		{"PVE · Test notification", "ops", chat.SeverityInfo},
		{"PVE · Replication Job: '101-0' failed", "ops", chat.SeverityError},
	}
	for _, w := range want {
		p, ok := byTitle[w.title]
		if !ok {
			t.Errorf("no card %q among %v", w.title, f.pushes)
			continue
		}
		if got := strings.Join(p.to, ","); got != w.to || p.m.Card.Severity != w.sev {
			t.Errorf("%q: to %s severity %s, want %s %s", w.title, got, p.m.Card.Severity, w.to, w.sev)
		}
	}
	if len(f.pushes) != len(want) {
		t.Errorf("got %d pushes, want %d: the dropped success was pushed", len(f.pushes), len(want))
	}
	// A success is one short line.
	rep := Reply(digestMessage(Event{Title: ok.Title, Severity: "info", Fields: ok.Fields, Message: ok.Message}), i18n.LangZH, time.UTC)
	if rep.Kind != chat.ReplyText || len(rep.Lines) != 0 || rep.Title != "✅ 备份完成：节点 pve1，手动备份，1 台，用时 1m0s" {
		t.Errorf("success %+v, want one short line", rep)
	}
}

// A flood of refused posts writes one log line a minute, never the secret that was tried.
func TestWebhookRefusalsLogOncePerMinute(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	f := newFixture(t, config.PVEWebhook{Path: "/pve/webhook", To: []string{"ops"}})
	f.rc.log = zap.New(core)
	ctx := context.Background()
	for range 50 {
		if code, _ := pvetest.PostWebhook(ctx, f.url, "fake-guess-0000000000000000", failedJob(f.now)); code != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", code)
		}
	}
	f.now = f.now.Add(time.Minute)
	_, _ = pvetest.PostWebhook(ctx, f.url, "", failedJob(f.now))
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d log lines for 51 refused posts over a minute, want 2", len(entries))
	}
	if n := entries[1].ContextMap()["count"]; n != int64(50) {
		t.Errorf("second line counts %v refusals, want 50", n)
	}
	for _, e := range entries {
		if strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), "fake-guess") {
			t.Error("a tried secret reached the log")
		}
	}
}
