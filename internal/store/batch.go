package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Receive and Finish are the two writes every message makes. Each used to be a
// transaction of its own; under load most of their cost is the commit (writing WAL frames),
// so one writer goroutine commits every Receive and Finish waiting at that moment in one
// transaction (group commit). A caller still returns only after its own record is
// committed: a Receive that returned is in the WAL and survives a process crash, exactly
// as before. A Receive is committed at once, with whatever waits; Finishes alone wait up
// to finishLinger for the next Receive to share its commit.

// maxBatch bounds the operations of one group commit.
const maxBatch = 256

type opKind uint8

const (
	opReceive opKind = iota
	opFinish
)

// writeOp is one Receive or Finish waiting for its commit.
type writeOp struct {
	kind opKind
	msg  chat.Message // receive
	key  string       // finish
	at   int64        // when it was asked for (toNanos)

	fresh bool
	err   error
	done  chan struct{} // one token when the op is settled
}

var opPool = sync.Pool{New: func() any { return &writeOp{done: make(chan struct{}, 1)} }}

// putOp returns a settled op to the pool, without references to the caller's data.
func putOp(op *writeOp) {
	done := op.done
	*op = writeOp{done: done}
	opPool.Put(op)
}

// writer is the group-commit goroutine's state.
type writer struct {
	ops    chan *writeOp
	mu     sync.RWMutex // guards closed against sends after close
	closed bool
	exited chan struct{}
	// commits counts transactions and held says Finishes wait for company, for tests.
	commits atomic.Int64
	held    atomic.Bool
}

func (s *Store) startWriter() {
	s.w = &writer{ops: make(chan *writeOp, maxBatch), exited: make(chan struct{})}
	go s.writeLoop()
}

// stopWriter lets the writer commit what was submitted, then stops it.
func (s *Store) stopWriter() {
	w := s.w
	if w == nil {
		return
	}
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ops)
	}
	w.mu.Unlock()
	<-w.exited
}

// submit hands op to the writer and waits until it is committed (or failed). Once
// submitted, the op is not abandoned when ctx ends: the caller learns its real outcome.
func (s *Store) submit(ctx context.Context, op *writeOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := s.w
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errors.New("store is closed")
	}
	w.ops <- op
	w.mu.RUnlock()
	<-op.done
	return nil
}

func (s *Store) writeLoop() {
	defer close(s.w.exited)
	batch := make([]*writeOp, 0, maxBatch)
	linger := time.NewTimer(finishLinger)
	linger.Stop()
	holding := false // batch holds Finishes alone, waiting for a Receive or the linger
	for open := true; open || len(batch) > 0; {
		if len(batch) == 0 {
			op, ok := <-s.w.ops
			if !ok {
				return
			}
			batch = append(batch, op)
		} else if open {
			select {
			case op, ok := <-s.w.ops:
				if !ok {
					open = false
				} else {
					batch = append(batch, op)
				}
			case <-linger.C:
				holding = false
				s.w.held.Store(false)
				s.flush(batch)
				batch = batch[:0]
				continue
			}
		}
	more:
		for open && len(batch) < maxBatch {
			select {
			case op, ok := <-s.w.ops:
				if !ok {
					open = false
					break more
				}
				batch = append(batch, op)
			default:
				break more
			}
		}
		if open && len(batch) < maxBatch && finishesOnly(batch) {
			if !holding {
				holding = true
				s.w.held.Store(true)
				linger.Reset(finishLinger)
			}
			continue
		}
		if holding {
			holding = false
			s.w.held.Store(false)
			linger.Stop()
		}
		s.flush(batch)
		batch = batch[:0]
	}
}

// finishLinger is how long Finishes alone wait for a Receive to share their commit. At a
// steady rate the next message's Receive comes first and a message costs one transaction
// instead of two; a lone Finish is committed after finishLinger. Only the Finish's caller
// waits (its replies are sent already), never a callback; a crash within the linger runs
// those messages again at the next start, as a crash between reply and Finish always did.
const finishLinger = 100 * time.Millisecond

func finishesOnly(ops []*writeOp) bool {
	for _, op := range ops {
		if op.kind != opFinish {
			return false
		}
	}
	return true
}

// flush commits ops and tells their callers.
func (s *Store) flush(ops []*writeOp) {
	s.commit(ops)
	for _, op := range ops {
		op.done <- struct{}{}
	}
	clear(ops)
}

// commit runs ops in one transaction. When that transaction fails and held more than
// one op, each op is retried in a transaction of its own, so that every caller gets the
// error of its own write (a full disk, say) and not a neighbour's.
func (s *Store) commit(ops []*writeOp) {
	err := s.commitTx(ops)
	if err == nil {
		return
	}
	if len(ops) == 1 {
		ops[0].err, ops[0].fresh = s.dbError(ops[0].kind.String(), err), false
		return
	}
	for _, op := range ops {
		if err := s.commitTx([]*writeOp{op}); err != nil {
			op.err, op.fresh = s.dbError(op.kind.String(), err), false
		}
	}
}

func (k opKind) String() string {
	if k == opFinish {
		return "finish"
	}
	return "receive"
}

func (s *Store) commitTx(ops []*writeOp) error {
	s.w.commits.Add(1)
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var recv, fin *sql.Stmt
	for _, op := range ops {
		op.err, op.fresh = nil, false
		switch op.kind {
		case opReceive:
			if recv == nil {
				recv = tx.StmtContext(ctx, s.st.receive)
			}
			m := op.msg
			res, err := recv.ExecContext(ctx, m.ID, m.User, string(m.Kind), m.Text, m.EventKey,
				m.TaskID, m.ResponseCode, toNanos(m.Time), op.at, m.Source)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			op.fresh = n == 1
		case opFinish:
			if fin == nil {
				fin = tx.StmtContext(ctx, s.st.finish)
			}
			res, err := fin.ExecContext(ctx, op.at, op.key)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				continue
			}
			var one int
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM inbox WHERE key = ?`, op.key).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				op.err = fmt.Errorf("store: finish %q: %w", op.key, ErrNotFound)
			case err != nil:
				return err
			}
		}
	}
	return tx.Commit()
}
