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

// memberBudget keeps the bot's own sends to each member under WeCom's limits.
type memberBudget struct {
	perMinute, perHour int

	mu    sync.Mutex
	users map[string]*budgetEntry
}

type budgetEntry struct{ minute, hour *rate.Limiter }

func newMemberBudget(perMinute, perHour int) *memberBudget {
	return &memberBudget{perMinute: perMinute, perHour: perHour, users: map[string]*budgetEntry{}}
}

// wait blocks until user may receive one more message, or ctx ends.
func (b *memberBudget) wait(ctx context.Context, user string) error {
	e := b.entry(user)
	if err := e.minute.Wait(ctx); err != nil {
		return fmt.Errorf("wecom: send budget for %s (%d a minute): %w", user, b.perMinute, err)
	}
	if err := e.hour.Wait(ctx); err != nil {
		return fmt.Errorf("wecom: send budget for %s (%d an hour): %w", user, b.perHour, err)
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
			if e.hour.TokensAt(now) >= float64(b.perHour) {
				delete(b.users, u)
			}
		}
	}
	e := &budgetEntry{
		minute: rate.NewLimiter(rate.Every(time.Minute/time.Duration(b.perMinute)), b.perMinute),
		hour:   rate.NewLimiter(rate.Every(time.Hour/time.Duration(b.perHour)), b.perHour),
	}
	b.users[user] = e
	return e
}
