package commands

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/alert"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// keyMute starts the key of an alert card's "mute 1 h" button: mute:<subject>:<duration>.
const keyMute = "mute:"

// maxMute bounds a mute, so a crafted key cannot silence a subject for ever.
const maxMute = 7 * 24 * time.Hour

// kvStore is the store's key/value table, where mutes live for the alert engine to read.
// *store.Store implements it; a Store without it cannot mute.
type kvStore interface {
	Put(ctx context.Context, bucket, key string, val []byte) error
	Get(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Delete(ctx context.Context, bucket, key string) error
	List(ctx context.Context, bucket string) (map[string][]byte, error)
}

// mute silences one alert subject for the duration in the button's key. It needs the
// mute action and is audited either way.
func (d *Dispatcher) mute(ctx context.Context, r *req, key string) []chat.Reply {
	rest := strings.TrimPrefix(key, keyMute)
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("mute_bad"))}
	}
	subject := rest[:i]
	dur, err := time.ParseDuration(rest[i+1:])
	if err != nil || dur <= 0 || dur > maxMute || !alert.ValidSubject(subject) {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("mute_bad"))}
	}
	r.text = "mute " + subject + " " + dur.String()
	rep := func(sev chat.Severity, msg string) []chat.Reply {
		return []chat.Reply{{Kind: chat.ReplyText, Severity: sev, Title: msg, UpdateCode: r.m.ResponseCode}}
	}
	if dec := r.s.policy.Decide(r.user.ID, "mute", nil); !dec.Allowed {
		d.audit(ctx, r, store.AuditEntry{Decision: store.DecisionRefused, Reason: string(dec.Reason), Command: clip(r.text)})
		return []chat.Reply{textReply(chat.SeverityWarning, r.refusal(dec, ""))}
	}
	kv, ok := d.o.Store.(kvStore)
	if !ok {
		d.log.Error("the store cannot keep mutes")
		return []chat.Reply{textReply(chat.SeverityError, r.t("internal_error"))}
	}
	until := d.o.Now().Add(dur)
	if err := alert.SetMute(ctx, kv, subject, r.user.ID, until); err != nil {
		d.log.Error("cannot store a mute", zap.Error(err))
		d.audit(ctx, r, store.AuditEntry{Decision: store.DecisionError, Reason: err.Error(), Command: clip(r.text)})
		return []chat.Reply{textReply(chat.SeverityError, r.t("internal_error"))}
	}
	d.audit(ctx, r, store.AuditEntry{Decision: store.DecisionAllowed, Command: clip(r.text), Result: "muted until " + until.Format(time.RFC3339)})
	return rep(chat.SeverityOK, r.t("muted", subject, i18n.Duration(r.s.lang, dur)))
}
