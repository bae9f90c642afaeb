// Package schedule runs jobs on cron schedules in their own time zones, with a clock
// that tests can drive. A job never overlaps itself (a run still going when the next
// is due skips that one), and runs missed while the bot was down are not replayed:
// after a start, or after a long run, the next time in the future is used.
package schedule

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Job is one scheduled piece of work.
type Job struct {
	Name     string
	Spec     cron.Schedule  // from cron.ParseStandard: 5 fields, @every, @daily...
	Location *time.Location // the zone Spec is read in; nil means UTC
	// Run does the work; at is the time it was due. It should honour ctx.
	Run func(ctx context.Context, at time.Time)
}

// Scheduler runs jobs until its context ends.
type Scheduler struct {
	clock Clock
	log   *zap.Logger
	jobs  []*entry
	wg    sync.WaitGroup
}

type entry struct {
	Job
	running atomic.Bool
	skipped atomic.Int64
}

// New returns a Scheduler on clock (SystemClock when nil).
func New(clock Clock, log *zap.Logger) *Scheduler {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Scheduler{clock: clock, log: log}
}

// Add registers a job; call it before Start.
func (s *Scheduler) Add(j Job) error {
	if j.Spec == nil || j.Run == nil {
		return fmt.Errorf("schedule: add %q: spec and run are required", j.Name)
	}
	if j.Location == nil {
		j.Location = time.UTC
	}
	s.jobs = append(s.jobs, &entry{Job: j})
	return nil
}

// Start runs every job's loop in the background; they stop when ctx ends. Wait waits
// for them (and for runs in progress).
func (s *Scheduler) Start(ctx context.Context) {
	for _, e := range s.jobs {
		s.wg.Add(1)
		go s.loop(ctx, e)
	}
}

// Wait returns when every loop and run has ended.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Next is when the job j is next due after t, in t's terms.
func Next(j Job, t time.Time) time.Time {
	loc := j.Location
	if loc == nil {
		loc = time.UTC
	}
	return j.Spec.Next(t.In(loc))
}

func (s *Scheduler) loop(ctx context.Context, e *entry) {
	defer s.wg.Done()
	log := s.log.With(zap.String("job", e.Name))
	for {
		now := s.clock.Now()
		next := Next(e.Job, now)
		if next.IsZero() {
			log.Warn("schedule never fires again; stopping it")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(next.Sub(now)):
		}
		if !e.running.CompareAndSwap(false, true) {
			e.skipped.Add(1)
			log.Warn("previous run still going; skipping this one", zap.Time("due", next))
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer e.running.Store(false)
			log.Debug("running scheduled job", zap.Time("due", next))
			e.Run(ctx, next)
		}()
		// The next time is computed from the clock's now, not from next: runs missed
		// while the process was stopped or stalled are dropped, not replayed.
	}
}

// Running reports whether a run of the named job is going now.
func (s *Scheduler) Running(name string) bool {
	for _, e := range s.jobs {
		if e.Name == name {
			return e.running.Load()
		}
	}
	return false
}

// Skipped is how many runs of the named job were skipped because the previous one was
// still going.
func (s *Scheduler) Skipped(name string) int64 {
	for _, e := range s.jobs {
		if e.Name == name {
			return e.skipped.Load()
		}
	}
	return 0
}
