package pvetest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken  = "bot@pve!chat"
	testSecret = "11111111-2222-3333-4444-555555555555"
)

// fakeClock is a settable clock so task ends and HA flips are deterministic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1737531826, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// resp is one answer as a client sees it.
type resp struct {
	status int
	reason string
	header http.Header
	body   []byte
	close  bool // the server asked to close the connection
}

func (r resp) data(t *testing.T, v any) {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("decode data %q: %v", env.Data, err)
	}
}

func (r resp) envelope(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// client talks to the fake like the bot will: token header, form-encoded POSTs.
type client struct {
	base string
	hc   *http.Client
	auth string
}

func newClient(s *Server) *client {
	// The fake's TLS is verified in TestTLS; other tests only need to reach it.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test client
	return &client{base: s.URL() + "/api2/json", hc: &http.Client{Timeout: 10 * time.Second, Transport: tr}, auth: "PVEAPIToken=" + testToken + "=" + testSecret}
}

func (c *client) doCtx(ctx context.Context, method, path string, form url.Values) (resp, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return resp{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	r, err := c.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: r.StatusCode, reason: strings.TrimPrefix(r.Status, strconv.Itoa(r.StatusCode)+" "), header: r.Header, body: b, close: r.Close}, nil
}

func (c *client) do(t *testing.T, method, path string, form url.Values) resp {
	t.Helper()
	r, err := c.doCtx(context.Background(), method, path, form)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *client) get(t *testing.T, path string) resp {
	t.Helper()
	return c.do(t, http.MethodGet, path, nil)
}

func (c *client) post(t *testing.T, path string) resp {
	t.Helper()
	return c.do(t, http.MethodPost, path, url.Values{})
}

// newFake starts a fake with a clock and the test token holding every privilege on "/".
func newFake(t *testing.T, opts Options) (*Server, *fakeClock, *client) {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	s := New(opts)
	t.Cleanup(s.Close)
	s.AddNode(Node{Name: "pve1", Online: true, Uptime: 3600})
	s.AddNode(Node{Name: "pve2", Online: true, Uptime: 7200})
	s.AddToken(testToken, testSecret, map[string][]string{"/": {"Administrator"}})
	return s, clk, newClient(s)
}

func wantStatus(t *testing.T, r resp, status int, reason string) {
	t.Helper()
	if r.status != status || r.reason != reason {
		t.Fatalf("got %d %q (body %s), want %d %q", r.status, r.reason, r.body, status, reason)
	}
}

type taskStatus struct {
	UPID       string `json:"upid"`
	Node       string `json:"node"`
	Type       string `json:"type"`
	ID         string `json:"id"`
	User       string `json:"user"`
	TokenID    string `json:"tokenid"`
	Status     string `json:"status"`
	ExitStatus string `json:"exitstatus"`
	PID        int    `json:"pid"`
	PStart     int64  `json:"pstart"`
	StartTime  int64  `json:"starttime"`
}

func (c *client) task(t *testing.T, node, upid string) taskStatus {
	t.Helper()
	r := c.get(t, "/nodes/"+node+"/tasks/"+url.PathEscape(upid)+"/status")
	wantStatus(t, r, 200, "OK")
	var ts taskStatus
	r.data(t, &ts)
	return ts
}
