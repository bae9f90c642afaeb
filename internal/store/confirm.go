package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinConfirmationIDLen is the shortest Confirmation.ID accepted: 22 characters is 128 bits
// in unpadded base64url (crypto/rand.Text gives 26 base32 characters). The ID travels in a
// card button's key, so it must not be guessable.
const MinConfirmationIDLen = 22

// Confirmation is a one-time permission to run one action on one guest, bound to the user
// who asked for it and to an expiry.
type Confirmation struct {
	ID        string // random, >= 128 bits; carried in the Confirm button's key
	Code      string // short code for reply_mode text ("确认 <code>"); unique among live ones, matched case-insensitively; may be empty
	User      string // WeCom UserID of the requester, matched case-insensitively
	Action    string // command name: shutdown, reboot, stop, ...
	Cluster   string
	Node      string
	GuestType string // qemu | lxc
	VMID      int
	GuestName string
	// Params is what the action needs besides the guest (a snapshot name, a target node…),
	// encoded by the caller; the store keeps it as it is.
	Params  string
	Created time.Time // default Now
	Expires time.Time // required
}

// CreateConfirmation stores a new live confirmation. A duplicate ID is ErrExists; a Code
// held by another live, unexpired confirmation is ErrCodeInUse (generate another code).
func (s *Store) CreateConfirmation(ctx context.Context, c Confirmation) error {
	switch {
	case len(c.ID) < MinConfirmationIDLen:
		return fmt.Errorf("store: create confirmation: id must be at least %d random characters", MinConfirmationIDLen)
	case c.User == "":
		return errors.New("store: create confirmation: no user")
	case c.Action == "":
		return errors.New("store: create confirmation: no action")
	case c.Expires.IsZero():
		return errors.New("store: create confirmation: no expiry")
	}
	now := s.now()
	if c.Created.IsZero() {
		c.Created = now
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.dbError("create confirmation", err)
	}
	defer tx.Rollback()

	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM confirmations WHERE id = ?`, c.ID).Scan(&one)
	if err == nil {
		return fmt.Errorf("store: create confirmation: %w", ErrExists)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return s.dbError("create confirmation", err)
	}
	var code any // NULL for no code: NULLs never collide in the unique index
	if c.Code != "" {
		code = c.Code
		// A live code whose time is up no longer blocks its reuse.
		if _, err := tx.ExecContext(ctx, `UPDATE confirmations SET state = 'expired', closed = ?
			WHERE code = ? AND state = 'live' AND expires <= ?`, toNanos(now), c.Code, toNanos(now)); err != nil {
			return s.dbError("create confirmation", err)
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM confirmations WHERE code = ? AND state = 'live'`, c.Code).Scan(&one)
		if err == nil {
			return fmt.Errorf("store: create confirmation: %w", ErrCodeInUse)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return s.dbError("create confirmation", err)
		}
	}
	if _, err := tx.StmtContext(ctx, s.st.confIns).ExecContext(ctx, c.ID, code, c.User, c.Action, c.Cluster, c.Node,
		c.GuestType, c.VMID, c.GuestName, toNanos(c.Created), toNanos(c.Expires), c.Params); err != nil {
		return s.dbError("create confirmation", err)
	}
	if err := tx.Commit(); err != nil {
		return s.dbError("create confirmation", err)
	}
	return nil
}

// TakeConfirmation consumes a confirmation found by its ID or its code, atomically: it
// must exist (ErrNotFound), belong to user (ErrWrongUser, and it stays usable for its
// owner), not be expired at Now (ErrExpired) and not be used or cancelled (ErrUsed).
// Of concurrent takes exactly one succeeds. With ErrExpired and ErrUsed the confirmation
// is returned too, so the owner can be told which action it was; with ErrWrongUser it is
// not, since it is someone else's.
func (s *Store) TakeConfirmation(ctx context.Context, idOrCode, user string) (Confirmation, error) {
	return s.closeConfirmation(ctx, "take confirmation", "used", idOrCode, user)
}

// CancelConfirmation runs the same checks as TakeConfirmation and marks the confirmation
// cancelled: a later Take or Cancel gets ErrUsed.
func (s *Store) CancelConfirmation(ctx context.Context, idOrCode, user string) (Confirmation, error) {
	return s.closeConfirmation(ctx, "cancel confirmation", "cancelled", idOrCode, user)
}

func (s *Store) closeConfirmation(ctx context.Context, op, state, idOrCode, user string) (Confirmation, error) {
	if idOrCode == "" {
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Confirmation{}, s.dbError(op, err)
	}
	defer tx.Rollback()

	var (
		c                Confirmation
		code             sql.NullString
		created, expires int64
		current          string
	)
	err = tx.StmtContext(ctx, s.st.confFind).QueryRowContext(ctx, idOrCode, user).Scan(&c.ID, &code, &c.User, &c.Action,
		&c.Cluster, &c.Node, &c.GuestType, &c.VMID, &c.GuestName, &created, &expires, &current, &c.Params)
	if errors.Is(err, sql.ErrNoRows) {
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if err != nil {
		return Confirmation{}, s.dbError(op, err)
	}
	c.Code = code.String
	c.Created = fromNanos(created)
	c.Expires = fromNanos(expires)

	switch {
	case !strings.EqualFold(c.User, user):
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrWrongUser)
	case !now.Before(c.Expires) || current == "expired":
		return c, fmt.Errorf("store: %s: %w", op, ErrExpired)
	case current != "live":
		return c, fmt.Errorf("store: %s: %w", op, ErrUsed)
	}
	res, err := tx.StmtContext(ctx, s.st.confClose).ExecContext(ctx, state, toNanos(now), c.ID)
	if err != nil {
		return Confirmation{}, s.dbError(op, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// Cannot happen while all access shares one connection; kept as a guard.
		return c, fmt.Errorf("store: %s: %w", op, ErrUsed)
	}
	if err := tx.Commit(); err != nil {
		return Confirmation{}, s.dbError(op, err)
	}
	return c, nil
}
