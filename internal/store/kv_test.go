//go:build unix

package store

import (
	"context"
	"fmt"
	"testing"
)

func TestKV(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	type op struct {
		name   string
		do     func() error
		bucket string
		want   string // fmt of List(bucket) afterwards
	}
	ops := []op{
		{"empty bucket", func() error { return nil }, "alerts", "map[]"},
		{"put", func() error { return s.Put(ctx, "alerts", "pve1", []byte("down")) }, "alerts", "map[pve1:down]"},
		{"overwrite", func() error { return s.Put(ctx, "alerts", "pve1", []byte("up")) }, "alerts", "map[pve1:up]"},
		{"second key", func() error { return s.Put(ctx, "alerts", "pve2", nil) }, "alerts", "map[pve1:up pve2:]"},
		{"other bucket is separate", func() error { return s.Put(ctx, "outbox", "pve1", []byte("x")) }, "alerts", "map[pve1:up pve2:]"},
		{"delete", func() error { return s.Delete(ctx, "alerts", "pve1") }, "alerts", "map[pve2:]"},
		{"delete missing", func() error { return s.Delete(ctx, "alerts", "nope") }, "alerts", "map[pve2:]"},
		{"binary value", func() error { return s.Put(ctx, "bin", "k", []byte{0, 1, 255}) }, "bin", "map[k:\x00\x01\xff]"},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if err := o.do(); err != nil {
				t.Fatal(err)
			}
			m, err := s.List(ctx, o.bucket)
			if err != nil {
				t.Fatal(err)
			}
			strs := map[string]string{}
			for k, v := range m {
				strs[k] = string(v)
			}
			if got := fmt.Sprint(strs); got != o.want {
				t.Errorf("List(%q) = %s, want %s", o.bucket, got, o.want)
			}
		})
	}

	gets := []struct {
		bucket, key string
		want        string
		wantOK      bool
	}{
		{"alerts", "pve2", "", true},
		{"outbox", "pve1", "x", true},
		{"alerts", "pve1", "", false},
		{"nobucket", "k", "", false},
	}
	for _, g := range gets {
		t.Run("get "+g.bucket+"/"+g.key, func(t *testing.T) {
			v, ok, err := s.Get(ctx, g.bucket, g.key)
			if err != nil {
				t.Fatal(err)
			}
			if string(v) != g.want || ok != g.wantOK {
				t.Errorf("Get = %q, %v; want %q, %v", v, ok, g.want, g.wantOK)
			}
			if ok && v == nil {
				t.Error("Get of an empty value returned nil, want an empty slice")
			}
		})
	}
	if err := s.Put(ctx, "", "k", nil); err == nil {
		t.Error("Put with an empty bucket = nil, want an error")
	}
}
