package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown")
	_ = log.Sync()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (debug filtered): %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("json format line is not JSON: %v", err)
	}
	if rec["msg"] != "shown" || rec["level"] != "info" {
		t.Errorf("record = %v", rec)
	}

	buf.Reset()
	log, err = New(&buf, "console", "debug")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("for people")
	if !strings.Contains(buf.String(), "DEBUG") || strings.HasPrefix(buf.String(), "{") {
		t.Errorf("console line = %q", buf.String())
	}

	for _, bad := range [][2]string{{"xml", "info"}, {"json", "loud"}} {
		if _, err := New(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("New(%q, %q) = nil error", bad[0], bad[1])
		}
	}
}
