package store

import (
	"context"
	"database/sql"
	"errors"
)

// Get returns the value of key in bucket; ok is false when there is none.
func (s *Store) Get(ctx context.Context, bucket, key string) (val []byte, ok bool, err error) {
	err = s.st.kvGet.QueryRowContext(ctx, bucket, key).Scan(&val)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.dbError("get", err)
	}
	if val == nil {
		val = []byte{}
	}
	return val, true, nil
}

// Put sets key in bucket to val (nil is stored as empty).
func (s *Store) Put(ctx context.Context, bucket, key string, val []byte) error {
	if bucket == "" {
		return errors.New("store: put: empty bucket")
	}
	if val == nil {
		val = []byte{}
	}
	if _, err := s.st.kvPut.ExecContext(ctx, bucket, key, val); err != nil {
		return s.dbError("put", err)
	}
	return nil
}

// Delete removes key from bucket; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.st.kvDel.ExecContext(ctx, bucket, key); err != nil {
		return s.dbError("delete", err)
	}
	return nil
}

// List returns every key and value in bucket (an empty map when there is none).
func (s *Store) List(ctx context.Context, bucket string) (map[string][]byte, error) {
	rows, err := s.st.kvList.QueryContext(ctx, bucket)
	if err != nil {
		return nil, s.dbError("list", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var (
			k string
			v []byte
		)
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.dbError("list", err)
		}
		if v == nil {
			v = []byte{}
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbError("list", err)
	}
	return out, nil
}
