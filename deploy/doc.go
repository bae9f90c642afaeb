// Package deploy holds the files that install wecom-home-ops: the
// docker-compose.yml with its Caddyfile and container config, the hardened
// systemd unit and the Kubernetes manifests. It has no code: its test parses
// those files (and the Dockerfile at the root) and checks what keeps a bot
// safe and single, since no Docker engine or cluster runs where it is built.
package deploy
