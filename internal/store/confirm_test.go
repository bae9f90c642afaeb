//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func confID(n int) string { return fmt.Sprintf("%022d", n) }

func newConf(c *clock, n int, user, code string) Confirmation {
	return Confirmation{
		ID: confID(n), Code: code, User: user, Action: "shutdown", Cluster: "home", Node: "pve1",
		GuestType: "qemu", VMID: 101, GuestName: "homeassistant", Expires: c.Now().Add(5 * time.Minute),
	}
}

func TestCreateConfirmation(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	if err := s.CreateConfirmation(ctx, newConf(clk, 1, "zhangsan", "1234")); err != nil {
		t.Fatal(err)
	}
	expiredCode := newConf(clk, 2, "zhangsan", "5555")
	expiredCode.Expires = clk.Now().Add(time.Second)
	if err := s.CreateConfirmation(ctx, expiredCode); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)

	tests := []struct {
		name    string
		c       Confirmation
		wantErr error // nil: success; errAny: some validation error
	}{
		{"ok", newConf(clk, 10, "lisi", "4321"), nil},
		{"no code", newConf(clk, 11, "lisi", ""), nil},
		{"another without code", newConf(clk, 12, "lisi", ""), nil},
		{"duplicate id", newConf(clk, 1, "lisi", "9999"), ErrExists},
		{"code of a live one", newConf(clk, 13, "lisi", "1234"), ErrCodeInUse},
		{"code of a live one, other case", newConf(clk, 14, "lisi", "AB12"), nil},
		{"same code differing in case", newConf(clk, 15, "lisi", "ab12"), ErrCodeInUse},
		{"code of an expired one is reusable", newConf(clk, 16, "lisi", "5555"), nil},
		{"short id", func() Confirmation { c := newConf(clk, 17, "lisi", ""); c.ID = "short"; return c }(), errAny},
		{"no user", newConf(clk, 18, "", ""), errAny},
		{"no action", func() Confirmation { c := newConf(clk, 19, "lisi", ""); c.Action = ""; return c }(), errAny},
		{"no expiry", func() Confirmation { c := newConf(clk, 20, "lisi", ""); c.Expires = time.Time{}; return c }(), errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateConfirmation(ctx, tt.c)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("CreateConfirmation = %v, want nil", err)
			case tt.wantErr == errAny && err == nil:
				t.Error("CreateConfirmation = nil, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("CreateConfirmation = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// The expired holder of a reused code still answers "expired", by id.
	if _, err := s.TakeConfirmation(ctx, confID(2), "zhangsan"); !errors.Is(err, ErrExpired) {
		t.Errorf("Take of the expired holder = %v, want ErrExpired", err)
	}
}

var errAny = errors.New("any error")

func TestTakeConfirmation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		setup    func(t *testing.T, s *Store, clk *clock) // after creating confID(1) for zhangsan, code 1234
		idOrCode string
		user     string
		wantErr  error
		wantConf bool // the confirmation is returned
		usable   bool // the owner can still take it afterwards
	}{
		{name: "by id", idOrCode: confID(1), user: "zhangsan", wantConf: true},
		{name: "by code", idOrCode: "1234", user: "zhangsan", wantConf: true},
		{name: "user case-insensitive", idOrCode: confID(1), user: "ZhangSan", wantConf: true},
		{name: "unknown", idOrCode: "nope", user: "zhangsan", wantErr: ErrNotFound, usable: true},
		{name: "empty", idOrCode: "", user: "zhangsan", wantErr: ErrNotFound, usable: true},
		{name: "other user does not consume", idOrCode: confID(1), user: "lisi", wantErr: ErrWrongUser, usable: true},
		{name: "other user by code", idOrCode: "1234", user: "lisi", wantErr: ErrWrongUser, usable: true},
		{name: "expired", idOrCode: confID(1), user: "zhangsan", wantErr: ErrExpired, wantConf: true,
			setup: func(t *testing.T, s *Store, clk *clock) { clk.Advance(5 * time.Minute) }},
		{name: "one second before expiry", idOrCode: confID(1), user: "zhangsan", wantConf: true,
			setup: func(t *testing.T, s *Store, clk *clock) { clk.Advance(5*time.Minute - time.Second) }},
		{name: "used", idOrCode: confID(1), user: "zhangsan", wantErr: ErrUsed, wantConf: true,
			setup: func(t *testing.T, s *Store, clk *clock) {
				if _, err := s.TakeConfirmation(context.Background(), confID(1), "zhangsan"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "cancelled", idOrCode: "1234", user: "zhangsan", wantErr: ErrUsed, wantConf: true,
			setup: func(t *testing.T, s *Store, clk *clock) {
				if _, err := s.CancelConfirmation(context.Background(), confID(1), "zhangsan"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "used code of mine wins over a live one of another user", idOrCode: "1234", user: "zhangsan", wantErr: ErrUsed, wantConf: true,
			setup: func(t *testing.T, s *Store, clk *clock) {
				ctx := context.Background()
				if _, err := s.TakeConfirmation(ctx, confID(1), "zhangsan"); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateConfirmation(ctx, newConf(clk, 2, "lisi", "1234")); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := openTest(t, Options{})
			want := newConf(clk, 1, "zhangsan", "1234")
			if err := s.CreateConfirmation(ctx, want); err != nil {
				t.Fatal(err)
			}
			want.Created = clk.Now()
			if tt.setup != nil {
				tt.setup(t, s, clk)
			}
			got, err := s.TakeConfirmation(ctx, tt.idOrCode, tt.user)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("TakeConfirmation = %v, want %v", err, tt.wantErr)
			}
			if tt.wantConf {
				if !confEqual(got, want) {
					t.Errorf("TakeConfirmation returned %+v, want %+v", got, want)
				}
			} else if got != (Confirmation{}) {
				t.Errorf("TakeConfirmation returned %+v, want the zero Confirmation", got)
			}
			if tt.usable {
				if _, err := s.TakeConfirmation(ctx, confID(1), "zhangsan"); err != nil {
					t.Errorf("owner's Take afterwards = %v, want nil", err)
				}
			}
		})
	}
}

func confEqual(a, b Confirmation) bool {
	return a.ID == b.ID && a.Code == b.Code && a.User == b.User && a.Action == b.Action && a.Cluster == b.Cluster &&
		a.Node == b.Node && a.GuestType == b.GuestType && a.VMID == b.VMID && a.GuestName == b.GuestName &&
		a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}

func TestCancelConfirmation(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	if err := s.CreateConfirmation(ctx, newConf(clk, 1, "zhangsan", "1234")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		op      func(context.Context, string, string) (Confirmation, error)
		user    string
		wantErr error
	}{
		{"other user cannot cancel", s.CancelConfirmation, "lisi", ErrWrongUser},
		{"owner cancels", s.CancelConfirmation, "zhangsan", nil},
		{"cancel again", s.CancelConfirmation, "zhangsan", ErrUsed},
		{"take after cancel", s.TakeConfirmation, "zhangsan", ErrUsed},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if _, err := st.op(ctx, "1234", st.user); !errors.Is(err, st.wantErr) {
				t.Errorf("got %v, want %v", err, st.wantErr)
			}
		})
	}
	// Its code is free again.
	if err := s.CreateConfirmation(ctx, newConf(clk, 2, "zhangsan", "1234")); err != nil {
		t.Errorf("CreateConfirmation reusing a cancelled code = %v, want nil", err)
	}
}

func TestTakeConfirmationRace(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	const confs, takers = 20, 8
	for i := range confs {
		if err := s.CreateConfirmation(ctx, newConf(clk, i, "zhangsan", fmt.Sprintf("c%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	wins := make([]int, confs)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range confs {
		for j := range takers {
			wg.Go(func() {
				key := confID(i)
				if j%2 == 1 {
					key = fmt.Sprintf("C%d", i) // by code, other case
				}
				_, err := s.TakeConfirmation(ctx, key, "zhangsan")
				switch {
				case err == nil:
					mu.Lock()
					wins[i]++
					mu.Unlock()
				case !errors.Is(err, ErrUsed):
					t.Errorf("TakeConfirmation = %v, want nil or ErrUsed", err)
				}
			})
		}
	}
	wg.Wait()
	for i, n := range wins {
		if n != 1 {
			t.Errorf("confirmation %d taken %d times, want exactly once", i, n)
		}
	}
}

func TestConfirmationSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := newClock()
	s, err := Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConfirmation(ctx, newConf(clk, 1, "zhangsan", "1234")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.TakeConfirmation(ctx, "1234", "zhangsan")
	if err != nil || c.GuestName != "homeassistant" || !strings.EqualFold(c.User, "zhangsan") {
		t.Errorf("Take after reopen = %+v, %v", c, err)
	}
}
