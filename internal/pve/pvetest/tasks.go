package pvetest

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// UPIDPattern is PVE's UPID syntax (pve-common UPID.pm), for tests of the format.
const UPIDPattern = `^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$`

var upidRE = regexp.MustCompile(UPIDPattern)

type task struct {
	upid, node, typ, id, user string // user: the full token id
	pid                       uint32
	pstart                    uint64
	start                     time.Time
	done                      bool
	end                       time.Time
	exit                      string
	prelude                   []string // log lines written while running
}

func taskSuccess(exit string) bool {
	return exit == "OK" || strings.HasPrefix(exit, "WARNINGS")
}

func (t *task) logLines() []string {
	lines := append([]string{}, t.prelude...)
	if !t.done {
		return lines
	}
	switch {
	case t.exit == "OK":
		lines = append(lines, "TASK OK")
	case strings.HasPrefix(t.exit, "WARNINGS"):
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(t.exit, "WARNINGS:")))
		for i := 1; i <= n; i++ {
			lines = append(lines, fmt.Sprintf("WARN: warning %d of %d (pvetest)", i, n))
		}
		lines = append(lines, "TASK "+t.exit)
	default:
		lines = append(lines, "TASK ERROR: "+t.exit)
	}
	return lines
}

// plan is what one power action will do: fail at once (syncErr), or run a task of type typ
// that ends with exit and then applies effect.
type plan struct {
	syncErr string
	typ     string
	exit    string
	effect  func()
	log     []string // task log lines before the end line
	ha      bool     // only hands the request to the HA stack: ends at once
}

// planLocked is the state table of docs/pve.md 2.9 and 2.10.
func (s *Server) planLocked(c *call, g *guestState, action string) plan {
	qemu := g.Type == "qemu"
	running := g.Status == "running"
	word, pfx := "CT", "vz"
	if qemu {
		word, pfx = "VM", "qm"
	}
	locked := g.Lock != "" && g.Lock != "suspended"
	lockErr := fmt.Sprintf("%s is locked (%s)", word, g.Lock)
	start := func() {
		g.Status, g.Paused, g.bootAt = "running", false, s.now()
		if g.Lock == "suspended" {
			g.Lock = ""
		}
	}
	stop := func() { g.Status, g.Paused = "stopped", false }
	restart := func() { g.bootAt, g.Paused = s.now(), false }
	p := plan{typ: pfx + action, exit: "OK"}
	switch action {
	case "start":
		if !qemu && running {
			return plan{syncErr: fmt.Sprintf("CT %d already running", g.VMID)}
		}
		if g.HA {
			return s.haPlanLocked(g, "started", 0)
		}
		switch {
		case g.Template:
			p.exit = fmt.Sprintf("you can't start a %s if it's a template", map[bool]string{true: "vm", false: "CT"}[qemu])
		case locked:
			p.exit = lockErr
		case running:
			p.exit = fmt.Sprintf("VM %d already running", g.VMID)
		default:
			p.effect = start
		}
	case "stop", "shutdown":
		if !qemu && !running {
			return plan{syncErr: fmt.Sprintf("CT %d not running", g.VMID)}
		}
		if action == "shutdown" && qemu && running && g.Paused && !boolParam(c, "forceStop") {
			return plan{syncErr: "VM is paused - cannot shutdown"}
		}
		if g.HA {
			timeout := 0
			if action == "shutdown" {
				timeout = intParam(c, "timeout", 60)
			}
			return s.haPlanLocked(g, "stopped", timeout)
		}
		switch {
		case locked && !boolParam(c, "skiplock"):
			p.exit = lockErr
		case running:
			p.effect = stop
		}
	case "reboot", "reset":
		if action == "reboot" && qemu && running && g.Paused {
			return plan{syncErr: "VM is paused - cannot shutdown"} // Qemu.pm, before "not running"
		}
		if !running {
			return plan{syncErr: fmt.Sprintf("VM %d not running", g.VMID)}
		}
		if locked {
			p.exit = lockErr
		} else {
			p.effect = restart
		}
	case "suspend":
		if !running {
			return plan{syncErr: fmt.Sprintf("%s %d not running", word, g.VMID)}
		}
		if qemu && boolParam(c, "todisk") {
			if g.HA {
				return plan{syncErr: "Cannot suspend HA managed VM to disk"}
			}
			p.typ = "qmsuspend"
			p.effect = func() { g.Status, g.Paused, g.Lock = "stopped", false, "suspended" }
		} else if qemu {
			p.typ = "qmpause"
			p.effect = func() { g.Paused = true }
		} else {
			// lxc-checkpoint -s: dump the container and stop it (LXC/Status.pm vm_suspend).
			p.effect = stop
		}
		if locked {
			p.exit, p.effect = lockErr, nil
		}
	case "resume":
		hibernated := qemu && g.Lock == "suspended"
		switch {
		case qemu && !running && !hibernated:
			return plan{syncErr: fmt.Sprintf("VM %d not running", g.VMID)}
		case !qemu && running:
			return plan{syncErr: fmt.Sprintf("CT %d already running", g.VMID)}
		}
		switch {
		case hibernated, !qemu: // lxc-checkpoint -r restores a stopped container
			p.effect = start
		case running && !g.Paused:
			// qemu-server vm_resume: "job done, go home"
		case locked:
			p.exit = lockErr
		default:
			p.effect = func() { g.Paused = false }
		}
	}
	return p
}

func (s *Server) handleAction(c *call, node, typ string, vmid int, action string) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	p := s.planLocked(c, g, action)
	if p.syncErr != "" {
		s.mu.Unlock()
		s.fail(c, http.StatusInternalServerError, p.syncErr, nil)
		return
	}
	never := false
	k := itoa(vmid) + "/" + action
	if q := s.taskResults[k]; len(q) > 0 {
		s.taskResults[k] = q[1:]
		if q[0] == TaskNeverEnds {
			never = true
		} else {
			if !taskSuccess(q[0]) {
				p.effect = nil
			}
			p.exit = q[0]
		}
	}
	if !taskSuccess(p.exit) {
		p.effect = nil
	}
	t := s.newTaskLocked(node, p.typ, itoa(vmid), c.tok.id)
	t.exit = p.exit
	t.prelude = p.log
	dur := s.opts.TaskDuration
	if p.ha {
		dur = min(dur, time.Second) // ha-manager only writes the request down
	}
	if !never {
		due := t.start.Add(dur)
		effect := p.effect
		s.scheduleLocked(due, func() {
			t.done, t.end = true, due
			if effect != nil {
				effect()
			}
		})
	}
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}

// haSID is the HA resource id of a guest: vm:<id> or ct:<id>.
func haSID(g *guestState) string {
	if g.Type == "lxc" {
		return "ct:" + itoa(g.VMID)
	}
	return "vm:" + itoa(g.VMID)
}

// haPlanLocked is a hastart/hastop task: it runs ha-manager, which writes the request down for
// the CRM (Qemu.pm, LXC/Status.pm), or refuses a service in error state
// (API2/HA/Resources.pm), which the task only reports as the command's exit code.
func (s *Server) haPlanLocked(g *guestState, want string, timeout int) plan {
	typ, cmd := "hastart", fmt.Sprintf("ha-manager set %s --state started", haSID(g))
	if want == "stopped" {
		typ, cmd = "hastop", fmt.Sprintf("ha-manager crm-command stop %s %d", haSID(g), timeout)
	}
	p := plan{typ: typ, exit: "OK", ha: true}
	if g.hastate == "error" {
		p.exit = fmt.Sprintf("command '%s' failed: exit code 255", cmd)
		p.log = []string{fmt.Sprintf("service '%s' in error state, must be disabled and fixed first", haSID(g))}
		return p
	}
	p.log = []string{fmt.Sprintf("Requesting HA %s for %s %d", map[bool]string{true: "start", false: "stop"}[want == "started"],
		map[bool]string{true: "VM", false: "CT"}[g.Type == "qemu"], g.VMID)}
	p.effect = func() { g.haReq = &haRequest{want: want, timeout: timeout} }
	return p
}

func (s *Server) haPendingLocked() bool {
	if s.haIdle {
		return false
	}
	for _, g := range s.guests {
		if g.haReq != nil {
			return true
		}
	}
	return false
}

// haRoundLocked is one HA round: the CRM takes up new requests, and the LRM carries out the
// ones the CRM took up in the round before. The LRM's qmstart/qmshutdown run as root@pam; a
// guest they cannot act on (a lock) leaves the service in error state.
func (s *Server) haRoundLocked(at time.Time) {
	if s.haIdle {
		return
	}
	for _, g := range s.sortedGuests() {
		req := g.haReq
		switch {
		case req == nil:
			continue
		case !req.crmSeen:
			req.crmSeen = true
			if req.want == "migrate" {
				g.hastate = "migrate"
			} else if req.want == "started" {
				g.hastate = "started" // the CRM's state; the guest starts in the LRM's round
			} else {
				g.hastate = "request_stop"
			}
			continue
		}
		g.haReq = nil
		s.lrmActLocked(at, g, req)
	}
}

func (s *Server) lrmActLocked(at time.Time, g *guestState, req *haRequest) {
	pfx := "vz"
	if g.Type == "qemu" {
		pfx = "qm"
	}
	if req.want == "migrate" {
		s.lrmMigrateLocked(at, g, req.target)
		return
	}
	typ := pfx + "start"
	if req.want == "stopped" {
		typ = pfx + "shutdown"
		if req.timeout == 0 {
			typ = pfx + "stop"
		}
	}
	t := s.newTaskAtLocked(at, g.Node, typ, itoa(g.VMID), "root@pam")
	t.exit = "OK"
	due := t.start.Add(s.opts.TaskDuration)
	var effect func()
	switch {
	case g.Lock != "" && g.Lock != "suspended":
		t.exit = fmt.Sprintf("%s is locked (%s)", map[bool]string{true: "VM", false: "CT"}[g.Type == "qemu"], g.Lock)
		effect = func() { g.hastate = "error" }
	case req.want == "started" && g.Template:
		t.exit = "you can't start a vm if it's a template"
		effect = func() { g.hastate = "error" }
	case req.want == "started":
		effect = func() {
			if g.Status != "running" {
				g.Status, g.Paused, g.bootAt = "running", false, due
			}
			g.hastate = "started"
		}
	default:
		effect = func() { g.Status, g.Paused, g.hastate = "stopped", false, "stopped" }
	}
	s.scheduleLocked(due, func() {
		t.done, t.end = true, due
		effect()
	})
}

// lrmMigrateLocked is the LRM carrying out an HA migration: a qmigrate/vzmigrate task as
// root@pam, after which the guest runs on target in state started.
func (s *Server) lrmMigrateLocked(at time.Time, g *guestState, target string) {
	typ := map[bool]string{true: "qmigrate", false: "vzmigrate"}[g.Type == "qemu"]
	t := s.newTaskAtLocked(at, g.Node, typ, itoa(g.VMID), "root@pam")
	t.exit = "OK"
	due := t.start.Add(s.opts.TaskDuration)
	tn := s.nodes[target]
	if tn == nil || !tn.Online {
		t.exit = "migration aborted"
	}
	g.Lock = "migrate"
	s.scheduleLocked(due, func() {
		t.done, t.end = true, due
		if g.Lock == "migrate" {
			g.Lock = ""
		}
		if t.exit == "OK" {
			g.Node = target
		}
		g.hastate = map[bool]string{true: "started", false: "stopped"}[g.Status == "running"]
	})
}

// RunHARound runs one HA round now, whatever the clock says (tests with HARound < 0).
func (s *Server) RunHARound() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	s.haRoundLocked(s.now())
	s.advanceLocked()
}

// SetHAActive(false) models an HA stack without a CRM master (no quorum, services stopped):
// hastart/hastop tasks still end OK, but nothing ever acts on the request.
func (s *Server) SetHAActive(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	s.haIdle = !on
}

// SetHAError puts an HA guest's service in error state: ha-manager refuses to start or stop it
// until it is disabled and fixed.
func (s *Server) SetHAError(vmid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	if g, ok := s.guests[vmid]; ok && g.HA {
		g.hastate, g.haReq = "error", nil
	}
}

// HAState returns an HA guest's service state as /cluster/resources shows it ("" if not HA).
func (s *Server) HAState(vmid int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	if g, ok := s.guests[vmid]; ok {
		return g.hastate
	}
	return ""
}

func (s *Server) newTaskLocked(node, typ, id, user string) *task {
	return s.newTaskAtLocked(s.now(), node, typ, id, user)
}

// newTaskAtLocked starts a task at a given time (an HA round evaluated after the fact).
func (s *Server) newTaskAtLocked(now time.Time, node, typ, id, user string) *task {
	s.pid += 0x1B
	var pstart uint64
	if n := s.nodes[node]; n != nil {
		pstart = uint64(now.Sub(n.bootAt) / (10 * time.Millisecond))
	}
	t := &task{node: node, typ: typ, id: id, user: user, pid: s.pid, pstart: pstart, start: now}
	t.upid = fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, t.pid, pstart, now.Unix(), typ, id, user)
	s.tasks = append(s.tasks, t)
	s.taskByUPID[t.upid] = t
	return t
}

// taskFields is what PVE returns for a task, with a token's id split into user and tokenid.
func taskFields(t *task) map[string]any {
	e := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart, "starttime": t.start.Unix(),
		"type": t.typ, "id": t.id, "user": t.user,
	}
	if user, tok, ok := strings.Cut(t.user, "!"); ok {
		e["user"], e["tokenid"] = user, tok
	}
	return e
}

func (s *Server) handleTask(c *call, node, upid, what string) {
	if !upidRE.MatchString(upid) {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"upid": "unable to parse worker upid"})
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	t, ok := s.taskByUPID[upid]
	if !ok || t.node != node {
		s.mu.Unlock()
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"upid": "no such task"})
		return
	}
	owner := t.user == c.tok.id
	allowed := owner || s.canLocked(c.tok, "/nodes/"+node, "Sys.Audit")
	if !allowed {
		s.mu.Unlock()
		s.fail(c, http.StatusForbidden, fmt.Sprintf("Permission check failed (/nodes/%s, Sys.Audit)", node), nil)
		return
	}
	if what == "status" {
		e := taskFields(t)
		e["status"] = "running"
		if t.done {
			e["status"], e["exitstatus"] = "stopped", t.exit
		}
		s.mu.Unlock()
		s.ok(c, e, nil)
		return
	}
	lines := t.logLines()
	s.mu.Unlock()
	start, limit := intParam(c, "start", 0), intParam(c, "limit", 50)
	out := []map[string]any{}
	for i, l := range lines {
		if i < start || len(out) >= limit {
			continue
		}
		out = append(out, map[string]any{"n": i + 1, "t": l})
	}
	total := len(lines)
	if total == 0 {
		out, total = []map[string]any{{"n": 1, "t": "no content"}}, 1
	}
	s.ok(c, out, map[string]any{"total": total})
}

func intParam(c *call, name string, def int) int {
	if v, err := strconv.Atoi(c.params.Get(name)); err == nil {
		return v
	}
	return def
}

func (s *Server) handleTaskList(c *call, node string) {
	source := c.params.Get("source")
	if source == "" {
		source = "archive"
	}
	vmid, typeFilter, userFilter := c.params.Get("vmid"), c.params.Get("typefilter"), c.params.Get("userfilter")
	errorsOnly := boolParam(c, "errors")
	since, until := intParam(c, "since", 0), intParam(c, "until", 0)
	s.mu.Lock()
	s.advanceLocked()
	audit := s.canLocked(c.tok, "/nodes/"+node, "Sys.Audit")
	var rows []*task
	for _, t := range s.tasks {
		switch {
		case t.node != node, !audit && t.user != c.tok.id:
			continue
		case source == "archive" && !t.done, source == "active" && t.done:
			continue
		case vmid != "" && t.id != vmid, typeFilter != "" && t.typ != typeFilter:
			continue
		case userFilter != "" && !strings.Contains(t.user, userFilter):
			continue
		case errorsOnly && (!t.done || taskSuccess(t.exit)):
			continue
		case since > 0 && t.start.Unix() < int64(since), until > 0 && t.start.Unix() > int64(until):
			continue
		}
		rows = append(rows, t)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].start.Equal(rows[j].start) {
			return rows[i].start.After(rows[j].start)
		}
		return rows[i].pid > rows[j].pid
	})
	start, limit := intParam(c, "start", 0), intParam(c, "limit", 50)
	out := []map[string]any{}
	for i, t := range rows {
		if i < start || len(out) >= limit {
			continue
		}
		e := taskFields(t)
		e["status"] = "RUNNING"
		if t.done {
			e["status"], e["endtime"] = t.exit, t.end.Unix()
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	s.ok(c, out, map[string]any{"total": len(rows)})
}
