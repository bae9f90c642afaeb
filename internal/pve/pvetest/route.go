package pvetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) notImplemented(c *call) {
	s.fail(c, http.StatusNotImplemented, fmt.Sprintf("Method '%s %s' not implemented", c.method, c.path), nil)
}

// route dispatches in PVE's order: handler lookup (501), permission (403), proxy to the node
// (500/595), parameter verification (400), then the handler itself.
func (s *Server) route(c *call) {
	get := c.method == http.MethodGet
	switch {
	case get && c.path == "/version":
		if s.verifyParams(c, "GET /version") {
			s.handleVersion(c)
		}
		return
	case get && c.path == "/cluster/resources":
		if s.verifyParams(c, "GET /cluster/resources") {
			s.handleResources(c)
		}
		return
	case get && c.path == "/cluster/status":
		if s.check(c, "/", "Sys.Audit") && s.verifyParams(c, "GET /cluster/status") {
			s.handleClusterStatus(c)
		}
		return
	case get && c.path == "/nodes":
		if s.verifyParams(c, "GET /nodes") {
			s.handleNodes(c)
		}
		return
	case get && c.path == "/cluster/backup":
		if s.check(c, "/", "Sys.Audit") && s.verifyParams(c, "GET /cluster/backup") {
			s.handleBackupJobs(c)
		}
		return
	case get && c.path == "/cluster/backup-info/not-backed-up":
		if s.check(c, "/", "Sys.Audit") && s.verifyParams(c, "GET /cluster/backup-info/not-backed-up") {
			s.handleNotBackedUp(c)
		}
		return
	case get && c.path == "/cluster/notifications/endpoints/webhook":
		if s.verifyParams(c, "GET /cluster/notifications/endpoints/webhook") {
			s.handleWebhookTargets(c)
		}
		return
	case get && c.path == "/access/permissions":
		if s.verifyParams(c, "GET /access/permissions") {
			s.handlePermissions(c)
		}
		return
	}
	segs := strings.Split(strings.Trim(c.path, "/"), "/")
	if len(segs) >= 3 && segs[0] == "nodes" && segs[1] != "" {
		s.routeNode(c, segs[1], segs[2:])
		return
	}
	s.notImplemented(c)
}

// vmid reads a path's VMID, answering 400 like PVE's schema check when it is not one.
func (s *Server) vmid(c *call, id string) (int, bool) {
	vmid, err := strconv.Atoi(id)
	if err != nil || vmid <= 0 {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.",
			map[string]string{"vmid": fmt.Sprintf("type check ('integer') failed - got '%s'", id)})
		return 0, false
	}
	return vmid, true
}

func isGuestType(t string) bool { return t == "qemu" || t == "lxc" }

func isAction(typ, a string) bool {
	switch a {
	case "start", "stop", "shutdown", "reboot", "suspend", "resume":
		return true
	case "reset":
		return typ == "qemu"
	}
	return false
}

func (s *Server) routeNode(c *call, node string, rest []string) {
	get, post := c.method == http.MethodGet, c.method == http.MethodPost
	switch {
	case get && len(rest) == 1 && rest[0] == "status":
		if s.check(c, "/nodes/"+node, "Sys.Audit") && s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/status") {
			s.handleNodeStatus(c, node)
		}
	case get && len(rest) == 1 && isGuestType(rest[0]):
		if s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/"+rest[0]) {
			s.handleGuestList(c, node, rest[0])
		}
	case get && len(rest) == 1 && rest[0] == "storage":
		if s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/storage") {
			s.handleStorage(c, node)
		}
	case get && len(rest) == 1 && rest[0] == "tasks":
		if s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/tasks") {
			s.handleTaskList(c, node)
		}
	case get && len(rest) == 3 && rest[0] == "tasks" && (rest[2] == "status" || rest[2] == "log"):
		if s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/tasks/{upid}/"+rest[2]) {
			s.handleTask(c, node, rest[1], rest[2])
		}
	case len(rest) == 4 && isGuestType(rest[0]) && rest[2] == "status" &&
		((get && rest[3] == "current") || (post && isAction(rest[0], rest[3]))):
		typ, action := rest[0], rest[3]
		vmid, ok := s.vmid(c, rest[1])
		if !ok {
			return
		}
		priv := "VM.PowerMgmt"
		if get {
			priv = "VM.Audit"
		}
		key := c.method + " /nodes/{node}/" + typ + "/{vmid}/status/" + action
		if !s.check(c, "/vms/"+rest[1], priv) || !s.reachable(c, node) || !s.verifyParams(c, key) {
			return
		}
		if post && action == "start" && !s.quorate(c) {
			// Only start calls check_cfs_quorum (Qemu.pm, LXC/Status.pm); stop, shutdown
			// and the others run without quorum.
			return
		}
		if !s.guestExists(c, node, typ, vmid) {
			return
		}
		if get {
			s.handleGuestStatus(c, vmid)
		} else {
			s.handleAction(c, node, typ, vmid, action)
		}
	case post && len(rest) == 1 && rest[0] == "vzdump":
		if s.reachable(c, node) && s.verifyParams(c, "POST /nodes/{node}/vzdump") {
			s.handleVzdump(c, node)
		}
	case get && len(rest) == 3 && rest[0] == "storage" && rest[2] == "content":
		if s.reachable(c, node) && s.verifyParams(c, "GET /nodes/{node}/storage/{storage}/content") {
			s.handleContent(c, node, rest[1])
		}
	case post && len(rest) == 1 && rest[0] == "status":
		if s.check(c, "/nodes/"+node, "Sys.PowerMgmt") && s.reachable(c, node) && s.verifyParams(c, "POST /nodes/{node}/status") {
			s.handleNodePower(c, node)
		}
	case post && len(rest) == 1 && rest[0] == "wakeonlan":
		// not proxied: the answering node sends the packet
		if s.check(c, "/nodes/"+node, "Sys.PowerMgmt") && s.verifyParams(c, "POST /nodes/{node}/wakeonlan") {
			s.handleWake(c, node)
		}
	case len(rest) == 3 && isGuestType(rest[0]) && (get && rest[2] == "config" || rest[2] == "migrate" && (post || get && rest[0] == "qemu")):
		typ := rest[0]
		vmid, ok := s.vmid(c, rest[1])
		if !ok {
			return
		}
		priv := "VM.Migrate"
		if rest[2] == "config" {
			priv = "VM.Audit"
		}
		if !s.check(c, "/vms/"+rest[1], priv) || !s.reachable(c, node) ||
			!s.verifyParams(c, c.method+" /nodes/{node}/"+typ+"/{vmid}/"+rest[2]) || !s.guestExists(c, node, typ, vmid) {
			return
		}
		switch {
		case rest[2] == "config":
			s.handleGuestConfig(c, vmid)
		case get:
			s.handleMigrateCheck(c, vmid)
		default:
			s.handleMigrate(c, node, typ, vmid)
		}
	case len(rest) >= 3 && isGuestType(rest[0]) && rest[2] == "snapshot":
		s.routeSnapshot(c, node, rest[0], rest[1], rest[3:])
	case get && ((len(rest) == 4 && rest[0] == "qemu" && rest[2] == "agent" && rest[3] == "network-get-interfaces") ||
		(len(rest) == 3 && rest[0] == "lxc" && rest[2] == "interfaces")):
		s.routeAddresses(c, node, rest[0], rest[1])
	case get && len(rest) >= 1 && rest[len(rest)-1] == "rrddata":
		s.routeRRD(c, node, rest)
	default:
		s.notImplemented(c)
	}
}

// routeAddresses serves a guest's addresses: the QEMU guest agent's
// network-get-interfaces, or a container's interfaces (pve-container 5.0.6, PVE 8.1+).
func (s *Server) routeAddresses(c *call, node, typ, id string) {
	major, minor := s.release()
	key := "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"
	// PVE 7.4 and 8.x check VM.Monitor for every agent command; 9.0 replaced it with
	// VM.GuestAgent.Audit (or .Unrestricted) (qemu-server Agent.pm).
	privs := []string{"VM.Monitor"}
	if major >= 9 {
		privs = []string{"VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"}
	}
	if typ == "lxc" {
		if major < 8 || (major == 8 && minor < 1) {
			s.notImplemented(c)
			return
		}
		key, privs = "GET /nodes/{node}/lxc/{vmid}/interfaces", []string{"VM.Audit"}
	}
	vmid, ok := s.vmid(c, id)
	if !ok {
		return
	}
	path := "/vms/" + id
	s.mu.Lock()
	allowed := false
	for _, p := range privs {
		allowed = allowed || s.canLocked(c.tok, path, p)
	}
	s.mu.Unlock()
	if !allowed {
		s.fail(c, http.StatusForbidden, fmt.Sprintf("Permission check failed (%s, %s)", path, privs[0]), nil)
		return
	}
	if !s.reachable(c, node) || !s.verifyParams(c, key) || !s.guestExists(c, node, typ, vmid) {
		return
	}
	s.mu.Lock()
	g := s.guests[vmid].Guest
	g.NICs = slices.Clone(g.NICs)
	s.mu.Unlock()
	running := g.Status == "running"
	if typ == "lxc" {
		if !running {
			s.ok(c, nil, nil) // a stopped container: {"data":null}, HTTP 200
			return
		}
		s.ok(c, lxcInterfaces(g.NICs, major > 8 || (major == 8 && minor >= 4)), nil)
		return
	}
	// The order of qemu-server's agent_available checks.
	switch {
	case g.Agent == "":
		s.fail(c, http.StatusInternalServerError, "No QEMU guest agent configured", nil)
	case !running:
		s.fail(c, http.StatusInternalServerError, fmt.Sprintf("VM %d is not running", vmid), nil)
	case g.Agent != AgentRunning:
		s.fail(c, http.StatusInternalServerError, "QEMU guest agent is not running", nil)
	default:
		s.ok(c, map[string]any{"result": agentInterfaces(g.NICs)}, nil)
	}
}

// agentInterfaces is the QGA guest-network-get-interfaces reply.
func agentInterfaces(nics []NIC) []map[string]any {
	out := []map[string]any{}
	for _, n := range nics {
		e := map[string]any{"name": n.Name,
			"statistics": map[string]any{"rx-bytes": 0, "rx-packets": 0, "tx-bytes": 0, "tx-packets": 0}}
		if n.MAC != "" {
			e["hardware-address"] = n.MAC
		}
		var addrs []map[string]any
		for _, a := range n.Addrs {
			ip, prefix, v6 := splitCIDR(a)
			typ := "ipv4"
			if v6 {
				typ = "ipv6"
			}
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": typ, "prefix": prefix})
		}
		if addrs != nil {
			e["ip-addresses"] = addrs
		}
		out = append(out, e)
	}
	return out
}

// lxcInterfaces is GET /nodes/{node}/lxc/{vmid}/interfaces: before pve-container 5.2.6
// (PVE 8.4) only name, hwaddr and the last address of each family as inet/inet6; from
// then on also ip-addresses, typed inet/inet6 (not ipv4/ipv6 as from the agent).
func lxcInterfaces(nics []NIC, full bool) []map[string]any {
	out := []map[string]any{}
	for _, n := range nics {
		e := map[string]any{"name": n.Name, "hwaddr": n.MAC}
		var addrs []map[string]any
		for _, a := range n.Addrs {
			ip, prefix, v6 := splitCIDR(a)
			fam := "inet"
			if v6 {
				fam = "inet6"
			}
			e[fam] = a
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": fam, "prefix": prefix})
		}
		if full {
			e["hardware-address"] = n.MAC
			if addrs != nil {
				e["ip-addresses"] = addrs
			}
		}
		out = append(out, e)
	}
	return out
}

func splitCIDR(a string) (ip string, prefix int, v6 bool) {
	ip, p, _ := strings.Cut(a, "/")
	prefix, _ = strconv.Atoi(p)
	return ip, prefix, strings.Contains(ip, ":")
}

// release is the major and minor of Options.Version ("8.2.4" → 8, 2).
func (s *Server) release() (major, minor int) {
	parts := strings.FieldsFunc(s.opts.Version, func(r rune) bool { return r == '.' || r == '-' })
	if len(parts) > 0 {
		major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}

// reachable answers like pveproxy when the request would be proxied to a node it cannot reach.
func (s *Server) reachable(c *call, node string) bool {
	s.mu.Lock()
	n, ok := s.nodes[node]
	online := ok && n.Online
	s.mu.Unlock()
	switch {
	case !ok:
		s.fail(c, http.StatusInternalServerError,
			fmt.Sprintf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", node, node), nil)
		return false
	case !online:
		s.fail(c, 595, "No route to host", nil)
		return false
	}
	return true
}

func (s *Server) quorate(c *call) bool {
	s.mu.Lock()
	bad := s.noQuorum
	s.mu.Unlock()
	if bad {
		s.fail(c, http.StatusInternalServerError, "cluster not ready - no quorum?", nil)
		return false
	}
	return true
}

func confDir(typ string) string {
	if typ == "lxc" {
		return "lxc"
	}
	return "qemu-server"
}

func (s *Server) guestExists(c *call, node, typ string, vmid int) bool {
	s.mu.Lock()
	g, ok := s.guests[vmid]
	ok = ok && g.Node == node && g.Type == typ
	s.mu.Unlock()
	if !ok {
		s.fail(c, http.StatusInternalServerError,
			fmt.Sprintf("Configuration file 'nodes/%s/%s/%d.conf' does not exist", node, confDir(typ), vmid), nil)
	}
	return ok
}

// versionInfo returns release and repoid for /version; known releases get their real repoid.
func versionInfo(v string) (release, repoid string) {
	release = v
	if i := strings.IndexAny(v, "-"); i >= 0 {
		release = v[:i]
	} else if parts := strings.Split(v, "."); len(parts) >= 2 {
		release = parts[0] + "." + parts[1]
	}
	known := map[string]string{
		"7.2-3": "c743d6c1", "7.4-16": "0f39f621", "8.2.4": "faa83925c9641325", "9.1.5": "80cf92a64bef6888",
	}
	if r, ok := known[v]; ok {
		return release, r
	}
	sum := sha256.Sum256([]byte(v))
	repoid = hex.EncodeToString(sum[:8])
	if strings.HasPrefix(v, "7") || strings.HasPrefix(v, "6") {
		repoid = repoid[:8]
	}
	return release, repoid
}

func (s *Server) handleVersion(c *call) {
	rel, repo := versionInfo(s.opts.Version)
	s.ok(c, map[string]any{"version": s.opts.Version, "release": rel, "repoid": repo}, nil)
}

func (s *Server) guestEntryLocked(t *token, g *guestState) map[string]any {
	e := map[string]any{"id": g.Type + "/" + itoa(g.VMID), "vmid": g.VMID, "type": g.Type, "node": g.Node}
	if g.Pool != "" && s.canLocked(t, "/pool/"+g.Pool, "Pool.Audit") {
		// Since PVE 7.0 the pool is left out without Pool.Audit on it (Cluster.pm).
		e["pool"] = g.Pool
	}
	// tags, lock and hastate come from pmxcfs and stay; the rest comes from the RRD.
	if len(g.Tags) > 0 {
		e["tags"] = strings.Join(g.Tags, ";")
	}
	if g.Lock != "" {
		e["lock"] = g.Lock
	}
	if g.hastate != "" {
		e["hastate"] = g.hastate
	}
	if !s.rrdLocked(s.nodes[g.Node]) {
		e["status"] = "unknown"
		return e
	}
	running := g.Status == "running"
	e["name"] = g.Name
	e["status"] = g.Status
	if g.Type == "qemu" && running && g.Paused {
		// pvestatd feeds the RRD with qmpstatus when it has one (pvestatd.pm
		// update_qemu_status: $d->{qmpstatus} || $d->{status}).
		e["status"] = "paused"
	}
	e["template"] = b2i(g.Template)
	e["maxcpu"] = g.MaxCPU
	e["maxmem"] = g.MaxMem
	e["maxdisk"] = g.MaxDisk
	e["disk"] = g.Disk
	e["uptime"] = s.guestUptime(g)
	e["cpu"], e["mem"], e["netin"], e["netout"], e["diskread"], e["diskwrite"] = 0, 0, 0, 0, 0, 0
	if running {
		e["cpu"], e["mem"] = g.CPU, g.Mem
		e["netin"], e["netout"] = g.Mem/3, g.Mem/7
		e["diskread"], e["diskwrite"] = g.MaxDisk/50, g.MaxDisk/90
	}
	return e
}

// rrdLocked reports whether /cluster/resources still has RRD data for a node's guests.
func (s *Server) rrdLocked(n *nodeState) bool {
	switch {
	case n == nil || n.silent:
		return false
	case n.Online:
		return true
	}
	return s.now().Sub(n.offlineAt) < s.opts.RRDAge
}

func (s *Server) nodeStatsLocked(e map[string]any, n *nodeState) {
	e["cpu"] = n.CPU
	e["maxcpu"] = n.MaxCPU
	e["mem"] = n.Mem
	e["maxmem"] = n.MaxMem
	e["disk"] = n.Disk
	e["maxdisk"] = n.MaxDisk
	e["uptime"] = int64(s.now().Sub(n.bootAt) / 1e9)
}

func (s *Server) storageNodesLocked(st *Storage) []string {
	if st.Node != "" {
		return []string{st.Node}
	}
	var out []string
	for _, n := range s.sortedNodes() {
		out = append(out, n.Name)
	}
	return out
}

func (s *Server) handleResources(c *call) {
	typ := c.params.Get("type")
	s.mu.Lock()
	s.advanceLocked()
	out := []map[string]any{}
	if typ == "" || typ == "vm" {
		for _, g := range s.sortedGuests() {
			if s.canLocked(c.tok, "/vms/"+itoa(g.VMID), "VM.Audit") {
				out = append(out, s.guestEntryLocked(c.tok, g))
			}
		}
	}
	if typ == "" || typ == "node" {
		for _, n := range s.sortedNodes() {
			e := map[string]any{"id": "node/" + n.Name, "node": n.Name, "type": "node", "level": "", "status": "offline"}
			audit := s.canLocked(c.tok, "/nodes/"+n.Name, "Sys.Audit")
			switch {
			case n.Online && n.silent:
				e["status"] = "unknown" // a member without RRD data (API2Tools.pm)
			case n.Online:
				e["status"] = "online"
				e["cgroup-mode"] = 2
				if audit {
					s.nodeStatsLocked(e, n)
				}
			case audit:
				// A dead node keeps its sizes (API2Tools.pm), not its usage.
				e["maxcpu"], e["maxmem"], e["maxdisk"] = n.MaxCPU, n.MaxMem, n.MaxDisk
			}
			out = append(out, e)
		}
	}
	if typ == "" || typ == "storage" {
		for _, st := range s.storages {
			if !s.canLocked(c.tok, "/storage/"+st.Name, "Datastore.Audit") {
				continue
			}
			for _, node := range s.storageNodesLocked(st) {
				e := map[string]any{"id": "storage/" + node + "/" + st.Name, "storage": st.Name, "node": node, "type": "storage",
					"plugintype": st.Type, "content": st.Content, "shared": b2i(st.Shared), "status": "unknown"}
				if n := s.nodes[node]; n != nil && n.Online {
					e["status"] = st.Status
					e["disk"], e["maxdisk"] = st.Used, st.Total
				}
				out = append(out, e)
			}
		}
	}
	if typ == "" {
		seen := map[string]bool{}
		for _, g := range s.sortedGuests() {
			if g.Pool == "" || seen[g.Pool] || !s.canLocked(c.tok, "/pool/"+g.Pool, "Pool.Audit") {
				continue
			}
			seen[g.Pool] = true
			out = append(out, map[string]any{"id": "/pool/" + g.Pool, "pool": g.Pool, "type": "pool"})
		}
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func (s *Server) handleClusterStatus(c *call) {
	s.mu.Lock()
	nodes := s.sortedNodes()
	out := []map[string]any{{
		"type": "cluster", "id": "cluster", "name": s.opts.ClusterName, "nodes": len(nodes), "version": len(nodes) + 2,
		"quorate": b2i(!s.noQuorum),
	}}
	for i, n := range nodes {
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + n.Name, "name": n.Name, "nodeid": n.index, "online": b2i(n.Online),
			"ip": fmt.Sprintf("192.168.1.%d", 10+n.index), "local": b2i(i == 0), "level": "",
		})
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func (s *Server) handleNodes(c *call) {
	fp := s.Fingerprint()
	s.mu.Lock()
	out := []map[string]any{}
	for _, n := range s.sortedNodes() {
		e := map[string]any{"id": "node/" + n.Name, "node": n.Name, "type": "node", "level": "", "status": "offline"}
		if fp != "" {
			e["ssl_fingerprint"] = fp
		}
		if n.Online {
			e["status"] = "online"
			if s.canLocked(c.tok, "/nodes/"+n.Name, "Sys.Audit") {
				s.nodeStatsLocked(e, n)
			}
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func (s *Server) handleNodeStatus(c *call, node string) {
	s.mu.Lock()
	n := s.nodes[node]
	_, repo := versionInfo(s.opts.Version)
	free := n.MaxMem - min(n.Mem, n.MaxMem)
	out := map[string]any{
		"cpu": n.CPU, "wait": 0.0012, "idle": 0,
		"cpuinfo": map[string]any{
			"model": "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz", "cores": n.MaxCPU, "cpus": n.MaxCPU, "sockets": 1,
			"mhz": "2100.000", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr vmx",
		},
		"memory":     map[string]any{"total": n.MaxMem, "used": n.Mem, "free": free},
		"swap":       map[string]any{"total": 0, "used": 0, "free": 0},
		"rootfs":     map[string]any{"total": n.MaxDisk, "used": n.Disk, "free": n.MaxDisk - min(n.Disk, n.MaxDisk), "avail": n.MaxDisk - min(n.Disk, n.MaxDisk)},
		"ksm":        map[string]any{"shared": 0},
		"loadavg":    []string{fmt.Sprintf("%.2f", n.CPU*float64(n.MaxCPU)), "0.20", "0.18"},
		"uptime":     int64(s.now().Sub(n.bootAt) / 1e9),
		"kversion":   "Linux 6.8.12-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-1 (2024-08-05T16:17Z)",
		"pveversion": "pve-manager/" + s.opts.Version + "/" + repo,
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func (s *Server) handleGuestList(c *call, node, typ string) {
	s.mu.Lock()
	s.advanceLocked()
	out := []map[string]any{}
	for _, g := range s.sortedGuests() {
		if g.Node != node || g.Type != typ || !s.canLocked(c.tok, "/vms/"+itoa(g.VMID), "VM.Audit") {
			continue
		}
		running := g.Status == "running"
		e := map[string]any{
			"vmid": g.VMID, "name": g.Name, "status": g.Status, "cpus": g.MaxCPU, "cpu": 0, "mem": 0,
			"maxmem": g.MaxMem, "disk": g.Disk, "maxdisk": g.MaxDisk, "uptime": s.guestUptime(g),
			"netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
		}
		if running {
			e["cpu"], e["mem"], e["pid"] = g.CPU, g.Mem, 1000+g.VMID
		}
		if g.Template {
			e["template"] = 1
		}
		if len(g.Tags) > 0 {
			e["tags"] = strings.Join(g.Tags, ";")
		}
		if g.Lock != "" {
			e["lock"] = g.Lock
		}
		if typ == "lxc" {
			e["type"] = "lxc"
			e["swap"], e["maxswap"] = 0, 512<<20
			if s.opts.StringLXCVMID {
				e["vmid"] = itoa(g.VMID)
			}
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func (s *Server) handleGuestStatus(c *call, vmid int) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	running := g.Status == "running"
	e := map[string]any{
		"vmid": g.VMID, "name": g.Name, "status": g.Status, "cpus": g.MaxCPU, "cpu": 0, "mem": 0,
		"maxmem": g.MaxMem, "disk": g.Disk, "maxdisk": g.MaxDisk, "uptime": s.guestUptime(g),
		"netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0, "ha": map[string]any{"managed": 0},
	}
	if running {
		e["cpu"], e["mem"], e["pid"] = g.CPU, g.Mem, 1000+g.VMID
	}
	if g.HA {
		e["ha"] = map[string]any{"managed": 1, "state": g.hastate}
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
	if g.Type == "qemu" {
		qmp := g.Status
		if running && g.Paused {
			qmp = "paused"
		}
		e["qmpstatus"] = qmp
		e["agent"] = 1
		e["clipboard"] = nil
		if running {
			e["running-qemu"] = "9.0.2"
			e["running-machine"] = "pc-i440fx-9.0+pve0"
			e["balloon"] = g.MaxMem
		}
	} else {
		e["type"] = "lxc"
		e["swap"], e["maxswap"] = 0, 512<<20
	}
	s.mu.Unlock()
	s.ok(c, e, nil)
}

func (s *Server) handleStorage(c *call, node string) {
	want, content := c.params.Get("storage"), c.params.Get("content")
	s.mu.Lock()
	out := []map[string]any{}
	for _, st := range s.storages {
		if st.Node != "" && st.Node != node {
			continue
		}
		if want != "" && st.Name != want {
			continue
		}
		if content != "" && !containsAny(st.Content, content) {
			continue
		}
		if !s.canLocked(c.tok, "/storage/"+st.Name, "Datastore.Audit") &&
			!s.canLocked(c.tok, "/storage/"+st.Name, "Datastore.AllocateSpace") {
			continue
		}
		e := map[string]any{
			"storage": st.Name, "type": st.Type, "content": st.Content, "shared": b2i(st.Shared),
			"active": b2i(st.Status == "available"), "enabled": 1,
			"total": st.Total, "used": st.Used, "avail": st.Total - min(st.Used, st.Total),
		}
		if st.Total > 0 {
			e["used_fraction"] = float64(st.Used) / float64(st.Total)
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func containsAny(list, want string) bool {
	have := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		have[strings.TrimSpace(c)] = true
	}
	for _, w := range strings.Split(want, ",") {
		if have[strings.TrimSpace(w)] {
			return true
		}
	}
	return false
}
