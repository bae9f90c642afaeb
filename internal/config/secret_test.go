package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"
)

func TestSecretPrinting(t *testing.T) {
	const value = "Sup3r-Distinct1ve-Value"
	s := Secret(value)
	c := mustParse(t, strings.Replace(minimal, "secret: s3cret", "secret: "+value, 1))
	if got := c.WeCom.Secret.Value(); got != value {
		t.Fatalf("Value() = %q, want %q", got, value)
	}
	hexValue := fmt.Sprintf("%x", value)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outputs["Secret "+verb] = fmt.Sprintf(verb, s)
		outputs["Config "+verb] = fmt.Sprintf(verb, c)
		outputs["*Config "+verb] = fmt.Sprintf(verb, *c)
	}
	outputs["String()"] = s.String()
	outputs["GoString()"] = s.GoString()
	outputs["Println"] = fmt.Sprintln(s, c.WeCom)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	outputs["json"] = string(js)
	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	outputs["yaml"] = string(ys)
	txt, _ := s.MarshalText()
	outputs["text"] = string(txt)

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("config", zap.Any("config", c), zap.Any("wecom", c.WeCom), zap.Stringer("secret", s))
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			b, _ := json.Marshal(v)
			outputs["zap "+k] = string(b) + fmt.Sprint(v)
		}
	}

	for name, out := range outputs {
		if strings.Contains(out, value) || strings.Contains(strings.ToLower(out), hexValue) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	var decoded struct{ WeCom struct{ Secret string } }
	if err := json.Unmarshal(js, &decoded); err != nil || decoded.WeCom.Secret != "<secret>" {
		t.Errorf("json secret = %q (%v), want <secret>", decoded.WeCom.Secret, err)
	}
	for _, name := range []string{"Secret %v", "Secret %q", "Secret %x", "Secret %#v", "yaml", "text"} {
		if !strings.Contains(outputs[name], "<secret>") {
			t.Errorf("%s = %q, want it to show <secret>", name, outputs[name])
		}
	}
}

// TestSecretsNeverInProblems feeds distinctive secret values into every place
// that can fail and checks no problem message repeats them.
func TestSecretsNeverInProblems(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "aes", "FILE-AES-distinct-42\n")
	secrets := []string{"INLINE-secret-distinct", "ENV-token-distinct", "FILE-AES-distinct-42", "PVE-token-distinct", "AES-INLINE-distinct"}
	doc := `wecom:
  corp_id: ww1
  agent_id: INLINE-secret-distinct
  secret: [INLINE-secret-distinct]
  token: ${TOK}
  token_file: x
  encoding_aes_key_file: aes
pve:
  timeout: PVE-token-distinct
  clusters:
    - name: PVE-token-distinct
      base_url: https://PVE-token-distinct@h/?PVE-token-distinct
      token_id: PVE-token-distinct
      token_secret: {a: PVE-token-distinct}
      fingerprint: AES-INLINE-distinct
rate_limit: {per_user: ENV-token-distinct}
confirm_ttl: ENV-token-distinct
`
	c, err := parse([]byte(doc), filepath.Join(dir, "config.yaml"), func(k string) (string, bool) {
		return "ENV-token-distinct", k == "TOK"
	})
	if err == nil {
		t.Fatalf("parse = %+v, want problems", c)
	}
	msg := err.Error()
	t.Log(msg)
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("problems contain secret %q:\n%s", s, msg)
		}
	}
	if want := "config.yaml:7: wecom.encoding_aes_key: must be 43 characters (got 20)"; !strings.Contains(msg, want) {
		t.Errorf("problems lack %q (a file secret points at its *_file line)", want)
	}
	if n := strings.Count(msg, "\n") + 1; n < 8 {
		t.Errorf("got %d problems, want at least 8:\n%s", n, msg)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretFiles(t *testing.T) {
	const head = "wecom:\n  corp_id: ww1\n  agent_id: 1\n  token: t\n  encoding_aes_key: " + fakeAESKey + "\n"
	tests := []struct {
		name    string
		files   map[string]string // relative to the config dir
		extra   string            // appended to head
		want    string            // secret value, when valid
		wantErr string            // problem substring
	}{
		{"inline", nil, "  secret: inline\n", "inline", ""},
		{"file trimmed", map[string]string{"s.txt": "  from-file \n\n"}, "  secret_file: s.txt\n", "from-file", ""},
		{"file in subdir", map[string]string{"secrets/s": "sub"}, "  secret_file: secrets/s\n", "sub", ""},
		{"both", map[string]string{"s.txt": "x"}, "  secret: a\n  secret_file: s.txt\n", "", "config.yaml:7: wecom.secret: give wecom.secret or wecom.secret_file, not both"},
		{"neither", nil, "", "", "config.yaml:1: wecom.secret: set wecom.secret or wecom.secret_file"},
		{"empty file", map[string]string{"s.txt": " \n\t\n"}, "  secret_file: s.txt\n", "", "config.yaml:6: wecom.secret_file: file "},
		{"missing file", nil, "  secret_file: nope.txt\n", "", "config.yaml:6: wecom.secret_file: cannot read "},
		{"directory", map[string]string{"d/x": "x"}, "  secret_file: d\n", "", "is not a regular file"},
		{"too large", map[string]string{"big": strings.Repeat("a", maxSecretBytes+1)}, "  secret_file: big\n", "", "is larger than"},
		{"env in file name", map[string]string{"s.txt": "via-env-name"}, "  secret_file: ${SECRET_NAME}\n", "via-env-name", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				write(t, dir, name, content)
			}
			path := write(t, dir, "config.yaml", head+tt.extra)
			c, err := parse(mustRead(t, path), path, func(k string) (string, bool) { return "s.txt", k == "SECRET_NAME" })
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parse ok, want problem %q", tt.wantErr)
				}
				if got := strings.ReplaceAll(err.Error(), path, "config.yaml"); !strings.Contains(got, tt.wantErr) {
					t.Errorf("problems = %q, want %q", got, tt.wantErr)
				}
				if n := strings.Count(err.Error(), "\n"); n != 0 {
					t.Errorf("got %d problems, want one: %v", n+1, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := c.WeCom.Secret.Value(); got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadRelativeFiles loads through Load, from another working directory's
// point of view: every *_file and ca_file is relative to the config file.
func TestLoadRelativeFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "conf/secret", "ws\n")
	write(t, dir, "conf/token", "tk")
	write(t, dir, "conf/aes", fakeAESKey+"\n")
	write(t, dir, "conf/pve", "pt")
	write(t, dir, "conf/ca.pem", testCertPEM(t))
	path := write(t, dir, "conf/config.yaml", `wecom:
  corp_id: ww1
  agent_id: 1
  secret_file: secret
  token_file: ./token
  encoding_aes_key_file: aes
pve:
  clusters:
    - name: home
      base_url: https://h:8006
      token_id: a@pve!bot
      token_secret_file: pve
      ca_file: ca.pem
`)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := map[string][2]string{
		"secret":       {c.WeCom.Secret.Value(), "ws"},
		"token":        {c.WeCom.Token.Value(), "tk"},
		"aes":          {c.WeCom.EncodingAESKey.Value(), fakeAESKey},
		"token_secret": {c.PVE.Clusters[0].TokenSecret.Value(), "pt"},
		"ca_file":      {c.PVE.Clusters[0].CAFile, filepath.Join(dir, "conf", "ca.pem")},
		"secret_file":  {c.WeCom.SecretFile, filepath.Join(dir, "conf", "secret")},
	}
	for name, ck := range checks {
		if ck[0] != ck[1] {
			t.Errorf("%s = %q, want %q", name, ck[0], ck[1])
		}
	}
}

func TestCAFile(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"cert", testCertPEM(t), ""},
		{"not pem", "hello", "holds no PEM certificate"},
		{"key only", "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n", "holds no PEM certificate"},
		{"missing", "", "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				write(t, dir, "ca.pem", tt.content)
			}
			doc := minimal + "pve:\n  clusters:\n    - name: home\n      base_url: https://h:8006\n      token_id: a@pve!bot\n      token_secret: s\n      ca_file: ca.pem\n"
			_, err := parse([]byte(doc), filepath.Join(dir, "c.yaml"), func(string) (string, bool) { return "", false })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "pve.clusters[0].ca_file: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parse error = %v, want pve.clusters[0].ca_file ... %q", err, tt.wantErr)
			}
		})
	}
}

func testCertPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr string
	}{
		{"10m", 10 * time.Minute, "10m0s", ""},
		{"15s", 15 * time.Second, "15s", ""},
		{"1h30m", 90 * time.Minute, "1h30m0s", ""},
		{"180d", 180 * 24 * time.Hour, "180d", ""},
		{"1d", 24 * time.Hour, "1d", ""},
		{"24h", 24 * time.Hour, "1d", ""},
		{"0", 0, "0s", ""},
		{"0s", 0, "0s", ""},
		{"-1m", -time.Minute, "-1m0s", ""},
		{"15", 0, "", "with a unit"},
		{"1.5d", 0, "", "like 10m"},
		{"d", 0, "", "like 10m"},
		{"1w", 0, "", "like 10m"},
		{"99999999d", 0, "", "like 10m"},
		{"soon", 0, "", "like 10m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if d.Std() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, d.Std(), tt.want)
			}
			if got := d.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			again, err := ParseDuration(d.String())
			if err != nil || again != d {
				t.Errorf("round trip %q -> %v, %v", d.String(), again, err)
			}
		})
	}
}

func TestRate(t *testing.T) {
	tests := []struct {
		in       string
		want     Rate
		str      string
		interval time.Duration
		wantErr  bool
	}{
		{"20/m", Rate{20, time.Minute}, "20/m", 3 * time.Second, false},
		{"100/h", Rate{100, time.Hour}, "100/h", 36 * time.Second, false},
		{"5/s", Rate{5, time.Second}, "5/s", 200 * time.Millisecond, false},
		{" 5 / s ", Rate{5, time.Second}, "5/s", 200 * time.Millisecond, false},
		{"10/10m", Rate{10, 10 * time.Minute}, "10/10m0s", time.Minute, false},
		{"0", Rate{}, "0", 0, false},
		{"0/m", Rate{}, "0", 0, false},
		{"20", Rate{}, "", 0, true},
		{"20/d", Rate{}, "", 0, true},
		{"-1/m", Rate{}, "", 0, true},
		{"+1/m", Rate{}, "", 0, true},
		{"x/m", Rate{}, "", 0, true},
		{"1/0s", Rate{}, "", 0, true},
		{"", Rate{}, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRate(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseRate(%q) = %v, want an error", tt.in, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tt.in, err)
			}
			if r != tt.want {
				t.Errorf("ParseRate(%q) = %+v, want %+v", tt.in, r, tt.want)
			}
			if got := r.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := r.Interval(); got != tt.interval {
				t.Errorf("Interval() = %v, want %v", got, tt.interval)
			}
		})
	}
}

func TestStringList(t *testing.T) {
	tests := []struct {
		doc  string
		want StringList
		err  bool
	}{
		{`a`, StringList{"a"}, false},
		{`""`, nil, false},
		{`[a, b]`, StringList{"a", "b"}, false},
		{`{a: b}`, nil, true},
		{`[[a]]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var l StringList
			err := yaml.Unmarshal([]byte(tt.doc), &l)
			if (err != nil) != tt.err {
				t.Fatalf("Unmarshal(%q) error = %v, want error %v", tt.doc, err, tt.err)
			}
			if !tt.err && fmt.Sprint(l) != fmt.Sprint(tt.want) {
				t.Errorf("Unmarshal(%q) = %q, want %q", tt.doc, l, tt.want)
			}
		})
	}
}
