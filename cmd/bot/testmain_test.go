package main

import (
	"os"
	"testing"
)

// TestMain lets tests run this test binary as the bot itself (BOT_MAIN_FOR_TEST=1), so
// that process-level tests can kill it, restart it and read its exit code.
func TestMain(m *testing.M) {
	if os.Getenv("BOT_MAIN_FOR_TEST") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
