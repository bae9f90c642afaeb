package pvetest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxRequests bounds the request log; the oldest entries are dropped first.
const maxRequests = 100_000

// call is one request on its way through the handler.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	method string
	path   string // below /api2/json
	params url.Values
	tok    *token
}

// tokenHeaderRE is PVE's own extraction regex (pve-http-server Formatter.pm).
var tokenHeaderRE = regexp.MustCompile(`(?:^|\s)PVEAPIToken(?:=| )([^;]*)`)

// parseTokenHeader returns the URI-unescaped "user@realm!name=secret" value, or "" when the
// header carries no token.
func parseTokenHeader(h string) string {
	m := tokenHeaderRE.FindStringSubmatch(h)
	if m == nil {
		return ""
	}
	v, err := url.PathUnescape(strings.TrimSpace(m[1]))
	if err != nil {
		return strings.TrimSpace(m[1])
	}
	return v
}

func splitToken(v string) (id, secret string, ok bool) {
	i := strings.Index(v, "=")
	if i <= 0 || i == len(v)-1 {
		return v, "", false
	}
	id, secret = v[:i], v[i+1:]
	if !strings.Contains(id, "!") || !strings.Contains(id, "@") {
		return id, secret, false
	}
	return id, secret, true
}

// readParams merges the query string and a form or JSON body, as PVE does.
func readParams(r *http.Request) (url.Values, url.Values, error) {
	query := r.URL.Query()
	form := url.Values{}
	if r.Body != nil && r.Method != http.MethodGet {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return query, form, err
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case len(bytes.TrimSpace(body)) == 0:
		case ct == "application/json":
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				return query, form, err
			}
			for k, v := range m {
				form.Set(k, fmt.Sprint(v))
			}
		default:
			f, err := url.ParseQuery(string(body))
			if err != nil {
				return query, form, err
			}
			form = f
		}
	}
	all := url.Values{}
	for k, v := range query {
		all[k] = append(all[k], v...)
	}
	for k, v := range form {
		all[k] = append(all[k], v...)
	}
	return all, form, nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rel := r.URL.Path
	if rel == "/api2/json" || strings.HasPrefix(rel, "/api2/json/") {
		rel = strings.TrimPrefix(rel, "/api2/json")
	}
	params, form, perr := readParams(r)
	tokenValue := parseTokenHeader(r.Header.Get("Authorization"))
	claimedID, _, _ := splitToken(tokenValue)

	s.mu.Lock()
	if len(s.requests) >= maxRequests { // bound memory when the demo runs for days
		s.requests = slices.Delete(s.requests, 0, len(s.requests)-maxRequests+1)
	}
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: rel, Query: r.URL.Query(), Form: form, TokenID: claimedID, Time: s.now(),
	})
	latency, hang := s.latency, s.hang
	if s.hangOnly != "" && s.hangOnly != r.Method+" "+rel {
		hang = nil
	}
	s.mu.Unlock()

	c := &call{w: w, r: r, method: r.Method, path: rel, params: params}
	if !s.wait(r.Context(), latency) {
		dropConn(w)
		return
	}
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			dropConn(w)
			return
		case <-s.closed:
			dropConn(w)
			return
		}
	}
	select {
	case <-s.closed:
		dropConn(w)
		return
	default:
	}
	if rule := s.takeFail(r.Method, rel); rule != nil {
		s.fail(c, rule.status, rule.reason, nil)
		return
	}
	if perr != nil {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", map[string]string{"body": "unable to parse request body"})
		return
	}
	if !s.authenticate(c, tokenValue) {
		return
	}
	s.route(c)
}

func (s *Server) takeFail(method, path string) *failRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fails {
		if (f.method == "" || f.method == method) && strings.HasPrefix(path, f.prefix) {
			f.n--
			if f.n <= 0 {
				s.fails = append(s.fails[:i], s.fails[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// authenticate checks the API token like pve-access-control verify_token and answers 401 itself.
func (s *Server) authenticate(c *call, value string) bool {
	if value == "" {
		s.fail(c, http.StatusUnauthorized, "No ticket", nil)
		return false
	}
	id, secret, ok := splitToken(value)
	if !ok {
		s.fail(c, http.StatusUnauthorized, "no tokenid specified", nil)
		return false
	}
	s.mu.Lock()
	t := s.tokens[id]
	s.mu.Unlock()
	user, name, _ := strings.Cut(id, "!")
	switch {
	case t == nil:
		s.fail(c, http.StatusUnauthorized, fmt.Sprintf("no such token '%s' for user '%s'", name, user), nil)
		return false
	case t.secret != secret:
		s.fail(c, http.StatusUnauthorized, "invalid token value!", nil)
		return false
	}
	c.tok = t
	return true
}

// fail writes a PVE error: the first line of msg is the reason phrase; the body depends on the
// status and the error format; the connection is closed afterwards, as pveproxy does.
func (s *Server) fail(c *call, status int, msg string, errs map[string]string) {
	if status == http.StatusUnauthorized {
		if !s.wait(c.r.Context(), s.opts.AuthDelay) {
			dropConn(c.w)
			return
		}
		if s.opts.ErrorFormat == AuthUnified && msg != "No ticket" {
			msg = "Authentication failed!"
		}
	}
	reason, _, _ := strings.Cut(msg, "\n")
	reason = strings.TrimRight(reason, "\r")
	h := baseHeaders()
	var body []byte
	if status != http.StatusUnauthorized && status < 595 {
		m := map[string]any{"data": nil}
		if len(errs) > 0 {
			m["errors"] = errs
		}
		if s.opts.ErrorFormat != Legacy {
			m["message"] = strings.TrimRight(msg, "\n") + "\n"
		}
		body = marshal(m)
		h.Set("Content-Type", "application/json;charset=UTF-8")
	}
	if status >= 595 {
		h = http.Header{}
	}
	writeRaw(c.w, status, reason, h, body)
}

func baseHeaders() http.Header {
	h := http.Header{}
	h.Set("Server", "pve-api-daemon/3.0")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	return h
}

// writeRaw hijacks the connection to send a custom reason phrase (net/http only writes the
// standard text) and closes it.
func writeRaw(w http.ResponseWriter, status int, reason string, h http.Header, body []byte) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Connection", "close")
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	fmt.Fprintf(buf, "HTTP/1.1 %03d %s\r\n", status, reason)
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body)
	_ = buf.Flush()
}

// dropConn closes the connection without an answer (client gone, or server closing).
func dropConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// ok writes {"data": data} plus extra top-level keys (e.g. "total"), gzip-compressed above
// 1 KiB when the client accepts it, as pveproxy does.
func (s *Server) ok(c *call, data any, extra map[string]any) {
	m := map[string]any{"data": data}
	for k, v := range extra {
		m[k] = v
	}
	body := marshal(m)
	h := c.w.Header()
	for k, v := range baseHeaders() {
		h[k] = v
	}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Expires", s.now().UTC().Format(http.TimeFormat))
	if len(body) > 1024 && strings.Contains(c.r.Header.Get("Accept-Encoding"), "gzip") {
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed) // the level is our choice; clients cannot tell
		_, _ = zw.Write(body)
		_ = zw.Close()
		h.Set("Content-Encoding", "gzip")
		h.Set("Vary", "Accept-Encoding")
		body = zb.Bytes()
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("pvetest: marshal: %v", err))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func itoa(i int) string { return strconv.Itoa(i) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
