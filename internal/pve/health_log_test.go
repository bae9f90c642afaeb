package pve

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// A token revoked or a certificate changed after start-up is met by a chat user first;
// the operator must find it in the log too, once per change, without the token secret.
func TestHealthChangesAreLogged(t *testing.T) {
	s := fake(t, pvetest.Options{TLS: true}, nil)
	core, logs := observer.New(zapcore.InfoLevel)
	c := e2eClient(t, s, func(spec *clusterSpec, o *Options) {
		spec.Fingerprints = []string{s.Fingerprint()}
		o.Logger = zap.New(core)
	})
	ctx := context.Background()
	steps := []struct {
		name    string
		before  func()
		wantErr bool
		want    string // new log message, "" for none
		field   string // in the logged error
	}{
		{"healthy", func() {}, false, "", ""},
		{"token revoked", func() { s.RevokeToken(e2eToken) }, true, "PVE cluster not usable", "token"},
		{"still revoked: no new line", func() {}, true, "", ""},
		{"token back", func() { s.AddToken(e2eToken, e2eSecret, map[string][]string{"/": botPrivs}) }, false, "PVE cluster answers again", ""},
		{"certificate changed", func() { s.RotateCertificate() }, true, "PVE cluster not usable", "fingerprint"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := logs.Len()
			st.before()
			_, err := c.Version(ctx)
			if (err != nil) != st.wantErr {
				t.Fatalf("Version: %v, want error %v", err, st.wantErr)
			}
			got := logs.All()[before:]
			if st.want == "" {
				if len(got) != 0 {
					t.Errorf("logged %d lines (%q…), want none", len(got), got[0].Message)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0].Message, st.want) {
				t.Fatalf("logged %+v, want one line %q", got, st.want)
			}
			text := got[0].Message + " " + strings.Join(func() []string {
				var out []string
				for k, v := range got[0].ContextMap() {
					out = append(out, k+"="+strings.ToLower(toString(v)))
				}
				return out
			}(), " ")
			if !strings.Contains(text, st.field) {
				t.Errorf("log line %q does not mention %q", text, st.field)
			}
			if strings.Contains(text, e2eSecret) {
				t.Errorf("log line holds the token secret: %q", text)
			}
		})
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
