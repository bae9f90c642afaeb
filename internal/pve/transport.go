package pve

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// tlsMode says how a cluster's certificates are trusted.
type tlsMode int

const (
	tlsSystem      tlsMode = iota // system roots (an ACME certificate from a public CA)
	tlsCA                         // ca_file: the cluster CA, pve-root-ca.pem
	tlsFingerprint                // pinned leaf SHA-256 fingerprints
	tlsInsecure                   // insecure_skip_verify: lab only
)

// parseFingerprint accepts "AB:CD:…", "abcd…" or with spaces, and returns the 32 bytes.
func parseFingerprint(s string) ([]byte, error) {
	h := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("fingerprint %.20q… is not a SHA-256 fingerprint (64 hex digits, colons optional)", s)
	}
	return b, nil
}

// pinVerifier returns a tls VerifyConnection that accepts a server whose leaf
// certificate has one of the given SHA-256 fingerprints. Chain and host name are not
// checked: the pin replaces them, as PVE does between its own nodes.
func pinVerifier(pins [][]byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server sent no certificate")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		for _, p := range pins {
			if bytes.Equal(p, sum[:]) {
				return nil
			}
		}
		return &errFingerprint{presented: sum[:]}
	}
}

// buildTLS turns the cluster's TLS settings into a *tls.Config (nil: system roots).
func buildTLS(s clusterSpec) (*tls.Config, tlsMode, error) {
	set := 0
	for _, b := range []bool{len(s.Fingerprints) > 0, s.CAFile != "", s.Insecure} {
		if b {
			set++
		}
	}
	if set > 1 {
		return nil, 0, errors.New("set only one of fingerprint, ca_file and insecure_skip_verify")
	}
	switch {
	case len(s.Fingerprints) > 0:
		pins := make([][]byte, 0, len(s.Fingerprints))
		for _, f := range s.Fingerprints {
			p, err := parseFingerprint(f)
			if err != nil {
				return nil, 0, err
			}
			pins = append(pins, p)
		}
		return &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pin check in VerifyConnection
			VerifyConnection:   pinVerifier(pins),
		}, tlsFingerprint, nil
	case s.CAFile != "":
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, 0, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, 0, fmt.Errorf("ca_file %s holds no PEM certificate", s.CAFile)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, tlsCA, nil
	case s.Insecure:
		return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, tlsInsecure, nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}, tlsSystem, nil
}

// newHTTPClient builds the cluster's own client. Choices:
//   - Proxy is nil: PVE sits on the LAN, and an HTTPS_PROXY in the bot's environment
//     must not silently route the API token through a proxy.
//   - No http.Client.Timeout: every request carries a context deadline instead (so
//     one Options.Timeout bounds dial, TLS, headers and body, and the caller's context
//     still wins).
//   - Idle connections are kept shorter than pveproxy's 5 s keep-alive, so a reused
//     connection is rarely one the server is closing.
//   - No redirects: PVE never redirects the API; following one could leak the token.
func newHTTPClient(tc *tls.Config, timeout time.Duration) *http.Client {
	dial := timeout
	if dial > 10*time.Second {
		dial = 10 * time.Second
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: dial,
		// Commands in flight at once each hold a connection; keeping more of them
		// idle spares a TLS handshake per command under load (pveproxy takes up to
		// 500 connections and closes idle ones after 5 s).
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       4 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: reasonTransport{base: tr}, CheckRedirect: noRedirect}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// wrapHTTPClient returns a copy of c whose transport makes errors uniform.
func wrapHTTPClient(c *http.Client) *http.Client {
	cp := *c
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(reasonTransport); !ok {
		cp.Transport = reasonTransport{base: base}
	}
	if cp.CheckRedirect == nil {
		cp.CheckRedirect = noRedirect
	}
	return &cp
}

// maxErrorBody bounds what is read of an error reply.
const maxErrorBody = 64 << 10

// reasonTransport makes old and new PVE error replies read the same. PVE before
// libpve-http-server-perl 5.2.0 puts the error only in the HTTP reason phrase and
// sends {"data":null}; newer versions also put it in the body's "message". This
// copies the reason phrase into "message" when the body has none, and replaces an
// empty or non-JSON body (401, 595, a proxy's HTML page) with a JSON one, so
// everything above reads one format. Telmate's session reads "message" too.
type reasonTransport struct{ base http.RoundTripper }

// RoundTrip sends req and normalises an error reply.
func (t reasonTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	body := normaliseErrorBody(resp.Status, resp.StatusCode, raw)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Set("Content-Type", "application/json;charset=UTF-8")
	resp.Header.Del("Content-Encoding")
	resp.Uncompressed = true
	return resp, nil
}

func normaliseErrorBody(status string, code int, raw []byte) []byte {
	reason := strings.TrimSpace(strings.TrimPrefix(status, strconv.Itoa(code)))
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	if _, ok := m["data"]; !ok {
		m["data"] = json.RawMessage("null")
	}
	var msg string
	if r, ok := m["message"]; !ok || json.Unmarshal(r, &msg) != nil || strings.TrimSpace(msg) == "" {
		if reason == "" {
			reason = http.StatusText(code)
		}
		b, _ := json.Marshal(reason + "\n")
		m["message"] = b
	}
	if r, ok := m["errors"]; ok && (len(r) == 0 || r[0] != '{') {
		delete(m, "errors")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"data":null}`)
	}
	return out
}

// errorReply is a normalised error body.
type errorReply struct {
	Message flexStr            `json:"message"`
	Errors  map[string]flexStr `json:"errors"`
}

func parseErrorReply(code int, body []byte) *Error {
	var r errorReply
	_ = json.Unmarshal(body, &r)
	params := make(map[string]string, len(r.Errors))
	for k, v := range r.Errors {
		params[k] = string(v)
	}
	msg := string(r.Message)
	if msg == "" {
		msg = http.StatusText(code)
	}
	return httpError(code, msg, params)
}
