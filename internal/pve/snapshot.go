package pve

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Snapshot is one snapshot of a guest (GET …/snapshot, docs/pve-features.md §3.2).
type Snapshot struct {
	Name        string
	Parent      string // "" for the root of the tree
	Description string
	Time        time.Time
	VMState     bool   // QEMU: RAM state saved; always false for containers
	State       string // "" or "prepare"/"delete" for a snapshot a task is still working on
}

// Snapshots is a guest's snapshot list: the snapshots oldest first and the one the current
// state derives from ("" when there is none).
type Snapshots struct {
	List    []Snapshot
	Current string
	Running bool // the guest runs now (from the "current" pseudo-entry)
}

// Find returns the snapshot called name.
func (s Snapshots) Find(name string) (Snapshot, bool) {
	for _, sn := range s.List {
		if sn.Name == name {
			return sn, true
		}
	}
	return Snapshot{}, false
}

// Newer lists the snapshots taken after sn, oldest first: the ones a ZFS rollback to sn is
// refused for, and the ones any other storage keeps.
func (s Snapshots) Newer(sn Snapshot) []Snapshot {
	var out []Snapshot
	for _, o := range s.List {
		if o.Time.After(sn.Time) {
			out = append(out, o)
		}
	}
	return out
}

// Children lists the snapshots whose parent is name ("" for the roots), oldest first.
func (s Snapshots) Children(name string) []Snapshot {
	var out []Snapshot
	for _, o := range s.List {
		if o.Parent == name {
			out = append(out, o)
		}
	}
	return out
}

// snapNameRE is PVE's pve-configid format, which snapshot names must match (pve-common
// JSONSchema.pm): a letter, then at least one letter, digit, _ or -.
var snapNameRE = regexp.MustCompile(`(?i)^[a-z][a-z0-9_-]+$`)

// MaxSnapshotName is the longest snapshot name PVE accepts.
const MaxSnapshotName = 40

// ValidSnapshotName reports whether PVE would accept name for a new snapshot of a guest of
// type typ ("qemu" or "lxc"): its name rule plus the reserved names (current and pending for
// QEMU, current and vzdump for LXC; any case).
func ValidSnapshotName(typ, name string) bool {
	if len(name) > MaxSnapshotName || !snapNameRE.MatchString(name) {
		return false
	}
	reserved := []string{"current", "pending"}
	if typ == "lxc" {
		reserved = []string{"current", "vzdump"}
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return false
		}
	}
	return true
}

type rawSnapshot struct {
	Name        flexStr `json:"name"`
	Parent      flexStr `json:"parent"`
	Description flexStr `json:"description"`
	SnapTime    flexNum `json:"snaptime"`
	VMState     flexNum `json:"vmstate"`
	SnapState   flexStr `json:"snapstate"`
	Running     flexNum `json:"running"`
}

// Snapshots lists a guest's snapshots (VM.Audit). PVE sends them in hash order with the
// pseudo-entry "current" last; the result is sorted by time and "current" is taken out.
func (c *Client) Snapshots(ctx context.Context, g Guest) (Snapshots, error) {
	op := "snapshots " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return Snapshots{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	body, err := c.get(ctx, p+"/snapshot", nil, op)
	if err != nil {
		return Snapshots{}, err
	}
	raws, _, err := decodeList[rawSnapshot](body)
	if err != nil {
		return Snapshots{}, c.decodeErr(op, err)
	}
	var out Snapshots
	for _, r := range raws {
		if string(r.Name) == "current" {
			out.Current, out.Running = string(r.Parent), r.Running.bool()
			continue
		}
		out.List = append(out.List, Snapshot{
			Name: string(r.Name), Parent: string(r.Parent), Description: strings.TrimSpace(string(r.Description)),
			Time: r.SnapTime.unix(), VMState: g.Type == "qemu" && r.VMState.bool(), State: string(r.SnapState),
		})
	}
	sort.SliceStable(out.List, func(i, j int) bool { return out.List[i].Time.Before(out.List[j].Time) })
	return out, nil
}

// TakeSnapshot sends one POST …/snapshot and returns the task's UPID. vmstate (save RAM)
// is sent only for a QEMU guest; PVE refuses the parameter for containers.
func (c *Client) TakeSnapshot(ctx context.Context, g Guest, name, description string, vmstate bool) (string, error) {
	form := url.Values{"snapname": {name}}
	if description != "" {
		form.Set("description", description)
	}
	if vmstate && g.Type == "qemu" {
		form.Set("vmstate", "1")
	}
	return c.guestTask(ctx, g, http.MethodPost, "/snapshot", form, "snapshot "+strconv.Itoa(g.VMID)+" "+name)
}

// Rollback sends one POST …/snapshot/{name}/rollback and returns the task's UPID. PVE stops
// a running guest hard first; start asks it to start the guest afterwards (a QEMU snapshot
// with RAM state resumes from it anyway).
func (c *Client) Rollback(ctx context.Context, g Guest, name string, start bool) (string, error) {
	form := url.Values{}
	if start {
		form.Set("start", "1")
	}
	return c.guestTask(ctx, g, http.MethodPost, "/snapshot/"+url.PathEscape(name)+"/rollback", form, "rollback "+strconv.Itoa(g.VMID)+" "+name)
}

// DeleteSnapshot sends one DELETE …/snapshot/{name} and returns the task's UPID.
func (c *Client) DeleteSnapshot(ctx context.Context, g Guest, name string) (string, error) {
	return c.guestTask(ctx, g, http.MethodDelete, "/snapshot/"+url.PathEscape(name), nil, "delete snapshot "+strconv.Itoa(g.VMID)+" "+name)
}
