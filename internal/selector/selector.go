// Package selector is the one grammar of guest selectors, shared by the PVE
// `protected` lists, user `scope` and alert rules, so that "which guests" reads
// the same everywhere in the config:
//
//	101               one VMID
//	100-199           a VMID range, both ends included
//	name:homeassistant  the guest's name
//	tag:lab           a guest tag
//	pool:media        the guest's pool
//	node:pve2         the node the guest runs on
//	*                 every guest
//
// Each form may be prefixed by a cluster: home/101, home/name:nas, home/*.
// Names, tags, pools, nodes and clusters compare case-insensitively and exactly
// (no globbing). The package is pure: no I/O, no logging.
package selector

import (
	"fmt"
	"strconv"
	"strings"
)

// Subject is the part of a guest a selector looks at. Tags are already split
// (PVE sends them `;`-separated; see SplitTags).
type Subject struct {
	Cluster string
	VMID    int
	Name    string
	Node    string
	Pool    string
	// PoolUnknown says the guest's pool could not be read (the token lacks Pool.Audit):
	// no pool selector matches it, and a protected list naming a pool protects it.
	PoolUnknown bool
	Tags        []string
}

type kind uint8

const (
	kindAll   kind = iota // "*"
	kindRange             // lo-hi; a single VMID is lo == hi
	kindName
	kindTag
	kindPool
	kindNode
)

var prefixes = []struct {
	k    kind
	word string
}{
	{kindName, "name"},
	{kindTag, "tag"},
	{kindPool, "pool"},
	{kindNode, "node"},
}

// Selector is one parsed entry. The zero value is "*" (everything), but only
// Parse should make one. Selectors are comparable with ==.
type Selector struct {
	cluster string // lower-case; "" = any cluster
	kind    kind
	lo, hi  int
	value   string // lower-case
}

// Error is a selector that does not parse. It names the entry as written so
// that config messages point at what the admin typed.
type Error struct {
	Entry  string
	Reason string
}

// Error reads `selector "foo:bar": unknown form; use ...`.
func (e *Error) Error() string {
	return fmt.Sprintf("selector %q: %s", e.Entry, e.Reason)
}

const unknownForm = "unknown form; use 101, 100-199, name:, tag:, pool:, node: or cluster/..."

// Parse reads one selector. Surrounding whitespace is ignored.
func Parse(s string) (Selector, error) {
	entry := strings.TrimSpace(s)
	fail := func(reason string) (Selector, error) {
		return Selector{}, &Error{Entry: entry, Reason: reason}
	}
	if entry == "" {
		return fail("empty selector")
	}
	var sel Selector
	rest := entry
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		c := strings.TrimSpace(rest[:i])
		if !validCluster(c) {
			if c == "" {
				return fail("empty cluster before /")
			}
			if strings.Contains(c, ":") {
				return fail(unknownForm)
			}
			return fail("cluster name must be lower-case letters, digits, - or _")
		}
		sel.cluster = strings.ToLower(c)
		rest = strings.TrimSpace(rest[i+1:])
		if rest == "" {
			return fail("nothing after the cluster; use cluster/* for all its guests")
		}
	}
	if rest == "*" {
		sel.kind = kindAll
		return sel, nil
	}
	if w, v, ok := strings.Cut(rest, ":"); ok {
		w = strings.ToLower(strings.TrimSpace(w))
		for _, p := range prefixes {
			if p.word != w {
				continue
			}
			v = strings.TrimSpace(v)
			switch {
			case v == "":
				return fail("empty " + p.word)
			case strings.ContainsAny(v, "*?"):
				return fail("no wildcards: " + p.word + ": matches one exact value; use * alone for everything")
			case strings.ContainsAny(v, " \t\r\n/,;:"):
				return fail(p.word + " must be one value without spaces, '/', ',', ';' or ':'")
			}
			sel.kind = p.k
			sel.value = strings.ToLower(v)
			return sel, nil
		}
		return fail(unknownForm)
	}
	if lo, hi, ok := strings.Cut(rest, "-"); ok {
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
		a, okA := vmid(lo)
		b, okB := vmid(hi)
		if !okA || !okB {
			if digits(lo) && digits(hi) {
				return fail(outOfRange)
			}
			return fail(unknownForm)
		}
		if a > b {
			return fail(fmt.Sprintf("reversed range; write %d-%d", b, a))
		}
		sel.kind, sel.lo, sel.hi = kindRange, a, b
		return sel, nil
	}
	if id, ok := vmid(rest); ok {
		sel.kind, sel.lo, sel.hi = kindRange, id, id
		return sel, nil
	}
	if digits(rest) {
		return fail(outOfRange)
	}
	return fail(unknownForm)
}

const outOfRange = "VMID out of range; PVE uses 1 to 999999999"

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// maxVMID is PVE's largest VMID.
const maxVMID = 999999999

func vmid(s string) (int, bool) {
	if !digits(s) || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxVMID {
		return 0, false
	}
	return n, true
}

func validCluster(c string) bool {
	if c == "" {
		return false
	}
	for _, r := range c {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// Cluster is the cluster prefix in lower case, or "" when the selector applies
// to every cluster. Config validation uses it to reject unknown clusters.
func (s Selector) Cluster() string { return s.cluster }

// String is the canonical form (lower-case, no spaces); Parse(s.String()) == s.
func (s Selector) String() string {
	var b strings.Builder
	if s.cluster != "" {
		b.WriteString(s.cluster)
		b.WriteByte('/')
	}
	switch s.kind {
	case kindAll:
		b.WriteByte('*')
	case kindRange:
		b.WriteString(strconv.Itoa(s.lo))
		if s.hi != s.lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s.hi))
		}
	default:
		for _, p := range prefixes {
			if p.k == s.kind {
				b.WriteString(p.word)
			}
		}
		b.WriteByte(':')
		b.WriteString(s.value)
	}
	return b.String()
}

// Match reports whether the guest is selected. A selector with a cluster prefix
// never matches a guest whose cluster is unknown (empty).
func (s Selector) Match(g Subject) bool {
	if s.cluster != "" && !strings.EqualFold(s.cluster, strings.TrimSpace(g.Cluster)) {
		return false
	}
	switch s.kind {
	case kindAll:
		return true
	case kindRange:
		return g.VMID >= s.lo && g.VMID <= s.hi
	case kindName:
		return equal(s.value, g.Name)
	case kindPool:
		return !g.PoolUnknown && equal(s.value, g.Pool)
	case kindNode:
		return equal(s.value, g.Node)
	case kindTag:
		for _, t := range g.Tags {
			if equal(s.value, t) {
				return true
			}
		}
	}
	return false
}

func equal(want, got string) bool {
	got = strings.TrimSpace(got)
	return got != "" && strings.EqualFold(want, got)
}

// List is a set of selectors; a guest is selected when any entry matches.
type List []Selector

// ParseList parses every entry. The first bad entry gives an error naming it
// and its index (a *ListError wrapping the *Error).
func ParseList(entries []string) (List, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	l := make(List, 0, len(entries))
	for i, e := range entries {
		s, err := Parse(e)
		if err != nil {
			return nil, &ListError{Index: i, Err: err}
		}
		l = append(l, s)
	}
	return l, nil
}

// ListError says which entry of a list failed, so a caller can point at it.
type ListError struct {
	Index int // 0-based
	Err   error
}

// Error reads `entry 2: selector "foo": unknown form; ...`.
func (e *ListError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }

// Unwrap gives the *Error.
func (e *ListError) Unwrap() error { return e.Err }

// Match reports whether any entry selects the guest; an empty list selects
// nothing (deny by default: callers decide what "no scope" means).
func (l List) Match(g Subject) bool {
	for _, s := range l {
		if s.Match(g) {
			return true
		}
	}
	return false
}

// NamesPool reports whether any entry is a pool selector.
func (l List) NamesPool() bool {
	for _, s := range l {
		if s.kind == kindPool {
			return true
		}
	}
	return false
}

// Strings gives the canonical form of every entry.
func (l List) Strings() []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.String()
	}
	return out
}

// SplitTags splits PVE's tag string ("lab;media", also tolerating "," and
// spaces as some versions and UIs write them) into Subject.Tags.
func SplitTags(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == ',' || r == ' ' || r == '\t'
	})
	if len(f) == 0 {
		return nil
	}
	return f
}
