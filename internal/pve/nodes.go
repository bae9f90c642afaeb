package pve

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// NodeCommand is what POST /nodes/{node}/status may ask a node to do.
type NodeCommand string

// The node power commands (docs/pve-features.md §5.1). Both need Sys.PowerMgmt on the node.
const (
	NodeReboot   NodeCommand = "reboot"
	NodeShutdown NodeCommand = "shutdown"
)

// NodePower sends exactly one POST /nodes/{node}/status. PVE answers at once with no task;
// the node goes down about two seconds later, so the caller follows it through the node list.
func (c *Client) NodePower(ctx context.Context, node string, cmd NodeCommand) error {
	op := string(cmd) + " node " + node
	if cmd != NodeReboot && cmd != NodeShutdown {
		return &Error{Kind: KindUnsupported, Cluster: c.name, Op: op, Reason: "unknown node command"}
	}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/nodes/" + url.PathEscape(node) + "/status",
		form: url.Values{"command": {string(cmd)}}, op: op})
	if err != nil {
		c.log.Info("PVE refused a node command", zap.String("op", op), zap.Error(err))
		return err
	}
	c.log.Info("PVE node command sent", zap.String("op", op))
	return nil
}

// WakeNode sends one POST /nodes/{node}/wakeonlan. The node answering the request sends the
// magic packet with the MAC of node's config, which PVE returns. Success only means the packet
// left; the caller follows the node list to see it come up.
func (c *Client) WakeNode(ctx context.Context, node string) (mac string, err error) {
	op := "wake node " + node
	body, err := c.do(ctx, request{method: http.MethodPost, path: "/nodes/" + url.PathEscape(node) + "/wakeonlan", form: url.Values{}, op: op})
	if err != nil {
		return "", err
	}
	var env struct {
		Data flexStr `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", c.decodeErr(op, err)
	}
	return string(env.Data), nil
}

// Startup is a guest's `startup` config: its place in the node's start order and the delays.
type Startup struct {
	Order int // math.MaxInt when not set: started last, stopped first (Nodes.pm)
	Up    int // seconds to wait after it started, before the next
	Down  int // shutdown timeout used by stopall; 0 = the default
}

// ParseStartup reads "[order=]<n>[,up=<s>][,down=<s>]" (pve-common JSONSchema.pm). What it
// cannot read is left at the defaults.
func ParseStartup(s string) Startup {
	st := Startup{Order: math.MaxInt}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			k, v = "order", k
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			continue
		}
		switch k {
		case "order":
			st.Order = n
		case "up":
			st.Up = n
		case "down":
			st.Down = n
		}
	}
	return st
}

// GuestConfig is what the bot reads of a guest's config.
type GuestConfig struct {
	OnBoot  bool
	Startup Startup
	Lock    string
	// DiskStorages are the storages of the guest's disks and volumes (not CD-ROMs), in
	// config key order, each once: what decides snapshot and rollback rules.
	DiskStorages []string
}

// diskKeyRE matches the config keys that hold a disk or volume (qemu-server, pve-container).
var diskKeyRE = regexp.MustCompile(`^((scsi|virtio|sata|ide|efidisk|tpmstate)\d+|rootfs|mp\d+)$`)

// GuestConfig reads GET …/config (VM.Audit).
func (c *Client) GuestConfig(ctx context.Context, g Guest) (GuestConfig, error) {
	op := "config " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return GuestConfig{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	body, err := c.get(ctx, p+"/config", nil, op)
	if err != nil {
		return GuestConfig{}, err
	}
	var raw map[string]flexStr
	if err := decodeObject(body, &raw); err != nil {
		return GuestConfig{}, c.decodeErr(op, err)
	}
	cfg := GuestConfig{OnBoot: raw["onboot"] == "1", Startup: ParseStartup(string(raw["startup"])), Lock: string(raw["lock"])}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := string(raw[k])
		if !diskKeyRE.MatchString(k) || strings.Contains(v, "media=cdrom") {
			continue
		}
		st, _, ok := strings.Cut(v, ":")
		if ok && st != "" && st != "none" && !slices.Contains(cfg.DiskStorages, st) {
			cfg.DiskStorages = append(cfg.DiskStorages, st)
		}
	}
	return cfg, nil
}

// MigrateCheck is PVE's precondition answer for a QEMU migration.
type MigrateCheck struct {
	Running        bool
	Allowed        []string // nodes the VM may go to
	LocalDisks     []string // volids of local disks (need with-local-disks when running)
	LocalResources []string // local devices (hostpci0, usb0…): a migration is refused
}

// CheckMigrate reads GET /nodes/{node}/qemu/{vmid}/migrate (VM.Migrate). Containers have no
// such endpoint before PVE 9, so for them it returns an empty check without asking.
func (c *Client) CheckMigrate(ctx context.Context, g Guest, target string) (MigrateCheck, error) {
	if g.Type != "qemu" {
		return MigrateCheck{Running: g.Status == "running"}, nil
	}
	op := "migrate check " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return MigrateCheck{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	q := url.Values{}
	if target != "" {
		q.Set("target", target)
	}
	body, err := c.get(ctx, p+"/migrate", q, op)
	if err != nil {
		return MigrateCheck{}, err
	}
	var raw struct {
		Running    flexNum                   `json:"running"`
		Allowed    []flexStr                 `json:"allowed_nodes"`
		LocalDisks []struct{ Volid flexStr } `json:"local_disks"`
		LocalRes   []flexStr                 `json:"local_resources"`
	}
	if err := decodeObject(body, &raw); err != nil {
		return MigrateCheck{}, c.decodeErr(op, err)
	}
	out := MigrateCheck{Running: raw.Running.bool()}
	for _, n := range raw.Allowed {
		out.Allowed = append(out.Allowed, string(n))
	}
	for _, d := range raw.LocalDisks {
		out.LocalDisks = append(out.LocalDisks, string(d.Volid))
	}
	for _, r := range raw.LocalRes {
		out.LocalResources = append(out.LocalResources, string(r))
	}
	return out, nil
}

// MigrateOptions are the choices a migration makes.
type MigrateOptions struct {
	Online  bool // QEMU: live migration of a running VM
	Restart bool // LXC: shut down, move, start again (a running container needs it)
	Timeout int  // LXC restart mode: shutdown timeout in seconds; 0 = PVE's 180
}

// Migrate sends exactly one POST …/migrate and returns the task's UPID: qmigrate, vzmigrate,
// or hamigrate for an HA guest (which only queues the move; the caller follows the guest's node).
func (c *Client) Migrate(ctx context.Context, g Guest, target string, o MigrateOptions) (string, error) {
	form := url.Values{"target": {target}}
	if g.Type == "qemu" && o.Online {
		form.Set("online", "1")
	}
	if g.Type == "lxc" && o.Restart {
		form.Set("restart", "1")
		if o.Timeout > 0 {
			form.Set("timeout", strconv.Itoa(o.Timeout))
		}
	}
	return c.guestTask(ctx, g, http.MethodPost, "/migrate", form, "migrate "+strconv.Itoa(g.VMID)+" to "+target)
}
