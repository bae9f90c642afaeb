// Command bot is wecom-home-ops: run Proxmox VE guests from WeCom.
//
//	bot serve   -config FILE   run the service
//	bot check   -config FILE   validate the config file; exit 0 when it is good, 1 with every problem listed
//	bot version                print the version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `wecom-home-ops: run Proxmox VE guests from WeCom (企业微信)

Usage:
  bot demo [-listen ADDR] [-lang zh|en]   try it: simulated cluster + local chat console
  bot serve   -config FILE [-log-format json|console] [-log-level info]
  bot check   -config FILE [--online]
  bot console -config FILE [-listen ADDR]  local chat console against the real clusters
  bot backup  -config FILE -o FILE  online copy of the embedded store
  bot menu sync -config FILE        set the WeCom app's menu
  bot healthcheck                   exit 0 when the local bot answers /healthz
  bot version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "demo":
		return demoCmd(args[1:], stdout, stderr)
	case "console":
		return consoleCmd(args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "menu":
		return menuCmd(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bot: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "wecom-home-ops " + v
}
