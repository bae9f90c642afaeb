package commands

// This file holds the parser: text in, a typed Command out, with no knowledge of users,
// PVE or WeCom, so that it stays pure and cheap to test.

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

// MaxInputBytes is the longest input Parse looks at. Longer input is refused unread so that
// a pasted log file cannot cost more than a normal command.
const MaxInputBytes = 4096

// MaxAuditN is the most audit entries one "audit n" asks for; larger n are clamped to it.
const MaxAuditN = 100

// maxTargetLen bounds a target; PVE names are DNS names (<= 63 per label), cluster names short.
const maxTargetLen = 128

// Verb is what a command does. It is the parser's output; Command.Action maps it to the
// action name that roles allow.
type Verb string

// The verbs of the command language.
const (
	VerbHelp        Verb = "help"
	VerbStatus      Verb = "status"       // cluster summary
	VerbList        Verb = "list"         // guests, Kind "" (all), "qemu" or "lxc"
	VerbGuestStatus Verb = "guest_status" // one guest
	VerbStart       Verb = "start"
	VerbShutdown    Verb = "shutdown"
	VerbReboot      Verb = "reboot"
	VerbSuspend     Verb = "suspend"
	VerbResume      Verb = "resume"
	VerbStop        Verb = "stop"
	VerbReset       Verb = "reset"
	VerbNodeList    Verb = "node_list"
	VerbNodeStatus  Verb = "node_status"
	VerbStorage     Verb = "storage"
	VerbTasks       Verb = "tasks"
	VerbAudit       Verb = "audit"
	VerbConfirm     Verb = "confirm"
	VerbCancel      Verb = "cancel"
)

// Guest kinds as PVE names them; Command.Kind is one of these or "" for both.
const (
	KindQEMU = "qemu"
	KindLXC  = "lxc"
)

// Command is one parsed command. Fields that a verb does not use stay zero.
type Command struct {
	Verb   Verb
	Kind   string // "" (any guest) | "qemu" | "lxc": set by "ct ..." / "qemu ..."
	Target string // guest (VMID, name, part of a name, "cluster/x") or node; lower-case
	Filter string // list filter, lower-case, may hold spaces
	N      int    // audit: entries wanted, 0 = the dispatcher's default
	Code   string // confirm/cancel: upper-case
	Topic  string // help: canonical command name ("start", "node"...), "" = overview
	Raw    string // the input exactly as received
}

// Action returns the action name that roles allow for c ("start", "list", "node"...), or ""
// for help, confirm and cancel, which every listed user may use (confirm re-checks the
// confirmed action's own right).
func (c Command) Action() string {
	switch c.Verb {
	case VerbStatus:
		return "status"
	case VerbList, VerbGuestStatus:
		return "list"
	case VerbStart, VerbShutdown, VerbReboot, VerbSuspend, VerbResume, VerbStop, VerbReset:
		return string(c.Verb)
	case VerbNodeList, VerbNodeStatus:
		return "node"
	case VerbStorage:
		return "storage"
	case VerbTasks:
		return "task"
	case VerbAudit:
		return "audit"
	}
	return ""
}

// IsPower reports whether c changes a guest's power state (the actions read_only refuses
// and protected guests reserve to admins).
func (c Command) IsPower() bool {
	switch c.Verb {
	case VerbStart, VerbShutdown, VerbReboot, VerbSuspend, VerbResume, VerbStop, VerbReset:
		return true
	}
	return false
}

// ParseError says why an input is not a command. Msg is English for logs; Message renders
// the same sentence in the user's language. Suggestions are left to the caller (catalog key
// "did_you_mean", joined with "list_sep").
type ParseError struct {
	Input       string   // the input (cut to MaxInputBytes)
	Msg         string   // English, no user secrets beyond the words typed
	Suggestions []string // close commands ("vm start"), best first; may be empty
	Key         string   // i18n key of Msg
	Args        []any    // arguments of Key
}

// Error implements error.
func (e *ParseError) Error() string { return "commands: parse: " + e.Msg }

// Message is the one-sentence answer for the user in lang ("zh", "en"; see ParseLang),
// without the suggestions.
func (e *ParseError) Message(lang string) string { return i18n.T(i18n.Parse(lang), e.Key, e.Args...) }

func newParseError(input string, sugg []string, key string, args ...any) *ParseError {
	if len(input) > MaxInputBytes {
		input = strings.ToValidUTF8(input[:MaxInputBytes], "")
	}
	return &ParseError{Input: input, Msg: i18n.T(i18n.LangEN, key, args...), Suggestions: sugg, Key: key, Args: args}
}

// Normalize folds the ways people type the same command into one: NFKC (full-width
// letters, digits, punctuation and the ideographic space become ASCII), ASCII lower case,
// invisible format characters dropped, runs of white space collapsed to one space, trimmed.
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.Is(unicode.Cf, r) || r == utf8.RuneError || unicode.IsControl(r):
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// word kinds of the vocabulary.
type wordKind int

const (
	wNoun      wordKind = iota + 1 // vm / ct / qemu: a guest verb follows
	wGuestVerb                     // list, status, start... (alone or after a noun)
	wTop                           // help, 概览, node, storage, task, audit, confirm, cancel
	wNodeSub                       // list / status after "node"
)

// vocab maps every command word, English and Chinese, to what it means. It is the single
// place where aliases live; the help text and suggestions are derived from it and from
// helpTable.
var vocab = []struct {
	word string
	kind wordKind
	val  string // noun: kind; guest verb: Verb; top: Verb; node sub: Verb
}{
	{"vm", wNoun, ""}, {"虚拟机", wNoun, ""}, {"guest", wNoun, ""},
	{"qemu", wNoun, KindQEMU}, {"ct", wNoun, KindLXC}, {"lxc", wNoun, KindLXC}, {"容器", wNoun, KindLXC},

	{"list", wGuestVerb, string(VerbList)}, {"ls", wGuestVerb, string(VerbList)}, {"列表", wGuestVerb, string(VerbList)},
	{"status", wGuestVerb, string(VerbGuestStatus)}, {"状态", wGuestVerb, string(VerbGuestStatus)},
	{"start", wGuestVerb, string(VerbStart)}, {"启动", wGuestVerb, string(VerbStart)}, {"开机", wGuestVerb, string(VerbStart)},
	{"shutdown", wGuestVerb, string(VerbShutdown)}, {"关机", wGuestVerb, string(VerbShutdown)},
	{"reboot", wGuestVerb, string(VerbReboot)}, {"restart", wGuestVerb, string(VerbReboot)}, {"重启", wGuestVerb, string(VerbReboot)},
	{"suspend", wGuestVerb, string(VerbSuspend)}, {"pause", wGuestVerb, string(VerbSuspend)},
	{"暂停", wGuestVerb, string(VerbSuspend)}, {"挂起", wGuestVerb, string(VerbSuspend)},
	{"resume", wGuestVerb, string(VerbResume)}, {"恢复", wGuestVerb, string(VerbResume)},
	{"stop", wGuestVerb, string(VerbStop)}, {"停止", wGuestVerb, string(VerbStop)}, {"强制关机", wGuestVerb, string(VerbStop)},
	{"reset", wGuestVerb, string(VerbReset)}, {"重置", wGuestVerb, string(VerbReset)},

	{"help", wTop, string(VerbHelp)}, {"?", wTop, string(VerbHelp)}, {"帮助", wTop, string(VerbHelp)},
	{"概览", wTop, string(VerbStatus)}, {"overview", wTop, string(VerbStatus)}, {"summary", wTop, string(VerbStatus)},
	{"node", wTop, string(VerbNodeList)}, {"nodes", wTop, string(VerbNodeList)}, {"节点", wTop, string(VerbNodeList)},
	{"storage", wTop, string(VerbStorage)}, {"存储", wTop, string(VerbStorage)},
	{"task", wTop, string(VerbTasks)}, {"tasks", wTop, string(VerbTasks)}, {"任务", wTop, string(VerbTasks)},
	{"audit", wTop, string(VerbAudit)}, {"审计", wTop, string(VerbAudit)},
	{"confirm", wTop, string(VerbConfirm)}, {"确认", wTop, string(VerbConfirm)},
	{"cancel", wTop, string(VerbCancel)}, {"取消", wTop, string(VerbCancel)},

	{"list", wNodeSub, string(VerbNodeList)}, {"ls", wNodeSub, string(VerbNodeList)}, {"列表", wNodeSub, string(VerbNodeList)},
	{"status", wNodeSub, string(VerbNodeStatus)}, {"状态", wNodeSub, string(VerbNodeStatus)},
}

// hanWords are the vocabulary words that start with a non-ASCII rune, longest first: a verb
// touching its target ("启动101") is split at the longest of them.
var hanWords = func() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vocab {
		if v.word[0] >= utf8.RuneSelf && !seen[v.word] {
			seen[v.word] = true
			out = append(out, v.word)
		}
	}
	// longest first (stable enough for a handful of words)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}()

// vocabIndex maps a word to its vocab entries.
var vocabIndex = func() map[string][]int {
	m := map[string][]int{}
	for i, v := range vocab {
		m[v.word] = append(m[v.word], i)
	}
	return m
}()

// lookup finds word as one of kinds, trying the kinds in order.
func lookup(word string, kinds ...wordKind) (wordKind, string, bool) {
	idx := vocabIndex[word]
	for _, k := range kinds {
		for _, i := range idx {
			if vocab[i].kind == k {
				return k, vocab[i].val, true
			}
		}
	}
	return 0, "", false
}

// cmdParser walks the normalized tokens.
type cmdParser struct {
	raw  string
	toks []string
	i    int
}

// keyword returns the token at the cursor as a command word, splitting a known word off
// its tail first ("启动101" -> "启动" "101", "vm启动" -> "vm" "启动"). It does not advance.
func (p *cmdParser) keyword() (string, bool) {
	if p.i >= len(p.toks) {
		return "", false
	}
	t := p.toks[p.i]
	if _, _, ok := lookup(t, wNoun, wGuestVerb, wTop); ok {
		return t, true
	}
	split := ""
	if t[0] >= utf8.RuneSelf {
		for _, w := range hanWords {
			if strings.HasPrefix(t, w) {
				split = w
				break
			}
		}
	} else if j := strings.IndexFunc(t, func(r rune) bool { return r >= utf8.RuneSelf }); j > 0 {
		if _, _, ok := lookup(t[:j], wNoun, wGuestVerb, wTop); ok {
			split = t[:j]
		}
	}
	if split == "" || split == t {
		return t, true
	}
	rest := t[len(split):]
	p.toks[p.i] = split
	p.toks = slices.Insert(p.toks, p.i+1, rest)
	return split, true
}

func (p *cmdParser) rest() []string { return p.toks[p.i:] }

func (p *cmdParser) fail(sugg []string, key string, args ...any) error {
	return newParseError(p.raw, sugg, key, args...)
}

// Parse turns one chat message into a Command. Errors are *ParseError; an unknown word
// comes with "did you mean" suggestions drawn from both languages.
func Parse(input string) (Command, error) {
	if len(input) > MaxInputBytes {
		return Command{}, newParseError(input, nil, "parse_too_long", MaxInputBytes)
	}
	s := Normalize(input)
	if s == "" {
		return Command{}, newParseError(input, nil, "parse_empty")
	}
	p := &cmdParser{raw: input, toks: strings.Split(s, " ")}
	c, err := p.parse()
	if err != nil {
		return Command{}, err
	}
	c.Raw = input
	return c, nil
}

func (p *cmdParser) parse() (Command, error) {
	w, _ := p.keyword()
	kind, val, ok := lookup(w, wNoun, wGuestVerb, wTop)
	if !ok {
		return Command{}, p.fail(suggest(w, "", wNoun, wGuestVerb, wTop), "parse_unknown", clipWord(w))
	}
	p.i++
	switch kind {
	case wNoun:
		return p.guest(w, val)
	case wGuestVerb:
		if Verb(val) == VerbGuestStatus && len(p.rest()) == 0 {
			return Command{Verb: VerbStatus}, nil // "status" alone: the cluster summary
		}
		return p.guestVerb(w, Verb(val), "")
	}
	switch Verb(val) {
	case VerbHelp:
		return p.help()
	case VerbStatus, VerbStorage, VerbTasks:
		if Verb(val) != VerbStatus && len(p.rest()) > 0 {
			if _, v, ok := lookup(p.rest()[0], wNodeSub); ok && Verb(v) == VerbNodeList {
				p.i++ // "storage list", "任务 列表"
			}
		}
		if err := p.end(w); err != nil {
			return Command{}, err
		}
		return Command{Verb: Verb(val)}, nil
	case VerbNodeList:
		return p.node(w)
	case VerbAudit:
		return p.audit(w)
	default: // confirm, cancel
		return p.code(w, Verb(val))
	}
}

// guest parses what follows a noun ("vm", "容器"): a guest verb, list by default.
func (p *cmdParser) guest(noun, kind string) (Command, error) {
	if p.i >= len(p.toks) {
		return Command{Verb: VerbList, Kind: kind}, nil
	}
	w, _ := p.keyword()
	_, val, ok := lookup(w, wGuestVerb)
	if !ok {
		return Command{}, p.fail(suggest(w, noun, wGuestVerb), "parse_unknown_verb", noun, clipWord(w))
	}
	p.i++
	return p.guestVerb(noun+" "+w, Verb(val), kind)
}

// guestVerb parses the arguments of a guest verb; what names the command in messages.
func (p *cmdParser) guestVerb(what string, v Verb, kind string) (Command, error) {
	if v == VerbReset && kind == KindLXC {
		return Command{}, p.fail(nil, "parse_ct_reset")
	}
	if v == VerbList {
		return Command{Verb: VerbList, Kind: kind, Filter: strings.Join(p.rest(), " ")}, nil
	}
	t, err := p.target(what)
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: v, Kind: kind, Target: t}, nil
}

// target takes exactly one target as the last token.
func (p *cmdParser) target(what string) (string, error) {
	r := p.rest()
	if len(r) == 0 {
		return "", p.fail(nil, "parse_missing_target", what)
	}
	if len(r) > 1 {
		return "", p.fail(nil, "parse_too_many", what, clipWord(strings.Join(r[1:], " ")))
	}
	if !validTarget(r[0]) {
		return "", p.fail(nil, "parse_bad_target", clipWord(r[0]))
	}
	p.i++
	return r[0], nil
}

// validTarget accepts [cluster/]name with DNS-ish characters; PVE names are DNS names.
func validTarget(t string) bool {
	if len(t) > maxTargetLen {
		return false
	}
	cluster, name, found := strings.Cut(t, "/")
	if !found {
		name, cluster = cluster, "x"
	}
	if cluster == "" || name == "" {
		return false
	}
	for _, part := range []string{cluster, name} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (p *cmdParser) end(what string) error {
	if r := p.rest(); len(r) > 0 {
		return p.fail(nil, "parse_too_many", what, clipWord(strings.Join(r, " ")))
	}
	return nil
}

func (p *cmdParser) node(noun string) (Command, error) {
	if p.i >= len(p.toks) {
		return Command{Verb: VerbNodeList}, nil
	}
	w, _ := p.keyword()
	_, val, ok := lookup(w, wNodeSub)
	if !ok {
		sugg := suggest(w, noun, wNodeSub)
		if len(sugg) == 0 && len(p.rest()) == 1 && validTarget(w) {
			status := "status" // "node pve1": they most likely meant its status
			if noun[0] >= utf8.RuneSelf {
				status = "状态"
			}
			sugg = []string{noun + " " + status + " " + w}
		}
		return Command{}, p.fail(sugg, "parse_unknown_verb", noun, clipWord(w))
	}
	p.i++
	if Verb(val) == VerbNodeList {
		if err := p.end(noun + " " + w); err != nil {
			return Command{}, err
		}
		return Command{Verb: VerbNodeList}, nil
	}
	t, err := p.target(noun + " " + w)
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: VerbNodeStatus, Target: t}, nil
}

func (p *cmdParser) audit(w string) (Command, error) {
	r := p.rest()
	if len(r) == 0 {
		return Command{Verb: VerbAudit}, nil
	}
	if len(r) > 1 {
		return Command{}, p.fail(nil, "parse_too_many", w, clipWord(strings.Join(r[1:], " ")))
	}
	n, err := strconv.Atoi(r[0])
	if err != nil && isDigits(r[0]) {
		n, err = MaxAuditN, nil // a huge number: as many as we give
	}
	if err != nil || n <= 0 {
		return Command{}, p.fail(nil, "parse_bad_number", w, clipWord(r[0]))
	}
	return Command{Verb: VerbAudit, N: min(n, MaxAuditN)}, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// code parses "confirm <code>" / "cancel <code>". Codes are compared upper-case.
func (p *cmdParser) code(w string, v Verb) (Command, error) {
	r := p.rest()
	if len(r) == 0 {
		return Command{}, p.fail(nil, "parse_missing_code", w)
	}
	if len(r) > 1 {
		return Command{}, p.fail(nil, "parse_too_many", w, clipWord(strings.Join(r[1:], " ")))
	}
	c := r[0]
	if len(c) > 64 || !validCode(c) {
		return Command{}, p.fail(nil, "parse_bad_code", clipWord(c))
	}
	return Command{Verb: v, Code: strings.ToUpper(c)}, nil
}

func validCode(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// help parses "help [topic]"; the topic may be any command word in either language, after
// an optional noun ("help vm start").
func (p *cmdParser) help() (Command, error) {
	r := p.rest()
	if len(r) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	w, _ := p.keyword()
	topic, ok := topicOf(w)
	p.i++
	if ok && topic == "" { // a noun: "help vm start" -> start, "help vm" -> list
		topic = "list"
		if p.i < len(p.toks) {
			w, _ = p.keyword()
			topic, ok = topicOf(w)
			p.i++
			if ok && topic == "" {
				topic = "list"
			}
		}
	}
	if !ok {
		return Command{}, p.fail(suggest(w, "help", wGuestVerb, wTop), "parse_unknown_topic", clipWord(w))
	}
	if err := p.end("help " + w); err != nil {
		return Command{}, err
	}
	return Command{Verb: VerbHelp, Topic: topic}, nil
}

// topicOf maps a command word to its help topic; nouns map to "" with ok.
func topicOf(w string) (string, bool) {
	kind, val, ok := lookup(w, wNoun, wGuestVerb, wTop)
	if !ok {
		return "", false
	}
	if kind == wNoun {
		return "", true
	}
	return topicOfVerb(Verb(val)), true
}

// topicOfVerb is the help topic (a helpTable name) that documents v.
func topicOfVerb(v Verb) string {
	switch v {
	case VerbGuestStatus:
		return "status"
	case VerbNodeList, VerbNodeStatus:
		return "node"
	case VerbTasks:
		return "task"
	}
	return string(v)
}

// clipWord shortens a user's word for a message.
func clipWord(s string) string {
	const max = 32
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

// suggest returns up to three command words close to w (edit distance with transpositions,
// or w being a prefix of at least three letters), prefixed with the noun the user gave.
func suggest(w, noun string, kinds ...wordKind) []string {
	type cand struct {
		s string
		d int
	}
	var cs []cand
	seen := map[string]bool{}
	wr := []rune(w)
	if len(wr) == 0 {
		return nil
	}
	for _, v := range vocab {
		ok := false
		for _, k := range kinds {
			ok = ok || v.kind == k
		}
		if !ok || v.word == "?" || seen[v.word] {
			continue
		}
		vr := []rune(v.word)
		limit := 1
		if len(vr) > 4 {
			limit = 2
		}
		d := limit + 1
		if len(wr) >= 3 && len(wr) < len(vr) && strings.HasPrefix(v.word, w) {
			d = 1
		} else if abs(len(vr)-len(wr)) <= limit {
			d = osa(wr, vr)
		}
		if d > limit || d >= len(vr) {
			continue
		}
		seen[v.word] = true
		s := v.word
		if noun != "" {
			s = noun + " " + s
		}
		cs = append(cs, cand{s, d})
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && (cs[j].d < cs[j-1].d || cs[j].d == cs[j-1].d && cs[j].s < cs[j-1].s); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
	var out []string
	for _, c := range cs {
		if len(out) == 3 {
			break
		}
		out = append(out, c.s)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// osa is the optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "strat" is one edit from "start".
func osa(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
