package commands

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// Any corp member in the app's visible range can message the bot, configured or not.
// Unknown members get the members' rate limit, and at most one audit entry per member per
// strangerAuditEvery: the first message of the interval, saying how many messages came
// since the member's previous entry.
const (
	strangerAuditEvery = time.Hour
	// maxStrangers bounds the unknown members remembered at once. Past it, members idle
	// for an interval are forgotten; if that is not enough, the newcomers share one entry
	// (one limit, one audit line per interval between them).
	maxStrangers = 1024
)

// strangers remembers unknown members; its own lock, so that a flood of them does not
// hold up members' rate limits.
type strangers struct {
	mu       sync.Mutex
	m        map[string]*stranger
	overflow stranger // shared by newcomers while m is full
}

type stranger struct {
	limit    config.Rate // what lim was made for: a reload may change it
	lim      *rate.Limiter
	notified bool      // told about the limit since it last let a message through
	last     time.Time // last message
	audited  time.Time // last audit entry
	unlogged int       // messages since then that have no entry of their own
}

// strangerTurn is what to do with one message of an unknown member.
type strangerTurn struct {
	answer   bool      // within the rate limit: tell them their UserID
	notice   bool      // first message over the limit: say so, once
	audit    bool      // first message of an interval: write an entry
	unlogged int       // with audit: messages since the previous entry without one
	since    time.Time // with audit and unlogged > 0: the previous entry's time
}

// turn counts one message from the unknown member key.
func (s *strangers) turn(key string, limit config.Rate, now time.Time) strangerTurn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*stranger{}
	}
	st := s.m[key]
	if st == nil {
		if len(s.m) >= maxStrangers {
			for k, o := range s.m {
				if now.Sub(o.last) >= strangerAuditEvery {
					delete(s.m, k)
				}
			}
		}
		if len(s.m) < maxStrangers {
			st = &stranger{}
			s.m[key] = st
		} else {
			st = &s.overflow
		}
	}
	st.last = now
	var t strangerTurn
	if st.audited.IsZero() || now.Sub(st.audited) >= strangerAuditEvery {
		t.audit, t.unlogged, t.since = true, st.unlogged, st.audited
		st.audited, st.unlogged = now, 0
	} else {
		st.unlogged++
	}
	if limit.N <= 0 || limit.Per <= 0 {
		t.answer = true
		return t
	}
	if st.lim == nil || st.limit != limit {
		st.limit, st.notified = limit, false
		st.lim = rate.NewLimiter(rate.Every(limit.Per/time.Duration(limit.N)), limit.N)
	}
	switch {
	case st.lim.AllowN(now, 1):
		st.notified = false
		t.answer = true
	case !st.notified:
		st.notified = true
		t.notice = true
	}
	return t
}

// stranger answers a message from a member who is not in users: their UserID, so that
// they can ask an admin to add them, within the members' rate limit.
func (d *Dispatcher) stranger(ctx context.Context, r *req) []chat.Reply {
	key := strings.ToLower(strings.TrimSpace(r.m.User))
	t := d.strangers.turn(key, r.s.perUser, d.o.Now())
	if t.audit {
		e := store.AuditEntry{Decision: "refused", Reason: "unknown user", Command: clip(r.m.Text)}
		if t.unlogged > 0 {
			e.Result = fmt.Sprintf("and %d earlier messages since %s, not logged one by one", t.unlogged, t.since.UTC().Format(time.RFC3339))
		}
		d.audit(ctx, r, e)
	}
	switch {
	case t.answer:
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("unknown_user", r.m.User))}
	case t.notice:
		d.log.Info("rate limit hit by an unknown member", zap.String("user", r.m.User))
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("rate_limited", r.s.perUser.N, perWord(r.s.lang, r.s.perUser.Per)))}
	}
	return nil
}
