//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"testing"
	"time"
)

func TestActionJournal(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	a := Action{ID: "conf-1", MessageKey: "msg-1", User: "zhangsan", Action: "shutdown", Cluster: "home",
		Node: "pve1", GuestType: "qemu", VMID: 101}
	start := clk.Now()

	steps := []struct {
		name      string
		do        func() error
		wantState string
		wantOpen  int
	}{
		{"begin", func() error {
			fresh, err := s.BeginAction(ctx, a)
			if err == nil && !fresh {
				err = errors.New("first BeginAction not fresh")
			}
			return err
		}, ActionSending, 1},
		{"begin again is not fresh", func() error {
			fresh, err := s.BeginAction(ctx, a)
			if err == nil && fresh {
				err = errors.New("second BeginAction fresh: would POST twice")
			}
			return err
		}, ActionSending, 1},
		{"sent", func() error { clk.Advance(time.Second); return s.ActionSent(ctx, a.ID, "UPID:pve1:1") }, ActionSent, 1},
		{"done", func() error { clk.Advance(time.Second); return s.ActionDone(ctx, a.ID, "OK") }, ActionDone, 0},
		{"done again keeps the first result", func() error { return s.ActionDone(ctx, a.ID, "later") }, ActionDone, 0},
		{"sent after done is refused", func() error {
			if err := s.ActionSent(ctx, a.ID, "UPID:other"); err == nil {
				return errors.New("ActionSent after done succeeded")
			}
			return nil
		}, ActionDone, 0},
		{"begin after done is not fresh", func() error {
			if fresh, err := s.BeginAction(ctx, a); err != nil || fresh {
				return fmt.Errorf("BeginAction after done = %v, %v", fresh, err)
			}
			return nil
		}, ActionDone, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetAction(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != st.wantState {
				t.Errorf("State = %q, want %q", got.State, st.wantState)
			}
			open, err := s.OpenActions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(open) != st.wantOpen {
				t.Errorf("OpenActions = %d, want %d", len(open), st.wantOpen)
			}
		})
	}
	got, _ := s.GetAction(ctx, a.ID)
	want := a
	want.State, want.UPID, want.Result = ActionDone, "UPID:pve1:1", "OK"
	want.Started, want.Finished = start, start.Add(2*time.Second)
	if got.ID != want.ID || got.MessageKey != want.MessageKey || got.User != want.User || got.Action != want.Action ||
		got.Cluster != want.Cluster || got.Node != want.Node || got.GuestType != want.GuestType || got.VMID != want.VMID ||
		got.State != want.State || got.UPID != want.UPID || got.Result != want.Result ||
		!got.Started.Equal(want.Started) || !got.Finished.Equal(want.Finished) {
		t.Errorf("GetAction = %+v, want %+v", got, want)
	}
}

func TestActionErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	tests := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"get unknown", func() error { _, err := s.GetAction(ctx, "nope"); return err }, ErrNotFound},
		{"sent unknown", func() error { return s.ActionSent(ctx, "nope", "UPID") }, ErrNotFound},
		{"done unknown", func() error { return s.ActionDone(ctx, "nope", "OK") }, ErrNotFound},
		{"begin without id", func() error { _, err := s.BeginAction(ctx, Action{}); return err }, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.wantErr == errAny {
				if err == nil {
					t.Error("got nil, want an error")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestOpenActionsAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := newClock()
	s, err := Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"sending", "sent", "done"} {
		clk.Advance(time.Second)
		if _, err := s.BeginAction(ctx, Action{ID: id, User: "zhangsan", Action: "reboot", VMID: 100 + i}); err != nil {
			t.Fatal(err)
		}
	}
	s.ActionSent(ctx, "sent", "UPID:pve1:2")
	s.ActionSent(ctx, "done", "UPID:pve1:3")
	s.ActionDone(ctx, "done", "OK")
	s.Close()

	s, err = Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	open, err := s.OpenActions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(open))
	for _, a := range open {
		got += fmt.Sprintf(" %s/%s/%s", a.ID, a.State, a.UPID)
	}
	if want := "2 sending/sending/ sent/sent/UPID:pve1:2"; got != want {
		t.Errorf("OpenActions after restart = %q, want %q", got, want)
	}
	if fresh, err := s.BeginAction(ctx, Action{ID: "sending"}); err != nil || fresh {
		t.Errorf("BeginAction of a journaled action after restart = %v, %v; want not fresh", fresh, err)
	}
}

// The chat a message and its action came from survives a restart, so a resumed message
// and a followed action answer in the same chat.
func TestSourceSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []chat.Message{textMsg("w1", "lisi", "vm list"), textMsg("c1", "lisi", "vm list")} {
		if m.ID == "c1" {
			m.Source = "console"
		}
		mustReceive(t, s, m)
	}
	if _, err := s.BeginAction(ctx, Action{ID: "a1", MessageKey: "c1", User: "lisi", Action: "start", VMID: 105, Source: "console"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	left, err := s.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, r := range left {
		got += fmt.Sprintf("%s=%q ", r.Msg.ID, r.Msg.Source)
	}
	if want := `w1="" c1="console" `; got != want {
		t.Errorf("sources after restart: %s, want %s", got, want)
	}
	open, err := s.OpenActions(ctx)
	if err != nil || len(open) != 1 || open[0].Source != "console" {
		t.Errorf("open actions = %+v, %v; want a1 from the console", open, err)
	}
}

// TestParamsKept: what an action needs besides its guest survives the confirmation and the
// journal, so a confirmed or resumed rollback goes to the snapshot that was asked for.
func TestParamsKept(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	c := Confirmation{ID: "0123456789abcdef0123456789abcdef", User: "zhangsan", Action: "rollback", Cluster: "home",
		Node: "pve1", GuestType: "qemu", VMID: 101, Params: "snap=before_upgrade", Expires: clk.Now().Add(time.Minute)}
	if err := s.CreateConfirmation(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeConfirmation(ctx, c.ID, "zhangsan")
	if err != nil || got.Params != c.Params {
		t.Fatalf("got params %q, %v; want %q", got.Params, err, c.Params)
	}
	a := Action{ID: c.ID, MessageKey: "m1", User: "zhangsan", Action: "rollback", Cluster: "home", Node: "pve1",
		GuestType: "qemu", VMID: 101, Params: c.Params}
	if _, err := s.BeginAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenActions(ctx)
	if err != nil || len(open) != 1 || open[0].Params != c.Params {
		t.Fatalf("got %+v, %v; want the open action with its params", open, err)
	}
}
