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
	ha      string // "start"/"stop" when routed through the HA stack
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
			return plan{typ: "hastart", exit: "OK", ha: "start"}
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
			return plan{typ: "hastop", exit: "OK", ha: "stop"}
		}
		switch {
		case locked && !boolParam(c, "skiplock"):
			p.exit = lockErr
		case running:
			p.effect = stop
		}
	case "reboot", "reset":
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
		} else {
			if qemu {
				p.typ = "qmpause"
			}
			p.effect = func() { g.Paused = true }
		}
		if locked {
			p.exit, p.effect = lockErr, nil
		}
	case "resume":
		hibernated := qemu && g.Lock == "suspended"
		switch {
		case qemu && !running && !hibernated:
			return plan{syncErr: fmt.Sprintf("VM %d not running", g.VMID)}
		case !qemu && !running:
			return plan{syncErr: fmt.Sprintf("CT %d not running", g.VMID)}
		case !qemu && !g.Paused:
			return plan{syncErr: fmt.Sprintf("CT %d already running", g.VMID)}
		}
		switch {
		case hibernated:
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
	dur := s.opts.TaskDuration
	if p.ha != "" {
		dur = 0 // hastart/hastop only hand the request to the HA stack
		t.prelude = []string{fmt.Sprintf("Requesting HA %s for %s %d", p.ha, map[bool]string{true: "VM", false: "CT"}[typ == "qemu"], vmid)}
		p.effect = s.haEffectLocked(g, p.ha)
		if !taskSuccess(p.exit) {
			p.effect = nil
		}
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

// haEffectLocked sets the HA request at the end of the hastart/hastop task and flips the guest
// HADelay later, as the HA manager does.
func (s *Server) haEffectLocked(g *guestState, want string) func() {
	return func() {
		state, status := "started", "running"
		if want == "stop" {
			state, status = "stopped", "stopped"
		}
		g.hastate = state
		s.scheduleLocked(s.now().Add(s.opts.HADelay), func() {
			if g.hastate != state || g.Status == status || (g.Template && status == "running") {
				return
			}
			g.Status, g.Paused = status, false
			if status == "running" {
				g.bootAt = s.now()
			}
		})
	}
}

func (s *Server) newTaskLocked(node, typ, id, user string) *task {
	s.pid += 0x1B
	now := s.now()
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
