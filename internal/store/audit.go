package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Audit decisions.
const (
	DecisionAllowed = "allowed"
	DecisionRefused = "refused"
	DecisionError   = "error"
)

// ReasonCancelled is the reason of a user calling off their own pending action. It is
// recorded as refused (the action did not run); views show it as cancelled, not refused.
const ReasonCancelled = "cancelled by user"

// MaxRecentAudit caps RecentAudit's n.
const MaxRecentAudit = 1000

// AuditEntry is one line of the audit log: who asked for what, what the bot decided and
// what came of it.
type AuditEntry struct {
	ID       int64     // assigned by Audit
	Time     time.Time // default Now
	User     string
	Command  string // the command text as typed
	Decision string // allowed | refused | error
	Reason   string // why refused, or the error
	Cluster  string
	VMID     int
	UPID     string
	Result   string
	Duration time.Duration
}

// Audit appends e to the audit log. Text fields are scrubbed of anything that looks like
// a credential (access_token=, corpsecret=, key=, Authorization, PVE API tokens) in case
// an error text carried one, and kept on one line (see scrub).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	switch e.Decision {
	case DecisionAllowed, DecisionRefused, DecisionError:
	default:
		return fmt.Errorf("store: audit: decision %q is not allowed, refused or error", e.Decision)
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if _, err := s.st.audit.ExecContext(ctx, toNanos(e.Time), e.User, scrub(e.Command), e.Decision,
		scrub(e.Reason), e.Cluster, e.VMID, scrub(e.UPID), scrub(e.Result), int64(e.Duration)); err != nil {
		return s.dbError("audit", err)
	}
	return nil
}

// RecentAudit returns the last n entries (1..MaxRecentAudit; n <= 0 means 10), newest first.
func (s *Store) RecentAudit(ctx context.Context, n int) ([]AuditEntry, error) {
	if n <= 0 {
		n = 10
	}
	n = min(n, MaxRecentAudit)
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, user, command, decision, reason, cluster, vmid, upid, result, duration
		FROM audit ORDER BY time DESC, id DESC LIMIT ?`, n)
	if err != nil {
		return nil, s.dbError("recent audit", err)
	}
	defer rows.Close()
	out := make([]AuditEntry, 0, n)
	for rows.Next() {
		var (
			e       AuditEntry
			at, dur int64
		)
		if err := rows.Scan(&e.ID, &at, &e.User, &e.Command, &e.Decision, &e.Reason, &e.Cluster, &e.VMID,
			&e.UPID, &e.Result, &dur); err != nil {
			return nil, s.dbError("recent audit", err)
		}
		e.Time = fromNanos(at)
		e.Duration = time.Duration(dur)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbError("recent audit", err)
	}
	return out, nil
}

var (
	// secretParam matches URL and form parameters that carry credentials.
	secretParam = regexp.MustCompile(`(?i)\b(corpsecret|access_token|key|secret|token)=[^&\s"']+`)
	// secretHeader matches an Authorization header's value and a PVE API token.
	secretHeader = regexp.MustCompile(`(?i)(authorization:\s*(?:bearer\s+|basic\s+)?|PVEAPIToken=)[^\s"',]+`)
)

// scrub blanks credentials that error texts sometimes carry, and folds line breaks,
// other control characters and bidi overrides into spaces: an entry stays one line
// wherever it is shown, so text a user typed cannot forge the entries shown after it.
func scrub(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexFunc(s, unprintable) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unprintable(r) {
				return ' '
			}
			return r
		}, s)
	}
	s = secretParam.ReplaceAllString(s, "$1=<redacted>")
	return secretHeader.ReplaceAllString(s, "$1<redacted>")
}

// unprintable is true of runes that break or reorder a line: C0/C1 controls (\n, \r,
// \t, NEL), the Unicode line and paragraph separators and bidi controls.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}
