package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"modernc.org/sqlite"
)

// FileName is the database file inside data_dir. A Backup written to
// <otherdir>/FileName can be opened with Open(otherdir, ...).
const FileName = "bot.db"

// LockName is the lock file inside data_dir; it holds the PID of the bot using the directory.
const LockName = "bot.lock"

// Defaults for Options.
const (
	DefaultAuditRetention  = 180 * 24 * time.Hour
	DefaultDedupeRetention = 48 * time.Hour
)

// Errors callers tell apart with errors.Is. The error messages themselves are written for
// an operator and can be printed as they are.
var (
	// ErrNotFound means there is no such record (confirmation, action, inbox key).
	ErrNotFound = errors.New("not found")
	// ErrWrongUser means the confirmation belongs to another user; it stays usable for its owner.
	ErrWrongUser = errors.New("confirmation belongs to another user")
	// ErrExpired means the confirmation's time is up.
	ErrExpired = errors.New("confirmation expired")
	// ErrUsed means the confirmation was already taken or cancelled.
	ErrUsed = errors.New("confirmation already used")
	// ErrLocked means another bot (another process or another Store in this one) holds data_dir.
	ErrLocked = errors.New("data_dir is in use by another bot")
	// ErrDiskFull means the disk (or the database's size limit) is full.
	ErrDiskFull = errors.New("disk full")
	// ErrNotWritable means data_dir cannot be written (read-only mount, permissions).
	ErrNotWritable = errors.New("data_dir is not writable")
	// ErrNewerSchema means the database was written by a newer bot than this one.
	ErrNewerSchema = errors.New("data_dir was written by a newer bot")
	// ErrExists means a confirmation with this ID already exists.
	ErrExists = errors.New("already exists")
	// ErrCodeInUse means a live confirmation already has this short code; pick another one.
	ErrCodeInUse = errors.New("confirmation code in use")
)

// Options tunes a Store. The zero value is usable.
type Options struct {
	Now             func() time.Time // default time.Now
	AuditRetention  time.Duration    // default 180 days
	DedupeRetention time.Duration    // default 48h: finished inbox records, done actions, expired confirmations
	Logger          *zap.Logger      // default zap.NewNop()

	// maxPageCount, when > 0, caps the database at that many pages (PRAGMA
	// max_page_count): tests use it to make the "disk" full.
	maxPageCount int
}

// Store is the bot's embedded database. It is safe for concurrent use.
type Store struct {
	dir     string
	db      *sql.DB
	lock    *os.File
	now     func() time.Time
	log     *zap.Logger
	auditRT time.Duration
	dedupRT time.Duration
	st      stmts
	w       *writer // group commits of Receive and Finish (batch.go)

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it if needed) the store in dir and takes it for this process.
// A second Open on the same dir, from this process or another, fails with ErrLocked
// until Close (or the death of the holder).
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: open: data_dir is empty")
	}
	if opts.AuditRetention < 0 || opts.DedupeRetention < 0 {
		return nil, errors.New("store: open: retention must not be negative")
	}
	s := &Store{
		dir:     dir,
		now:     opts.Now,
		log:     opts.Logger,
		auditRT: opts.AuditRetention,
		dedupRT: opts.DedupeRetention,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.auditRT == 0 {
		s.auditRT = DefaultAuditRetention
	}
	if s.dedupRT == 0 {
		s.dedupRT = DefaultDedupeRetention
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, s.fsError("create", err)
	}
	if err := s.probe(); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, s.lockError(err)
	}
	s.lock = lock

	if err := s.openDB(opts.maxPageCount); err != nil {
		unlockDir(s.lock)
		return nil, err
	}
	return s, nil
}

func (s *Store) openDB(maxPages int) error {
	dsn := filepath.Join(s.dir, FileName) +
		"?_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
	if maxPages > 0 {
		dsn += "&_pragma=max_page_count(" + strconv.Itoa(maxPages) + ")"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	// One connection: SQLite has a single writer anyway, and one connection makes every
	// transaction (TakeConfirmation) atomic against every other call without retries.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.db = db

	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return s.dbError("open", err)
	}
	from, to, err := migrate(ctx, db, migrations)
	if err != nil {
		db.Close()
		if errors.Is(err, ErrNewerSchema) {
			return fmt.Errorf("store: %w", &dirError{
				msg: fmt.Sprintf("data_dir %s was written by a newer bot (schema version %d, this one knows up to %d); run that version or restore a backup",
					s.dir, from, len(migrations)),
				kind: ErrNewerSchema,
			})
		}
		return s.dbError("migrate", err)
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return s.dbError("prepare", err)
	}
	s.startWriter()
	s.log.Info("store opened",
		zap.String("data_dir", s.dir),
		zap.Int("schema_from", from),
		zap.Int("schema_version", to))
	return nil
}

// probe checks that dir can really be written, by creating and removing a file: the
// only test that holds for read-only mounts, ACLs and full disks alike.
func (s *Store) probe() error {
	f, err := os.CreateTemp(s.dir, ".write-probe-*")
	if err != nil {
		return s.fsError("write", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("probe\n"))
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return s.fsError("write", err)
	}
	return nil
}

// Close releases the database and the data_dir lock. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopWriter()
		s.st.close()
		err := s.db.Close()
		unlockDir(s.lock)
		if err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// Dir is the data_dir this store lives in.
func (s *Store) Dir() string { return s.dir }

// Backup writes a consistent copy of the database to dst (a file that must not exist yet)
// while the bot keeps running. A bot can start from it: put it as FileName in an empty
// directory and Open that directory.
func (s *Store) Backup(ctx context.Context, dst string) error {
	if dst == "" {
		return errors.New("store: backup: empty destination")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return s.dbError("backup", VacuumInto(ctx, s.db, dst))
}

// Execer is what VacuumInto needs of a database handle (*sql.DB).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// VacuumInto copies the database behind db into dst, a new file. dst is created first,
// 0600 and without following a symlink, so that no one else can read the copy while
// SQLite writes it (SQLite would create it with mode 0644) and an existing file or link
// is never written through; SQLite accepts an empty file. dst is removed when the copy
// fails.
func VacuumInto(ctx context.Context, db Execer, dst string) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists", dst)
		}
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(dst)
		return err
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		_ = os.Remove(dst)
		return err
	}
	return nil
}

// Prune applies retention and returns how many records it removed: finished inbox
// records and done actions older than DedupeRetention, audit entries older than
// AuditRetention, and confirmations expired more than DedupeRetention ago (kept that long
// so that a late click is answered "expired" rather than "unknown"). Unfinished messages
// and open actions are never pruned.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	dedupe := toNanos(now.Add(-s.dedupRT))
	audit := toNanos(now.Add(-s.auditRT))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.dbError("prune", err)
	}
	defer tx.Rollback()
	var total int64
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{`DELETE FROM inbox WHERE finished IS NOT NULL AND finished < ?`, dedupe},
		{`DELETE FROM actions WHERE state = 'done' AND finished < ?`, dedupe},
		{`DELETE FROM confirmations WHERE expires < ?`, dedupe},
		{`DELETE FROM audit WHERE time < ?`, audit},
	} {
		res, err := tx.ExecContext(ctx, q.sql, q.arg)
		if err != nil {
			return 0, s.dbError("prune", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, s.dbError("prune", err)
	}
	if total > 0 {
		s.log.Info("store pruned", zap.Int64("records", total))
	}
	return total, nil
}

// dirError is an operator-readable error about data_dir that errors.Is matches to kind.
type dirError struct {
	msg  string
	kind error
	err  error
}

func (e *dirError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *dirError) Is(target error) bool { return target == e.kind }
func (e *dirError) Unwrap() error        { return e.err }

// fsError explains a failure to create or write data_dir itself.
func (s *Store) fsError(op string, err error) error {
	if isDiskFull(err) {
		return fmt.Errorf("store: %s: %w", op, &dirError{msg: fmt.Sprintf("data_dir %s: disk full", s.dir), kind: ErrDiskFull, err: err})
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("store: %w", &dirError{msg: fmt.Sprintf("data_dir %s is not writable", s.dir), kind: ErrNotWritable, err: err})
	}
	return fmt.Errorf("store: %s data_dir %s: %w", op, s.dir, err)
}

// dbError wraps a database error, turning SQLITE_FULL and ENOSPC into ErrDiskFull and
// read-only failures into ErrNotWritable.
func (s *Store) dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if isDiskFull(err) {
		return fmt.Errorf("store: %s: %w", op, &dirError{msg: fmt.Sprintf("data_dir %s: disk full", s.dir), kind: ErrDiskFull, err: err})
	}
	if sqliteCode(err) == sqliteReadOnly {
		return fmt.Errorf("store: %s: %w", op, &dirError{msg: fmt.Sprintf("data_dir %s is not writable", s.dir), kind: ErrNotWritable, err: err})
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func (s *Store) lockError(err error) error {
	var held *heldError
	if errors.As(err, &held) {
		who := "pid unknown"
		if held.pid > 0 {
			who = "pid " + strconv.Itoa(held.pid)
		}
		return fmt.Errorf("store: %w", &dirError{msg: fmt.Sprintf("data_dir %s is in use by another bot (%s)", s.dir, who), kind: ErrLocked})
	}
	return s.fsError("lock", err)
}

// SQLite primary result codes used here.
const (
	sqliteReadOnly   = 8
	sqliteFull       = 13
	sqliteConstraint = 19
)

// sqliteCode is the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || sqliteCode(err) == sqliteFull
}

// toNanos stores a time as Unix nanoseconds; the zero time is 0.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of toNanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
