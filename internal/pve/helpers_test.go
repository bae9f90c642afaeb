package pve

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

const testSecret = "5d3a1f0e-9c2b-4e7a-8f61-0b1c2d3e4f50"

// reply is one canned answer of fakeRT.
type reply struct {
	status int
	reason string // reason phrase; "" = Go's standard text
	body   string
}

// fakeRT answers by "METHOD /path" (path below /api2/json, without query), recording
// each request. Unknown routes get 501 like PVE.
type fakeRT struct {
	mu     sync.Mutex
	routes map[string][]reply // consumed in order; the last one repeats
	calls  []string
	auth   []string
}

func newFakeRT(routes map[string]reply) *fakeRT {
	f := &fakeRT{routes: map[string][]reply{}}
	for k, v := range routes {
		f.routes[k] = []reply{v}
	}
	return f
}

func (f *fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(req.URL.Path, "/api2/json")
	key := req.Method + " " + path
	f.calls = append(f.calls, key)
	f.auth = append(f.auth, req.Header.Get("Authorization"))
	rs, ok := f.routes[key]
	r := reply{status: 501, reason: "Method '" + key + "' not implemented", body: `{"data":null}`}
	if ok && len(rs) > 0 {
		r = rs[0]
		if len(rs) > 1 {
			f.routes[key] = rs[1:]
		}
	}
	reason := r.reason
	if reason == "" {
		reason = http.StatusText(r.status)
	}
	return &http.Response{
		StatusCode: r.status, Status: strconv.Itoa(r.status) + " " + reason,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json;charset=UTF-8"}},
		Body:    io.NopCloser(bytes.NewReader([]byte(r.body))),
		Request: req, ContentLength: int64(len(r.body)),
	}, nil
}

func (f *fakeRT) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == key {
			n++
		}
	}
	return n
}

func testSpec() clusterSpec {
	return clusterSpec{Name: "home", BaseURL: "https://pve.invalid:8006", TokenID: "chatbot@pve!bot", TokenSecret: testSecret}
}

func testOptions(t *testing.T) Options {
	t.Helper()
	return Options{
		Timeout: 2 * time.Second, TaskTimeout: 2 * time.Second, PollInterval: 5 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		Logger: zaptest.NewLogger(t),
	}
}

// fakeClient is a client whose requests go to rt.
func fakeClient(t *testing.T, rt http.RoundTripper) *Client {
	t.Helper()
	o := testOptions(t)
	o.HTTPClient = &http.Client{Transport: rt}
	c, err := newClient(testSpec(), o)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	return c
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ok(body string) reply { return reply{status: 200, body: body} }

func readFileBytes(name string) ([]byte, error) { return os.ReadFile(name) }

func zaptestLogger(t *testing.T) *zap.Logger { return zaptest.NewLogger(t) }

// manualFake is fake with a clock that only moves when the test calls advance, so a task is
// still running until then, whatever the machine's load. Tasks take 500 ms of that clock.
func manualFake(t testing.TB, acl map[string][]string) (*pvetest.Server, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	return fake(t, pvetest.Options{Now: clock, TaskDuration: 500 * time.Millisecond}, acl), advance
}
