package commands

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// nodeFleet is a two-node cluster whose node power POSTs are counted and whose nodes come
// back only when back is true.
type nodeFleet struct {
	cardFleet
	mu      sync.Mutex
	posts   []string
	back    bool
	members []pve.ClusterMember // when set, the cluster's members (else two nodes)
}

func (f *nodeFleet) ClusterStatus(ctx context.Context, c string) (pve.ClusterStatus, error) {
	if f.members != nil {
		return pve.ClusterStatus{Quorate: true, Nodes: f.members}, nil
	}
	return f.cardFleet.ClusterStatus(ctx, c)
}

func (f *nodeFleet) NodePower(_ context.Context, _, node string, cmd pve.NodeCommand) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, string(cmd)+" "+node)
	return nil
}

func (f *nodeFleet) WaitNode(ctx context.Context, _, _ string, online bool) error {
	if online && !f.back {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *nodeFleet) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.posts...)
}

func nodeDispatcher(t *testing.T, f *nodeFleet, o Options) (*Dispatcher, *store.Store, *recNotify) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.PVE.Clusters = []config.Cluster{{Name: "home"}}
	cfg.Users = []config.User{{ID: "boss", Role: "admin"}, {ID: "other", Role: "admin"}, {ID: "op", Role: "operator"}}
	note := &recNotify{}
	o.Fleet, o.Store, o.Notify = f, st, note
	d := New(cfg, o)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, st, note
}

func say(d *Dispatcher, user, text string) []chat.Reply {
	return d.Handle(context.Background(), chat.Message{ID: "m-" + user + "-" + text, User: user, Kind: chat.KindText, Text: text})
}

func waitNote(t *testing.T, note *recNotify, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(note.text(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("notifications %q never said %q", note.text(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return note.text()
}

// A rebooted node that is not back within NodeTimeout is reported as not back, and its
// journal entry is closed; a typed confirmation is only its owner's, and a wrong name sends
// nothing.
func TestNodeRebootNotBackAfterBound(t *testing.T) {
	f := &nodeFleet{}
	d, st, note := nodeDispatcher(t, f, Options{NodeTimeout: 30 * time.Millisecond})
	card := say(d, "boss", "node reboot pve2")
	if len(card) != 1 || card[0].Kind != chat.ReplyConfirm {
		t.Fatalf("replies %+v, want a confirmation card", card)
	}
	code := card[0].Code
	if got := say(d, "op", "confirm "+code+" pve2"); len(got) != 1 || len(f.sent()) != 0 {
		t.Fatalf("an operator's confirm: %+v, POSTs %v; want a refusal and none", got, f.sent())
	}
	wrongUser := say(d, "other", "confirm "+code+" pve2")
	if len(wrongUser) != 1 || wrongUser[0].Title != i18n.T(i18n.LangZH, "confirm_wrong_user") {
		t.Fatalf("another admin's confirm: %+v, want the wrong-user answer", wrongUser)
	}
	if len(f.sent()) != 0 {
		t.Fatalf("POSTs %v after others' confirms, want none", f.sent())
	}
	if got := say(d, "boss", "confirm "+code); !strings.Contains(got[0].Title, "输入节点名") {
		t.Fatalf("confirm without the name: %+v, want the name asked", got)
	}
	if got := say(d, "boss", "confirm "+code+" pve2"); !strings.Contains(got[0].Title, "已向 pve2 发送重启命令") {
		t.Fatalf("confirm with the name: %+v", got)
	}
	if got := f.sent(); len(got) != 1 || got[0] != "reboot pve2" {
		t.Fatalf("POSTs %v, want one reboot pve2", got)
	}
	waitNote(t, note, "没有重新上线")
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if open, _ := st.OpenActions(context.Background()); len(open) != 0 {
		t.Errorf("open journal entries %+v after the follow-up ended, want none", open)
	}
}

// After a restart, a node command recorded as sent is followed again (never re-sent); one
// interrupted while sending is reported unknown, never re-sent.
func TestRecoverNodePower(t *testing.T) {
	for _, tc := range []struct {
		name, state, want string
	}{
		{"sent: followed again", store.ActionSent, "pve2 已重新上线"},
		{"sending: unknown", store.ActionSending, "无法确定"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &nodeFleet{back: true}
			d, st, note := nodeDispatcher(t, f, Options{})
			a := store.Action{ID: "n1", User: "boss", Action: actionNodePower, Cluster: "home", Node: "pve2", Params: "command=reboot", Started: time.Now().Add(-time.Minute)}
			if _, err := st.BeginAction(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if tc.state == store.ActionSent {
				if err := st.ActionSent(context.Background(), "n1", ""); err != nil {
					t.Fatal(err)
				}
			}
			d.Recover(context.Background())
			waitNote(t, note, tc.want)
			if got := f.sent(); len(got) != 0 {
				t.Errorf("POSTs %v after the restart, want none", got)
			}
		})
	}
}

// Node power is admin-only by default, and a custom role that has it cannot reboot a node
// running protected guests unless admin.
func TestNodePowerAccess(t *testing.T) {
	f := &nodeFleet{}
	f.guests = []pve.Guest{{Cluster: "home", VMID: 100, Name: "opnsense", Node: "pve2", Type: "qemu", Status: "running", Tags: []string{"infra"}}}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Roles = map[string]config.Role{"nodeops": {Allow: []string{"node", "node_power"}}}
	cfg.PVE.Clusters = []config.Cluster{{Name: "home", Protected: []string{"tag:infra"}, ProtectedSel: mustList(t, "tag:infra")}}
	cfg.Users = []config.User{{ID: "op", Role: "operator"}, {ID: "night", Role: "nodeops"}}
	d := New(cfg, Options{Fleet: f, Store: st})
	if got := say(d, "op", "重启节点 pve2"); !strings.Contains(got[0].Title, "操作员") {
		t.Errorf("operator: %+v, want refused by role", got)
	}
	if got := say(d, "night", "重启节点 pve2"); !strings.Contains(got[0].Title, "受保护") {
		t.Errorf("custom role: %+v, want refused for the protected guest", got)
	}
	if got := say(d, "op", "重启节点 pve9"); !strings.Contains(got[0].Title, "操作员") {
		t.Errorf("operator, unknown node: %+v, want the role refusal first (names nothing)", got)
	}
	if len(f.sent()) != 0 {
		t.Errorf("POSTs %v, want none", f.sent())
	}
}

// In a cluster that keeps quorum without the node, and with no sign of the bot on it, the
// button alone reboots it: one POST, and the node is followed back.
func TestNodeRebootKeepsQuorumButtonSuffices(t *testing.T) {
	f := &nodeFleet{back: true, members: []pve.ClusterMember{{Name: "pve1", Online: true, Local: true}, {Name: "pve2", Online: true}, {Name: "pve3", Online: true}}}
	d, _, note := nodeDispatcher(t, f, Options{})
	card := say(d, "boss", "重启节点 pve2")
	if len(card) != 1 || card[0].Kind != chat.ReplyConfirm {
		t.Fatalf("replies %+v, want a confirmation card", card)
	}
	lines := strings.Join(card[0].Lines, "\n")
	if strings.Contains(lines, "输入节点名") || strings.Contains(lines, "连 PVE") {
		t.Errorf("card lines %q: want no typed name, no API warning", lines)
	}
	if f := card[0].Fields; len(f) < 3 || f[2].Value != "保持" {
		t.Errorf("card fields %+v: want quorum kept", f)
	}
	rep := d.Handle(context.Background(), chat.Message{ID: "click", User: "boss", Kind: chat.KindCardClick, EventKey: card[0].Buttons[0].Key, ResponseCode: "rc"})
	if len(rep) != 1 || !strings.Contains(rep[0].Title, "已向 pve2 发送重启命令") || rep[0].UpdateCode != "rc" {
		t.Fatalf("click: %+v, want the sent card updating the confirmation", rep)
	}
	if got := f.sent(); len(got) != 1 {
		t.Fatalf("POSTs %v, want one", got)
	}
	waitNote(t, note, "pve2 已重新上线")
	// The same confirmation again: used, nothing sent.
	again := d.Handle(context.Background(), chat.Message{ID: "click2", User: "boss", Kind: chat.KindCardClick, EventKey: card[0].Buttons[0].Key, ResponseCode: "rc2"})
	if len(again) != 1 || len(f.sent()) != 1 {
		t.Errorf("second click: %+v, POSTs %v; want one answer and still one POST", again, f.sent())
	}
}
