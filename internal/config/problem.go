package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with the config file, pointing at the key (and
// its line when known) so the admin can fix every problem in one pass.
type Problem struct {
	File string // the config file's name as given to Load or Parse
	Key  string // full key path: "wecom.encoding_aes_key", "users[2].role"; "" for a YAML syntax error
	Line int    // 1-based; 0 when unknown
	Msg  string
}

// Error reads like a compiler message:
// "config.yaml:12: wecom.encoding_aes_key: must be 43 characters".
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found; it is the error Load and Parse return, so
// `bot check` can print them all and callers can errors.As it for details.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// capped keeps the first maxProblems and counts the rest in one last problem: a
// hostile or runaway file (aliases repeating one bad value) must not produce an
// error of many megabytes.
func (ps Problems) capped() Problems {
	if len(ps) <= maxProblems {
		return ps
	}
	rest := len(ps) - maxProblems
	return append(ps[:maxProblems:maxProblems], Problem{File: ps[0].File, Msg: fmt.Sprintf("and %d more problems", rest)})
}

// sorted orders problems by line (unknown lines last), keeping discovery
// order otherwise.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Line, ps[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	return ps
}
