package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// child runs this test binary as the bot (TestMain: BOT_MAIN_FOR_TEST=1) to completion.
func child(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BOT_MAIN_FOR_TEST=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestSecondBotOnSameDataDirRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	env := apptest.NewEnv(t)
	data := t.TempDir()
	addr := freeAddr(t)
	first := startProcess(t, env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: data, Listen: addr}), addr)
	second := env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: data, Listen: freeAddr(t)})
	code, out := child(t, "serve", "-config", second)
	if code != 1 {
		t.Errorf("second bot exit = %d, want 1\n%s", code, out)
	}
	if pid := strconv.Itoa(first.cmd.Process.Pid); !strings.Contains(out, pid) {
		t.Errorf("the refusal does not name PID %s of the bot holding data_dir:\n%s", pid, out)
	}
	env.CheckNoSecrets(t, "refusal", out)
}

func TestCheckCommand(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "config.example.yaml")
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("server:\n  listen: nowhere\nwecom:\n  corp_id: wx1\n  agent_id: -3\nusers:\n  - id: a\n    role: nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	// A skew beyond the 48 h dedupe retention would let a callback be replayed.
	skew := filepath.Join(t.TempDir(), "skew.yaml")
	if err := os.WriteFile(skew, []byte(strings.Replace(string(ex), "max_clock_skew: 10m", "max_clock_skew: 72h", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		code int
		want []string
	}{
		{"example", example, 0, []string{"OK"}},
		{"max_clock_skew over 48h", skew, 1, []string{"wecom.max_clock_skew", "at most 48h"}},
		{"broken", broken, 1, []string{"broken.yaml:2: server.listen", "broken.yaml:5: wecom.agent_id", "broken.yaml:8: users[0].role", "wecom.secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := child(t, "check", "-config", tt.path)
			if code != tt.code {
				t.Errorf("exit = %d, want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	env := apptest.NewEnv(t)
	addr := freeAddr(t)
	p := startProcess(t, env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: t.TempDir(), Listen: addr}), addr)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0\n%s", err, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "stopped") {
		t.Errorf("no \"stopped\" log line:\n%s", p.logs.String())
	}
}
