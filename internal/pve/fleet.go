package pve

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Fleet is every configured cluster. A cluster that fails never stops the others.
type Fleet struct {
	// clients and byName are replaced whole by Reload under rmu; read them through view.
	rmu     sync.RWMutex
	clients []*Client
	byName  map[string]*Client
	specs   map[string]clusterSpec // by lower-case name: what each client was built from
	o       Options
	log     *zap.Logger

	mu       sync.Mutex
	started  bool
	startCtx context.Context // Start's context, for clusters added by Reload
	checks   map[string]SelfCheck
}

func newFleet(specs []clusterSpec, o Options) (*Fleet, error) {
	o = o.withDefaults()
	f := &Fleet{byName: map[string]*Client{}, specs: map[string]clusterSpec{}, o: o, log: o.Logger, checks: map[string]SelfCheck{}}
	for _, s := range specs {
		key := strings.ToLower(s.Name)
		if _, dup := f.byName[key]; dup {
			return nil, fmt.Errorf("pve: new fleet: cluster name %q used twice", s.Name)
		}
		c, err := newClient(s, o)
		if err != nil {
			return nil, err
		}
		f.clients = append(f.clients, c)
		f.byName[key] = c
		f.specs[key] = s
	}
	return f, nil
}

// Clients returns the clusters in config order.
func (f *Fleet) Clients() []*Client {
	cs, _ := f.view()
	return slices.Clone(cs)
}

// Client returns the named cluster (case-insensitive).
func (f *Fleet) Client(name string) (*Client, bool) {
	_, byName := f.view()
	c, ok := byName[strings.ToLower(name)]
	return c, ok
}

// Guests lists the guests of every cluster. A failing cluster's error is returned
// under its name; the others' guests are still returned.
func (f *Fleet) Guests(ctx context.Context) ([]Guest, map[string]error) {
	return gather(ctx, f, guestsOf)
}

// Listing lists the guests and the nodes of every cluster with one request per cluster,
// all at once (Client.GuestsAndNodes). The guests come in cluster-name, then VMID order,
// read in place from each cluster's cache: ranging over them copies one guest at a time
// (Tags shared, see Guest.Tags), so a vm list of 10,000 guests costs no copy of them; the
// sequence can be ranged over again. The nodes are the caller's. A failing cluster's
// error is returned under its name.
func (f *Fleet) Listing(ctx context.Context) (iter.Seq[Guest], []Node, map[string]error) {
	type part struct {
		name   string
		guests []Guest
		nodes  []Node
	}
	parts, errs := gatherEach(ctx, f, func(c *Client, ctx context.Context) (part, error) {
		g, n, err := c.resources(ctx)
		return part{c.name, g, n}, err
	})
	slices.SortFunc(parts, func(a, b part) int { return strings.Compare(a.name, b.name) })
	var nodes []Node
	for _, p := range parts {
		nodes = append(nodes, p.nodes...) // a few per cluster
	}
	guests := func(yield func(Guest) bool) {
		for _, p := range parts {
			for _, g := range p.guests {
				if !yield(g) {
					return
				}
			}
		}
	}
	return guests, nodes, errs
}

// guestsOf is a cluster's guests, read in place in its cache (see resources).
func guestsOf(c *Client, ctx context.Context) ([]Guest, error) {
	g, _, err := c.resources(ctx)
	return g, err
}

// AmbiguousError is a Find target that matches several guests.
type AmbiguousError struct {
	Target  string
	Matches []Guest
}

// Error lists the matches so the user can pick one.
func (e *AmbiguousError) Error() string {
	names := make([]string, 0, len(e.Matches))
	for _, g := range e.Matches {
		names = append(names, g.Ref()+" "+g.Label())
	}
	return fmt.Sprintf("pve: %q matches %d guests: %s", e.Target, len(e.Matches), strings.Join(names, ", "))
}

// NotFoundError is a Find target that matches no guest.
type NotFoundError struct {
	Target string
	Close  []Guest // guests with a similar name (edit distance), best first
	// Failed holds clusters that could not be listed: the guest may be there.
	Failed map[string]error
}

// Error names the target and, when some cluster failed, why the guest may be missing.
func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("pve: no guest matches %q", e.Target)
	if len(e.Close) > 0 {
		names := make([]string, 0, len(e.Close))
		for _, g := range e.Close {
			names = append(names, g.Label())
		}
		s += "; did you mean " + strings.Join(names, ", ")
	}
	for _, name := range sortedKeys(e.Failed) {
		s += "; cluster " + name + " could not be listed: " + e.Failed[name].Error()
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Find resolves what a user typed to one guest among those visible keeps (nil keeps
// every guest): a VMID, an exact name (case-insensitive), a unique name prefix, or a
// unique substring, in that order; "cluster/target" looks in one cluster only. A target
// of digits only is a VMID and nothing else, so that a number with no guest behind it
// never falls through to a name that contains it. Guests that visible drops change no
// answer: not the match, not an ambiguity, not the close names. Several matches at the
// first level that matches give *AmbiguousError; none give *NotFoundError with close
// names. A cluster that cannot be listed is skipped (its error is in
// NotFoundError.Failed); when the target names that cluster, its error is returned as is.
func (f *Fleet) Find(ctx context.Context, target string, visible func(Guest) bool) (Guest, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return Guest{}, &NotFoundError{Target: target}
	}
	// The guests are read in place, in each cluster's cache: a lookup among 10,000
	// copies only what it returns.
	var parts [][]Guest
	var failed map[string]error
	cluster, what := splitTarget(target)
	if cluster != "" {
		c, known := f.Client(cluster)
		if !known {
			return Guest{}, &NotFoundError{Target: target, Failed: map[string]error{cluster: errors.New("no such cluster")}}
		}
		gs, err := guestsOf(c, ctx)
		if err != nil {
			return Guest{}, err
		}
		parts = [][]Guest{gs}
	} else {
		parts, failed = gatherEach(ctx, f, guestsOf)
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		if n == 0 && len(failed) == 1 {
			for _, err := range failed {
				return Guest{}, err
			}
		}
	}
	guests := func(yield func(Guest) bool) {
		for _, p := range parts {
			for _, g := range p {
				if (visible == nil || visible(g)) && !yield(g) {
					return
				}
			}
		}
	}
	matches := match(guests, what)
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		return Guest{}, &AmbiguousError{Target: target, Matches: matches}
	}
	var close []Guest
	if !isVMID(what) {
		close = closeMatches(guests, what, 3)
	}
	return Guest{}, &NotFoundError{Target: target, Close: close, Failed: failed}
}

// NamedExactly reports whether target (as given to Find) names g by its VMID or its
// whole name, rather than by a part of its name.
func NamedExactly(g Guest, target string) bool {
	_, what := splitTarget(strings.TrimSpace(target))
	if isVMID(what) {
		id, err := strconv.Atoi(what)
		return err == nil && id == g.VMID
	}
	return g.Name != "" && strings.EqualFold(what, g.Name)
}

// splitTarget splits "cluster/what"; cluster is "" when target names no cluster.
func splitTarget(target string) (cluster, what string) {
	if prefix, rest, ok := strings.Cut(target, "/"); ok {
		return prefix, strings.TrimSpace(rest)
	}
	return "", target
}

// isVMID reports whether what is written as a VMID: digits only.
func isVMID(what string) bool {
	return what != "" && strings.Trim(what, "0123456789") == ""
}

// match returns the guests at the first level that matches anything; a VMID matches
// VMIDs only.
func match(guests iter.Seq[Guest], what string) []Guest {
	if isVMID(what) {
		id, err := strconv.Atoi(what)
		var out []Guest
		for g := range guests {
			if err == nil && g.VMID == id {
				out = append(out, g)
			}
		}
		return out
	}
	lw := strings.ToLower(what)
	levels := []func(name string) bool{
		func(n string) bool { return n == lw },
		func(n string) bool { return strings.HasPrefix(n, lw) },
		func(n string) bool { return strings.Contains(n, lw) },
	}
	for _, ok := range levels {
		var out []Guest
		for g := range guests {
			if g.Name != "" && ok(strings.ToLower(g.Name)) {
				out = append(out, g)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// closeMatches returns up to n guests whose names are within a few edits of what.
func closeMatches(guests iter.Seq[Guest], what string, n int) []Guest {
	lw := strings.ToLower(what)
	limit := max(1, len([]rune(lw))/3)
	type cand struct {
		g Guest
		d int
	}
	var cs []cand
	for g := range guests {
		if g.Name == "" {
			continue
		}
		if d := editDistance(lw, strings.ToLower(g.Name)); d <= limit {
			cs = append(cs, cand{g, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	out := make([]Guest, 0, min(n, len(cs)))
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].g)
	}
	return out
}

// editDistance is the Levenshtein distance over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Start checks every cluster in the background: version and token self-check, its
// warnings logged once in plain words. A cluster that fails (unreachable, wrong
// fingerprint, token rejected) is logged and retried with capped backoff until ctx
// ends; it never stops the bot, and commands for it answer with the reason (Health).
// Start returns at once; calling it twice does nothing.
func (f *Fleet) Start(ctx context.Context) {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return
	}
	f.started = true
	f.startCtx = ctx
	f.mu.Unlock()
	cs, _ := f.view()
	for _, c := range cs {
		go f.watch(ctx, c)
	}
}

func (f *Fleet) watch(ctx context.Context, c *Client) {
	delay := f.o.RetryMin
	for attempt := 1; ; attempt++ {
		sc, err := c.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			f.mu.Lock()
			f.checks[c.name] = sc
			f.mu.Unlock()
			c.log.Info("PVE cluster reachable", zap.String("version", sc.Version), zap.Int("attempt", attempt))
			for _, ft := range sc.Features {
				switch {
				case ft.OK && !ft.Partial:
				case ft.Optional: // a command the admin chose not to allow: say so, no alarm
					c.log.Info("PVE token does not allow an optional feature", zap.String("feature", ft.Name),
						zap.Strings("missing", ft.Missing), zap.String("consequence", ft.Consequence))
				default:
					c.log.Warn("PVE token lacks a privilege", zap.String("feature", ft.Name),
						zap.Strings("missing", ft.Missing), zap.String("consequence", ft.Consequence))
				}
			}
			for _, w := range sc.Warnings {
				c.log.Warn("PVE token: " + w)
			}
			if fix := sc.PveumFix(c.tokenID); fix != nil {
				c.log.Warn("to grant what is missing, run on a PVE node", zap.Strings("pveum", fix))
			}
			return
		}
		c.log.Warn("PVE cluster not usable; commands for it will answer with this reason; retrying",
			zap.Error(err), zap.Duration("retry_in", delay), zap.Int("attempt", attempt))
		if sleepCtx(ctx, delay) != nil {
			return
		}
		delay = min(delay*2, f.o.RetryMax)
	}
}

// Health reports when the named cluster last answered and the failure since then
// (nil when it answers). Unknown clusters report an error.
func (f *Fleet) Health(name string) (lastOK time.Time, lastErr error) {
	c, ok := f.Client(name)
	if !ok {
		return time.Time{}, fmt.Errorf("pve: health: no cluster named %q", name)
	}
	return c.Health()
}

// SelfCheck returns the named cluster's start-up self-check once it has run.
func (f *Fleet) SelfCheck(name string) (SelfCheck, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.Client(name)
	if !ok {
		return SelfCheck{}, false
	}
	sc, ok := f.checks[c.name]
	return sc, ok
}

// CloseIdleConnections drops kept-alive connections to every cluster: the bot calls it
// when it stops.
func (f *Fleet) CloseIdleConnections() {
	for _, c := range f.Clients() {
		c.CloseIdleConnections()
	}
}
