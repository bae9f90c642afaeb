package app_test

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
)

const uploadPath = "/cgi-bin/media/upload"

func rrdRequests(env *apptest.Env, path string) []string {
	var tfs []string
	for _, r := range env.PVE.Requests() {
		if r.Method == "GET" && r.Path == path {
			tfs = append(tfs, r.Query.Get("timeframe"))
		}
	}
	return tfs
}

// `vm graph 101`: one upload, one image message to that user with the uploaded media_id,
// then the text line with the reading; the history asked for is the day's.
func TestGuestGraphSendsPictureThenReading(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "vm graph 101")
	sent := b.waitSent(2)
	ups := env.WeCom.Uploads()
	if len(ups) != 1 {
		t.Fatalf("uploads = %d, want 1", len(ups))
	}
	img := sent[0]
	if img.MsgType != "image" || img.MediaID != ups[0].MediaID || len(img.ToUser) != 1 || img.ToUser[0] != apptest.Viewer {
		t.Fatalf("first message = %+v, want the image to %s with media_id %s", img, apptest.Viewer, ups[0].MediaID)
	}
	pic, err := png.Decode(bytes.NewReader(img.Image))
	if err != nil {
		t.Fatalf("the picture is not a PNG: %v", err)
	}
	if w := pic.Bounds().Dx(); w != 1000 {
		t.Errorf("picture width %d, want 1000", w)
	}
	contains(t, "reading", apptest.MessageText(sent[1]), "truenas", "资源图", "内存", "CPU")
	if tfs := rrdRequests(env, "/nodes/pve1/qemu/101/rrddata"); len(tfs) != 1 || tfs[0] != "day" {
		t.Errorf("rrddata requests = %v, want one for day", tfs)
	}
}

// A user outside the guest's scope gets "not found", and PVE is not asked for its history.
func TestGraphOutsideScopeIsRefusedWithoutHistory(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.ScopedOp, "图表 truenas")
	contains(t, "refusal", lastText(b, 1), "truenas")
	if n := env.PVE.Count("GET", "/nodes/pve1/qemu/101/rrddata"); n != 0 {
		t.Errorf("rrddata requests = %d, want 0", n)
	}
	if n := len(env.WeCom.Uploads()); n != 0 {
		t.Errorf("uploads = %d, want 0", n)
	}
	if m := b.waitSent(1)[0]; m.MsgType == "image" {
		t.Error("an image went to a user outside the scope")
	}
}

func TestNodeGraphWeekInTextMode(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{ReplyMode: "text"}})
	b.text(apptest.Admin, "节点图表 pve1 周")
	sent := b.waitSent(2)
	if sent[0].MsgType != "image" || sent[1].MsgType != "text" {
		t.Fatalf("sent %s then %s, want image then text (text mode still sends the picture)", sent[0].MsgType, sent[1].MsgType)
	}
	contains(t, "reading", sent[1].Content, "pve1", "7 天")
	if tfs := rrdRequests(env, "/nodes/pve1/rrddata"); len(tfs) != 1 || tfs[0] != "week" {
		t.Errorf("rrddata requests = %v, want one for week", tfs)
	}
}

// When the upload fails, the reading still goes, saying the picture could not be sent.
func TestGraphUploadFailureSendsReadingAlone(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.WeCom.FailNext(uploadPath, 45009, 1)
	b.text(apptest.Admin, "storage graph local pve2")
	text := lastText(b, 1)
	contains(t, "fallback", text, "图片未能发送", "local", "存储")
	for _, m := range env.WeCom.Sent() {
		if m.MsgType == "image" {
			t.Fatal("an image was sent although the upload failed")
		}
	}
	if tfs := rrdRequests(env, "/nodes/pve2/storage/local/rrddata"); len(tfs) != 1 || tfs[0] != "month" {
		t.Errorf("rrddata requests = %v, want one for month", tfs)
	}
}

// A summary with `chart: true` sends one picture of the cluster's day before its text, to
// a group chat (by media_id) and a robot (by base64); a schedule without it sends none.
func TestSummaryChartE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 0, 40, 0, 0, time.UTC))
	startPushBot(t, env, clock, pushTargets+`schedules:
  - name: morning
    cron: "5 9 * * *"
    report: summary
    chart: true
    to: [ops-group, robot]
`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	waitChat(ctx, t, env)
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("scheduler did not start")
	}
	clock.Set(time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC))
	sent, err := env.WeCom.WaitSent(ctx, 4)
	if err != nil {
		t.Fatalf("waiting for 4 messages: %v (have %d)", err, len(env.WeCom.Sent()))
	}
	byVia := map[string][]string{}
	for _, m := range sent {
		byVia[m.Via] = append(byVia[m.Via], m.MsgType)
		if m.MsgType == "image" {
			if _, err := png.Decode(bytes.NewReader(m.Image)); err != nil {
				t.Errorf("%s picture: %v", m.Via, err)
			}
		}
	}
	for _, via := range []string{"appchat", "robot"} {
		if got := strings.Join(byVia[via], ","); got != "image,markdown" {
			t.Errorf("%s got %s, want image,markdown", via, got)
		}
	}
	if n := len(env.WeCom.Uploads()); n != 1 {
		t.Errorf("uploads = %d, want 1 (the robot takes base64)", n)
	}
	if tfs := rrdRequests(env, "/nodes/pve1/rrddata"); len(tfs) != 1 || tfs[0] != "day" {
		t.Errorf("pve1 history requests = %v, want one day", tfs)
	}
}

// A word that is no period gets a clear answer, and PVE is not asked.
func TestGraphBadPeriod(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "图表 102 昨天")
	contains(t, "bad period", lastText(b, 1), "昨天", "小时/天/周/月/年")
	if n := env.PVE.Count("GET", "/nodes/pve1/qemu/102/rrddata"); n != 0 {
		t.Errorf("rrddata requests = %d, want 0", n)
	}
}

// A role without the graph action is refused before PVE is asked anything.
func TestGraphRefusedByRoleWithoutPVERequest(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	before := len(env.PVE.Requests())
	b.text(apptest.FamilyMember, "vm graph 101")
	text := lastText(b, 1)
	// (the start-up token self-check may still be running: only what a graph reads counts)
	for _, r := range env.PVE.Requests()[before:] {
		if strings.HasSuffix(r.Path, "/rrddata") || strings.HasPrefix(r.Path, "/cluster/resources") || strings.HasPrefix(r.Path, "/nodes/") {
			t.Errorf("PVE request %s %s for a refused graph (%q)", r.Method, r.Path, text)
		}
	}
	if n := len(env.WeCom.Uploads()); n != 0 {
		t.Errorf("uploads = %d, want 0", n)
	}
}
