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
	VerbSnapshots   Verb = "snapshots"
	VerbSnapshot    Verb = "snapshot"
	VerbRollback    Verb = "rollback"
	VerbDelSnapshot Verb = "delsnapshot"
	VerbConfirm     Verb = "confirm"
	VerbCancel      Verb = "cancel"
	VerbWhoami      Verb = "whoami"
	VerbIP          Verb = "ip"
	VerbMute        Verb = "mute" // an alert card's button only

	VerbBackupStatus Verb = "backup_status"
	VerbBackupList   Verb = "backup_list"
	VerbBackup       Verb = "backup"
)

// Guest kinds as PVE names them; Command.Kind is one of these or "" for both.
const (
	KindQEMU = "qemu"
	KindLXC  = "lxc"
)

// Command is one parsed command. Fields that a verb does not use stay zero.
type Command struct {
	Verb   Verb
	Kind   string   // "" (any guest) | "qemu" | "lxc": set by "ct ..." / "qemu ..."
	Target string   // guest (VMID, name, part of a name, "cluster/x") or node; lower-case
	Filter string   // list filter, lower-case, may hold spaces
	N      int      // audit: entries wanted, 0 = the dispatcher's default
	Code   string   // confirm/cancel: upper-case
	Topic  string   // help: canonical command name ("start", "node"...), "" = overview
	Args   []string // ArgTargetArgs: the words after the target, lower-case (a snapshot name, a node…); confirm: a typed node name
	// Selector is the guests of a bulk power action ("tag:lab", "*"), lower-case; Target is
	// then empty.
	Selector string
	Raw      string // the input exactly as received
}

// Action returns the action name that roles allow for c ("start", "list", "node"...), or ""
// for help, confirm and cancel, which every listed user may use (confirm re-checks the
// confirmed action's own right). It is the row's Spec.Action.
func (c Command) Action() string {
	if s, ok := specOf(c.Verb); ok {
		return s.Action
	}
	return ""
}

// IsPower reports whether c changes state (Spec.Changes): the commands read_only refuses
// and protected guests reserve to admins.
func (c Command) IsPower() bool {
	s, ok := specOf(c.Verb)
	return ok && s.Changes
}

// ParseError says why an input is not a command. Msg is English for logs; Message renders
// the same sentence in the user's language. Suggestions are left to the caller (catalog key
// "did_you_mean", joined with "list_sep").
type ParseError struct {
	Input       string   // the input (cut to MaxInputBytes)
	Msg         string   // English, no user secrets beyond the words typed
	Suggestions []string // close command words as typed ("vm start"), best first; may be empty
	// Fixes are the whole commands the user most likely meant, with what else they typed
	// kept ("vm strat 101" -> "vm start 101" / "启动 101"), best first; may be empty.
	Fixes []Text
	Verb  Verb   // the command that was recognised before the error, if any ("启动" without a target)
	Key   string // i18n key of Msg
	Args  []any  // arguments of Key
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

// entry is one word of the vocabulary: a noun (noun >= 0) or a word of a command
// (spec >= 0, an index in table).
type entry struct {
	word   string
	family string // the noun's family, or the family of the command (Spec.Noun)
	spec   int
	noun   int
	named  bool // a command word that holds a noun of its family: it stands alone
}

// first reports whether e may start a command: a noun, a word of a standalone family, or a
// word that holds its family's noun ("重启节点").
func (e entry) first() bool { return e.noun >= 0 || standalone(e.family) || e.named }

// vocab holds every word of the table and of nouns; vocabIndex maps a word to its entries;
// hanWords are the words that start with a non-ASCII rune, longest first: a command word
// touching what follows ("启动101") is split at the longest of them. Built by buildVocab.
var (
	vocab      []entry
	vocabIndex map[string][]int
	hanWords   []string
)

func buildVocab() {
	vocab = nil
	for j, n := range nouns {
		vocab = append(vocab, entry{word: n.word, family: n.family, spec: -1, noun: j})
	}
	for i, s := range table {
		for _, w := range s.Words {
			named := false
			for _, n := range nouns {
				named = named || (s.Noun != "" && n.family == s.Noun && w != n.word && strings.Contains(w, n.word))
			}
			vocab = append(vocab, entry{word: w, family: s.Noun, spec: i, noun: -1, named: named})
		}
	}
	vocabIndex = map[string][]int{}
	hanWords = nil
	for i, v := range vocab {
		if len(vocabIndex[v.word]) == 0 && v.word[0] >= utf8.RuneSelf {
			hanWords = append(hanWords, v.word)
		}
		vocabIndex[v.word] = append(vocabIndex[v.word], i)
	}
	slices.SortStableFunc(hanWords, func(a, b string) int { return len(b) - len(a) })
}

// lookup finds word among the entries that ok accepts, nouns first, then in table order.
func lookup(word string, ok func(entry) bool) (entry, bool) {
	for _, i := range vocabIndex[word] {
		if ok(vocab[i]) {
			return vocab[i], true
		}
	}
	return entry{}, false
}

func isFirst(e entry) bool { return e.first() }

// inFamily accepts the command words (not nouns) of family.
func inFamily(family string) func(entry) bool {
	return func(e entry) bool { return e.spec >= 0 && e.family == family }
}

// cmdParser walks the normalized tokens.
type cmdParser struct {
	raw         string
	toks        []string
	i           int
	spec        *Spec  // the command recognised so far
	typedPrefix string // what the user typed before the word being looked up ("vm", "help")
}

// keyword returns the token at the cursor as a command word, splitting a known word off
// its tail first ("启动101" -> "启动" "101", "vm启动" -> "vm" "启动"). It does not advance.
func (p *cmdParser) keyword() (string, bool) {
	if p.i >= len(p.toks) {
		return "", false
	}
	t := p.toks[p.i]
	if len(vocabIndex[t]) > 0 {
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
		if len(vocabIndex[t[:j]]) > 0 {
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
	pe := newParseError(p.raw, sugg, key, args...)
	if p.spec != nil {
		pe.Verb = p.spec.Verb
	}
	return pe
}

// failWord refuses the word at the cursor, suggesting the close candidates with the rest
// of the input kept; prefix is what the user typed before the word (a noun, "help").
func (p *cmdParser) failWord(cands []entry, prefix Text, kind string, key string, args ...any) error {
	var sugg []string
	var fixes []Text
	rest := p.toks[min(p.i+1, len(p.toks)):]
	for _, c := range cands {
		s := c.word
		if p.typedPrefix != "" {
			s = p.typedPrefix + " " + s
		}
		sugg = append(sugg, s)
		fixes = append(fixes, fixOf(c, prefix, kind, rest))
	}
	pe := p.fail(sugg, key, args...).(*ParseError)
	pe.Fixes = fixes
	return pe
}

// fixOf is the whole command that entry e stands for, in both languages, after prefix and
// before rest.
func fixOf(e entry, prefix Text, kind string, rest []string) Text {
	var en, zh []string
	if prefix.EN != "" {
		en, zh = append(en, prefix.EN), append(zh, prefix.ZH)
	}
	if e.noun >= 0 {
		n := nouns[e.noun]
		en, zh = append(en, nounWord(n.family, n.kind, false)), append(zh, nounWord(n.family, n.kind, true))
	} else {
		s := &table[e.spec]
		if prefix.EN == "" || s.Noun != "" && !standalone(s.Noun) {
			if w := nounWord(s.Noun, kind, false); w != "" {
				en = append(en, w)
			}
			if w := nounWord(s.Noun, kind, true); w != "" && (kind != "" || !standalone(s.Noun)) {
				zh = append(zh, w)
			}
		}
		en, zh = append(en, canonical(s.Words, "a")), append(zh, canonical(s.Words, "中"))
	}
	en, zh = append(en, rest...), append(zh, rest...)
	return Text{EN: strings.Join(en, " "), ZH: strings.Join(zh, " ")}
}

// nounWord is the canonical noun of family and kind in English or Chinese ("vm", "容器",
// "节点"), or "" for a family without nouns.
func nounWord(family, kind string, zh bool) string {
	for _, n := range nouns {
		if n.family == family && n.kind == kind && (n.word[0] >= utf8.RuneSelf) == zh {
			return n.word
		}
	}
	return ""
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
	e, ok := lookup(w, isFirst)
	if !ok {
		return Command{}, p.failWord(suggest(w, isFirst), Text{}, "", "parse_unknown", clipWord(w))
	}
	p.i++
	if e.noun >= 0 {
		return p.family(w, nouns[e.noun])
	}
	s := &table[e.spec]
	if s.Verb == VerbGuestStatus && len(p.rest()) == 0 {
		return Command{Verb: VerbStatus}, nil // "status" alone: the cluster summary
	}
	return p.args(w, s, "")
}

// family parses what follows a noun ("vm", "容器", "节点"): a word of its family, or
// nothing for the family's Bare row.
func (p *cmdParser) family(w string, n noun) (Command, error) {
	if p.i >= len(p.toks) {
		for i := range table {
			if table[i].Noun == n.family && table[i].Bare {
				return p.args(w, &table[i], n.kind)
			}
		}
	}
	sub, _ := p.keyword()
	e, ok := lookup(sub, inFamily(n.family))
	if !ok {
		p.typedPrefix = w
		cands := suggest(sub, inFamily(n.family))
		if len(cands) == 0 && len(p.rest()) == 1 && validTarget(sub) {
			if s := familyTarget(n.family); s != nil { // "node pve1": most likely its status
				e := entry{word: canonical(s.Words, w), family: n.family, spec: slices.IndexFunc(table, func(x Spec) bool { return x.Verb == s.Verb }), noun: -1}
				err := p.failWord([]entry{e}, Text{}, n.kind, "parse_unknown_verb", w, clipWord(sub)).(*ParseError)
				err.Suggestions[0] += " " + sub
				err.Fixes[0] = fixOf(e, Text{}, n.kind, []string{sub})
				return Command{}, err
			}
		}
		return Command{}, p.failWord(cands, Text{}, n.kind, "parse_unknown_verb", w, clipWord(sub))
	}
	p.i++
	return p.args(w+" "+sub, &table[e.spec], n.kind)
}

// familyTarget is the first read-only row of family that takes a target (its status).
func familyTarget(family string) *Spec {
	for i := range table {
		if s := &table[i]; s.Noun == family && s.Args == ArgTarget && !s.Changes {
			return s
		}
	}
	return nil
}

// canonical is the first of words in the script of like: Chinese for a Chinese word,
// English otherwise.
func canonical(words []string, like string) string {
	han := like != "" && like[0] >= utf8.RuneSelf
	for _, w := range words {
		if (w[0] >= utf8.RuneSelf) == han {
			return w
		}
	}
	return words[0]
}

// args parses the arguments of s; what names the command as typed, for messages.
func (p *cmdParser) args(what string, s *Spec, kind string) (Command, error) {
	p.spec = s
	if r := p.rest(); len(r) > 0 && s.Sub[r[0]] != "" {
		if sub, ok := specOf(s.Sub[r[0]]); ok { // "backup status": the row the word names
			p.i++
			return p.args(what+" "+r[0], sub, kind)
		}
	}
	if s.QEMUOnly && kind == KindLXC {
		return Command{}, p.fail(nil, "parse_ct_reset")
	}
	c := Command{Verb: s.Verb, Kind: kind}
	var err error
	switch s.Args {
	case ArgNone:
		if r := p.rest(); s.ListWord && len(r) > 0 && isListWord(r[0]) {
			p.i++ // "storage list", "任务 列表"
		}
		err = p.end(what)
	case ArgFilter:
		c.Filter = strings.Join(p.rest(), " ")
	case ArgTarget:
		if sel, ok := bulkSelector(p.rest()); ok && s.Bulk {
			c.Selector, p.i = sel, len(p.toks)
			break
		}
		c.Target, err = p.target(what)
	case ArgCount:
		c.N, err = p.count(what)
	case ArgCode:
		if r := p.rest(); len(r) == 2 && validTarget(r[1]) {
			c.Args = []string{r[1]} // "confirm <code> <node>": a node's name typed on top of the code
			p.toks = p.toks[:len(p.toks)-1]
		}
		c.Code, err = p.code(what)
	case ArgTopic:
		c.Topic, err = p.topic()
	case ArgTargetArgs:
		c.Target, c.Args, err = p.targetArgs(what, s)
	}
	if err != nil {
		return Command{}, err
	}
	return c, nil
}

// targetArgs takes a target and then what the row allows after it: at least MinArgs and at
// most MaxArgs words, each short.
func (p *cmdParser) targetArgs(what string, s *Spec) (string, []string, error) {
	r := p.rest()
	if len(r) == 0 {
		return "", nil, p.fail(nil, "parse_missing_target", what)
	}
	if !validTarget(r[0]) {
		return "", nil, p.fail(nil, "parse_bad_target", clipWord(r[0]))
	}
	args := r[1:]
	if len(args) < s.MinArgs {
		return "", nil, p.fail(nil, "parse_missing_arg", what)
	}
	if len(args) > s.MaxArgs {
		return "", nil, p.fail(nil, "parse_too_many", what, clipWord(strings.Join(args[s.MaxArgs:], " ")))
	}
	for _, a := range args {
		if len(a) > maxTargetLen {
			return "", nil, p.fail(nil, "parse_bad_target", clipWord(a))
		}
	}
	p.i = len(p.toks)
	return r[0], slices.Clone(args), nil
}

// isListWord reports whether w is a word of the guest list ("list", "列表").
func isListWord(w string) bool {
	s, _ := specOf(VerbList)
	return slices.Contains(s.Words, w)
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

// count parses an optional positive number ("audit 5"), clamped to MaxAuditN.
func (p *cmdParser) count(what string) (int, error) {
	r := p.rest()
	if len(r) == 0 {
		return 0, nil
	}
	if len(r) > 1 {
		return 0, p.fail(nil, "parse_too_many", what, clipWord(strings.Join(r[1:], " ")))
	}
	n, err := strconv.Atoi(r[0])
	if err != nil && isDigits(r[0]) {
		n, err = MaxAuditN, nil // a huge number: as many as we give
	}
	if err != nil || n <= 0 {
		return 0, p.fail(nil, "parse_bad_number", what, clipWord(r[0]))
	}
	p.i++
	return min(n, MaxAuditN), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// code parses the code of "confirm <code>" / "cancel <code>". Codes are compared upper-case.
func (p *cmdParser) code(what string) (string, error) {
	r := p.rest()
	if len(r) == 0 {
		return "", p.fail(nil, "parse_missing_code", what)
	}
	if len(r) > 1 {
		return "", p.fail(nil, "parse_too_many", what, clipWord(strings.Join(r[1:], " ")))
	}
	c := r[0]
	if len(c) > 64 || !validCode(c) {
		return "", p.fail(nil, "parse_bad_code", clipWord(c))
	}
	p.i++
	return strings.ToUpper(c), nil
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

// topic parses the optional topic of "help [topic]": any command word in either language,
// after an optional noun ("help vm start"; a noun alone means its family's Bare row).
func (p *cmdParser) topic() (string, error) {
	if len(p.rest()) == 0 {
		return "", nil
	}
	w, _ := p.keyword()
	e, ok := lookup(w, isFirst)
	help := Text{"help", "帮助"}
	if !ok {
		p.typedPrefix = "help"
		return "", p.failWord(suggest(w, isFirst), help, "", "parse_unknown_topic", clipWord(w))
	}
	p.i++
	what := "help " + w
	if e.noun >= 0 {
		family := nouns[e.noun].family
		e.spec = bareOf(family)
		if p.i < len(p.toks) {
			sub, _ := p.keyword()
			se, ok := lookup(sub, inFamily(family))
			if !ok {
				p.typedPrefix = what
				n := nouns[e.noun]
				prefix := Text{help.EN + " " + nounWord(n.family, n.kind, false), help.ZH + " " + nounWord(n.family, n.kind, true)}
				return "", p.failWord(suggest(sub, inFamily(family)), prefix, n.kind, "parse_unknown_topic", clipWord(sub))
			}
			p.i++
			what += " " + sub
			e = se
		}
	}
	if err := p.end(what); err != nil {
		return "", err
	}
	return table[e.spec].topic(), nil
}

// bareOf is the index of family's Bare row.
func bareOf(family string) int {
	return slices.IndexFunc(table, func(s Spec) bool { return s.Noun == family && s.Bare })
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

// suggest returns up to three vocabulary entries close to w (edit distance with
// transpositions, or w being a prefix of at least three letters), best first.
func suggest(w string, accept func(entry) bool) []entry {
	type cand struct {
		e entry
		d int
	}
	var cs []cand
	seen := map[string]bool{}
	wr := []rune(w)
	if len(wr) == 0 {
		return nil
	}
	for _, v := range vocab {
		if !accept(v) || v.word == "?" || seen[v.word] {
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
		cs = append(cs, cand{v, d})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.e.word, b.e.word)
	})
	var out []entry
	for _, c := range cs[:min(len(cs), 3)] {
		out = append(out, c.e)
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
