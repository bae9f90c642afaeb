package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// botProcess is the bot running as a child process: this test binary re-executed with
// BOT_MAIN_FOR_TEST=1 (see TestMain), so that it can be killed for real.
type botProcess struct {
	cmd  *exec.Cmd
	logs *apptest.LogBuffer
	addr string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startProcess(t *testing.T, cfgPath, addr string) *botProcess {
	t.Helper()
	p := &botProcess{logs: &apptest.LogBuffer{}, addr: addr}
	p.cmd = exec.Command(os.Args[0], "serve", "-config", cfgPath)
	p.cmd.Env = append(os.Environ(), "BOT_MAIN_FOR_TEST=1")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot did not come up: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processEnv starts the fakes and writes a config joining them, for a bot process on
// a free loopback port with a data_dir of its own (kept across restarts).
func processEnv(t *testing.T) (env *apptest.Env, cfgPath, addr string) {
	t.Helper()
	env = apptest.NewEnv(t)
	addr = freeAddr(t)
	cfgPath = env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: t.TempDir(), Listen: addr})
	return env, cfgPath, addr
}

func (p *botProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A bot killed after recording an action as "sending" (its POST in flight) never POSTs
// it again after a restart. Whether PVE went on to act on the orphaned POST depends on
// whether it noticed the dropped connection first; either way the user is told the truth:
// the task's result when the restarted bot finds the task, or that it cannot know.
func TestKilledWhileSendingDoesNotPostAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	tests := []struct {
		name, user, text, path, done string
		acted                        func(env *apptest.Env) bool // whether PVE did what was asked
	}{
		{"shutdown", apptest.Operator, "关机 docker-host", "/nodes/pve2/qemu/104/status/shutdown", "已关机",
			func(env *apptest.Env) bool { g, _ := env.PVE.Guest(104); return g.Status == "stopped" }},
		{"rollback", apptest.Admin, "回滚 docker-host clean_install", "/nodes/pve2/qemu/104/snapshot/clean_install/rollback", "已回滚",
			func(env *apptest.Env) bool { g, _ := env.PVE.Guest(104); return g.Status == "stopped" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { killedWhileSending(t, tt.user, tt.text, tt.path, tt.done, tt.acted) })
	}
}

func killedWhileSending(t *testing.T, user, text, path, done string, acted func(*apptest.Env) bool) {
	env, cfg, addr := processEnv(t)
	a := startProcess(t, cfg, addr)
	send := env.Sender("http://" + addr)
	ctx := context.Background()

	resp, err := send.Text(ctx, user, text)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sent, err := env.WeCom.WaitSent(ctxTimeout(t), 1)
	if err != nil {
		t.Fatalf("no confirmation card: %v\n%s", err, a.logs.String())
	}
	key := sent[0].Card.Buttons[0].Key

	env.PVE.Hang(true) // the POST reaches PVE and never returns
	resp, err = send.CardClick(ctx, user, key, "task", "rc-crash")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the POST to arrive", func() bool { return env.PVE.Count("POST", path) == 1 })
	a.kill(t)
	env.PVE.Hang(false)

	b := startProcess(t, cfg, addr)
	msgs, err := env.WeCom.WaitSent(ctxTimeout(t), 2)
	if err != nil {
		t.Fatalf("the user was not told after the restart: %v\n%s", err, b.logs.String())
	}
	told := apptest.MessageText(msgs[1])
	// Let the restarted bot settle (the resumed click is answered too), then count.
	if _, err := env.WeCom.WaitSent(ctxTimeout(t), 3); err != nil {
		t.Fatalf("the resumed click was not answered: %v\n%s", err, b.logs.String())
	}
	if n := env.PVE.Count("POST", path); n != 1 {
		t.Errorf("POSTs to %s = %d, want 1: the restarted bot sent the action again", path, n)
	}
	switch {
	case strings.Contains(told, "无法确定"):
		if acted(env) {
			t.Errorf("told the outcome is unknown, but PVE did act and the task was not found")
		}
	case strings.Contains(told, done):
		if !acted(env) {
			t.Errorf("told %q, but PVE did not act", done)
		}
	default:
		t.Errorf("after restart the user was told %q; want the task's result or that the bot cannot know", told)
	}
	if !strings.Contains(told, "docker-host") {
		t.Errorf("the message after restart does not name the guest: %q", told)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM exit: %v\n%s", err, b.logs.String())
	}
	env.CheckNoSecrets(t, "bot logs", a.logs.String(), b.logs.String())
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A message whose processing was cut by SIGKILL is answered after the restart.
func TestKilledMidMessageIsAnsweredAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	env, cfg, addr := processEnv(t)
	a := startProcess(t, cfg, addr)
	env.PVE.Hang(true) // "vm list" blocks inside the bot
	resp, err := env.Sender("http://"+addr).Text(context.Background(), apptest.Viewer, "vm list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
	waitFor(t, "the bot to ask PVE", func() bool { return env.PVE.Count("GET", "/cluster/resources") > 0 })
	a.kill(t)
	if n := len(env.WeCom.Sent()); n != 0 {
		t.Fatalf("sent %d before the restart, want 0", n)
	}
	env.PVE.Hang(false)

	b := startProcess(t, cfg, addr)
	sent, err := env.WeCom.WaitSent(ctxTimeout(t), 1)
	if err != nil {
		t.Fatalf("the interrupted message was not answered after the restart: %v\n%s", err, b.logs.String())
	}
	if text := apptest.MessageText(sent[0]); !strings.Contains(text, "homeassistant") {
		t.Errorf("answer after restart = %q, want the guest list", text)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	if n := len(env.WeCom.Sent()); n != 1 {
		t.Errorf("sent %d, want exactly one answer", n)
	}
}

// serve on a data_dir it cannot write exits 1 with a clear message, before binding
// anything. CI runs as root, which ignores permission bits, so the bot runs as nobody.
func TestReadOnlyDataDirIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs the bot as nobody, which needs root")
	}
	env := apptest.NewEnv(t)
	base, err := os.MkdirTemp("", "bot-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dataDir := filepath.Join(base, "data")
	if err := os.Mkdir(dataDir, 0o555); err != nil {
		t.Fatal(err)
	}
	// nobody must be able to reach the binary and read the config.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "bot.test")
	if err := copyExecutable(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(base, "config.yaml")
	if err := os.WriteFile(cfg, []byte(env.Config(apptest.ConfigOptions{DataDir: dataDir, Listen: freeAddr(t)})), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", cfg)
	cmd.Env = append(os.Environ(), "BOT_MAIN_FOR_TEST=1", "GORACE=atexit_sleep_ms=0")
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want exit 1, got %v: %s", err, out)
	}
	if ee.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", ee.ExitCode())
	}
	if want := "data_dir " + dataDir + " is not writable"; !strings.Contains(string(out), want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "panic") {
		t.Errorf("the bot panicked:\n%s", out)
	}
}

func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// Killed in the middle of a burst: after the restart every acknowledged message is
// answered. A message whose reply went out just before the kill, but whose "done" was not
// yet recorded, is answered again (at least once, never lost); those are few and counted.
func TestKilledUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	// 40 messages a member within seconds: more than WeCom's 30 a minute, which the bot
	// would hold back for a minute. The point here is durability: both limits off.
	env := apptest.NewEnv(t, wecomtest.WithoutMemberLimit())
	addr := freeAddr(t)
	cfg := env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: t.TempDir(), Listen: addr, PerMember: "0"})
	a := startProcess(t, cfg, addr)
	send := env.Sender("http://" + addr)
	users := []string{apptest.Admin, apptest.Operator, apptest.ScopedOp, apptest.Viewer, apptest.FamilyMember}

	const n = 200
	acked := map[string]int{} // user -> acknowledged messages
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		if i == n/2 {
			wg.Wait()
			a.kill(t) // half of them acknowledged, many still being answered
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := users[i%len(users)]
			resp, err := send.Text(context.Background(), u, "帮助")
			if err != nil {
				return // the bot is down: WeCom would retry; this one was never acknowledged
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				acked[u]++
				mu.Unlock()
			}
		}()
		if i == n/2 {
			wg.Wait()
			startProcess(t, cfg, addr) // restart on the same data_dir
		}
	}
	wg.Wait()
	total := 0
	for _, c := range acked {
		total += c
	}
	if total < n/2 {
		t.Fatalf("only %d of %d messages acknowledged", total, n)
	}
	waitFor(t, "every acknowledged message to be answered", func() bool {
		per := map[string]int{}
		for _, m := range env.WeCom.Sent() {
			per[strings.Join(m.ToUser, "")]++
		}
		for u, c := range acked {
			if per[u] < c {
				return false
			}
		}
		return true
	})
	extra := len(env.WeCom.Sent()) - total
	t.Logf("%d acknowledged, %d answers (%d answered twice across the kill)", total, len(env.WeCom.Sent()), extra)
	if extra > n/2 {
		t.Errorf("%d duplicate answers: more than the messages in flight at the kill", extra)
	}
}
