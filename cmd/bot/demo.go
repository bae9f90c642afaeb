package main

import (
	"fmt"
	"io"
)

// demoCmd runs the bot against an embedded simulated cluster with a local chat console.
func demoCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bot demo: not built yet")
	return 1
}

// consoleCmd runs the local chat console against the clusters and users of a config file.
func consoleCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bot console: not built yet")
	return 1
}
