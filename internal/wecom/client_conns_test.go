package wecom

import (
	"context"
	"sync"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// Replies sent by many workers at once reuse their connections to WeCom: the client
// opens about one per concurrent call, not one per message. (The transport may dial a
// spare while a busy connection is coming back, hence the slack of 2 per worker.)
func TestSendsReuseConnections(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	t.Cleanup(c.CloseIdleConnections)
	ctx := context.Background()
	if err := c.SendText(ctx, []string{"zhangsan"}, "warm"); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := c.SendText(ctx, []string{"zhangsan"}, "hello"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, most := s.ConnsAccepted(), int64(2*workers+1); got > most {
		t.Errorf("connections accepted for %d messages from %d workers = %d, want at most %d", workers*each+1, workers, got, most)
	}
}
