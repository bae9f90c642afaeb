package schedule

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap/zaptest"
)

func mustParse(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNextInZone(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")
	from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) // 08:00 Shanghai, 20:00 New York (Apr 30)
	tests := []struct {
		spec string
		loc  *time.Location
		want time.Time
	}{
		{"5 9 * * *", sh, time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC)},
		{"5 9 * * *", ny, time.Date(2026, 5, 1, 13, 5, 0, 0, time.UTC)},
		{"5 9 * * *", nil, time.Date(2026, 5, 1, 9, 5, 0, 0, time.UTC)},
		{"@every 30m", sh, from.Add(30 * time.Minute)},
		{"@daily", sh, time.Date(2026, 5, 1, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got := Next(Job{Spec: mustParse(t, tt.spec), Location: tt.loc}, from)
			if !got.Equal(tt.want) {
				t.Errorf("Next = %v, want %v", got.UTC(), tt.want)
			}
		})
	}
}

// runs records job runs and lets a test hold a run open.
type runs struct {
	mu   sync.Mutex
	at   []time.Time
	hold chan struct{}
	ran  chan struct{}
}

func (r *runs) run(ctx context.Context, at time.Time) {
	r.mu.Lock()
	r.at = append(r.at, at)
	r.mu.Unlock()
	r.ran <- struct{}{}
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
		}
	}
}

func (r *runs) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

func start(t *testing.T, clock *ManualClock, j Job) (*Scheduler, context.Context) {
	t.Helper()
	s := New(clock, zaptest.NewLogger(t))
	if err := s.Add(j); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); s.Wait() })
	s.Start(ctx)
	if !clock.BlockUntil(ctx.Done(), 1) {
		t.Fatal("job not waiting")
	}
	return s, ctx
}

func TestMissedRunsNotReplayed(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	r := &runs{ran: make(chan struct{}, 10)}
	s, ctx := start(t, clock, Job{Name: "every", Spec: mustParse(t, "@every 30m"), Run: r.run})
	clock.Advance(5 * time.Hour) // the bot was stalled: ten runs were due
	<-r.ran
	// The run has signalled but may still be returning; the next is only taken once it has.
	waitIdle(t, s, "every")
	if !clock.BlockUntil(ctx.Done(), 1) {
		t.Fatal("job stopped")
	}
	if got := r.times(); len(got) != 1 {
		t.Fatalf("%d runs after a 5 h gap, want 1", len(got))
	}
	clock.Advance(30 * time.Minute)
	<-r.ran
	got := r.times()
	if want := time.Date(2026, 5, 1, 5, 30, 0, 0, time.UTC); len(got) != 2 || !got[1].Equal(want) {
		t.Errorf("runs = %v, want the second at %v (30 min after the late one)", got, want)
	}
}

// waitIdle waits until no run of job is going.
func waitIdle(t *testing.T, s *Scheduler, job string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Running(job) {
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running", job)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNoOverlap(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	r := &runs{ran: make(chan struct{}, 10), hold: make(chan struct{})}
	s, ctx := start(t, clock, Job{Name: "slow", Spec: mustParse(t, "@every 1m"), Run: r.run})
	clock.Advance(time.Minute)
	<-r.ran // first run is going and held
	for i := 0; i < 3; i++ {
		if !clock.BlockUntil(ctx.Done(), 1) {
			t.Fatal("job stopped")
		}
		clock.Advance(time.Minute)
	}
	if !clock.BlockUntil(ctx.Done(), 1) {
		t.Fatal("job stopped")
	}
	if got := len(r.times()); got != 1 {
		t.Errorf("%d runs while the first was still going, want 1", got)
	}
	if got := s.Skipped("slow"); got != 3 {
		t.Errorf("Skipped = %d, want 3", got)
	}
	close(r.hold)
}
