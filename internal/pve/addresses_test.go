package pve

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/netip"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

var homeNICs = []pvetest.NIC{
	{Name: "lo", MAC: "00:00:00:00:00:00", Addrs: []string{"127.0.0.1/8", "::1/128"}},
	{Name: "docker0", MAC: "02:42:ac:11:00:01", Addrs: []string{"172.17.0.1/16"}},
	{Name: "ens18", MAC: "bc:24:11:00:01:04", Addrs: []string{"192.168.1.44/24", "fe80::be24:11ff:fe00:104/64", "2001:db8::44/64"}},
}

func addressGuests(s *pvetest.Server) {
	s.AddGuest(pvetest.Guest{VMID: 104, Name: "docker-host", Node: "pve1", Status: "running", Agent: pvetest.AgentRunning, NICs: homeNICs})
	s.AddGuest(pvetest.Guest{VMID: 105, Name: "no-agent", Node: "pve1", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 106, Name: "booting", Node: "pve1", Status: "running", Agent: pvetest.AgentStopped})
	s.AddGuest(pvetest.Guest{VMID: 107, Name: "off", Node: "pve1", Status: "stopped", Agent: pvetest.AgentRunning})
	s.AddGuest(pvetest.Guest{VMID: 103, Name: "jellyfin", Node: "pve2", Type: "lxc", Status: "running",
		NICs: []pvetest.NIC{homeNICs[0], {Name: "eth0", MAC: "bc:24:11:00:01:03", Addrs: []string{"192.168.1.33/24"}}}})
	s.AddGuest(pvetest.Guest{VMID: 108, Name: "ct-off", Node: "pve2", Type: "lxc", Status: "stopped"})
}

func guestOf(vmid int, node, typ string) Guest {
	return Guest{Cluster: "home", VMID: vmid, Node: node, Type: typ}
}

func TestAddresses(t *testing.T) {
	for _, v := range []string{"8.2.4", "8.4.1", "9.1.5"} {
		for _, f := range formats {
			t.Run(v+"/"+f.name, func(t *testing.T) {
				privs := append([]string{}, botPrivs...)
				privs = append(privs, AgentPrivileges(v)...)
				s := fake(t, pvetest.Options{Version: v, ErrorFormat: f.f}, map[string][]string{"/": privs})
				addressGuests(s)
				c := e2eClient(t, s, nil)
				ctx := context.Background()

				got, err := c.Addresses(ctx, guestOf(104, "pve1", "qemu"))
				if err != nil {
					t.Fatalf("vm with agent: %v", err)
				}
				want := []string{"172.17.0.1/16", "192.168.1.44/24", "2001:db8::44/64"}
				if len(got) != len(want) {
					t.Fatalf("vm addresses = %v, want %v (no loopback, no link-local)", got, want)
				}
				for i := range want {
					if got[i].String() != want[i] {
						t.Errorf("address %d = %s, want %s", i, got[i], want[i])
					}
				}
				if p, ok := PrimaryAddress(got); !ok || p.String() != "192.168.1.44/24" || p.Interface != "ens18" {
					t.Errorf("primary = %v %v, want 192.168.1.44/24 on ens18 (not docker0)", p, ok)
				}

				ct, err := c.Addresses(ctx, guestOf(103, "pve2", "lxc"))
				if err != nil || len(ct) != 1 || ct[0].String() != "192.168.1.33/24" || ct[0].Interface != "eth0" {
					t.Errorf("container addresses = %v, %v; want 192.168.1.33/24 on eth0", ct, err)
				}

				for _, tt := range []struct {
					g    Guest
					kind Kind
				}{
					{guestOf(105, "pve1", "qemu"), KindNoAgent},
					{guestOf(106, "pve1", "qemu"), KindAgentNotRunning},
					{guestOf(107, "pve1", "qemu"), KindGuestNotRunning},
					{guestOf(108, "pve2", "lxc"), KindGuestNotRunning},
					{guestOf(999, "pve1", "qemu"), KindNotFound},
				} {
					_, err := c.Addresses(ctx, tt.g)
					if !IsKind(err, tt.kind) {
						t.Errorf("guest %d: err = %v, want kind %s", tt.g.VMID, err, tt.kind)
					}
				}
			})
		}
	}
}

// Without the agent privilege of its PVE version the token gets a 403 that names it.
func TestAddressesNeedTheAgentPrivilege(t *testing.T) {
	for _, tt := range []struct{ version, priv string }{{"8.2.4", "VM.Monitor"}, {"9.1.5", "VM.GuestAgent.Audit"}} {
		t.Run(tt.version, func(t *testing.T) {
			s := fake(t, pvetest.Options{Version: tt.version, ErrorFormat: pvetest.Modern}, nil)
			addressGuests(s)
			_, err := e2eClient(t, s, nil).Addresses(context.Background(), guestOf(104, "pve1", "qemu"))
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindPermission || e.Privilege != tt.priv || e.Path != "/vms/104" {
				t.Errorf("err = %v, want a permission error naming %s on /vms/104", err, tt.priv)
			}
			if got := AgentPrivileges(tt.version); len(got) != 1 || got[0] != tt.priv {
				t.Errorf("AgentPrivileges(%s) = %v, want [%s]", tt.version, got, tt.priv)
			}
		})
	}
	if got := AgentPrivileges(""); len(got) != 2 {
		t.Errorf("AgentPrivileges(unknown) = %v, want both", got)
	}
}

// PVE 7.4 has no container interfaces endpoint (501).
func TestContainerAddressesBefore81(t *testing.T) {
	s := fake(t, pvetest.Options{Version: "7.4-16"}, nil)
	addressGuests(s)
	_, err := e2eClient(t, s, nil).Addresses(context.Background(), guestOf(103, "pve2", "lxc"))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnsupported || e.Status != http.StatusNotImplemented {
		t.Errorf("err = %v, want unsupported (501)", err)
	}
}

// The recorded 8.1–8.3 container reply decodes to its one real address.
func TestAddressesRecordedContainerShape(t *testing.T) {
	body, err := fs.ReadFile(pvetest.RecordedFS(), "8/GET_nodes_NODE_lxc_VMID_interfaces__pre_8_4_shape.json")
	if err != nil {
		t.Fatal(err)
	}
	c := fakeClient(t, newFakeRT(map[string]reply{"GET /nodes/node1/lxc/101/interfaces": ok(string(body))}))
	got, err := c.Addresses(context.Background(), Guest{Cluster: "home", VMID: 101, Node: "node1", Type: "lxc"})
	if err != nil || len(got) != 1 || got[0].IP != netip.MustParseAddr("192.168.3.95") || got[0].Prefix != 22 || got[0].MAC != "bc:24:11:89:67:07" {
		t.Errorf("addresses = %+v, %v; want 192.168.3.95/22 on eth0", got, err)
	}
}

func TestPrimaryAddress(t *testing.T) {
	a := func(nic, ip string) Address { return Address{Interface: nic, IP: netip.MustParseAddr(ip)} }
	tests := []struct {
		name  string
		addrs []Address
		want  string
	}{
		{"none", nil, ""},
		{"docker only", []Address{a("docker0", "172.17.0.1")}, "172.17.0.1"},
		{"ipv6 only", []Address{a("eth0", "2001:db8::5")}, "2001:db8::5"},
		{"ipv4 before ipv6", []Address{a("eth0", "2001:db8::5"), a("eth0", "10.0.0.5")}, "10.0.0.5"},
		{"physical before bridge", []Address{a("br-1a2b", "172.18.0.1"), a("eth0", "10.0.0.5")}, "10.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PrimaryAddress(tt.addrs)
			if (tt.want == "") == ok || (ok && got.IP.String() != tt.want) {
				t.Errorf("PrimaryAddress = %v %v, want %q", got, ok, tt.want)
			}
		})
	}
}
