package pvetest

// Snapshots of QEMU VMs and LXC containers, as docs/pve-features.md §3 describes them
// (qemu-server API2/Qemu.pm, pve-container API2/LXC/Snapshot.pm, pve-guest-common
// AbstractConfig.pm): a list ending with the pseudo-entry "current", create / rollback /
// delete as worker tasks that lock the guest while they run, PVE's name rule, its reserved
// names, its in-task error texts, storages that cannot snapshot, and ZFS's rule that a
// rollback may only go to the most recent snapshot.

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Snapshot is one snapshot of a guest as a test seeds it.
type Snapshot struct {
	Name        string
	Parent      string // "" for the first snapshot in a chain
	Description string
	Time        time.Time
	VMState     bool // QEMU only: RAM state saved
}

type snapState struct {
	Snapshot
	state string // "" or "prepare"/"delete" while a task works on it
}

// snapNameRE is pve-configid (pve-common JSONSchema.pm): a letter, then letters, digits, _ or -.
var snapNameRE = regexp.MustCompile(`(?i)^[a-z][a-z0-9_-]+$`)

// AddSnapshot seeds a snapshot of an existing guest and makes it the current state's parent
// when it is the newest.
func (s *Server) AddSnapshot(vmid int, sn Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.guests[vmid]
	if !ok {
		return
	}
	if sn.Time.IsZero() {
		sn.Time = s.now()
	}
	if g.Type != "qemu" {
		sn.VMState = false
	}
	g.snaps = append(g.snaps, &snapState{Snapshot: sn})
	g.snapParent = sn.Name
}

// Snapshots returns a guest's snapshots (not "current"), oldest first, and the name the
// current state derives from.
func (s *Server) Snapshots(vmid int) (snaps []Snapshot, current string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	g, ok := s.guests[vmid]
	if !ok {
		return nil, ""
	}
	for _, sn := range g.snaps {
		snaps = append(snaps, sn.Snapshot)
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	return snaps, g.snapParent
}

// SetDiskStorage sets the storage a guest's disks live on, which decides what snapshots can do
// (see snapSupport). A guest without one behaves like LVM-thin: any snapshot, any rollback.
func (s *Server) SetDiskStorage(vmid int, storage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.guests[vmid]; ok {
		g.diskStorage = storage
	}
}

// snapSupport tells, from the type of the guest's disk storage, whether it can snapshot and
// whether a rollback may only go to the most recent snapshot (ZFS). dir, NFS, CIFS and thick
// LVM hold raw images in the fake, which cannot snapshot (pve-storage volume_has_feature).
func (s *Server) snapSupportLocked(g *guestState) (can, mostRecentOnly bool) {
	if g.diskStorage == "" {
		return true, false
	}
	for _, st := range s.storages {
		if st.Name != g.diskStorage || (st.Node != "" && st.Node != g.Node) {
			continue
		}
		switch st.Type {
		case "zfspool", "zfs":
			return true, true
		case "lvmthin", "rbd", "btrfs":
			return true, false
		default:
			return false, false
		}
	}
	return true, false
}

func (s *Server) findSnapLocked(g *guestState, name string) *snapState {
	for _, sn := range g.snaps {
		if sn.Name == name {
			return sn
		}
	}
	return nil
}

// routeSnapshot handles /nodes/{node}/{qemu|lxc}/{vmid}/snapshot[/{name}[/rollback|/config]].
func (s *Server) routeSnapshot(c *call, node, typ, id string, rest []string) {
	vmid, ok := s.vmid(c, id)
	if !ok {
		return
	}
	path := "/vms/" + id
	base := c.method + " /nodes/{node}/" + typ + "/{vmid}/snapshot"
	switch {
	case c.method == http.MethodGet && len(rest) == 0:
		if s.check(c, path, "VM.Audit") && s.reachable(c, node) && s.verifyParams(c, base) && s.guestExists(c, node, typ, vmid) {
			s.handleSnapshotList(c, vmid)
		}
	case c.method == http.MethodPost && len(rest) == 0:
		if s.check(c, path, "VM.Snapshot") && s.reachable(c, node) && s.verifyParams(c, base) && s.guestExists(c, node, typ, vmid) {
			s.handleSnapshotCreate(c, node, typ, vmid)
		}
	case c.method == http.MethodPost && len(rest) == 2 && rest[1] == "rollback":
		if s.checkAny(c, path, "VM.Snapshot", "VM.Snapshot.Rollback") && s.reachable(c, node) &&
			s.verifyParams(c, "POST /nodes/{node}/"+typ+"/{vmid}/snapshot/{snapname}/rollback") && s.guestExists(c, node, typ, vmid) {
			s.handleSnapshotRollback(c, node, typ, vmid, rest[0])
		}
	case c.method == http.MethodDelete && len(rest) == 1:
		if s.check(c, path, "VM.Snapshot") && s.reachable(c, node) &&
			s.verifyParams(c, "DELETE /nodes/{node}/"+typ+"/{vmid}/snapshot/{snapname}") && s.guestExists(c, node, typ, vmid) {
			s.handleSnapshotDelete(c, node, typ, vmid, rest[0])
		}
	default:
		s.notImplemented(c)
	}
}

// checkAny is PVE's check with any => 1: one of privs suffices; the refusal names them all.
func (s *Server) checkAny(c *call, path string, privs ...string) bool {
	s.mu.Lock()
	ok := false
	for _, p := range privs {
		ok = ok || s.canLocked(c.tok, path, p)
	}
	s.mu.Unlock()
	if !ok {
		s.fail(c, http.StatusForbidden, fmt.Sprintf("Permission check failed (%s, %s)", path, strings.Join(privs, "|")), nil)
	}
	return ok
}

func (s *Server) handleSnapshotList(c *call, vmid int) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	out := []map[string]any{}
	for _, sn := range g.snaps { // PVE lists them in hash order; the fake keeps insertion order
		e := map[string]any{"name": sn.Name, "snaptime": sn.Time.Unix(), "description": sn.Description}
		if sn.Parent != "" {
			e["parent"] = sn.Parent
		}
		if sn.state != "" {
			e["snapstate"] = sn.state
		}
		if g.Type == "qemu" {
			e["vmstate"] = b2i(sn.VMState)
		}
		out = append(out, e)
	}
	cur := map[string]any{"name": "current", "digest": fmt.Sprintf("%040x", len(g.snaps)*7919+vmid),
		"running": b2i(g.Status == "running"), "description": "You are here!"}
	if g.snapParent != "" {
		cur["parent"] = g.snapParent
	}
	out = append(out, cur)
	s.mu.Unlock()
	s.ok(c, out, nil)
}

func guestWord(typ string) string {
	if typ == "qemu" {
		return "VM"
	}
	return "CT"
}

// validSnapName answers 400 like PVE's schema check of snapname.
func (s *Server) validSnapName(c *call, name string) bool {
	switch {
	case len(name) > 40:
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"snapname": "value may only be 40 characters long"})
		return false
	case !snapNameRE.MatchString(name):
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"snapname": fmt.Sprintf("invalid format - invalid configuration ID '%s'\n", name)})
		return false
	}
	return true
}

// lockErrLocked is the in-task refusal of a locked guest, or "".
func lockErrLocked(g *guestState) string {
	if g.Lock == "" {
		return ""
	}
	return fmt.Sprintf("%s is locked (%s)", guestWord(g.Type), g.Lock)
}

// snapTaskLocked starts a worker task that holds lock while it runs and then ends with exit
// (applying effect on success). lock is only taken when the task can start at all.
func (s *Server) snapTaskLocked(c *call, node string, g *guestState, typ, exit, lock string, effect func()) *task {
	t := s.newTaskLocked(node, typ, itoa(g.VMID), c.tok.id)
	t.exit = exit
	k := itoa(g.VMID) + "/" + typ
	never := false
	if q := s.taskResults[k]; len(q) > 0 {
		s.taskResults[k] = q[1:]
		if q[0] == TaskNeverEnds {
			never = true
		} else {
			t.exit = q[0]
		}
	}
	ok := taskSuccess(t.exit)
	if ok && lock != "" {
		g.Lock = lock
	}
	if never {
		return t
	}
	dur := s.opts.TaskDuration
	if dur < 0 {
		dur = 0
	}
	if dur == 0 {
		dur = 50 * time.Millisecond
	}
	due := t.start.Add(dur)
	s.scheduleLocked(due, func() {
		t.done, t.end = true, due
		if ok && lock != "" && g.Lock == lock {
			g.Lock = ""
		}
		if ok && effect != nil {
			effect()
		}
	})
	return t
}

func (s *Server) handleSnapshotCreate(c *call, node, typ string, vmid int) {
	name := c.params.Get("snapname")
	if name == "" {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"snapname": "property is missing and it is not optional"})
		return
	}
	if !s.validSnapName(c, name) {
		return
	}
	reserved := []string{"current", "pending"}
	if typ == "lxc" {
		reserved = []string{"current", "vzdump"}
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			s.fail(c, http.StatusInternalServerError, fmt.Sprintf("unable to use snapshot name '%s' (reserved name)", name), nil)
			return
		}
	}
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	can, _ := s.snapSupportLocked(g)
	exit := "OK"
	switch {
	case g.Template:
		exit = "you can't take a snapshot if it's a template"
	case lockErrLocked(g) != "":
		exit = lockErrLocked(g)
	case s.findSnapLocked(g, name) != nil:
		exit = fmt.Sprintf("snapshot name '%s' already used", name)
	case !can:
		exit = "snapshot feature is not available"
	}
	sn := Snapshot{Name: name, Parent: g.snapParent, Description: c.params.Get("description"), Time: s.now()}
	// vmstate saves RAM only if the VM runs (AbstractConfig.pm).
	sn.VMState = typ == "qemu" && boolParam(c, "vmstate") && g.Status == "running"
	t := s.snapTaskLocked(c, node, g, pfx(typ)+"snapshot", exit, "snapshot", func() {
		g.snaps = append(g.snaps, &snapState{Snapshot: sn})
		g.snapParent = sn.Name
	})
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}

func pfx(typ string) string {
	if typ == "qemu" {
		return "qm"
	}
	return "vz"
}

// newerLocked lists the snapshots taken after sn, newest first.
func newerLocked(g *guestState, sn *snapState) []string {
	var out []string
	for _, o := range g.snaps {
		if o.Time.After(sn.Time) {
			out = append(out, o.Name)
		}
	}
	return out
}

func (s *Server) handleSnapshotRollback(c *call, node, typ string, vmid int, name string) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	sn := s.findSnapLocked(g, name)
	_, mostRecentOnly := s.snapSupportLocked(g)
	exit := "OK"
	switch {
	case sn == nil:
		exit = fmt.Sprintf("snapshot '%s' does not exist", name)
	case sn.state != "":
		exit = fmt.Sprintf("unable to rollback to incomplete snapshot (snapstate = %s)", sn.state)
	case g.Template:
		exit = "you can't rollback if vm is a template"
	case lockErrLocked(g) != "":
		exit = lockErrLocked(g)
	case mostRecentOnly && len(newerLocked(g, sn)) > 0:
		exit = fmt.Sprintf("can't rollback, '%s' is not most recent snapshot on '%s:vm-%d-disk-0'", name, g.diskStorage, vmid)
	}
	start := boolParam(c, "start")
	if exit == "OK" && g.Status == "running" {
		// The rollback stops the guest hard before it rolls the volumes back.
		g.Status, g.Paused = "stopped", false
	}
	t := s.snapTaskLocked(c, node, g, pfx(typ)+"rollback", exit, "rollback", func() {
		g.snapParent = sn.Name
		if sn.VMState || start {
			g.Status, g.Paused, g.bootAt = "running", false, s.now()
		}
	})
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}

func (s *Server) handleSnapshotDelete(c *call, node, typ string, vmid int, name string) {
	s.mu.Lock()
	s.advanceLocked()
	g := s.guests[vmid]
	sn := s.findSnapLocked(g, name)
	exit := "OK"
	switch {
	case sn == nil:
		exit = fmt.Sprintf("snapshot '%s' does not exist", name)
	case g.Template:
		exit = "you can't delete a snapshot if vm is a template"
	case lockErrLocked(g) != "" && !boolParam(c, "force"):
		exit = lockErrLocked(g)
	}
	if exit == "OK" {
		sn.state = "delete"
	}
	t := s.snapTaskLocked(c, node, g, pfx(typ)+"delsnapshot", exit, "snapshot-delete", func() {
		kept := g.snaps[:0]
		for _, o := range g.snaps {
			if o == sn {
				continue
			}
			if o.Parent == sn.Name { // children move up to the deleted snapshot's parent
				o.Parent = sn.Parent
			}
			kept = append(kept, o)
		}
		g.snaps = kept
		if g.snapParent == sn.Name {
			g.snapParent = sn.Parent
		}
	})
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}
