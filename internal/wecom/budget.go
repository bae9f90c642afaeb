package wecom

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// WeCom drops, silently, app messages beyond 30 a minute and 1000 an hour to one member.
// A message the member never sees is worse than one that comes a little late, so the
// Replier waits for room instead of sending into the void.
const (
	memberPerMinute = 30
	memberPerHour   = 1000
)

// memberBudget keeps the bot's own sends to each member under WeCom's limits: n per
// period (default 30 a minute), and never more than 1000 an hour.
type memberBudget struct {
	n   int
	per time.Duration

	mu    sync.Mutex
	users map[string]*budgetEntry
}

type budgetEntry struct{ minute, hour *rate.Limiter }

func newMemberBudget(n int, per time.Duration) *memberBudget {
	return &memberBudget{n: n, per: per, users: map[string]*budgetEntry{}}
}

// wait blocks until user may receive one more message, or ctx ends. A nil budget
// never waits.
func (b *memberBudget) wait(ctx context.Context, user string) error {
	if b == nil {
		return nil
	}
	e := b.entry(user)
	if err := e.minute.Wait(ctx); err != nil {
		return fmt.Errorf("wecom: send budget for %s (%d per %s): %w", user, b.n, b.per, err)
	}
	if err := e.hour.Wait(ctx); err != nil {
		return fmt.Errorf("wecom: send budget for %s (%d an hour): %w", user, memberPerHour, err)
	}
	return nil
}

func (b *memberBudget) entry(user string) *budgetEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.users[user]; ok {
		return e
	}
	if len(b.users) >= 10000 {
		// Forget members whose budget has refilled: they are as good as new.
		now := time.Now()
		for u, e := range b.users {
			if e.hour.TokensAt(now) >= float64(memberPerHour) {
				delete(b.users, u)
			}
		}
	}
	e := &budgetEntry{
		minute: rate.NewLimiter(rate.Every(b.per/time.Duration(b.n)), b.n),
		hour:   rate.NewLimiter(rate.Every(time.Hour/memberPerHour), memberPerHour),
	}
	b.users[user] = e
	return e
}
