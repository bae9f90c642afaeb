package wecom

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
)

// WeCom drops, silently, app messages beyond 30 in a minute and 1000 in an hour to one
// member. A message the member never sees is worse than one that comes a little late, so
// every app message the bot sends (replies, pushes to users targets, alert cards) first
// takes room in one Budget per member.
const (
	memberPerMinute = 30
	memberPerHour   = 1000
)

// LongWait is how long a message may be held back by the budget before the message that
// finally goes out says it was delayed.
const LongWait = 10 * time.Second

// Clock is the time a Budget runs on: schedule.SystemClock, or a manual clock in tests.
type Clock interface {
	Now() time.Time
	// After sends the time once d has passed, like time.After.
	After(d time.Duration) <-chan time.Time
}

// window is one limit: at most n messages in any span of per.
type window struct {
	n   int
	per time.Duration
}

// Budget counts, per member, the app messages sent in the last hour, and lets one more
// go only when it keeps every sliding window within its limit: at most n in any span of
// per (30 a minute by default) and at most 1000 in any hour. A sliding window, not a
// token bucket: a bucket full at the start of a minute lets nearly twice its rate through
// in that minute, and WeCom counts by window. A nil *Budget allows everything. It is safe
// for concurrent use.
type Budget struct {
	windows []window
	span    time.Duration // the longest window: older sends are forgotten
	clock   Clock

	mu   sync.Mutex
	sent map[string][]time.Time // per member, oldest first
}

// NewBudget returns a budget of n messages per member in any span of per, and at most
// 1000 in any hour. n <= 0 or per <= 0 gives nil: no budget (load tests). clock nil is
// the wall clock.
func NewBudget(n int, per time.Duration, clock Clock) *Budget {
	if n <= 0 || per <= 0 {
		return nil
	}
	if clock == nil {
		clock = schedule.SystemClock{}
	}
	b := &Budget{windows: []window{{n, per}, {memberPerHour, time.Hour}}, clock: clock, sent: map[string][]time.Time{}}
	for _, w := range b.windows {
		b.span = max(b.span, w.per)
	}
	return b
}

// Reserve takes room for one message to each of users, all or none: it returns 0 when
// they all have room now (and counts the message for each), or how long until they all
// would (and counts nothing).
func (b *Budget) Reserve(users ...string) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var wait time.Duration
	for _, u := range users {
		wait = max(wait, b.waitFor(u, now))
	}
	if wait > 0 {
		return wait
	}
	for _, u := range users {
		b.sent[u] = append(b.sent[u], now)
	}
	return 0
}

// waitFor is how long until u may get one more message; b.mu is held.
func (b *Budget) waitFor(u string, now time.Time) time.Duration {
	ts := b.sent[u]
	drop := 0
	for drop < len(ts) && now.Sub(ts[drop]) >= b.span {
		drop++
	}
	ts = ts[drop:]
	if len(ts) == 0 {
		delete(b.sent, u)
		return 0
	}
	b.sent[u] = ts
	var wait time.Duration
	for _, w := range b.windows {
		// The sends inside this window are a suffix of ts; with n of them or more, the
		// next may go when the oldest that keeps it at n leaves the window.
		first := len(ts)
		for first > 0 && now.Sub(ts[first-1]) < w.per {
			first--
		}
		if in := len(ts) - first; in >= w.n {
			wait = max(wait, ts[len(ts)-w.n].Add(w.per).Sub(now))
		}
	}
	return wait
}

// Wait blocks until every one of users has room for one more message, takes it, and
// returns how long it waited; it fails when ctx ends first.
func (b *Budget) Wait(ctx context.Context, users ...string) (time.Duration, error) {
	if b == nil {
		return 0, nil
	}
	start := b.clock.Now()
	for {
		d := b.Reserve(users...)
		if d == 0 {
			return b.clock.Now().Sub(start), nil
		}
		select {
		case <-ctx.Done():
			return b.clock.Now().Sub(start), fmt.Errorf("wecom: send budget for %v (%d per %s, %d an hour): %w",
				users, b.windows[0].n, b.windows[0].per, memberPerHour, ctx.Err())
		case <-b.clock.After(d):
		}
	}
}
