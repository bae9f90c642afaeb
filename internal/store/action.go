package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Action states, in the order an action goes through them.
const (
	ActionSending = "sending" // recorded, the POST to PVE may or may not have gone out
	ActionSent    = "sent"    // PVE accepted it; UPID is known
	ActionDone    = "done"    // the task ended (or the attempt was given up); Result says how
)

// Action is one entry of the action journal: a power action the bot is sending or sent to
// PVE. It is recorded before the POST, so a bot killed in between knows on restart that it
// must not POST again but look the task up (or tell the user it cannot know).
type Action struct {
	ID         string // unique: the confirmation id or the message key
	MessageKey string
	User       string
	Action     string
	Cluster    string
	Node       string
	GuestType  string
	VMID       int
	State      string // sending | sent | done
	UPID       string
	Result     string
	Started    time.Time // default Now
	Finished   time.Time // set by ActionDone
	Source     string    // the chat the message came from (chat.Message.Source)
	Params     string    // what the action needs besides the guest, as the confirmation had it
}

// BeginAction records a in state "sending"; call it BEFORE the POST. fresh is false when
// an action with that ID already exists (whatever its state): then do not POST.
func (s *Store) BeginAction(ctx context.Context, a Action) (fresh bool, err error) {
	if a.ID == "" {
		return false, errors.New("store: begin action: no id")
	}
	if a.Started.IsZero() {
		a.Started = s.now()
	}
	res, err := s.st.actBegin.ExecContext(ctx, a.ID, a.MessageKey, a.User, a.Action, a.Cluster, a.Node,
		a.GuestType, a.VMID, toNanos(a.Started), a.Source, a.Params)
	if err != nil {
		return false, s.dbError("begin action", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.dbError("begin action", err)
	}
	return n == 1, nil
}

// ActionSent records that PVE accepted the action as task upid. Unknown id: ErrNotFound;
// an action already done stays done (an error says so).
func (s *Store) ActionSent(ctx context.Context, id, upid string) error {
	res, err := s.st.actSent.ExecContext(ctx, upid, id)
	if err != nil {
		return s.dbError("action sent", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.GetAction(ctx, id); err != nil {
		return fmt.Errorf("store: action sent %q: %w", id, ErrNotFound)
	}
	return fmt.Errorf("store: action sent %q: action is already done", id)
}

// ActionDone closes the action with its result ("ok", PVE's exit status, "unknown after
// restart", ...). Unknown id: ErrNotFound. Closing it again keeps the first result.
func (s *Store) ActionDone(ctx context.Context, id, result string) error {
	res, err := s.st.actDone.ExecContext(ctx, scrub(result), toNanos(s.now()), id)
	if err != nil {
		return s.dbError("action done", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.GetAction(ctx, id); err != nil {
		return fmt.Errorf("store: action done %q: %w", id, ErrNotFound)
	}
	return nil
}

// GetAction returns the journal entry id, or ErrNotFound.
func (s *Store) GetAction(ctx context.Context, id string) (Action, error) {
	a, err := scanAction(s.st.actGet.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Action{}, fmt.Errorf("store: get action %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Action{}, s.dbError("get action", err)
	}
	return a, nil
}

// OpenActions returns the actions in state sending or sent, oldest first: what a restart
// must look up instead of sending again.
func (s *Store) OpenActions(ctx context.Context) ([]Action, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+actionCols+` FROM actions WHERE state <> 'done' ORDER BY started, id`)
	if err != nil {
		return nil, s.dbError("open actions", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, s.dbError("open actions", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbError("open actions", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanAction(r scanner) (Action, error) {
	var (
		a        Action
		started  int64
		finished sql.NullInt64
	)
	if err := r.Scan(&a.ID, &a.MessageKey, &a.User, &a.Action, &a.Cluster, &a.Node, &a.GuestType, &a.VMID,
		&a.State, &a.UPID, &a.Result, &started, &finished, &a.Source, &a.Params); err != nil {
		return Action{}, err
	}
	a.Started = fromNanos(started)
	a.Finished = fromNanos(finished.Int64)
	return a, nil
}
