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
			nil, nil, []string{"root@pam", "could not be read", "Sys.PowerMgmt"}, false},
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
