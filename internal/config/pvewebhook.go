package config

import (
	"fmt"
	"strings"
)

// PVEWebhook is the pve_webhook block: where PVE's notification system (its webhook
// target, PVE 8.3+) posts events, and which targets get them. Off when the block is absent.
type PVEWebhook struct {
	Path       string         `yaml:"path"`   // on server.listen, e.g. /pve/webhook
	Secret     Secret         `yaml:"secret"` // PVE sends "Authorization: Bearer <secret>"
	SecretFile string         `yaml:"secret_file"`
	To         []string       `yaml:"to"`     // default targets
	Routes     []WebhookRoute `yaml:"routes"` // first match wins; then To; a route with to: [] drops what it matches
}

// WebhookRoute sends the events it matches to its own targets.
type WebhookRoute struct {
	Match WebhookMatch `yaml:"match"`
	To    []string     `yaml:"to"`
}

// WebhookMatch selects events by severity and by fields.type; an empty list matches all.
type WebhookMatch struct {
	Severity []string `yaml:"severity"`
	Type     []string `yaml:"type"`
}

// On reports whether the webhook endpoint is configured.
func (w PVEWebhook) On() bool { return w.Path != "" }

// Matches reports whether an event of this severity and type matches m.
func (m WebhookMatch) Matches(severity, typ string) bool {
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, e := range list {
			if strings.EqualFold(e, v) {
				return true
			}
		}
		return false
	}
	return in(m.Severity, severity) && in(m.Type, typ)
}

// TargetsFor returns the targets of an event: the first matching route's, else To.
func (w PVEWebhook) TargetsFor(severity, typ string) []string {
	for _, r := range w.Routes {
		if r.Match.Matches(severity, typ) {
			return r.To
		}
	}
	return w.To
}

// webhookSeverities are the severities PVE's notification system knows.
var webhookSeverities = []string{"info", "notice", "warning", "error", "unknown"}

func (v *validator) pveWebhook() {
	w := &v.c.PVEWebhook
	if w.Path == "" && w.Secret == "" && len(w.To) == 0 && len(w.Routes) == 0 {
		return
	}
	switch {
	case w.Path == "":
		v.add("pve_webhook.path", `must be set, like "/pve/webhook" (the URL path PVE's webhook target posts to)`)
	case !strings.HasPrefix(w.Path, "/"):
		v.add("pve_webhook.path", "must start with /")
	case w.Path == v.c.Server.CallbackPath || w.Path == "/healthz" || w.Path == "/readyz":
		v.add("pve_webhook.path", "%q is already used by the bot", w.Path)
	}
	if w.Secret == "" {
		v.add("pve_webhook.secret", "must be set (or pve_webhook.secret_file): PVE sends it as Authorization: Bearer <secret>")
	} else if len(w.Secret) < 16 {
		v.add("pve_webhook.secret", "is too short: use at least 16 random characters (openssl rand -hex 32)")
	}
	if len(w.To) == 0 {
		v.add("pve_webhook.to", "must name at least one target (a key under targets)")
	}
	v.targetRefs("pve_webhook.to", w.To)
	for i, r := range w.Routes {
		key := fmt.Sprintf("pve_webhook.routes[%d]", i)
		v.targetRefs(key+".to", r.To)
		for j, s := range r.Match.Severity {
			ok := false
			for _, k := range webhookSeverities {
				ok = ok || strings.EqualFold(s, k)
			}
			if !ok {
				v.add(fmt.Sprintf("%s.match.severity[%d]", key, j), "unknown severity %q; use one of %s", s, strings.Join(webhookSeverities, ", "))
			}
		}
	}
}
