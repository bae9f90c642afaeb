package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n%v\n", *path, len(probs), err)
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d users, %d PVE clusters, reply mode %s, language %s)\n",
		*path, len(cfg.Users), len(cfg.PVE.Clusters), cfg.WeCom.ReplyMode, cfg.Language)
	return 0
}
