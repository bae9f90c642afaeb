package pvetest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// builtinRoles expands the PVE role names a test may put in an ACL (AccessControl.pm).
func builtinRoles() map[string][]string {
	auditor := []string{"VM.Audit", "VM.GuestAgent.Audit", "Sys.Audit", "Datastore.Audit", "SDN.Audit", "Pool.Audit", "Mapping.Audit"}
	vmUser := []string{"VM.Audit", "VM.Console", "VM.PowerMgmt", "VM.Backup", "VM.Config.CDROM", "VM.Config.Cloudinit"}
	vmAdmin := append(append([]string{}, vmUser...), "VM.Snapshot", "VM.Snapshot.Rollback", "VM.Allocate", "VM.Migrate",
		"VM.Clone", "VM.Monitor", "VM.Config.CPU", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
		"VM.Config.Network", "VM.Config.Options")
	admin := append(append(append([]string{}, auditor...), vmAdmin...), "Sys.Console", "Sys.Modify", "Sys.PowerMgmt",
		"Sys.Syslog", "Sys.Incoming", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
		"Pool.Allocate", "Permissions.Modify", "User.Modify", "Group.Allocate", "Realm.Allocate", "Realm.AllocateUser",
		"SDN.Allocate", "SDN.Use", "Mapping.Use", "Mapping.Modify")
	return map[string][]string{
		"Administrator": admin,
		"PVEAuditor":    auditor,
		"PVEVMUser":     vmUser,
		"PVEVMAdmin":    vmAdmin,
		"NoAccess":      {},
	}
}

func normPath(p string) string {
	p = "/" + strings.Trim(p, "/")
	return p
}

// at walks from "/" to path; the most specific ACL entry on the way wins (ACLs propagate).
func (a acl) at(path string) map[string]bool {
	path = normPath(path)
	res := a["/"]
	cur := ""
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		cur += "/" + seg
		if set, ok := a[cur]; ok {
			res = set
		}
	}
	return res
}

// effectiveLocked is one ACL's privileges at path with PVE's pool rule: a guest in a pool
// gets the pool's roles added to those on its own path; NoAccess wins (RPCEnvironment.pm).
// Needs s.mu.
func (s *Server) effectiveLocked(a acl, path string) map[string]bool {
	out := map[string]bool{}
	sets := []map[string]bool{a.at(path)}
	var vmid int
	if _, err := fmt.Sscanf(path, "/vms/%d", &vmid); err == nil {
		if g, ok := s.guests[vmid]; ok && g.Pool != "" {
			sets = append(sets, a.at("/pool/"+g.Pool))
		}
	}
	for _, set := range sets {
		if set[noAccess] {
			return map[string]bool{}
		}
		for p, on := range set {
			out[p] = out[p] || on
		}
	}
	return out
}

// privsLocked is what a token may do at path: with privilege separation, what both its own
// and its user's ACLs grant; without, its user's. Needs s.mu.
func (s *Server) privsLocked(t *token, path string) map[string]bool {
	user, _, _ := strings.Cut(t.id, "!")
	up := s.effectiveLocked(s.userACL[user], path)
	if t.noPrivsep {
		return up
	}
	tp := s.effectiveLocked(t.acl, path)
	out := map[string]bool{}
	for p := range tp {
		if up[p] {
			out[p] = true
		}
	}
	return out
}

func (s *Server) canLocked(t *token, path, priv string) bool {
	return s.privsLocked(t, path)[priv]
}

// check answers 403 in PVE's words unless the caller has priv on path.
func (s *Server) check(c *call, path, priv string) bool {
	s.mu.Lock()
	ok := s.canLocked(c.tok, path, priv)
	s.mu.Unlock()
	if !ok {
		s.fail(c, http.StatusForbidden, fmt.Sprintf("Permission check failed (%s, %s)", path, priv), nil)
	}
	return ok
}

// handlePermissions is GET /access/permissions: the caller's effective privileges per path,
// value 1 = propagate. Without path: the default top paths, every ACL path and every pool
// member's /vms path, empty ones left out (RPCEnvironment.pm permissions). userid (the token's
// own user) answers for the user instead.
func (s *Server) handlePermissions(c *call) {
	privs := func(p string) map[string]bool { return s.privsLocked(c.tok, p) }
	if uid := c.params.Get("userid"); uid != "" && uid != c.tok.id {
		user, _, _ := strings.Cut(c.tok.id, "!")
		if uid != user {
			s.fail(c, http.StatusForbidden, "Permission check failed (/access, Sys.Audit)", nil)
			return
		}
		privs = func(p string) map[string]bool { return s.effectiveLocked(s.userACL[user], p) }
	}
	s.mu.Lock()
	paths := []string{}
	if p := c.params.Get("path"); p != "" {
		paths = append(paths, normPath(p))
	} else {
		seen := map[string]bool{}
		add := func(p string) {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
		for _, p := range []string{"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"} {
			add(p)
		}
		for _, a := range s.userACL {
			for p := range a {
				add(p)
			}
		}
		for _, t := range s.tokens {
			for p := range t.acl {
				add(p)
			}
		}
		for _, g := range s.sortedGuests() {
			if g.Pool != "" {
				add("/vms/" + itoa(g.VMID))
			}
		}
		sort.Strings(paths)
	}
	out := map[string]map[string]int{}
	for _, p := range paths {
		set := map[string]int{}
		for priv, on := range privs(p) {
			if on {
				set[priv] = 1
			}
		}
		if len(set) > 0 || c.params.Get("path") != "" {
			out[p] = set
		}
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}
