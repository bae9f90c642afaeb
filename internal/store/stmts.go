package store

import (
	"context"
	"database/sql"
)

// stmts are the statements prepared once at Open: the hot ones (Receive, Finish, audit,
// key/value) and those run inside transactions.
type stmts struct {
	receive, finish, forget      *sql.Stmt
	kvGet, kvPut, kvDel, kvList  *sql.Stmt
	audit                        *sql.Stmt
	actBegin, actSent, actDone   *sql.Stmt
	actGet                       *sql.Stmt
	confFind, confClose, confIns *sql.Stmt
	all                          []*sql.Stmt
}

const (
	inboxCols  = `key, user, kind, text, event_key, task_id, response_code, msg_time, received, attempts, source`
	actionCols = `id, message_key, user, action, cluster, node, guest_type, vmid, state, upid, result, started, finished, source, params`
	confCols   = `id, code, user, action, cluster, node, guest_type, vmid, guest_name, created, expires, state, params`
)

func (s *Store) prepare(ctx context.Context) error {
	p := func(dst **sql.Stmt, query string) error {
		st, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		*dst = st
		s.st.all = append(s.st.all, st)
		return nil
	}
	for _, q := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.st.receive, `INSERT INTO inbox (` + inboxCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (key) DO NOTHING`},
		{&s.st.finish, `UPDATE inbox SET finished = ? WHERE key = ? AND finished IS NULL`},
		{&s.st.forget, `DELETE FROM inbox WHERE key = ?`},
		{&s.st.kvGet, `SELECT val FROM kv WHERE bucket = ? AND key = ?`},
		{&s.st.kvPut, `INSERT INTO kv (bucket, key, val) VALUES (?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET val = excluded.val`},
		{&s.st.kvDel, `DELETE FROM kv WHERE bucket = ? AND key = ?`},
		{&s.st.kvList, `SELECT key, val FROM kv WHERE bucket = ?`},
		{&s.st.audit, `INSERT INTO audit (time, user, command, decision, reason, cluster, vmid, upid, result, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.st.actBegin, `INSERT INTO actions (` + actionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', '', '', ?, NULL, ?, ?) ON CONFLICT (id) DO NOTHING`},
		{&s.st.actSent, `UPDATE actions SET state = 'sent', upid = ? WHERE id = ? AND state <> 'done'`},
		{&s.st.actDone, `UPDATE actions SET state = 'done', result = ?, finished = ? WHERE id = ? AND state <> 'done'`},
		{&s.st.actGet, `SELECT ` + actionCols + ` FROM actions WHERE id = ?`},
		// By id first; by code, the asking user's own first (codes are unique only among
		// live ones), live before used, newest first: a used or expired code is answered
		// as such rather than "unknown".
		{&s.st.confFind, `SELECT ` + confCols + ` FROM confirmations WHERE id = ?1 OR code = ?1
			ORDER BY id = ?1 DESC, user = ?2 COLLATE NOCASE DESC, state = 'live' DESC, created DESC LIMIT 1`},
		{&s.st.confClose, `UPDATE confirmations SET state = ?, closed = ? WHERE id = ? AND state = 'live'`},
		{&s.st.confIns, `INSERT INTO confirmations (` + confCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'live', ?)`},
	} {
		if err := p(q.dst, q.query); err != nil {
			s.st.close()
			return err
		}
	}
	return nil
}

func (st *stmts) close() {
	for _, s := range st.all {
		s.Close()
	}
	st.all = nil
}
