// Package store is the bot's embedded state: everything it must remember across a crash
// or a restart lives in one SQLite database (modernc.org/sqlite, pure Go, so CGO_ENABLED=0
// builds work) under the config's data_dir.
//
// What it keeps:
//   - the inbox: one record per received chat message (its de-duplication key), marked
//     finished once the reply went out, so a WeCom retry is recognised even after a
//     restart and a message cut short by a crash is taken up again (Receive, Finish,
//     Unfinished);
//   - one-time confirmations bound to a user, an action, a guest and an expiry;
//   - the action journal: a power action is recorded as "sending" before its POST to PVE
//     and as "sent" with its UPID after it, so a restart never sends it twice;
//   - the audit log, and a small bucketed key/value table for later features.
//
// Lifecycle: Open creates data_dir (0700), takes an exclusive flock on data_dir/bot.lock
// holding the PID (one bot per data_dir; the kernel drops the lock when the process dies),
// checks the directory is writable, and migrates the schema (PRAGMA user_version) in
// order, each step in its own transaction. A database written by a newer bot is refused.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A commit is in the
// WAL file (the OS page cache) when it returns, so it survives the bot process crashing or
// being killed; only a power loss or kernel crash can lose the last commits before a
// checkpoint (the database stays consistent either way). That is the trade the callback
// path needs: WeCom retries a lost message anyway, and an fsync per message would cap it at
// the disk's flush rate. All access goes through one connection (SQLite has one writer
// anyway) with prepared statements; busy_timeout and foreign keys are on.
//
// Errors are meant to be shown to an operator as they are: a read-only data_dir, a full
// disk (ErrDiskFull), a data_dir in use by another bot (ErrLocked, with its PID) or a newer
// schema (ErrNewerSchema) each say so in plain words.
package store
