package app

import (
	"context"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// NewWithConsole builds a bot whose chat is the local console instead of WeCom (`bot demo`,
// `bot console`): the console is the Replier, so no WeCom client is made and no callback is
// mounted, and the console page is served at "/" of the bot's listener (loopback clients
// only; the console checks each request). co.Users and co.Language default to the config's.
// `serve` with server.console: true mounts a console beside WeCom instead (source.go).
func NewWithConsole(cfg *config.Config, o Options, co console.Options) (*App, *console.Console, error) {
	c := console.New(consoleOptions(cfg, o, co))
	o.Replier = c
	if o.PushToConsole && o.PushSender == nil {
		o.PushSender = consoleSender{c}
		for _, t := range cfg.Targets {
			if t.AppChat != "" {
				c.AddGroup(t.AppChat)
			}
		}
	}
	a, err := New(cfg, o)
	if err != nil {
		return nil, nil, err
	}
	c.Attach(a, a.Store())
	a.console = c
	a.mountConsole()
	return a, c, nil
}

// consoleOptions fills co's unset fields from the config and the app's options.
func consoleOptions(cfg *config.Config, o Options, co console.Options) console.Options {
	if co.Users == nil {
		co.Users = ConsoleUsers(cfg)
	}
	if co.Language == "" {
		co.Language = cfg.Language
	}
	if co.Logger == nil && o.Logger != nil {
		co.Logger = o.Logger.Named("console")
	}
	if co.Now == nil {
		co.Now = o.Now
	}
	return co
}

// ConsoleUsers lists the config's users for the console's identity picker.
func ConsoleUsers(cfg *config.Config) []console.User {
	out := make([]console.User, 0, len(cfg.Users))
	for _, u := range cfg.Users {
		out = append(out, console.User{ID: u.ID, Role: u.Role})
	}
	return out
}

// consoleSender delivers pushes to the console as WeCom would to their targets: a group
// chat's or a robot's messages go to that group's pane, app messages to the users'
// conversations. It stands in for WeCom's API in the demo, so it never fails.
type consoleSender struct{ c *console.Console }

var _ notify.Sender = consoleSender{}

func (s consoleSender) Send(ctx context.Context, m wecom.Message) (wecom.SendResult, error) {
	rep := chat.Reply{Kind: chat.ReplyList, Lines: strings.Split(m.Content, "\n")}
	if m.MsgType == "text" {
		rep.Kind = chat.ReplyText
	}
	for _, u := range m.ToUser {
		_ = s.c.Reply(ctx, u, rep)
	}
	return wecom.SendResult{}, nil
}

func (s consoleSender) AppChatSend(_ context.Context, chatID, msgtype, content string) error {
	s.c.PushGroup(chatID, msgtype, content)
	return nil
}

func (s consoleSender) AppChatGet(_ context.Context, chatID string) (wecom.AppChat, error) {
	return wecom.AppChat{ChatID: chatID}, nil
}

func (s consoleSender) AppChatCreate(context.Context, string, string, string, []string) error {
	return nil
}

// RobotSend shows a robot's messages in one "robot" pane: the webhook key is a secret and
// names nothing a person would recognise.
func (s consoleSender) RobotSend(_ context.Context, _ string, msgtype, content string) error {
	s.c.PushGroup("robot", msgtype, content)
	return nil
}

// SendImage shows a pushed picture in each user's conversation.
func (s consoleSender) SendImage(ctx context.Context, touser []string, data []byte) error {
	for _, u := range touser {
		_ = s.c.Reply(ctx, u, chat.Reply{Kind: chat.ReplyText, Image: &chat.Image{PNG: data}})
	}
	return nil
}

// AppChatSendImage shows a pushed picture in the group's pane.
func (s consoleSender) AppChatSendImage(_ context.Context, chatID string, data []byte) error {
	s.c.PushGroupImage(chatID, data)
	return nil
}

// RobotSendImage shows a robot's picture in the "robot" pane.
func (s consoleSender) RobotSendImage(_ context.Context, _ string, data []byte) error {
	s.c.PushGroupImage("robot", data)
	return nil
}
