package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// webhookTarget checks, when pve_webhook is on, that the cluster has a webhook target
// posting to pve_webhook.path (docs/pve-notifications.md). A token that may not read the
// targets (Mapping.Audit on /mapping/notifications) gets the commands to create it.
func (oc *onlineCheck) webhookTarget(cfg *config.Config, c *pve.Client, name string) {
	w := cfg.PVEWebhook
	if !w.On() {
		return
	}
	ctx, cancel := oc.ctx()
	defer cancel()
	targets, err := c.WebhookTargets(ctx)
	if err != nil {
		var pe *pve.Error
		reason := err.Error()
		if errors.As(err, &pe) && pe.Kind == pve.KindPermission {
			reason = "the token may not read notification targets (Mapping.Audit on /mapping/notifications)"
		}
		fmt.Fprintf(oc.w, "! %s: cannot tell whether PVE's webhook target for %s exists: %s\n", name, w.Path, reason)
		oc.note(webhookCommands(w.Path)...)
		return
	}
	for _, t := range targets {
		if strings.HasSuffix(strings.TrimRight(t.URL, "/"), strings.TrimRight(w.Path, "/")) {
			if t.Disabled {
				oc.fail("%s: webhook target %s posts to %s but is disabled", name, t.Name, t.URL)
				oc.note("pvesh set /cluster/notifications/endpoints/webhook/" + t.Name + " --disable 0")
				return
			}
			oc.ok("%s: webhook target %s posts to %s (attach it with a matcher: docs/pve-notifications.md)", name, t.Name, t.URL)
			return
		}
	}
	oc.fail("%s: no webhook target posts to %s: PVE's notifications will not reach the bot", name, w.Path)
	oc.note(webhookCommands(w.Path)...)
}

// webhookCommands are the PVE side of docs/pve-notifications.md, for the path.
func webhookCommands(path string) []string {
	return []string{
		"create it on a PVE node (PVE 8.3+; see docs/pve-notifications.md), with the body template saved as body.hbs:",
		"pvesh create /cluster/notifications/endpoints/webhook --name wecom-home-ops \\",
		"  --url 'https://<the bot's public address>" + path + "' --method post \\",
		`  --header "name=Content-Type,value=$(printf application/json | base64 -w0)" \`,
		`  --header "name=Authorization,value=$(printf 'Bearer {{ secrets.token }}' | base64 -w0)" \`,
		`  --secret "name=token,value=$(printf '%s' "$PVE_WEBHOOK_SECRET" | base64 -w0)" \`,
		`  --body "$(base64 -w0 body.hbs)"`,
		"pvesh create /cluster/notifications/matchers --name wecom-home-ops --target wecom-home-ops",
		"pvesh create /cluster/notifications/targets/wecom-home-ops/test",
	}
}
