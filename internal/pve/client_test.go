package pve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const upidStart = "UPID:pve1:0001A2B4:00C0FFEE:67A0B1C3:qmstart:101:chatbot@pve!bot:"

func taskPath(upid string) string { return "GET /nodes/pve1/tasks/" + upid + "/status" }

func taskBody(upid, status, exit string) string {
	s := `{"data":{"upid":"` + upid + `","node":"pve1","status":"` + status + `"`
	if exit != "" {
		s += `,"exitstatus":"` + exit + `"`
	}
	return s + "}}"
}

func TestWaitOutcomes(t *testing.T) {
	g := Guest{Cluster: "home", VMID: 101, Node: "pve1", Type: "qemu"}
	tests := []struct {
		name     string
		replies  []reply
		wantOK   bool
		wantExit string
		wantErr  Kind
	}{
		{"ok after running", []reply{ok(taskBody(upidStart, "running", "")), ok(taskBody(upidStart, "running", "")), ok(taskBody(upidStart, "stopped", "OK"))}, true, "OK", ""},
		{"warnings are success", []reply{ok(readFile(t, "testdata/samples/task_status_token_warnings.json"))}, true, "WARNINGS: 2", ""},
		{"failed task", []reply{ok(readFile(t, "testdata/samples/task_status_token_failed.json"))}, false, "VM 101 already running", ""},
		{"recorded ok", []reply{ok(readFile(t, "testdata/recorded/7_GET_nodes_NODE_tasks_UPID_status__stopped_ok.json"))}, true, "OK", ""},
		{"recorded interrupted", []reply{ok(readFile(t, "testdata/recorded/7_GET_nodes_NODE_tasks_UPID_status__stopped_interrupted.json"))}, false, "interrupted by signal", ""},
		{"one 595 blip", []reply{{status: 595, reason: "No route to host"}, ok(taskBody(upidStart, "stopped", "OK"))}, true, "OK", ""},
		{"token revoked", []reply{{status: 401, reason: "no such token"}}, false, "", KindTokenRejected},
		{"never ends", []reply{ok(taskBody(upidStart, "running", ""))}, false, "", KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newFakeRT(nil)
			rt.routes[taskPath(upidStart)] = tt.replies
			c := fakeClient(t, rt)
			c.o.TaskTimeout = 10 * time.Second
			if tt.wantErr == KindTimeout {
				c.o.TaskTimeout = 50 * time.Millisecond
			}
			res, err := c.Wait(context.Background(), g, upidStart)
			if tt.wantErr != "" {
				if !IsKind(err, tt.wantErr) {
					t.Fatalf("got %v, want kind %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if res.OK != tt.wantOK || res.Exit != tt.wantExit || res.UPID != upidStart {
				t.Errorf("got %+v, want OK %v exit %q", res, tt.wantOK, tt.wantExit)
			}
			if tt.wantOK && res.FinalState != "running" {
				t.Errorf("got final state %q, want running", res.FinalState)
			}
		})
	}
}

// An HA task ends when the request is written down; Wait reports the guest's state at that
// moment and leaves the following to the caller.
func TestWaitHATask(t *testing.T) {
	const upid = "UPID:pve1:0001A2B4:00C0FFEE:67A0B1C3:hastart:101:chatbot@pve!bot:"
	g := Guest{Cluster: "home", VMID: 101, Node: "pve1", Type: "qemu", HAState: "started"}
	status := func(s string) reply {
		return ok(`{"data":{"status":"` + s + `","qmpstatus":"` + s + `","ha":{"managed":1,"state":"started"}}}`)
	}
	tests := []struct {
		name        string
		status      reply
		wantState   string
		wantSettled bool
	}{
		{"already there", status("running"), "running", true},
		{"not yet", status("stopped"), "stopped", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newFakeRT(nil)
			rt.routes[taskPath(upid)] = []reply{ok(taskBody(upid, "stopped", "OK"))}
			rt.routes["GET /nodes/pve1/qemu/101/status/current"] = []reply{tt.status}
			c := fakeClient(t, rt)
			res, err := c.Wait(context.Background(), g, upid)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || !res.HA || res.FinalState != tt.wantState || res.Settled != tt.wantSettled {
				t.Errorf("got %+v, want HA, state %q settled %v", res, tt.wantState, tt.wantSettled)
			}
		})
	}
}

// A task that failed in run_command says only "exit code 255"; the reason is read from its log.
func TestWaitReadsFailedTaskLog(t *testing.T) {
	const upid = "UPID:pve1:0001A2B4:00C0FFEE:67A0B1C3:hastop:102:chatbot@pve!bot:"
	g := Guest{Cluster: "home", VMID: 102, Node: "pve1", Type: "qemu"}
	rt := newFakeRT(nil)
	rt.routes[taskPath(upid)] = []reply{ok(taskBody(upid, "stopped", "command 'ha-manager crm-command stop vm:102 60' failed: exit code 255"))}
	rt.routes["GET /nodes/pve1/tasks/"+upid+"/log"] = []reply{ok(`{"data":[{"n":1,"t":"service 'vm:102' in error state, must be disabled and fixed first"},` +
		`{"n":2,"t":"TASK ERROR: command 'ha-manager crm-command stop vm:102 60' failed: exit code 255"}],"total":2}`)}
	c := fakeClient(t, rt)
	res, err := c.Wait(context.Background(), g, upid)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Reason != "service 'vm:102' in error state, must be disabled and fixed first" {
		t.Errorf("got %+v, want the log's reason", res)
	}
}

func TestDoIsOnePost(t *testing.T) {
	g := Guest{Cluster: "home", VMID: 101, Node: "pve1", Type: "qemu"}
	tests := []struct {
		name    string
		reply   reply
		wantErr Kind
	}{
		{"accepted", ok(`{"data":"` + upidStart + `"}`), ""},
		{"refused 500", reply{status: 500, reason: "VM 101 not running"}, KindPVE},
		{"no quorum", reply{status: 500, reason: "cluster not ready - no quorum?"}, KindNoQuorum},
		{"forbidden", reply{status: 403, reason: "Permission check failed (/vms/101, VM.PowerMgmt)"}, KindPermission},
		{"595", reply{status: 595, reason: "No route to host"}, KindNodeUnreachable},
		{"401", reply{status: 401, reason: "invalid token value!"}, KindTokenRejected},
		{"no upid", ok(`{"data":null}`), KindPVE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "POST /nodes/pve1/qemu/101/status/reboot"
			rt := newFakeRT(map[string]reply{key: tt.reply})
			upid, err := fakeClient(t, rt).Do(context.Background(), g, ActionReboot)
			if got := rt.count(key); got != 1 {
				t.Errorf("got %d POSTs, want exactly 1", got)
			}
			if tt.wantErr == "" {
				if err != nil || upid != upidStart {
					t.Errorf("got %q, %v; want %q", upid, err, upidStart)
				}
				return
			}
			if !IsKind(err, tt.wantErr) {
				t.Errorf("got %v, want kind %s", err, tt.wantErr)
			}
		})
	}
}

func TestDoRejectsBeforeSending(t *testing.T) {
	rt := newFakeRT(nil)
	c := fakeClient(t, rt)
	tests := []struct {
		g    Guest
		a    Action
		want Kind
	}{
		{Guest{VMID: 102, Node: "pve1", Type: "lxc"}, ActionReset, KindUnsupported},
		{Guest{VMID: 102, Node: "pve1", Type: "qemu"}, Action("migrate"), KindUnsupported},
		{Guest{VMID: 102, Type: "qemu"}, ActionStart, KindPVE},
		{Guest{VMID: 102, Node: "pve1", Type: "openvz"}, ActionStart, KindPVE},
	}
	for _, tt := range tests {
		if _, err := c.Do(context.Background(), tt.g, tt.a); !IsKind(err, tt.want) {
			t.Errorf("Do(%+v, %s): got %v, want kind %s", tt.g, tt.a, err, tt.want)
		}
	}
	if len(rt.calls) != 0 {
		t.Errorf("got requests %v, want none", rt.calls)
	}
}

func TestGuestCache(t *testing.T) {
	body := readFile(t, "testdata/samples/cluster_resources_quirks.json")
	rt := newFakeRT(map[string]reply{
		"GET /cluster/resources":                ok(body),
		"POST /nodes/pve1/qemu/101/status/stop": ok(`{"data":"` + upidStart + `"}`),
	})
	c := fakeClient(t, rt)
	var now atomic.Int64
	c.o.Now = func() time.Time { return time.Unix(now.Load(), 0) }
	c.o.GuestCacheTTL = 3 * time.Second
	ctx := context.Background()
	gs, _ := c.Guests(ctx)
	gs[0].Name = "mutated"
	gs2, _ := c.Guests(ctx)
	if gs2[0].Name == "mutated" {
		t.Error("caller's change reached the cache")
	}
	if got := rt.count("GET /cluster/resources"); got != 1 {
		t.Errorf("got %d lists within the TTL, want 1", got)
	}
	now.Store(4)
	_, _ = c.Guests(ctx)
	if got := rt.count("GET /cluster/resources"); got != 2 {
		t.Errorf("got %d lists after the TTL, want 2", got)
	}
	_, _ = c.Do(ctx, Guest{VMID: 101, Node: "pve1", Type: "qemu"}, ActionStop)
	_, _ = c.Guests(ctx)
	if got := rt.count("GET /cluster/resources"); got != 3 {
		t.Errorf("got %d lists after an action, want 3 (cache dropped)", got)
	}
}

func testFleet(t *testing.T, bodies map[string]reply) *Fleet {
	t.Helper()
	o := testOptions(t)
	var specs []clusterSpec
	rts := map[string]*fakeRT{}
	for name, r := range bodies {
		s := testSpec()
		s.Name = name
		specs = append(specs, s)
		rts[name] = newFakeRT(map[string]reply{"GET /cluster/resources": r, "GET /version": ok(`{"data":{"version":"8.2.4"}}`),
			"GET /access/permissions": ok(`{"data":{"/":{"VM.Audit":1,"VM.PowerMgmt":1,"Sys.Audit":1,"Datastore.Audit":1}}}`)})
	}
	slices.SortFunc(specs, func(a, b clusterSpec) int { return strings.Compare(a.Name, b.Name) })
	f, err := newFleet(specs, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.clients {
		c.hc.Transport = reasonTransport{rts[c.name]}
	}
	return f
}

func resources(gs ...string) reply {
	var parts []string
	for i, g := range gs {
		parts = append(parts, fmt.Sprintf(`{"id":"qemu/%d","vmid":%d,"type":"qemu","node":"pve1","status":"running","name":%q}`, 100+i, 100+i, g))
	}
	return ok(`{"data":[` + strings.Join(parts, ",") + `]}`)
}

func TestFind(t *testing.T) {
	f := testFleet(t, map[string]reply{
		"home": resources("homeassistant", "pihole", "nas", "media-jellyfin", "media-sonarr"),
		"lab":  resources("k8s-1", "Pihole"),
		"down": {status: 401, reason: "invalid token value!"},
	})
	tests := []struct {
		target   string
		wantRef  string
		wantErr  string // ambiguous | notfound | kind:…
		wantList []string
	}{
		{"home/100", "home/100", "", nil},
		{"100", "", "ambiguous", []string{"home/100", "lab/100"}},
		{"homeassistant", "home/100", "", nil},
		{"HomeAssistant", "home/100", "", nil},
		{"home", "home/100", "", nil},                                // unique prefix
		{"jelly", "home/103", "", nil},                               // unique substring
		{"media", "", "ambiguous", []string{"home/103", "home/104"}}, // prefix of two
		{"pihole", "", "ambiguous", []string{"home/101", "lab/101"}}, // exact name in two clusters
		{"lab/pihole", "lab/101", "", nil},                           // cluster picks one
		{"Lab/k8s", "lab/100", "", nil},                              // cluster names are case-insensitive
		{"nass", "", "notfound", []string{"home/102"}},               // close match
		{"zzz", "", "notfound", nil},
		{"nope/1", "", "notfound", nil},
		{"down/1", "", "kind:" + string(KindTokenRejected), nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			g, err := f.Find(context.Background(), tt.target, nil)
			var amb *AmbiguousError
			var nf *NotFoundError
			switch {
			case tt.wantErr == "":
				if err != nil || g.Ref() != tt.wantRef {
					t.Errorf("got %s, %v; want %s", g.Ref(), err, tt.wantRef)
				}
			case tt.wantErr == "ambiguous":
				if !errors.As(err, &amb) || !sameRefs(amb.Matches, tt.wantList) {
					t.Errorf("got %v, want ambiguous %v", err, tt.wantList)
				}
			case tt.wantErr == "notfound":
				if !errors.As(err, &nf) || !sameRefs(nf.Close, tt.wantList) {
					t.Errorf("got %v, want not found, close %v", err, tt.wantList)
				}
				if nf != nil && tt.target == "zzz" && nf.Failed["down"] == nil {
					t.Errorf("got Failed %v, want the down cluster's reason", nf.Failed)
				}
			default:
				if !IsKind(err, Kind(strings.TrimPrefix(tt.wantErr, "kind:"))) {
					t.Errorf("got %v, want %s", err, tt.wantErr)
				}
			}
		})
	}
}

func sameRefs(gs []Guest, want []string) bool {
	got := make([]string, 0, len(gs))
	for _, g := range gs {
		got = append(got, g.Ref())
	}
	slices.Sort(got)
	return slices.Equal(got, want) || (len(got) == 0 && len(want) == 0)
}

func TestFleetGuestsPartial(t *testing.T) {
	f := testFleet(t, map[string]reply{"home": resources("a", "b"), "down": {status: 595, reason: "No route to host"}})
	gs, errs := f.Guests(context.Background())
	if len(gs) != 2 || len(errs) != 1 || !IsKind(errs["down"], KindNodeUnreachable) {
		t.Errorf("got %d guests, errors %v; want 2 guests and down's 595", len(gs), errs)
	}
}

func TestFleetStartRetriesUntilHealthy(t *testing.T) {
	f := testFleet(t, map[string]reply{"home": resources("a")})
	rt := f.clients[0].hc.Transport.(reasonTransport).base.(*fakeRT)
	rt.routes["GET /version"] = []reply{{status: 401, reason: "invalid token value!"}, {status: 401, reason: "invalid token value!"}, ok(`{"data":{"version":"8.2.4"}}`)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Start(ctx)
	deadline := time.After(30 * time.Second) // a cap for a hang, not a speed

	for {
		if sc, ok := f.SelfCheck("home"); ok {
			if sc.Version != "8.2.4" {
				t.Errorf("got version %q", sc.Version)
			}
			break
		}
		select {
		case <-deadline:
			t.Fatal("start-up check never succeeded")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if got := rt.count("GET /version"); got != 3 {
		t.Errorf("got %d version calls, want 3 (two failures, one success)", got)
	}
	if lastOK, err := f.Health("home"); err != nil || lastOK.IsZero() {
		t.Errorf("got health %v, %v; want healthy", lastOK, err)
	}
}

func TestHealthReportsFailure(t *testing.T) {
	f := testFleet(t, map[string]reply{"home": {status: 401, reason: "invalid token value!"}})
	_, _ = f.Guests(context.Background())
	if _, err := f.Health("home"); !IsKind(err, KindTokenRejected) {
		t.Errorf("got %v, want token rejected", err)
	}
	if _, err := f.Health("nope"); err == nil {
		t.Error("got nil for an unknown cluster")
	}
}
