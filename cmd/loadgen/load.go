package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const (
	// maxMessages bounds every run, whatever the flags say.
	maxMessages = 10_000_000
	// prefillMax is how many callbacks are encrypted before the clock starts (about 1 KiB
	// each). Longer runs keep encrypting while they send: say so in their figures.
	prefillMax = 150_000
	// prefillAge bounds, at a fixed rate, how long a callback waits between its
	// encryption (which stamps its timestamp) and its sending: the bot refuses
	// timestamps more than security.max_clock_skew (10 minutes) away, as it must.
	prefillAge = time.Minute
)

// prefillCount is how many of total callbacks are encrypted before the clock starts: at
// a fixed rate at most prefillAge's worth, so that a 30-minute soak does not send
// callbacks encrypted half an hour before (the producer keeps up while sending).
func prefillCount(total, rate int) int {
	n := min(total, prefillMax)
	if rate > 0 {
		n = min(n, max(1, rate*int(prefillAge/time.Second)))
	}
	return n
}

// callback is one encrypted, signed callback ready to POST.
type callback struct {
	url   string
	body  []byte
	user  int
	parts int // messages its reply is expected to be
}

// producer encrypts callbacks like WeCom does, ahead of the senders.
type producer struct {
	sender *wecomtest.Sender
	users  []string
	says   []utterance // callback i says says[i mod len(says)]
	runID  string
}

// utterance is what a user sends and how many messages its reply is.
type utterance struct {
	text  string
	parts int
}

func newProducer(s *wecomtest.Sender, users []string, says ...utterance) *producer {
	n, _ := rand.Int(rand.Reader, big.NewInt(900000))
	return &producer{sender: s, users: users, says: says, runID: strconv.FormatInt(n.Int64()+100000, 10)}
}

// make builds callback number i (from user i mod len(users)).
func (p *producer) make(i int) callback {
	u := i % len(p.users)
	id := p.runID + fmt.Sprintf("%013d", i) // 19 digits like WeCom's MsgId, unique per run
	say := p.says[i%len(p.says)]
	q, body := p.sender.Build(p.sender.TextXML(p.users[u], say.text, id))
	return callback{url: p.sender.URL + "?" + q.Encode(), body: body, user: u, parts: say.parts}
}

// run sends callbacks from..from+n into ch and closes it; it stops early when ctx ends.
func (p *producer) run(ctx context.Context, from, n int, ch chan<- callback) {
	defer close(ch)
	for i := from; i < from+n; i++ {
		select {
		case ch <- p.make(i):
		case <-ctx.Done():
			return
		}
	}
}

// pending is one accepted callback waiting for its reply.
type pending struct {
	sent      time.Time
	want      int // messages its reply is (1, or -parts for a long list)
	got       int // messages of its reply delivered so far
	done      bool
	cancelled bool
}

// matcher pairs the replies the fake WeCom accepts with the callbacks sent, per user in
// FIFO order. Counts are exact (every reply is one callback's, or a duplicate); which of
// a user's callbacks a reply belongs to is a guess when the user has several in flight.
type matcher struct {
	idx map[string]int // read-only after newMatcher

	mu          sync.Mutex
	q           [][]*pending
	e2e         []time.Duration
	replies     int
	dups        int
	unknown     int
	outstanding int
	expected    int // messages due for the callbacks expected since the last reset
	pushes      int
}

func (m *matcher) pushCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushes
}

func newMatcher(users []string) *matcher {
	m := &matcher{idx: make(map[string]int, len(users)), q: make([][]*pending, len(users))}
	for i, u := range users {
		m.idx[u] = i
	}
	return m
}

// expect records that a callback from user u is about to be sent, whose reply is parts
// messages (a long list is split; the end-to-end latency is that of the first).
func (m *matcher) expect(u, parts int) *pending {
	p := &pending{sent: time.Now(), want: max(parts, 1)}
	m.mu.Lock()
	m.q[u] = append(m.q[u], p)
	m.outstanding++
	m.expected += p.want
	m.mu.Unlock()
	return p
}

// cancel withdraws a callback the bot did not take (non-200, transport error): no reply is due.
func (m *matcher) cancel(p *pending) {
	m.mu.Lock()
	if !p.done && !p.cancelled {
		p.cancelled = true
		m.outstanding--
		m.expected -= p.want
	}
	m.mu.Unlock()
}

// sent is the fake WeCom's hook: one message was delivered.
func (m *matcher) sent(msg wecomtest.SentMessage) {
	now := time.Now()
	if len(msg.ToUser) == 0 {
		m.mu.Lock()
		m.pushes++ // a group chat or a robot: a report or an alert, not a reply
		m.mu.Unlock()
		return
	}
	u, ok := m.idx[msg.ToUser[0]]
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replies++
	if !ok {
		m.unknown++
		return
	}
	q := m.q[u]
	for len(q) > 0 && (q[0].done || q[0].cancelled) {
		q = q[1:]
	}
	for _, p := range q {
		if !p.done && !p.cancelled {
			p.got++
			if p.got == 1 {
				m.e2e = append(m.e2e, now.Sub(p.sent))
			}
			if p.got == p.want {
				p.done = true
				m.outstanding--
			}
			m.q[u] = q
			return
		}
	}
	m.q[u] = q
	m.dups++
}

// counts returns replies, duplicates, unknown recipients and callbacks still unanswered.
func (m *matcher) counts() (replies, dups, unknown, outstanding int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.replies, m.dups, m.unknown, m.outstanding
}

// expectedMessages is how many reply messages the callbacks expected since the last reset
// are due, cancelled ones left out.
func (m *matcher) expectedMessages() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expected
}

// reset forgets the figures (after the warm-up), keeping what is still pending.
func (m *matcher) reset() {
	m.mu.Lock()
	m.e2e, m.replies, m.dups, m.unknown, m.pushes, m.expected = nil, 0, 0, 0, 0, 0
	m.mu.Unlock()
}

func (m *matcher) latencies() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.e2e)
}

// waitAnswered waits until no callback is waiting for its reply, or until d passed.
func (m *matcher) waitAnswered(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, _, _, n := m.counts(); n == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// sendStats is what the senders saw.
type sendStats struct {
	sent      int
	ok        int
	statuses  map[int]int // non-200 answers
	transport int         // transport errors
	ack       []time.Duration
	start     time.Time
	end       time.Time
	maxLag    time.Duration // fixed rate: how far behind schedule a callback left
	late      int           // fixed rate: callbacks sent more than 5 ms late
}

func (s *sendStats) merge(o *sendStats) {
	s.sent += o.sent
	s.ok += o.ok
	s.transport += o.transport
	for k, v := range o.statuses {
		s.statuses[k] += v
	}
	s.ack = append(s.ack, o.ack...)
}

// loader posts callbacks to the bot.
type loader struct {
	hc *http.Client
	m  *matcher
}

// post sends one callback and records its acknowledgement.
func (l *loader) post(ctx context.Context, c callback, st *sendStats) {
	p := l.m.expect(c.user, c.parts)
	t0 := p.sent
	st.sent++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		l.m.cancel(p)
		st.transport++
		return
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := l.hc.Do(req)
	if err != nil {
		l.m.cancel(p)
		st.transport++
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	lat := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		l.m.cancel(p)
		st.statuses[resp.StatusCode]++
		return
	}
	st.ok++
	st.ack = append(st.ack, lat)
}

func newStats() *sendStats { return &sendStats{statuses: map[int]int{}} }

// fullSpeed sends everything from src with conc senders, each posting its next callback
// as soon as the previous one was acknowledged, until src is empty or until deadline.
func (l *loader) fullSpeed(ctx context.Context, src <-chan callback, conc int, deadline time.Time) *sendStats {
	total := newStats()
	total.start = time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := newStats()
			for ctx.Err() == nil && (deadline.IsZero() || time.Now().Before(deadline)) {
				c, ok := <-src
				if !ok {
					break
				}
				l.post(ctx, c, st)
			}
			mu.Lock()
			total.merge(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.end = time.Now()
	return total
}

// fixedRate sends n callbacks from src at rate per second (open loop: a slow answer does
// not delay the next callback, up to conc callbacks in flight).
func (l *loader) fixedRate(ctx context.Context, src <-chan callback, n, rate, conc int) *sendStats {
	total := newStats()
	jobs := make(chan callback)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := newStats()
			for c := range jobs {
				l.post(ctx, c, st)
			}
			mu.Lock()
			total.merge(st)
			mu.Unlock()
		}()
	}
	var late atomic.Int64
	var maxLag time.Duration
	total.start = time.Now()
	interval := time.Second / time.Duration(rate)
	timer := time.NewTimer(0)
	<-timer.C
pace:
	for i := range n {
		due := total.start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break pace
			case <-timer.C:
			}
		}
		c, ok := <-src
		if !ok {
			break
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			break pace
		}
		if lag := time.Since(due); lag > 5*time.Millisecond {
			late.Add(1)
			maxLag = max(maxLag, lag)
		}
	}
	close(jobs)
	wg.Wait()
	total.end = time.Now()
	total.late = int(late.Load())
	total.maxLag = maxLag
	return total
}

// percentile returns the p-quantile (0..1) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p+0.9999999) - 1
	k = min(max(k, 0), len(sorted)-1)
	return sorted[k]
}
