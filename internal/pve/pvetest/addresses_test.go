package pvetest

import (
	"encoding/json"
	"os"
	"testing"
)

func addrGuests(s *Server) {
	nics := []NIC{{Name: "lo", MAC: "00:00:00:00:00:00", Addrs: []string{"127.0.0.1/8", "::1/128"}},
		{Name: "eth0", MAC: "bc:24:11:89:67:07", Addrs: []string{"192.168.3.95/22", "fe80::be24:11ff:fe89:6707/64"}}}
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running", Agent: AgentRunning, NICs: nics})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "running"})
	s.AddGuest(Guest{VMID: 103, Node: "pve1", Status: "running", Agent: AgentStopped})
	s.AddGuest(Guest{VMID: 104, Node: "pve1", Status: "stopped", Agent: AgentRunning})
	s.AddGuest(Guest{VMID: 105, Node: "pve1", Type: "lxc", Status: "running", NICs: nics})
	s.AddGuest(Guest{VMID: 106, Node: "pve1", Type: "lxc", Status: "stopped", NICs: nics})
}

// The agent's errors come in qemu-server's order (no agent configured, VM not running,
// agent not answering), as HTTP 500 with PVE's words.
func TestAgentAddresses(t *testing.T) {
	s, _, c := newFake(t, Options{ErrorFormat: Modern})
	addrGuests(s)
	tests := []struct {
		vmid   string
		status int
		reason string
	}{
		{"101", 200, "OK"},
		{"102", 500, "No QEMU guest agent configured"},
		{"103", 500, "QEMU guest agent is not running"},
		{"104", 500, "VM 104 is not running"},
		{"105", 500, "Configuration file 'nodes/pve1/qemu-server/105.conf' does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.vmid, func(t *testing.T) {
			r := c.get(t, "/nodes/pve1/qemu/"+tt.vmid+"/agent/network-get-interfaces")
			wantStatus(t, r, tt.status, tt.reason)
		})
	}
	var got struct {
		Result []struct {
			Name  string `json:"name"`
			MAC   string `json:"hardware-address"`
			Addrs []struct {
				IP     string `json:"ip-address"`
				Type   string `json:"ip-address-type"`
				Prefix int    `json:"prefix"`
			} `json:"ip-addresses"`
		} `json:"result"`
	}
	c.get(t, "/nodes/pve1/qemu/101/agent/network-get-interfaces").data(t, &got)
	if len(got.Result) != 2 || got.Result[1].Name != "eth0" || got.Result[1].Addrs[0].IP != "192.168.3.95" ||
		got.Result[1].Addrs[0].Type != "ipv4" || got.Result[1].Addrs[0].Prefix != 22 || got.Result[1].Addrs[1].Type != "ipv6" {
		t.Errorf("agent reply = %+v, want lo and eth0 with typed ipv4/ipv6 addresses under result", got)
	}
}

// The agent privilege is VM.Monitor on PVE 8 and VM.GuestAgent.Audit on 9; containers
// need VM.Audit only.
func TestAddressPrivileges(t *testing.T) {
	tests := []struct {
		version string
		grant   []string
		path    string
		want    int
		reason  string
	}{
		{"8.2.4", []string{"VM.Audit", "VM.GuestAgent.Audit"}, "/nodes/pve1/qemu/101/agent/network-get-interfaces", 403, "Permission check failed (/vms/101, VM.Monitor)"},
		{"8.2.4", []string{"VM.Monitor"}, "/nodes/pve1/qemu/101/agent/network-get-interfaces", 200, "OK"},
		{"9.1.5", []string{"VM.Monitor"}, "/nodes/pve1/qemu/101/agent/network-get-interfaces", 403, "Permission check failed (/vms/101, VM.GuestAgent.Audit)"},
		{"9.1.5", []string{"VM.GuestAgent.Audit"}, "/nodes/pve1/qemu/101/agent/network-get-interfaces", 200, "OK"},
		{"9.1.5", []string{"VM.Audit"}, "/nodes/pve1/lxc/105/interfaces", 200, "OK"},
		{"9.1.5", []string{"Sys.Audit"}, "/nodes/pve1/lxc/105/interfaces", 403, "Permission check failed (/vms/105, VM.Audit)"},
		{"7.4-16", []string{"VM.Audit"}, "/nodes/pve1/lxc/105/interfaces", 501, "Method 'GET /nodes/pve1/lxc/105/interfaces' not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.version+" "+tt.reason, func(t *testing.T) {
			s, _, _ := newFake(t, Options{ErrorFormat: Modern, Version: tt.version})
			addrGuests(s)
			s.AddToken("limited@pve!bot", testSecret, map[string][]string{"/": tt.grant})
			c := newClient(s)
			c.auth = "PVEAPIToken=limited@pve!bot=" + testSecret
			wantStatus(t, c.get(t, tt.path), tt.want, tt.reason)
		})
	}
}

// A container's interfaces have the recorded 8.1–8.3 shape before PVE 8.4 and gain
// ip-addresses (typed inet/inet6) from 8.4; a stopped one answers {"data":null}.
func TestContainerInterfaces(t *testing.T) {
	s, _, c := newFake(t, Options{Version: "8.2.4"})
	addrGuests(s)
	r := c.get(t, "/nodes/pve1/lxc/105/interfaces")
	wantStatus(t, r, 200, "OK")
	want, err := os.ReadFile("testdata/recorded/8/GET_nodes_NODE_lxc_VMID_interfaces__pre_8_4_shape.json")
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, r.body, want) {
		t.Errorf("8.2 interfaces = %s, want the recorded shape %s", r.body, want)
	}
	if r := c.get(t, "/nodes/pve1/lxc/106/interfaces"); string(r.body) != `{"data":null}` {
		t.Errorf("stopped container = %d %s, want {\"data\":null}", r.status, r.body)
	}

	s84, _, c84 := newFake(t, Options{Version: "8.4.1"})
	addrGuests(s84)
	var got []struct {
		Name  string `json:"name"`
		Inet  string `json:"inet"`
		Addrs []struct {
			IP   string `json:"ip-address"`
			Type string `json:"ip-address-type"`
		} `json:"ip-addresses"`
	}
	c84.get(t, "/nodes/pve1/lxc/105/interfaces").data(t, &got)
	if len(got) != 2 || got[1].Inet != "192.168.3.95/22" || len(got[1].Addrs) != 2 || got[1].Addrs[0].Type != "inet" || got[1].Addrs[1].Type != "inet6" {
		t.Errorf("8.4 interfaces = %+v, want inet plus ip-addresses typed inet/inet6", got)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}
