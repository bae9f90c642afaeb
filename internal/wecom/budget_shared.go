package wecom

import (
	"context"
	"time"
)

// SendBudget is the per-recipient send budget (30 a minute and 1000 an hour by default)
// for transports other than the app's Replier: the smart bot keeps its per-conversation
// limits through the same budget. A nil *SendBudget never waits.
type SendBudget struct{ b *memberBudget }

// NewSendBudget returns a budget of n per period per key (and never more than 1000 an
// hour); n <= 0 turns it off.
func NewSendBudget(n int, per time.Duration) *SendBudget {
	if n <= 0 || per <= 0 {
		return nil
	}
	return &SendBudget{b: newMemberBudget(n, per)}
}

// Wait blocks until key (a member, a conversation) may get one more message, or ctx ends.
func (s *SendBudget) Wait(ctx context.Context, key string) error {
	if s == nil {
		return nil
	}
	return s.b.wait(ctx, key)
}
