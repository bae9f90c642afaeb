package commands

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// listedFleet finds guests by VMID or exact name among those visible keeps, like
// pve.Fleet.Find does.
type listedFleet struct {
	fakeFleet
	guests []pve.Guest
}

func (f *listedFleet) Find(_ context.Context, target string, visible func(pve.Guest) bool) (pve.Guest, error) {
	for _, g := range f.guests {
		if (visible == nil || visible(g)) && (strconv.Itoa(g.VMID) == target || g.Name == target) {
			return g, nil
		}
	}
	return pve.Guest{}, &pve.NotFoundError{Target: target}
}

// Which answer each user gets depends on what they may see, and checks run in the order
// that keeps hidden guests hidden: role, lookup among visible guests, access, kind.
func TestLookupOrderKeepsHiddenGuestsHidden(t *testing.T) {
	cfg := config.Default()
	cfg.Users = []config.User{
		{ID: "lisi", Role: "operator", Scope: []string{"tag:lab"}},
		{ID: "boss", Role: "admin", Scope: []string{"tag:lab"}},
		{ID: "root", Role: "admin"},
		{ID: "wangwu", Role: "viewer", Scope: []string{"tag:lab"}},
	}
	f := &listedFleet{guests: []pve.Guest{
		{Cluster: "home", VMID: 101, Name: "truenas", Node: "pve1", Type: "qemu", Tags: []string{"infra"}},
		{Cluster: "home", VMID: 105, Name: "dev-ubuntu", Node: "pve2", Type: "qemu", Tags: []string{"lab"}},
	}}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := New(cfg, Options{Fleet: f, Store: st})
	tests := []struct {
		user, text, want string
	}{
		{"lisi", "ct start 101", "找不到 101"},               // hidden: like a missing guest, no kind
		{"lisi", "vm status 101", "找不到 101"},              //
		{"lisi", "ct start 105", "dev-ubuntu (105) 是虚拟机"}, // visible: the kind is no secret
		{"boss", "ct start 101", "不在你的管理范围内"},             // admin: precise, access before kind
		{"boss", "vm status truenas", "不在你的管理范围内"},        //
		{"root", "ct start 101", "truenas (101) 是虚拟机"},    // admin without a scope: the kind
		{"wangwu", "vm start 101", "只读成员）不能执行“启动”"},       // the role before the lookup
		{"wangwu", "vm start 998", "只读成员）不能执行“启动”"},       //
	}
	for i, tt := range tests {
		t.Run(tt.user+" "+tt.text, func(t *testing.T) {
			reps := d.Handle(context.Background(), chat.Message{ID: "m" + strconv.Itoa(i), User: tt.user, Kind: chat.KindText, Text: tt.text})
			if len(reps) != 1 || !strings.Contains(reps[0].Title, tt.want) {
				t.Errorf("replies = %+v, want one containing %q", reps, tt.want)
			}
		})
	}
}
