package app_test

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/commands"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/inbox"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

type nopReplier struct{}

func (nopReplier) Reply(context.Context, string, chat.Reply) error { return nil }

// BenchmarkCallbackPath measures what happens before WeCom gets its 200: verify the
// signature, decrypt, parse, record the message in the store (dedupe, durable) and queue
// it. The workers behind the queue do nothing here.
func BenchmarkCallbackPath(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	in := inbox.New(inbox.Options{Journal: st, Handler: chat.HandlerFunc(func(context.Context, chat.Message) []chat.Reply { return nil }),
		Replier: nopReplier{}, QueueSize: 1 << 16})
	defer in.Close(context.Background())
	s := &wecomtest.Sender{Token: apptest.CallbackToken, EncodingAESKey: apptest.AESKey, CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID}
	h, err := wecom.NewCallback(wecom.CallbackConfig{Token: apptest.CallbackToken, EncodingAESKey: apptest.AESKey,
		CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID, MaxClockSkew: time.Hour}, wecom.InboxFunc(in.Accept), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	type req struct {
		url  string
		body []byte
	}
	reqs := make([]req, b.N)
	for i := range reqs {
		q, body := s.Build(s.TextXML("user"+strconv.Itoa(i%1000), "help", strconv.FormatInt(1e12+int64(i), 10)))
		reqs[i] = req{"/wecom/callback?" + q.Encode(), body}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range reqs {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, reqs[i].url, bytes.NewReader(reqs[i].body)))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// listFleet is an in-memory fleet of n guests on 3 nodes, for benchmarks.
type listFleet struct {
	commands.Fleet // the methods the benchmark does not need: calling one panics
	guests         []pve.Guest
}

func newListFleet(n int) *listFleet {
	f := &listFleet{}
	for i := range n {
		g := pve.Guest{Cluster: "home", VMID: 100 + i, Name: fmt.Sprintf("guest-%03d", i), Node: fmt.Sprintf("pve%d", i%3+1),
			Type: "qemu", Status: "running", CPU: 0.05, MaxCPU: 4, Mem: 2 << 30, MaxMem: 4 << 30}
		if i%4 == 0 {
			g.Type, g.Tags = "lxc", []string{"lab"}
		}
		if i%5 == 0 {
			g.Status, g.Pool = "stopped", "media"
		}
		f.guests = append(f.guests, g)
	}
	return f
}

func (f *listFleet) Find(context.Context, string, func(pve.Guest) bool) (pve.Guest, error) {
	return f.guests[0], nil
}
func (f *listFleet) Guests(context.Context) ([]pve.Guest, map[string]error) {
	return append([]pve.Guest(nil), f.guests...), nil
}
func (f *listFleet) Listing(context.Context) (iter.Seq[pve.Guest], []pve.Node, map[string]error) {
	return slices.Values(f.guests), nil, nil // one cluster, VMIDs ascending
}
func (f *listFleet) GuestStatus(_ context.Context, g pve.Guest) (pve.GuestStatus, error) {
	return pve.GuestStatus{Guest: g}, nil
}
func (f *listFleet) Do(context.Context, pve.Guest, pve.Action) (string, error) { return "", nil }
func (f *listFleet) Wait(context.Context, pve.Guest, string) (pve.TaskResult, error) {
	return pve.TaskResult{}, nil
}
func (f *listFleet) Nodes(context.Context) ([]pve.Node, map[string]error)      { return nil, nil }
func (f *listFleet) Storage(context.Context) ([]pve.Storage, map[string]error) { return nil, nil }
func (f *listFleet) Tasks(context.Context, int) ([]pve.Task, map[string]error) { return nil, nil }
func (f *listFleet) ClusterNames() []string                                    { return []string{"home"} }

// BenchmarkListCommand300 measures parse + authorize (scope filter) + render to WeCom
// markdown for "vm list" over 300 guests, by an operator with a scope.
func BenchmarkListCommand300(b *testing.B) {
	cfg, err := config.Parse([]byte(`
wecom: {corp_id: ww0123456789abcdef, agent_id: 1000002, secret: fake, token: fake, encoding_aes_key: `+apptest.AESKey+`}
rate_limit: {per_user: "0"}
users:
  - {id: lisi, role: operator, scope: ["100-299", "pool:media", "tag:lab", "node:pve2", "name:guest-299"]}
`), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	d := commands.New(cfg, commands.Options{Fleet: newListFleet(300), Store: st})
	m := chat.Message{ID: "x", User: "lisi", Kind: chat.KindText, Text: "vm list"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		reps := d.Handle(ctx, m)
		parts := wecom.RenderMarkdown(reps[0], "zh", wecom.MaxTextBytes)
		if len(parts) == 0 || len(reps[0].Lines) < 250 {
			b.Fatalf("got %d lines, %d parts", len(reps[0].Lines), len(parts))
		}
	}
}
