// Package pve is the bot's hands on Proxmox VE: a token-scoped client per cluster that
// lists guests, nodes, storage and tasks, sends power actions (exactly one POST each),
// waits for their tasks with the caller's context, checks what its token may do, and
// pins TLS certificates. A Fleet holds several clusters and finds guests by VMID or name.
//
// It builds on github.com/Telmate/proxmox-api-go for the token types and the session that
// signs requests, and sends every request itself over its own *http.Client: the library's
// read helpers retry with context-blind sleeps and its power helpers re-POST (see
// docs/pve.md §3.6), which a chat user waiting for an answer must never meet.
package pve

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Guest is one QEMU VM or LXC container as /cluster/resources lists it.
type Guest struct {
	Cluster  string
	VMID     int
	Name     string // empty for guests on offline nodes (PVE sends no name without RRD data)
	Node     string
	Type     string // qemu | lxc
	Status   string // running | stopped | unknown
	Template bool
	// Tags is shared by every copy of the guest the client hands out (the cached
	// listing's own slice, cap == len): read it or replace it, never write into it.
	Tags []string
	Pool string
	// PoolUnknown is set when the token cannot read pools (no Pool.Audit on /pool): a
	// guest listed without a pool may be in one (PVE >= 7.0 leaves the field out).
	PoolUnknown bool
	HAState     string // empty when not HA-managed (also for the HA state "ignored")
	Lock        string
	CPU         float64 // share of MaxCPU in use, 0..1
	MaxCPU      int
	Mem         uint64
	MaxMem      uint64
	Disk        uint64
	MaxDisk     uint64
	Uptime      time.Duration
}

// Label names the guest for humans and logs: "homeassistant (101)", or "VM 101" when
// PVE sent no name.
func (g Guest) Label() string {
	if g.Name == "" {
		if g.Type == "lxc" {
			return "CT " + itoa(g.VMID)
		}
		return "VM " + itoa(g.VMID)
	}
	return g.Name + " (" + itoa(g.VMID) + ")"
}

// Ref is the guest's fleet-wide reference "cluster/vmid", accepted by Fleet.Find.
func (g Guest) Ref() string { return g.Cluster + "/" + itoa(g.VMID) }

// GuestStatus is a guest's live state from …/status/current.
type GuestStatus struct {
	Guest
	QMPStatus string // running | paused | prelaunch | suspended | … (QEMU only)
	HAManaged bool
}

// Node is one cluster node as /cluster/resources?type=node lists it.
type Node struct {
	Cluster  string
	Name     string
	Status   string // online | offline | unknown
	CPU      float64
	MaxCPU   int
	Mem      uint64
	MaxMem   uint64
	Disk     uint64
	MaxDisk  uint64
	Uptime   time.Duration
	HasStats bool // false when the token lacks Sys.Audit on the node (PVE leaves stats out)
}

// Storage is one storage on one node as /cluster/resources?type=storage lists it.
type Storage struct {
	Cluster  string
	Node     string
	Name     string
	Type     string // plugin type: dir, lvmthin, zfspool, nfs, pbs, …
	Status   string // available | …
	Content  string // images,rootdir,iso,…
	Shared   bool
	Used     uint64
	Total    uint64
	HasStats bool
}

// Task is one row of a node's task list.
type Task struct {
	Cluster string
	UPID    string
	Node    string
	Type    string // qmstart, vzdump, …
	ID      string // usually the VMID
	User    string
	Status  string // running | OK | WARNINGS: N | the error text
	Start   time.Time
	End     time.Time // zero while running
}

// DownNodes maps "cluster/node" to the status of every node that is not online: "offline"
// (a dead node, whose guests keep their last status and name in /cluster/resources for up to
// 5 minutes) or "unknown" (a member that sends no statistics). A guest on such a node may
// show a stale state: it must not be counted as running.
func DownNodes(nodes []Node) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		if n.Status != "online" {
			out[n.Cluster+"/"+n.Name] = n.Status
		}
	}
	return out
}

// Action is a power action on a guest.
type Action string

// The power actions the bot may send. Each is exactly one POST to …/status/<action>.
const (
	ActionStart    Action = "start"
	ActionShutdown Action = "shutdown"
	ActionStop     Action = "stop"
	ActionReboot   Action = "reboot"
	ActionReset    Action = "reset" // QEMU only
	ActionSuspend  Action = "suspend"
	ActionResume   Action = "resume"
)

// Actions lists every Action in a stable order (help texts, tests).
var Actions = []Action{ActionStart, ActionShutdown, ActionStop, ActionReboot, ActionReset, ActionSuspend, ActionResume}

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	for _, k := range Actions {
		if a == k {
			return true
		}
	}
	return false
}

// TaskResult is how a task ended.
type TaskResult struct {
	UPID     string
	OK       bool          // exit status OK or WARNINGS: N
	Exit     string        // OK, WARNINGS: N, or PVE's error text
	Duration time.Duration // from the start of Wait to the end of the task (and HA follow-up)
	// FinalState is the guest's status afterwards. For HA tasks (hastart/hastop) it is
	// read from PVE after the task; otherwise it is what a successful task implies.
	FinalState string
	// HA is true when the task only handed the request to the HA manager (hastart,
	// hastop): the guest changes state in the manager's next rounds, not with the task.
	HA bool
	// Settled is false when an HA guest had not reached the requested state when the
	// task ended: the caller follows its state (HABound says for how long).
	Settled bool
	// Reason is what a failed task's log says went wrong, when its exit status says only
	// "command '…' failed: exit code N" (HA tasks refused by ha-manager, for one).
	Reason string
}

// HARound is the length of the HA manager's CRM and LRM rounds (pve-ha-manager CRM.pm and
// LRM.pm, $max_time = 10).
const HARound = 10 * time.Second

// HABound is how long an HA request may take before the bot says it did not happen: the
// CRM's round, the LRM's round after it, one spare round, and the guest's own timeout (PVE's
// start timeout of max(30 s, 1 s per GiB of memory); the shutdown timeout of 60 s hastop
// gets by default; a hard stop's few seconds).
func HABound(g Guest, a Action, round time.Duration) time.Duration {
	var own time.Duration
	switch a {
	case ActionStart:
		own = max(30*time.Second, time.Duration(g.MaxMem>>30)*time.Second)
	case ActionShutdown:
		own = 60 * time.Second
	default:
		own = 10 * time.Second
	}
	return 3*round + own
}

// Options tunes clients. Zero values take the defaults noted.
type Options struct {
	Timeout       time.Duration // per request, default 15s
	TaskTimeout   time.Duration // longest Wait, default 5m
	PollInterval  time.Duration // task status poll, default 1s (tests use ms)
	GuestCacheTTL time.Duration // guest list cache, default 3s; negative disables it
	// RetryMin and RetryMax bound the background start-up check's backoff
	// (Fleet.Start), default 5s and 5m.
	RetryMin, RetryMax time.Duration
	Logger             *zap.Logger
	Now                func() time.Time
	// HTTPClient replaces the client built from the TLS settings (tests only). Its
	// Transport is wrapped, not modified.
	HTTPClient *http.Client
	// Observe, when set, is told of every request the client made: how long it took and
	// whether the cluster answered (any HTTP reply counts). The bot feeds its metrics.
	Observe func(cluster string, took time.Duration, answered bool)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 15*time.Second)
	def(&o.TaskTimeout, 5*time.Minute)
	def(&o.PollInterval, time.Second)
	if o.GuestCacheTTL == 0 {
		o.GuestCacheTTL = 3 * time.Second
	}
	def(&o.RetryMin, 5*time.Second)
	def(&o.RetryMax, 5*time.Minute)
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
