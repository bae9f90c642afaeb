package config

import (
	"slices"
	"strings"
)

// Actions are the command names a role may allow; `roles.*.allow` entries must
// be among them. internal/access and internal/commands use the same names.
var Actions = []string{
	"status", "list", "node", "storage", "task",
	"start", "shutdown", "reboot", "suspend", "resume", "stop", "reset",
	"audit", "mute",
}

// PowerActions are the actions that change a guest's state: the only ones
// `confirm` may list, and the ones `read_only` refuses.
var PowerActions = []string{"start", "shutdown", "reboot", "suspend", "resume", "stop", "reset"}

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
	viewer := []string{"status", "list", "node", "storage", "task"}
	operator := append(slices.Clone(viewer), "start", "shutdown", "reboot", "suspend", "resume", "mute")
	return map[string][]string{
		RoleViewer:   viewer,
		RoleOperator: operator,
		RoleAdmin:    slices.Clone(Actions),
	}
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
