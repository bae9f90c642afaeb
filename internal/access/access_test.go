package access

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// The expectation table, written out independently of config.BuiltinRoles: what each
// built-in role may do.
var wantRoles = map[string]string{
	"viewer":   "status list node storage graph task snapshots backups",
	"operator": "status list node storage graph task start shutdown reboot suspend resume snapshots snapshot backups backup mute",
	"admin":    "status list node node_power storage graph task start shutdown reboot suspend resume stop reset migrate snapshots snapshot rollback delete_snapshot audit backups backup mute",
}

// powerActions change PVE: read_only refuses them and protected guests reserve them to admins.
var powerActions = map[string]bool{"start": true, "shutdown": true, "reboot": true, "suspend": true, "resume": true, "stop": true, "reset": true,
	"snapshot": true, "rollback": true, "delete_snapshot": true, "node_power": true, "migrate": true, "backup": true}

// guest subjects: in scope (100-199) or not, protected (150, 250) or not.
func subject(inScope, protected bool) selector.Subject {
	id := 151
	if protected {
		id = 150
	}
	if !inScope {
		id += 100
	}
	return selector.Subject{Cluster: "home", VMID: id, Name: fmt.Sprintf("g%d", id), Node: "pve1"}
}

func matrixConfig(readOnly bool) *config.Config {
	return &config.Config{
		ReadOnly: readOnly,
		Users: []config.User{
			{ID: "Viewer", Role: "viewer", Scope: []string{"100-199"}},
			{ID: "operator", Role: "operator", Scope: []string{"100-199"}},
			{ID: "ADMIN", Role: "admin", Scope: []string{"home/100-199"}},
		},
		PVE: config.PVE{Clusters: []config.Cluster{{Name: "home", Protected: []string{"150", "250"}}}},
	}
}

// TestDecideMatrix walks built-in roles × every action × in/out of scope × protected/not ×
// read_only, each with and without a guest where that makes sense.
func TestDecideMatrix(t *testing.T) {
	if got, want := len(config.Actions), 23; got != want {
		t.Fatalf("config.Actions has %d actions, want %d: update wantRoles", got, want)
	}
	n := 0
	for _, readOnly := range []bool{false, true} {
		p := NewPolicy(matrixConfig(readOnly))
		for role, allowed := range wantRoles {
			user := map[string]string{"viewer": "viewer", "operator": "OPERATOR", "admin": "admin"}[role]
			for _, action := range config.Actions {
				roleOK := strings.Contains(" "+allowed+" ", " "+action+" ")
				for _, inScope := range []bool{true, false} {
					for _, prot := range []bool{true, false} {
						g := subject(inScope, prot)
						want := ReasonOK
						switch {
						case !roleOK:
							want = ReasonNoRole
						case !inScope:
							want = ReasonOutOfScope
						case powerActions[action] && readOnly:
							want = ReasonReadOnly
						case powerActions[action] && prot && role != "admin":
							want = ReasonProtected
						}
						name := fmt.Sprintf("ro=%v/%s/%s/scope=%v/prot=%v", readOnly, role, action, inScope, prot)
						t.Run(name, func(t *testing.T) {
							d := p.Decide(user, action, &g)
							if d.Reason != want || d.Allowed != (want == ReasonOK) {
								t.Errorf("Decide = %+v, want reason %s", d, want)
							}
							if d.Role != role || d.Action != action || d.User != user {
								t.Errorf("Decide = %+v, want role %s, action %s, user %s", d, role, action, user)
							}
						})
						n++
					}
				}
				// without a guest: non-guest reads pass on the role alone, power actions are
				// refused (their scope cannot be checked).
				want := ReasonOK
				switch {
				case !roleOK:
					want = ReasonNoRole
				case powerActions[action]:
					want = ReasonOutOfScope
				}
				t.Run(fmt.Sprintf("ro=%v/%s/%s/no-guest", readOnly, role, action), func(t *testing.T) {
					if d := p.Decide(user, action, nil); d.Reason != want || d.Allowed != (want == ReasonOK) {
						t.Errorf("Decide(nil guest) = %+v, want reason %s", d, want)
					}
				})
				n++
			}
		}
	}
	if want := 2 * 3 * 23 * 5; n != want {
		t.Errorf("matrix ran %d cases, want %d", n, want)
	}
}

func TestDecideOthers(t *testing.T) {
	cfg := &config.Config{
		Users: []config.User{
			{ID: "zhangsan", Role: "admin"},
			{ID: "lisi", Role: "operator", Scope: []string{"100-199", "pool:media", "tag:lab", "node:pve2", "home/*"}},
			{ID: "family1", Role: "family"},
			{ID: "weak", Role: "viewer"}, // built-in viewer overridden below
			{ID: "ghost", Role: "nosuchrole"},
			{ID: "broken", Role: "admin", Scope: []string{"bad:selector"}},
			{ID: "LiSi", Role: "admin"}, // duplicate of lisi: must not widen it
			{ID: "", Role: "admin"},
		},
		Roles: map[string]config.Role{
			"family": {Allow: []string{"status", "list", "start", "shutdown"}},
			"Viewer": {Allow: []string{"status"}},
		},
		PVE: config.PVE{Clusters: []config.Cluster{
			{Name: "home", Protected: []string{"name:nas"}},
			{Name: "lab", Protected: []string{"not a selector"}},
			{Name: "office"},
		}},
	}
	p := NewPolicy(cfg)
	home := func(id int) *selector.Subject { return &selector.Subject{Cluster: "home", VMID: id, Name: "vm"} }
	other := func(s selector.Subject) *selector.Subject {
		if s.Cluster == "" {
			s.Cluster = "office"
		}
		return &s
	}
	tests := []struct {
		name, user, action string
		g                  *selector.Subject
		want               Reason
	}{
		{"admin everything", "zhangsan", "reset", other(selector.Subject{VMID: 5}), ReasonOK},
		{"user id case-insensitive", "ZhangSan", "audit", nil, ReasonOK},
		{"user id spaces", " zhangsan ", "audit", nil, ReasonOK},
		{"unknown user", "zhaoliu", "list", nil, ReasonUnknownUser},
		{"unknown user help", "zhaoliu", "", nil, ReasonUnknownUser},
		{"empty user", "", "", nil, ReasonUnknownUser},
		{"help for known user", "weak", "", nil, ReasonOK},
		{"range", "lisi", "start", other(selector.Subject{VMID: 150}), ReasonOK},
		{"pool", "lisi", "start", other(selector.Subject{VMID: 5, Pool: "Media"}), ReasonOK},
		{"tag", "lisi", "start", other(selector.Subject{VMID: 5, Tags: []string{"x", "lab"}}), ReasonOK},
		{"node", "lisi", "start", other(selector.Subject{VMID: 5, Node: "pve2"}), ReasonOK},
		{"cluster wildcard", "lisi", "start", home(5), ReasonOK},
		{"out of every selector", "lisi", "start", other(selector.Subject{VMID: 5, Node: "pve1"}), ReasonOutOfScope},
		{"out of scope read", "lisi", "list", other(selector.Subject{VMID: 5}), ReasonOutOfScope},
		{"duplicate does not widen", "lisi", "reset", home(5), ReasonNoRole},
		{"custom role", "family1", "shutdown", home(5), ReasonOK},
		{"custom role lacks", "family1", "reboot", home(5), ReasonNoRole},
		{"custom role lacks read", "family1", "node", nil, ReasonNoRole},
		{"overridden builtin", "weak", "list", nil, ReasonNoRole},
		{"overridden builtin keeps", "weak", "status", nil, ReasonOK},
		{"unknown role", "ghost", "status", nil, ReasonNoRole},
		{"unknown action", "zhangsan", "format-disk", nil, ReasonNoRole},
		{"bad scope selects nothing", "broken", "list", home(5), ReasonOutOfScope},
		{"bad scope still non-guest", "broken", "status", nil, ReasonOK},
		{"protected by name", "family1", "start", &selector.Subject{Cluster: "home", VMID: 7, Name: "NAS"}, ReasonProtected},
		{"protected other cluster not", "family1", "start", &selector.Subject{Cluster: "office", VMID: 7, Name: "nas"}, ReasonOK},
		{"bad protected list protects all", "family1", "start", &selector.Subject{Cluster: "lab", VMID: 7}, ReasonProtected},
		{"unknown cluster checks all lists", "family1", "start", &selector.Subject{Cluster: "", VMID: 7, Name: "nas"}, ReasonProtected},
		{"admin may touch protected", "zhangsan", "stop", &selector.Subject{Cluster: "home", VMID: 7, Name: "nas"}, ReasonOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.user, tt.action, tt.g)
			if d.Reason != tt.want || d.Allowed != (tt.want == ReasonOK) {
				t.Errorf("Decide(%q, %q) = %+v, want reason %s", tt.user, tt.action, d, tt.want)
			}
		})
	}
}

func TestNilConfigDeniesAll(t *testing.T) {
	p := NewPolicy(nil)
	if d := p.Decide("anyone", "status", nil); d.Allowed || d.Reason != ReasonUnknownUser {
		t.Errorf("Decide = %+v, want unknown user", d)
	}
	if p.Visible("anyone", selector.Subject{VMID: 1}) {
		t.Error("Visible = true, want false")
	}
}

func TestParsedSelectorsWin(t *testing.T) {
	scope, err := selector.ParseList([]string{"200"})
	if err != nil {
		t.Fatal(err)
	}
	prot, err := selector.ParseList([]string{"200"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Users: []config.User{{ID: "u", Role: "operator", Scope: []string{"100"}, ScopeSel: scope}},
		PVE:   config.PVE{Clusters: []config.Cluster{{Name: "c", Protected: []string{"100"}, ProtectedSel: prot}}},
	}
	p := NewPolicy(cfg)
	g := selector.Subject{Cluster: "c", VMID: 200}
	if got, want := p.Decide("u", "start", &g).Reason, ReasonProtected; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !p.Visible("u", g) || p.Visible("u", selector.Subject{Cluster: "c", VMID: 100}) {
		t.Error("Visible: want ScopeSel (200) to be used, not Scope (100)")
	}
}

func TestVisible(t *testing.T) {
	p := NewPolicy(&config.Config{Users: []config.User{
		{ID: "all", Role: "viewer"},
		{ID: "some", Role: "viewer", Scope: []string{"tag:lab", "home/300-310"}},
	}})
	tests := []struct {
		user string
		g    selector.Subject
		want bool
	}{
		{"all", selector.Subject{Cluster: "x", VMID: 999}, true},
		{"ALL", selector.Subject{VMID: 1}, true},
		{"some", selector.Subject{Cluster: "home", VMID: 305}, true},
		{"some", selector.Subject{Cluster: "lab", VMID: 305}, false},
		{"some", selector.Subject{Cluster: "lab", VMID: 1, Tags: []string{"LAB"}}, true},
		{"some", selector.Subject{Cluster: "home", VMID: 1}, false},
		{"nobody", selector.Subject{VMID: 305}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%+v", tt.user, tt.g), func(t *testing.T) {
			if got := p.Visible(tt.user, tt.g); got != tt.want {
				t.Errorf("Visible = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUserAndAllows(t *testing.T) {
	p := NewPolicy(&config.Config{Users: []config.User{{ID: "ZhangSan", Role: "Operator"}}})
	u, ok := p.User("zhangsan")
	if !ok || u.ID != "ZhangSan" || u.Role != "operator" || u.Scope != nil {
		t.Errorf("User = %+v, %v; want ZhangSan/operator/nil scope", u, ok)
	}
	if !p.Allows("ZHANGSAN", "start") || p.Allows("zhangsan", "stop") || p.Allows("x", "list") {
		t.Error("Allows: want start yes, stop no, unknown user no")
	}
	if !IsPower("reset") || IsPower("list") || IsPower("") {
		t.Error("IsPower wrong")
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		d      Decision
		zh, en string
	}{
		{Decision{Allowed: true, Reason: ReasonOK}, "", ""},
		{Decision{Reason: ReasonUnknownUser, User: "ZhaoLiu"},
			"你还不能使用这个机器人。你的 UserID 是 ZhaoLiu，请把它发给管理员添加",
			"You may not use this bot yet. Your UserID is ZhaoLiu: send it to an admin to be added"},
		{Decision{Reason: ReasonNoRole, Role: "viewer", Action: "start", Missing: "start"},
			"你的角色 viewer 没有 start 权限", "Your role viewer lacks the start right"},
		{Decision{Reason: ReasonOutOfScope}, "这台虚拟机不在你的管理范围内", "That guest is outside your scope"},
		{Decision{Reason: ReasonProtected, Role: "operator", Action: "stop"},
			"这台虚拟机受保护，只有 admin 角色可以执行 stop", "That guest is protected: only the admin role may stop it"},
		{Decision{Reason: ReasonReadOnly, Action: "start"}, "机器人处于只读模式，不能执行 start", "The bot is in read-only mode: start is refused"},
	}
	for _, tt := range tests {
		t.Run(string(tt.d.Reason), func(t *testing.T) {
			for _, c := range []struct{ lang, want string }{{"zh", tt.zh}, {"", tt.zh}, {"en", tt.en}, {"en-US", tt.en}} {
				if got := tt.d.Message(c.lang); got != c.want {
					t.Errorf("Message(%q) = %q, want %q", c.lang, got, c.want)
				}
			}
		})
	}
	// a real refusal carries what the message needs
	p := NewPolicy(&config.Config{Users: []config.User{{ID: "wangwu", Role: "viewer"}}})
	g := selector.Subject{Cluster: "home", VMID: 101}
	if got, want := p.Decide("wangwu", "start", &g).Message("zh"), "你的角色 viewer 没有 start 权限"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := p.Decide("Zhaoliu", "list", nil).Message("en"), "Your UserID is Zhaoliu"; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
}

func BenchmarkDecideAndVisible300(b *testing.B) {
	p := NewPolicy(&config.Config{
		Users: []config.User{{ID: "lisi", Role: "operator", Scope: []string{"100-199", "pool:media", "tag:lab", "node:pve2", "home/*"}}},
		PVE:   config.PVE{Clusters: []config.Cluster{{Name: "home", Protected: []string{"name:nas", "100"}}}},
	})
	gs := make([]selector.Subject, 300)
	for i := range gs {
		gs[i] = selector.Subject{Cluster: "lab", VMID: 100 + i*2, Name: fmt.Sprintf("g%d", i), Node: "pve1", Tags: []string{"a", "b"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range gs {
			if p.Visible("lisi", gs[i]) {
				_ = p.Decide("lisi", "start", &gs[i])
			}
		}
	}
}
