package config

import (
	"strings"
	"testing"
)

// An alias bomb (a few kilobytes that expand to millions of values) and alias cycles are
// refused with a problem, not followed until memory runs out, and the report stays short.
func TestAliasBombs(t *testing.T) {
	big := "confirm: &big [" + strings.TrimSuffix(strings.Repeat("start, ", 1000), ", ") + "]\n"
	users := "users: [&u {id: u, role: viewer, scope: *big}" + strings.Repeat(", *u", 1000) + "]\n"
	// yaml.v3's own billion laughs guard applies where yaml decodes by itself.
	laughs := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	tests := []struct {
		name, doc, want string
	}{
		{"a million scope values through aliases", minimal + big + users, "too many values"},
		{"billion laughs under unknown keys", minimal + laughs, "unknown key"},
		{"billion laughs as a value", minimal + laughs + "language: *i\n", ""},
		{"alias to itself", minimal + "confirm: &s [*s]\n", ""},
	}
	t.Run("many problems are counted, not listed", func(t *testing.T) {
		_, ps := parseWith(t, minimal+"users: ["+strings.TrimSuffix(strings.Repeat("{id: x, role: nobody}, ", 500), ", ")+"]\n", nil)
		if got, want := len(ps), maxProblems+1; got != want {
			t.Fatalf("%d problems, want %d", got, want)
		}
		if got := ps[len(ps)-1].Msg; !strings.HasPrefix(got, "and ") || !strings.HasSuffix(got, " more problems") {
			t.Errorf("last problem = %q, want a count of the rest", got)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := parseWith(t, tt.doc, nil)
			if ps == nil {
				t.Fatalf("loaded %+v, want problems", c)
			}
			if tt.want != "" && !strings.Contains(ps.Error(), tt.want) {
				t.Errorf("problems = %.300q, want %q", ps.Error(), tt.want)
			}
			if len(ps) > maxProblems+1 {
				t.Errorf("%d problems, want at most %d and a count of the rest", len(ps), maxProblems+1)
			}
		})
	}
}

// A ${VAR} is expanded inside one scalar after the YAML is parsed: a value holding
// newlines, quotes or flow syntax stays that scalar's text and cannot add keys or users.
func TestEnvCannotInjectStructure(t *testing.T) {
	doc := strings.Replace(minimal, "corp_id: wx1234", `corp_id: "${CORP}"`, 1) + "users: [{id: alice, role: viewer}]\n"
	for _, v := range []string{
		"wx1\nusers: [{id: mallory, role: admin}]",
		`wx1", users: [{id: mallory, role: admin}], x: "`,
		"wx1\n  secret: other",
	} {
		t.Run(v[:8], func(t *testing.T) {
			c, ps := parseWith(t, doc, map[string]string{"CORP": v})
			if ps != nil {
				t.Fatalf("problems: %v", ps)
			}
			if got := c.WeCom.CorpID; got != v {
				t.Errorf("corp_id = %q, want the variable's text %q", got, v)
			}
			if len(c.Users) != 1 || c.Users[0].ID != "alice" || c.WeCom.Secret.Value() != "s3cret" {
				t.Errorf("users %+v, secret changed %v: the variable added structure", c.Users, c.WeCom.Secret.Value() != "s3cret")
			}
		})
	}
}
