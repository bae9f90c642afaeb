package pve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Telmate/proxmox-api-go/proxmox"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// clusterSpec is what a Client needs from the config, in plain values.
type clusterSpec struct {
	Name         string
	BaseURL      string
	WebURL       string // the web UI people open; "" means BaseURL
	Endpoints    []string
	TokenID      string
	TokenSecret  string
	Fingerprints []string
	CAFile       string
	Insecure     bool
}

// Client talks to one PVE cluster with one API token. It is safe for concurrent use.
type Client struct {
	name      string
	webURL    string   // web UI base, no trailing slash
	endpoints []string // each ends in /api2/json
	preferred atomic.Int32
	hc        *http.Client
	sess      *proxmox.Session // signs requests (PVEAPIToken header); never sends them
	tokenID   string
	secret    string
	o         Options
	log       *zap.Logger

	mu         sync.Mutex
	cache      []Guest
	cacheNodes []Node // from the same answer as cache
	cacheAt    time.Time
	cacheGen   uint64   // bumped by power actions so an in-flight list cannot refill a stale cache
	listing    *listing // the GET /cluster/resources in flight, if any

	hmu     sync.Mutex
	lastOK  time.Time
	lastErr error

	pmu       sync.Mutex
	poolAudit bool      // Pool.Audit held on /pool, as last read
	poolAt    time.Time // when it was read; zero = never
}

// poolAuditTTL is how long the answer to "may the token read pools?" is kept.
const poolAuditTTL = 5 * time.Minute

// maxBody bounds a successful reply (a 3000-guest /cluster/resources is ~2 MB).
const maxBody = 32 << 20

// safely runs a library call and turns a panic into an error (docs/pve.md §3.6.5).
func safely(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pve: %s: library panic: %s", what, scrub(fmt.Sprint(r)))
		}
	}()
	return f()
}

func newClient(s clusterSpec, o Options) (*Client, error) {
	o = o.withDefaults()
	if s.Name == "" {
		return nil, errors.New("pve: new client: cluster has no name")
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("pve: new client %s: "+format, append([]any{s.Name}, a...)...)
	}
	var id proxmox.ApiTokenID
	err := safely("parse token id", func() error {
		if err := id.Parse(s.TokenID); err != nil {
			return err
		}
		return id.Validate()
	})
	if err != nil {
		return nil, fail("token_id %q: %w", s.TokenID, err)
	}
	if s.TokenSecret == "" {
		return nil, fail("token_secret is empty")
	}
	var eps []string
	for _, u := range append([]string{s.BaseURL}, s.Endpoints...) {
		ep, err := apiURL(u)
		if err != nil {
			return nil, fail("%w", err)
		}
		eps = append(eps, ep)
	}
	hc := o.HTTPClient
	if hc == nil {
		tc, mode, err := buildTLS(s)
		if err != nil {
			return nil, fail("tls: %w", err)
		}
		if mode == tlsInsecure {
			o.Logger.Warn("PVE certificate checks are OFF (insecure_skip_verify): anyone between the bot and PVE can read the API token; use ca_file or fingerprint",
				zap.String("cluster", s.Name))
		}
		hc = newHTTPClient(tc, o.Timeout)
	} else {
		hc = wrapHTTPClient(hc)
	}
	var sess *proxmox.Session
	err = safely("new session", func() error {
		var err error
		sess, err = proxmox.NewSession(eps[0], hc, "", nil)
		return err
	})
	if err != nil {
		return nil, fail("%w", err)
	}
	// The same value Telmate's SetAPIToken stores; debug stays off (it would log it).
	sess.AuthToken = id.String() + "=" + s.TokenSecret
	sess.Debug = false
	web := strings.TrimRight(strings.TrimSpace(s.WebURL), "/")
	if web == "" {
		web = strings.TrimRight(strings.TrimSpace(s.BaseURL), "/")
	}
	return &Client{
		name: s.Name, webURL: web, endpoints: eps, hc: hc, sess: sess, tokenID: id.String(), secret: s.TokenSecret,
		o: o, log: o.Logger.With(zap.String("cluster", s.Name)),
	}, nil
}

// apiURL checks a base URL and appends /api2/json.
func apiURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("base url %q: want https://host:8006", raw)
	}
	if u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("base url %q: no user info or query allowed", u.Redacted())
	}
	p := strings.TrimSuffix(u.Path, "/")
	p = strings.TrimSuffix(p, "/api2/json")
	return u.Scheme + "://" + u.Host + p + "/api2/json", nil
}

// Name is the cluster's name from the config (used in replies and as "name/101").
func (c *Client) Name() string { return c.name }

// TokenID is the token the client uses (user@realm!name), for self-check advice.
func (c *Client) TokenID() string { return c.tokenID }

// Health reports the last time a request reached PVE and the last transport or token
// failure since then (nil when the last request got through).
func (c *Client) Health() (lastOK time.Time, lastErr error) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.lastOK, c.lastErr
}

// noteHealth records the outcome of a request. A change of state is logged once: the
// operator must hear of a revoked token or a certificate that no longer matches its pin
// (a man in the middle, or a renewed certificate) even when only a chat user met it.
func (c *Client) noteHealth(err error) {
	c.hmu.Lock()
	was := c.lastErr
	var e *Error
	switch {
	case err == nil:
		c.lastOK, c.lastErr = c.o.Now(), nil
	case errors.As(err, &e) && (e.Kind == KindTokenRejected || e.Kind == KindTLS || e.Kind == KindUnreachable || e.Kind == KindTimeout):
		c.lastErr = err
	default:
		// PVE answered (a refusal is still an answer).
		c.lastOK, c.lastErr = c.o.Now(), nil
	}
	now := c.lastErr
	c.hmu.Unlock()
	switch {
	case now != nil && (was == nil || kindOf(was) != kindOf(now)):
		c.log.Warn("PVE cluster not usable; commands for it answer with this reason", zap.Error(now))
	case now == nil && was != nil:
		c.log.Info("PVE cluster answers again")
	}
}

// kindOf is err's Kind, or "" when it is not an *Error.
func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// request is one API call.
type request struct {
	method string
	path   string // below /api2/json, already escaped
	query  url.Values
	form   url.Values
	op     string
}

// do sends r once per endpoint at most, and returns the body of a 2xx reply.
// Reads move to the next endpoint when a node does not answer (refused, DNS,
// timeout); a POST only when it surely never arrived (refused, DNS, dial failure).
func (c *Client) do(ctx context.Context, r request) (body []byte, err error) {
	if c.o.Observe != nil {
		began := time.Now()
		defer func() {
			var pe *Error
			answered := err == nil || errors.As(err, &pe) && pe.Status != 0
			c.o.Observe(c.name, time.Since(began), answered)
		}()
	}
	start := int(c.preferred.Load())
	var last *Error
	for i := range c.endpoints {
		idx := (start + i) % len(c.endpoints)
		body, err, next := c.try(ctx, c.endpoints[idx], r)
		if err == nil {
			c.preferred.Store(int32(idx))
			c.noteHealth(nil)
			return body, nil
		}
		last = err
		if !next || ctx.Err() != nil {
			break
		}
		c.log.Info("PVE endpoint did not answer, trying the next one",
			zap.String("endpoint", hostOf(c.endpoints[idx])), zap.String("op", r.op), zap.String("reason", err.Reason))
	}
	last.Cluster, last.Op = c.name, r.op
	if c.secret != "" {
		last.Reason = strings.ReplaceAll(last.Reason, c.secret, "<redacted>")
		last.Hint = strings.ReplaceAll(last.Hint, c.secret, "<redacted>")
	}
	if last.Err != nil {
		last.Err = scrubbedError{last.Err, c.secret}
	}
	c.noteHealth(last)
	return nil, last
}

func hostOf(ep string) string {
	if u, err := url.Parse(ep); err == nil {
		return u.Host
	}
	return ""
}

// try sends r to one endpoint. next reports whether the next endpoint may be tried.
func (c *Client) try(ctx context.Context, ep string, r request) (body []byte, e *Error, next bool) {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	u := ep + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	hdr := http.Header{"Accept": {"application/json"}}
	if r.form != nil {
		rd = strings.NewReader(r.form.Encode())
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var req *http.Request
	if err := safely("build request", func() error {
		var err error
		req, err = c.sess.NewRequest(actx, r.method, u, &hdr, rd)
		return err
	}); err != nil {
		return nil, &Error{Kind: KindPVE, Reason: "cannot build request", Err: err}, false
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		te, sent := transportError(err, actx.Err(), c.o.Timeout)
		if ctx.Err() != nil { // the caller's context, not our per-request timeout
			te, _ = transportError(ctx.Err(), ctx.Err(), c.o.Timeout)
			if te.Kind == KindTimeout {
				te.Reason = "the caller's deadline passed"
			}
			return nil, te, false
		}
		switch {
		case te.Kind == KindTLS:
			return nil, te, false
		case r.method == http.MethodGet:
			return nil, te, te.Kind == KindUnreachable || te.Kind == KindTimeout
		default:
			return nil, te, !sent
		}
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		te, _ := transportError(err, actx.Err(), c.o.Timeout)
		return nil, te, false
	}
	if resp.StatusCode >= 300 {
		return nil, parseErrorReply(resp.StatusCode, body), false
	}
	return body, nil, false
}

// scrubbedError keeps the cause for errors.Is/As but never prints the secret.
type scrubbedError struct {
	err    error
	secret string
}

func (s scrubbedError) Error() string {
	m := scrub(s.err.Error())
	if s.secret != "" {
		m = strings.ReplaceAll(m, s.secret, "<redacted>")
	}
	return m
}

func (s scrubbedError) Unwrap() error { return s.err }

func (c *Client) get(ctx context.Context, path string, q url.Values, op string) ([]byte, error) {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: q, op: op})
}

func (c *Client) decodeErr(op string, err error) error {
	return &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: "unexpected reply: " + cleanReason(err.Error()), Err: err}
}

// Guests lists every QEMU VM and LXC container the token may see (VM.Audit), with
// one GET /cluster/resources (see GuestsAndNodes). The returned slice is the caller's
// to keep.
func (c *Client) Guests(ctx context.Context) ([]Guest, error) {
	guests, _, err := c.GuestsAndNodes(ctx)
	return guests, err
}

// GuestsAndNodes lists the guests (as Guests) and the nodes (as Nodes) with one
// GET /cluster/resources of every type. The answer is cached for GuestCacheTTL so one
// command that looks a guest up and then lists does not ask PVE twice, and callers that
// miss the cache at the same moment share one request: a thousand users typing `vm list`
// at once cost one listing per cluster. Power actions drop the cache. The returned
// slices are the caller's to keep (the guests' Tags are shared: see Guest.Tags).
func (c *Client) GuestsAndNodes(ctx context.Context) ([]Guest, []Node, error) {
	guests, nodes, err := c.resources(ctx)
	if err != nil {
		return nil, nil, err
	}
	return slices.Clone(guests), slices.Clone(nodes), nil
}

// resources is GuestsAndNodes without the copy: the slices are the cache's (or the
// shared listing's), read-only. The fleet reads them in place and copies once, into
// its own answer, instead of once per cluster and again into the answer; a lookup by
// name copies nothing but its match.
func (c *Client) resources(ctx context.Context) ([]Guest, []Node, error) {
	for {
		c.mu.Lock()
		if c.o.GuestCacheTTL > 0 && c.cache != nil && c.o.Now().Sub(c.cacheAt) < c.o.GuestCacheTTL {
			guests, nodes := c.cache, c.cacheNodes
			c.mu.Unlock()
			return guests, nodes, nil
		}
		if l := c.listing; l != nil && l.gen == c.cacheGen {
			// Another caller is asking PVE for the same list: wait for its answer.
			c.mu.Unlock()
			select {
			case <-l.done:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			if l.err != nil && ctx.Err() == nil && (errors.Is(l.err, context.Canceled) || errors.Is(l.err, context.DeadlineExceeded)) {
				continue // that caller gave up, not PVE: ask again
			}
			if l.err != nil {
				return nil, nil, l.err
			}
			return l.guests, l.nodes, nil
		}
		l := &listing{done: make(chan struct{}), gen: c.cacheGen}
		c.listing = l
		c.mu.Unlock()

		l.guests, l.nodes, l.err = c.listResources(ctx)
		c.mu.Lock()
		if c.listing == l {
			c.listing = nil
		}
		if l.err == nil && l.gen == c.cacheGen {
			c.cache, c.cacheNodes, c.cacheAt = l.guests, l.nodes, c.o.Now()
		}
		c.mu.Unlock()
		close(l.done)
		if l.err != nil {
			return nil, nil, l.err
		}
		return l.guests, l.nodes, nil
	}
}

// listing is one GET /cluster/resources in flight, shared by the callers that wait for it.
type listing struct {
	done   chan struct{} // closed when guests, nodes and err are set
	gen    uint64        // cacheGen when it was sent
	guests []Guest
	nodes  []Node
	err    error
}

func (c *Client) listResources(ctx context.Context) ([]Guest, []Node, error) {
	body, err := c.get(ctx, "/cluster/resources", nil, "list guests")
	if err != nil {
		return nil, nil, err
	}
	guests, nodes, _, err := decodeResources(c.name, body)
	if err != nil {
		return nil, nil, c.decodeErr("list guests", err)
	}
	if !c.canReadPools(ctx) {
		for i := range guests {
			guests[i].PoolUnknown = guests[i].Pool == ""
		}
	}
	slices.SortFunc(guests, func(a, b Guest) int { return a.VMID - b.VMID })
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return guests, nodes, nil
}

// canReadPools reports whether the token holds Pool.Audit on /pool, without which PVE
// (>= 7.0) leaves every guest's pool out of /cluster/resources. The answer is kept for
// poolAuditTTL; a failed read counts as "no" and is asked again next time.
func (c *Client) canReadPools(ctx context.Context) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if !c.poolAt.IsZero() && c.o.Now().Sub(c.poolAt) < poolAuditTTL {
		return c.poolAudit
	}
	body, err := c.get(ctx, "/access/permissions", url.Values{"path": {"/pool"}}, "read pool permissions")
	var perms map[string]map[string]flexNum
	if err == nil {
		err = decodeObject(body, &perms)
	}
	if err != nil {
		c.log.Warn("cannot tell whether the token may read pools; guests without a pool count as in an unknown one", zap.Error(err))
		return false
	}
	_, ok := perms["/pool"]["Pool.Audit"]
	if !ok && (c.poolAt.IsZero() || c.poolAudit) {
		c.log.Warn("the token lacks Pool.Audit on /pool: PVE hides guests' pools, so pool: selectors cannot be evaluated; " +
			"such guests count as protected where a protected list names a pool, and are outside pool-based scopes; grant Pool.Audit (docs/setup.md)")
	}
	c.poolAudit, c.poolAt = ok, c.o.Now()
	return ok
}

// InvalidateGuests drops the cached guest list.
func (c *Client) InvalidateGuests() {
	c.mu.Lock()
	c.cache, c.cacheNodes = nil, nil
	c.cacheGen++
	c.mu.Unlock()
}

func guestPath(g Guest) (string, error) {
	if g.Type != "qemu" && g.Type != "lxc" {
		return "", fmt.Errorf("guest %d has unknown type %q", g.VMID, g.Type)
	}
	if g.Node == "" || g.VMID <= 0 {
		return "", fmt.Errorf("guest %d has no node", g.VMID)
	}
	return "/nodes/" + url.PathEscape(g.Node) + "/" + g.Type + "/" + strconv.Itoa(g.VMID), nil
}

// GuestStatus reads one guest's live state (GET …/status/current).
func (c *Client) GuestStatus(ctx context.Context, g Guest) (GuestStatus, error) {
	op := "status " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return GuestStatus{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	body, err := c.get(ctx, p+"/status/current", nil, op)
	if err != nil {
		return GuestStatus{}, err
	}
	var r rawStatus
	if err := decodeObject(body, &r); err != nil {
		return GuestStatus{}, c.decodeErr(op, err)
	}
	s := GuestStatus{Guest: g, QMPStatus: string(r.QMPStatus), HAManaged: r.HA.Managed.bool()}
	s.Cluster = c.name
	if r.Status != "" {
		s.Status = string(r.Status)
	}
	if r.Name != "" {
		s.Name = string(r.Name)
	}
	s.CPU, s.Mem, s.MaxMem = float64(r.CPU), r.Mem.uint(), r.MaxMem.uint()
	s.Disk, s.MaxDisk, s.Uptime = r.Disk.uint(), r.MaxDisk.uint(), r.Uptime.seconds()
	if n := r.Cpus.int(); n > 0 {
		s.MaxCPU = n
	}
	s.Lock = string(r.Lock)
	if r.Tags != "" {
		s.Tags = selector.SplitTags(string(r.Tags))
	}
	if s.HAManaged {
		s.HAState = string(r.HA.State)
	}
	return s, nil
}

// Do sends one power action and returns the task's UPID. It is EXACTLY ONE POST and
// is never retried: a reboot or reset sent twice is not harmless. The only exception
// is an endpoint that refused the connection (so never received it): then the next
// configured endpoint gets the same single POST. PVE's refusals (403, "VM 101 not
// running", …) come back as *Error with PVE's reason.
func (c *Client) Do(ctx context.Context, g Guest, a Action) (string, error) {
	op := string(a) + " " + strconv.Itoa(g.VMID)
	if !a.Valid() {
		return "", &Error{Kind: KindUnsupported, Cluster: c.name, Op: op, Reason: "unknown action"}
	}
	if a == ActionReset && g.Type == "lxc" {
		return "", &Error{Kind: KindUnsupported, Cluster: c.name, Op: op, Reason: "containers have no reset; use stop and start"}
	}
	return c.guestTask(ctx, g, http.MethodPost, "/status/"+string(a), url.Values{}, op)
}

// guestTask sends exactly one write request below a guest's path and returns the UPID of the
// worker task PVE started. Like Do it is never retried.
func (c *Client) guestTask(ctx context.Context, g Guest, method, sub string, form url.Values, op string) (string, error) {
	p, err := guestPath(g)
	if err != nil {
		return "", &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	r := request{method: method, path: p + sub, form: form, op: op}
	if method == http.MethodDelete && len(form) > 0 {
		r.query, r.form = form, nil
	}
	c.InvalidateGuests()
	body, err := c.do(ctx, r)
	c.InvalidateGuests()
	if err != nil {
		c.log.Info("PVE refused an action", zap.String("op", op), zap.Error(err))
		return "", err
	}
	var env struct {
		Data flexStr `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	upid := string(env.Data)
	if _, perr := ParseUPID(upid); perr != nil {
		return "", &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: "PVE accepted the action but sent no task id", Err: perr}
	}
	c.log.Info("PVE action sent", zap.String("op", op), zap.String("upid", upid))
	return upid, nil
}

// Wait follows a task until it ends, polling its status every PollInterval, bounded
// by ctx and TaskTimeout. A finished task is a nil error: OK reports whether it
// succeeded (OK and WARNINGS: N are success) and Exit carries PVE's text. For HA
// tasks (hastart/hastop), which end at once while the HA manager acts later, it then
// polls the guest's status for up to HAFollow and reports FinalState. An error means
// the outcome is unknown (timeout, token rejected, …); the task may still be running.
func (c *Client) Wait(ctx context.Context, g Guest, upid string) (TaskResult, error) {
	began := c.o.Now()
	res := TaskResult{UPID: upid}
	op := "wait for task"
	u, err := ParseUPID(upid)
	if err != nil {
		return res, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: "not a task id", Err: err}
	}
	op = "wait for " + u.Type + " " + u.ID
	wctx, cancel := context.WithTimeout(ctx, c.o.TaskTimeout)
	defer cancel()
	path := "/nodes/" + url.PathEscape(u.Node) + "/tasks/" + url.PathEscape(upid) + "/status"
	transient := 0
	for {
		body, err := c.get(wctx, path, nil, op)
		if err == nil {
			var t rawTask
			if derr := decodeObject(body, &t); derr != nil {
				return res, c.decodeErr(op, derr)
			}
			if string(t.Status) == "stopped" {
				res.Exit = strings.TrimSpace(string(t.ExitStatus))
				res.OK = res.Exit == "OK" || strings.HasPrefix(res.Exit, "WARNINGS")
				break
			}
			transient = 0
		} else {
			var e *Error
			if wctx.Err() != nil {
				res.Duration = c.o.Now().Sub(began)
				return res, c.waitTimeout(ctx, op, err)
			}
			// A node that blinks (595, a lost connection) should not lose the
			// result of an action already sent: keep polling a few times.
			if errors.As(err, &e) && (e.Kind == KindNodeUnreachable || e.Kind == KindUnreachable || e.Kind == KindTimeout) && transient < 3 {
				transient++
			} else {
				res.Duration = c.o.Now().Sub(began)
				return res, err
			}
		}
		if err := sleepCtx(wctx, c.o.PollInterval); err != nil {
			res.Duration = c.o.Now().Sub(began)
			return res, c.waitTimeout(ctx, op, err)
		}
	}
	res.Settled = true
	switch {
	case !res.OK && strings.HasPrefix(res.Exit, "command '"):
		// run_command reports only the exit code; what went wrong is in the log.
		res.Reason = c.taskLogReason(wctx, u.Node, upid, op)
	case res.OK && (u.Type == "hastart" || u.Type == "hastop"):
		// The task only handed the request to the HA manager, which acts in its next
		// rounds: the result is the guest's state, which the caller follows (HABound).
		res.HA = true
		res.FinalState = "unknown"
		if st, err := c.GuestStatus(wctx, g); err == nil {
			res.FinalState = st.Status
		}
		res.Settled = res.FinalState == haWant(u.Type)
	case res.OK:
		res.FinalState = impliedState(u.Type)
	}
	res.Duration = c.o.Now().Sub(began)
	c.log.Info("PVE task ended", zap.String("upid", upid), zap.String("exit", res.Exit), zap.String("final", res.FinalState))
	return res, nil
}

func (c *Client) waitTimeout(ctx context.Context, op string, cause error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindCanceled, Cluster: c.name, Op: op, Reason: "stopped waiting; the task may still be running", Err: ctx.Err()}
	}
	return &Error{Kind: KindTimeout, Cluster: c.name, Op: op, Reason: "task still running; it may finish later", Err: cause}
}

// taskLogReason reads a failed task's log (GET …/tasks/{upid}/log) and returns its last line
// before "TASK ERROR", or "" when the log cannot be read.
func (c *Client) taskLogReason(ctx context.Context, node, upid, op string) string {
	body, err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/tasks/"+url.PathEscape(upid)+"/log", url.Values{"limit": {"500"}}, op)
	if err != nil {
		c.log.Info("could not read a failed task's log", zap.String("upid", upid), zap.Error(err))
		return ""
	}
	rows, _, err := decodeList[struct {
		T flexStr `json:"t"`
	}](body)
	if err != nil {
		return ""
	}
	for i := len(rows) - 1; i >= 0; i-- {
		line := strings.TrimSpace(string(rows[i].T))
		if line != "" && !strings.HasPrefix(line, "TASK ") && line != "no content" {
			return line
		}
	}
	return ""
}

func haWant(taskType string) string {
	if taskType == "hastop" {
		return "stopped"
	}
	return "running"
}

func impliedState(taskType string) string {
	switch taskType {
	case "qmstart", "vzstart", "qmresume", "vzresume", "qmreboot", "vzreboot", "qmreset":
		return "running"
	case "qmstop", "vzstop", "qmshutdown", "vzshutdown", "vzsuspend": // a CT checkpoint stops it
		return "stopped"
	case "qmpause":
		return "paused"
	case "qmsuspend":
		return "suspended"
	}
	return ""
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Nodes lists the cluster's nodes (GET /cluster/resources?type=node). Without
// Sys.Audit PVE leaves the stats out: HasStats is then false.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	body, err := c.get(ctx, "/cluster/resources", url.Values{"type": {"node"}}, "list nodes")
	if err != nil {
		return nil, err
	}
	_, nodes, _, err := decodeResources(c.name, body)
	if err != nil {
		return nil, c.decodeErr("list nodes", err)
	}
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}

// Storage lists storage per node with usage (GET /cluster/resources?type=storage), a
// shared storage once. Storage without Datastore.Audit is not listed at all.
func (c *Client) Storage(ctx context.Context) ([]Storage, error) {
	body, err := c.get(ctx, "/cluster/resources", url.Values{"type": {"storage"}}, "list storage")
	if err != nil {
		return nil, err
	}
	_, _, st, err := decodeResources(c.name, body)
	if err != nil {
		return nil, c.decodeErr("list storage", err)
	}
	slices.SortFunc(st, func(a, b Storage) int {
		if d := strings.Compare(a.Node, b.Node); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	// PVE lists a shared storage (NFS, Ceph, PBS...) once per node, with the same usage:
	// it is one storage, so it is reported once, under the first node that sees it.
	seen := map[string]bool{}
	st = slices.DeleteFunc(st, func(s Storage) bool {
		if !s.Shared {
			return false
		}
		dup := seen[s.Name]
		seen[s.Name] = true
		return dup
	})
	return st, nil
}

// Tasks returns the most recent tasks (newest first, at most limit) across the
// nodes that are not offline: one node list plus one GET /nodes/{node}/tasks per node. A
// node that fails is skipped and logged; an error only when no node answered.
func (c *Client) Tasks(ctx context.Context, limit int) ([]Task, error) {
	if limit <= 0 {
		limit = 20
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []Task
	var firstErr error
	answered := 0
	for _, n := range nodes {
		if n.Status == "offline" {
			continue // a silent member ("unknown") still answers
		}
		body, err := c.get(ctx, "/nodes/"+url.PathEscape(n.Name)+"/tasks",
			url.Values{"limit": {strconv.Itoa(limit)}, "source": {"all"}}, "list tasks on "+n.Name)
		if err != nil {
			c.log.Info("could not list tasks of a node", zap.String("node", n.Name), zap.Error(err))
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		answered++
		rows, _, err := decodeList[rawTask](body)
		if err != nil {
			continue
		}
		for _, r := range rows {
			t := r.task()
			t.Cluster = c.name
			if t.Node == "" {
				t.Node = n.Name
			}
			out = append(out, t)
		}
	}
	if answered == 0 && firstErr != nil {
		return nil, firstErr
	}
	slices.SortStableFunc(out, func(a, b Task) int { return b.Start.Compare(a.Start) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Version returns pve-manager's version ("8.2.4", or "7.4-16" on PVE 7).
func (c *Client) Version(ctx context.Context) (string, error) {
	body, err := c.get(ctx, "/version", nil, "read version")
	if err != nil {
		return "", err
	}
	var v struct {
		Version flexStr `json:"version"`
	}
	if err := decodeObject(body, &v); err != nil {
		return "", c.decodeErr("read version", err)
	}
	return string(v.Version), nil
}

// CloseIdleConnections drops kept-alive connections to the cluster's nodes.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }
