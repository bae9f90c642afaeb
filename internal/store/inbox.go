package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Received is an inbox record: a message the bot accepted.
type Received struct {
	Key string       // the de-duplication key (chat.Message.ID)
	Msg chat.Message // as received, Msg.ID == Key
	At  time.Time    // when it was first received
	// Attempts counts how often processing was started: 1 at Receive, plus one for every
	// Unfinished call that handed it out again. A message that keeps crashing the bot
	// can be given up on (Finish it) after a few attempts instead of crashing it forever.
	Attempts int
}

// Receive records m as received, before the callback is acknowledged. m.ID is the key:
// fresh is true the first time a key is seen and false for a duplicate (a WeCom retry,
// also after a restart, as long as the record is kept: DedupeRetention after Finish).
// A duplicate changes nothing, whether the first copy is finished or still in work.
func (s *Store) Receive(ctx context.Context, m chat.Message) (fresh bool, err error) {
	if m.ID == "" {
		return false, errors.New("store: receive: message has no id")
	}
	op := opPool.Get().(*writeOp)
	defer putOp(op)
	op.kind, op.msg, op.at = opReceive, m, toNanos(s.now())
	if err := s.submit(ctx, op); err != nil {
		return false, s.dbError("receive", err)
	}
	return op.fresh, op.err
}

// Finish marks a received message as processed (its reply went out). From now on it is
// only a de-duplication record, pruned DedupeRetention later. Finishing twice is fine;
// an unknown key is ErrNotFound.
func (s *Store) Finish(ctx context.Context, key string) error {
	op := opPool.Get().(*writeOp)
	defer putOp(op)
	op.kind, op.key, op.at = opFinish, key, toNanos(s.now())
	if err := s.submit(ctx, op); err != nil {
		return s.dbError("finish", err)
	}
	return op.err
}

// Forget removes a record, so that the next delivery of that key is fresh again: for a
// message the bot could not take (queue full), which WeCom will retry. Forgetting an
// unknown key is not an error.
func (s *Store) Forget(ctx context.Context, key string) error {
	if _, err := s.st.forget.ExecContext(ctx, key); err != nil {
		return s.dbError("forget", err)
	}
	return nil
}

// Unfinished returns the messages received but not finished, oldest first: call it once
// at start-up and process them again (an action already sent to PVE is guarded by the
// action journal). Each call counts as a new attempt for every message it returns.
func (s *Store) Unfinished(ctx context.Context) ([]Received, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.dbError("unfinished", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE inbox SET attempts = attempts + 1 WHERE finished IS NULL`); err != nil {
		return nil, s.dbError("unfinished", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+inboxCols+` FROM inbox WHERE finished IS NULL ORDER BY received, rowid`)
	if err != nil {
		return nil, s.dbError("unfinished", err)
	}
	out, err := scanReceived(rows)
	if err != nil {
		return nil, s.dbError("unfinished", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.dbError("unfinished", err)
	}
	return out, nil
}

// Backlog returns up to limit messages received and not finished, oldest first, without
// counting an attempt: the inbox reads the messages that wait for a worker with it.
func (s *Store) Backlog(ctx context.Context, limit int) ([]chat.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+inboxCols+` FROM inbox WHERE finished IS NULL ORDER BY received, rowid LIMIT ?`, limit)
	if err != nil {
		return nil, s.dbError("backlog", err)
	}
	recs, err := scanReceived(rows)
	if err != nil {
		return nil, s.dbError("backlog", err)
	}
	out := make([]chat.Message, len(recs))
	for i, r := range recs {
		out[i] = r.Msg
	}
	return out, nil
}

// scanReceived reads inbox rows (inboxCols) and closes them.
func scanReceived(rows *sql.Rows) ([]Received, error) {
	defer rows.Close()
	var out []Received
	for rows.Next() {
		var (
			r              Received
			kind           string
			msgAt, receivd int64
		)
		if err := rows.Scan(&r.Key, &r.Msg.User, &kind, &r.Msg.Text, &r.Msg.EventKey, &r.Msg.TaskID,
			&r.Msg.ResponseCode, &msgAt, &receivd, &r.Attempts, &r.Msg.Source); err != nil {
			return nil, err
		}
		r.Msg.ID = r.Key
		r.Msg.Kind = chat.Kind(kind)
		r.Msg.Time = fromNanos(msgAt)
		r.At = fromNanos(receivd)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}
