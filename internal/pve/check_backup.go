package pve

import (
	"context"
	"strings"
)

// BackupPrivileges are what backups from chat need besides BotPrivileges (docs/setup.md):
// VM.Backup on the guests (checked inside vzdump's worker: without it the task fails) and
// Datastore.AllocateSpace on the backup storage (checked before the task: 403). Together they
// also make backups visible in storage listings, which PVE filters per volume.
var BackupPrivileges = []string{"VM.Backup", "Datastore.AllocateSpace"}

// backupFeatures are the optional "backups" features of Check: the bot works without them,
// but `vm backup` fails and `backup status` and `backup list` see no backups.
func backupFeatures(perms map[string]map[string]flexNum, tokenID string) []Feature {
	specs := []featureSpec{
		{name: "backups", priv: "VM.Backup", roots: []string{"/", "/vms"}, partial: []string{"/vms/", "/pool/"},
			consequence: `"vm backup" starts a task that fails with "Permission check failed (VM.Backup)", and backups of these guests are invisible to "backup status" and "backup list"`},
		{name: "backup storage", priv: "Datastore.AllocateSpace", roots: []string{"/", "/storage"}, partial: []string{"/storage/"},
			consequence: `"vm backup" is refused by PVE (403) and storages list no backups to the bot ("backup status" says never backed up)`},
	}
	var out []Feature
	for _, s := range specs {
		f := evaluateOne(perms, s)
		f.Optional = true
		if !f.OK || f.Partial {
			user, _, _ := strings.Cut(tokenID, "!")
			f.Grant = []string{`pveum role add ChatBotBackup --privs "` + strings.Join(BackupPrivileges, " ") + `"`}
			if user != "root@pam" && user != "" {
				f.Grant = append(f.Grant, "pveum acl modify / --users "+shellQuote(user)+" --roles ChatBotBackup")
			}
			f.Grant = append(f.Grant, "pveum acl modify / --tokens "+shellQuote(tokenID)+" --roles ChatBotBackup")
		}
		out = append(out, f)
	}
	return out
}

// WebhookTarget is one webhook target of PVE's notification system (PVE 8.3+).
type WebhookTarget struct {
	Name, URL string
	Disabled  bool
}

// WebhookTargets lists the notification system's webhook targets (GET
// /cluster/notifications/endpoints/webhook: Mapping.Audit, Mapping.Modify or Mapping.Use on
// /mapping/notifications; PVE < 8.3 has no such endpoint).
func (c *Client) WebhookTargets(ctx context.Context) ([]WebhookTarget, error) {
	op := "list webhook targets"
	body, err := c.get(ctx, "/cluster/notifications/endpoints/webhook", nil, op)
	if err != nil {
		return nil, err
	}
	raws, _, err := decodeList[struct {
		Name    flexStr `json:"name"`
		URL     flexStr `json:"url"`
		Disable flexNum `json:"disable"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]WebhookTarget, 0, len(raws))
	for _, r := range raws {
		out = append(out, WebhookTarget{Name: string(r.Name), URL: string(r.URL), Disabled: r.Disable.bool()})
	}
	return out, nil
}
