package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// PeekConfirmation reads with Take's checks but uses nothing: the owner can still take it.
func TestPeekConfirmation(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	want := newConf(clk, 1, "zhangsan", "1234")
	want.Params = "command=reboot&type_name=pve2"
	if err := s.CreateConfirmation(ctx, want); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		got, err := s.PeekConfirmation(ctx, "1234", "ZhangSan")
		if err != nil || got.Params != want.Params || got.ID != want.ID {
			t.Fatalf("peek %d = %+v, %v; want the confirmation with its params", i, got, err)
		}
	}
	if _, err := s.PeekConfirmation(ctx, confID(1), "lisi"); !errors.Is(err, ErrWrongUser) {
		t.Errorf("another user's peek = %v, want ErrWrongUser", err)
	}
	if _, err := s.PeekConfirmation(ctx, "nope", "zhangsan"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown = %v, want ErrNotFound", err)
	}
	if _, err := s.TakeConfirmation(ctx, confID(1), "zhangsan"); err != nil {
		t.Fatalf("take after peeks: %v", err)
	}
	if _, err := s.PeekConfirmation(ctx, confID(1), "zhangsan"); !errors.Is(err, ErrUsed) {
		t.Errorf("peek after take = %v, want ErrUsed", err)
	}
	s2, clk2 := openTest(t, Options{})
	if err := s2.CreateConfirmation(ctx, newConf(clk2, 2, "zhangsan", "")); err != nil {
		t.Fatal(err)
	}
	clk2.Advance(time.Hour)
	if _, err := s2.PeekConfirmation(ctx, confID(2), "zhangsan"); !errors.Is(err, ErrExpired) {
		t.Errorf("expired peek = %v, want ErrExpired", err)
	}
}
