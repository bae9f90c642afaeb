//go:build unix

package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	t0 := clk.Now()
	entries := []AuditEntry{
		{User: "wangwu", Command: "vm start 101", Decision: DecisionRefused, Reason: "viewer may not start"},
		{User: "lisi", Command: "vm shutdown 101", Decision: DecisionAllowed, Cluster: "home", VMID: 101,
			UPID: "UPID:pve1:0001", Result: "OK", Duration: 12 * time.Second},
		{User: "zhangsan", Command: "vm reset 102", Decision: DecisionError, Cluster: "home", VMID: 102,
			Reason: "POST https://pve:8006/api2/json failed: Authorization: PVEAPIToken=bot@pve!chat=0d1f-secret refused"},
	}
	for _, e := range entries {
		clk.Advance(time.Second)
		if err := s.Audit(ctx, e); err != nil {
			t.Fatalf("Audit: %v", err)
		}
	}
	// An entry written late with an earlier time sorts by its time.
	if err := s.Audit(ctx, AuditEntry{Time: t0, User: "early", Command: "status", Decision: DecisionAllowed}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		n     int
		users string
	}{
		{1, "zhangsan"},
		{3, "zhangsan lisi wangwu"},
		{10, "zhangsan lisi wangwu early"},
		{0, "zhangsan lisi wangwu early"}, // default 10
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("n=", tt.n), func(t *testing.T) {
			got, err := s.RecentAudit(ctx, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var users []string
			for _, e := range got {
				users = append(users, e.User)
			}
			if g := strings.Join(users, " "); g != tt.users {
				t.Errorf("RecentAudit(%d) users = %q, want %q", tt.n, g, tt.users)
			}
		})
	}

	got, _ := s.RecentAudit(ctx, 3)
	lisi := got[1]
	want := entries[1]
	if lisi.ID == 0 || !lisi.Time.Equal(t0.Add(2*time.Second)) || lisi.Command != want.Command ||
		lisi.Decision != want.Decision || lisi.Cluster != want.Cluster || lisi.VMID != want.VMID ||
		lisi.UPID != want.UPID || lisi.Result != want.Result || lisi.Duration != want.Duration {
		t.Errorf("entry = %+v, want %+v at %v", lisi, want, t0.Add(2*time.Second))
	}
	if reason := got[0].Reason; strings.Contains(reason, "0d1f-secret") || !strings.Contains(reason, "refused") {
		t.Errorf("Reason = %q, want the token scrubbed and the rest kept", reason)
	}
}

func TestAuditRejectsUnknownDecision(t *testing.T) {
	s, _ := openTest(t, Options{})
	for _, d := range []string{"", "maybe", "Allowed"} {
		if err := s.Audit(context.Background(), AuditEntry{User: "zhangsan", Decision: d}); err == nil {
			t.Errorf("Audit(decision %q) = nil, want an error", d)
		}
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"vm start 101", "vm start 101"},
		{`Get "https://qyapi/cgi-bin/gettoken?corpid=ww1&corpsecret=S3CRET": timeout`, `Get "https://qyapi/cgi-bin/gettoken?corpid=ww1&corpsecret=<redacted>": timeout`},
		{"post /cgi-bin/message/send?access_token=TOK&debug=1", "post /cgi-bin/message/send?access_token=<redacted>&debug=1"},
		{"webhook/send?key=ROBOTKEY failed", "webhook/send?key=<redacted> failed"},
		{"monkey=banana", "monkey=banana"},
		{"Authorization: Bearer abc.def", "Authorization: Bearer <redacted>"},
		{"header PVEAPIToken=root@pam!bot=1234-abcd", "header PVEAPIToken=<redacted>"},
		{"authorization failed for lisi", "authorization failed for lisi"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := scrub(tt.in); got != tt.want {
				t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
