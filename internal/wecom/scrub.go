package wecom

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// scrubQueryRe matches the query parameters that carry a WeCom credential: the app secret
// (gettoken), the access token (every app API call) and a group robot's webhook key. The
// URL-escaped form (%3D) is matched too, for a URL nested inside another one; its value runs
// to the next delimiter, and any name ending in "key" matches: both may scrub a little more
// than needed, which is the safe side.
var scrubQueryRe = regexp.MustCompile(`(?i)(corpsecret|access_token|key)(=|%3D)([^&\s"'<>]+)`)

// scrubAuthRe matches an Authorization header as Go and most libraries print it
// ("Authorization: Bearer x", `"Authorization":"..."`, authorization=...).
var scrubAuthRe = regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["']?)([^\r\n"',}]+)`)

// Scrub replaces the values of corpsecret=, access_token= and key= query parameters and of
// Authorization headers in s with "***". Go's *url.Error prints the whole request URL, and
// WeCom puts every credential in the query string, so every error and log line that may hold
// a URL goes through Scrub before anyone sees it.
func Scrub(s string) string {
	if s == "" {
		return s
	}
	s = scrubQueryRe.ReplaceAllString(s, "${1}${2}***")
	return scrubAuthRe.ReplaceAllString(s, "${1}***")
}

// minRedactLen keeps redactValues from mangling text when a configured credential is
// implausibly short (a literal "1" would otherwise be replaced everywhere).
const minRedactLen = 6

// redactValues replaces every occurrence of the given literal credentials in s with "***":
// a second line of defence for texts that carry a credential outside a query string (an
// echoed errmsg, a body quoted by a proxy).
func redactValues(s string, values ...string) string {
	for _, v := range values {
		if len(v) >= minRedactLen && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

// scrubbedError is an error whose text went through Scrub and redactValues. Unwrap returns
// a cause that holds no credential either: a *url.Error with its URL scrubbed, the original
// error when its text was clean, or else just the context error it wrapped, so that
// errors.Is(err, context.Canceled) keeps working without the raw URL being reachable.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// scrubError returns err as "wecom: <op>: <cause>" with every credential removed from its
// text and from what it unwraps to. values are literal credentials to redact too.
func scrubError(op string, err error, values ...string) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr == err {
		return err // its text is built from scrubbed parts
	}
	text := err.Error()
	clean := redactValues(Scrub(text), values...)
	var cause error
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		// Wrappers around the *url.Error only add text, which msg keeps (scrubbed).
		cause = &url.Error{Op: ue.Op, URL: redactValues(Scrub(ue.URL), values...), Err: ue.Err}
	case clean == text:
		cause = err
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &scrubbedError{msg: "wecom: " + op + ": " + clean, cause: cause}
}
