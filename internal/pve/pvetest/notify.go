package pvetest

// What PVE's notification system (8.3+, proxmox-notify's webhook target) posts, with the body
// template that docs/pve-notifications.md tells the admin to paste in (docs/pve-features.md §1.4
// to §1.6): a JSON object of title, message, severity, timestamp and fields, every field value a
// string, sent once with a 10 s timeout and never retried.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Notification is one event as PVE hands it to a webhook target's templates.
type Notification struct {
	Title     string
	Message   string
	Severity  string // info | notice | warning | error | unknown
	Timestamp time.Time
	Fields    map[string]string
}

// WebhookBody renders n the way the documented template does:
// {"title": {{ json title }}, "message": {{ json message }}, "severity": {{ json severity }},
// "timestamp": {{ json timestamp }}, "fields": {{ json fields }}}.
func WebhookBody(n Notification) []byte {
	fields := n.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	body, _ := json.Marshal(struct {
		Title     string            `json:"title"`
		Message   string            `json:"message"`
		Severity  string            `json:"severity"`
		Timestamp int64             `json:"timestamp"`
		Fields    map[string]string `json:"fields"`
	}{n.Title, n.Message, n.Severity, n.Timestamp.Unix(), fields})
	return body
}

// PostWebhook sends n once like proxmox-notify: POST with Content-Length, the configured
// Content-Type and Authorization headers, its own User-Agent and a 10 s timeout. It returns the
// status code; PVE only logs a failure and never retries.
func PostWebhook(ctx context.Context, url, secret string, n Notification) (int, error) {
	return PostWebhookBody(ctx, url, secret, WebhookBody(n))
}

// PostWebhookBody is PostWebhook with a body of the caller's (an oversized or broken one).
func PostWebhookBody(ctx context.Context, url, secret string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "proxmox-sync-http-client/0.5.4")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

var (
	guestStartRE  = regexp.MustCompile(`^INFO: Starting Backup of VM (\d+) \((qemu|lxc)\)`)
	guestFailRE   = regexp.MustCompile(`^ERROR: Backup of VM (\d+) failed - (.*)$`)
	guestFinishRE = regexp.MustCompile(`^INFO: Finished Backup of VM (\d+) \((\d\d:\d\d:\d\d)\)`)
)

// BackupNotification is the notification the vzdump task upid sends when it ends (VZDump.pm
// and the default vzdump templates): "backup successful" or "backup failed", severity info or
// error, fields type=vzdump and hostname (plus job-id for a scheduled job), and the plain-text
// body with its Details table and the guests' logs. ok is false while the task still runs.
func (s *Server) BackupNotification(upid, jobID string) (n Notification, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	t := s.taskByUPID[upid]
	if t == nil || !t.done || t.typ != "vzdump" {
		return Notification{}, false
	}
	fqdn := t.node + ".home.arpa"
	n = Notification{Severity: "info", Timestamp: t.end, Fields: map[string]string{"type": "vzdump", "hostname": t.node}}
	if jobID != "" {
		n.Fields["job-id"] = jobID
	}
	n.Title = fmt.Sprintf("vzdump backup status (%s): backup successful", fqdn)
	if !taskSuccess(t.exit) {
		n.Severity = "error"
		n.Title = fmt.Sprintf("vzdump backup status (%s): backup failed", fqdn)
		if t.exit != "job errors" {
			n.Title += ": " + t.exit
		}
	}
	n.Title += " " // the subject template ends in a newline, rendered as a space
	var b strings.Builder
	b.WriteString("Details\n=======\nVMID  Name  Status  Time  Size  Filename\n")
	var logs []string
	cur := ""
	for _, l := range t.prelude {
		if m := guestStartRE.FindStringSubmatch(l); m != nil {
			cur = m[1]
		}
		if m := guestFinishRE.FindStringSubmatch(l); m != nil {
			name := "VM " + m[1]
			if g := s.guests[atoi(m[1])]; g != nil {
				name = g.Name
			}
			fmt.Fprintf(&b, "%s  %s  ok  %s  -  backup\n", m[1], name, m[2])
		}
		if m := guestFailRE.FindStringSubmatch(l); m != nil {
			name := "VM " + m[1]
			if g := s.guests[atoi(m[1])]; g != nil {
				name = g.Name
			}
			fmt.Fprintf(&b, "%s  %s  err  -  -  null\n", m[1], name)
		}
		if cur != "" {
			logs = append(logs, cur+": "+l)
		} else {
			logs = append(logs, l)
		}
	}
	fmt.Fprintf(&b, "\nTotal running time: %s\n\nLogs\n====\n%s\n", t.end.Sub(t.start).Round(time.Second), strings.Join(logs, "\n"))
	n.Message = b.String()
	return n, true
}

func atoi(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

// FencingNotification is the HA manager's "Trying to fence" (done false) or "Successfully
// fenced" (done true) event for node; hostname is the fenced node.
func FencingNotification(node string, done bool, at time.Time) Notification {
	title := fmt.Sprintf("Trying to fence node '%s'", node)
	if done {
		title = fmt.Sprintf("Successfully fenced node '%s'", node)
	}
	return Notification{Title: title, Message: title + "\n", Severity: "error", Timestamp: at,
		Fields: map[string]string{"type": "fencing", "hostname": node}}
}

// PackageUpdatesNotification is the daily apt update event for node with count packages.
func PackageUpdatesNotification(node string, count int, at time.Time) Notification {
	var b strings.Builder
	b.WriteString("The following updates are available:\n\n")
	for i := 0; i < count; i++ {
		fmt.Fprintf(&b, "pve-package-%d: 1.0-%d -> 1.0-%d\n", i+1, i, i+1)
	}
	return Notification{Title: fmt.Sprintf("New software packages available (%s.home.arpa) ", node), Message: b.String(),
		Severity: "info", Timestamp: at, Fields: map[string]string{"type": "package-updates", "hostname": node}}
}

// TaskUPIDs lists the UPIDs of the tasks of type typ ("vzdump"), oldest first: a test finds
// the task whose notification it posts.
func (s *Server) TaskUPIDs(typ string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.tasks {
		if t.typ == typ {
			out = append(out, t.upid)
		}
	}
	return out
}

// WebhookTarget is a webhook endpoint of the notification system (PVE 8.3+).
type WebhookTarget struct {
	Name, URL string
	Disable   bool
}

// AddWebhookTarget adds a webhook target as `pvesh create /cluster/notifications/endpoints/webhook` does.
func (s *Server) AddWebhookTarget(t WebhookTarget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhooks = append(s.webhooks, t)
}

// handleWebhookTargets is GET /cluster/notifications/endpoints/webhook: Mapping.Audit,
// Mapping.Modify or Mapping.Use on /mapping/notifications (Notifications.pm:324-337). The real
// answer also carries the headers and body (base64) and the secrets' names, never their values.
func (s *Server) handleWebhookTargets(c *call) {
	s.mu.Lock()
	allowed := false
	for _, p := range []string{"Mapping.Audit", "Mapping.Modify", "Mapping.Use"} {
		allowed = allowed || s.canLocked(c.tok, "/mapping/notifications", p)
	}
	var out []map[string]any
	for _, t := range s.webhooks {
		e := map[string]any{"name": t.Name, "url": t.URL, "method": "post", "origin": "user-created",
			"header": []string{"name=Content-Type,value=YXBwbGljYXRpb24vanNvbg=="}, "secret": []string{"name=token"}}
		if t.Disable {
			e["disable"] = 1
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	if !allowed {
		s.fail(c, http.StatusForbidden, "Permission check failed (/mapping/notifications, Mapping.Audit)", nil)
		return
	}
	if out == nil {
		out = []map[string]any{}
	}
	s.ok(c, out, nil)
}

// SampleBackupFailure is a scheduled job's failed run as PVE would notify it, for replaying
// without running a backup (the demo): backup-nightly on pve1, where 101 (truenas) failed for
// lack of space and 100 (opnsense) was backed up.
func SampleBackupFailure(at time.Time) Notification {
	start := at.Add(-4 * time.Minute)
	return Notification{
		Title:    "vzdump backup status (pve1.home.arpa): backup failed ",
		Severity: "error", Timestamp: at,
		Fields: map[string]string{"type": "vzdump", "hostname": "pve1", "job-id": "backup-nightly"},
		Message: "Details\n=======\nVMID  Name  Status  Time  Size  Filename\n" +
			"100  opnsense  ok  00:01:52  2.1GB  /mnt/pve/nas/dump/vzdump-qemu-100-" + start.Format("2006_01_02-15_04_05") + ".vma.zst\n" +
			"101  truenas  err  -  -  null\n\nTotal running time: 4m 0s\nTotal size: 2.1GB\n\nLogs\n====\n" +
			"vzdump 100 101 --mode snapshot --storage nas --compress zstd --notes-template '{{guestname}}'\n\n" +
			"100: " + start.Format("2006-01-02 15:04:05") + " INFO: Starting Backup of VM 100 (qemu)\n" +
			"100: " + start.Format("2006-01-02 15:04:05") + " INFO: Finished Backup of VM 100 (00:01:52)\n" +
			"101: " + at.Format("2006-01-02 15:04:05") + " INFO: Starting Backup of VM 101 (qemu)\n" +
			"101: " + at.Format("2006-01-02 15:04:05") + " ERROR: Backup of VM 101 failed - unable to create temporary directory '/mnt/pve/nas/dump/vzdump-qemu-101.tmp' - No space left on device\n",
	}
}
