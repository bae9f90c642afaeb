// Package inbox is the bounded, durable queue between the WeCom callback and the command
// handler. The callback must answer WeCom within milliseconds, so it only records the
// message (Accept) and returns; workers run the handler and send the replies afterwards,
// each with its own context. Workers are started as messages arrive, up to
// Options.Workers at once, and end when the queue is empty: an idle bot has none, and a
// busy one runs as many messages at once as their waits on WeCom and PVE need.
//
// One message, one execution, nothing lost: a message is recorded as received before
// Accept returns (so WeCom's retries of it, even after a restart, are recognised as
// duplicates) and recorded as done after its replies went out. Messages left unfinished by
// a crash are handed back through Resume when the bot starts again.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// ErrBusy is returned by Accept when the queue is full: the callback answers 503 and
// WeCom retries later. The message is not recorded, so the retry is processed.
var ErrBusy = errors.New("inbox: queue full")

// ErrClosed is returned by Accept after Close began.
var ErrClosed = errors.New("inbox: closed")

// Journal records which messages were received and finished. The store implements it.
type Journal interface {
	// Receive records m as received; fresh is false when m.ID was seen before.
	Receive(ctx context.Context, m chat.Message) (fresh bool, err error)
	// Finish records that m's replies were sent.
	Finish(ctx context.Context, id string) error
	// Forget drops a received record whose message could not be queued.
	Forget(ctx context.Context, id string) error
}

// Options configures an Inbox.
type Options struct {
	Journal Journal
	Handler chat.Handler
	Replier chat.Replier
	Logger  *zap.Logger
	// Workers is the most messages processed at once (default 128). With WeCom and PVE
	// answering in 50 ms each, a message takes a worker for 100 ms or more: 1,000
	// messages a second need about a hundred.
	Workers int
	// QueueSize bounds the messages waiting for a worker (default 1024).
	QueueSize int
	// Timeout bounds the processing of one message, replies included (default 10m:
	// a confirmed shutdown may wait minutes for PVE).
	Timeout time.Duration
	// ReplyRetryFor is how long a reply WeCom would not take is tried again, after the
	// WeCom client's own quick retries (default 5m): an outage of a few minutes delays
	// answers instead of losing them.
	ReplyRetryFor time.Duration
	// ReplyBackoff is the first wait between those tries; it doubles up to a minute
	// (default 2s).
	ReplyBackoff time.Duration
}

// Inbox queues accepted messages for a worker pool.
type Inbox struct {
	o      Options
	queue  chan chat.Message
	ctx    context.Context // workers' base context, cancelled by Close when draining takes too long
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{} // one token per running worker; cap Workers

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool

	depth atomic.Int64
}

// New returns an Inbox; its workers start with the first messages.
func New(o Options) *Inbox {
	if o.Workers <= 0 {
		o.Workers = 128
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.ReplyRetryFor <= 0 {
		o.ReplyRetryFor = 5 * time.Minute
	}
	if o.ReplyBackoff <= 0 {
		o.ReplyBackoff = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Inbox{o: o, queue: make(chan chat.Message, o.QueueSize), ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, o.Workers)}
}

// Accept records m and queues it. It returns nil for a new message and for a duplicate
// (both are answered 200), ErrBusy when the queue is full, or the journal's error.
func (in *Inbox) Accept(ctx context.Context, m chat.Message) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.closed {
		return ErrClosed
	}
	fresh, err := in.o.Journal.Receive(ctx, m)
	if err != nil {
		return fmt.Errorf("inbox: record message: %w", err)
	}
	if !fresh {
		in.o.Logger.Debug("duplicate delivery ignored", zap.String("id", m.ID), zap.String("user", m.User))
		return nil
	}
	select {
	case in.queue <- m:
		in.depth.Add(1)
		in.spawn()
		return nil
	default:
		// Forget it, so that WeCom's retry is processed instead of being taken for a duplicate.
		if err := in.o.Journal.Forget(context.WithoutCancel(ctx), m.ID); err != nil {
			in.o.Logger.Error("cannot forget a message the full queue refused", zap.String("id", m.ID), zap.Error(err))
		}
		return ErrBusy
	}
}

// Resume queues messages that were received but not finished before a restart. It
// blocks while the queue is full.
func (in *Inbox) Resume(ctx context.Context, msgs ...chat.Message) error {
	for _, m := range msgs {
		in.mu.RLock()
		if in.closed {
			in.mu.RUnlock()
			return ErrClosed
		}
		select {
		case in.queue <- m:
			in.depth.Add(1)
			in.spawn()
			in.mu.RUnlock()
		case <-ctx.Done():
			in.mu.RUnlock()
			return ctx.Err()
		}
		in.o.Logger.Info("resuming a message left unfinished", zap.String("id", m.ID), zap.String("user", m.User))
	}
	return nil
}

// Depth is the number of queued messages not yet taken by a worker.
func (in *Inbox) Depth() int { return int(in.depth.Load()) }

// Close stops accepting, lets the workers finish what is queued, and waits for them
// until ctx ends; then it cancels the work still running. Unfinished messages stay in the
// journal and are resumed at the next start.
func (in *Inbox) Close(ctx context.Context) error {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.queue)
	}
	in.mu.Unlock()
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
		in.cancel()
		return nil
	case <-ctx.Done():
		in.cancel()
		<-done
		return fmt.Errorf("inbox: close: %w", ctx.Err())
	}
}

// spawn starts a worker for a message just queued, unless Workers are running: then one
// of them takes it when it is done. in.mu is read-locked and the inbox is open, so that
// no worker starts after Close began waiting for them.
func (in *Inbox) spawn() {
	select {
	case in.slots <- struct{}{}:
		in.wg.Add(1)
		go in.work()
	default:
	}
}

// work processes queued messages until the queue is empty (or closed), then gives its
// slot back.
func (in *Inbox) work() {
	defer in.wg.Done()
	for {
		select {
		case m, ok := <-in.queue:
			if !ok {
				<-in.slots
				return
			}
			in.depth.Add(-1)
			in.process(m)
			continue
		default:
		}
		<-in.slots
		// A message queued between the empty check and the release found every slot
		// taken and started no worker: take it, unless the slot is gone to a new worker
		// (which will).
		if len(in.queue) == 0 {
			return
		}
		select {
		case in.slots <- struct{}{}:
		default:
			return
		}
	}
}

func (in *Inbox) process(m chat.Message) {
	ctx, cancel := context.WithTimeout(in.ctx, in.o.Timeout)
	defer cancel()
	ctx = chat.WithSource(ctx, m.Source) // replies go back to the chat m came from
	defer func() {
		if r := recover(); r != nil {
			in.msgLog(m).Error("message handler panicked; the message is dropped", zap.Any("panic", r))
			in.finish(m)
		}
	}()
	replies := in.o.Handler.Handle(ctx, m)
	for _, r := range replies {
		in.reply(ctx, m, r)
	}
	if in.ctx.Err() != nil {
		// Cut short by shutdown: leave it unfinished so that the next start resumes it.
		in.msgLog(m).Warn("shutdown interrupted a message; it will be resumed at the next start")
		return
	}
	in.finish(m)
}

// reply sends r, trying again with a growing pause while WeCom does not take it, until
// ReplyRetryFor has passed or ctx ends. The reply is computed once: a command is never
// run again to answer it.
func (in *Inbox) reply(ctx context.Context, m chat.Message, r chat.Reply) {
	deadline := time.Now().Add(in.o.ReplyRetryFor)
	wait := in.o.ReplyBackoff
	for attempt := 1; ; attempt++ {
		err := in.o.Replier.Reply(ctx, m.User, r)
		if err == nil {
			if attempt > 1 {
				in.msgLog(m).Info("reply delivered after all", zap.Int("attempts", attempt))
			}
			return
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			in.msgLog(m).Error("cannot send reply; giving up", zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		if attempt == 1 {
			in.msgLog(m).Warn("cannot send reply; trying again", zap.Duration("in", wait), zap.Error(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			in.msgLog(m).Error("cannot send reply; giving up", zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		wait = min(2*wait, time.Minute)
	}
}

// msgLog is the logger for something to say about m. Logger.With encodes its fields at
// once, so it is called only when there is something to log, not for every message.
func (in *Inbox) msgLog(m chat.Message) *zap.Logger {
	return in.o.Logger.With(zap.String("id", m.ID), zap.String("user", m.User))
}

func (in *Inbox) finish(m chat.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.o.Journal.Finish(ctx, m.ID); err != nil {
		in.msgLog(m).Error("cannot record message as done", zap.Error(err))
	}
}
