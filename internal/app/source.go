package app

import (
	"context"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
)

// sourceReplier sends each reply back to the chat its message came from: the local
// console when the context says so (chat.SourceFrom, set by the inbox and carried into
// command follow-ups), WeCom otherwise. `serve` with server.console uses it as the inbox's
// Replier and the dispatcher's Notify, so a console user's answers never reach WeCom and
// a WeCom user's never stay in the console.
type sourceReplier struct {
	console chat.Replier
	wecom   chat.Replier
}

// Reply routes rep by the context's message source.
func (r sourceReplier) Reply(ctx context.Context, user string, rep chat.Reply) error {
	if chat.SourceFrom(ctx) == console.Source {
		return r.console.Reply(ctx, user, rep)
	}
	return r.wecom.Reply(ctx, user, rep)
}

// withConsole makes the local console `serve` runs beside WeCom (server.console: true)
// and returns the replier that routes between the two. mountConsole serves it.
func (a *App) withConsole(wecom chat.Replier) chat.Replier {
	banner := "本地控制台（与企业微信并行）：真实集群，操作会真正执行"
	if a.cfg.Language == "en" {
		banner = "Local console beside WeCom: real clusters, actions really run"
	}
	a.console = console.New(consoleOptions(a.cfg, a.o, console.Options{Banner: banner}))
	a.console.Attach(a, a.store)
	return sourceReplier{console: a.console, wecom: wecom}
}

// mountConsole serves a.console, if any, at "/" and below of the admin listener (the one
// listener of `bot demo` and `bot console`), never on the public one: behind a TCP tunnel
// or a whole-site proxy a remote client looks local there. The console's own checks
// (loopback peer, loopback Host, no proxy headers) still apply.
func (a *App) mountConsole() {
	r := a.opsRouter()
	if a.console == nil || r == nil {
		return
	}
	r.Handle("/", a.console)
	r.Handle("/*", a.console)
}
