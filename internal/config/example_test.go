package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const examplePath = "../../configs/config.example.yaml"

// TestExampleLoads is what `bot check -config configs/config.example.yaml`
// relies on: the example loads on a fresh clone, with no variable set.
func TestExampleLoads(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatalf("Load(example):\n%v", err)
	}
	if got, want := len(c.PVE.Clusters), 1; got != want {
		t.Fatalf("clusters = %d, want %d", got, want)
	}
	home := c.PVE.Clusters[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"cluster", home.Name, "home"},
		{"protected", home.ProtectedSel.Strings(), []string{"100", "tag:infra"}},
		{"fingerprints", len(home.Fingerprint), 1},
		{"users", len(c.Users), 3},
		{"zhangsan", c.Users[0].ID + "/" + c.Users[0].Role, "zhangsan/admin"},
		{"lisi", c.Users[1].ID + "/" + c.Users[1].Role, "lisi/operator"},
		{"lisi scope", len(c.Users[1].ScopeSel) > 0, true},
		{"wangwu", c.Users[2].ID + "/" + c.Users[2].Role, "wangwu/viewer"},
		{"family", c.Roles["family"].Allow, []string{"status", "list", "start", "shutdown"}},
		{"rate", c.RateLimit.PerUser.String(), "20/m"},
		{"confirm_ttl", c.ConfirmTTL.String(), "5m0s"},
		{"webhook path", c.PVEWebhook.Path, "/pve/webhook"},
		{"webhook failed backup", c.PVEWebhook.TargetsFor("error", "vzdump"), []string{"ops-group", "admins"}},
		{"webhook updates", c.PVEWebhook.TargetsFor("info", "package-updates"), []string{"admins"}},
		{"webhook other", c.PVEWebhook.TargetsFor("info", "vzdump"), []string{"ops-group"}},
		{"backup_missing", c.Alerts.Rules.BackupMissing.OlderThan.String(), "26h0m0s"},
		{"backups report", c.Schedules[1].Report, "backups"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

// exampleVars turns the example's literal fake secrets into the ${VAR} form
// its comments show, as an admin would for production.
func exampleVars(t *testing.T) (doc string, env map[string]string) {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	doc = string(data)
	env = map[string]string{}
	for _, r := range []struct{ literal, name, value string }{
		{`secret: "fake-wecom-secret-change-me"`, "WECOM_SECRET", "env-secret"},
		{`token: "fake-callback-token"`, "WECOM_TOKEN", "env-token"},
		{`encoding_aes_key: "` + fakeAESKey + `"`, "WECOM_AES_KEY", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"},
		{`token_secret: "00000000-0000-0000-0000-000000000000"`, "PVE_TOKEN", "env-pve"},
	} {
		if strings.Count(doc, r.literal) != 1 {
			t.Fatalf("example no longer holds %q once", r.literal)
		}
		key, _, _ := strings.Cut(r.literal, ":")
		doc = strings.Replace(doc, r.literal, key+`: "${`+r.name+`}"`, 1)
		env[r.name] = r.value
	}
	return doc, env
}

func TestExampleWithEnvVars(t *testing.T) {
	doc, env := exampleVars(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := Parse([]byte(doc), examplePath)
	if err != nil {
		t.Fatalf("Parse(example with ${VAR}):\n%v", err)
	}
	got := []string{c.WeCom.Secret.Value(), c.WeCom.Token.Value(), c.WeCom.EncodingAESKey.Value(), c.PVE.Clusters[0].TokenSecret.Value()}
	want := []string{env["WECOM_SECRET"], env["WECOM_TOKEN"], env["WECOM_AES_KEY"], env["PVE_TOKEN"]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
}

func TestExampleWithEnvVarsUnset(t *testing.T) {
	doc, _ := exampleVars(t)
	_, ps := parseWith(t, doc, nil)
	wantKeys := []string{"wecom.secret", "wecom.token", "wecom.encoding_aes_key", "pve.clusters[0].token_secret"}
	wantVars := []string{"WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY", "PVE_TOKEN"}
	if len(ps) != len(wantKeys) {
		t.Fatalf("problems:\n%v\nwant one per variable (%d)", ps, len(wantKeys))
	}
	for i, p := range ps {
		if p.Key != wantKeys[i] || p.Msg != "environment variable "+wantVars[i]+" is not set" || p.Line == 0 {
			t.Errorf("problem %d = %+v, want key %s, variable %s and a line", i, p, wantKeys[i], wantVars[i])
		}
	}
}

// FuzzParse: any bytes give a Config or Problems, never a panic; a Config that
// loaded validates again unchanged.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(example), minimal, full, "", "a: &a [*a]", "x: ${A}${", "users: [{scope: [home/]}]"} {
		f.Add([]byte(seed))
	}
	env := func(k string) (string, bool) { return "v", k == "A" }
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "config.yaml", env)
		if err != nil {
			if c != nil {
				t.Fatal("both a Config and an error")
			}
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error %T, want Problems", err)
			}
			return
		}
		if ps := c.Validate(); len(ps) != 0 {
			t.Fatalf("loaded Config does not validate again: %v", ps)
		}
	})
}

// BenchmarkParseExample measures loading the documented example (what every
// start and `bot check` pays).
func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, examplePath); err != nil {
			b.Fatal(err)
		}
	}
}
