package commands

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

type strangerEnv struct {
	t   *testing.T
	d   *Dispatcher
	st  *store.Store
	now time.Time
	seq int
}

func newStrangerEnv(t *testing.T, perUser config.Rate) *strangerEnv {
	t.Helper()
	e := &strangerEnv{t: t, now: time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return e.now }
	st, err := store.Open(t.TempDir(), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "wangwu", Role: "viewer"}}
	cfg.RateLimit.PerUser = perUser
	e.st, e.d = st, New(cfg, Options{Store: st, Fleet: &fakeFleet{}, Now: clock})
	return e
}

// send sends n messages from user and returns the replies' titles.
func (e *strangerEnv) send(user, text string, n int) []string {
	var titles []string
	for range n {
		e.seq++
		for _, rep := range e.d.Handle(context.Background(), chat.Message{ID: fmt.Sprint("m", e.seq), User: user, Kind: chat.KindText, Text: text}) {
			titles = append(titles, rep.Title)
		}
	}
	return titles
}

func (e *strangerEnv) audit(user string) []store.AuditEntry {
	e.t.Helper()
	all, err := e.st.RecentAudit(context.Background(), store.MaxRecentAudit)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, a := range all {
		if strings.EqualFold(a.User, user) {
			out = append(out, a)
		}
	}
	return out
}

func count(titles []string, part string) int {
	n := 0
	for _, t := range titles {
		if strings.Contains(t, part) {
			n++
		}
	}
	return n
}

// 40 messages from an unknown member used to give 40 audit entries and 30 answers
// (reality.md 3.4). They get the members' limit, and one audit entry per interval that
// counts the rest.
func TestUnknownMemberIsRateLimitedAndAuditedOncePerInterval(t *testing.T) {
	e := newStrangerEnv(t, config.Rate{N: 3, Per: time.Minute})
	got := e.send("mallory", "vm list", 40)
	if n := count(got, "mallory"); n != 3 || count(got, "太频繁") != 1 || len(got) != 4 {
		t.Errorf("40 messages from mallory got %d replies %q; want 3 answers and 1 limit notice", len(got), got)
	}
	member := e.send("wangwu", "help", 10)
	if len(member) != 4 || count(member, "太频繁") != 1 {
		t.Errorf("a member's 10 messages got %d replies; want 3 answers and 1 notice, as before", len(member))
	}
	if a := e.audit("mallory"); len(a) != 1 || a[0].Reason != "unknown user" || a[0].Command != "vm list" {
		t.Fatalf("audit after 40 messages = %+v, want one unknown-user entry", a)
	}

	// The same member, typed another way, is the same member.
	if got := e.send("MALLORY", "help", 1); len(got) != 0 {
		t.Errorf("MALLORY over mallory's limit got %q, want silence", got)
	}

	// A minute later the limit lets three through again; still no new entry.
	e.now = e.now.Add(time.Minute)
	if got := e.send("mallory", "vm list", 4); count(got, "mallory") != 3 {
		t.Errorf("a minute later: %q, want 3 answers", got)
	}
	if a := e.audit("mallory"); len(a) != 1 {
		t.Errorf("audit within the interval = %d entries, want 1", len(a))
	}

	// The next interval's first message is logged, with the count of the ones before.
	e.now = e.now.Add(strangerAuditEvery)
	e.send("mallory", "status", 1)
	a := e.audit("mallory")
	if len(a) != 2 {
		t.Fatalf("audit after an interval = %d entries, want 2", len(a))
	}
	if a[0].Command != "status" || !strings.Contains(a[0].Result, "44 earlier messages") || !strings.Contains(a[0].Result, "2026-12-02T04:00:00Z") {
		t.Errorf("second entry = %+v, want it to count the 44 messages since 04:00 (39 + 1 + 4)", a[0])
	}
}

// With the rate limit off, unknown members are not limited either, but their audit
// entries stay bounded.
func TestUnknownMemberAuditBoundedWithoutRateLimit(t *testing.T) {
	e := newStrangerEnv(t, config.Rate{})
	if got := e.send("mallory", "vm list", 40); count(got, "mallory") != 40 {
		t.Errorf("answers = %d, want 40 (no limit configured)", count(got, "mallory"))
	}
	if a := e.audit("mallory"); len(a) != 1 {
		t.Errorf("audit = %d entries, want 1", len(a))
	}
}

// However many UserIDs write, the dispatcher remembers a bounded number of them, and
// newcomers past the bound are still limited.
func TestUnknownMembersAreBounded(t *testing.T) {
	e := newStrangerEnv(t, config.Rate{N: 1, Per: time.Minute})
	for i := range maxStrangers + 50 {
		e.d.strangers.turn(fmt.Sprint("u", i), config.Rate{N: 1, Per: time.Minute}, e.now)
	}
	if n := len(e.d.strangers.m); n > maxStrangers {
		t.Fatalf("remembered %d unknown members, want at most %d", n, maxStrangers)
	}
	// Past the bound newcomers share one limit: u50000 finds it used up.
	if got := e.send("u50000", "help", 1); count(got, "u50000") != 0 {
		t.Errorf("a newcomer past the bound got %q, want the shared limit to hold", got)
	}
	// An interval later the idle ones are forgotten and a newcomer has a limit of its own.
	e.now = e.now.Add(strangerAuditEvery)
	if got := e.send("u60000", "help", 1); count(got, "u60000") != 1 {
		t.Errorf("a newcomer after the others went idle got %q, want its UserID", got)
	}
	if n := len(e.d.strangers.m); n > maxStrangers {
		t.Errorf("remembered %d unknown members, want at most %d", n, maxStrangers)
	}
}
