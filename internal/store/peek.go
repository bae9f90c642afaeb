package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// PeekConfirmation reads a live confirmation of user by its ID or code without using it,
// with TakeConfirmation's checks: what a confirmation that asks for more than a button
// (a node's name typed) needs to look at before the take.
func (s *Store) PeekConfirmation(ctx context.Context, idOrCode, user string) (Confirmation, error) {
	const op = "peek confirmation"
	if idOrCode == "" {
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	var (
		c                Confirmation
		code             sql.NullString
		created, expires int64
		current          string
	)
	err := s.st.confFind.QueryRowContext(ctx, idOrCode, user).Scan(&c.ID, &code, &c.User, &c.Action,
		&c.Cluster, &c.Node, &c.GuestType, &c.VMID, &c.GuestName, &created, &expires, &current, &c.Params)
	if errors.Is(err, sql.ErrNoRows) {
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if err != nil {
		return Confirmation{}, s.dbError(op, err)
	}
	c.Code, c.Created, c.Expires = code.String, fromNanos(created), fromNanos(expires)
	switch {
	case !strings.EqualFold(c.User, user):
		return Confirmation{}, fmt.Errorf("store: %s: %w", op, ErrWrongUser)
	case !s.now().Before(c.Expires) || current == "expired":
		return c, fmt.Errorf("store: %s: %w", op, ErrExpired)
	case current != "live":
		return c, fmt.Errorf("store: %s: %w", op, ErrUsed)
	}
	return c, nil
}
