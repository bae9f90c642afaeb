package app_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// PVE hangs: with a short pve.timeout the user gets a timeout answer, and no goroutine is
// left behind once the bot stops.
func TestPVEHangsTimesOutWithoutLeaks(t *testing.T) {
	env := apptest.NewEnv(t)
	before := runtime.NumGoroutine()
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{PVETimeout: "300ms"}})
	env.PVE.Hang(true)
	b.text(apptest.Admin, "vm list")
	contains(t, "hang reply", lastText(b, 1), "超时")
	b.text(apptest.Admin, "启动 dev-ubuntu")
	lastText(b, 2)
	env.PVE.Hang(false)
	b.stop()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d before the bot, %d after it stopped\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PVE answers 595 (node unreachable) to a few task polls: the result still arrives.
// PVE answers 500 to every task poll: the user hears why, and the action was sent once.
func TestPVEErrorsMidTask(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.PVE.FailNext("GET", "/nodes/pve2/tasks/", 595, "No route to host", 2)
	b.text(apptest.Operator, "启动 dev-ubuntu")
	contains(t, "after a 595 blip", lastText(b, 1), "dev-ubuntu", "已启动")

	env.PVE.FailNext("GET", "/nodes/pve2/tasks/", 500, "internal error", 1000)
	b.text(apptest.Operator, "启动 kali-lab")
	reply := lastText(b, 2)
	contains(t, "after 500s", reply, "kali-lab")
	if strings.Contains(reply, "已启动") {
		t.Errorf("reported success although every task poll failed: %q", reply)
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/113/status/start"); n != 1 {
		t.Errorf("start POSTs = %d, want 1", n)
	}
}

// PVE's certificate changes: the pinned fingerprint no longer matches; the user is told
// in words, and nothing is sent to the impostor.
func TestPVECertificateChanges(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "vm list")
	lastText(b, 1)
	env.PVE.RotateCertificate()
	env.PVE.ResetRequests()
	b.text(apptest.Admin, "启动 dev-ubuntu")
	contains(t, "after the certificate changed", lastText(b, 2), "指纹")
	if n := env.PVE.Count("POST", ""); n != 0 {
		t.Errorf("%d POSTs reached a server whose certificate does not match", n)
	}
}

// The access token expires in the middle of a burst: every message is answered once,
// and the token is fetched again once, not once per message.
func TestTokenExpiresDuringBurst(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "help")
	b.waitSent(1)
	const n = 24 // under the 30-a-minute budget of one member
	var wg sync.WaitGroup
	for i := range n {
		if i == n/2 {
			env.WeCom.ExpireTokens()
		}
		wg.Add(1)
		go func() { defer wg.Done(); b.text(apptest.Admin, "help") }()
	}
	wg.Wait()
	b.waitSent(n + 1)
	b.stop()
	if got := len(env.WeCom.Sent()); got != n+1 {
		t.Errorf("sent %d, want %d", got, n+1)
	}
	if got := env.WeCom.TokensIssued(); got != 2 {
		t.Errorf("tokens issued = %d, want 2", got)
	}
}

// The disk fills up while the bot runs: callbacks are refused (WeCom retries them) with a
// clear log line, nothing crashes, and the bot carries on once there is room again.
func TestDiskFillsUpWhileRunning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{DataDir: filepath.Join(dir, "data")}})
	b.text(apptest.Admin, "help")
	b.waitSent(1)

	filler := filepath.Join(dir, "filler")
	// dd stops with "No space left on device": that is the point.
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k").Run()
	refused := 0
	for i := range 20 {
		resp, err := b.send.Text(context.Background(), apptest.Admin, "help "+strings.Repeat("x", i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no callback was refused while the disk was full")
	}
	if !strings.Contains(b.logs.String(), "disk full") {
		t.Errorf("no log line says the disk is full")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	b.text(apptest.Admin, "帮助")
	// Every message taken (the first, those accepted before the disk filled, the last) is
	// answered exactly once; the refused ones are WeCom's to deliver again.
	want := 1 + (20 - refused) + 1
	b.waitSent(want)
	b.stop()
	if got := len(env.WeCom.Sent()); got != want {
		t.Errorf("sent %d, want %d", got, want)
	}
}

// WeCom answers HTTP 500 for longer than the client's own retries: the reply, computed
// once, is delivered once when WeCom is back.
func TestWeComDownForAWhile(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "help")
	b.waitSent(1)
	env.WeCom.FailHTTP("/cgi-bin/message/send", http.StatusInternalServerError, 6)
	b.text(apptest.Operator, "启动 dev-ubuntu")
	contains(t, "late result", lastText(b, 2), "dev-ubuntu", "已启动")
	b.stop()
	if n := len(env.WeCom.Sent()); n != 2 {
		t.Errorf("sent %d, want 2 (each answer once)", n)
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/105/status/start"); n != 1 {
		t.Errorf("start POSTs = %d, want 1", n)
	}
	contains(t, "log", b.logs.String(), "trying again", "reply delivered after all")
}
