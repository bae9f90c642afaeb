package config

import (
	"strings"
	"testing"
)

// smartbotOnly is a bot with a smart bot and no self-built app.
const smartbotOnly = `wecom:
  smartbot:
    bot_id: aib-fake-bot
    secret: fake-smartbot-secret
pve:
  clusters:
    - name: home
      base_url: https://192.168.1.10:8006
      token_id: chatbot@pve!bot
      token_secret: 11111111-2222-3333-4444-555555555555
users:
  - id: zhangsan
    role: admin
targets:
  family: {smartbot_chat: wrkSFfCgAAfake}
  me: {smartbot_user: zhangsan}
`

func TestSmartbotOnlyNeedsNoAppKeys(t *testing.T) {
	c := mustParse(t, smartbotOnly)
	sb := c.WeCom.SmartBot
	if sb.Mode != "websocket" || sb.WSURL != "wss://openws.work.weixin.qq.com" || sb.Secret.Value() != "fake-smartbot-secret" {
		t.Errorf("smartbot = %+v", sb)
	}
	if c.WeCom.AppConfigured() {
		t.Error("AppConfigured with no app key")
	}
	if k := c.Targets["family"].Kind(); k != "smartbot_chat" {
		t.Errorf("family kind = %q", k)
	}
	if k := c.Targets["me"].Kind(); k != "smartbot_user" {
		t.Errorf("me kind = %q", k)
	}
}

func TestSmartbotRules(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantKey string
		wantMsg string
	}{
		{"no bot_id", strings.Replace(smartbotOnly, "bot_id: aib-fake-bot", "name: 运维助手", 1), "wecom.smartbot.bot_id", "BotID"},
		{"no secret", strings.Replace(smartbotOnly, "secret: fake-smartbot-secret", "name: x", 1), "wecom.smartbot.secret", "set wecom.smartbot.secret"},
		{"bad mode", strings.Replace(smartbotOnly, "bot_id:", "mode: socket\n    bot_id:", 1), "wecom.smartbot.mode", "websocket or webhook"},
		{"bad ws_url", strings.Replace(smartbotOnly, "bot_id:", "ws_url: https://x\n    bot_id:", 1), "wecom.smartbot.ws_url", "wss://"},
		{"webhook needs token and key", strings.Replace(strings.Replace(smartbotOnly, "bot_id:", "mode: webhook\n    bot_id:", 1), "  family: {smartbot_chat: wrkSFfCgAAfake}\n  me: {smartbot_user: zhangsan}\n", "", 1), "wecom.smartbot.token", "set wecom.smartbot.token"},
		{"webhook cannot push", strings.Replace(smartbotOnly, "bot_id:", "mode: webhook\n    token: fake-token\n    encoding_aes_key: "+fakeAESKey+"\n    bot_id:", 1), "targets.family", "websocket mode"},
		{"users target needs the app", strings.Replace(smartbotOnly, "me: {smartbot_user: zhangsan}", "me: {users: [zhangsan]}", 1), "targets.me", "self-built app"},
		{"both kinds in one target", strings.Replace(smartbotOnly, "me: {smartbot_user: zhangsan}", "me: {smartbot_user: zhangsan, smartbot_chat: x}", 1), "targets.me", "only one"},
		{"an app half set is still checked", strings.Replace(smartbotOnly, "wecom:\n", "wecom:\n  corp_id: ww0123\n", 1), "wecom.agent_id", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, tt.doc, nil)
			for _, p := range ps {
				if p.Key == tt.wantKey && strings.Contains(p.Msg, tt.wantMsg) {
					return
				}
			}
			t.Errorf("no problem %s %q in:\n%v", tt.wantKey, tt.wantMsg, ps)
		})
	}
}

func TestAppAndSmartbotTogether(t *testing.T) {
	doc := strings.Replace(minimal, "wecom:\n", "wecom:\n  smartbot:\n    bot_id: aib-fake-bot\n    secret_file: /nonexistent/secret\n", 1)
	_, ps := parseWith(t, doc, nil)
	found := false
	for _, p := range ps {
		if p.Key == "wecom.smartbot.secret_file" {
			found = true
		} else {
			t.Errorf("unexpected problem %v", p)
		}
	}
	if !found {
		t.Errorf("secret_file not read: %v", ps)
	}
}
