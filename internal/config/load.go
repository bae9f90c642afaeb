// Package config loads the one admin config file strictly: unknown keys,
// unset environment variables, bad values and missing secrets are all reported
// at once, each with its key path and line, before anything starts.
//
// The order is alertmanager's: defaults, then the YAML (with ${VAR} expanded
// on the node tree so lines stay right), then *_file twins, then Validate.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile or mistaken file from hanging the loader.
const (
	maxConfigBytes = 4 << 20  // the config file itself
	maxSecretBytes = 64 << 10 // a *_file secret
	maxCABytes     = 1 << 20  // a ca_file
	maxNodes       = 200_000  // YAML nodes visited (aliases included)
	maxAliasDepth  = 64       // alias chains followed
	maxProblems    = 200      // problems listed; the rest are counted
)

// Default is a Config holding every default, as Load starts from.
func Default() *Config {
	return &Config{
		Server:    Server{Listen: "127.0.0.1:8080", CallbackPath: "/wecom/callback", AdminListen: "127.0.0.1:8081"},
		DataDir:   "./data",
		Language:  "zh",
		Retention: Retention{Audit: Duration(180 * 24 * time.Hour)},
		WeCom: WeCom{
			APIBaseURL:   "https://qyapi.weixin.qq.com",
			ReplyMode:    "card",
			MaxClockSkew: Duration(10 * time.Minute),
		},
		PVE:        PVE{Timeout: Duration(15 * time.Second), TaskTimeout: Duration(5 * time.Minute)},
		Confirm:    slices.Clone(defaultConfirm),
		ConfirmTTL: Duration(5 * time.Minute),
		RateLimit:  RateLimit{PerUser: Rate{N: 20, Per: time.Minute}, PerMember: Rate{N: 30, Per: time.Minute}},
		Timezone:   DefaultTimezone,
		Alerts:     defaultAlerts(),
	}
}

// Load reads the config file at path: expands ${VAR}, decodes strictly,
// reads *_file twins (relative to the file's directory), applies defaults and
// validates. The error is Problems listing everything wrong at once.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("config: read %s: larger than %d bytes", path, maxConfigBytes)
	}
	return Parse(data, path)
}

// Parse is Load from bytes. name is used in messages and as Config.Path;
// relative *_file and ca_file paths are taken relative to its directory.
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name, os.LookupEnv)
}

func parse(data []byte, name string, env func(string) (string, bool)) (*Config, error) {
	c := Default()
	c.Path = name
	d := &decoder{
		env:      env,
		lines:    map[string]int{},
		set:      map[string]bool{},
		expanded: map[*yaml.Node]bool{},
	}
	if root := d.document(data); root != nil {
		d.value(root, reflect.ValueOf(c).Elem(), "")
	}
	c.lines = &lineIndex{m: d.lines}
	c.WeCom.MaxClockSkewSet = d.set["wecom.max_clock_skew"]
	d.readSecretFiles(c, filepath.Dir(name))

	ps := d.problems
	if d.syntaxErr || d.tooBig {
		// The tree is incomplete: checking it would only add noise.
		for i := range ps {
			ps[i].File = name
		}
		return nil, ps.sorted().capped()
	}
	bad := map[string]bool{}
	for _, p := range ps {
		bad[p.Key] = true
	}
	for _, p := range c.Validate() {
		// A key already reported while decoding (bad type, unset variable,
		// unreadable file) would only be reported again as empty or zero.
		if bad[p.Key] || bad[p.Key+"_file"] {
			continue
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		for i := range ps {
			ps[i].File = name
		}
		return nil, ps.sorted().capped()
	}
	return c, nil
}

// decoder walks the yaml.Node tree against the Config struct, so that every
// unknown key, bad value and unset variable is found (not just the first) and
// each is reported with its full key path and line.
type decoder struct {
	env       func(string) (string, bool)
	problems  Problems
	lines     map[string]int  // key path -> line
	set       map[string]bool // key paths given a non-null value
	expanded  map[*yaml.Node]bool
	visited   int
	tooBig    bool
	syntaxErr bool
}

func (d *decoder) add(key string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into its root node; nil for an empty file or a syntax
// error (reported).
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntax(data, err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.add("", next.Line, "only one YAML document is allowed (remove the extra ---)")
	} else if !errors.Is(err, io.EOF) {
		d.syntax(data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) syntax(data []byte, err error) {
	d.syntaxErr = true
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if at := problemLine(data, line, m[2]); at != line {
			d.add("", at, "%s (in the block that starts at line %d)", m[2], line)
			return
		}
		d.add("", line, "%s", m[2])
		return
	}
	d.add("", 0, "%s", strings.TrimPrefix(msg, "yaml: "))
}

// problemLine finds the line a YAML parser error is about. yaml.v3 reports where the
// enclosing block starts ("line 20: did not find expected key" for a mis-indented key
// on line 51), not where the parser gave up. A document cut after a line boundary is
// usually still valid YAML, so the first cut at or after that line which fails with
// the same message ends at the offending line. When no cut does, line stays.
func problemLine(data []byte, line int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	// Bounded: a real config is a few hundred lines; a huge or hostile file keeps the
	// parser's own line rather than costing a parse per line.
	if line < 1 || line > len(lines) || len(data) > 256<<10 || len(lines) > 2000 {
		return line
	}
	end := 0
	for _, l := range lines[:line-1] {
		end += len(l)
	}
	for k := line; k <= len(lines); k++ {
		end += len(lines[k-1])
		var n yaml.Node
		err := yaml.Unmarshal(data[:end], &n)
		if err == nil {
			continue
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return k
		}
	}
	return line
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// deref follows aliases; nil when the chain is too long.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// value decodes n into v, reporting problems under path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n = deref(n); n == nil {
		d.add(path, 0, "alias chain too long")
		return
	}
	if d.visited++; d.visited > maxNodes {
		if !d.tooBig {
			d.tooBig = true
			d.add(path, n.Line, "the file has too many values (aliases included); stopped here")
		}
		return
	}
	if isNull(n) {
		return // an empty key keeps its default
	}
	if path != "" {
		d.set[path] = true
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		d.custom(n, v.Addr().Interface().(yaml.Unmarshaler), path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(path, n.Line, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p := index(path, i)
			d.lines[p] = c.Line
			d.value(c, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(path, n.Line, "must be a mapping (name: value)")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		d.entries(n, path, func(k, val *yaml.Node, p string) {
			d.lines[p] = k.Line
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(val, e, p)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		})
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, path, "must be a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		s, ok := d.scalar(n, path, "must be a whole number")
		if !ok {
			return
		}
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			d.add(path, n.Line, "must be a whole number")
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		s, ok := d.scalar(n, path, "must be true or false")
		if !ok {
			return
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.add(path, n.Line, "must be true or false")
		}
	default:
		d.add(path, n.Line, "cannot be decoded (internal: %s)", v.Kind())
	}
}

// structure decodes a mapping into a struct by yaml tags; unknown keys are problems.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "must be a mapping (key: value)")
		return
	}
	fields := map[string]int{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" && t.Field(i).IsExported() {
			fields[tag] = i
		}
	}
	d.entries(n, path, func(k, val *yaml.Node, p string) {
		fi, ok := fields[k.Value]
		if !ok {
			if k.Value == "<<" {
				d.add(p, k.Line, "merge keys (<<) are not supported; repeat the values")
			} else {
				d.add(p, k.Line, "unknown key")
			}
			return
		}
		d.lines[p] = k.Line
		d.value(val, v.Field(fi), p)
	})
}

// entries calls fn for each key and value of the mapping n, with the key's path; keys
// that are not plain names or are given twice are problems and skipped.
func (d *decoder) entries(n *yaml.Node, path string, fn func(k, val *yaml.Node, p string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.add(path, n.Content[i].Line, "keys must be plain names")
			continue
		}
		p := join(path, k.Value)
		if d.duplicate(seen, k, p) {
			continue
		}
		fn(k, n.Content[i+1], p)
	}
}

// duplicate reports a key given twice in one mapping (yaml.v3 only checks
// that when decoding into a struct, not into a Node).
func (d *decoder) duplicate(seen map[string]int, k *yaml.Node, path string) bool {
	if first, dup := seen[k.Value]; dup {
		d.add(path, k.Line, "given twice (first at line %d)", first)
		return true
	}
	seen[k.Value] = k.Line
	return false
}

// custom hands a node to a type's own UnmarshalYAML, after expanding
// variables in it.
func (d *decoder) custom(n *yaml.Node, u yaml.Unmarshaler, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !d.expand(n, path) {
			return
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := index(path, i)
			d.lines[p] = c.Line
			if c = deref(c); c != nil && c.Kind == yaml.ScalarNode && !d.expand(c, p) {
				return
			}
		}
	}
	if err := u.UnmarshalYAML(n); err != nil {
		d.add(path, n.Line, "%s", err.Error())
	}
}

// scalar gives n's expanded value, or reports what it must be.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.add(path, n.Line, "%s", want)
		return "", false
	}
	if !d.expand(n, path) {
		return "", false
	}
	return n.Value, true
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} in n.Value once ($${ is a literal ${). Problems name
// the variable and the key, never the value.
func (d *decoder) expand(n *yaml.Node, path string) bool {
	if d.expanded[n] {
		return true
	}
	d.expanded[n] = true
	s := n.Value
	if !strings.Contains(s, "${") {
		return true
	}
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' { // $${ -> ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.add(path, n.Line, "unterminated ${ (write $${ for a literal ${)")
			return false
		}
		name := s[i+2 : i+end]
		s = s[i+end+1:]
		if !envName.MatchString(name) {
			d.add(path, n.Line, "${%s}: not a valid environment variable name", truncate(name, 40))
			ok = false
			continue
		}
		val, set := d.env(name)
		if !set {
			d.add(path, n.Line, "environment variable %s is not set", name)
			ok = false
			continue
		}
		b.WriteString(val)
	}
	if ok {
		n.Value = b.String()
	}
	return ok
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// readSecretFiles fills each secret from its *_file twin (read, trimmed, not
// empty) and rewrites relative *_file and ca_file paths against dir.
func (d *decoder) readSecretFiles(c *Config, dir string) {
	type twin struct {
		key  string
		val  *Secret
		file *string
	}
	twins := []twin{
		{"wecom.secret", &c.WeCom.Secret, &c.WeCom.SecretFile},
		{"wecom.token", &c.WeCom.Token, &c.WeCom.TokenFile},
		{"wecom.encoding_aes_key", &c.WeCom.EncodingAESKey, &c.WeCom.EncodingAESKeyFile},
		{"pve_webhook.secret", &c.PVEWebhook.Secret, &c.PVEWebhook.SecretFile},
		{"wecom.smartbot.secret", &c.WeCom.SmartBot.Secret, &c.WeCom.SmartBot.SecretFile},
		{"wecom.smartbot.token", &c.WeCom.SmartBot.Token, &c.WeCom.SmartBot.TokenFile},
		{"wecom.smartbot.encoding_aes_key", &c.WeCom.SmartBot.EncodingAESKey, &c.WeCom.SmartBot.EncodingAESKeyFile},
	}
	for i := range c.PVE.Clusters {
		cl := &c.PVE.Clusters[i]
		twins = append(twins, twin{fmt.Sprintf("pve.clusters[%d].token_secret", i), &cl.TokenSecret, &cl.TokenSecretFile})
		if strings.TrimSpace(cl.CAFile) != "" {
			cl.CAFile = relativeTo(dir, strings.TrimSpace(cl.CAFile))
		}
	}
	for _, t := range twins {
		fileKey := t.key + "_file"
		name := strings.TrimSpace(*t.file)
		if name == "" {
			continue
		}
		if *t.val != "" {
			d.add(t.key, lineOf(d.lines, fileKey), "give %s or %s, not both", t.key, fileKey)
			continue
		}
		*t.file = relativeTo(dir, name)
		data, err := readSmall(*t.file, maxSecretBytes)
		if err != nil {
			d.add(fileKey, lineOf(d.lines, fileKey), "%v", err)
			continue
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			d.add(fileKey, lineOf(d.lines, fileKey), "file %s is empty", *t.file)
			continue
		}
		*t.val = Secret(v)
	}
}

func relativeTo(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// readSmall reads a regular file of at most max bytes. Errors name the path,
// never the content.
func readSmall(path string, max int64) ([]byte, error) {
	// Stat before opening, and open without blocking: opening a FIFO for reading waits
	// for a writer, which would hang check, start-up and every reload.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathless(err))
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathless(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathless(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathless(err))
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// pathless drops the path an *fs.PathError repeats.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lineOf finds the line of key, or of its nearest ancestor that has one.
func lineOf(lines map[string]int, key string) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}
