// Package pvetest is a stateful fake Proxmox VE API server. It holds a small cluster in memory
// (nodes, QEMU and LXC guests, storage, tasks, API tokens with ACLs) and answers /api2/json the
// way a real PVE does: the same envelopes, JSON quirks, reason phrases, error bodies, UPIDs and
// state-dependent behaviour (docs/pve.md section 2). The pve client is tested against it and the
// demo runs it in-process, so it needs no *testing.T.
//
// State that depends on time (tasks finishing, HA guests flipping) is evaluated lazily against
// Options.Now whenever the server is asked, so there are no background timers and a test with a
// fake clock is fully deterministic.
package pvetest

import (
	"context"
	"crypto/tls"
	"embed"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrorFormat selects how the fake reports errors, because PVE changed it between versions and
// the client must read both.
type ErrorFormat int

const (
	// Legacy is libpve-http-server-perl < 5.2.0 (PVE <= 8.3 early): the error text is only in the
	// HTTP reason phrase; the body is {"data":null} (plus "errors" on parameter errors).
	Legacy ErrorFormat = iota
	// Modern is libpve-http-server-perl >= 5.2.0 (late 8.3, 8.4, 9.x): the body also carries
	// "message":"<error>\n".
	Modern
	// AuthUnified is Modern plus pve-manager >= 9.1.5: every rejected token reads
	// "Authentication failed!" (a missing header still reads "No ticket").
	AuthUnified
)

// TaskNeverEnds, given to SetTaskResult, makes the next matching task run forever, to test
// task-wait timeouts.
const TaskNeverEnds = "\x00never"

// Options configures a Server. The zero value is a plain-HTTP PVE 8.2.4 with legacy errors.
type Options struct {
	// TLS serves HTTPS with a generated CA and leaf (SANs 127.0.0.1, ::1, localhost).
	TLS bool
	// ErrorFormat picks the PVE generation whose error bodies are copied.
	ErrorFormat ErrorFormat
	// Version is what /version reports: "8.2.4" (default) or the older "7.4-16" style.
	Version string
	// AuthDelay is waited before every 401; real PVE waits 3 s. Default 0.
	AuthDelay time.Duration
	// TaskDuration is how long a worker task stays running. 0 means 50ms; negative means the
	// task is finished as soon as it is created.
	TaskDuration time.Duration
	// HARound is the length of the HA manager's CRM and LRM rounds. 0 means 10 s, as in PVE
	// (pve-ha-manager CRM.pm/LRM.pm $max_time); negative means rounds run only when a test
	// calls RunHARound. A request queued by a hastart/hastop task is taken up by the CRM in
	// its next round and carried out by the LRM in the round after.
	HARound time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// StringLXCVMID sends vmid as a string in /nodes/{n}/lxc, as PVE < 8.2 did.
	StringLXCVMID bool
	// ClusterName is reported by /cluster/status; default "homelab".
	ClusterName string
	// RRDAge is how long pmxcfs keeps a dead node's RRD data: for that long its guests keep
	// their last name, status and stats in /cluster/resources. 0 means 5 minutes, as in PVE
	// (pmxcfs status.c); negative means the data is gone at once.
	RRDAge time.Duration
}

// Node is a cluster node as the fake reports it.
type Node struct {
	Name    string
	Online  bool
	CPU     float64 // 0..1
	MaxCPU  int
	Mem     uint64
	MaxMem  uint64
	Disk    uint64
	MaxDisk uint64
	Uptime  int64 // seconds at AddNode time; it keeps counting
}

// Guest is a QEMU VM or LXC container. Status is "running" or "stopped"; a suspended VM is
// running with Paused set (qmpstatus "paused"), as in PVE.
type Guest struct {
	VMID     int
	Name     string
	Node     string
	Type     string // "qemu" (default) or "lxc"
	Status   string // "running" or "stopped" (default)
	Pool     string
	Tags     []string
	Template bool
	HA       bool // managed by the HA stack: start/stop/shutdown go through hastart/hastop
	// HAIgnored is an HA resource in state "ignored": /cluster/resources shows hastate
	// "ignored", status/current says ha.managed 0 and actions go direct (Config.pm).
	HAIgnored bool
	Lock      string // e.g. "backup": actions fail in the task with "VM is locked (backup)"
	Paused    bool
	CPU       float64 // usage 0..1 while running
	MaxCPU    int
	Mem       uint64 // used while running
	MaxMem    uint64
	Disk      uint64
	MaxDisk   uint64
	Uptime    int64 // seconds while running; it keeps counting
	// Agent is the QEMU guest agent: "" none configured (no agent: line), AgentRunning, or
	// AgentStopped (configured, but the service inside the guest does not answer).
	Agent string
	// NICs are the guest's interfaces as its agent (VMs) or `ip a` (containers) reports
	// them while it runs; add lo yourself to see it skipped.
	NICs []NIC
}

// Guest agent states of a fake VM.
const (
	AgentRunning = "running"
	AgentStopped = "stopped"
)

// NIC is one network interface of a guest.
type NIC struct {
	Name  string
	MAC   string
	Addrs []string // "192.168.1.44/24", "fe80::1/64"
}

// Storage is one storage on one node. Node "" means a shared storage present on every node.
type Storage struct {
	Name    string
	Node    string
	Type    string // "dir", "lvmthin", "zfspool", "nfs", ...
	Content string // "images,rootdir"
	Shared  bool
	Used    uint64
	Total   uint64
	Status  string // default "available"
}

// Request is one request as the fake received it. Path is below /api2/json
// ("/nodes/pve1/qemu/101/status/start"); TokenID is the id the client claimed (never the secret).
type Request struct {
	Method  string
	Path    string
	Query   url.Values
	Form    url.Values
	TokenID string
	Time    time.Time
}

type nodeState struct {
	Node
	bootAt    time.Time
	index     int
	offlineAt time.Time // when it went offline
	silent    bool      // a member whose pvestatd feeds no statistics
	mac       string    // wakeonlan MAC from the node config
	waking    bool
}

type guestState struct {
	Guest
	bootAt  time.Time // valid while running
	hastate string    // the CRM's service state for HA guests: started, stopped, request_stop, error
	haReq   *haRequest

	snaps       []*snapState // in the order they were taken
	snapParent  string       // the snapshot the current state derives from
	diskStorage string       // where its disks live (snapshot support); "" = LVM-thin-like

	onboot     bool
	startup    string   // "order=2,up=30,down=60"
	localRes   []string // local devices that block a migration (hostpci0, …)
	localDisks []string // local disk volids
}

// haRequest is a start or stop the HA stack has been asked for and not yet carried out.
type haRequest struct {
	want    string // "started", "stopped" or "migrate"
	target  string // migrate: the node to move to
	timeout int    // the shutdown timeout given to hastop; 0 = hard stop
	crmSeen bool   // the CRM has taken it up; the LRM acts in the next round
}

type token struct {
	id, secret string
	acl        map[string]map[string]bool // the token's own ACL
	noPrivsep  bool                       // privsep=0: the token has its user's rights
}

// acl is path -> privilege set; a set holding noAccess grants nothing, whatever else applies.
type acl map[string]map[string]bool

const noAccess = "\x00NoAccess"

type failRule struct {
	method, prefix string
	status         int
	reason         string
	n              int
}

type event struct {
	due   time.Time
	seq   int
	apply func()
}

// Server is the fake PVE. All methods are safe for concurrent use.
type Server struct {
	opts   Options
	now    func() time.Time
	hs     *httptest.Server
	url    string
	closed chan struct{}
	once   sync.Once

	tlsMu sync.RWMutex
	certs *certSet

	mu          sync.Mutex
	nodes       map[string]*nodeState
	guests      map[int]*guestState
	storages    []*Storage
	tokens      map[string]*token
	userACL     map[string]acl  // user -> ACL
	userSet     map[string]bool // users whose ACL SetUserACL gave (AddToken no longer mirrors it)
	noQuorum    bool
	latency     time.Duration
	hang        chan struct{}
	hangOnly    string // "METHOD path": Hang holds only that request ("" = every request)
	fails       []*failRule
	taskResults map[string][]string // "vmid/action" -> queued exit statuses
	tasks       []*task
	taskByUPID  map[string]*task
	events      []*event
	haNext      time.Time // when the next HA round is due (HARound > 0)
	haIdle      bool      // no CRM master: HA requests are never acted on
	seq         int
	pid         uint32
	requests    []Request
	bootTime    time.Duration // node offline time after reboot/wake; 0 = NodeBootTime
	backups     []*Backup
	backupJobs  []BackupJob
	backupFail  map[int]string // vmid -> the reason its next backups fail
	webhooks    []WebhookTarget
	backupDur   time.Duration
	rrdGaps     map[string][2]time.Time // node -> history gap (rrd.go)
}

// New starts a fake PVE on 127.0.0.1 with a random port. Call Close when done.
func New(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "8.2.4"
	}
	if opts.TaskDuration == 0 {
		opts.TaskDuration = 50 * time.Millisecond
	}
	if opts.TaskDuration < 0 {
		opts.TaskDuration = 0
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "homelab"
	}
	if opts.RRDAge == 0 {
		opts.RRDAge = 5 * time.Minute
	}
	if opts.HARound == 0 {
		opts.HARound = 10 * time.Second
	}
	s := &Server{
		opts:        opts,
		now:         opts.Now,
		closed:      make(chan struct{}),
		nodes:       map[string]*nodeState{},
		guests:      map[int]*guestState{},
		tokens:      map[string]*token{},
		userACL:     map[string]acl{},
		userSet:     map[string]bool{},
		taskResults: map[string][]string{},
		backupFail:  map[int]string{},
		taskByUPID:  map[string]*task{},
		pid:         0x2F6A00,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.haNext = s.now().Add(opts.HARound)
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	scheme := "http://"
	if opts.TLS {
		s.certs = newCertSet()
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				s.tlsMu.RLock()
				defer s.tlsMu.RUnlock()
				return &s.certs.leaf, nil
			},
		}
		s.hs.Listener = tls.NewListener(s.hs.Listener, cfg)
		scheme = "https://"
	}
	s.hs.Start()
	s.url = scheme + s.hs.Listener.Addr().String()
	return s
}

// URL is the server's base URL without /api2/json, e.g. "https://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Close stops the server. Requests blocked by Hang or a delay are released and their connections
// dropped. Pending tasks simply stop being evaluated (there are no timers to leak).
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.hs.CloseClientConnections()
		s.hs.Close()
	})
}

// AddNode adds or replaces a node.
func (s *Server) AddNode(n Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addNodeLocked(n)
}

func (s *Server) addNodeLocked(n Node) *nodeState {
	if n.MaxCPU == 0 {
		n.MaxCPU = 4
	}
	if n.MaxMem == 0 {
		n.MaxMem = 16 << 30
	}
	if n.MaxDisk == 0 {
		n.MaxDisk = 100 << 30
	}
	idx := len(s.nodes) + 1
	if old, ok := s.nodes[n.Name]; ok {
		idx = old.index
	}
	ns := &nodeState{Node: n, bootAt: s.now().Add(-time.Duration(n.Uptime) * time.Second), index: idx}
	s.nodes[n.Name] = ns
	return ns
}

// AddGuest adds or replaces a guest. An unknown node is created online with defaults.
func (s *Server) AddGuest(g Guest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.Type == "" {
		g.Type = "qemu"
	}
	if g.Status == "" {
		g.Status = "stopped"
	}
	if g.Name == "" {
		g.Name = "guest" + itoa(g.VMID)
	}
	if g.MaxCPU == 0 {
		g.MaxCPU = 1
	}
	if g.MaxMem == 0 {
		g.MaxMem = 512 << 20
	}
	if g.MaxDisk == 0 {
		g.MaxDisk = 8 << 30
	}
	g.Tags = slices.Clone(g.Tags)
	g.NICs = slices.Clone(g.NICs)
	for i := range g.NICs {
		g.NICs[i].Addrs = slices.Clone(g.NICs[i].Addrs)
	}
	if _, ok := s.nodes[g.Node]; !ok {
		s.addNodeLocked(Node{Name: g.Node, Online: true, Uptime: 86400})
	}
	gs := &guestState{Guest: g}
	if g.Status == "running" {
		gs.bootAt = s.now().Add(-time.Duration(g.Uptime) * time.Second)
	}
	switch {
	case g.HAIgnored:
		gs.HA, gs.hastate = false, "ignored"
	case g.HA:
		gs.hastate = "stopped"
		if g.Status == "running" {
			gs.hastate = "started"
		}
	}
	s.guests[g.VMID] = gs
}

// AddStorage adds a storage (Node "" = shared, listed on every node).
func (s *Server) AddStorage(st Storage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Status == "" {
		st.Status = "available"
	}
	c := st
	s.storages = append(s.storages, &c)
}

// SetStorageUsage changes the used bytes of a storage (node "" or a node the shared storage is on).
func (s *Server) SetStorageUsage(node, name string, used uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.storages {
		if st.Name == name && (st.Node == node || st.Node == "") {
			st.Used = used
		}
	}
}

// AddToken registers a privilege-separated API token ("user@realm!name") with its own ACL:
// path -> privileges or built-in role names ("PVEAuditor", "PVEVMUser", "Administrator",
// "NoAccess"). Its user gets the same ACL, as the documented setup grants the role to both,
// unless SetUserACL gave the user its own (to model the two differing). As in PVE the token
// holds what both its own and its user's ACLs
// grant; ACLs propagate to children, a more specific path replaces a less specific one, a
// pool member gets the pool's roles added, and NoAccess wins.
func (s *Server) AddToken(id, secret string, a map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &token{id: id, secret: secret, acl: expandACL(a)}
	s.tokens[id] = t
	if user, _, _ := strings.Cut(id, "!"); !s.userSet[user] {
		s.userACL[user] = expandACL(a)
	}
}

// SetUserACL replaces a user's own ACL (same form as AddToken's); from then on AddToken
// changes only the token's.
func (s *Server) SetUserACL(user string, a map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userACL[user] = expandACL(a)
	s.userSet[user] = true
}

// SetTokenPrivsep turns a token's privilege separation on (the default) or off; off, the
// token has exactly its user's rights.
func (s *Server) SetTokenPrivsep(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[id]; ok {
		t.noPrivsep = !on
	}
}

func expandACL(a map[string][]string) acl {
	out := acl{}
	for path, privs := range a {
		set := map[string]bool{}
		for _, p := range privs {
			if p == "NoAccess" {
				set[noAccess] = true
				continue
			}
			if r, ok := builtinRoles()[p]; ok {
				for _, rp := range r {
					set[rp] = true
				}
				continue
			}
			set[p] = true
		}
		out[normPath(path)] = set
	}
	return out
}

// RevokeToken deletes a token; its next request gets 401 "no such token".
func (s *Server) RevokeToken(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, id)
}

// SetNodeOnline marks a node on- or offline. Requests for an offline node get 595 "No route to
// host" with an empty body. /cluster/resources shows it offline at once (corosync), but its
// guests keep their last name, status and stats for RRDAge, and "unknown" without them after
// that; tags, lock, pool and hastate stay (they come from pmxcfs, not the RRD).
func (s *Server) SetNodeOnline(node string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[node]; ok {
		if n.Online && !online {
			n.offlineAt = s.now()
		}
		n.Online = online
	}
}

// SetNodeSilent models a member whose pvestatd has fed no statistics for more than 5
// minutes: the node answers requests, but /cluster/resources shows it "unknown" without stats
// and its guests "unknown" (API2Tools.pm).
func (s *Server) SetNodeSilent(node string, silent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[node]; ok {
		n.silent = silent
	}
}

// SetQuorum sets whether the cluster is quorate. Without quorum a start fails with
// 500 "cluster not ready - no quorum?"; stop, shutdown and the other actions and all reads
// keep working, as in PVE.
func (s *Server) SetQuorum(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noQuorum = !ok
}

// SetLatency delays every request by d (released early by the client's cancel or Close).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Hang makes requests block until the client gives up, Hang(false) or Close.
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hang == nil:
		s.hang = make(chan struct{})
	case !on && s.hang != nil:
		close(s.hang)
		s.hang = nil
	}
	if !on {
		s.hangOnly = ""
	}
}

// HangOn makes only requests of method to path block, like Hang, until Hang(false).
func (s *Server) HangOn(method, path string) {
	s.Hang(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangOnly = method + " " + path
}

// FailNext answers the next n requests whose method matches (method "" = any) and whose path
// (below /api2/json) starts with pathPrefix with status and reason, before any other check.
// The body follows the error format (empty for 401 and 59x).
func (s *Server) FailNext(method, pathPrefix string, status int, reason string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, &failRule{method: method, prefix: pathPrefix, status: status, reason: reason, n: n})
}

// SetTaskResult makes the next task for that guest and action ("start", "stop", "shutdown",
// "reboot", "reset", "suspend", "resume") end with exit instead of its natural result:
// "OK", "WARNINGS: 2", an error text such as "VM quit/powerdown failed - got timeout", or
// TaskNeverEnds. The guest changes state only when both the natural and the given result are
// successes. Calls queue up.
func (s *Server) SetTaskResult(vmid int, action, exit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := itoa(vmid) + "/" + action
	s.taskResults[k] = append(s.taskResults[k], exit)
}

// Guest returns the guest's current state (after any finished task or HA flip).
func (s *Server) Guest(vmid int) (Guest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	g, ok := s.guests[vmid]
	if !ok {
		return Guest{}, false
	}
	out := g.Guest
	out.Tags = slices.Clone(out.Tags)
	out.Uptime = s.guestUptime(g)
	return out, true
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests matched method ("" = any) and a path prefix (below
// /api2/json), for "exactly one POST" assertions.
func (s *Server) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

//go:embed testdata/recorded
var recorded embed.FS

// RecordedFS holds real PVE responses whose licence allows copying (see SOURCES.md inside), so
// the client package can test its decoder on them. Paths look like "7/GET_nodes.json".
func RecordedFS() fs.FS {
	sub, err := fs.Sub(recorded, "testdata/recorded")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// advanceLocked applies every task end and HA round that is due, in time order.
func (s *Server) advanceLocked() {
	now := s.now()
	for {
		round := s.opts.HARound > 0 && !s.haNext.After(now)
		ev := len(s.events) > 0 && !s.events[0].due.After(now)
		switch {
		case ev && (!round || !s.events[0].due.After(s.haNext)):
			e := s.events[0]
			s.events = s.events[1:]
			e.apply()
		case round:
			if !s.haPendingLocked() {
				// Nothing for the HA stack to do: skip the idle rounds up to now or the
				// next event, whichever comes first.
				limit := now
				if ev {
					limit = s.events[0].due
				}
				n := limit.Sub(s.haNext)/s.opts.HARound + 1
				s.haNext = s.haNext.Add(n * s.opts.HARound)
				continue
			}
			s.haRoundLocked(s.haNext)
			s.haNext = s.haNext.Add(s.opts.HARound)
		default:
			return
		}
	}
}

func (s *Server) scheduleLocked(due time.Time, apply func()) {
	s.seq++
	s.events = append(s.events, &event{due: due, seq: s.seq, apply: apply})
	sort.SliceStable(s.events, func(i, j int) bool {
		if s.events[i].due.Equal(s.events[j].due) {
			return s.events[i].seq < s.events[j].seq
		}
		return s.events[i].due.Before(s.events[j].due)
	})
}

func (s *Server) guestUptime(g *guestState) int64 {
	if g.Status != "running" {
		return 0
	}
	return int64(s.now().Sub(g.bootAt) / time.Second)
}

func (s *Server) sortedNodes() []*nodeState {
	out := make([]*nodeState, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) sortedGuests() []*guestState {
	out := make([]*guestState, 0, len(s.guests))
	for _, g := range s.guests {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VMID < out[j].VMID })
	return out
}

// wait blocks for d, returning false when the client or the server gave up first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}
