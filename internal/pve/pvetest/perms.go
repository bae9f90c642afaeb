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

// privsAt walks from "/" to path; the most specific ACL entry on the way wins (ACLs propagate).
func (t *token) privsAt(path string) map[string]bool {
	path = normPath(path)
	var res map[string]bool
	if set, ok := t.acl["/"]; ok {
		res = set
	}
	cur := ""
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		cur += "/" + seg
		if set, ok := t.acl[cur]; ok {
			res = set
		}
	}
	return res
}

// privsLocked is privsAt plus PVE's pool rule: a guest in a pool gets the pool's privileges
// when nothing on its own path applies. Needs s.mu.
func (s *Server) privsLocked(t *token, path string) map[string]bool {
	res := t.privsAt(path)
	if len(res) == 0 && strings.HasPrefix(path, "/vms/") {
		var vmid int
		if _, err := fmt.Sscanf(path, "/vms/%d", &vmid); err == nil {
			if g, ok := s.guests[vmid]; ok && g.Pool != "" {
				res = t.privsAt("/pool/" + g.Pool)
			}
		}
	}
	return res
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
// value 1 = propagate.
func (s *Server) handlePermissions(c *call) {
	if uid := c.params.Get("userid"); uid != "" && uid != c.tok.id {
		user, _, _ := strings.Cut(c.tok.id, "!")
		if uid != user {
			s.fail(c, http.StatusForbidden, "Permission check failed (/access, Sys.Audit)", nil)
			return
		}
	}
	s.mu.Lock()
	paths := []string{}
	if p := c.params.Get("path"); p != "" {
		paths = append(paths, normPath(p))
	} else {
		for p := range c.tok.acl {
			paths = append(paths, p)
		}
		sort.Strings(paths)
	}
	out := map[string]map[string]int{}
	for _, p := range paths {
		set := map[string]int{}
		for priv, on := range s.privsLocked(c.tok, p) {
			if on {
				set[priv] = 1
			}
		}
		out[p] = set
	}
	s.mu.Unlock()
	s.ok(c, out, nil)
}
