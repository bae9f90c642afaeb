//go:build unix

package store

import (
	"context"
	"testing"
)

// A user's typed text goes into the audit entry's Command: a line break in it must not
// forge a second entry where the audit is shown (chat `audit`, the console).
func TestAuditKeepsEntriesOnOneLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "vm start 101", "vm start 101"},
		{"newline forges an entry", "x\n✅ 05-01 09:00:00 zhangsan · vm stop 101", "x ✅ 05-01 09:00:00 zhangsan · vm stop 101"},
		{"carriage return and tab", "a\r\nb\tc", "a  b c"},
		{"unicode separators", "a\u2028b\u2029c\u0085d", "a b c d"},
		{"bidi override", "vm start \u202e101", "vm start  101"},
		{"chinese kept", "启动 homeassistant", "启动 homeassistant"},
		{"secret still redacted", "x\naccess_token=abc", "x access_token=<redacted>"},
	}
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Audit(ctx, AuditEntry{User: "u", Command: tt.in, Reason: tt.in, Result: tt.in, Decision: DecisionRefused}); err != nil {
				t.Fatal(err)
			}
			got, err := s.RecentAudit(ctx, 1)
			if err != nil || len(got) != 1 {
				t.Fatalf("RecentAudit: %v, %d entries", err, len(got))
			}
			for field, v := range map[string]string{"Command": got[0].Command, "Reason": got[0].Reason, "Result": got[0].Result} {
				if v != tt.want {
					t.Errorf("%s = %q, want %q", field, v, tt.want)
				}
			}
		})
	}
}
