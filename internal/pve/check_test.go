package pve

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name        string
		tokenID     string
		perms       string
		privsep     reply
		wantMissing []string
		wantPartial []string
		wantWarn    []string // substrings, each in some warning
		wantFix     bool
	}{
		{"recorded root all privs", "root@pam!bot", readFile(t, "testdata/recorded/7_GET_access_permissions__root_all_privs.json"),
			reply{status: 403, reason: "Permission check failed (/access/users/root@pam, User.Modify)"},
			nil, nil, []string{"root@pam", "could not be read", "Sys.Modify"}, false},
		{"minimal role privsep on", "chatbot@pve!bot", `{"data":{"/":{"VM.Audit":1,"VM.PowerMgmt":1,"Sys.Audit":1,"Datastore.Audit":1,"Pool.Audit":1}}}`,
			ok(`{"data":{"privsep":1,"expire":0}}`), nil, nil, nil, false},
		{"audit only, privsep off", "chatbot@pve!bot", `{"data":{"/vms":{"VM.Audit":1}}}`,
			ok(`{"data":{"privsep":0}}`), []string{"VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"}, nil, []string{"privsep=0"}, true},
		{"some guests only", "chatbot@pve!bot", `{"data":{"/vms/101":{"VM.Audit":1,"VM.PowerMgmt":1},"/nodes/pve1":{"Sys.Audit":1},"/storage":{"Datastore.Audit":1},"/pool":{"Pool.Audit":1}}}`,
			ok(`{"data":{"privsep":1}}`), nil, []string{"guests", "power", "nodes"}, []string{"the user chatbot@pve lacks"}, true},
		{"nothing", "chatbot@pve!bot", `{"data":{}}`, ok(`{"data":{"privsep":1}}`),
			[]string{"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"}, nil, []string{"the user chatbot@pve lacks"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, name, _ := strings.Cut(tt.tokenID, "!")
			rt := newFakeRT(map[string]reply{
				"GET /version":                                 ok(`{"data":{"version":"8.2.4","release":"8.2"}}`),
				"GET /access/permissions":                      ok(tt.perms),
				"GET /access/users/" + user + "/token/" + name: tt.privsep,
			})
			c := fakeClient(t, rt)
			c.tokenID = tt.tokenID
			sc, err := c.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var missing, partial []string
			for _, f := range sc.Features {
				if f.Optional {
					continue
				}
				if !f.OK {
					missing = append(missing, f.Missing...)
					if f.Consequence == "" {
						t.Errorf("feature %s: no consequence", f.Name)
					}
				}
				if f.Partial {
					partial = append(partial, f.Name)
				}
			}
			if !slices.Equal(missing, tt.wantMissing) || !slices.Equal(partial, tt.wantPartial) {
				t.Errorf("got missing %v partial %v, want %v %v", missing, partial, tt.wantMissing, tt.wantPartial)
			}
			all := strings.Join(sc.Warnings, "\n")
			for _, w := range tt.wantWarn {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", all, w)
				}
			}
			if len(tt.wantWarn) == 0 && len(sc.Warnings) > 0 {
				t.Errorf("got warnings %q, want none", sc.Warnings)
			}
			fix := sc.PveumFix(tt.tokenID)
			if (fix != nil) != tt.wantFix {
				t.Fatalf("got fix %q, want fix %v", fix, tt.wantFix)
			}
			if fix != nil {
				joined := strings.Join(fix, "\n")
				wants := []string{`pveum role add ChatBot --privs "VM.Audit VM.PowerMgmt Sys.Audit Datastore.Audit Pool.Audit"`,
					"pveum acl modify / --users '" + user + "' --roles ChatBot"}
				if sc.PrivSep != "off" {
					wants = append(wants, "pveum acl modify / --tokens '"+tt.tokenID+"' --roles ChatBot")
				}
				for _, want := range wants {
					if !strings.Contains(joined, want) {
						t.Errorf("fix %q lacks %q", joined, want)
					}
				}
			}
		})
	}
}

// vm ip needs the agent privilege of the cluster's PVE version; without it the check
// says so with the grant, but the token still passes (the feature is optional).
func TestCheckAgentPrivilege(t *testing.T) {
	base := `"VM.Audit":1,"VM.PowerMgmt":1,"Sys.Audit":1,"Datastore.Audit":1,"Pool.Audit":1`
	tests := []struct {
		name, version, perms string
		wantOK               bool
		wantGrant            string
	}{
		{"8 without", "8.2.4", `{"data":{"/":{` + base + `}}}`, false, `--privs "VM.Monitor"`},
		{"8 with", "8.2.4", `{"data":{"/":{` + base + `,"VM.Monitor":1}}}`, true, ""},
		{"9 with monitor only", "9.1.5", `{"data":{"/":{` + base + `,"VM.Monitor":1}}}`, false, `--privs "VM.GuestAgent.Audit"`},
		{"9 with", "9.1.5", `{"data":{"/":{` + base + `,"VM.GuestAgent.Audit":1}}}`, true, ""},
		{"9 unrestricted", "9.1.5", `{"data":{"/vms":{"VM.GuestAgent.Unrestricted":1},"/":{` + base + `}}}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sc := checkWith(t, tt.version, tt.perms)
			var f Feature
			for _, x := range sc.Features {
				if x.Name == "addresses" {
					f = x
				}
			}
			if !f.Optional || (f.OK && !f.Partial) != tt.wantOK {
				t.Fatalf("addresses feature = %+v, want optional, ok %v", f, tt.wantOK)
			}
			if !sc.OK() || sc.PveumFix(c.tokenID) != nil {
				t.Errorf("a missing agent privilege fails the check (OK %v, fix %q); it is optional", sc.OK(), sc.PveumFix(c.tokenID))
			}
			grant := strings.Join(f.Grant, "\n")
			if tt.wantGrant == "" && grant != "" || !strings.Contains(grant, tt.wantGrant) || (tt.wantGrant != "" && !strings.Contains(grant, "--tokens 'chatbot@pve!bot'")) {
				t.Errorf("grant = %q, want one with %s for the token", grant, tt.wantGrant)
			}
		})
	}
}

// TestCheckSnapshotPrivileges: snapshots and rollback are optional features; a token that may
// roll back but not take snapshots (VM.Snapshot.Rollback alone) is told exactly that.
func TestCheckSnapshotPrivileges(t *testing.T) {
	base := `"VM.Audit":1,"VM.PowerMgmt":1,"Sys.Audit":1,"Datastore.Audit":1,"Pool.Audit":1`
	tests := []struct {
		name, perms         string
		snapshots, rollback bool
	}{
		{"neither", base, false, false},
		{"rollback only", base + `,"VM.Snapshot.Rollback":1`, false, true},
		{"snapshot covers rollback", base + `,"VM.Snapshot":1`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sc := checkWith(t, "8.2.4", `{"data":{"/":{`+tt.perms+`}}}`)
			got := map[string]Feature{}
			for _, f := range sc.Features {
				got[f.Name] = f
			}
			for name, want := range map[string]bool{"snapshots": tt.snapshots, "rollback": tt.rollback} {
				f := got[name]
				if !f.Optional || f.OK != want {
					t.Errorf("%s = %+v, want optional, ok %v", name, f, want)
				}
				if !want && !strings.Contains(strings.Join(f.Grant, "\n"), "--tokens 'chatbot@pve!bot'") {
					t.Errorf("%s: grant lines %q do not name the token", name, f.Grant)
				}
			}
			if !sc.OK() {
				t.Errorf("missing snapshot privileges fail the check; they are optional")
			}
		})
	}
}

// TestCheckBackupPrivileges: VM.Backup and Datastore.AllocateSpace are optional features, each
// with the role that grants it.
func TestCheckBackupPrivileges(t *testing.T) {
	base := `"VM.Audit":1,"VM.PowerMgmt":1,"Sys.Audit":1,"Datastore.Audit":1,"Pool.Audit":1`
	tests := []struct {
		name, perms   string
		vm, datastore bool
	}{
		{"without", `{"data":{"/":{` + base + `}}}`, false, false},
		{"VM.Backup only", `{"data":{"/":{` + base + `,"VM.Backup":1}}}`, true, false},
		{"both", `{"data":{"/":{` + base + `,"VM.Backup":1,"Datastore.AllocateSpace":1}}}`, true, true},
		{"storage by path", `{"data":{"/":{` + base + `,"VM.Backup":1},"/storage/nas":{"Datastore.AllocateSpace":1}}}`, true, false},
	}
	grants := map[string]string{"backups": `pveum role add ChatBotBackup --privs "VM.Backup"`,
		"backup storage": `pveum role add ChatBotBackupStorage --privs "Datastore.AllocateSpace"`}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sc := checkWith(t, "8.3.2", tt.perms)
			got := map[string]Feature{}
			for _, f := range sc.Features {
				got[f.Name] = f
			}
			for name, want := range map[string]bool{"backups": tt.vm, "backup storage": tt.datastore} {
				f, ok := got[name]
				if !ok || !f.Optional || (f.OK && !f.Partial) != want {
					t.Errorf("%s = %+v, want optional, ok %v", name, f, want)
				}
				if !want && !strings.Contains(strings.Join(f.Grant, "\n"), grants[name]) {
					t.Errorf("%s grant = %q, want %s", name, f.Grant, grants[name])
				}
			}
			if !sc.OK() {
				t.Error("missing backup privileges fail the check; they are optional")
			}
		})
	}
}

// checkWith runs Check against a PVE of version whose /access/permissions answers perms,
// for the token chatbot@pve!bot with privilege separation.
func checkWith(t *testing.T, version, perms string) (*Client, SelfCheck) {
	t.Helper()
	c := fakeClient(t, newFakeRT(map[string]reply{
		"GET /version":                            ok(`{"data":{"version":"` + version + `"}}`),
		"GET /access/permissions":                 ok(perms),
		"GET /access/users/chatbot@pve/token/bot": ok(`{"data":{"privsep":1}}`),
	}))
	c.tokenID = "chatbot@pve!bot"
	sc, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c, sc
}
