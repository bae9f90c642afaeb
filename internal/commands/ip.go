package commands

import (
	"context"
	"errors"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// addressWait bounds the guest-agent call a status card makes for its address: an agent
// that does not answer must not hold the card up (`vm ip` itself waits the PVE timeout).
const addressWait = 3 * time.Second

// addresses answers `vm ip <target>`: a VM's addresses from its guest agent, a container's
// from its interfaces; what stands in the way (no agent, agent down, stopped, the token's
// privilege, an old PVE) is said in words.
func (d *Dispatcher) addresses(ctx context.Context, r *req, cmd Command) chat.Reply {
	g, err := d.find(ctx, r, cmd.Target)
	if err != nil {
		return d.findError(ctx, r, cmd.Target, "list", err)
	}
	if cmd.Kind != "" && g.Type != cmd.Kind {
		return textReply(chat.SeverityWarning, r.t("wrong_kind", guestLabel(r, g), typeWord(r.s.lang, g.Type)))
	}
	addrs, err := d.o.Fleet.Addresses(ctx, g)
	if err != nil {
		return textReply(chat.SeverityWarning, d.addressError(r, g, err))
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("ip_title", guestLabel(r, g)), Link: d.guestLink(r, g)}
	for _, a := range addrs {
		line := a.String()
		if a.Interface != "" {
			line = a.Interface + " · " + line
		}
		rep.Lines = append(rep.Lines, line)
	}
	if len(rep.Lines) == 0 {
		rep.Lines = []string{r.t("ip_none")}
	}
	return rep
}

// addressError says why g's addresses could not be read.
func (d *Dispatcher) addressError(r *req, g pve.Guest, err error) string {
	var pe *pve.Error
	if !errors.As(err, &pe) {
		return d.pveReason(r, err)
	}
	label := guestLabel(r, g)
	switch pe.Kind {
	case pve.KindNoAgent:
		return r.t("ip_no_agent", label)
	case pve.KindAgentNotRunning:
		return r.t("ip_agent_down", label)
	case pve.KindGuestNotRunning:
		return r.t("ip_stopped", label)
	case pve.KindPermission:
		return r.t("ip_privilege", pe.Privilege, pe.Path)
	case pve.KindUnsupported:
		return r.t("ip_ct_old")
	}
	return d.pveReason(r, err)
}

// primaryAddress is the address a running guest's status card shows, or "" when it is not
// known quickly (no agent, not answering, no privilege: `vm ip` says why).
func (d *Dispatcher) primaryAddress(ctx context.Context, g pve.Guest) string {
	if g.Status != "running" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, addressWait)
	defer cancel()
	addrs, err := d.o.Fleet.Addresses(ctx, g)
	if err != nil {
		return ""
	}
	if a, ok := pve.PrimaryAddress(addrs); ok {
		return a.IP.String()
	}
	return ""
}

// guestLink is "在 PVE 中打开" for g's page in the PVE web UI, or none when the cluster has
// no web address.
func (d *Dispatcher) guestLink(r *req, g pve.Guest) chat.Link {
	if u := d.o.Fleet.GuestWebURL(g); u != "" {
		return chat.Link{Text: r.t("open_in_pve"), URL: u}
	}
	return chat.Link{}
}

// nodeLink is "在 PVE 中打开" for a node's page.
func (d *Dispatcher) nodeLink(r *req, n pve.Node) chat.Link {
	if u := d.o.Fleet.NodeWebURL(n.Cluster, n.Name); u != "" {
		return chat.Link{Text: r.t("open_in_pve"), URL: u}
	}
	return chat.Link{}
}
