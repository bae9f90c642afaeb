package pvetest

// Node power, wake-on-LAN, guest configs (startup order) and migration, as
// docs/pve-features.md §5, §6 and §8.2 describe them (pve-manager API2/Nodes.pm,
// qemu-server API2/Qemu.pm, pve-container API2/LXC.pm).

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NodeBootTime is how long a rebooted or woken node stays offline in the fake by default.
const NodeBootTime = 90 * time.Second

// nodeDownDelay is how long after `POST …/status command=…` a node goes offline: the handler
// runs `(sleep 2;/sbin/reboot)&` (Nodes.pm).
const nodeDownDelay = 2 * time.Second

// SetNodeMAC sets the wake-on-LAN MAC of a node's config ("" removes it).
func (s *Server) SetNodeMAC(node, mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[node]; ok {
		n.mac = mac
	}
}

// SetNodeBootTime sets how long a node stays offline after a reboot or a wake-up.
func (s *Server) SetNodeBootTime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bootTime = d
}

// SetStartup sets a guest's onboot flag and startup string ("order=2,up=30,down=60").
func (s *Server) SetStartup(vmid int, onboot bool, startup string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.guests[vmid]; ok {
		g.onboot, g.startup = onboot, startup
	}
}

// SetLocalResources marks a VM as using local devices (hostpci0, usb0, …) or local disks,
// which block a migration as in qemu-server.
func (s *Server) SetLocalResources(vmid int, resources, localDisks []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.guests[vmid]; ok {
		g.localRes, g.localDisks = slices.Clone(resources), slices.Clone(localDisks)
	}
}

func (s *Server) localNodeLocked() string {
	if ns := s.sortedNodes(); len(ns) > 0 {
		return ns[0].Name
	}
	return ""
}

func (s *Server) bootTimeLocked() time.Duration {
	if s.bootTime > 0 {
		return s.bootTime
	}
	return NodeBootTime
}

// nodeDownLocked takes a node offline: its running guests stop (PVE's stopall at shutdown).
func (s *Server) nodeDownLocked(n *nodeState) {
	n.Online = false
	for _, g := range s.guests {
		if g.Node == n.Name && g.Status == "running" {
			g.Status, g.Paused = "stopped", false
		}
	}
}

// nodeUpLocked brings a node back and starts its onboot guests, as the boot-time startall does.
func (s *Server) nodeUpLocked(n *nodeState) {
	n.Online, n.bootAt = true, s.now()
	for _, g := range s.guests {
		if g.Node == n.Name && g.onboot && !g.Template {
			g.Status, g.bootAt = "running", s.now()
		}
	}
}

// handleNodePower is POST /nodes/{node}/status: synchronous, {"data":null}; the node goes down
// two seconds later and, for a reboot, comes back after its boot time.
func (s *Server) handleNodePower(c *call, node string) {
	cmd := c.params.Get("command")
	if cmd != "reboot" && cmd != "shutdown" {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.",
			map[string]string{"command": fmt.Sprintf("value '%s' does not have a value in the enumeration 'reboot, shutdown'", cmd)})
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	n := s.nodes[node]
	down := s.now().Add(nodeDownDelay)
	s.scheduleLocked(down, func() { s.nodeDownLocked(n) })
	if cmd == "reboot" {
		s.scheduleLocked(down.Add(s.bootTimeLocked()), func() { s.nodeUpLocked(n) })
	}
	s.mu.Unlock()
	s.ok(c, nil, nil)
}

// handleWake is POST /nodes/{node}/wakeonlan: not proxied; the answering node sends the packet
// with the target's MAC and answers with it.
func (s *Server) handleWake(c *call, node string) {
	s.mu.Lock()
	s.advanceLocked()
	n, ok := s.nodes[node]
	var msg string
	switch {
	case !ok:
		msg = fmt.Sprintf("no such cluster node '%s'", node)
	case node == s.localNodeLocked():
		msg = fmt.Sprintf("'%s' is local node, cannot wake my self!", node)
	case n.mac == "":
		msg = fmt.Sprintf("No wake on LAN MAC address defined for '%s'!", node)
	}
	if msg != "" {
		s.mu.Unlock()
		s.fail(c, http.StatusInternalServerError, msg, nil)
		return
	}
	mac := n.mac
	if !n.Online && !n.waking {
		n.waking = true
		s.scheduleLocked(s.now().Add(s.bootTimeLocked()), func() {
			n.waking = false
			s.nodeUpLocked(n)
		})
	}
	s.mu.Unlock()
	s.ok(c, mac, nil)
}

// handleGuestConfig is GET /nodes/{node}/{type}/{vmid}/config (VM.Audit): the keys the bot reads.
func (s *Server) handleGuestConfig(c *call, vmid int) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	e := map[string]any{"digest": fmt.Sprintf("%040x", vmid*31), "memory": strconv.FormatUint(g.MaxMem>>20, 10), "cores": g.MaxCPU}
	disk := g.diskStorage
	if disk == "" {
		disk = "local-lvm"
	}
	if g.Type == "qemu" {
		e["name"] = g.Name
		e["scsi0"] = fmt.Sprintf("%s:vm-%d-disk-0,size=%dG", disk, vmid, g.MaxDisk>>30)
		e["ide2"] = "local:iso/debian-12.iso,media=cdrom,size=628M"
	} else {
		e["hostname"] = g.Name
		e["rootfs"] = fmt.Sprintf("%s:subvol-%d-disk-0,size=%dG", disk, vmid, g.MaxDisk>>30)
	}
	if g.onboot {
		e["onboot"] = 1
	}
	if g.startup != "" {
		e["startup"] = g.startup
	}
	if g.Lock != "" {
		e["lock"] = g.Lock
	}
	if len(g.Tags) > 0 {
		e["tags"] = strings.Join(g.Tags, ";")
	}
	if g.Template {
		e["template"] = 1
	}
	s.mu.Unlock()
	s.ok(c, e, nil)
}

// handleMigrateCheck is GET /nodes/{node}/qemu/{vmid}/migrate (QEMU only before PVE 9).
func (s *Server) handleMigrateCheck(c *call, vmid int) {
	target := c.params.Get("target")
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	if g.Lock != "" {
		s.mu.Unlock()
		s.fail(c, http.StatusInternalServerError, fmt.Sprintf("VM is locked (%s)", g.Lock), nil)
		return
	}
	allowed := []string{}
	for _, n := range s.sortedNodes() {
		if n.Name != g.Node && (target == "" || target == n.Name) {
			allowed = append(allowed, n.Name)
		}
	}
	disks := []map[string]any{}
	for _, d := range g.localDisks {
		disks = append(disks, map[string]any{"volid": d, "size": g.MaxDisk, "cdrom": 0, "is_unused": 0})
	}
	out := map[string]any{
		"running": b2i(g.Status == "running"), "allowed_nodes": allowed, "not_allowed_nodes": map[string]any{},
		"local_disks": disks, "local_resources": append([]string{}, g.localRes...), "mapped-resources": []string{},
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

// handleMigrate is POST /nodes/{node}/{type}/{vmid}/migrate.
func (s *Server) handleMigrate(c *call, node, typ string, vmid int) {
	target := c.params.Get("target")
	if target == "" {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"target": "property is missing and it is not optional"})
		return
	}
	if target == node {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"target": "target is local node."})
		return
	}
	if !s.quorate(c) {
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	tn, ok := s.nodes[target]
	word := guestWord(typ)
	var syncErr string
	switch {
	case !ok:
		syncErr = fmt.Sprintf("no such cluster node '%s'", target)
	case g.Lock != "":
		syncErr = fmt.Sprintf("%s is locked (%s)", word, g.Lock)
	case typ == "qemu" && g.Status == "running" && !g.HA && !boolParam(c, "online"):
		syncErr = "can't migrate running VM without --online"
	case typ == "lxc" && g.Status == "running" && !g.HA && !boolParam(c, "restart") && !boolParam(c, "online"):
		syncErr = "can't migrate running container without --online or --restart"
	}
	if syncErr != "" {
		s.mu.Unlock()
		s.fail(c, http.StatusInternalServerError, syncErr, nil)
		return
	}
	if g.HA {
		// The HA stack migrates it in its next rounds; the hamigrate task only queues the request.
		t := s.newTaskLocked(node, "hamigrate", itoa(vmid), c.tok.id)
		t.exit = "OK"
		t.prelude = []string{fmt.Sprintf("Requesting HA migration for %s %d to node %s", word, vmid, target)}
		now := s.now()
		s.scheduleLocked(now, func() {
			t.done, t.end = true, now
			g.haReq = &haRequest{want: "migrate", target: target}
		})
		s.advanceLocked()
		s.mu.Unlock()
		s.ok(c, t.upid, nil)
		return
	}
	t := s.newTaskLocked(node, map[bool]string{true: "qmigrate", false: "vzmigrate"}[typ == "qemu"], itoa(vmid), c.tok.id)
	stamp := s.now().Format("2006-01-02 15:04:05")
	t.prelude = []string{fmt.Sprintf("%s starting migration of %s %d to node '%s' (192.168.1.%d)", stamp, word, vmid, target, 10+tn.index)}
	t.exit = "OK"
	switch {
	case typ == "qemu" && len(g.localRes) > 0:
		t.prelude = append(t.prelude, fmt.Sprintf("%s ERROR: can't migrate VM which uses local devices: %s", stamp, strings.Join(g.localRes, ", ")))
		t.exit = "migration aborted"
	case typ == "qemu" && len(g.localDisks) > 0 && g.Status == "running" && !boolParam(c, "with-local-disks"):
		t.prelude = append(t.prelude, stamp+" ERROR: can't live migrate attached local disks without with-local-disks option")
		t.exit = "migration aborted"
	case !tn.Online:
		t.prelude = append(t.prelude, stamp+" ERROR: Can't connect to destination address using public key")
		t.exit = "migration aborted"
	}
	ok = taskSuccess(t.exit)
	if ok {
		g.Lock = "migrate"
	}
	dur := s.opts.TaskDuration
	if dur <= 0 {
		dur = 50 * time.Millisecond
	}
	due := t.start.Add(dur)
	s.scheduleLocked(due, func() {
		t.done, t.end = true, due
		if !ok {
			t.prelude = append(t.prelude, "migration aborted (duration 00:00:01): "+strings.TrimPrefix(t.prelude[len(t.prelude)-1], stamp+" ERROR: "))
			return
		}
		t.prelude = append(t.prelude, "migration finished successfully (duration 00:00:01)")
		if g.Lock == "migrate" {
			g.Lock = ""
		}
		g.Node = target
	})
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}
