//go:build !linux

package main

// networkFS is only known on Linux (statfs magic numbers); elsewhere it says no.
func networkFS(string) (string, bool) { return "", false }
