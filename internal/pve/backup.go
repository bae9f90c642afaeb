package pve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BackupVolume is one backup on a storage (GET …/storage/{s}/content?content=backup,
// docs/pve-features.md §2.4).
type BackupVolume struct {
	Cluster      string
	Node         string // the node the listing was asked on
	Storage      string
	VolID        string
	VMID         int
	Type         string // qemu | lxc (PVE's subtype)
	Format       string
	Size         uint64
	Time         time.Time
	Notes        string // first line only
	Protected    bool
	Verification string // PBS: "ok" | "failed"; "" when never verified or not PBS
	Encrypted    bool
}

// Backups lists the backups on one storage as seen from node; vmid > 0 filters one guest.
// PVE drops, without an error, every volume the token may not access (it needs
// Datastore.Allocate, or Datastore.AllocateSpace plus VM.Backup on the owner): an empty list
// from a token with Datastore.Audit alone is not "no backups". The result is newest first.
func (c *Client) Backups(ctx context.Context, node, storage string, vmid int) ([]BackupVolume, error) {
	op := "list backups on " + storage
	q := url.Values{"content": {"backup"}}
	if vmid > 0 {
		q.Set("vmid", strconv.Itoa(vmid))
	}
	body, err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/storage/"+url.PathEscape(storage)+"/content", q, op)
	if err != nil {
		return nil, err
	}
	type verification struct {
		State flexStr `json:"state"`
	}
	raws, _, err := decodeList[struct {
		VolID        flexStr       `json:"volid"`
		VMID         flexNum       `json:"vmid"`
		Subtype      flexStr       `json:"subtype"`
		Format       flexStr       `json:"format"`
		Size         flexNum       `json:"size"`
		CTime        flexNum       `json:"ctime"`
		Notes        flexStr       `json:"notes"`
		Protected    flexNum       `json:"protected"`
		Encrypted    flexStr       `json:"encrypted"`
		Verification *verification `json:"verification"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]BackupVolume, 0, len(raws))
	for _, r := range raws {
		b := BackupVolume{Cluster: c.name, Node: node, Storage: storage, VolID: string(r.VolID), VMID: r.VMID.int(),
			Type: string(r.Subtype), Format: string(r.Format), Size: r.Size.uint(), Time: r.CTime.unix(),
			Notes: string(r.Notes), Protected: r.Protected.bool(), Encrypted: string(r.Encrypted) != ""}
		if r.Verification != nil {
			b.Verification = string(r.Verification.State)
		}
		out = append(out, b)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// BackupMode is vzdump's mode.
type BackupMode string

// The vzdump modes. A stopped guest is always backed up in stop mode, whatever is asked.
const (
	BackupSnapshot BackupMode = "snapshot"
	BackupSuspend  BackupMode = "suspend"
	BackupStop     BackupMode = "stop"
)

// StartBackup sends exactly one POST /nodes/{node}/vzdump for one guest, to the node that hosts
// it (zstd, the given mode and storage; notes name the bot). It returns the task's UPID, or ""
// when PVE answered "OK" because the guest is not on that node (nothing was started).
// VM.Backup is checked inside PVE's worker: without it the task fails, it is not refused here.
func (c *Client) StartBackup(ctx context.Context, g Guest, storage string, mode BackupMode) (string, error) {
	op := "backup " + strconv.Itoa(g.VMID)
	if mode == "" {
		mode = BackupSnapshot
	}
	form := url.Values{"vmid": {strconv.Itoa(g.VMID)}, "mode": {string(mode)}, "compress": {"zstd"}}
	if storage != "" {
		form.Set("storage", storage)
		form.Set("notes-template", "{{guestname}} (wecom-home-ops)")
	}
	c.InvalidateGuests()
	body, err := c.do(ctx, request{method: http.MethodPost, path: "/nodes/" + url.PathEscape(g.Node) + "/vzdump", form: form, op: op})
	c.InvalidateGuests()
	if err != nil {
		return "", err
	}
	var env struct {
		Data flexStr `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	upid := string(env.Data)
	if !strings.HasPrefix(upid, "UPID:") {
		return "", nil
	}
	if _, perr := ParseUPID(upid); perr != nil {
		return "", &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: "PVE accepted the backup but sent no task id", Err: perr}
	}
	return upid, nil
}

// TaskLog reads up to limit lines of a task's log (GET /nodes/{node}/tasks/{upid}/log).
func (c *Client) TaskLog(ctx context.Context, node, upid string, limit int) ([]string, error) {
	op := "task log"
	body, err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/tasks/"+url.PathEscape(upid)+"/log",
		url.Values{"limit": {strconv.Itoa(limit)}}, op)
	if err != nil {
		return nil, err
	}
	rows, _, err := decodeList[struct {
		T flexStr `json:"t"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, string(r.T))
	}
	return out, nil
}

// GuestBackupResult is one guest's part of a vzdump run, read from its task log.
type GuestBackupResult struct {
	VMID     int
	OK       bool
	Reason   string        // PVE's text when it failed
	Duration time.Duration // from "Finished Backup of VM n (HH:MM:SS)"
	Size     string        // "1.2GB" from "archive file size"
}

var (
	vzStartRE  = regexp.MustCompile(`Starting Backup of VM (\d+) `)
	vzFailRE   = regexp.MustCompile(`Backup of VM (\d+) failed - (.*)$`)
	vzFinishRE = regexp.MustCompile(`Finished Backup of VM (\d+) \((\d+):(\d\d):(\d\d)\)`)
	vzSizeRE   = regexp.MustCompile(`archive file size: (\S+)`)
	vzJobRE    = regexp.MustCompile(`ERROR: Backup job failed - (.*)$`)
)

// ParseVzdumpLog reads per-guest results from a vzdump task log (docs/pve-features.md §2.3):
// failures are only in the log, the exit status just says "job errors". jobErr is a job-level
// failure ("Backup job failed - …"), if any.
func ParseVzdumpLog(lines []string) (guests []GuestBackupResult, jobErr string) {
	idx := map[int]int{}
	get := func(id int) *GuestBackupResult {
		if i, ok := idx[id]; ok {
			return &guests[i]
		}
		idx[id] = len(guests)
		guests = append(guests, GuestBackupResult{VMID: id})
		return &guests[len(guests)-1]
	}
	cur := 0
	for _, l := range lines {
		switch {
		case vzStartRE.MatchString(l):
			cur, _ = strconv.Atoi(vzStartRE.FindStringSubmatch(l)[1])
			get(cur)
		case vzFailRE.MatchString(l):
			m := vzFailRE.FindStringSubmatch(l)
			id, _ := strconv.Atoi(m[1])
			r := get(id)
			r.OK, r.Reason = false, strings.TrimSpace(m[2])
		case vzFinishRE.MatchString(l):
			m := vzFinishRE.FindStringSubmatch(l)
			id, _ := strconv.Atoi(m[1])
			h, _ := strconv.Atoi(m[2])
			mi, _ := strconv.Atoi(m[3])
			se, _ := strconv.Atoi(m[4])
			r := get(id)
			r.OK, r.Duration = true, time.Duration(h)*time.Hour+time.Duration(mi)*time.Minute+time.Duration(se)*time.Second
		case vzSizeRE.MatchString(l) && cur > 0:
			get(cur).Size = vzSizeRE.FindStringSubmatch(l)[1]
		case vzJobRE.MatchString(l):
			jobErr = strings.TrimSpace(vzJobRE.FindStringSubmatch(l)[1])
		}
	}
	return guests, jobErr
}

// BackupJob is one scheduled job of /cluster/backup.
type BackupJob struct {
	ID         string
	Schedule   string
	Enabled    bool
	All        bool
	VMIDs      []int
	Storage    string
	Mode       string
	MailTo     string
	NotifyMode string // "" = auto
}

// SkipsNotifications reports whether the job's events never reach the notification system
// (and so the webhook): notification-mode auto with a mailto, or legacy-sendmail (§1.7).
func (j BackupJob) SkipsNotifications() bool {
	return j.NotifyMode == "legacy-sendmail" || (j.NotifyMode == "" || j.NotifyMode == "auto") && j.MailTo != ""
}

// BackupJobs lists the scheduled backup jobs (Sys.Audit on /).
func (c *Client) BackupJobs(ctx context.Context) ([]BackupJob, error) {
	op := "list backup jobs"
	body, err := c.get(ctx, "/cluster/backup", nil, op)
	if err != nil {
		return nil, err
	}
	raws, _, err := decodeList[struct {
		ID         flexStr  `json:"id"`
		Schedule   flexStr  `json:"schedule"`
		Enabled    *flexNum `json:"enabled"`
		All        flexNum  `json:"all"`
		VMID       flexStr  `json:"vmid"`
		Storage    flexStr  `json:"storage"`
		Mode       flexStr  `json:"mode"`
		MailTo     flexStr  `json:"mailto"`
		NotifyMode flexStr  `json:"notification-mode"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]BackupJob, 0, len(raws))
	for _, r := range raws {
		j := BackupJob{ID: string(r.ID), Schedule: string(r.Schedule), Enabled: r.Enabled == nil || r.Enabled.bool(),
			All: r.All.bool(), Storage: string(r.Storage), Mode: string(r.Mode), MailTo: string(r.MailTo), NotifyMode: string(r.NotifyMode)}
		for _, f := range strings.Split(string(r.VMID), ",") {
			if id, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				j.VMIDs = append(j.VMIDs, id)
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// NotBackedUp lists the guests no backup job includes (Sys.Audit on /; disabled jobs count as
// including a guest).
func (c *Client) NotBackedUp(ctx context.Context) ([]Guest, error) {
	op := "list guests not backed up"
	body, err := c.get(ctx, "/cluster/backup-info/not-backed-up", nil, op)
	if err != nil {
		return nil, err
	}
	raws, _, err := decodeList[struct {
		VMID flexNum `json:"vmid"`
		Type flexStr `json:"type"`
		Name flexStr `json:"name"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]Guest, 0, len(raws))
	for _, r := range raws {
		out = append(out, Guest{Cluster: c.name, VMID: r.VMID.int(), Type: string(r.Type), Name: string(r.Name)})
	}
	return out, nil
}
