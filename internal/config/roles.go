package config

import (
	"slices"
	"strings"
)

// Actions, PowerActions and what each built-in role allows are generated from the command
// table of internal/commands into actions_gen.go; internal/access and internal/commands use
// the same names.

// The built-in role names.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleViewer   = "viewer"
)

// BuiltinRoles gives the built-in roles and what they allow: viewer reads,
// operator also powers guests on and off cleanly and mutes alerts, admin may
// do everything. A new map each call, so callers may change it.
func BuiltinRoles() map[string][]string {
	out := map[string][]string{}
	for name, actions := range builtinAllow {
		out[name] = slices.Clone(actions)
	}
	return out
}

// RoleAllows gives the actions a role allows: a role defined in `roles`
// overrides a built-in one of the same name. ok is false for an unknown role.
func (c *Config) RoleAllows(role string) (actions []string, ok bool) {
	if r, ok := c.Roles[role]; ok {
		return slices.Clone(r.Allow), true
	}
	a, ok := BuiltinRoles()[role]
	return a, ok
}

// UserByID finds a user by WeCom UserID, case-insensitively as WeCom treats them.
func (c *Config) UserByID(id string) (User, bool) {
	id = strings.TrimSpace(id)
	for _, u := range c.Users {
		if strings.EqualFold(u.ID, id) {
			return u, true
		}
	}
	return User{}, false
}
