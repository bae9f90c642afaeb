package config

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

var (
	clusterName = regexp.MustCompile(`^[a-z0-9_-]+$`)
	// tokenID is PVE's API token id: user@realm!tokenname.
	tokenID = regexp.MustCompile(`^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9.\-_]+$`)
)

// Validate checks every rule of the config contract and reports all problems,
// each with its key path (and line when the Config came from a file). It also
// normalises what it checks, so the rest of the bot sees one form: trailing
// "/" trimmed from URLs, fingerprints as upper-case colon hex, and the parsed
// selectors in ProtectedSel and ScopeSel. Call it again after changing a Config
// by hand. It reads ca_file to check it holds a certificate.
func (c *Config) Validate() Problems {
	v := &validator{c: c}
	v.server()
	v.wecom()
	v.pve()
	v.access()
	v.push()
	v.pveWebhook()
	v.menu()
	for i := range v.ps {
		v.ps[i].File = c.Path
	}
	return v.ps
}

type validator struct {
	c  *Config
	ps Problems
}

// lineOf is the line of key (or its nearest ancestor), 0 when unknown.
func (c *Config) lineOf(key string) int {
	if c.lines == nil {
		return 0
	}
	if _, ok := c.lines.m[key]; !ok {
		// A secret read from its *_file twin: point at the twin.
		if l, ok := c.lines.m[key+"_file"]; ok {
			return l
		}
	}
	return lineOf(c.lines.m, key)
}

func (v *validator) add(key, format string, args ...any) {
	v.ps = append(v.ps, Problem{Key: key, Line: v.c.lineOf(key), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(key string, d Duration) {
	if d <= 0 {
		v.add(key, "must be a positive duration like 15s, 10m or 180d")
	}
}

// MaxClockSkewLimit is the largest wecom.max_clock_skew: how long the store remembers a
// callback to drop its duplicates (store.DefaultDedupeRetention). A timestamp accepted for
// longer than that would let a captured callback be replayed once its record is pruned.
const MaxClockSkewLimit = 48 * time.Hour

// validHostPort reports whether s is host:port with a usable port.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && !strings.ContainsAny(host, " /") && validPort(port)
}

func (v *validator) server() {
	c := v.c
	if !validHostPort(c.Server.Listen) {
		v.add("server.listen", "must be host:port, like 127.0.0.1:8080 or :8080")
	}
	switch a := c.Server.AdminListen; {
	case a == "":
		if c.Server.Console {
			v.add("server.console", "needs server.admin_listen: the console is served only there")
		}
	case !validHostPort(a):
		v.add("server.admin_listen", "must be host:port, like 127.0.0.1:8081, or \"\" for none")
	case a == c.Server.Listen && !strings.HasSuffix(a, ":0"): // :0 is a new free port each
		v.add("server.admin_listen", "must differ from server.listen: the operator's endpoints stay off the public listener")
	}
	if !strings.HasPrefix(c.Server.CallbackPath, "/") {
		v.add("server.callback_path", "must start with /, like /wecom/callback")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		v.add("data_dir", "must not be empty (default ./data)")
	}
	if c.Language != "zh" && c.Language != "en" {
		v.add("language", "must be zh or en")
	}
	v.positive("retention.audit", c.Retention.Audit)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535 && p != "" && p[0] != '+' && p[0] != '-'
}

func (v *validator) wecom() {
	w := &v.c.WeCom
	v.smartbot()
	if w.SmartBot.Configured() && !w.AppConfigured() {
		v.wecomCommon()
		return // a smart bot alone: no self-built app keys needed
	}
	if strings.TrimSpace(w.CorpID) == "" {
		v.add("wecom.corp_id", "must not be empty (the 企业ID / CorpID, starting with ww or wx)")
	}
	if w.AgentID <= 0 {
		v.add("wecom.agent_id", "must be the app's AgentId, a positive number")
	}
	v.secret("wecom.secret", w.Secret)
	v.secret("wecom.token", w.Token)
	if v.secret("wecom.encoding_aes_key", w.EncodingAESKey) {
		key := w.EncodingAESKey.Value()
		if n := utf8.RuneCountInString(key); n != 43 {
			v.add("wecom.encoding_aes_key", "must be 43 characters (got %d)", n)
		} else if b, err := base64.StdEncoding.DecodeString(key + "="); err != nil || len(b) != 32 {
			// StdEncoding, not Strict: real keys have non-zero trailing bits.
			v.add("wecom.encoding_aes_key", "must be 43 characters of base64 (A-Z a-z 0-9 + /), as WeCom generates it")
		}
	}
	v.wecomCommon()
}

// wecomCommon checks the wecom keys that have defaults, with or without an app.
func (v *validator) wecomCommon() {
	w := &v.c.WeCom
	w.APIBaseURL = strings.TrimRight(strings.TrimSpace(w.APIBaseURL), "/")
	if msg := checkURL(w.APIBaseURL); msg != "" {
		v.add("wecom.api_base_url", "%s", msg)
	} else if strings.HasSuffix(w.APIBaseURL, "/cgi-bin") {
		v.add("wecom.api_base_url", "must not end in /cgi-bin: the bot adds /cgi-bin/...")
	}
	if w.ReplyMode != "card" && w.ReplyMode != "text" {
		v.add("wecom.reply_mode", "must be card or text")
	}
	switch {
	case w.MaxClockSkew < 0:
		v.add("wecom.max_clock_skew", "must not be negative (0 turns the check off)")
	case w.MaxClockSkew.Std() > MaxClockSkewLimit:
		v.add("wecom.max_clock_skew", "must be at most 48h: callbacks are remembered for 48h, so an older one could be replayed")
	}
}

// smartbot checks wecom.smartbot when it is configured.
func (v *validator) smartbot() {
	s := &v.c.WeCom.SmartBot
	if !s.Configured() {
		return
	}
	if s.Mode == "" {
		s.Mode = "websocket"
	}
	if strings.TrimSpace(s.BotID) == "" {
		v.add("wecom.smartbot.bot_id", "must not be empty (智能机器人 → API 模式: the BotID)")
	}
	switch s.Mode {
	case "websocket":
		v.secret("wecom.smartbot.secret", s.Secret)
		if s.WSURL == "" {
			s.WSURL = "wss://openws.work.weixin.qq.com"
		}
		if u, err := url.Parse(s.WSURL); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
			v.add("wecom.smartbot.ws_url", "must be a wss:// URL, like wss://openws.work.weixin.qq.com")
		}
	case "webhook":
		v.secret("wecom.smartbot.token", s.Token)
		if v.secret("wecom.smartbot.encoding_aes_key", s.EncodingAESKey) {
			if b, err := base64.StdEncoding.DecodeString(s.EncodingAESKey.Value() + "="); len(s.EncodingAESKey.Value()) != 43 || err != nil || len(b) != 32 {
				v.add("wecom.smartbot.encoding_aes_key", "must be 43 characters of base64, as WeCom generates it")
			}
		}
		if s.CallbackPath == "" {
			s.CallbackPath = "/wecom/smartbot"
		}
		switch {
		case !strings.HasPrefix(s.CallbackPath, "/"):
			v.add("wecom.smartbot.callback_path", "must start with /, like /wecom/smartbot")
		case s.CallbackPath == v.c.Server.CallbackPath && v.c.WeCom.AppConfigured():
			v.add("wecom.smartbot.callback_path", "must differ from server.callback_path (the app's callback)")
		}
	default:
		v.add("wecom.smartbot.mode", "must be websocket or webhook")
	}
}

// secret reports an empty secret; true when it is set.
func (v *validator) secret(key string, s Secret) bool {
	if strings.TrimSpace(s.Value()) == "" {
		v.add(key, "set %s or %s_file", key, key)
		return false
	}
	return true
}

// checkURL says what is wrong with an API base URL, or "". It never echoes the
// URL, which could carry credentials.
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "must not be empty"
	case err != nil:
		return "must be an absolute http:// or https:// URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an absolute http:// or https:// URL"
	case u.Host == "" || u.Hostname() == "":
		return "must be an absolute http:// or https:// URL with a host"
	case u.User != nil:
		return "must not carry user:password@"
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return "must not have a query or fragment"
	}
	return ""
}

func (v *validator) pve() {
	p := &v.c.PVE
	v.positive("pve.timeout", p.Timeout)
	v.positive("pve.task_timeout", p.TaskTimeout)
	names := map[string]string{}
	for i := range p.Clusters {
		cl := &p.Clusters[i]
		key := fmt.Sprintf("pve.clusters[%d]", i)
		nameOK := false
		switch {
		case cl.Name == "":
			v.add(key+".name", "must not be empty (it is the prefix in home/101)")
		case !clusterName.MatchString(cl.Name):
			v.add(key+".name", "must be lower-case letters, digits, - or _ (it is the prefix in home/101)")
		default:
			if prev, dup := names[cl.Name]; dup {
				v.add(key+".name", "%q is already used by %s", cl.Name, prev)
			} else {
				names[cl.Name] = key
			}
			nameOK = true
		}
		cl.BaseURL = v.pveURL(key+".base_url", cl.BaseURL)
		if cl.WebURL = strings.TrimRight(strings.TrimSpace(cl.WebURL), "/"); cl.WebURL == "" {
			cl.WebURL = cl.BaseURL
		} else if msg := checkURL(cl.WebURL); msg != "" {
			v.add(key+".web_url", "%s (the PVE web UI as people open it, like https://pve.home.lan:8006)", msg)
		}
		for j := range cl.Endpoints {
			cl.Endpoints[j] = v.pveURL(fmt.Sprintf("%s.endpoints[%d]", key, j), cl.Endpoints[j])
		}
		switch {
		case cl.TokenID == "":
			v.add(key+".token_id", "must not be empty (an API token id like chatbot@pve!bot)")
		case !tokenID.MatchString(cl.TokenID):
			v.add(key+".token_id", "must be an API token id user@realm!tokenname, like chatbot@pve!bot")
		}
		v.secret(key+".token_secret", cl.TokenSecret)
		v.tls(key, cl)
		cl.ProtectedSel = nil
		for j, e := range cl.Protected {
			ek := fmt.Sprintf("%s.protected[%d]", key, j)
			s, err := selector.Parse(e)
			if err != nil {
				v.add(ek, "%v", err)
				continue
			}
			if s.Cluster() != "" && nameOK && s.Cluster() != cl.Name {
				v.add(ek, "selector %q names cluster %q; protected entries belong to this cluster (%s): drop the prefix", e, s.Cluster(), cl.Name)
				continue
			}
			cl.ProtectedSel = append(cl.ProtectedSel, s)
		}
	}
}

// pveURL checks one PVE URL and gives it normalised.
func (v *validator) pveURL(key, s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if msg := checkURL(s); msg != "" {
		v.add(key, "%s (like https://192.168.1.10:8006)", msg)
	} else if strings.HasSuffix(s, "/api2/json") || strings.HasSuffix(s, "/api2") {
		v.add(key, "must not end in /api2/json: the bot adds /api2/json")
	}
	return s
}

func (v *validator) tls(key string, cl *Cluster) {
	n := 0
	if len(cl.Fingerprint) > 0 {
		n++
	}
	if cl.CAFile != "" {
		n++
	}
	if cl.InsecureSkipVerify {
		n++
	}
	if n > 1 {
		v.add(key, "set at most one of fingerprint, ca_file and insecure_skip_verify")
	}
	for j, f := range cl.Fingerprint {
		fk := key + ".fingerprint"
		if v.c.lineOf(fk+"[0]") != v.c.lineOf(fk) || len(cl.Fingerprint) > 1 {
			fk = fmt.Sprintf("%s[%d]", fk, j)
		}
		norm, ok := NormalizeFingerprint(f)
		if !ok {
			v.add(fk, "must be a SHA-256 fingerprint: 32 bytes in hex, colons optional (openssl x509 -noout -fingerprint -sha256)")
			continue
		}
		cl.Fingerprint[j] = norm
	}
	if cl.CAFile != "" {
		data, err := readSmall(cl.CAFile, maxCABytes)
		if err != nil {
			v.add(key+".ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(data) {
			v.add(key+".ca_file", "%s holds no PEM certificate (pve-root-ca.pem is one)", cl.CAFile)
		}
	}
}

// NormalizeFingerprint turns a SHA-256 fingerprint in hex (colons and case
// optional) into the upper-case colon form "AB:CD:...", as PVE shows it; ok is
// false when it is not 32 bytes of hex.
func NormalizeFingerprint(s string) (string, bool) {
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return "", false
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":"), true
}

func (v *validator) access() {
	c := v.c
	builtin := BuiltinRoles()
	for _, name := range slices.Sorted(maps.Keys(c.Roles)) {
		key := "roles." + name
		if strings.TrimSpace(name) == "" {
			v.add("roles", "a role name must not be empty")
		}
		for j, a := range c.Roles[name].Allow {
			if !slices.Contains(Actions, a) {
				v.add(fmt.Sprintf("%s.allow[%d]", key, j), "unknown action %q; use one of %s", a, strings.Join(Actions, ", "))
			}
		}
	}
	clusters := map[string]bool{}
	for _, cl := range c.PVE.Clusters {
		clusters[cl.Name] = true
	}
	ids := map[string]string{}
	for i := range c.Users {
		u := &c.Users[i]
		key := fmt.Sprintf("users[%d]", i)
		id := strings.ToLower(strings.TrimSpace(u.ID))
		switch {
		case id == "":
			v.add(key+".id", "must not be empty (the member's WeCom UserID)")
		default:
			if prev, dup := ids[id]; dup {
				v.add(key+".id", "%q is already listed as %s (UserIDs are matched case-insensitively)", u.ID, prev)
			} else {
				ids[id] = key
			}
		}
		_, custom := c.Roles[u.Role]
		_, built := builtin[u.Role]
		switch {
		case u.Role == "":
			v.add(key+".role", "must not be empty: admin, operator, viewer or a role from roles")
		case !custom && !built:
			v.add(key+".role", "unknown role %q: use admin, operator, viewer or define it under roles", u.Role)
		}
		u.ScopeSel = nil
		for j, e := range u.Scope {
			ek := fmt.Sprintf("%s.scope[%d]", key, j)
			s, err := selector.Parse(e)
			if err != nil {
				v.add(ek, "%v", err)
				continue
			}
			if s.Cluster() != "" && !clusters[s.Cluster()] {
				v.add(ek, "selector %q names cluster %q, which is not in pve.clusters", e, s.Cluster())
				continue
			}
			u.ScopeSel = append(u.ScopeSel, s)
		}
	}
	for i, a := range c.Confirm {
		if !slices.Contains(PowerActions, a) {
			v.add(fmt.Sprintf("confirm[%d]", i), "%q is not a power action; use %s", a, strings.Join(PowerActions, ", "))
		}
	}
	v.positive("confirm_ttl", c.ConfirmTTL)
}
