// Package inbox is the bounded, durable queue between the WeCom callback and the command
// handler. The callback must answer WeCom within milliseconds, so it only records the
// message (Accept) and returns; a fixed pool of workers runs the handler and sends the
// replies afterwards, each with its own context.
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
	// Workers is the number of messages processed at once (default 8).
	Workers int
	// QueueSize bounds the messages waiting for a worker (default 1024).
	QueueSize int
	// Timeout bounds the processing of one message, replies included (default 10m:
	// a confirmed shutdown may wait minutes for PVE).
	Timeout time.Duration
}

// Inbox queues accepted messages for a worker pool.
type Inbox struct {
	o      Options
	queue  chan chat.Message
	ctx    context.Context // workers' base context, cancelled by Close when draining takes too long
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool

	depth atomic.Int64
}

// New starts the workers.
func New(o Options) *Inbox {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &Inbox{o: o, queue: make(chan chat.Message, o.QueueSize), ctx: ctx, cancel: cancel}
	in.wg.Add(o.Workers)
	for range o.Workers {
		go in.work()
	}
	return in
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

func (in *Inbox) work() {
	defer in.wg.Done()
	for m := range in.queue {
		in.depth.Add(-1)
		in.process(m)
	}
}

func (in *Inbox) process(m chat.Message) {
	log := in.o.Logger.With(zap.String("id", m.ID), zap.String("user", m.User))
	ctx, cancel := context.WithTimeout(in.ctx, in.o.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			log.Error("message handler panicked; the message is dropped", zap.Any("panic", r))
			in.finish(m, log)
		}
	}()
	replies := in.o.Handler.Handle(ctx, m)
	for _, r := range replies {
		if err := in.o.Replier.Reply(ctx, m.User, r); err != nil {
			log.Error("cannot send reply", zap.Error(err))
		}
	}
	if in.ctx.Err() != nil {
		// Cut short by shutdown: leave it unfinished so that the next start resumes it.
		log.Warn("shutdown interrupted a message; it will be resumed at the next start")
		return
	}
	in.finish(m, log)
}

func (in *Inbox) finish(m chat.Message, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.o.Journal.Finish(ctx, m.ID); err != nil {
		log.Error("cannot record message as done", zap.Error(err))
	}
}
