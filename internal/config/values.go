package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret holds a credential. Every way of printing it (fmt verbs, JSON, YAML,
// text, zap's reflection) gives "<secret>", so a Config can be logged or
// dumped without leaking; only Value gives the real thing, which keeps each use
// of a secret visible in the code.
type Secret string

const redacted = "<secret>"

// Value is the real secret, for the one place that must send it.
func (s Secret) Value() string { return string(s) }

// String prints "<secret>".
func (s Secret) String() string { return redacted }

// GoString prints "<secret>" for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints "<secret>" for every verb (%s %v %q %x %d ...), so no verb
// reaches the underlying string.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON writes "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalYAML writes "<secret>".
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText writes "<secret>" (encoding.TextMarshaler users, map keys, slog).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Duration is a time.Duration written as a Go duration ("10m", "15s",
// "1h30m") or as whole days ("180d"), because retention is naturally counted
// in days and time.ParseDuration has no day unit.
type Duration time.Duration

// Std is the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes whole days as "180d" and anything else as Go does ("5m0s").
func (d Duration) String() string {
	const day = 24 * time.Hour
	if td := time.Duration(d); td > 0 && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	return time.Duration(d).String()
}

// ParseDuration reads a Go duration or whole days ("180d").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn.") {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days < -106751 || days > 106751 {
			return 0, errors.New("must be a duration like 10m, 15s or 180d")
		}
		return Duration(time.Duration(days) * 24 * time.Hour), nil
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil && s != "0" {
			return 0, errors.New("must be a duration with a unit, like 15s, 10m or 180d")
		}
		return 0, errors.New("must be a duration like 10m, 15s or 180d")
	}
	return Duration(td), nil
}

// UnmarshalYAML reads a scalar with ParseDuration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a duration like 10m, 15s or 180d")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalText reads with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes String, so a Duration round-trips.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalYAML writes String.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// StringList accepts either one string or a list of strings, for keys like
// `fingerprint` that usually hold one value but may hold several.
type StringList []string

// UnmarshalYAML reads a scalar (an empty one is an empty list) or a sequence
// of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			*l = nil
			return nil
		}
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			if c.Kind != yaml.ScalarNode {
				return errors.New("must be a string or a list of strings")
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return errors.New("must be a string or a list of strings")
}

const rateHint = "must be like 20/m, 100/h, 5/s or 0 (off)"

// ParseRate reads "N/unit" where unit is s, m, h or a Go duration ("20/10m"),
// or "0" for off.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return Rate{}, nil
	}
	ns, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, errors.New(rateHint)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 0 || strings.HasPrefix(strings.TrimSpace(ns), "+") {
		return Rate{}, errors.New(rateHint)
	}
	var d time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s":
		d = time.Second
	case "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || d <= 0 {
			return Rate{}, errors.New(rateHint)
		}
	}
	if n == 0 {
		return Rate{}, nil
	}
	return Rate{N: n, Per: d}, nil
}

// Off reports whether the rate means "no limit".
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

// Interval is the time one event "costs" (Per/N): the refill interval of a
// token bucket (rate.Every(r.Interval()) with burst N). Zero when Off.
func (r Rate) Interval() time.Duration {
	if r.Off() {
		return 0
	}
	return r.Per / time.Duration(r.N)
}

// String writes the canonical form ("20/m", "0").
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	unit := r.Per.String()
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.Itoa(r.N) + "/" + unit
}

// UnmarshalYAML reads a scalar with ParseRate.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New(rateHint)
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText writes String, so a Rate round-trips.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// MarshalYAML writes String.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }
