package commands

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// TestSnapshotGolden keeps what a person reads for the snapshot commands, in zh and en: the
// tree, the impact cards of a rollback and a delete, and the refusals. The fake's clock is
// fixed, so ages and times do not move. Rewrite with -update and read the diff.
func TestSnapshotGolden(t *testing.T) {
	for _, lang := range []string{"zh", "en"} {
		t.Run(lang, func(t *testing.T) {
			b := newPVEBench(t, pvetest.Options{}, func(c *config.Config) { c.Language = lang })
			b.pv.AddSnapshot(104, pvetest.Snapshot{Name: "before_upgrade", Parent: "clean_install", Time: b.clk.Now().Add(-3*24*time.Hour - 4*time.Hour)})
			var out bytes.Buffer
			for _, in := range []string{
				"vm snapshots 102",
				"vm snapshots 104",
				"vm rollback 104 clean_install",
				"vm rollback 102 before_2026_11",
				"vm delsnapshot 104 clean_install",
				"vm rollback 104 nope",
				"vm snapshot 105 1st",
				"vm snapshot 105 x1 --ram",
			} {
				out.WriteString("> " + in + "\n" + b.say(t, in) + "\n\n")
			}
			g, _ := b.pv.Guest(104)
			g.Lock = "backup"
			b.pv.AddGuest(g)
			out.WriteString("> vm snapshot 104 (locked by a backup)\n" + b.say(t, "vm snapshot 104") + "\n")
			path := filepath.Join("testdata", "golden", "snapshot_"+lang+".txt")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s differs; got:\n%s", path, out.String())
			}
		})
	}
}

// TestWhoamiInAGroupNamesTheChat: in a smart-bot group, whoami gives the chat id to put in a
// smartbot_chat target.
func TestWhoamiInAGroupNamesTheChat(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	reps := b.d.Handle(context.Background(), chat.Message{ID: "g1", User: "zhangsan", Kind: chat.KindText, Text: "我的权限", Chat: "wrkSFfCgAAxxxxxx"})
	if len(reps) != 1 || !strings.Contains(replyText(reps[0]), `smartbot_chat: "wrkSFfCgAAxxxxxx"`) {
		t.Errorf("whoami in a group = %+v, want the chat id as a target line", reps)
	}
	reps = b.d.Handle(context.Background(), chat.Message{ID: "g2", User: "zhangsan", Kind: chat.KindText, Text: "我的权限"})
	if len(reps) != 1 || strings.Contains(replyText(reps[0]), "smartbot_chat") {
		t.Errorf("whoami in 1:1 = %+v, want no chat line", reps)
	}
}
