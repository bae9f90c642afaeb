package pve

import (
	"context"
	"net/url"
	"slices"
	"strings"
)

// Feature is one bot capability and whether the token's privileges allow it.
type Feature struct {
	Name        string   // guests | power | nodes | storage
	OK          bool     // the privilege is held somewhere it counts
	Missing     []string // privileges to grant (empty when OK and not Partial)
	Consequence string   // what the user will see, in plain words
	Partial     bool     // held only on some paths (Paths): other guests/nodes/storage are affected
	Paths       []string // where the privilege is held
	// Optional features (guest addresses) do not count in SelfCheck.OK or PveumFix:
	// the bot works without them, and the grant is the admin's choice (Grant).
	Optional bool
	Grant    []string // Optional: the pveum lines that would grant it
	// Lacking says whose ACL lacks it, for a privilege-separated token (which holds what
	// both its own and its user's ACLs grant): "user", "token", or "" when unknown.
	Lacking string
}

// SelfCheck is what the token may do, from GET /access/permissions.
type SelfCheck struct {
	Version  string
	Features []Feature
	Warnings []string
	// PrivSep is "on", "off" or "unknown": a token cannot always read its own
	// privilege separation (GET /access/users/{user}/token/{id} may be refused).
	PrivSep string
}

// OK reports whether every feature is fully available.
func (s SelfCheck) OK() bool {
	for _, f := range s.Features {
		if !f.Optional && (!f.OK || f.Partial) {
			return false
		}
	}
	return true
}

// BotPrivileges are the privileges of the recommended minimal role (docs/setup.md). Pool.Audit
// lets the bot read guests' pools: since PVE 7.0 /cluster/resources leaves them out without it.
var BotPrivileges = []string{"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"}

// featureSpec says where a privilege counts: full roots (whole cluster) and the
// prefixes of partial grants.
type featureSpec struct {
	name, priv  string
	roots       []string
	partial     []string
	consequence string
}

var featureSpecs = []featureSpec{
	{"guests", "VM.Audit", []string{"/", "/vms"}, []string{"/vms/", "/pool/"},
		`guests without VM.Audit are invisible to the bot: "vm start 105" answers "not found"`},
	{"power", "VM.PowerMgmt", []string{"/", "/vms"}, []string{"/vms/", "/pool/"},
		"power actions (start, shutdown, stop, reboot, reset, suspend, resume) are refused with a permission error"},
	{"nodes", "Sys.Audit", []string{"/"}, []string{"/nodes"},
		"node stats, node alerts and cluster/HA status cannot work (nodes are listed without CPU, memory or disk)"},
	{"storage", "Datastore.Audit", []string{"/", "/storage"}, []string{"/storage/", "/pool/"},
		"storage usage is blank: storage without Datastore.Audit is not listed"},
	{"pools", "Pool.Audit", []string{"/", "/pool"}, []string{"/pool/"},
		"PVE hides guests' pools, so pool: selectors cannot be evaluated: a guest whose pool is unknown counts as protected where a protected list names a pool, and is outside pool-based scopes and alert rules"},
}

// excessPrivileges are held by broad roles but never needed by the bot.
var excessPrivileges = []string{"Sys.Modify", "Permissions.Modify", "User.Modify", "VM.Allocate", "Datastore.Allocate", "Realm.Allocate"}

// Check asks PVE which privileges the token has and reports what the bot can and
// cannot do with it, in words. Used by `bot check --online` and at start-up. It
// returns an error only when PVE could not be asked (unreachable, token rejected).
func (c *Client) Check(ctx context.Context) (SelfCheck, error) {
	var sc SelfCheck
	v, err := c.Version(ctx)
	if err != nil {
		return sc, err
	}
	sc.Version = v
	body, err := c.get(ctx, "/access/permissions", nil, "read token permissions")
	if err != nil {
		return sc, err
	}
	var perms map[string]map[string]flexNum
	if err := decodeObject(body, &perms); err != nil {
		return sc, c.decodeErr("read token permissions", err)
	}
	sc.Features = evaluate(perms)
	sc.Features = append(sc.Features, addressFeature(perms, v, c.tokenID))
	for _, o := range optionalSpecs {
		sc.Features = append(sc.Features, o.evaluate(perms, c.tokenID))
	}

	user, _, _ := strings.Cut(c.tokenID, "!")
	sc.PrivSep = c.privSep(ctx)
	if sc.PrivSep != "off" {
		sc.Warnings = append(sc.Warnings, c.whoLacks(ctx, user, sc.Features)...)
	}
	if user == "root@pam" {
		sc.Warnings = append(sc.Warnings, "the token belongs to root@pam: a leaked secret is a leaked cluster; create a dedicated user (chatbot@pve) with the ChatBot role")
	}
	switch sc.PrivSep {
	case "off":
		sc.Warnings = append(sc.Warnings, "the token has no privilege separation (privsep=0): it carries every right of "+user+"; recreate it with --privsep 1 and grant the ChatBot role to the token")
	case "unknown":
		sc.Warnings = append(sc.Warnings, "privilege separation could not be read (PVE does not tell a token its own privsep without User.Modify); if the token's rights equal "+user+"'s, it may be off")
	}
	if extra := heldAnywhere(perms, excessPrivileges); len(extra) > 0 {
		sc.Warnings = append(sc.Warnings, "the token holds privileges the bot never needs: "+strings.Join(extra, ", ")+"; grant only "+strings.Join(BotPrivileges, ", "))
	}
	return sc, nil
}

// whoLacks reads the user's own privileges (GET /access/permissions?userid=<user>, which a
// token may ask for its user) and marks each missing feature with whose ACL lacks it: the
// usual mistake is to grant the role to only one of the two. It returns warnings in words.
func (c *Client) whoLacks(ctx context.Context, user string, fs []Feature) []string {
	body, err := c.get(ctx, "/access/permissions", url.Values{"userid": {user}}, "read the user's permissions")
	var perms map[string]map[string]flexNum
	if err == nil {
		err = decodeObject(body, &perms)
	}
	if err != nil {
		return nil // cannot tell: the fix names both
	}
	held := map[string]Feature{}
	for _, f := range evaluate(perms) {
		held[f.Name] = f
	}
	var onUser, onToken []string
	for i := range fs {
		f := &fs[i]
		if f.OK && !f.Partial || f.Optional { // an optional feature has its own grant lines
			continue
		}
		if u := held[f.Name]; u.OK && !u.Partial {
			f.Lacking = "token"
			onToken = append(onToken, f.Missing...)
		} else {
			f.Lacking = "user"
			onUser = append(onUser, f.Missing...)
		}
	}
	var out []string
	if len(onUser) > 0 {
		out = append(out, "the user "+user+" lacks "+strings.Join(onUser, ", ")+
			": with privilege separation the token holds only what both it and its user are granted; grant the role to the user as well")
	}
	if len(onToken) > 0 {
		out = append(out, "the user "+user+" holds "+strings.Join(onToken, ", ")+" but the token's own ACL does not: with privilege separation grant the role to the token as well")
	}
	return out
}

// privSep reads the token's own privsep flag when PVE allows it.
func (c *Client) privSep(ctx context.Context) string {
	user, name, ok := strings.Cut(c.tokenID, "!")
	if !ok {
		return "unknown"
	}
	body, err := c.get(ctx, "/access/users/"+url.PathEscape(user)+"/token/"+url.PathEscape(name), nil, "read token privsep")
	if err != nil {
		return "unknown"
	}
	var t struct {
		PrivSep *flexNum `json:"privsep"`
	}
	if decodeObject(body, &t) != nil || t.PrivSep == nil {
		return "unknown"
	}
	if t.PrivSep.bool() {
		return "on"
	}
	return "off"
}

// addressFeature checks the privilege `vm ip` needs for VMs (the guest agent's), which
// depends on the PVE version: VM.Monitor up to 8.x, VM.GuestAgent.Audit from 9.0.
// Containers need only VM.Audit.
func addressFeature(perms map[string]map[string]flexNum, version, tokenID string) Feature {
	privs := AgentPrivileges(version)
	spec := optionalSpec{featureSpec{name: "addresses", priv: privs[0],
		roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
		consequence: `"vm ip" cannot read VMs' addresses from the guest agent (containers work)`}, "ChatBotAgent", privs[1:]}
	if privs[0] == "VM.GuestAgent.Audit" {
		spec.also = append(spec.also, "VM.GuestAgent.Unrestricted")
	}
	f := spec.evaluate(perms, tokenID)
	if (!f.OK || f.Partial) && privs[0] == "VM.Monitor" {
		f.Consequence += "; on PVE 8 the privilege is VM.Monitor, which also opens the QEMU monitor: grant it only if you want vm ip"
	}
	return f
}

// optionalSpec is a feature the bot works without: the privilege of a command an admin may
// choose to allow (snapshots, backups, node power…). Its grant is a role of its own, so the
// admin grants exactly what they want the bot to do.
type optionalSpec struct {
	featureSpec
	role string   // the role the grant lines create
	also []string // privileges that count like priv
}

// optionalSpecs are the optional features whose privilege does not depend on the version.
var optionalSpecs = []optionalSpec{
	{featureSpec{name: "snapshots", priv: "VM.Snapshot", roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
		consequence: `"vm snapshot" and "vm delsnapshot" are refused with a permission error`}, "ChatBotSnapshot", nil},
	{featureSpec{name: "rollback", priv: "VM.Snapshot.Rollback", roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
		consequence: `"vm rollback" is refused with a permission error (VM.Snapshot or VM.Snapshot.Rollback allows it)`}, "ChatBotRollback", []string{"VM.Snapshot"}},
	{featureSpec{name: "node power", priv: "Sys.PowerMgmt", roots: []string{"/", "/nodes"}, partial: []string{"/nodes/"},
		consequence: `"node reboot", "node shutdown" and "node wake" are refused with a permission error`}, "ChatBotNodes", nil},
	{featureSpec{name: "migration", priv: "VM.Migrate", roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
		consequence: `"vm migrate" is refused with a permission error`}, "ChatBotMigrate", nil},
	// Backups (docs/pve-features.md §2.1, §2.4): VM.Backup is checked inside vzdump's worker,
	// Datastore.AllocateSpace on the storage before it; together they also make backups
	// visible in storage listings, which PVE filters per volume.
	{featureSpec{name: "backups", priv: "VM.Backup", roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
		consequence: `"vm backup" starts a task that fails with "Permission check failed (VM.Backup)", and these guests' backups are invisible to "backup status" and "backup list"`}, "ChatBotBackup", nil},
	{featureSpec{name: "backup storage", priv: "Datastore.AllocateSpace", roots: []string{"/", "/storage"}, partial: []string{"/storage/"},
		consequence: `"vm backup" is refused by PVE (403) and storages list no backups to the bot ("backup status" says never backed up)`}, "ChatBotBackupStorage", nil},
}

// evaluate checks an optional feature and, when it is missing, the pveum lines that grant it.
func (o optionalSpec) evaluate(perms map[string]map[string]flexNum, tokenID string) Feature {
	f := evaluateOne(perms, o.featureSpec, o.also...)
	f.Optional = true
	if f.OK && !f.Partial {
		return f
	}
	user, _, _ := strings.Cut(tokenID, "!")
	f.Grant = []string{`pveum role add ` + o.role + ` --privs "` + o.priv + `"`}
	if user != "root@pam" && user != "" {
		f.Grant = append(f.Grant, "pveum acl modify / --users "+shellQuote(user)+" --roles "+o.role)
	}
	f.Grant = append(f.Grant, "pveum acl modify / --tokens "+shellQuote(tokenID)+" --roles "+o.role)
	return f
}

func evaluate(perms map[string]map[string]flexNum) []Feature {
	out := make([]Feature, 0, len(featureSpecs))
	for _, fs := range featureSpecs {
		out = append(out, evaluateOne(perms, fs))
	}
	return out
}

// evaluateOne checks one feature; a privilege in also counts like fs.priv.
func evaluateOne(perms map[string]map[string]flexNum, fs featureSpec, also ...string) Feature {
	{
		f := Feature{Name: fs.name}
		full := false
		for path, privs := range perms {
			held := false
			for _, p := range append([]string{fs.priv}, also...) {
				if _, ok := privs[p]; ok {
					held = true
				}
			}
			if !held {
				continue
			}
			if slices.Contains(fs.roots, path) {
				full = true
				f.Paths = append(f.Paths, path)
				continue
			}
			for _, p := range fs.partial {
				if strings.HasPrefix(path, p) {
					f.Paths = append(f.Paths, path)
					break
				}
			}
		}
		slices.Sort(f.Paths)
		f.OK = len(f.Paths) > 0
		f.Partial = f.OK && !full
		switch {
		case !f.OK:
			f.Missing, f.Consequence = []string{fs.priv}, fs.consequence
		case f.Partial:
			f.Missing = []string{fs.priv}
			f.Consequence = "only on " + strings.Join(f.Paths, ", ") + "; elsewhere: " + fs.consequence
		}
		return f
	}
}

func heldAnywhere(perms map[string]map[string]flexNum, privs []string) []string {
	var out []string
	for _, p := range privs {
		for _, held := range perms {
			if _, ok := held[p]; ok {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// PveumFix gives the pveum commands that grant what the check found missing, using
// the minimal ChatBot role of docs/pve.md §2.6. With privilege separation the
// token's rights are the intersection of its own and its user's ACLs, so both get
// the role. Nil when nothing is missing.
func (s SelfCheck) PveumFix(tokenID string) []string {
	var missing []string
	// The user needs the role unless only the token's own ACL lacks it; the token's ACL
	// counts only with privilege separation.
	userLine, tokenLine := false, s.PrivSep != "off"
	for _, f := range s.Features {
		if !f.Optional && (!f.OK || f.Partial) {
			missing = append(missing, f.Missing...)
			userLine = userLine || f.Lacking != "token"
		}
	}
	if len(missing) == 0 {
		return nil
	}
	user, _, _ := strings.Cut(tokenID, "!")
	privs := strings.Join(BotPrivileges, " ")
	lines := []string{
		"# missing: " + strings.Join(missing, ", "),
		`pveum role add ChatBot --privs "` + privs + `"`,
		`# (if the role exists: pveum role modify ChatBot --privs "` + privs + `")`,
	}
	if user != "root@pam" && user != "" && userLine {
		lines = append(lines, "pveum acl modify / --users "+shellQuote(user)+" --roles ChatBot")
	}
	if tokenLine {
		lines = append(lines, "pveum acl modify / --tokens "+shellQuote(tokenID)+" --roles ChatBot")
	}
	return lines
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
