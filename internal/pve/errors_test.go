package pve

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestErrorFormats feeds each error PVE sends, in the old format (text only in the
// status line, body {"data":null} or empty) and the new one (also "message" in the
// body), and expects the same classification and reason from both.
func TestErrorFormats(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		reason    string
		emptyBody bool
		wantKind  Kind
		wantPath  string
		wantPriv  string
		wantIn    string // in Error()
	}{
		{"403 power", 403, "Permission check failed (/vms/101, VM.PowerMgmt)", false, KindPermission, "/vms/101", "VM.PowerMgmt", "lacks VM.PowerMgmt on /vms/101"},
		{"403 check any", 403, "Permission check failed (/vms/101, VM.Snapshot|VM.Snapshot.Rollback)", false, KindPermission, "/vms/101", "VM.Snapshot|VM.Snapshot.Rollback", "VM.Snapshot|VM.Snapshot.Rollback"},
		{"403 uri", 403, "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.", false, KindPermission, "", "", "permission denied"},
		{"401 invalid", 401, "invalid token value!", true, KindTokenRejected, "", "", "token rejected (401 invalid token value!)"},
		{"401 unified", 401, "Authentication failed!", true, KindTokenRejected, "", "", "Authentication failed!"},
		{"401 no such token", 401, "no such token 'bot' for user 'chatbot@pve'", true, KindTokenRejected, "", "", "no such token"},
		{"595", 595, "No route to host", true, KindNodeUnreachable, "", "", "cannot reach the node (595 No route to host)"},
		{"596", 596, "Connection timed out", true, KindNodeUnreachable, "", "", "596"},
		{"no quorum", 500, "cluster not ready - no quorum?", false, KindNoQuorum, "", "", "lost quorum"},
		{"already running", 500, "VM 101 already running", false, KindPVE, "", "", "refused (500 VM 101 already running)"},
		{"ct not running", 500, "CT 102 not running", false, KindPVE, "", "", "CT 102 not running"},
		{"no config", 500, "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist", false, KindNotFound, "", "", "not found"},
		{"501", 501, "Method 'GET /nodes/x' not implemented", false, KindPVE, "", "", "not implemented"},
		{"locked", 500, "VM is locked (backup)", false, KindPVE, "", "", "VM is locked (backup)"},
	}
	for _, tt := range tests {
		for _, format := range []string{"old", "new"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				body := `{"data":null}`
				if tt.emptyBody {
					body = ""
				}
				if format == "new" && !tt.emptyBody {
					body = `{"data":null,"message":"` + strings.ReplaceAll(tt.reason, `'`, `'`) + `\n"}`
				}
				rt := newFakeRT(map[string]reply{"GET /version": {status: tt.status, reason: tt.reason, body: body}})
				_, err := fakeClient(t, rt).Version(context.Background())
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T %v, want *Error", err, err)
				}
				if e.Kind != tt.wantKind || e.Path != tt.wantPath || e.Privilege != tt.wantPriv || e.Status != tt.status {
					t.Errorf("got kind %s path %q priv %q status %d, want %s %q %q %d", e.Kind, e.Path, e.Privilege, e.Status, tt.wantKind, tt.wantPath, tt.wantPriv, tt.status)
				}
				if got := e.Reason; got != cleanReason(tt.reason) {
					t.Errorf("got reason %q, want %q", got, tt.reason)
				}
				if got := err.Error(); !strings.Contains(got, tt.wantIn) || !strings.HasPrefix(got, "pve: home: read version: ") {
					t.Errorf("got %q, want it to contain %q", got, tt.wantIn)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error leaks the secret: %q", err)
				}
			})
		}
	}
}

func TestParamErrorRecorded(t *testing.T) {
	// The recorded 400 (old format): reason in the status line, details in "errors".
	rt := newFakeRT(map[string]reply{"GET /version": {status: 400, reason: "Parameter verification failed.",
		body: `{"data":null,"errors":{"command":"type check ('string') failed - got ARRAY"}}`}})
	_, err := fakeClient(t, rt).Version(context.Background())
	want := "Parameter verification failed. command: type check ('string') failed - got ARRAY"
	var e *Error
	if !errors.As(err, &e) || e.Reason != want || e.Kind != KindPVE {
		t.Errorf("got %v, want reason %q", err, want)
	}
}

func TestNormaliseErrorBody(t *testing.T) {
	tests := []struct{ status, in, want string }{
		{"403 Permission check failed (/, Sys.Audit)", `{"data":null}`, `{"data":null,"message":"Permission check failed (/, Sys.Audit)\n"}`},
		{"500 VM 1 not running", `{"data":null,"message":"VM 1 not running\n"}`, `{"data":null,"message":"VM 1 not running\n"}`},
		{"401 No ticket", ``, `{"data":null,"message":"No ticket\n"}`},
		{"502 Bad Gateway", `<html>proxy</html>`, `{"data":null,"message":"Bad Gateway\n"}`},
		{"500 x", `{"data":null,"message":7,"errors":"bad"}`, `{"data":null,"message":"x\n"}`},
	}
	for _, tt := range tests {
		code, _ := strconv.Atoi(tt.status[:3])
		if got := string(normaliseErrorBody(tt.status, code, []byte(tt.in))); got != tt.want {
			t.Errorf("normalise(%q, %q): got %s, want %s", tt.status, tt.in, got, tt.want)
		}
	}
}

func TestScrub(t *testing.T) {
	in := "Authorization: PVEAPIToken=chatbot@pve!bot=" + testSecret + " url?corpsecret=abc&access_token=def&key=ghi"
	got := scrub(in)
	for _, s := range []string{testSecret, "abc", "def", "ghi"} {
		if strings.Contains(got, s) {
			t.Errorf("scrub left %q in %q", s, got)
		}
	}
}

func TestErrorLeaksNoSecret(t *testing.T) {
	// The secret in every place a server could echo it: reason, body, errors.
	rt := newFakeRT(map[string]reply{
		"GET /version":                      {status: 401, reason: "invalid token value! PVEAPIToken=chatbot@pve!bot=" + testSecret},
		"GET /cluster/resources":            {status: 500, body: `{"data":null,"message":"boom ` + testSecret + `\n"}`},
		"POST /nodes/n/qemu/1/status/start": {status: 400, body: `{"data":null,"errors":{"x":"` + testSecret + `"}}`},
	})
	c := fakeClient(t, rt)
	_, e1 := c.Version(context.Background())
	_, e2 := c.Guests(context.Background())
	_, e3 := c.Do(context.Background(), Guest{VMID: 1, Node: "n", Type: "qemu"}, ActionStart)
	for _, err := range []error{e1, e2, e3} {
		if err == nil || strings.Contains(err.Error(), testSecret) {
			t.Errorf("got %v, want an error without the secret", err)
		}
	}
	if got := rt.auth[0]; got != "PVEAPIToken=chatbot@pve!bot="+testSecret {
		t.Errorf("got Authorization %q, want PVE's token header", got)
	}
}
