// Package inbox is the durable queue between the WeCom callback and the command handler.
// The callback must answer WeCom within milliseconds, so it only records the message
// (Accept) and returns; workers run the handler and send the replies afterwards, each with
// its own context. Workers are started as messages arrive, up to Options.Workers at once,
// and end when there is nothing left to do: an idle bot has none, and a busy one runs as
// many messages at once as their waits on WeCom and PVE need.
//
// The queue is the journal (the store): a message recorded there is accepted, whatever
// the load. The bounded in-memory queue only caches it. When the cache is full a new
// message stays in the journal alone, and workers read the backlog from the journal,
// oldest first, as they come free. WeCom may not retry a refused callback, so load never
// refuses one; only a journal that cannot write does.
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

// ErrClosed is returned by Resume after Close began.
var ErrClosed = errors.New("inbox: closed")

// Journal records which messages were received and finished. The store implements it.
type Journal interface {
	// Receive records m as received; fresh is false when m.ID was seen before.
	Receive(ctx context.Context, m chat.Message) (fresh bool, err error)
	// Finish records that m's replies were sent.
	Finish(ctx context.Context, id string) error
	// Backlog returns up to limit messages received and not finished, oldest first.
	Backlog(ctx context.Context, limit int) ([]chat.Message, error)
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
	// QueueSize bounds the messages held in memory for a worker (default 1024); more
	// wait in the journal.
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

	// qmu guards the cache's bookkeeping: which messages are queued or in work (so that
	// a read of the backlog does not queue them twice) and whether messages wait in the
	// journal alone (then new ones join them there, so that the oldest go first).
	qmu      sync.Mutex
	inflight map[string]bool
	spilled  bool
	// stalled is set when reading the backlog failed: workers stop trying until the
	// next message arrives, instead of spinning on a failing journal.
	stalled bool
	// refilling lets one worker at a time read the backlog; finished collects the
	// messages finished while it reads, which the read may still show as unfinished.
	refilling atomic.Bool
	finished  map[string]bool

	depth   atomic.Int64
	backlog atomic.Int64 // messages accepted into the journal alone, not yet queued
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
		slots: make(chan struct{}, o.Workers), inflight: map[string]bool{}}
}

// Accept records m and queues it. It returns nil for a new message and for a duplicate
// (both are answered 200), whatever the load: a message that finds the cache full waits
// in the journal. Only the journal's error (it cannot write) refuses a message. After
// Close it records m for the next start.
func (in *Inbox) Accept(ctx context.Context, m chat.Message) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	fresh, err := in.o.Journal.Receive(ctx, m)
	if err != nil {
		return fmt.Errorf("inbox: record message: %w", err)
	}
	if !fresh {
		in.o.Logger.Debug("duplicate delivery ignored", zap.String("id", m.ID), zap.String("user", m.User))
		return nil
	}
	if in.closed {
		in.o.Logger.Info("message received while shutting down; it is processed at the next start",
			zap.String("id", m.ID), zap.String("user", m.User))
		return nil
	}
	in.enqueue(m)
	return nil
}

// enqueue puts a recorded message in the cache, or leaves it in the journal when the
// cache is full or older messages wait there; in.mu is read-locked and the inbox open.
func (in *Inbox) enqueue(m chat.Message) {
	in.qmu.Lock()
	queued := false
	if !in.spilled && !in.inflight[m.ID] {
		select {
		case in.queue <- m:
			in.inflight[m.ID] = true
			in.depth.Add(1)
			queued = true
		default:
		}
	}
	if !queued && !in.inflight[m.ID] {
		in.spilled = true
		in.backlog.Add(1)
	}
	in.stalled = false
	in.qmu.Unlock()
	in.spawn()
}

// Resume hands back messages that were received but not finished before a restart.
// They are queued as room allows; the rest wait in the journal like any backlog.
func (in *Inbox) Resume(ctx context.Context, msgs ...chat.Message) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.closed {
		return ErrClosed
	}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		in.enqueue(m)
		in.o.Logger.Info("resuming a message left unfinished", zap.String("id", m.ID), zap.String("user", m.User))
	}
	return nil
}

// refill moves the oldest messages waiting in the journal alone into the cache. It
// reports whether it queued any. One worker refills at a time; the others go on.
func (in *Inbox) refill() bool {
	if !in.refilling.CompareAndSwap(false, true) {
		return false
	}
	defer in.refilling.Store(false)
	in.qmu.Lock()
	if !in.spilled {
		in.qmu.Unlock()
		return false
	}
	// A message accepted from now on either is queued directly or sets spilled again;
	// one recorded before is in the read below.
	in.spilled = false
	busy := len(in.inflight)
	in.finished = map[string]bool{}
	in.qmu.Unlock()
	defer func() {
		in.qmu.Lock()
		in.finished = nil
		in.qmu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(in.ctx, 10*time.Second)
	defer cancel()
	// The oldest unfinished messages include those in work: read past them.
	msgs, err := in.o.Journal.Backlog(ctx, busy+cap(in.queue))
	if err != nil {
		in.o.Logger.Error("cannot read the backlog from the journal; trying again with the next message", zap.Error(err))
		in.qmu.Lock()
		in.spilled, in.stalled = true, true
		in.qmu.Unlock()
		return false
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.closed {
		return false // left for the next start
	}
	queued := false
	in.qmu.Lock()
	defer in.qmu.Unlock()
	for _, m := range msgs {
		if in.inflight[m.ID] || in.finished[m.ID] {
			continue
		}
		select {
		case in.queue <- m:
			in.inflight[m.ID] = true
			in.depth.Add(1)
			in.backlog.Add(-1)
			queued = true
			in.spawn() // as many workers as the refilled queue can use
		default:
			// The cache is full again: the rest wait for the next refill.
			in.spilled = true
			return queued
		}
	}
	if len(msgs) == busy+cap(in.queue) {
		in.spilled = true // there may be more beyond what was read
	}
	return queued
}

// Backlog is how many accepted messages wait in the journal alone (not counting those in
// the in-memory queue, see Depth).
func (in *Inbox) Backlog() int { return int(max(in.backlog.Load(), 0)) }

// Depth is the number of accepted messages not yet taken by a worker: those in the
// in-memory queue and those waiting in the journal alone (Backlog).
func (in *Inbox) Depth() int { return int(in.depth.Load()) + in.Backlog() }

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
		if in.refill() {
			continue
		}
		<-in.slots
		// A message queued between the empty check and the release found every slot
		// taken and started no worker: take it, unless the slot is gone to a new worker
		// (which will).
		if len(in.queue) == 0 && (!in.hasBacklog() || in.refilling.Load()) {
			return // nothing left, or the worker reading the backlog goes on with it
		}
		select {
		case in.slots <- struct{}{}:
		default:
			return
		}
	}
}

func (in *Inbox) hasBacklog() bool {
	in.qmu.Lock()
	defer in.qmu.Unlock()
	return in.spilled && !in.stalled
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
		// Still unfinished in the journal: keep it marked in work, so that a read of the
		// backlog does not run it again; the next start resumes it.
		in.msgLog(m).Error("cannot record message as done", zap.Error(err))
		return
	}
	in.qmu.Lock()
	delete(in.inflight, m.ID)
	if in.finished != nil {
		in.finished[m.ID] = true
	}
	in.qmu.Unlock()
}
