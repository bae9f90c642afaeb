package main

import (
	"fmt"
	"io"
)

// healthcheckCmd exits 0 when the local bot answers /healthz (Docker HEALTHCHECK).
func healthcheckCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bot healthcheck: not built yet")
	return 1
}

// backupCmd writes an online copy of the embedded store.
func backupCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bot backup: not built yet")
	return 1
}

// menuCmd sets the WeCom app's menu.
func menuCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bot menu: not built yet")
	return 1
}
