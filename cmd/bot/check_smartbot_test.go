package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

func TestCheckOnlineSmartbot(t *testing.T) {
	const botID, secret = "aib-check-bot", "smartbot-SECRET-check-never-log"
	tests := []struct {
		name     string
		secret   string
		wantCode int
		want     []string
	}{
		{"right secret", secret, 0, []string{"WeCom: smart bot aib-check-bot, long connection", "✔ smart bot aib-check-bot: connected", "disconnected by this check", "every online check passed"}},
		{"wrong secret", "not-the-smartbot-secret", 1, []string{"✘ smart bot aib-check-bot: WeCom refused the subscription", "wecom.smartbot.bot_id and secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := apptest.NewEnv(t)
			fake := wecomtest.NewSmartBot(botID, secret)
			defer fake.Close()
			dir := t.TempDir()
			path := env.WriteConfig(t, dir, apptest.ConfigOptions{DataDir: filepath.Join(dir, "data"), NoApp: true,
				SmartBot: "  smartbot:\n    bot_id: " + botID + "\n    secret: " + tt.secret + "\n    ws_url: " + fake.URL() + "\n"})
			code, out, errOut := runBot(t, "check", "-config", path, "--online", "-timeout", "5s")
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out+errOut, tt.secret) {
				t.Error("the smart bot secret reached the output")
			}
			if strings.Contains(out, "access token") {
				t.Errorf("a bot without an app checked the app:\n%s", out)
			}
		})
	}
}
