package pvewebhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// BenchmarkWebhookPost measures the handler's answer to PVE (which gives up after 10 s): check
// the secret, decode, digest and record in the real store. sizes: a small event and a vzdump
// event with 1 MiB of logs. Each post is a new event (its timestamp differs).
func BenchmarkWebhookPost(b *testing.B) {
	for _, size := range []int{0, 1 << 20} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			st, err := store.Open(b.TempDir(), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			rc := New(config.PVEWebhook{Path: "/pve/webhook", Secret: secret, To: []string{"ops"}}, Options{KV: st})
			n := failedJob(time.Date(2026, 12, 2, 2, 10, 0, 0, time.UTC))
			n.Message += strings.Repeat("102: INFO: a long log line of the guest's backup\n", size/50)
			b.SetBytes(int64(len(pvetest.WebhookBody(n))))
			bodies := make([][]byte, b.N)
			for i := range bodies {
				n.Timestamp = n.Timestamp.Add(time.Second)
				bodies[i] = pvetest.WebhookBody(n)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/pve/webhook", bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+secret)
				w := httptest.NewRecorder()
				rc.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
