package commands

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// gateFleet holds every task until the test releases it, and records how many guests of
// one node were in flight at once and in which order they were sent.
type gateFleet struct {
	cardFleet
	mu       sync.Mutex
	order    []int
	inflight map[string]int
	most     map[string]int
	gate     chan struct{}
}

func (f *gateFleet) Find(_ context.Context, target string, _ func(pve.Guest) bool) (pve.Guest, error) {
	_, id, _ := strings.Cut(target, "/")
	for _, g := range f.guests {
		if strconv.Itoa(g.VMID) == id {
			return g, nil
		}
	}
	return pve.Guest{}, &pve.NotFoundError{Target: target}
}

func (f *gateFleet) Do(_ context.Context, g pve.Guest, _ pve.Action) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.order = append(f.order, g.VMID)
	f.inflight[g.Node]++
	f.most[g.Node] = max(f.most[g.Node], f.inflight[g.Node])
	return "UPID:" + g.Node + ":1:1:1:qmstart:" + strconv.Itoa(g.VMID) + ":x:", nil
}

func (f *gateFleet) Wait(ctx context.Context, g pve.Guest, upid string) (pve.TaskResult, error) {
	select {
	case <-f.gate:
	case <-ctx.Done():
		return pve.TaskResult{}, ctx.Err()
	}
	f.mu.Lock()
	f.inflight[g.Node]--
	f.mu.Unlock()
	return pve.TaskResult{UPID: upid, OK: true, Exit: "OK"}, nil
}

func (f *gateFleet) sentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.order)
}

// A bulk start runs in ascending startup order, one order group after another, and at most
// BulkPerNode guests of one node at once.
func TestBulkStartOrderAndBound(t *testing.T) {
	f := &gateFleet{inflight: map[string]int{}, most: map[string]int{}, gate: make(chan struct{})}
	f.orders = map[int]int{}
	for i := 0; i < 5; i++ { // 201..205 on pve1, order 1 (one group)
		f.guests = append(f.guests, pve.Guest{Cluster: "home", VMID: 201 + i, Name: "web" + strconv.Itoa(i), Node: "pve1", Type: "qemu", Status: "stopped", Tags: []string{"lab"}})
		f.orders[201+i] = 1
	}
	f.guests = append(f.guests,
		pve.Guest{Cluster: "home", VMID: 301, Name: "db", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}},
		pve.Guest{Cluster: "home", VMID: 302, Name: "late", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}})
	f.orders[301] = 0 // first
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "op", Role: "operator"}}
	note := &recNotify{}
	d := New(cfg, Options{Fleet: f, Store: st, Notify: note, BulkPerNode: 2})
	card := say(d, "op", "启动 tag:lab")
	if len(card) != 1 || card[0].Kind != chat.ReplyConfirm {
		t.Fatalf("replies %+v, want one confirmation card", card)
	}
	say(d, "op", "确认 "+card[0].Code)
	release := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.sentCount() < want {
			if time.Now().After(deadline) {
				t.Fatalf("sent %d, want %d", f.sentCount(), want)
			}
			time.Sleep(time.Millisecond)
		}
		f.gate <- struct{}{}
	}
	release(1) // db (order 0) alone
	for n := 3; n <= 7; n++ {
		release(min(n, 6)) // two web at once, a third only when one ended
	}
	release(7)
	waitNote(t, note, "成功 7")
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, id := range f.order {
		got += strconv.Itoa(id) + " "
	}
	if got != "301 201 202 203 204 205 302 " {
		t.Errorf("start order %q, want 301 (order 0), then 201-205 (order 1), then 302 (no order)", got)
	}
	if f.most["pve1"] != 2 {
		t.Errorf("at most %d guests of pve1 at once, want 2", f.most["pve1"])
	}
}

// haFleet hands shutdowns to an "HA manager" that stops the guest only after a few reads.
type haFleet struct {
	cardFleet
	mu    sync.Mutex
	reads int
}

func (f *haFleet) Find(context.Context, string, func(pve.Guest) bool) (pve.Guest, error) {
	return f.guests[0], nil
}

func (f *haFleet) GuestStatus(_ context.Context, g pve.Guest) (pve.GuestStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.reads >= 4 {
		g.Status = "stopped"
	}
	return pve.GuestStatus{Guest: g, HAManaged: true}, nil
}

func (f *haFleet) Do(context.Context, pve.Guest, pve.Action) (string, error) {
	return "UPID:pve1:1:1:1:hastop:102:x:", nil
}

func (f *haFleet) Wait(_ context.Context, _ pve.Guest, upid string) (pve.TaskResult, error) {
	return pve.TaskResult{UPID: upid, OK: true, Exit: "OK", HA: true, FinalState: "running"}, nil
}

// An HA guest of a bulk counts as done only once the HA manager has acted, not when its
// hastop task ended.
func TestBulkHAGuestFollowedToItsState(t *testing.T) {
	f := &haFleet{}
	f.guests = []pve.Guest{{Cluster: "home", VMID: 102, Name: "homeassistant", Node: "pve1", Type: "qemu", Status: "running", HAState: "started", Tags: []string{"lab"}}}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "op", Role: "operator"}}
	note := &recNotify{}
	d := New(cfg, Options{Fleet: f, Store: st, Notify: note, HAPoll: time.Millisecond})
	card := say(d, "op", "关机 tag:lab")
	say(d, "op", "确认 "+card[0].Code)
	waitNote(t, note, "成功 1")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads < 4 {
		t.Errorf("summary sent after %d state reads, want it only once the guest was seen stopped", f.reads)
	}
}
