//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFileFIFO: a *_file that is a FIFO is refused at once. Opening one for reading
// waits for a writer, which hung check, start-up and every reload.
func TestSecretFileFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "token"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	path := write(t, dir, "config.yaml", "wecom:\n  corp_id: ww1\n  agent_id: 1\n  secret: s\n  token_file: token\n  encoding_aes_key: "+fakeAESKey+"\n")
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("Load with a FIFO token_file: %v, want \"is not a regular file\"", err)
		}
	case <-time.After(30 * time.Second):
		// Not a speed check: a loader that opens the FIFO never returns at all.
		t.Fatal("Load with a FIFO token_file hangs")
	}
}
