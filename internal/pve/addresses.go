package pve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Kinds of failure when reading a guest's addresses, so that the command side can say
// what to do in words.
const (
	// KindNoAgent: the VM has no QEMU guest agent configured (Options → QEMU Guest Agent,
	// and qemu-guest-agent installed inside).
	KindNoAgent Kind = "no_agent"
	// KindAgentNotRunning: the agent is configured but does not answer (not installed, or
	// its service is not up yet after a boot).
	KindAgentNotRunning Kind = "agent_not_running"
	// KindGuestNotRunning: the guest is stopped, so it has no addresses to report.
	KindGuestNotRunning Kind = "guest_not_running"
)

// Address is one IP address of a guest's network interface.
type Address struct {
	Interface string     // eth0, ens18
	MAC       string     // may be empty
	IP        netip.Addr // never loopback or link-local
	Prefix    int        // 24; 0 when unknown
}

// String is "192.168.1.44/24" (or just the address when the prefix is unknown).
func (a Address) String() string {
	if a.Prefix > 0 {
		return a.IP.String() + "/" + strconv.Itoa(a.Prefix)
	}
	return a.IP.String()
}

// AgentPrivileges returns the privilege a token needs on /vms/{vmid} to read a VM's
// addresses from its guest agent on PVE version v ("8.2.4", "9.1.5"): VM.Monitor up to
// 8.x, VM.GuestAgent.Audit from 9.0 (which removed VM.Monitor). An unknown version gives
// both, for a role that works on either.
func AgentPrivileges(v string) []string {
	major, err := strconv.Atoi(strings.SplitN(strings.TrimSpace(v), ".", 2)[0])
	switch {
	case err != nil || major <= 0:
		return []string{"VM.Monitor", "VM.GuestAgent.Audit"}
	case major >= 9:
		return []string{"VM.GuestAgent.Audit"}
	}
	return []string{"VM.Monitor"}
}

type rawIP struct {
	IP     flexStr `json:"ip-address"`
	Prefix flexNum `json:"prefix"`
}

// rawNIC covers both the QEMU agent's interface object and a container's: the agent
// sends hardware-address and ip-addresses; pve-container 8.1–8.3 sends hwaddr, inet and
// inet6 ("addr/prefix", the last address of each family only), 8.4 adds ip-addresses.
type rawNIC struct {
	Name   flexStr `json:"name"`
	HW     flexStr `json:"hardware-address"`
	HWAddr flexStr `json:"hwaddr"`
	IPs    []rawIP `json:"ip-addresses"`
	Inet   flexStr `json:"inet"`
	Inet6  flexStr `json:"inet6"`
}

// Addresses reads the IP addresses of a running guest: a VM's from its QEMU guest agent
// (GET …/agent/network-get-interfaces), a container's from GET …/lxc/{vmid}/interfaces
// (PVE 8.1 or later). Loopback and link-local addresses are left out. Failures the user
// can act on come as *Error of KindNoAgent, KindAgentNotRunning, KindGuestNotRunning,
// KindPermission (the agent privilege, see AgentPrivileges) or KindUnsupported (a
// container on PVE before 8.1).
func (c *Client) Addresses(ctx context.Context, g Guest) ([]Address, error) {
	op := "addresses " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return nil, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	if g.Type == "lxc" {
		p += "/interfaces"
	} else {
		p += "/agent/network-get-interfaces"
	}
	body, err := c.get(ctx, p, nil, op)
	if err != nil {
		return nil, addressError(err)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, c.decodeErr(op, err)
	}
	if g.Type == "lxc" && (len(env.Data) == 0 || string(env.Data) == "null") {
		// PVE answers a stopped container with {"data":null} and 200.
		return nil, &Error{Kind: KindGuestNotRunning, Cluster: c.name, Op: op, Reason: "the container is not running"}
	}
	raw := env.Data
	if g.Type != "lxc" {
		var res struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(env.Data, &res); err != nil {
			return nil, c.decodeErr(op, err)
		}
		raw = res.Result
	}
	var nics []json.RawMessage
	if err := json.Unmarshal(raw, &nics); err != nil {
		return nil, c.decodeErr(op, errNoData)
	}
	var out []Address
	for _, r := range nics {
		var n rawNIC
		if json.Unmarshal(r, &n) != nil {
			continue
		}
		out = append(out, n.addresses()...)
	}
	return out, nil
}

func (n rawNIC) addresses() []Address {
	name := string(n.Name)
	if name == "lo" {
		return nil
	}
	mac := string(n.HW)
	if mac == "" {
		mac = string(n.HWAddr)
	}
	var out []Address
	seen := map[netip.Addr]bool{}
	add := func(ip string, prefix int) {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || seen[a] {
			return
		}
		seen[a] = true
		out = append(out, Address{Interface: name, MAC: mac, IP: a.Unmap(), Prefix: prefix})
	}
	for _, ip := range n.IPs {
		add(string(ip.IP), ip.Prefix.int())
	}
	for _, cidr := range []string{string(n.Inet), string(n.Inet6)} {
		if cidr == "" {
			continue
		}
		ip, pfx, _ := strings.Cut(cidr, "/")
		p, _ := strconv.Atoi(pfx)
		add(ip, p)
	}
	return out
}

// addressError turns PVE's agent refusals (HTTP 500 with qemu-server's words) and a
// missing endpoint into kinds the command side can phrase.
func addressError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	lower := strings.ToLower(e.Reason)
	switch {
	case e.Status == http.StatusNotImplemented:
		e.Kind, e.Hint = KindUnsupported, "container addresses need PVE 8.1 or later"
	case e.Kind != KindPVE:
	case strings.Contains(lower, "no qemu guest agent configured"):
		e.Kind = KindNoAgent
		e.Hint = "enable Options → QEMU Guest Agent and install qemu-guest-agent in the VM"
	case strings.Contains(lower, "qemu guest agent is not running"):
		e.Kind = KindAgentNotRunning
		e.Hint = "install and start qemu-guest-agent inside the VM"
	case strings.Contains(lower, "is not running"):
		e.Kind = KindGuestNotRunning
	}
	return e
}

// virtualNIC reports interface names of bridges and container plumbing inside a guest
// (Docker, libvirt, Kubernetes CNIs), whose addresses are rarely the one people want.
func virtualNIC(name string) bool {
	for _, p := range []string{"docker", "br-", "veth", "virbr", "cni", "flannel", "cali", "kube", "lxc", "lxd", "podman", "vnet", "tun", "tap"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// PrimaryAddress picks the address to show on a status card: the first IPv4 address of a
// physical-looking interface, else any IPv4 address, else the first global IPv6 one.
func PrimaryAddress(addrs []Address) (Address, bool) {
	pick := func(ok func(Address) bool) (Address, bool) {
		for _, a := range addrs {
			if ok(a) {
				return a, true
			}
		}
		return Address{}, false
	}
	if a, ok := pick(func(a Address) bool { return a.IP.Is4() && !virtualNIC(a.Interface) }); ok {
		return a, true
	}
	if a, ok := pick(func(a Address) bool { return a.IP.Is4() }); ok {
		return a, true
	}
	return pick(func(a Address) bool { return a.IP.Is6() && a.IP.IsGlobalUnicast() })
}

// Addresses reads g's addresses from its cluster (see Client.Addresses).
func (f *Fleet) Addresses(ctx context.Context, g Guest) ([]Address, error) {
	c, err := f.clientFor(g, "addresses")
	if err != nil {
		return nil, err
	}
	return c.Addresses(ctx, g)
}
