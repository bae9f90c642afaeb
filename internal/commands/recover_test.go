package commands

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// fakeFleet serves one guest and a task list, and counts POSTs.
type fakeFleet struct {
	Fleet // the methods a test does not need: calling one panics
	mu    sync.Mutex
	guest pve.Guest
	tasks []pve.Task
	posts int
	waits []string
}

func (f *fakeFleet) Find(context.Context, string, func(pve.Guest) bool) (pve.Guest, error) {
	return f.guest, nil
}
func (f *fakeFleet) Guests(context.Context) ([]pve.Guest, map[string]error) {
	return []pve.Guest{f.guest}, nil
}
func (f *fakeFleet) Listing(context.Context) (iter.Seq[pve.Guest], []pve.Node, map[string]error) {
	return slices.Values([]pve.Guest{f.guest}), nil, nil
}
func (f *fakeFleet) GuestStatus(_ context.Context, g pve.Guest) (pve.GuestStatus, error) {
	return pve.GuestStatus{Guest: g}, nil
}
func (f *fakeFleet) Do(context.Context, pve.Guest, pve.Action) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts++
	return "UPID:pve2:0000AAAA:0000BBBB:6560A000:qmshutdown:104:bot@pve!chat:", nil
}
func (f *fakeFleet) Wait(_ context.Context, _ pve.Guest, upid string) (pve.TaskResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, upid)
	return pve.TaskResult{UPID: upid, OK: true, Exit: "OK", Duration: 3 * time.Second}, nil
}
func (f *fakeFleet) Nodes(context.Context) ([]pve.Node, map[string]error)      { return nil, nil }
func (f *fakeFleet) Storage(context.Context) ([]pve.Storage, map[string]error) { return nil, nil }
func (f *fakeFleet) Tasks(context.Context, int) ([]pve.Task, map[string]error) {
	return f.tasks, nil
}
func (f *fakeFleet) ClusterNames() []string { return []string{"home"} }

type recNotify struct {
	mu      sync.Mutex
	replies []chat.Reply
	sources []string // chat.SourceFrom of each reply's context
}

func (r *recNotify) Reply(ctx context.Context, _ string, rep chat.Reply) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, rep)
	r.sources = append(r.sources, chat.SourceFrom(ctx))
	return nil
}

func (r *recNotify) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, rep := range r.replies {
		b.WriteString(rep.Title + " " + strings.Join(rep.Lines, " ") + "\n")
	}
	return b.String()
}

func TestRecoverOpenActions(t *testing.T) {
	started := time.Date(2026, 11, 27, 9, 5, 0, 0, time.UTC)
	guest := pve.Guest{Cluster: "home", VMID: 104, Name: "docker-host", Node: "pve2", Type: "qemu", Status: "running"}
	cases := []struct {
		name      string
		action    store.Action
		tasks     []pve.Task
		wantWait  string // the UPID followed, "" for none
		wantTold  string
		wantState string
	}{
		{
			name:     "sending, PVE never started a task: the user is told the bot cannot know",
			action:   store.Action{ID: "a1", State: store.ActionSending},
			wantTold: "无法确定",
		},
		{
			name:   "sending, PVE started the task: it is found and followed",
			action: store.Action{ID: "a2", State: store.ActionSending},
			tasks: []pve.Task{
				{UPID: "UPID:pve2:1:1:1:qmshutdown:105:x:", Node: "pve2", Type: "qmshutdown", ID: "105", Start: started.Add(time.Second)},  // another guest
				{UPID: "UPID:pve2:1:1:1:qmstart:104:x:", Node: "pve2", Type: "qmstart", ID: "104", Start: started.Add(time.Second)},        // another action
				{UPID: "UPID:pve2:1:1:1:qmshutdown:104:old:", Node: "pve2", Type: "qmshutdown", ID: "104", Start: started.Add(-time.Hour)}, // before it
				{UPID: "UPID:pve2:2:2:2:qmshutdown:104:x:", Node: "pve2", Type: "qmshutdown", ID: "104", Start: started.Add(time.Second)},
			},
			wantWait: "UPID:pve2:2:2:2:qmshutdown:104:x:",
			wantTold: "已关机",
		},
		{
			name:     "sent with its UPID: followed to the result",
			action:   store.Action{ID: "a3", State: store.ActionSent, UPID: "UPID:pve2:3:3:3:qmshutdown:104:x:"},
			wantWait: "UPID:pve2:3:3:3:qmshutdown:104:x:",
			wantTold: "已关机",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			a := tc.action
			a.User, a.Action, a.Cluster, a.Node, a.GuestType, a.VMID, a.Started, a.MessageKey = "lisi", "shutdown", "home", "pve2", "qemu", 104, started, "m1"
			a.Source = "console"
			if _, err := st.BeginAction(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if a.UPID != "" {
				if err := st.ActionSent(context.Background(), a.ID, a.UPID); err != nil {
					t.Fatal(err)
				}
			}
			fleet := &fakeFleet{guest: guest, tasks: tc.tasks}
			note := &recNotify{}
			cfg := config.Default()
			d := New(cfg, Options{Fleet: fleet, Store: st, Notify: note})
			d.Recover(context.Background())
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if fleet.posts != 0 {
				t.Errorf("Recover POSTed %d times; it must never send an action again", fleet.posts)
			}
			if got := strings.Join(note.sources, ","); got != "console" {
				t.Errorf("told the user in %q, want the console the action came from", got)
			}
			if got := strings.Join(fleet.waits, ","); got != tc.wantWait {
				t.Errorf("followed %q, want %q", got, tc.wantWait)
			}
			if told := note.text(); !strings.Contains(told, tc.wantTold) || !strings.Contains(told, "docker-host") {
				t.Errorf("told %q, want it to name docker-host and contain %q", told, tc.wantTold)
			}
			got, err := st.GetAction(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != store.ActionDone {
				t.Errorf("action state = %s, want done", got.State)
			}
			if open, _ := st.OpenActions(context.Background()); len(open) != 0 {
				t.Errorf("open actions after Recover: %d", len(open))
			}
		})
	}
}

// failingFleet answers a POST or a task with PVE's words.
type failingFleet struct {
	fakeFleet
	doErr error
	exit  string
}

func (f *failingFleet) Do(ctx context.Context, g pve.Guest, a pve.Action) (string, error) {
	if f.doErr != nil {
		f.mu.Lock()
		f.posts++
		f.mu.Unlock()
		return "", f.doErr
	}
	return f.fakeFleet.Do(ctx, g, a)
}

func (f *failingFleet) Wait(_ context.Context, _ pve.Guest, upid string) (pve.TaskResult, error) {
	return pve.TaskResult{UPID: upid, OK: false, Exit: f.exit}, nil
}

// A guest that reached the wanted state between the bot's read and its POST: PVE's
// "already running" / "not running" reads as "already", not as a failure.
func TestAlreadyFromPVEAnswer(t *testing.T) {
	cases := []struct {
		name, text string
		guest      pve.Guest
		doErr      error
		exit       string
		want       string
	}{
		{"qemu start: the task fails", "vm start docker-host", pve.Guest{Status: "stopped", Type: "qemu"}, nil, "VM 104 already running", "当前运行中，无需操作"},
		{"lxc start: the POST fails", "vm start docker-host", pve.Guest{Status: "stopped", Type: "lxc"},
			&pve.Error{Kind: pve.KindPVE, Status: 500, Reason: "CT 104 already running"}, "", "当前运行中，无需操作"},
		{"a real failure stays a failure", "vm start docker-host", pve.Guest{Status: "stopped", Type: "qemu"}, nil, "you can't start a vm if it's a template", "失败"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			g := tc.guest
			g.Cluster, g.VMID, g.Name, g.Node = "home", 104, "docker-host", "pve2"
			fleet := &failingFleet{fakeFleet: fakeFleet{guest: g}, doErr: tc.doErr, exit: tc.exit}
			cfg := config.Default()
			cfg.Users = []config.User{{ID: "lisi", Role: "operator"}}
			cfg.RateLimit.PerUser = config.Rate{}
			d := New(cfg, Options{Fleet: fleet, Store: st})
			reps := d.Handle(context.Background(), chat.Message{ID: "m-" + tc.name, User: "lisi", Kind: chat.KindText, Text: tc.text})
			if len(reps) != 1 {
				t.Fatalf("replies = %d", len(reps))
			}
			if got := reps[0].Title; !strings.Contains(got, tc.want) {
				t.Errorf("reply %q, want it to contain %q", got, tc.want)
			}
			if fleet.posts != 1 {
				t.Errorf("POSTs = %d, want 1", fleet.posts)
			}
		})
	}
}

// Observe hears every message once, named by its verb, without a second parse.
func TestObserveNamesMessages(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "lisi", Role: "viewer"}}
	var names []string
	d := New(cfg, Options{Fleet: &fakeFleet{}, Store: st, Observe: func(name string, _ []chat.Reply) { names = append(names, name) }})
	for i, m := range []chat.Message{
		{Kind: chat.KindText, Text: "帮助"},
		{Kind: chat.KindMenu, EventKey: "vm list"},
		{Kind: chat.KindText, Text: "make coffee"},
		{Kind: chat.KindCardClick, EventKey: "confirm:nothing"},
		{Kind: chat.KindEnter},
		{Kind: chat.KindText, Text: "vm list", User: "stranger"},
	} {
		m.ID = fmt.Sprint("m", i)
		if m.User == "" {
			m.User = "lisi"
		}
		d.Handle(context.Background(), m)
	}
	if got, want := strings.Join(names, ","), "help,list,unknown,card_click,enter,unknown"; got != want {
		t.Errorf("observed %s, want %s", got, want)
	}
}

// TestRecoverRollbackNeverResent: a rollback interrupted after its POST (state "sending", the
// task exists) is found among the node's tasks by its own task type and followed; it is not
// sent again, and the snapshot it was about is still known.
func TestRecoverRollbackNeverResent(t *testing.T) {
	started := time.Date(2026, 11, 27, 9, 5, 0, 0, time.UTC)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := store.Action{ID: "r1", State: store.ActionSending, User: "zhangsan", Action: "rollback", Cluster: "home", Node: "pve2",
		GuestType: "qemu", VMID: 104, Started: started, MessageKey: "m1", Params: "snap=clean_install"}
	if _, err := st.BeginAction(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	fleet := &fakeFleet{guest: pve.Guest{Cluster: "home", VMID: 104, Name: "docker-host", Node: "pve2", Type: "qemu"}, tasks: []pve.Task{
		{UPID: "UPID:pve2:1:1:1:qmshutdown:104:x:", Node: "pve2", Type: "qmshutdown", ID: "104", Start: started.Add(time.Second)},
		{UPID: "UPID:pve2:2:2:2:qmrollback:104:x:", Node: "pve2", Type: "qmrollback", ID: "104", Start: started.Add(time.Second)},
	}}
	note := &recNotify{}
	d := New(config.Default(), Options{Fleet: fleet, Store: st, Notify: note})
	d.Recover(context.Background())
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fleet.posts != 0 {
		t.Errorf("Recover sent %d requests; a rollback must never be sent twice", fleet.posts)
	}
	if got := strings.Join(fleet.waits, ","); got != "UPID:pve2:2:2:2:qmrollback:104:x:" {
		t.Errorf("followed %q, want the qmrollback task", got)
	}
	if told := note.text(); !strings.Contains(told, "已回滚") {
		t.Errorf("told %q, want the rollback's result", told)
	}
	for _, rep := range note.replies {
		for _, f := range rep.Fields {
			if f.Value == "clean_install" {
				return
			}
		}
	}
	t.Errorf("the result %+v does not name the snapshot", note.replies)
}
