package pvetest

import (
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// TestStateTable covers every action on QEMU and LXC in every state (docs/pve.md 2.9).
func TestStateTable(t *testing.T) {
	type state struct {
		status   string
		paused   bool
		template bool
		lock     string
	}
	var (
		stopped  = state{status: "stopped"}
		running  = state{status: "running"}
		paused   = state{status: "running", paused: true}
		template = state{status: "stopped", template: true}
		lockedR  = state{status: "running", lock: "backup"}
		lockedS  = state{status: "stopped", lock: "backup"}
	)
	tests := []struct {
		typ, action string
		from        state
		form        url.Values
		// either a synchronous error ...
		status int
		reason string
		// ... or a task of this type with this exit status, leaving the guest in state `to`
		taskType string
		exit     string
		to       state
	}{
		// QEMU
		{typ: "qemu", action: "start", from: stopped, taskType: "qmstart", exit: "OK", to: running},
		{typ: "qemu", action: "start", from: running, taskType: "qmstart", exit: "VM 101 already running", to: running},
		{typ: "qemu", action: "start", from: template, taskType: "qmstart", exit: "you can't start a vm if it's a template", to: template},
		{typ: "qemu", action: "start", from: lockedS, taskType: "qmstart", exit: "VM is locked (backup)", to: lockedS},
		{typ: "qemu", action: "stop", from: running, taskType: "qmstop", exit: "OK", to: stopped},
		{typ: "qemu", action: "stop", from: stopped, taskType: "qmstop", exit: "OK", to: stopped},
		{typ: "qemu", action: "stop", from: paused, taskType: "qmstop", exit: "OK", to: stopped},
		{typ: "qemu", action: "stop", from: lockedR, taskType: "qmstop", exit: "VM is locked (backup)", to: lockedR},
		{typ: "qemu", action: "shutdown", from: running, taskType: "qmshutdown", exit: "OK", to: stopped},
		{typ: "qemu", action: "shutdown", from: stopped, taskType: "qmshutdown", exit: "OK", to: stopped},
		{typ: "qemu", action: "shutdown", from: paused, status: 500, reason: "VM is paused - cannot shutdown"},
		{typ: "qemu", action: "shutdown", from: paused, form: url.Values{"forceStop": {"1"}}, taskType: "qmshutdown", exit: "OK", to: stopped},
		{typ: "qemu", action: "shutdown", from: lockedR, taskType: "qmshutdown", exit: "VM is locked (backup)", to: lockedR},
		{typ: "qemu", action: "reboot", from: running, taskType: "qmreboot", exit: "OK", to: running},
		{typ: "qemu", action: "reboot", from: paused, status: 500, reason: "VM is paused - cannot shutdown"},
		{typ: "qemu", action: "reboot", from: stopped, status: 500, reason: "VM 101 not running"},
		{typ: "qemu", action: "reboot", from: lockedR, taskType: "qmreboot", exit: "VM is locked (backup)", to: lockedR},
		{typ: "qemu", action: "reset", from: running, taskType: "qmreset", exit: "OK", to: running},
		{typ: "qemu", action: "reset", from: stopped, status: 500, reason: "VM 101 not running"},
		{typ: "qemu", action: "suspend", from: running, taskType: "qmpause", exit: "OK", to: paused},
		{typ: "qemu", action: "suspend", from: paused, taskType: "qmpause", exit: "OK", to: paused},
		{typ: "qemu", action: "suspend", from: stopped, status: 500, reason: "VM 101 not running"},
		{typ: "qemu", action: "suspend", from: running, form: url.Values{"todisk": {"1"}}, taskType: "qmsuspend", exit: "OK", to: state{status: "stopped", lock: "suspended"}},
		{typ: "qemu", action: "resume", from: paused, taskType: "qmresume", exit: "OK", to: running},
		{typ: "qemu", action: "resume", from: running, taskType: "qmresume", exit: "OK", to: running},
		{typ: "qemu", action: "resume", from: stopped, status: 500, reason: "VM 101 not running"},
		{typ: "qemu", action: "resume", from: state{status: "stopped", lock: "suspended"}, taskType: "qmresume", exit: "OK", to: running},
		// LXC
		{typ: "lxc", action: "start", from: stopped, taskType: "vzstart", exit: "OK", to: running},
		{typ: "lxc", action: "start", from: running, status: 500, reason: "CT 101 already running"},
		{typ: "lxc", action: "start", from: template, taskType: "vzstart", exit: "you can't start a CT if it's a template", to: template},
		{typ: "lxc", action: "start", from: lockedS, taskType: "vzstart", exit: "CT is locked (backup)", to: lockedS},
		{typ: "lxc", action: "stop", from: running, taskType: "vzstop", exit: "OK", to: stopped},
		{typ: "lxc", action: "stop", from: stopped, status: 500, reason: "CT 101 not running"},
		{typ: "lxc", action: "stop", from: lockedR, taskType: "vzstop", exit: "CT is locked (backup)", to: lockedR},
		{typ: "lxc", action: "shutdown", from: running, taskType: "vzshutdown", exit: "OK", to: stopped},
		{typ: "lxc", action: "shutdown", from: stopped, status: 500, reason: "CT 101 not running"},
		{typ: "lxc", action: "reboot", from: running, taskType: "vzreboot", exit: "OK", to: running},
		{typ: "lxc", action: "reboot", from: stopped, status: 500, reason: "VM 101 not running"},
		{typ: "lxc", action: "reset", from: running, status: 501, reason: "Method 'POST /nodes/pve1/lxc/101/status/reset' not implemented"},
		// CT suspend is a CRIU checkpoint that stops the container; resume restores a stopped one.
		{typ: "lxc", action: "suspend", from: running, taskType: "vzsuspend", exit: "OK", to: stopped},
		{typ: "lxc", action: "suspend", from: stopped, status: 500, reason: "CT 101 not running"},
		{typ: "lxc", action: "resume", from: stopped, taskType: "vzresume", exit: "OK", to: running},
		{typ: "lxc", action: "resume", from: running, status: 500, reason: "CT 101 already running"},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s/%s", tt.typ, tt.action, describe(tt.from.status, tt.from.paused, tt.from.template, tt.from.lock))
		if tt.form != nil {
			name += "/" + tt.form.Encode()
		}
		t.Run(name, func(t *testing.T) {
			s, clk, c := newFake(t, Options{TaskDuration: 50 * time.Millisecond})
			s.AddGuest(Guest{VMID: 101, Name: "g", Node: "pve1", Type: tt.typ, Status: tt.from.status,
				Paused: tt.from.paused, Template: tt.from.template, Lock: tt.from.lock})
			form := tt.form
			if form == nil {
				form = url.Values{}
			}
			r := c.do(t, "POST", "/nodes/pve1/"+tt.typ+"/101/status/"+tt.action, form)
			if tt.status != 0 {
				wantStatus(t, r, tt.status, tt.reason)
				g, _ := s.Guest(101)
				if got := describe(g.Status, g.Paused, g.Template, g.Lock); got != describe(tt.from.status, tt.from.paused, tt.from.template, tt.from.lock) {
					t.Errorf("guest changed to %s on a refused action", got)
				}
				return
			}
			wantStatus(t, r, 200, "OK")
			var upid string
			r.data(t, &upid)
			ts := c.task(t, "pve1", upid)
			if ts.Status != "running" || ts.Type != tt.taskType || ts.ID != "101" {
				t.Fatalf("got task %+v, want running %s for 101", ts, tt.taskType)
			}
			clk.Advance(time.Second)
			ts = c.task(t, "pve1", upid)
			if ts.Status != "stopped" || ts.ExitStatus != tt.exit {
				t.Errorf("got task %s exit %q, want stopped %q", ts.Status, ts.ExitStatus, tt.exit)
			}
			g, _ := s.Guest(101)
			if got, want := describe(g.Status, g.Paused, g.Template, g.Lock), describe(tt.to.status, tt.to.paused, tt.to.template, tt.to.lock); got != want {
				t.Errorf("got guest %s, want %s", got, want)
			}
		})
	}
}

func describe(status string, paused, template bool, lock string) string {
	s := status
	if paused {
		s += "+paused"
	}
	if template {
		s += "+template"
	}
	if lock != "" {
		s += "+lock=" + lock
	}
	return s
}

// TestQMPStatus checks that suspend keeps status running and shows qmpstatus paused.
func TestQMPStatus(t *testing.T) {
	s, clk, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running"})
	wantStatus(t, c.post(t, "/nodes/pve1/qemu/101/status/suspend"), 200, "OK")
	clk.Advance(time.Second)
	var st map[string]any
	c.get(t, "/nodes/pve1/qemu/101/status/current").data(t, &st)
	if st["status"] != "running" || st["qmpstatus"] != "paused" {
		t.Errorf("got status %v qmpstatus %v, want running paused", st["status"], st["qmpstatus"])
	}
}

func TestHAGuests(t *testing.T) {
	tests := []struct {
		action, from, taskType, crmState, to, hastate, lrmTask string
	}{
		{"start", "stopped", "hastart", "started", "running", "started", "start"},
		{"stop", "running", "hastop", "request_stop", "stopped", "stopped", "stop"},
		{"shutdown", "running", "hastop", "request_stop", "stopped", "stopped", "shutdown"},
	}
	for _, typ := range []string{"qemu", "lxc"} {
		for _, tt := range tests {
			t.Run(typ+"/"+tt.action, func(t *testing.T) {
				s, clk, c := newFake(t, Options{TaskDuration: 3 * time.Second})
				s.AddGuest(Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Type: typ, Status: tt.from, HA: true})
				r := c.post(t, "/nodes/pve1/"+typ+"/102/status/"+tt.action)
				wantStatus(t, r, 200, "OK")
				var upid string
				r.data(t, &upid)
				clk.Advance(time.Second)
				ts := c.task(t, "pve1", upid)
				if ts.Type != tt.taskType || ts.Status != "stopped" || ts.ExitStatus != "OK" {
					t.Fatalf("got task %s %s %q, want %s stopped OK within a second", ts.Type, ts.Status, ts.ExitStatus, tt.taskType)
				}
				hastate := func() (string, string) {
					var res []map[string]any
					c.get(t, "/cluster/resources?type=vm").data(t, &res)
					return fmt.Sprint(res[0]["hastate"]), fmt.Sprint(res[0]["status"])
				}
				// The CRM's round (10 s after the fake started) takes the request up ...
				clk.Advance(9 * time.Second)
				if hs, st := hastate(); hs != tt.crmState || st != tt.from {
					t.Errorf("after the CRM round got hastate %s status %s, want %s %s", hs, st, tt.crmState, tt.from)
				}
				// ... the LRM's round after it runs the guest's own task as root@pam.
				clk.Advance(10 * time.Second)
				if g, _ := s.Guest(102); g.Status != tt.from {
					t.Errorf("while the LRM's task runs got %s, want %s", g.Status, tt.from)
				}
				var rows []taskStatus
				c.get(t, "/nodes/pve1/tasks?source=all").data(t, &rows)
				want := map[bool]string{true: "qm", false: "vz"}[typ == "qemu"] + tt.lrmTask
				if len(rows) == 0 || rows[0].Type != want || rows[0].User != "root@pam" {
					t.Errorf("got newest task %+v, want %s by root@pam", rows, want)
				}
				clk.Advance(3 * time.Second)
				if g, _ := s.Guest(102); g.Status != tt.to {
					t.Errorf("after the LRM's task got %s, want %s", g.Status, tt.to)
				}
				var st map[string]any
				c.get(t, "/nodes/pve1/"+typ+"/102/status/current").data(t, &st)
				ha, _ := st["ha"].(map[string]any)
				if ha["managed"] != float64(1) || ha["state"] != tt.hastate {
					t.Errorf("got ha %v, want managed 1 state %s", st["ha"], tt.hastate)
				}
			})
		}
	}
	t.Run("a request nobody acts on", func(t *testing.T) {
		s, clk, c := newFake(t, Options{TaskDuration: -1})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "stopped", HA: true})
		s.SetHAActive(false)
		wantStatus(t, c.post(t, "/nodes/pve1/qemu/102/status/start"), 200, "OK")
		clk.Advance(time.Hour)
		if g, _ := s.Guest(102); g.Status != "stopped" || s.HAState(102) != "stopped" {
			t.Errorf("got %s / %s, want the guest still stopped", g.Status, s.HAState(102))
		}
	})
	t.Run("error state: ha-manager refuses, the reason is in the log", func(t *testing.T) {
		s, clk, c := newFake(t, Options{TaskDuration: -1})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "running", HA: true})
		s.SetHAError(102)
		r := c.post(t, "/nodes/pve1/qemu/102/status/shutdown")
		var upid string
		r.data(t, &upid)
		clk.Advance(time.Second)
		ts := c.task(t, "pve1", upid)
		if ts.ExitStatus != "command 'ha-manager crm-command stop vm:102 60' failed: exit code 255" {
			t.Errorf("got exit %q", ts.ExitStatus)
		}
		var lines []struct {
			T string `json:"t"`
		}
		c.get(t, "/nodes/pve1/tasks/"+upid+"/log").data(t, &lines)
		if len(lines) == 0 || lines[0].T != "service 'vm:102' in error state, must be disabled and fixed first" {
			t.Errorf("got log %v", lines)
		}
		clk.Advance(time.Minute)
		if g, _ := s.Guest(102); g.Status != "running" {
			t.Errorf("guest moved to %s", g.Status)
		}
	})
	t.Run("a locked guest puts the service in error state", func(t *testing.T) {
		s, _, c := newFake(t, Options{TaskDuration: -1, HARound: -1})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "stopped", HA: true, Lock: "backup"})
		wantStatus(t, c.post(t, "/nodes/pve1/qemu/102/status/start"), 200, "OK")
		s.RunHARound()
		s.RunHARound()
		if g, _ := s.Guest(102); g.Status != "stopped" || s.HAState(102) != "error" {
			t.Errorf("got %s / %s, want stopped / error", g.Status, s.HAState(102))
		}
	})
	t.Run("ignored: not managed, actions go direct", func(t *testing.T) {
		s, clk, c := newFake(t, Options{})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "stopped", HAIgnored: true})
		var res []map[string]any
		c.get(t, "/cluster/resources?type=vm").data(t, &res)
		var st map[string]any
		c.get(t, "/nodes/pve1/qemu/102/status/current").data(t, &st)
		if res[0]["hastate"] != "ignored" || st["ha"].(map[string]any)["managed"] != float64(0) {
			t.Errorf("got hastate %v ha %v, want ignored / managed 0", res[0]["hastate"], st["ha"])
		}
		r := c.post(t, "/nodes/pve1/qemu/102/status/start")
		var upid string
		r.data(t, &upid)
		clk.Advance(time.Second)
		if ts := c.task(t, "pve1", upid); ts.Type != "qmstart" {
			t.Errorf("got task %s, want qmstart", ts.Type)
		}
	})
	t.Run("reboot is not routed through HA", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "running", HA: true})
		var upid string
		c.post(t, "/nodes/pve1/qemu/102/status/reboot").data(t, &upid)
		if got := c.task(t, "pve1", upid).Type; got != "qmreboot" {
			t.Errorf("got %s, want qmreboot", got)
		}
	})
	t.Run("suspend to disk refused", func(t *testing.T) {
		s, _, c := newFake(t, Options{})
		s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "running", HA: true})
		r := c.do(t, "POST", "/nodes/pve1/qemu/102/status/suspend", url.Values{"todisk": {"1"}})
		wantStatus(t, r, 500, "Cannot suspend HA managed VM to disk")
	})
}

func TestSetTaskResult(t *testing.T) {
	tests := []struct {
		name, exit string
		wantStatus string
		wantExit   string
		wantGuest  string
	}{
		{"warnings count as success", "WARNINGS: 2", "stopped", "WARNINGS: 2", "running"},
		{"error leaves the guest", "start failed: QEMU exited with code 1", "stopped", "start failed: QEMU exited with code 1", "stopped"},
		{"never ends", TaskNeverEnds, "running", "", "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk, c := newFake(t, Options{})
			s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "stopped"})
			s.SetTaskResult(101, "start", tt.exit)
			var upid string
			c.post(t, "/nodes/pve1/qemu/101/status/start").data(t, &upid)
			clk.Advance(time.Hour)
			ts := c.task(t, "pve1", upid)
			if ts.Status != tt.wantStatus || ts.ExitStatus != tt.wantExit {
				t.Errorf("got %s %q, want %s %q", ts.Status, ts.ExitStatus, tt.wantStatus, tt.wantExit)
			}
			if g, _ := s.Guest(101); g.Status != tt.wantGuest {
				t.Errorf("got guest %s, want %s", g.Status, tt.wantGuest)
			}
			// the override is used once
			c.post(t, "/nodes/pve1/qemu/101/status/stop").data(t, &upid)
			clk.Advance(time.Hour)
			c.post(t, "/nodes/pve1/qemu/101/status/start").data(t, &upid)
			clk.Advance(time.Hour)
			if ts := c.task(t, "pve1", upid); ts.ExitStatus != "OK" {
				t.Errorf("second start got %q, want OK", ts.ExitStatus)
			}
		})
	}
}

func TestUPIDFormat(t *testing.T) {
	s, _, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "stopped"})
	var upid string
	c.post(t, "/nodes/pve1/qemu/101/status/start").data(t, &upid)
	m := regexp.MustCompile(UPIDPattern).FindStringSubmatch(upid)
	if m == nil {
		t.Fatalf("got %q, does not match %s", upid, UPIDPattern)
	}
	if m[1] != "pve1" || m[6] != "qmstart" || m[7] != "101" || m[8] != testToken {
		t.Errorf("got node %s type %s id %s user %s", m[1], m[6], m[7], m[8])
	}
	ts := c.task(t, "pve1", upid)
	if got, want := fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", ts.Node, ts.PID, ts.PStart, ts.StartTime, ts.Type, ts.ID, ts.User+"!"+ts.TokenID), upid; got != want {
		t.Errorf("task fields rebuild %q, want %q", got, want)
	}
	if ts.User != "bot@pve" || ts.TokenID != "chat" {
		t.Errorf("got user %q tokenid %q, want bot@pve chat", ts.User, ts.TokenID)
	}
	if ts.StartTime != newClock().Now().Unix() {
		t.Errorf("got starttime %d, want the injected clock", ts.StartTime)
	}
}

func TestTaskListAndLog(t *testing.T) {
	s, clk, c := newFake(t, Options{})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "stopped"})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "running"})
	s.SetTaskResult(102, "shutdown", "VM quit/powerdown failed - got timeout")
	var up1, up2 string
	c.post(t, "/nodes/pve1/qemu/101/status/start").data(t, &up1)
	clk.Advance(time.Second)
	c.post(t, "/nodes/pve1/qemu/102/status/shutdown").data(t, &up2)

	type row struct {
		UPID, Status, User, TokenID string
		EndTime                     int64
	}
	list := func(q string) ([]row, float64) {
		t.Helper()
		r := c.get(t, "/nodes/pve1/tasks"+q)
		wantStatus(t, r, 200, "OK")
		var rows []row
		r.data(t, &rows)
		return rows, r.envelope(t)["total"].(float64)
	}
	rows, total := list("")
	if len(rows) != 1 || total != 1 || rows[0].UPID != up1 || rows[0].Status != "OK" {
		t.Fatalf("archive while 102 runs: got %+v total %v, want only %s OK", rows, total, up1)
	}
	rows, _ = list("?source=all")
	if len(rows) != 2 || rows[0].UPID != up2 || rows[0].Status != "RUNNING" {
		t.Fatalf("source=all: got %+v, want newest first and RUNNING", rows)
	}
	clk.Advance(time.Second)
	rows, _ = list("?vmid=102")
	if len(rows) != 1 || rows[0].Status != "VM quit/powerdown failed - got timeout" || rows[0].EndTime == 0 || rows[0].User != "bot@pve" || rows[0].TokenID != "chat" {
		t.Fatalf("vmid=102: got %+v", rows)
	}
	rows, total = list("?limit=1&start=1")
	if len(rows) != 1 || total != 2 || rows[0].UPID != up1 {
		t.Fatalf("paging: got %+v total %v", rows, total)
	}

	r := c.get(t, "/nodes/pve1/tasks/"+url.PathEscape(up2)+"/log")
	var lines []struct {
		N int    `json:"n"`
		T string `json:"t"`
	}
	r.data(t, &lines)
	if len(lines) != 1 || lines[0].T != "TASK ERROR: VM quit/powerdown failed - got timeout" || r.envelope(t)["total"] != float64(1) {
		t.Errorf("got log %+v, want one TASK ERROR line with total", lines)
	}
	if g, _ := s.Guest(102); g.Status != "running" {
		t.Errorf("failed shutdown left guest %s, want running", g.Status)
	}

	t.Run("unknown upid", func(t *testing.T) {
		unknown := "UPID:pve1:00000001:00000002:00000003:qmstart:101:root@pam:"
		r := c.get(t, "/nodes/pve1/tasks/"+url.PathEscape(unknown)+"/status")
		wantStatus(t, r, 400, "Parameter verification failed.")
		if errs, _ := r.envelope(t)["errors"].(map[string]any); errs["upid"] != "no such task" {
			t.Errorf("got errors %v", r.envelope(t)["errors"])
		}
		r = c.get(t, "/nodes/pve1/tasks/garbage/status")
		if errs, _ := r.envelope(t)["errors"].(map[string]any); errs["upid"] != "unable to parse worker upid" {
			t.Errorf("got errors %v", r.envelope(t)["errors"])
		}
	})
	t.Run("other token without Sys.Audit", func(t *testing.T) {
		s.AddToken("other@pve!x", "s", map[string][]string{"/": {"VM.Audit"}})
		o := newClient(s)
		o.auth = "PVEAPIToken=other@pve!x=s"
		wantStatus(t, o.get(t, "/nodes/pve1/tasks/"+url.PathEscape(up1)+"/status"), 403, "Permission check failed (/nodes/pve1, Sys.Audit)")
		var rows []row
		o.get(t, "/nodes/pve1/tasks").data(t, &rows)
		if len(rows) != 0 {
			t.Errorf("got %d foreign tasks, want 0", len(rows))
		}
	})
}
