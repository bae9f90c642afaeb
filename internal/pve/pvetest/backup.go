package pvetest

// Backups as docs/pve-features.md §2 describes them (pve-manager VZDump.pm and API2/VZDump.pm,
// pve-storage Content.pm, API2/Backup.pm, Cluster/BackupInfo.pm): vzdump as one worker task per
// node with per-guest log lines and partial failures, the backup lock, stop mode, storage content
// listings filtered per volume as PVE does, backup jobs and the not-backed-up list.

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Backup is one backup volume on a storage.
type Backup struct {
	Storage      string
	VMID         int
	Type         string // qemu | lxc
	Time         time.Time
	Size         uint64
	Notes        string
	Protected    bool
	Verification string // PBS only: "", "ok" or "failed"
	Encrypted    bool   // PBS only
}

// BackupJob is one scheduled job of /cluster/backup.
type BackupJob struct {
	ID         string
	Schedule   string // systemd calendar event, e.g. "02:00"
	Enabled    bool
	VMIDs      []int // empty with All
	All        bool
	Storage    string
	Mode       string
	MailTo     string // with notification-mode auto, mail replaces the notification system
	NotifyMode string
}

// AddBackup adds an existing backup volume.
func (s *Server) AddBackup(b Backup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.Type == "" {
		if g, ok := s.guests[b.VMID]; ok {
			b.Type = g.Type
		} else {
			b.Type = "qemu"
		}
	}
	if b.Time.IsZero() {
		b.Time = s.now()
	}
	bb := b
	s.backups = append(s.backups, &bb)
}

// Backups lists the backup volumes the fake holds, oldest first.
func (s *Server) Backups() []Backup {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	out := make([]Backup, 0, len(s.backups))
	for _, b := range s.backups {
		out = append(out, *b)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// AddBackupJob adds a scheduled backup job.
func (s *Server) AddBackupJob(j BackupJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j.VMIDs = slices.Clone(j.VMIDs)
	s.backupJobs = append(s.backupJobs, j)
}

// SetBackupFailure makes the next backups of vmid fail with msg (as "Backup of VM n failed - msg").
// An empty msg clears it.
func (s *Server) SetBackupFailure(vmid int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg == "" {
		delete(s.backupFail, vmid)
		return
	}
	s.backupFail[vmid] = msg
}

// BackupDuration is how long the fake takes to back up one guest unless SetBackupDuration says otherwise.
const BackupDuration = 30 * time.Second

// SetBackupDuration sets how long one guest's backup takes.
func (s *Server) SetBackupDuration(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backupDur = d
}

func (s *Server) backupDurLocked() time.Duration {
	if s.backupDur > 0 {
		return s.backupDur
	}
	return BackupDuration
}

func volid(b *Backup, pbs bool) string {
	kind := map[bool]string{true: "qemu", false: "lxc"}[b.Type == "qemu"]
	if pbs {
		short := map[bool]string{true: "vm", false: "ct"}[b.Type == "qemu"]
		return fmt.Sprintf("%s:backup/%s/%d/%s", b.Storage, short, b.VMID, b.Time.UTC().Format("2006-01-02T15:04:05Z"))
	}
	ext := map[bool]string{true: "vma.zst", false: "tar.zst"}[b.Type == "qemu"]
	return fmt.Sprintf("%s:backup/vzdump-%s-%d-%s.%s", b.Storage, kind, b.VMID, b.Time.Format("2006_01_02-15_04_05"), ext)
}

func (s *Server) storageLocked(node, name string) *Storage {
	for _, st := range s.storages {
		if st.Name == name && (st.Node == "" || st.Node == node) {
			return st
		}
	}
	return nil
}

// handleContent is GET /nodes/{node}/storage/{storage}/content: Datastore.Audit or
// Datastore.AllocateSpace on the storage, then every volume filtered by check_volume_access:
// a backup is listed with Datastore.Allocate, or AllocateSpace plus VM.Backup on its owner.
func (s *Server) handleContent(c *call, node, storage string) {
	path := "/storage/" + storage
	if !s.checkAny(c, path, "Datastore.Audit", "Datastore.AllocateSpace") {
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	st := s.storageLocked(node, storage)
	if st == nil {
		s.mu.Unlock()
		s.fail(c, http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", storage), nil)
		return
	}
	content, vmidFilter := c.params.Get("content"), c.params.Get("vmid")
	pbs := st.Type == "pbs"
	out := []map[string]any{}
	if content == "" || content == "backup" {
		for _, b := range s.backups {
			if b.Storage != storage || vmidFilter != "" && vmidFilter != itoa(b.VMID) {
				continue
			}
			visible := s.canLocked(c.tok, path, "Datastore.Allocate") ||
				s.canLocked(c.tok, path, "Datastore.AllocateSpace") && s.canLocked(c.tok, "/vms/"+itoa(b.VMID), "VM.Backup")
			if !visible {
				continue
			}
			e := map[string]any{"volid": volid(b, pbs), "vmid": b.VMID, "size": b.Size, "ctime": b.Time.Unix(),
				"content": "backup", "subtype": b.Type}
			if pbs {
				e["format"] = map[bool]string{true: "pbs-vm", false: "pbs-ct"}[b.Type == "qemu"]
				if b.Verification != "" {
					e["verification"] = map[string]any{"state": b.Verification, "upid": "UPID:pbs:00001234:00000000:00000000:verificationjob:x:root@pam:"}
				}
				if b.Encrypted {
					e["encrypted"] = "1"
				}
			} else {
				e["format"] = map[bool]string{true: "vma.zst", false: "tar.zst"}[b.Type == "qemu"]
			}
			if b.Notes != "" {
				e["notes"], _, _ = strings.Cut(b.Notes, "\n")
			}
			if b.Protected {
				e["protected"] = 1
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i]["volid"].(string)) < strings.ToLower(out[j]["volid"].(string))
	})
	s.mu.Unlock()
	s.ok(c, out, nil)
}

// handleVzdump is POST /nodes/{node}/vzdump.
func (s *Server) handleVzdump(c *call, node string) {
	storage := c.params.Get("storage")
	if storage != "" && !s.check(c, "/storage/"+storage, "Datastore.AllocateSpace") {
		return
	}
	mode := c.params.Get("mode")
	if mode == "" {
		mode = "snapshot"
	}
	if mode != "snapshot" && mode != "suspend" && mode != "stop" {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.",
			map[string]string{"mode": fmt.Sprintf("value '%s' does not have a value in the enumeration 'snapshot, suspend, stop'", mode)})
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	if storage == "" {
		for _, st := range s.storages {
			if (st.Node == "" || st.Node == node) && containsAny(st.Content, "backup") {
				storage = st.Name
				break
			}
		}
	}
	var local, external []*guestState
	for _, f := range strings.Split(c.params.Get("vmid"), ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			continue
		}
		if g, ok := s.guests[id]; ok && g.Node == node {
			local = append(local, g)
		} else if ok {
			external = append(external, g)
		}
	}
	if len(local) == 0 {
		// Nothing runs; PVE answers a bare "OK" instead of a UPID.
		s.mu.Unlock()
		s.ok(c, "OK", nil)
		return
	}
	id := ""
	if len(local) == 1 {
		id = itoa(local[0].VMID)
	}
	t := s.newTaskLocked(node, "vzdump", id, c.tok.id)
	ids := []string{}
	for _, g := range local {
		ids = append(ids, itoa(g.VMID))
	}
	t.prelude = []string{fmt.Sprintf("INFO: starting new backup job: vzdump %s --storage %s --mode %s --compress zstd", strings.Join(ids, " "), storage, mode)}
	if len(external) > 0 {
		ext := []string{}
		for _, g := range external {
			ext = append(ext, itoa(g.VMID))
		}
		t.prelude = append(t.prelude, "INFO: skip external VMs: "+strings.Join(ext, " "))
	}
	// VM.Backup is checked inside the worker, before any guest is processed.
	for _, g := range local {
		if !s.canLocked(c.tok, "/vms/"+itoa(g.VMID), "VM.Backup") {
			t.exit = fmt.Sprintf("Permission check failed (/vms/%d, VM.Backup)", g.VMID)
			due := t.start.Add(100 * time.Millisecond)
			s.scheduleLocked(due, func() { t.done, t.end = true, due })
			s.advanceLocked()
			s.mu.Unlock()
			s.ok(c, t.upid, nil)
			return
		}
	}
	protected := boolParam(c, "protected")
	notes := c.params.Get("notes-template")
	at := t.start
	failed := 0
	for _, g := range local {
		g := g
		begin := at
		end := begin.Add(s.backupDurLocked())
		at = end
		word := map[bool]string{true: "qemu", false: "lxc"}[g.Type == "qemu"]
		wasRunning := g.Status == "running"
		guestMode := mode
		if !wasRunning {
			guestMode = "stop"
		}
		reason := ""
		switch {
		case g.Lock != "" && g.Lock != "backup":
			reason = fmt.Sprintf("%s is locked (%s)", guestWord(g.Type), g.Lock)
		case g.HA && wasRunning && mode == "stop":
			reason = "Cannot execute a backup with stop mode on a HA managed and enabled Service. Use snapshot mode or disable the Service."
		case s.backupFail[g.VMID] != "":
			reason = s.backupFail[g.VMID]
		}
		if reason != "" {
			failed++
		}
		st := s.storageLocked(node, storage)
		pbs := st != nil && st.Type == "pbs"
		size := g.MaxDisk / 7
		s.scheduleLocked(begin, func() {
			t.prelude = append(t.prelude,
				fmt.Sprintf("INFO: Starting Backup of VM %d (%s)", g.VMID, word),
				"INFO: Backup started at "+begin.Format("2006-01-02 15:04:05"),
				"INFO: status = "+map[bool]string{true: "running", false: "stopped"}[wasRunning],
				"INFO: backup mode: "+guestMode)
			if reason != "" {
				return
			}
			g.Lock = "backup"
			if wasRunning && mode == "stop" {
				g.Status = "stopped"
			}
		})
		s.scheduleLocked(end, func() {
			if reason != "" {
				t.prelude = append(t.prelude, fmt.Sprintf("ERROR: Backup of VM %d failed - %s", g.VMID, reason),
					"INFO: Failed at "+end.Format("2006-01-02 15:04:05"))
				return
			}
			if g.Lock == "backup" {
				g.Lock = ""
			}
			if wasRunning && mode == "stop" {
				g.Status, g.bootAt = "running", end
			}
			b := &Backup{Storage: storage, VMID: g.VMID, Type: g.Type, Time: begin, Size: size, Protected: protected,
				Notes: strings.NewReplacer("{{guestname}}", g.Name, "{{vmid}}", itoa(g.VMID), "{{node}}", node).Replace(notes)}
			s.backups = append(s.backups, b)
			archive := "creating vzdump archive '/mnt/pve/" + storage + "/dump/" + strings.TrimPrefix(volid(b, false), storage+":backup/") + "'"
			if pbs {
				archive = "creating Proxmox Backup Server archive '" + strings.TrimPrefix(volid(b, true), storage+":backup/") + "'"
			}
			d := end.Sub(begin)
			t.prelude = append(t.prelude, "INFO: "+archive,
				fmt.Sprintf("INFO: archive file size: %.1fGB", float64(size)/(1<<30)),
				fmt.Sprintf("INFO: Finished Backup of VM %d (%02d:%02d:%02d)", g.VMID, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60),
				"INFO: Backup finished at "+end.Format("2006-01-02 15:04:05"))
		})
	}
	t.exit = "OK"
	if failed > 0 {
		t.exit = "job errors"
	}
	jobEnd := at
	s.scheduleLocked(jobEnd, func() {
		if failed > 0 {
			t.prelude = append(t.prelude, "INFO: Backup job finished with errors")
		} else {
			t.prelude = append(t.prelude, "INFO: Backup job finished successfully")
		}
		t.done, t.end = true, jobEnd
	})
	s.advanceLocked()
	s.mu.Unlock()
	s.ok(c, t.upid, nil)
}

// handleBackupJobs is GET /cluster/backup (Sys.Audit on /).
func (s *Server) handleBackupJobs(c *call) {
	s.mu.Lock()
	out := []map[string]any{}
	for _, j := range s.backupJobs {
		e := map[string]any{"id": j.ID, "type": "vzdump", "schedule": j.Schedule, "enabled": b2i(j.Enabled),
			"storage": j.Storage, "mode": j.Mode, "next-run": s.now().Add(time.Hour).Unix()}
		if j.All {
			e["all"] = 1
		} else {
			ids := []string{}
			for _, v := range j.VMIDs {
				ids = append(ids, itoa(v))
			}
			e["vmid"] = strings.Join(ids, ",")
		}
		if j.MailTo != "" {
			e["mailto"] = j.MailTo
		}
		if j.NotifyMode != "" {
			e["notification-mode"] = j.NotifyMode
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}

// handleNotBackedUp is GET /cluster/backup-info/not-backed-up (Sys.Audit on /): guests no job
// includes, disabled jobs counting as including, among those the caller may audit.
func (s *Server) handleNotBackedUp(c *call) {
	s.mu.Lock()
	covered := map[int]bool{}
	all := false
	for _, j := range s.backupJobs {
		all = all || j.All
		for _, v := range j.VMIDs {
			covered[v] = true
		}
	}
	out := []map[string]any{}
	for _, g := range s.sortedGuests() {
		if all || covered[g.VMID] || !s.canLocked(c.tok, "/vms/"+itoa(g.VMID), "VM.Audit") {
			continue
		}
		out = append(out, map[string]any{"vmid": g.VMID, "type": g.Type, "name": g.Name})
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}
