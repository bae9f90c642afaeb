package pvetest

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkClusterResources300 measures one GET /cluster/resources?type=vm of a 3-node,
// 300-guest cluster through the fake (HTTP, keep-alive, gzip as the Go client negotiates it).
func BenchmarkClusterResources300(b *testing.B) {
	for _, tlsOn := range []bool{false, true} {
		b.Run(fmt.Sprintf("tls=%v", tlsOn), func(b *testing.B) {
			s := New(Options{TLS: tlsOn})
			defer s.Close()
			s.AddToken(testToken, testSecret, map[string][]string{"/": {"PVEAuditor"}})
			for i := range 300 {
				s.AddGuest(Guest{VMID: 100 + i, Name: fmt.Sprintf("guest-%03d", i), Node: fmt.Sprintf("pve%d", i%3+1),
					Type: []string{"qemu", "lxc"}[i%2], Status: []string{"running", "stopped"}[i%3%2], Tags: []string{"lab"}})
			}
			hc := s.HTTPClient()
			req, _ := http.NewRequest("GET", s.URL()+"/api2/json/cluster/resources?type=vm", nil)
			req.Header.Set("Authorization", "PVEAPIToken="+testToken+"="+testSecret)
			b.ReportAllocs()
			for b.Loop() {
				r, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 200 {
					b.Fatalf("got %d", r.StatusCode)
				}
			}
		})
	}
}
