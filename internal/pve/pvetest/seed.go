package pvetest

import "time"

// HomeLabTokenID and HomeLabTokenSecret are the bot's token in SeedHomeLab. The secret is a
// made-up UUID, safe to print; it is only meaningful to this fake.
const (
	HomeLabTokenID     = "chatbot@pve!bot"
	HomeLabTokenSecret = "0b7d5c8e-3f21-4a9c-9e4d-6a1f2b3c4d5e"
)

// SeedHomeLab fills s with a believable two-node home lab for the demo and for end-to-end tests:
// nodes pve1 and pve2; a router, NAS, Home Assistant (HA-managed), media stack, dev VMs, a docker
// host, DNS containers, a reverse proxy, a template; tags lab, infra, media, critical; pools media
// and infra; storage local, local-lvm and a shared nas; and the token HomeLabTokenID.
func SeedHomeLab(s *Server) {
	const gib = 1 << 30
	s.AddNode(Node{Name: "pve1", Online: true, CPU: 0.18, MaxCPU: 12, Mem: 38 * gib, MaxMem: 64 * gib, Disk: 41 * gib, MaxDisk: 94 * gib, Uptime: 1987654})
	s.AddNode(Node{Name: "pve2", Online: true, CPU: 0.07, MaxCPU: 8, Mem: 14 * gib, MaxMem: 32 * gib, Disk: 22 * gib, MaxDisk: 94 * gib, Uptime: 864123})

	guests := []Guest{
		{VMID: 100, Name: "opnsense", Node: "pve1", Type: "qemu", Status: "running", Pool: "infra", Tags: []string{"infra", "critical"}, CPU: 0.04, MaxCPU: 2, Mem: 1536 << 20, MaxMem: 4 * gib, MaxDisk: 32 * gib, Uptime: 1987000},
		{VMID: 101, Name: "truenas", Node: "pve1", Type: "qemu", Status: "running", Pool: "infra", Tags: []string{"infra", "critical"}, CPU: 0.09, MaxCPU: 4, Mem: 14 * gib, MaxMem: 16 * gib, MaxDisk: 32 * gib, Uptime: 1986000},
		{VMID: 102, Name: "homeassistant", Node: "pve1", Type: "qemu", Status: "running", HA: true, Pool: "infra", Tags: []string{"infra", "critical"}, CPU: 0.03, MaxCPU: 2, Mem: 2800 << 20, MaxMem: 4 * gib, MaxDisk: 32 * gib, Uptime: 604800},
		{VMID: 103, Name: "jellyfin", Node: "pve2", Type: "lxc", Status: "running", Pool: "media", Tags: []string{"media"}, CPU: 0.12, MaxCPU: 4, Mem: 3 * gib, MaxMem: 6 * gib, Disk: 11 * gib, MaxDisk: 32 * gib, Uptime: 864000},
		{VMID: 104, Name: "docker-host", Node: "pve2", Type: "qemu", Status: "running", Tags: []string{"lab"}, CPU: 0.21, MaxCPU: 4, Mem: 7 * gib, MaxMem: 8 * gib, MaxDisk: 64 * gib, Uptime: 432000},
		{VMID: 105, Name: "dev-ubuntu", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}, MaxCPU: 4, MaxMem: 8 * gib, MaxDisk: 48 * gib},
		{VMID: 106, Name: "dev-windows", Node: "pve1", Type: "qemu", Status: "stopped", Tags: []string{"lab"}, MaxCPU: 4, MaxMem: 8 * gib, MaxDisk: 96 * gib},
		{VMID: 107, Name: "pihole", Node: "pve1", Type: "lxc", Status: "running", Pool: "infra", Tags: []string{"infra"}, CPU: 0.01, MaxCPU: 1, Mem: 180 << 20, MaxMem: 512 << 20, Disk: 2 * gib, MaxDisk: 8 * gib, Uptime: 1986500},
		{VMID: 108, Name: "adguard", Node: "pve2", Type: "lxc", Status: "stopped", Tags: []string{"infra"}, MaxCPU: 1, MaxMem: 512 << 20, Disk: 1 * gib, MaxDisk: 8 * gib},
		{VMID: 109, Name: "nginx-proxy", Node: "pve1", Type: "lxc", Status: "running", Tags: []string{"infra"}, CPU: 0.01, MaxCPU: 1, Mem: 96 << 20, MaxMem: 512 << 20, Disk: 1 * gib, MaxDisk: 8 * gib, Uptime: 1986400},
		{VMID: 110, Name: "sonarr", Node: "pve2", Type: "lxc", Status: "running", Pool: "media", Tags: []string{"media"}, CPU: 0.02, MaxCPU: 2, Mem: 600 << 20, MaxMem: 2 * gib, Disk: 3 * gib, MaxDisk: 16 * gib, Uptime: 863900},
		{VMID: 111, Name: "radarr", Node: "pve2", Type: "lxc", Status: "running", Pool: "media", Tags: []string{"media"}, CPU: 0.02, MaxCPU: 2, Mem: 650 << 20, MaxMem: 2 * gib, Disk: 3 * gib, MaxDisk: 16 * gib, Uptime: 863800},
		{VMID: 112, Name: "nextcloud", Node: "pve1", Type: "qemu", Status: "running", Tags: []string{"media"}, CPU: 0.05, MaxCPU: 2, Mem: 3 * gib, MaxMem: 4 * gib, MaxDisk: 64 * gib, Uptime: 1200000},
		{VMID: 113, Name: "kali-lab", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}, MaxCPU: 2, MaxMem: 4 * gib, MaxDisk: 40 * gib},
		{VMID: 114, Name: "backup-pbs", Node: "pve1", Type: "qemu", Status: "running", Pool: "infra", Tags: []string{"infra"}, CPU: 0.02, MaxCPU: 2, Mem: 3 * gib, MaxMem: 4 * gib, MaxDisk: 32 * gib, Uptime: 1900000},
		{VMID: 9000, Name: "ubuntu-2404-cloud", Node: "pve1", Type: "qemu", Status: "stopped", Template: true, Tags: []string{"lab"}, MaxCPU: 2, MaxMem: 2 * gib, MaxDisk: 4 * gib},
	}
	// Addresses for vm ip: VMs with a running agent, one whose agent is not up, the rest
	// without one; running containers answer with their interfaces.
	nic := func(name, mac string, addrs ...string) NIC { return NIC{Name: name, MAC: mac, Addrs: addrs} }
	lo := nic("lo", "00:00:00:00:00:00", "127.0.0.1/8", "::1/128")
	agents := map[int]string{100: AgentRunning, 102: AgentRunning, 104: AgentRunning, 112: AgentRunning, 114: AgentStopped, 105: AgentRunning}
	nics := map[int][]NIC{
		100: {lo, nic("vtnet0", "bc:24:11:3a:00:64", "192.168.1.1/24", "fe80::be24:11ff:fe3a:64/64")},
		102: {lo, nic("enp0s18", "bc:24:11:3a:00:66", "192.168.1.20/24", "fe80::be24:11ff:fe3a:66/64"), nic("hassio", "02:42:5e:11:00:01", "172.30.32.1/23")},
		104: {lo, nic("docker0", "02:42:ac:11:00:01", "172.17.0.1/16"), nic("ens18", "bc:24:11:3a:00:68", "192.168.1.44/24", "2408:8207:1234:5678::44/64", "fe80::be24:11ff:fe3a:68/64")},
		112: {lo, nic("ens18", "bc:24:11:3a:00:70", "192.168.1.52/24")},
		103: {lo, nic("eth0", "bc:24:11:3a:00:67", "192.168.1.33/24", "fe80::be24:11ff:fe3a:67/64")},
		107: {lo, nic("eth0", "bc:24:11:3a:00:6b", "192.168.1.2/24")},
		109: {lo, nic("eth0", "bc:24:11:3a:00:6d", "192.168.1.5/24")},
		110: {lo, nic("eth0", "bc:24:11:3a:00:6e", "192.168.1.36/24")},
		111: {lo, nic("eth0", "bc:24:11:3a:00:6f", "192.168.1.37/24")},
	}
	for _, g := range guests {
		g.Agent, g.NICs = agents[g.VMID], nics[g.VMID]
		s.AddGuest(g)
	}
	// Snapshots a home-labber keeps: before an upgrade of Home Assistant (with RAM) and a
	// clean state of the docker host. Times are relative to the fake's clock.
	now := s.now()
	s.AddSnapshot(102, Snapshot{Name: "before_2026_10", Description: "before the October upgrade", Time: now.Add(-40 * 24 * time.Hour)})
	s.AddSnapshot(102, Snapshot{Name: "before_2026_11", Parent: "before_2026_10", Description: "before the November upgrade", Time: now.Add(-76 * time.Hour), VMState: true})
	s.AddSnapshot(104, Snapshot{Name: "clean_install", Description: "fresh Debian 12 + docker", Time: now.Add(-120 * 24 * time.Hour)})

	for _, node := range []string{"pve1", "pve2"} {
		s.AddStorage(Storage{Name: "local", Node: node, Type: "dir", Content: "iso,vztmpl,backup", Used: 21 * gib, Total: 94 * gib})
		s.AddStorage(Storage{Name: "local-lvm", Node: node, Type: "lvmthin", Content: "images,rootdir", Used: 310 * gib, Total: 820 * gib})
	}
	s.AddStorage(Storage{Name: "nas", Type: "nfs", Content: "backup,iso,images", Shared: true, Used: 5200 * gib, Total: 7400 * gib})

	// Backups: a nightly job to the NAS for the important guests, last night's backups, and
	// guests no job covers (the lab VMs).
	s.AddBackupJob(BackupJob{ID: "backup-nightly", Schedule: "02:00", Enabled: true, VMIDs: []int{100, 101, 102, 103, 107, 112, 114}, Storage: "nas", Mode: "snapshot"})
	lastNight := time.Date(now.Year(), now.Month(), now.Day(), 2, 0, 0, 0, now.Location())
	if lastNight.After(now) {
		lastNight = lastNight.Add(-24 * time.Hour)
	}
	for i, id := range []int{100, 101, 102, 103, 107, 112, 114} {
		for d := 0; d < 3; d++ {
			s.AddBackup(Backup{Storage: "nas", VMID: id, Time: lastNight.Add(time.Duration(i)*2*time.Minute - time.Duration(d)*24*time.Hour),
				Size: uint64(2+i) << 30, Notes: "nightly"})
		}
	}

	// The bot role of docs/setup.md (with Pool.Audit) plus every optional feature's role, so
	// the demo shows them all: snapshots, backups (VM.Backup and Datastore.AllocateSpace: without
	// the latter vzdump to a storage is refused and backups are invisible), the guest agent for
	// vm ip (VM.Monitor on the fake's default PVE 8), node power and migration; on "/", for the
	// token and its user.
	s.AddToken(HomeLabTokenID, HomeLabTokenSecret, map[string][]string{
		"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Datastore.AllocateSpace", "Pool.Audit", "VM.Snapshot", "VM.Backup", "VM.Monitor", "Sys.PowerMgmt", "VM.Migrate"},
	})
}
