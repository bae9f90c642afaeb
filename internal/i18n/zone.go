package i18n

import (
	"time"
	_ "time/tzdata" // the zone must load on hosts without zoneinfo (scratch images)
)

// DefaultZone is the zone messages use when none is configured (config `timezone`).
const DefaultZone = "Asia/Shanghai"

// Zone formats instants for messages in one time zone, the configured `timezone`, so a
// reply shows the home's clock whatever the host's TZ (a systemd unit on a UTC VPS).
// The zero Zone uses DefaultZone.
type Zone struct{ loc *time.Location }

// NewZone returns a Zone for loc; nil means DefaultZone.
func NewZone(loc *time.Location) Zone { return Zone{loc: loc} }

// Location is the zone's location.
func (z Zone) Location() *time.Location {
	if z.loc != nil {
		return z.loc
	}
	if loc, err := time.LoadLocation(DefaultZone); err == nil {
		return loc
	}
	return time.UTC
}

// In returns t in the zone.
func (z Zone) In(t time.Time) time.Time { return t.In(z.Location()) }

// DateTime is "2006-01-02 15:04" (report headers).
func (z Zone) DateTime(t time.Time) string { return z.In(t).Format("2006-01-02 15:04") }

// Short is "01-02 15:04" (task lists, alert "since").
func (z Zone) Short(t time.Time) string { return z.In(t).Format("01-02 15:04") }

// ShortSeconds is "01-02 15:04:05" (audit lines).
func (z Zone) ShortSeconds(t time.Time) string { return z.In(t).Format("01-02 15:04:05") }

// Clock is "15:04:05" (an "as of" footer).
func (z Zone) Clock(t time.Time) string { return z.In(t).Format("15:04:05") }
