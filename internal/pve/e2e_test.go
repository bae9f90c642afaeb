package pve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

const (
	e2eToken  = "chatbot@pve!bot"
	e2eSecret = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
)

var botPrivs = []string{"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit"}

var formats = []struct {
	name string
	f    pvetest.ErrorFormat
}{{"legacy", pvetest.Legacy}, {"modern", pvetest.Modern}}

// fake starts a pvetest server with two nodes and the bot's token.
func fake(t testing.TB, o pvetest.Options, acl map[string][]string) *pvetest.Server {
	t.Helper()
	if o.TaskDuration == 0 {
		o.TaskDuration = 3 * time.Millisecond
	}
	s := pvetest.New(o)
	t.Cleanup(s.Close)
	s.AddNode(pvetest.Node{Name: "pve1", Online: true, MaxCPU: 8, MaxMem: 32 << 30, MaxDisk: 100 << 30})
	s.AddNode(pvetest.Node{Name: "pve2", Online: true, MaxCPU: 8, MaxMem: 32 << 30, MaxDisk: 100 << 30})
	if acl == nil {
		acl = map[string][]string{"/": botPrivs}
	}
	s.AddToken(e2eToken, e2eSecret, acl)
	return s
}

func e2eClient(t testing.TB, s *pvetest.Server, edit func(*clusterSpec, *Options)) *Client {
	t.Helper()
	spec := clusterSpec{Name: "home", BaseURL: s.URL(), TokenID: e2eToken, TokenSecret: e2eSecret}
	o := Options{Timeout: 2 * time.Second, TaskTimeout: 2 * time.Second, PollInterval: 2 * time.Millisecond}
	if tt, ok := t.(*testing.T); ok {
		o.Logger = zaptestLogger(tt)
	}
	if edit != nil {
		edit(&spec, &o)
	}
	c, err := newClient(spec, o)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	return c
}

// TestActionsEveryState runs every action on QEMU and LXC in every state, on both
// error formats, and checks the outcome PVE gives (docs/pve.md §2.9) and that each
// action was POSTed exactly once.
func TestActionsEveryState(t *testing.T) {
	type want struct {
		syncErr string // Do fails at once with this reason (500)
		taskErr string // the task fails with this exit text
		status  string // guest status afterwards
		paused  bool
		noPost  bool // refused before sending
	}
	ok := func(status string, paused bool) want { return want{status: status, paused: paused} }
	tests := map[string]map[string]want{} // "type/state" -> action -> want
	tests["qemu/running"] = map[string]want{
		"start": {taskErr: "VM 101 already running", status: "running"}, "stop": ok("stopped", false), "shutdown": ok("stopped", false),
		"reboot": ok("running", false), "reset": ok("running", false), "suspend": ok("running", true), "resume": ok("running", false)}
	tests["qemu/stopped"] = map[string]want{
		"start": ok("running", false), "stop": ok("stopped", false), "shutdown": ok("stopped", false),
		"reboot": {syncErr: "VM 101 not running", status: "stopped"}, "reset": {syncErr: "VM 101 not running", status: "stopped"},
		"suspend": {syncErr: "VM 101 not running", status: "stopped"}, "resume": {syncErr: "VM 101 not running", status: "stopped"}}
	tests["qemu/paused"] = map[string]want{
		"start": {taskErr: "VM 101 already running", status: "running", paused: true}, "stop": ok("stopped", false),
		"shutdown": {syncErr: "VM is paused - cannot shutdown", status: "running", paused: true},
		"reboot":   {syncErr: "VM is paused - cannot shutdown", status: "running", paused: true},
		"reset":    ok("running", false), "suspend": ok("running", true), "resume": ok("running", false)}
	// A CT suspend is a CRIU checkpoint that stops it; resume restores a stopped CT.
	tests["lxc/running"] = map[string]want{
		"start": {syncErr: "CT 101 already running", status: "running"}, "stop": ok("stopped", false), "shutdown": ok("stopped", false),
		"reboot": ok("running", false), "reset": {noPost: true, status: "running"}, "suspend": ok("stopped", false),
		"resume": {syncErr: "CT 101 already running", status: "running"}}
	tests["lxc/stopped"] = map[string]want{
		"start": ok("running", false), "stop": {syncErr: "CT 101 not running", status: "stopped"}, "shutdown": {syncErr: "CT 101 not running", status: "stopped"},
		"reboot": {syncErr: "VM 101 not running", status: "stopped"}, "reset": {noPost: true, status: "stopped"},
		"suspend": {syncErr: "CT 101 not running", status: "stopped"}, "resume": ok("running", false)}

	for _, format := range formats {
		for _, typState := range []string{"qemu/running", "qemu/stopped", "qemu/paused", "lxc/running", "lxc/stopped"} {
			for _, a := range Actions {
				w := tests[typState][string(a)]
				t.Run(format.name+"/"+typState+"/"+string(a), func(t *testing.T) {
					typ, state, _ := strings.Cut(typState, "/")
					s := fake(t, pvetest.Options{ErrorFormat: format.f}, nil)
					status := state
					if state == "paused" {
						status = "running"
					}
					s.AddGuest(pvetest.Guest{VMID: 101, Name: "g101", Node: "pve1", Type: typ, Status: status, Paused: state == "paused", MaxCPU: 1, MaxMem: 1 << 30})
					c := e2eClient(t, s, nil)
					ctx := context.Background()
					g, err := c.find(ctx, 101)
					if err != nil {
						t.Fatal(err)
					}
					upid, err := c.Do(ctx, g, a)
					path := "/nodes/pve1/" + typ + "/101/status/" + string(a)
					wantPosts := 1
					if w.noPost {
						wantPosts = 0
					}
					if got := s.Count("POST", path); got != wantPosts {
						t.Errorf("got %d POSTs to %s, want %d", got, path, wantPosts)
					}
					switch {
					case w.noPost:
						if !IsKind(err, KindUnsupported) {
							t.Errorf("got %v, want unsupported", err)
						}
					case w.syncErr != "":
						var e *Error
						if !errors.As(err, &e) || e.Status != 500 || e.Reason != w.syncErr {
							t.Errorf("got %v, want 500 %q", err, w.syncErr)
						}
					default:
						if err != nil {
							t.Fatalf("Do: %v", err)
						}
						res, err := c.Wait(ctx, g, upid)
						if err != nil {
							t.Fatalf("Wait: %v", err)
						}
						if w.taskErr != "" {
							if res.OK || res.Exit != w.taskErr {
								t.Errorf("got %+v, want failed task %q", res, w.taskErr)
							}
						} else if !res.OK || res.Exit != "OK" {
							t.Errorf("got %+v, want OK", res)
						}
					}
					after, _ := s.Guest(101)
					if after.Status != w.status || after.Paused != w.paused {
						t.Errorf("got guest %s paused=%v, want %s paused=%v", after.Status, after.Paused, w.status, w.paused)
					}
					if got := s.Count("POST", ""); got != wantPosts {
						t.Errorf("got %d POSTs in all, want %d", got, wantPosts)
					}
				})
			}
		}
	}
}

// find looks a guest up by VMID through the client (test helper).
func (c *Client) find(ctx context.Context, vmid int) (Guest, error) {
	gs, err := c.Guests(ctx)
	if err != nil {
		return Guest{}, err
	}
	for _, g := range gs {
		if g.VMID == vmid {
			return g, nil
		}
	}
	return Guest{}, fmt.Errorf("vmid %d not listed", vmid)
}

func TestHAGuests(t *testing.T) {
	tests := []struct {
		action    Action
		from      string
		wantType  string
		wantState string
	}{
		{ActionStart, "stopped", "hastart", "running"},
		{ActionStop, "running", "hastop", "stopped"},
		{ActionShutdown, "running", "hastop", "stopped"},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			s := fake(t, pvetest.Options{HARound: -1, TaskDuration: -1}, nil)
			s.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Type: "qemu", Status: tt.from, HA: true})
			c := e2eClient(t, s, nil)
			ctx := context.Background()
			g, err := c.find(ctx, 102)
			if err != nil {
				t.Fatal(err)
			}
			if g.HAState == "" {
				t.Errorf("got no hastate for an HA guest")
			}
			upid, err := c.Do(ctx, g, tt.action)
			if err != nil {
				t.Fatal(err)
			}
			if u, _ := ParseUPID(upid); u.Type != tt.wantType {
				t.Errorf("got task type %q, want %q", u.Type, tt.wantType)
			}
			res, err := c.Wait(ctx, g, upid)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || !res.HA || res.FinalState != tt.from || res.Settled {
				t.Errorf("got %+v, want OK, HA, still %s, not settled", res, tt.from)
			}
			s.RunHARound() // the CRM takes the request up
			s.RunHARound() // the LRM carries it out
			st, err := c.GuestStatus(ctx, g)
			if err != nil || !st.HAManaged || st.Status != tt.wantState {
				t.Errorf("got status %+v, %v; want HA-managed %s", st, err, tt.wantState)
			}
		})
	}
	t.Run("error state", func(t *testing.T) {
		s := fake(t, pvetest.Options{HARound: -1, TaskDuration: -1}, nil)
		s.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Type: "qemu", Status: "running", HA: true})
		s.SetHAError(102)
		c := e2eClient(t, s, nil)
		ctx := context.Background()
		g, err := c.find(ctx, 102)
		if err != nil {
			t.Fatal(err)
		}
		upid, err := c.Do(ctx, g, ActionShutdown)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Wait(ctx, g, upid)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || !strings.Contains(res.Reason, "in error state, must be disabled and fixed first") {
			t.Errorf("got %+v, want the reason from the task log", res)
		}
	})
}

func TestFailuresAgainstFake(t *testing.T) {
	for _, format := range formats {
		t.Run(format.name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("no VM.PowerMgmt", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f}, map[string][]string{"/": {"VM.Audit"}})
				s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "stopped"})
				c := e2eClient(t, s, nil)
				g, err := c.find(ctx, 101)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Do(ctx, g, ActionStart)
				var e *Error
				if !errors.As(err, &e) || e.Kind != KindPermission || e.Path != "/vms/101" || e.Privilege != "VM.PowerMgmt" {
					t.Fatalf("got %v, want permission error on /vms/101 VM.PowerMgmt", err)
				}
				if want := "pve: home: start 101: permission denied: the token lacks VM.PowerMgmt on /vms/101"; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got %q, want it to start with %q", err, want)
				}
				if got := s.Count("POST", ""); got != 1 {
					t.Errorf("got %d POSTs, want 1", got)
				}
			})
			t.Run("revoked token", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f}, nil)
				s.RevokeToken(e2eToken)
				_, err := e2eClient(t, s, nil).Guests(ctx)
				if !IsKind(err, KindTokenRejected) || strings.Contains(err.Error(), e2eSecret) {
					t.Errorf("got %v, want token rejected without the secret", err)
				}
				if got := s.Count("GET", "/cluster/resources"); got != 1 {
					t.Errorf("got %d requests, want 1 (no retry on 401)", got)
				}
			})
			t.Run("offline node", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f, RRDAge: -1}, nil)
				s.AddGuest(pvetest.Guest{VMID: 105, Name: "dev", Node: "pve2", Status: "running"})
				s.SetNodeOnline("pve2", false)
				c := e2eClient(t, s, nil)
				g, err := c.find(ctx, 105)
				if err != nil {
					t.Fatal(err)
				}
				if g.Status != "unknown" || g.Name != "" {
					t.Errorf("got %+v, want status unknown and no name", g)
				}
				if _, err := c.GuestStatus(ctx, g); !IsKind(err, KindNodeUnreachable) {
					t.Errorf("got %v, want node unreachable", err)
				}
				_, err = c.Do(ctx, g, ActionStop)
				if !IsKind(err, KindNodeUnreachable) {
					t.Errorf("got %v, want node unreachable", err)
				}
				if got := s.Count("POST", ""); got != 1 {
					t.Errorf("got %d POSTs, want 1", got)
				}
				nodes, err := c.Nodes(ctx)
				if err != nil || len(nodes) != 2 || nodes[1].Status != "offline" {
					t.Errorf("got nodes %+v, %v; want pve2 offline", nodes, err)
				}
			})
			t.Run("no quorum", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f}, nil)
				s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "stopped"})
				s.SetQuorum(false)
				c := e2eClient(t, s, nil)
				g, err := c.find(ctx, 101)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Do(ctx, g, ActionStart); !IsKind(err, KindNoQuorum) {
					t.Errorf("got %v, want no quorum", err)
				}
			})
			t.Run("task never ends", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f}, nil)
				s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "running"})
				s.SetTaskResult(101, "reboot", pvetest.TaskNeverEnds)
				c := e2eClient(t, s, func(_ *clusterSpec, o *Options) { o.TaskTimeout = 50 * time.Millisecond })
				g, _ := c.find(ctx, 101)
				upid, err := c.Do(ctx, g, ActionReboot)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Wait(ctx, g, upid); !IsKind(err, KindTimeout) {
					t.Errorf("got %v, want timeout", err)
				}
				if got := s.Count("POST", ""); got != 1 {
					t.Errorf("got %d POSTs, want exactly 1", got)
				}
			})
			t.Run("failed task", func(t *testing.T) {
				s := fake(t, pvetest.Options{ErrorFormat: format.f}, nil)
				s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "running"})
				s.SetTaskResult(101, "shutdown", "VM quit/powerdown failed - got timeout")
				c := e2eClient(t, s, nil)
				g, _ := c.find(ctx, 101)
				upid, err := c.Do(ctx, g, ActionShutdown)
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.Wait(ctx, g, upid)
				if err != nil || res.OK || res.Exit != "VM quit/powerdown failed - got timeout" {
					t.Errorf("got %+v, %v; want the failure text", res, err)
				}
				if got := s.Count("POST", ""); got != 1 {
					t.Errorf("got %d POSTs, want exactly 1", got)
				}
			})
		})
	}
}

// waitGoroutines waits (bounded) until the goroutine count is back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a cap for a leak, not a speed: a busy machine is slow to end them
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("got %d goroutines, want %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHangTimesOut(t *testing.T) {
	s := fake(t, pvetest.Options{}, nil)
	s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "running"})
	ctx := context.Background()
	base := runtime.NumGoroutine()
	c := e2eClient(t, s, nil)
	g, err := c.find(ctx, 101)
	if err != nil {
		t.Fatal(err)
	}
	c.o.Timeout = 50 * time.Millisecond
	s.Hang(true)
	if _, err := c.Guests(context.Background()); err != nil {
		t.Errorf("got %v, want the cached list", err)
	}
	c.InvalidateGuests()
	if _, err := c.Guests(ctx); !IsKind(err, KindTimeout) {
		t.Errorf("got %v, want timeout", err)
	}
	if _, err := c.Do(ctx, g, ActionReboot); !IsKind(err, KindTimeout) {
		t.Errorf("got %v, want timeout", err)
	}
	if got := s.Count("POST", ""); got != 1 {
		t.Errorf("got %d POSTs, want exactly 1 (a timed-out POST is never re-sent)", got)
	}
	s.Hang(false)
	c.hc.CloseIdleConnections()
	waitGoroutines(t, base)
}

// deadAddr is a loopback address nothing listens on (a closed listener).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestEndpointsFallThrough(t *testing.T) {
	ctx := context.Background()
	t.Run("dead first node", func(t *testing.T) {
		s := fake(t, pvetest.Options{}, nil)
		s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "stopped"})
		c := e2eClient(t, s, func(sp *clusterSpec, _ *Options) {
			sp.BaseURL, sp.Endpoints = "http://"+deadAddr(t), []string{s.URL()}
		})
		g, err := c.find(ctx, 101)
		if err != nil {
			t.Fatalf("got %v, want the second endpoint's answer", err)
		}
		c.preferred.Store(0) // make the POST meet the dead node first too
		if _, err := c.Do(ctx, g, ActionStart); err != nil {
			t.Fatalf("got %v, want the POST to reach the second endpoint", err)
		}
		if got := s.Count("POST", ""); got != 1 {
			t.Errorf("got %d POSTs, want 1", got)
		}
	})
	t.Run("hanging first node keeps the POST", func(t *testing.T) {
		first := fake(t, pvetest.Options{}, nil)
		second := fake(t, pvetest.Options{}, nil)
		for _, s := range []*pvetest.Server{first, second} {
			s.AddGuest(pvetest.Guest{VMID: 101, Name: "a", Node: "pve1", Status: "stopped"})
		}
		c := e2eClient(t, first, func(sp *clusterSpec, _ *Options) { sp.Endpoints = []string{second.URL()} })
		g, err := c.find(ctx, 101)
		if err != nil {
			t.Fatal(err)
		}
		c.o.Timeout = 50 * time.Millisecond
		first.Hang(true)
		defer first.Hang(false)
		if _, err := c.Do(ctx, g, ActionStart); !IsKind(err, KindTimeout) {
			t.Errorf("got %v, want timeout", err)
		}
		if got, got2 := first.Count("POST", ""), second.Count("POST", ""); got != 1 || got2 != 0 {
			t.Errorf("got %d POSTs on the first node and %d on the second, want 1 and 0", got, got2)
		}
		// A read may move on after a timeout. The same timeout bounds the second node's
		// answer (a new TLS connection): generous, so that a busy machine still makes it.
		c.o.Timeout = 3 * time.Second
		c.InvalidateGuests()
		if _, err := c.Guests(ctx); err != nil {
			t.Errorf("got %v, want the second node's list", err)
		}
	})
}

func TestTLS(t *testing.T) {
	s := fake(t, pvetest.Options{TLS: true}, nil)
	fp := s.Fingerprint()
	caFile := filepath.Join(t.TempDir(), "pve-root-ca.pem")
	if err := os.WriteFile(caFile, s.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("AB:", 31) + "AB"
	tests := []struct {
		name    string
		edit    func(*clusterSpec)
		wantErr string // "" or a substring
	}{
		{"right fingerprint", func(sp *clusterSpec) { sp.Fingerprints = []string{fp} }, ""},
		{"fingerprint lower case without colons", func(sp *clusterSpec) {
			sp.Fingerprints = []string{strings.ToLower(strings.ReplaceAll(fp, ":", ""))}
		}, ""},
		{"one of several fingerprints", func(sp *clusterSpec) { sp.Fingerprints = []string{wrong, fp} }, ""},
		{"wrong fingerprint", func(sp *clusterSpec) { sp.Fingerprints = []string{wrong} }, "the server presented " + fp},
		{"ca file", func(sp *clusterSpec) { sp.CAFile = caFile }, ""},
		{"system roots", func(*clusterSpec) {}, "unknown authority"},
		{"insecure", func(sp *clusterSpec) { sp.Insecure = true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e2eClient(t, s, func(sp *clusterSpec, _ *Options) { tt.edit(sp) })
			v, err := c.Version(context.Background())
			if tt.wantErr == "" {
				if err != nil || v == "" {
					t.Errorf("got %q, %v; want the version", v, err)
				}
				return
			}
			if !IsKind(err, KindTLS) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want a TLS error containing %q", err, tt.wantErr)
			}
			var e *Error
			if errors.As(err, &e) && strings.Contains(tt.wantErr, "presented") && e.Presented != fp {
				t.Errorf("got presented %q, want %q", e.Presented, fp)
			}
		})
	}
	t.Run("renewed certificate breaks the pin, not the CA", func(t *testing.T) {
		pinned := e2eClient(t, s, func(sp *clusterSpec, _ *Options) { sp.Fingerprints = []string{fp} })
		ca := e2eClient(t, s, func(sp *clusterSpec, _ *Options) { sp.CAFile = caFile })
		s.RotateCertificate()
		pinned.hc.CloseIdleConnections()
		ca.hc.CloseIdleConnections()
		if _, err := pinned.Version(context.Background()); !IsKind(err, KindTLS) {
			t.Errorf("pinned: got %v, want a TLS error", err)
		}
		if _, err := ca.Version(context.Background()); err != nil {
			t.Errorf("ca: got %v, want success", err)
		}
	})
}

func TestNewClientRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*clusterSpec)
	}{
		{"bad token id", func(s *clusterSpec) { s.TokenID = "chatbot" }},
		{"bad token name", func(s *clusterSpec) { s.TokenID = "chatbot@pve!1x" }},
		{"no secret", func(s *clusterSpec) { s.TokenSecret = "" }},
		{"bad url", func(s *clusterSpec) { s.BaseURL = "pve:8006" }},
		{"user info in url", func(s *clusterSpec) { s.BaseURL = "https://root:pw@pve:8006" }},
		{"bad fingerprint", func(s *clusterSpec) { s.Fingerprints = []string{"AB:CD"} }},
		{"two tls modes", func(s *clusterSpec) { s.Fingerprints = []string{strings.Repeat("ab", 32)}; s.Insecure = true }},
		{"missing ca file", func(s *clusterSpec) { s.CAFile = "/nonexistent/ca.pem" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.edit(&s)
			_, err := newClient(s, Options{})
			if err == nil || strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "pw@") {
				t.Errorf("got %v, want an error without secrets", err)
			}
		})
	}
}

// TestListThenStartByName counts the requests of the common command
// "启动 jellyfin": one list, one POST, then task polls only.
func TestListThenStartByName(t *testing.T) {
	s := fake(t, pvetest.Options{}, nil)
	pvetest.SeedHomeLab(s)
	s.AddToken(e2eToken, e2eSecret, map[string][]string{"/": botPrivs})
	o := Options{Timeout: time.Second, PollInterval: 2 * time.Millisecond, Logger: zaptestLogger(t)}
	f, err := newFleet([]clusterSpec{{Name: "home", BaseURL: s.URL(), TokenID: e2eToken, TokenSecret: e2eSecret}}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g, err := f.Find(ctx, "dev-ub", nil)
	if err != nil {
		t.Fatal(err)
	}
	upid, err := f.Do(ctx, g, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Wait(ctx, g, upid)
	if err != nil || !res.OK {
		t.Fatalf("got %+v, %v", res, err)
	}
	reqs := s.Requests()
	polls := s.Count("GET", "/nodes/"+g.Node+"/tasks/")
	if got := s.Count("GET", "/cluster/resources"); got != 1 {
		t.Errorf("got %d lists, want 1", got)
	}
	if got := s.Count("POST", ""); got != 1 {
		t.Errorf("got %d POSTs, want 1", got)
	}
	if got := s.Count("GET", "/access/permissions"); got != 1 {
		t.Errorf("got %d permission reads, want 1 (may the token read pools?)", got)
	}
	if polls < 1 || len(reqs) != 3+polls {
		t.Errorf("got %d requests (%d polls), want 1 list + 1 permission read + 1 POST + polls", len(reqs), polls)
	}
}

func TestCheckAgainstFake(t *testing.T) {
	s := fake(t, pvetest.Options{}, map[string][]string{"/vms": {"VM.Audit"}})
	sc, err := e2eClient(t, s, nil).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range sc.Features {
		if !f.Optional {
			missing = append(missing, f.Missing...)
		}
	}
	if got, want := strings.Join(missing, ","), "VM.PowerMgmt,Sys.Audit,Datastore.Audit,Pool.Audit"; got != want {
		t.Errorf("got missing %s, want %s", got, want)
	}
	if sc.Version == "" {
		t.Error("got no version")
	}
}

// The usual setup mistake: the role granted to the token but not its user, or the reverse.
// A privilege-separated token holds only what both are granted; the check says which one
// lacks it and prints only the line that fixes it.
func TestCheckTokenUserMistakes(t *testing.T) {
	role := map[string][]string{"/": BotPrivileges}
	user, _, _ := strings.Cut(e2eToken, "!")
	tests := []struct {
		name          string
		userACL, tACL map[string][]string
		wantWarn      string
		wantUserLine  bool
		wantTokenLine bool
	}{
		{"token only", map[string][]string{}, role, "the user " + user + " lacks", true, true},
		{"user only", role, map[string][]string{}, "but the token's own ACL does not", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fake(t, pvetest.Options{}, tt.tACL)
			s.SetUserACL(user, tt.userACL)
			sc, err := e2eClient(t, s, nil).Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sc.OK() {
				t.Fatal("check passed")
			}
			if w := strings.Join(sc.Warnings, "\n"); !strings.Contains(w, tt.wantWarn) {
				t.Errorf("warnings %q lack %q", w, tt.wantWarn)
			}
			fix := strings.Join(sc.PveumFix(e2eToken), "\n")
			if got := strings.Contains(fix, "--users '"+user+"'"); got != tt.wantUserLine {
				t.Errorf("fix %q: user line %v, want %v", fix, got, tt.wantUserLine)
			}
			if got := strings.Contains(fix, "--tokens '"+e2eToken+"'"); got != tt.wantTokenLine {
				t.Errorf("fix %q: token line %v, want %v", fix, got, tt.wantTokenLine)
			}
		})
	}
}

func TestFleetListsAgainstFake(t *testing.T) {
	s := fake(t, pvetest.Options{}, nil)
	pvetest.SeedHomeLab(s)
	s.AddToken(e2eToken, e2eSecret, map[string][]string{"/": botPrivs})
	f, err := newFleet([]clusterSpec{
		{Name: "home", BaseURL: s.URL(), TokenID: e2eToken, TokenSecret: e2eSecret},
		{Name: "dead", BaseURL: "http://" + deadAddr(t), TokenID: e2eToken, TokenSecret: e2eSecret},
	}, Options{Timeout: time.Second, PollInterval: 2 * time.Millisecond, Logger: zaptestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g, err := f.Find(ctx, "jellyfin", nil)
	if err != nil {
		t.Fatal(err)
	}
	upid, err := f.Do(ctx, g, ActionReboot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx, g, upid); err != nil {
		t.Fatal(err)
	}
	nodes, nerr := f.Nodes(ctx)
	st, serr := f.Storage(ctx)
	tasks, terr := f.Tasks(ctx, 5)
	for name, errs := range map[string]map[string]error{"nodes": nerr, "storage": serr, "tasks": terr} {
		if len(errs) != 1 || !IsKind(errs["dead"], KindUnreachable) {
			t.Errorf("%s: got errors %v, want only dead unreachable", name, errs)
		}
	}
	// local and local-lvm on each node, and the shared nas once (PVE lists it per node).
	if len(nodes) != 2 || !nodes[0].HasStats || len(st) != 5 || !st[0].HasStats {
		t.Errorf("got nodes %+v storage %+v", nodes, st)
	}
	nas := 0
	for _, s := range st {
		if s.Name == "nas" {
			nas++
		}
	}
	if nas != 1 {
		t.Errorf("the shared storage is listed %d times, want once", nas)
	}
	if len(tasks) == 0 || tasks[0].UPID != upid || tasks[0].Cluster != "home" || tasks[0].Type != "vzreboot" {
		t.Errorf("got tasks %+v, want the reboot first", tasks)
	}
	if got := f.ClusterNames(); strings.Join(got, ",") != "home,dead" {
		t.Errorf("got %v", got)
	}
	if _, err := f.Do(ctx, Guest{Cluster: "nope", VMID: 1, Node: "x", Type: "qemu"}, ActionStart); err == nil {
		t.Error("got nil for an unknown cluster")
	}
}

// A member that sends no statistics is "unknown" in /cluster/resources but answers: its
// tasks are still listed (Recover looks a lost action up there).
func TestTasksOfASilentNode(t *testing.T) {
	s := fake(t, pvetest.Options{TaskDuration: -1}, nil)
	s.AddGuest(pvetest.Guest{VMID: 105, Name: "dev", Node: "pve2", Status: "stopped"})
	c := e2eClient(t, s, nil)
	ctx := context.Background()
	g, err := c.find(ctx, 105)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, g, ActionStart); err != nil {
		t.Fatal(err)
	}
	s.SetNodeSilent("pve2", true)
	tasks, err := c.Tasks(ctx, 10)
	if err != nil || len(tasks) != 1 || tasks[0].Node != "pve2" {
		t.Errorf("got %+v, %v; want the start on pve2", tasks, err)
	}
}
