package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// UPID is a parsed PVE task id (pve-common UPID.pm).
type UPID struct {
	Node  string
	PID   int
	Start time.Time
	Type  string // qmstart, vzstop, hastart, …
	ID    string // usually the VMID; may be empty
	User  string // user@realm or, for token tasks, user@realm!token
}

// reUPID is PVE's own pattern; Telmate's rxTaskNode panics on input it does not
// expect, so UPIDs from the wire are parsed here.
var reUPID = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$`)

// ParseUPID parses s, rejecting anything that is not a well-formed UPID (a node name
// from it becomes part of a request path).
func ParseUPID(s string) (UPID, error) {
	m := reUPID.FindStringSubmatch(s)
	if m == nil {
		return UPID{}, fmt.Errorf("pve: parse task id: not a UPID: %.80q", s)
	}
	pid, _ := strconv.ParseInt(m[3], 16, 64)
	start, _ := strconv.ParseInt(m[5], 16, 64)
	return UPID{Node: m[1], PID: int(pid), Start: time.Unix(start, 0), Type: m[6], ID: m[7], User: m[8]}, nil
}
