package pve

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind classifies a failure so that callers can answer a user in plain words.
type Kind string

// The kinds of failure. The zero Kind is never used.
const (
	KindTokenRejected   Kind = "token_rejected"   // 401: wrong, expired or revoked token
	KindPermission      Kind = "permission"       // 403: the token lacks Privilege on Path
	KindNodeUnreachable Kind = "node_unreachable" // 595/596: the answering node cannot reach the guest's node
	KindNoQuorum        Kind = "no_quorum"        // the cluster lost quorum: writes are refused
	KindTimeout         Kind = "timeout"          // no answer (or task end) in time
	KindCanceled        Kind = "canceled"         // the caller gave up (context canceled)
	KindTLS             Kind = "tls"              // certificate not trusted or fingerprint mismatch
	KindUnreachable     Kind = "unreachable"      // connection refused, DNS, no route
	KindNotFound        Kind = "not_found"        // the guest's config file does not exist
	KindUnsupported     Kind = "unsupported"      // the action does not exist for this guest type (reset on LXC)
	KindPVE             Kind = "pve"              // any other refusal, with PVE's reason
)

// Error is a failed PVE call. Error() is readable English with no URL query, token or
// secret in it; Reason holds PVE's own words (e.g. "VM 101 already running").
type Error struct {
	Kind      Kind
	Cluster   string
	Op        string // what the bot tried: "list guests", "start 101", …
	Status    int    // HTTP status, 0 when there was no response
	Reason    string // PVE's reason phrase / message, or the transport cause
	Path      string // KindPermission: ACL path, e.g. /vms/101
	Privilege string // KindPermission: e.g. VM.PowerMgmt
	Presented string // KindTLS: SHA-256 fingerprint the server presented (AA:BB:…)
	Hint      string // what to change, when known
	Err       error
}

// Error renders the failure for operators and logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pve: ")
	if e.Cluster != "" {
		b.WriteString(e.Cluster + ": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op + ": ")
	}
	switch e.Kind {
	case KindTokenRejected:
		b.WriteString("api token rejected")
	case KindPermission:
		if e.Privilege != "" {
			fmt.Fprintf(&b, "permission denied: the token lacks %s on %s", e.Privilege, e.Path)
		} else {
			b.WriteString("permission denied")
		}
	case KindNodeUnreachable:
		b.WriteString("the cluster cannot reach the node")
	case KindNoQuorum:
		b.WriteString("the cluster has lost quorum: starting guests is refused until it is back (stop and shutdown still work)")
	case KindTimeout:
		b.WriteString("no answer in time")
	case KindCanceled:
		b.WriteString("canceled")
	case KindTLS:
		if e.Presented != "" {
			fmt.Fprintf(&b, "certificate fingerprint does not match: the server presented %s", e.Presented)
		} else {
			b.WriteString("certificate not trusted")
		}
	case KindUnreachable:
		b.WriteString("cannot connect")
	case KindNotFound:
		b.WriteString("not found")
	case KindUnsupported:
		b.WriteString("not supported")
	default:
		b.WriteString("refused")
	}
	if e.Reason != "" && e.Kind != KindPermission {
		b.WriteString(" (")
		if e.Status != 0 {
			b.WriteString(strconv.Itoa(e.Status) + " ")
		}
		b.WriteString(e.Reason + ")")
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	return b.String()
}

// Unwrap gives the cause (context.DeadlineExceeded, a *net.OpError, …).
func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is (or wraps) an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

var (
	rePermission = regexp.MustCompile(`Permission check failed \(([^,]+), ([^)\s]+)\)`)
	reSecretKV   = regexp.MustCompile(`(?i)(corpsecret|access_token|key|token_secret|password)=[^&\s"]*`)
	reAuthHeader = regexp.MustCompile(`(?i)(PVEAPIToken[= ]|Authorization:?\s*)\S+`)
)

// scrub removes anything secret-looking from a text that may reach a log or a user.
func scrub(s string) string {
	s = reSecretKV.ReplaceAllString(s, "$1=<redacted>")
	return reAuthHeader.ReplaceAllString(s, "$1<redacted>")
}

// maxReason bounds PVE's reason text in errors: a reason, never a raw body.
const maxReason = 300

func cleanReason(s string) string {
	s = strings.TrimSpace(s)
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
	s = strings.ReplaceAll(s, " ; ;", " ;")
	if len(s) > maxReason {
		s = s[:maxReason] + "…"
	}
	return scrub(s)
}

// httpError classifies a PVE answer with status >= 400. msg is the body's message,
// which reasonTransport fills from the status line on PVE versions that send none.
func httpError(status int, msg string, params map[string]string) *Error {
	e := &Error{Status: status, Reason: cleanReason(msg)}
	if len(params) > 0 {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+strings.TrimSpace(params[k]))
		}
		e.Reason = cleanReason(e.Reason + " " + strings.Join(parts, "; "))
	}
	lower := strings.ToLower(msg)
	switch {
	case status == 401:
		e.Kind = KindTokenRejected
		e.Hint = "check token_id and token_secret, and that the token and its user exist, are enabled and not expired"
	case status == 403:
		e.Kind = KindPermission
		if m := rePermission.FindStringSubmatch(msg); m != nil {
			e.Path, e.Privilege = strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
			e.Hint = fmt.Sprintf("grant %s on %s to the token (and to its user when privilege separation is on)", e.Privilege, e.Path)
		} else {
			e.Hint = e.Reason
		}
	case status == 595 || status == 596:
		e.Kind = KindNodeUnreachable
	case strings.Contains(lower, "no quorum"):
		e.Kind = KindNoQuorum
	case strings.Contains(lower, "does not exist") && (strings.Contains(lower, "configuration file") || strings.Contains(lower, "conf")):
		e.Kind = KindNotFound
	default:
		e.Kind = KindPVE
	}
	return e
}

// errFingerprint is returned by the pinning VerifyConnection.
type errFingerprint struct{ presented []byte }

func (e *errFingerprint) Error() string {
	return "certificate fingerprint mismatch: server presented " + formatFingerprint(e.presented)
}

func formatFingerprint(sum []byte) string {
	h := strings.ToUpper(hex.EncodeToString(sum))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// transportError classifies an error from http.Client.Do. sent reports whether the
// request may have reached the server: only when it surely did not (refused, DNS,
// dial failure) may a POST be tried on another endpoint.
func transportError(err error, ctxErr error, timeout time.Duration) (e *Error, sent bool) {
	e = &Error{Err: err}
	var fp *errFingerprint
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &fp):
		e.Kind, e.Presented = KindTLS, formatFingerprint(fp.presented)
		e.Hint = "if the certificate was renewed on purpose, update fingerprint (or trust the cluster CA with ca_file: /etc/pve/pve-root-ca.pem)"
		return e, false
	case errors.As(err, &ua):
		e.Kind, e.Reason = KindTLS, "certificate signed by an unknown authority"
		e.Hint = "set ca_file to the cluster CA (/etc/pve/pve-root-ca.pem) or pin the certificate with fingerprint"
		return e, false
	case errors.As(err, &hn):
		e.Kind, e.Reason = KindTLS, cleanReason(hn.Error())
		e.Hint = "use a base_url host that is in the certificate, or pin it with fingerprint"
		return e, false
	case errors.As(err, &ci):
		e.Kind, e.Reason = KindTLS, cleanReason(ci.Error())
		return e, false
	case errors.Is(ctxErr, context.Canceled) && !errors.Is(ctxErr, context.DeadlineExceeded):
		e.Kind, e.Reason = KindCanceled, "the request was canceled"
		return e, true
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded) || isTimeout(err):
		// A dial that timed out never delivered the request; anything later may have.
		e.Kind, e.Reason = KindTimeout, "no answer within "+timeout.String()
		return e, !(errors.As(err, &op) && op.Op == "dial")
	case errors.As(err, &dns):
		e.Kind, e.Reason = KindUnreachable, "host not found: "+dns.Name
		return e, false
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind, e.Reason = KindUnreachable, "connection refused"
		return e, false
	case errors.As(err, &op) && op.Op == "dial":
		e.Kind, e.Reason = KindUnreachable, cleanReason(op.Err.Error())
		return e, false
	}
	if msg := innerMessage(err); strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") {
		e.Kind, e.Reason = KindTLS, cleanReason(msg)
		return e, false
	}
	e.Kind, e.Reason = KindUnreachable, cleanReason(innerMessage(err))
	return e, true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// innerMessage drops the *url.Error wrapper (method and URL) from a transport error.
func innerMessage(err error) string {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap().Error()
	}
	return err.Error()
}
