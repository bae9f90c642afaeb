package pvetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		header string
		format ErrorFormat
		reason string
	}{
		{"no header", "", Legacy, "No ticket"},
		{"other scheme", "Bearer abc", Legacy, "No ticket"},
		{"wrong secret", "PVEAPIToken=" + testToken + "=nope", Legacy, "invalid token value!"},
		{"unknown token", "PVEAPIToken=bot@pve!other=" + testSecret, Legacy, "no such token 'other' for user 'bot@pve'"},
		{"no token id", "PVEAPIToken=justsomething", Legacy, "no tokenid specified"},
		{"wrong secret modern", "PVEAPIToken=" + testToken + "=nope", Modern, "invalid token value!"},
		{"wrong secret unified", "PVEAPIToken=" + testToken + "=nope", AuthUnified, "Authentication failed!"},
		{"unknown token unified", "PVEAPIToken=x@pve!y=z", AuthUnified, "Authentication failed!"},
		{"no header unified", "", AuthUnified, "No ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, c := newFake(t, Options{ErrorFormat: tt.format})
			c.auth = tt.header
			r := c.get(t, "/version")
			wantStatus(t, r, 401, tt.reason)
			if len(r.body) != 0 {
				t.Errorf("got body %q, want empty", r.body)
			}
		})
	}
	accepted := []struct{ name, header string }{
		{"equals", "PVEAPIToken=" + testToken + "=" + testSecret},
		{"space", "PVEAPIToken " + testToken + "=" + testSecret},
		{"uri-escaped", "PVEAPIToken=" + url.PathEscape(testToken) + "=" + testSecret},
	}
	for _, tt := range accepted {
		t.Run("accepted/"+tt.name, func(t *testing.T) {
			_, _, c := newFake(t, Options{})
			c.auth = tt.header
			wantStatus(t, c.get(t, "/version"), 200, "OK")
		})
	}
	t.Run("revoked", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		wantStatus(t, c.get(t, "/version"), 200, "OK")
		s.RevokeToken(testToken)
		wantStatus(t, c.get(t, "/version"), 401, "no such token 'chat' for user 'bot@pve'")
	})
	t.Run("delay before 401", func(t *testing.T) {
		_, _, c := newFake(t, Options{AuthDelay: time.Hour})
		c.auth = ""
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.doCtx(ctx, "GET", "/version", nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the client's deadline while the 401 is delayed", err)
		}
	})
}

func TestErrorFormats(t *testing.T) {
	tests := []struct {
		format      ErrorFormat
		wantMessage any
	}{
		{Legacy, nil},
		{Modern, "Permission check failed (/vms/101, VM.PowerMgmt)\n"},
		{AuthUnified, "Permission check failed (/vms/101, VM.PowerMgmt)\n"},
	}
	for _, tt := range tests {
		t.Run([]string{"legacy", "modern", "authunified"}[tt.format], func(t *testing.T) {
			s, _, c := newFake(t, Options{ErrorFormat: tt.format})
			s.AddGuest(Guest{VMID: 101, Node: "pve1"})
			s.AddToken(testToken, testSecret, map[string][]string{"/vms": {"VM.Audit"}})
			r := c.post(t, "/nodes/pve1/qemu/101/status/start")
			wantStatus(t, r, 403, "Permission check failed (/vms/101, VM.PowerMgmt)")
			env := r.envelope(t)
			if d, ok := env["data"]; !ok || d != nil {
				t.Errorf("got data %v, want null", env["data"])
			}
			if env["message"] != tt.wantMessage {
				t.Errorf("got message %q, want %q", env["message"], tt.wantMessage)
			}
			if !r.close || r.header.Get("Server") != "pve-api-daemon/3.0" {
				t.Errorf("got headers %v, want Connection: close and PVE's Server", r.header)
			}
		})
	}
}

func TestPrivilegeFiltering(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Name: "a"})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Name: "b", Pool: "media"})
	s.AddGuest(Guest{VMID: 103, Node: "pve2", Name: "c", Type: "lxc"})
	s.AddStorage(Storage{Name: "local", Node: "pve1", Type: "dir", Total: 100, Used: 10})
	s.AddStorage(Storage{Name: "nas", Type: "nfs", Shared: true, Total: 1000, Used: 500})

	tests := []struct {
		name      string
		acl       map[string][]string
		wantIDs   []string
		nodeStats bool
	}{
		{"nothing", map[string][]string{}, nil, false},
		{"one vm", map[string][]string{"/vms/101": {"VM.Audit"}}, []string{"qemu/101"}, false},
		{"pool", map[string][]string{"/pool/media": {"VM.Audit"}}, []string{"qemu/102"}, false},
		{"vms subtree", map[string][]string{"/vms": {"VM.Audit"}}, []string{"qemu/101", "qemu/102", "lxc/103"}, false},
		{"specific path overrides", map[string][]string{"/vms": {"VM.Audit"}, "/vms/102": {"VM.PowerMgmt"}}, []string{"qemu/101", "lxc/103"}, false},
		{"storage only", map[string][]string{"/storage/nas": {"Datastore.Audit"}}, []string{"storage/pve1/nas", "storage/pve2/nas"}, false},
		{"auditor", map[string][]string{"/": {"PVEAuditor"}}, []string{"qemu/101", "qemu/102", "lxc/103", "storage/pve1/local", "storage/pve1/nas", "storage/pve2/nas"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.AddToken(testToken, testSecret, tt.acl)
			var res []map[string]any
			c.get(t, "/cluster/resources").data(t, &res)
			var ids []string
			for _, e := range res {
				switch e["type"] {
				case "node":
					if _, has := e["maxmem"]; has != tt.nodeStats {
						t.Errorf("node %v has stats %v, want %v", e["node"], has, tt.nodeStats)
					}
				case "pool":
				default:
					ids = append(ids, e["id"].(string))
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("got %v, want %v", ids, tt.wantIDs)
			}
		})
	}
	t.Run("403s", func(t *testing.T) {
		s.AddToken(testToken, testSecret, map[string][]string{"/vms/101": {"VM.Audit"}})
		wantStatus(t, c.get(t, "/nodes/pve1/qemu/102/status/current"), 403, "Permission check failed (/vms/102, VM.Audit)")
		wantStatus(t, c.get(t, "/cluster/status"), 403, "Permission check failed (/, Sys.Audit)")
		wantStatus(t, c.get(t, "/nodes/pve1/status"), 403, "Permission check failed (/nodes/pve1, Sys.Audit)")
		wantStatus(t, c.get(t, "/nodes/pve1/qemu/101/status/current"), 200, "OK")
		var list []map[string]any
		c.get(t, "/nodes/pve1/qemu").data(t, &list)
		if len(list) != 1 || list[0]["vmid"] != float64(101) {
			t.Errorf("got qemu list %v, want only 101", list)
		}
	})
	t.Run("access/permissions", func(t *testing.T) {
		s.AddToken(testToken, testSecret, map[string][]string{"/": {"VM.Audit"}, "/pool/media": {"VM.PowerMgmt"}})
		var perms map[string]map[string]int
		c.get(t, "/access/permissions").data(t, &perms)
		// The default top paths, every ACL path and the pool's members, each effective.
		if perms["/"]["VM.Audit"] != 1 || perms["/pool/media"]["VM.PowerMgmt"] != 1 || perms["/nodes"]["VM.Audit"] != 1 ||
			perms["/vms/102"]["VM.Audit"] != 1 || perms["/vms/102"]["VM.PowerMgmt"] != 1 || perms["/vms/101"] != nil {
			t.Errorf("got %v", perms)
		}
		perms = nil
		c.get(t, "/access/permissions?path=/vms/102").data(t, &perms)
		if perms["/vms/102"]["VM.Audit"] != 1 {
			t.Errorf("path=/vms/102: got %v, want VM.Audit propagated from /", perms)
		}
	})
}

// The documented "only one pool" setup: Sys.Audit and Datastore.Audit on /, the bot role on
// /pool/homelab. A member gets the pool's roles added to those on its path; NoAccess wins; the
// pool field needs Pool.Audit.
func TestPoolACLs(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Name: "in", Pool: "homelab"})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Name: "out"})
	s.AddGuest(Guest{VMID: 103, Node: "pve1", Name: "barred", Pool: "homelab"})
	role := []string{"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit"}
	acl := map[string][]string{"/": {"Sys.Audit", "Datastore.Audit"}, "/pool/homelab": role, "/vms/103": {"NoAccess"}}
	s.SetUserACL("bot@pve", acl)
	s.AddToken(testToken, testSecret, acl)
	var res []map[string]any
	c.get(t, "/cluster/resources?type=vm").data(t, &res)
	if len(res) != 1 || res[0]["vmid"] != float64(101) || res[0]["pool"] != nil {
		t.Errorf("without Pool.Audit got %v, want 101 only, without its pool", res)
	}
	wantStatus(t, c.post(t, "/nodes/pve1/qemu/101/status/start"), 200, "OK")
	wantStatus(t, c.post(t, "/nodes/pve1/qemu/103/status/start"), 403, "Permission check failed (/vms/103, VM.PowerMgmt)")
	acl["/pool/homelab"] = append(role, "Pool.Audit")
	s.SetUserACL("bot@pve", acl)
	s.AddToken(testToken, testSecret, acl)
	res = nil
	c.get(t, "/cluster/resources?type=vm").data(t, &res)
	if len(res) != 1 || res[0]["pool"] != "homelab" {
		t.Errorf("with Pool.Audit got %v, want the pool", res)
	}
}

// A privilege-separated token holds what both its own and its user's ACLs grant; without
// privsep it holds its user's.
func TestTokenUserIntersection(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Name: "a"})
	role := map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt"}}
	tests := []struct {
		name       string
		user, tok  map[string][]string
		privsep    bool
		wantStatus int
	}{
		{"both", role, role, true, 200},
		{"token only", map[string][]string{}, role, true, 403},
		{"user only", role, map[string][]string{}, true, 403},
		{"user only, privsep off", role, map[string][]string{}, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetUserACL("bot@pve", tt.user)
			s.AddToken(testToken, testSecret, tt.tok)
			s.SetTokenPrivsep(testToken, tt.privsep)
			if r := c.get(t, "/nodes/pve1/qemu/101/status/current"); r.status != tt.wantStatus {
				t.Errorf("got %d, want %d", r.status, tt.wantStatus)
			}
			var perms map[string]map[string]int
			c.get(t, "/access/permissions?userid=bot@pve").data(t, &perms)
			if (perms["/"]["VM.Audit"] == 1) != (len(tt.user) > 0) {
				t.Errorf("userid=bot@pve: got %v, want the user's own rights", perms)
			}
		})
	}
}

func TestOfflineNode(t *testing.T) {
	s, clk, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Name: "up", Status: "running"})
	s.AddGuest(Guest{VMID: 201, Node: "pve2", Name: "down", Status: "running", Pool: "media", Tags: []string{"lab"}})
	s.SetNodeOnline("pve2", false)
	// For 5 minutes the dead node's guests keep their last name and status (pmxcfs RRD).
	var res []map[string]any
	c.get(t, "/cluster/resources?type=vm").data(t, &res)
	if res[1]["status"] != "running" || res[1]["name"] != "down" {
		t.Errorf("within the RRD age: got %v, want the last status and name", res[1])
	}
	clk.Advance(5 * time.Minute)
	res = nil

	for _, req := range []struct{ method, path string }{
		{"GET", "/nodes/pve2/qemu"},
		{"GET", "/nodes/pve2/status"},
		{"GET", "/nodes/pve2/qemu/201/status/current"},
		{"POST", "/nodes/pve2/qemu/201/status/stop"},
		{"GET", "/nodes/pve2/tasks"},
	} {
		t.Run(req.method+req.path, func(t *testing.T) {
			r := c.do(t, req.method, req.path, url.Values{})
			wantStatus(t, r, 595, "No route to host")
			if len(r.body) != 0 {
				t.Errorf("got body %q, want empty", r.body)
			}
		})
	}
	c.get(t, "/cluster/resources").data(t, &res)
	for _, e := range res {
		switch e["id"] {
		case "qemu/201":
			if e["status"] != "unknown" || e["name"] != nil || e["maxmem"] != nil || e["pool"] != "media" || e["tags"] != "lab" {
				t.Errorf("guest on offline node: got %v", e)
			}
		case "qemu/101":
			if e["status"] != "running" || e["name"] != "up" {
				t.Errorf("guest on online node: got %v", e)
			}
		case "node/pve2":
			if e["status"] != "offline" || e["maxmem"] == nil || e["mem"] != nil {
				t.Errorf("node: got %v", e)
			}
		}
	}
	var cs []map[string]any
	c.get(t, "/cluster/status").data(t, &cs)
	if cs[2]["name"] != "pve2" || cs[2]["online"] != float64(0) {
		t.Errorf("cluster status: got %v", cs)
	}
	s.SetNodeOnline("pve2", true)
	wantStatus(t, c.get(t, "/nodes/pve2/qemu/201/status/current"), 200, "OK")
}

func TestUnknownGuestsAndPaths(t *testing.T) {
	s, _, c := newFake(t, Options{ErrorFormat: Modern})
	s.AddGuest(Guest{VMID: 101, Node: "pve1"})
	tests := []struct {
		method, path string
		status       int
		reason       string
	}{
		{"GET", "/nodes/pve1/qemu/999/status/current", 500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"},
		{"GET", "/nodes/pve2/qemu/101/status/current", 500, "Configuration file 'nodes/pve2/qemu-server/101.conf' does not exist"},
		{"POST", "/nodes/pve1/lxc/101/status/start", 500, "Configuration file 'nodes/pve1/lxc/101.conf' does not exist"},
		{"GET", "/x", 501, "Method 'GET /x' not implemented"},
		{"GET", "/nodes/pve1/qemu/101/status/bogus", 501, "Method 'GET /nodes/pve1/qemu/101/status/bogus' not implemented"},
		{"GET", "/nodes/pve1/qemu/101/status/start", 501, "Method 'GET /nodes/pve1/qemu/101/status/start' not implemented"},
		{"GET", "/nodes/pve9/qemu", 500, "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			r := c.do(t, tt.method, tt.path, url.Values{})
			wantStatus(t, r, tt.status, tt.reason)
			if got := r.envelope(t)["message"]; got != tt.reason+"\n" {
				t.Errorf("got message %q, want %q", got, tt.reason+"\n")
			}
		})
	}
}

func TestQuorumLoss(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1"})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Type: "lxc", Status: "running"})
	s.SetQuorum(false)
	wantStatus(t, c.post(t, "/nodes/pve1/qemu/101/status/start"), 500, "cluster not ready - no quorum?")
	wantStatus(t, c.post(t, "/nodes/pve1/lxc/102/status/shutdown"), 200, "OK")
	wantStatus(t, c.get(t, "/cluster/resources"), 200, "OK")
	var cs []map[string]any
	c.get(t, "/cluster/status").data(t, &cs)
	if cs[0]["quorate"] != float64(0) {
		t.Errorf("got quorate %v, want 0", cs[0]["quorate"])
	}
	s.SetQuorum(true)
	wantStatus(t, c.post(t, "/nodes/pve1/qemu/101/status/start"), 200, "OK")
}

func TestUnknownParameter(t *testing.T) {
	tests := []struct {
		format ErrorFormat
		method string
		path   string
		form   url.Values
		errs   map[string]any
	}{
		{Legacy, "POST", "/nodes/pve1/qemu/101/status/start", url.Values{"bogus": {"1"}}, map[string]any{"bogus": "property is not defined in schema and the schema does not allow additional properties"}},
		{Modern, "POST", "/nodes/pve1/lxc/102/status/stop", url.Values{"timeout": {"5"}}, map[string]any{"timeout": "property is not defined in schema and the schema does not allow additional properties"}},
		{Legacy, "POST", "/nodes/pve1/qemu/101/status/shutdown", url.Values{"forceStop": {"maybe"}}, map[string]any{"forceStop": "type check ('boolean') failed - got 'maybe'"}},
		{Legacy, "GET", "/cluster/resources?type=vm&full=1", nil, map[string]any{"full": "property is not defined in schema and the schema does not allow additional properties"}},
		{Legacy, "GET", "/cluster/resources?type=vms", nil, map[string]any{"type": "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path+tt.form.Encode(), func(t *testing.T) {
			s, _, c := newFake(t, Options{ErrorFormat: tt.format})
			s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running"})
			s.AddGuest(Guest{VMID: 102, Node: "pve1", Type: "lxc", Status: "running"})
			r := c.do(t, tt.method, tt.path, tt.form)
			wantStatus(t, r, 400, "Parameter verification failed.")
			env := r.envelope(t)
			got, _ := json.Marshal(env["errors"])
			want, _ := json.Marshal(tt.errs)
			if string(got) != string(want) {
				t.Errorf("got errors %s, want %s", got, want)
			}
			if tt.format == Modern && env["message"] != "Parameter verification failed.\n" {
				t.Errorf("got message %q", env["message"])
			}
			if n := s.Count("POST", "/nodes"); tt.method == "POST" && n != 1 {
				t.Errorf("got %d POSTs recorded, want 1", n)
			}
			if g, _ := s.Guest(101); g.Status != "running" {
				t.Errorf("rejected request changed the guest to %s", g.Status)
			}
		})
	}
}

func TestRequestsAndCount(t *testing.T) {
	s, clk, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1"})
	c.get(t, "/cluster/resources?type=vm")
	var upid string
	c.do(t, "POST", "/nodes/pve1/qemu/101/status/start", url.Values{"timeout": {"30"}}).data(t, &upid)
	c.task(t, "pve1", upid)
	clk.Advance(time.Second)
	c.task(t, "pve1", upid)

	tests := []struct {
		method, prefix string
		want           int
	}{
		{"POST", "/nodes/pve1/qemu/101/status/start", 1},
		{"GET", "/cluster/resources", 1},
		{"GET", "/nodes/pve1/tasks/", 2},
		{"", "/", 4},
		{"DELETE", "/", 0},
	}
	for _, tt := range tests {
		if got := s.Count(tt.method, tt.prefix); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.method, tt.prefix, got, tt.want)
		}
	}
	reqs := s.Requests()
	post := reqs[1]
	if post.TokenID != testToken || post.Form.Get("timeout") != "30" || !post.Time.Equal(newClock().Now()) {
		t.Errorf("got %+v", post)
	}
	if reqs[0].Query.Get("type") != "vm" {
		t.Errorf("got query %v", reqs[0].Query)
	}
	for _, r := range reqs {
		if strings.Contains(r.TokenID+r.Form.Encode()+r.Query.Encode(), testSecret) {
			t.Errorf("secret recorded in %+v", r)
		}
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("after reset got %d, want 0", n)
	}
}

func TestFailNext(t *testing.T) {
	s, _, c := newFake(t, Options{ErrorFormat: Modern})
	s.FailNext("GET", "/version", 500, "something broke", 2)
	s.FailNext("", "/nodes/pve2", 595, "Connection timed out", 1)
	wantStatus(t, c.get(t, "/version"), 500, "something broke")
	wantStatus(t, c.get(t, "/version"), 500, "something broke")
	wantStatus(t, c.get(t, "/version"), 200, "OK")
	r := c.get(t, "/nodes/pve2/qemu")
	wantStatus(t, r, 595, "Connection timed out")
	if len(r.body) != 0 {
		t.Errorf("got body %q, want empty", r.body)
	}
	wantStatus(t, c.get(t, "/nodes/pve2/qemu"), 200, "OK")
}

func TestHangAndLatency(t *testing.T) {
	t.Run("hang released by client cancel", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.Hang(true)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.doCtx(ctx, "GET", "/version", nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want deadline exceeded", err)
		}
		s.Hang(false)
		wantStatus(t, c.get(t, "/version"), 200, "OK")
	})
	t.Run("hang released by Hang(false)", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.Hang(true)
		done := make(chan resp)
		go func() {
			r, _ := c.doCtx(context.Background(), "GET", "/version", nil)
			done <- r
		}()
		// The request may or may not have arrived yet; either way it must complete.
		s.Hang(false)
		if r := <-done; r.status != 200 {
			t.Errorf("got %d, want 200", r.status)
		}
	})
	t.Run("latency honours client deadline", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.SetLatency(time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.doCtx(ctx, "GET", "/version", nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want deadline exceeded", err)
		}
		s.SetLatency(0)
		wantStatus(t, c.get(t, "/version"), 200, "OK")
	})
	t.Run("close releases hung requests", func(t *testing.T) {
		s := New(Options{})
		s.AddToken(testToken, testSecret, nil)
		s.Hang(true)
		c := newClient(s)
		done := make(chan error, 1)
		go func() {
			_, err := c.doCtx(context.Background(), "GET", "/version", nil)
			done <- err
		}()
		s.Close()
		if err := <-done; err == nil {
			t.Errorf("got a response from a closed server")
		}
	})
}

func TestTLS(t *testing.T) {
	s, _, _ := newFake(t, Options{TLS: true})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("got URL %s", s.URL())
	}
	served := func(t *testing.T) string {
		t.Helper()
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL(), "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return FingerprintOf(conn.ConnectionState().PeerCertificates[0].Raw)
	}
	fp := s.Fingerprint()
	if got := served(t); got != fp {
		t.Fatalf("served %s, Fingerprint() %s", got, fp)
	}
	if len(fp) != 95 || strings.ToUpper(fp) != fp {
		t.Errorf("got %q, want 32 upper-case colon-separated bytes", fp)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("CACertPEM is not PEM")
	}
	verified := func(t *testing.T) {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer hc.CloseIdleConnections()
		for _, host := range []string{s.URL(), strings.Replace(s.URL(), "127.0.0.1", "localhost", 1)} {
			r, err := hc.Get(host + "/api2/json/version")
			if err != nil {
				t.Fatalf("CA-verified GET %s: %v", host, err)
			}
			r.Body.Close()
			if r.StatusCode != 401 {
				t.Errorf("got %d, want 401 (no token)", r.StatusCode)
			}
		}
	}
	verified(t)

	s.RotateCertificate()
	if s.Fingerprint() == fp {
		t.Fatal("RotateCertificate kept the fingerprint")
	}
	if got := served(t); got != s.Fingerprint() {
		t.Errorf("after rotation served %s, want %s", got, s.Fingerprint())
	}
	verified(t)

	var nodes []map[string]any
	newClient(s).get(t, "/nodes").data(t, &nodes)
	if nodes[0]["ssl_fingerprint"] != s.Fingerprint() {
		t.Errorf("got ssl_fingerprint %v, want %s", nodes[0]["ssl_fingerprint"], s.Fingerprint())
	}
}

func TestVersionAndQuirks(t *testing.T) {
	tests := []struct {
		version, release, repoid string
	}{
		{"8.2.4", "8.2", "faa83925c9641325"},
		{"7.4-16", "7.4", "0f39f621"},
		{"9.1.5", "9.1", "80cf92a64bef6888"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			_, _, c := newFake(t, Options{Version: tt.version})
			var v map[string]string
			c.get(t, "/version").data(t, &v)
			if v["version"] != tt.version || v["release"] != tt.release || v["repoid"] != tt.repoid {
				t.Errorf("got %v", v)
			}
		})
	}
	t.Run("lxc vmid as string", func(t *testing.T) {
		for _, str := range []bool{false, true} {
			s, _, c := newFake(t, Options{StringLXCVMID: str})
			s.AddGuest(Guest{VMID: 103, Node: "pve1", Type: "lxc", Template: true})
			var list []map[string]any
			c.get(t, "/nodes/pve1/lxc").data(t, &list)
			var want any = float64(103)
			if str {
				want = "103"
			}
			if list[0]["vmid"] != want || list[0]["template"] != float64(1) {
				t.Errorf("StringLXCVMID=%v: got %v", str, list[0])
			}
		}
	})
	t.Run("resources shape", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.AddGuest(Guest{VMID: 100, Node: "pve1", Name: "tpl", Template: true, Tags: []string{"lab", "infra"}, Lock: "backup", Pool: "infra"})
		var res []map[string]any
		c.get(t, "/cluster/resources?type=vm").data(t, &res)
		e := res[0]
		if e["template"] != float64(1) || e["tags"] != "lab;infra" || e["lock"] != "backup" || e["pool"] != "infra" || e["vmid"] != float64(100) {
			t.Errorf("got %v", e)
		}
		if _, ok := e["hastate"]; ok {
			t.Errorf("hastate on a guest without HA: %v", e)
		}
	})
	t.Run("headers and gzip", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		SeedHomeLab(s)
		req, _ := http.NewRequest("GET", s.URL()+"/api2/json/cluster/resources", nil)
		req.Header.Set("Authorization", c.auth)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if !r.Uncompressed || r.Header.Get("Content-Type") != "application/json;charset=UTF-8" || r.Header.Get("Server") != "pve-api-daemon/3.0" || r.Header.Get("Cache-Control") != "max-age=0" {
			t.Errorf("got uncompressed=%v headers %v", r.Uncompressed, r.Header)
		}
	})
}

func TestRecordedFS(t *testing.T) {
	fsys := RecordedFS()
	n := 0
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		n++
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if _, ok := m["data"]; !ok && !strings.HasSuffix(path, ".http.json") {
			t.Errorf("%s: no data envelope", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 13 {
		t.Errorf("got %d recorded files, want 13", n)
	}
	if _, err := fs.Stat(fsys, "SOURCES.md"); err != nil {
		t.Errorf("SOURCES.md missing: %v", err)
	}
}

// A member whose pvestatd sends nothing is "unknown", and so are its guests; it still answers.
func TestSilentNode(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 201, Node: "pve2", Name: "quiet", Status: "running"})
	s.SetNodeSilent("pve2", true)
	var res []map[string]any
	c.get(t, "/cluster/resources").data(t, &res)
	for _, e := range res {
		switch e["id"] {
		case "qemu/201":
			if e["status"] != "unknown" || e["name"] != nil {
				t.Errorf("guest: got %v", e)
			}
		case "node/pve2":
			if e["status"] != "unknown" || e["maxmem"] != nil {
				t.Errorf("node: got %v", e)
			}
		}
	}
	wantStatus(t, c.get(t, "/nodes/pve2/qemu/201/status/current"), 200, "OK")
}

func TestSeedHomeLab(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	SeedHomeLab(s)
	c := newClient(s)
	c.auth = "PVEAPIToken=" + HomeLabTokenID + "=" + HomeLabTokenSecret
	var res []map[string]any
	c.get(t, "/cluster/resources?type=vm").data(t, &res)
	if len(res) < 15 {
		t.Errorf("got %d guests, want about 15", len(res))
	}
	byName := map[string]map[string]any{}
	for _, e := range res {
		byName[e["name"].(string)] = e
	}
	if byName["homeassistant"]["hastate"] != "started" || byName["ubuntu-2404-cloud"]["template"] != float64(1) || byName["jellyfin"]["pool"] != "media" {
		t.Errorf("got %v / %v / %v", byName["homeassistant"], byName["ubuntu-2404-cloud"], byName["jellyfin"])
	}
	var st []map[string]any
	c.get(t, "/nodes/pve2/storage").data(t, &st)
	if len(st) != 3 {
		t.Errorf("got %d storages on pve2, want local, local-lvm, nas", len(st))
	}
	s.SetStorageUsage("pve1", "nas", 7000<<30)
	c.get(t, "/nodes/pve2/storage?storage=nas").data(t, &st)
	if len(st) != 1 || st[0]["used"] != float64(7000<<30) || st[0]["shared"] != float64(1) {
		t.Errorf("shared storage after SetStorageUsage: got %v", st)
	}
	wantStatus(t, c.get(t, "/nodes/pve1/status"), 200, "OK")
	wantStatus(t, c.get(t, "/cluster/status"), 200, "OK")
	wantStatus(t, c.get(t, "/nodes/pve2/qemu/104/agent/network-get-interfaces"), 200, "OK")
	wantStatus(t, c.get(t, "/nodes/pve1/qemu/101/agent/network-get-interfaces"), 500, "No QEMU guest agent configured")
	wantStatus(t, c.get(t, "/nodes/pve2/lxc/103/interfaces"), 200, "OK")
	wantStatus(t, c.post(t, "/nodes/pve2/qemu/105/status/start"), 200, "OK")
}
