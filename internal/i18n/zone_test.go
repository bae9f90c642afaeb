package i18n

import (
	"testing"
	"time"
)

func TestZone(t *testing.T) {
	at := time.Date(2026, 12, 1, 17, 36, 41, 0, time.UTC) // 01:36:41 on Dec 2 in Shanghai
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		z    Zone
		got  func(Zone) string
		want string
	}{
		{"default is Shanghai", Zone{}, func(z Zone) string { return z.DateTime(at) }, "2026-12-02 01:36"},
		{"nil is Shanghai", NewZone(nil), func(z Zone) string { return z.Short(at) }, "12-02 01:36"},
		{"configured", NewZone(ny), func(z Zone) string { return z.ShortSeconds(at) }, "12-01 12:36:41"},
		{"utc", NewZone(time.UTC), func(z Zone) string { return z.Clock(at) }, "17:36:41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(tt.z); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := (Zone{}).Location().String(); got != DefaultZone {
		t.Errorf("zero zone = %s, want %s", got, DefaultZone)
	}
}
