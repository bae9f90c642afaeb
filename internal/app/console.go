package app

import (
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
)

// NewWithConsole builds a bot whose chat is the local console instead of WeCom (`bot demo`,
// `bot console`): the console is the Replier, so no WeCom client is made and no callback is
// mounted, and the console page is served at "/" of the bot's listener (loopback clients
// only; the console checks each request). co.Users and co.Language default to the config's.
// `serve` with server.console: true mounts a console beside WeCom instead (source.go).
func NewWithConsole(cfg *config.Config, o Options, co console.Options) (*App, *console.Console, error) {
	c := console.New(consoleOptions(cfg, o, co))
	o.Replier = c
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
