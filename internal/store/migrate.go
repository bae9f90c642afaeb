package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema steps in order; migrations[i] takes the database from
// user_version i to i+1. Never edit a released step: append a new one.
var migrations = []string{
	// 1: the foundation (issue 2): the inbox for de-duplication and resume, and a
	// bucketed key/value table for small state.
	`CREATE TABLE inbox (
		key           TEXT PRIMARY KEY,
		user          TEXT NOT NULL,
		kind          TEXT NOT NULL,
		text          TEXT NOT NULL,
		event_key     TEXT NOT NULL,
		task_id       TEXT NOT NULL,
		response_code TEXT NOT NULL,
		msg_time      INTEGER NOT NULL,
		received      INTEGER NOT NULL,
		finished      INTEGER,
		attempts      INTEGER NOT NULL DEFAULT 1
	);
	CREATE TABLE kv (
		bucket TEXT NOT NULL,
		key    TEXT NOT NULL,
		val    BLOB NOT NULL,
		PRIMARY KEY (bucket, key)
	) WITHOUT ROWID;`,

	// 2: commands (issue 4): one-time confirmations, the action journal, the audit log.
	`CREATE TABLE confirmations (
		id         TEXT PRIMARY KEY,
		code       TEXT COLLATE NOCASE,
		user       TEXT NOT NULL,
		action     TEXT NOT NULL,
		cluster    TEXT NOT NULL,
		node       TEXT NOT NULL,
		guest_type TEXT NOT NULL,
		vmid       INTEGER NOT NULL,
		guest_name TEXT NOT NULL,
		created    INTEGER NOT NULL,
		expires    INTEGER NOT NULL,
		state      TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'used', 'cancelled', 'expired')),
		closed     INTEGER
	);
	CREATE UNIQUE INDEX confirmations_live_code ON confirmations (code) WHERE state = 'live';
	CREATE INDEX confirmations_expires ON confirmations (expires);
	CREATE TABLE actions (
		id          TEXT PRIMARY KEY,
		message_key TEXT NOT NULL,
		user        TEXT NOT NULL,
		action      TEXT NOT NULL,
		cluster     TEXT NOT NULL,
		node        TEXT NOT NULL,
		guest_type  TEXT NOT NULL,
		vmid        INTEGER NOT NULL,
		state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'done')),
		upid        TEXT NOT NULL DEFAULT '',
		result      TEXT NOT NULL DEFAULT '',
		started     INTEGER NOT NULL,
		finished    INTEGER
	);
	CREATE INDEX actions_open ON actions (started) WHERE state <> 'done';
	CREATE TABLE audit (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		time     INTEGER NOT NULL,
		user     TEXT NOT NULL,
		command  TEXT NOT NULL,
		decision TEXT NOT NULL CHECK (decision IN ('allowed', 'refused', 'error')),
		reason   TEXT NOT NULL,
		cluster  TEXT NOT NULL,
		vmid     INTEGER NOT NULL,
		upid     TEXT NOT NULL,
		result   TEXT NOT NULL,
		duration INTEGER NOT NULL
	);
	CREATE INDEX audit_time ON audit (time);`,

	// 3: where a message came from (chat.Message.Source: "" WeCom, "console"), so that a
	// resumed message and the result of a resumed action go back to the same chat.
	`ALTER TABLE inbox ADD COLUMN source TEXT NOT NULL DEFAULT '';
	ALTER TABLE actions ADD COLUMN source TEXT NOT NULL DEFAULT '';`,

	// 4: what an action needs besides its guest (a snapshot's name, a target node, a
	// storage), kept with the confirmation and the journal entry so that a confirmed or
	// resumed action is sent exactly as it was asked.
	`ALTER TABLE confirmations ADD COLUMN params TEXT NOT NULL DEFAULT '';
	ALTER TABLE actions ADD COLUMN params TEXT NOT NULL DEFAULT '';`,
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings db from its user_version to len(steps), each step and its version bump
// in one transaction, and returns the versions before and after. A database at a higher
// version than steps knows is refused with ErrNewerSchema.
func migrate(ctx context.Context, db *sql.DB, steps []string) (from, to int, err error) {
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if from > len(steps) {
		return from, from, fmt.Errorf("schema version %d, this bot knows up to %d: %w", from, len(steps), ErrNewerSchema)
	}
	for v := from; v < len(steps); v++ {
		if err := migrateStep(ctx, db, v+1, steps[v]); err != nil {
			return from, v, err
		}
	}
	return from, len(steps), nil
}

func migrateStep(ctx context.Context, db *sql.DB, version int, step string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("schema version %d: %w", version, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, step); err != nil {
		return fmt.Errorf("schema version %d: %w", version, err)
	}
	// PRAGMA takes no bound parameters; version is an int we own.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return fmt.Errorf("schema version %d: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("schema version %d: %w", version, err)
	}
	return nil
}
