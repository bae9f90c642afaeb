// Package access decides who may do what to which guest: roles × actions × scope, protected
// guests and read-only mode. It is pure (no I/O, no logging, no clock) so that the whole
// decision matrix can be table-tested, and it denies by default: an unknown user, an
// unknown role, an unknown action or a guest outside the scope is refused.
package access

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// Policy is the access part of a config, built once per (re)load by NewPolicy. Treat it as
// read-only after that: it is shared by concurrent commands.
type Policy struct {
	Users map[string]User     // key: lower-case WeCom UserID
	Roles map[string][]string // lower-case role name -> allowed actions
	// ProtectedSel is each cluster's `protected` list (key: lower-case cluster name).
	// (Not named Protected: that is the method asking whether one guest is protected.)
	ProtectedSel map[string]selector.List
	ReadOnly     bool
}

// User is one configured WeCom member.
type User struct {
	ID   string // as written in the config
	Role string // lower-case
	// Scope is nil for "every guest". A scope that fails to parse becomes an empty non-nil
	// list, which selects nothing.
	Scope selector.List
}

// Reason says why a Decision is what it is. The values are stable: they go into the audit
// log.
type Reason string

// The reasons.
const (
	ReasonOK          Reason = "ok"
	ReasonUnknownUser Reason = "unknown_user" // not in users
	ReasonNoRole      Reason = "no_role"      // the user's role does not allow the action
	ReasonOutOfScope  Reason = "out_of_scope" // the guest is outside the user's scope
	ReasonProtected   Reason = "protected"    // power action on a protected guest by a non-admin
	ReasonReadOnly    Reason = "read_only"    // power action while read_only is on
)

// Decision is the answer to one question "may this user do this?".
type Decision struct {
	Allowed bool
	Reason  Reason
	// Missing names what the user lacks: the action for ReasonNoRole and ReasonReadOnly,
	// "admin" for ReasonProtected, "scope" for ReasonOutOfScope.
	Missing string
	User    string // the UserID asked about, as sent
	Role    string
	Action  string
}

// NewPolicy builds the policy of cfg: the built-in roles (config.BuiltinRoles) overridden or
// extended by cfg.Roles; users keyed case-insensitively; scopes and protected lists from the
// parsed selectors, parsing the raw strings when the config was not run through Load. A
// selector list that does not parse fails closed: a scope selects nothing, a protected list
// protects everything. A nil cfg gives a policy that refuses everyone.
func NewPolicy(cfg *config.Config) Policy {
	p := Policy{Users: map[string]User{}, Roles: map[string][]string{}, ProtectedSel: map[string]selector.List{}}
	for name, actions := range config.BuiltinRoles() {
		p.Roles[strings.ToLower(name)] = lowerAll(actions)
	}
	if cfg == nil {
		return p
	}
	p.ReadOnly = cfg.ReadOnly
	for name, r := range cfg.Roles {
		p.Roles[strings.ToLower(strings.TrimSpace(name))] = lowerAll(r.Allow)
	}
	for _, u := range cfg.Users {
		key := strings.ToLower(strings.TrimSpace(u.ID))
		if key == "" {
			continue
		}
		if _, dup := p.Users[key]; dup {
			continue // config validation rejects duplicates; never let a later entry widen the first
		}
		nu := User{ID: strings.TrimSpace(u.ID), Role: strings.ToLower(strings.TrimSpace(u.Role))}
		switch {
		case len(u.ScopeSel) > 0:
			nu.Scope = slices.Clone(u.ScopeSel)
		case len(u.Scope) > 0:
			l, err := selector.ParseList(u.Scope)
			if err != nil {
				l = selector.List{}
			}
			nu.Scope = l
		}
		p.Users[key] = nu
	}
	everything, _ := selector.ParseList([]string{"*"})
	for _, c := range cfg.PVE.Clusters {
		key := strings.ToLower(strings.TrimSpace(c.Name))
		var l selector.List
		switch {
		case len(c.ProtectedSel) > 0:
			l = slices.Clone(c.ProtectedSel)
		case len(c.Protected) > 0:
			var err error
			if l, err = selector.ParseList(c.Protected); err != nil {
				l = everything
			}
		}
		p.ProtectedSel[key] = append(p.ProtectedSel[key], l...)
	}
	return p
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, a := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(a)))
	}
	return out
}

// User finds a configured user by WeCom UserID, case-insensitively (WeCom treats UserIDs so).
func (p Policy) User(id string) (User, bool) {
	u, ok := p.Users[strings.ToLower(strings.TrimSpace(id))]
	return u, ok && strings.TrimSpace(id) != ""
}

// IsPower reports whether action changes a guest's power state (config.PowerActions).
func IsPower(action string) bool { return slices.Contains(config.PowerActions, action) }

// Allows reports whether the user's role allows action, regardless of any guest.
func (p Policy) Allows(userID, action string) bool {
	u, ok := p.User(userID)
	return ok && slices.Contains(p.Roles[u.Role], action)
}

// Decide answers whether userID may do action (a command name: "list", "start"...) to g.
// g is nil for actions that concern no single guest (status, node, storage, task, audit,
// a whole list). The empty action (help, confirm, cancel) is allowed to every known user;
// a power action without a guest is refused, since its scope cannot be checked. Checks in
// order: known user, role, scope, read_only, protected.
func (p Policy) Decide(userID, action string, g *selector.Subject) Decision {
	d := Decision{User: userID, Action: action}
	u, ok := p.User(userID)
	if !ok {
		d.Reason = ReasonUnknownUser
		return d
	}
	d.Role = u.Role
	if action == "" {
		d.Allowed, d.Reason = true, ReasonOK
		return d
	}
	if !slices.Contains(p.Roles[u.Role], action) {
		d.Reason, d.Missing = ReasonNoRole, action
		return d
	}
	power := IsPower(action)
	if (g == nil && power) || (g != nil && !u.inScope(*g)) {
		d.Reason, d.Missing = ReasonOutOfScope, "scope"
		return d
	}
	if power && p.ReadOnly {
		d.Reason, d.Missing = ReasonReadOnly, action
		return d
	}
	if power && p.Protected(*g) && u.Role != config.RoleAdmin {
		d.Reason, d.Missing = ReasonProtected, config.RoleAdmin
		return d
	}
	d.Allowed, d.Reason = true, ReasonOK
	return d
}

func (u User) inScope(g selector.Subject) bool { return u.Scope == nil || u.Scope.Match(g) }

// Visible reports whether g is in userID's scope, so that lists show only those guests and
// a guest outside the scope reads like one that does not exist.
func (p Policy) Visible(userID string, g selector.Subject) bool {
	u, ok := p.User(userID)
	return ok && u.inScope(g)
}

// Protected reports whether g is protected in its cluster. A guest of a cluster the policy
// does not know is checked against every cluster's list (fail closed).
// A guest whose pool could not be read counts as protected when the list names a pool
// (fail safe).
func (p Policy) Protected(g selector.Subject) bool {
	match := func(l selector.List) bool { return l.Match(g) || (g.PoolUnknown && l.NamesPool()) }
	if l, ok := p.ProtectedSel[strings.ToLower(strings.TrimSpace(g.Cluster))]; ok {
		return match(l)
	}
	for _, l := range p.ProtectedSel {
		if match(l) {
			return true
		}
	}
	return false
}

// Message is the one sentence telling the user what is missing, in lang ("en..." for
// English, anything else Chinese); "" when the decision allows. An unknown user is told
// their UserID so that they can ask an admin to add them.
func (d Decision) Message(lang string) string {
	en := strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en")
	pick := func(zh, eng string) string {
		if en {
			return eng
		}
		return zh
	}
	role := d.Role
	if role == "" {
		role = "-"
	}
	switch d.Reason {
	case ReasonOK:
		return ""
	case ReasonUnknownUser:
		return fmt.Sprintf(pick("你还不能使用这个机器人。你的 UserID 是 %s，请把它发给管理员添加",
			"You may not use this bot yet. Your UserID is %s: send it to an admin to be added"), d.User)
	case ReasonNoRole:
		return fmt.Sprintf(pick("你的角色 %s 没有 %s 权限", "Your role %s lacks the %s right"), role, d.Action)
	case ReasonOutOfScope:
		return pick("这台虚拟机不在你的管理范围内", "That guest is outside your scope")
	case ReasonProtected:
		return fmt.Sprintf(pick("这台虚拟机受保护，只有 admin 角色可以执行 %s", "That guest is protected: only the admin role may %s it"), d.Action)
	case ReasonReadOnly:
		return fmt.Sprintf(pick("机器人处于只读模式，不能执行 %s", "The bot is in read-only mode: %s is refused"), d.Action)
	}
	return pick("没有权限", "Not allowed")
}
