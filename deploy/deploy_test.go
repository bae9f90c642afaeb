package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

// The port every deployment uses; `bot healthcheck` asks 127.0.0.1:8080 by default.
const port = "8080"

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

// ---- Dockerfile

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(t *testing.T, data []byte) [][]instruction {
	t.Helper()
	var stages [][]instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		text := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile:%d: %s before the first FROM", in.line, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatal("Dockerfile ends inside a continued line")
	}
	return stages
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes a JSON exec form, failing on the shell form (there is no
// shell in a distroless image).
func execForm(t *testing.T, in instruction, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s: want the exec form [\"...\"]: %v", in.line, in.cmd, s, err)
	}
	return v
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, read(t, "../Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a multi-stage build", len(stages))
	}
	build, final := slices.Concat(stages[:len(stages)-1]...), stages[len(stages)-1]
	one := func(t *testing.T, cmd string) instruction {
		t.Helper()
		ins := find(final, cmd)
		if len(ins) != 1 {
			t.Fatalf("final stage has %d %s, want 1", len(ins), cmd)
		}
		return ins[0]
	}

	t.Run("final image is distroless static or scratch", func(t *testing.T) {
		image := strings.Fields(one(t, "FROM").args)[0]
		if !strings.HasPrefix(image, "gcr.io/distroless/static") && image != "scratch" {
			t.Errorf("got FROM %s, want gcr.io/distroless/static* or scratch", image)
		}
	})
	t.Run("runs as a numeric non-root user", func(t *testing.T) {
		// Numeric, so that Kubernetes' runAsNonRoot can verify it.
		user, _, _ := strings.Cut(one(t, "USER").args, ":")
		if user == "0" || user == "root" || !regexp.MustCompile(`^[0-9]+$`).MatchString(user) {
			t.Errorf("got USER %s, want a numeric non-root uid", user)
		}
	})
	t.Run("healthcheck is the binary in exec form", func(t *testing.T) {
		in := one(t, "HEALTHCHECK")
		_, cmd, ok := strings.Cut(in.args, "CMD ")
		if !ok {
			t.Fatalf("got HEALTHCHECK %s, want CMD [...]", in.args)
		}
		if got, want := execForm(t, in, cmd), []string{"/bot", "healthcheck"}; !slices.Equal(got, want) {
			t.Errorf("got HEALTHCHECK CMD %q, want %q", got, want)
		}
	})
	t.Run("entrypoint and command", func(t *testing.T) {
		in := one(t, "ENTRYPOINT")
		if got, want := execForm(t, in, in.args), []string{"/bot"}; !slices.Equal(got, want) {
			t.Errorf("got ENTRYPOINT %q, want %q", got, want)
		}
		in = one(t, "CMD")
		if got, want := execForm(t, in, in.args), []string{"serve", "-config", "/config/config.yaml"}; !slices.Equal(got, want) {
			t.Errorf("got CMD %q, want %q", got, want)
		}
	})
	t.Run("volume, port and binary", func(t *testing.T) {
		if got := one(t, "VOLUME").args; !strings.Contains(got, "/data") {
			t.Errorf("got VOLUME %s, want /data", got)
		}
		if got := one(t, "EXPOSE").args; got != port {
			t.Errorf("got EXPOSE %s, want %s", got, port)
		}
		var bin, data bool
		for _, in := range find(final, "COPY") {
			f := strings.Fields(in.args)
			switch dst := f[len(f)-1]; dst {
			case "/bot":
				bin = true
			case "/data":
				// The volume is created from the image: it must belong to the bot.
				data = slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "--chown=") && !strings.HasPrefix(s, "--chown=0") })
			}
		}
		if !bin || !data {
			t.Errorf("got COPY of /bot %v, of /data with --chown to the bot %v; want both", bin, data)
		}
	})
	t.Run("static reproducible build", func(t *testing.T) {
		var run strings.Builder
		for _, in := range find(build, "RUN") {
			run.WriteString(in.args + "\n")
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "timetzdata", "-s -w", "-X main.version=${VERSION}", "./cmd/bot"} {
			if !strings.Contains(run.String(), want) {
				t.Errorf("build stage RUN lacks %q", want)
			}
		}
		if from := strings.Fields(stages[0][0].args); !slices.ContainsFunc(from, func(s string) bool { return strings.HasPrefix(s, "golang:1.26") }) {
			t.Errorf("got first FROM %q, want golang:1.26", from)
		}
	})
	t.Run("main.version exists for -X", func(t *testing.T) {
		files, _ := filepath.Glob("../cmd/bot/*.go")
		for _, f := range files {
			if regexp.MustCompile(`(?m)^var version\b`).Match(read(t, f)) {
				return
			}
		}
		t.Error("cmd/bot declares no `var version`: -X main.version would set nothing")
	})
}

func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(string(read(t, "../.dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	ignored := func(p string) bool {
		for _, pat := range patterns {
			pat = strings.TrimPrefix(pat, "**/")
			if ok, _ := filepath.Match(pat, p); ok {
				return true
			}
			if ok, _ := filepath.Match(pat, filepath.Base(p)); ok {
				return true
			}
		}
		return false
	}
	tests := []struct {
		path string
		want bool
	}{
		{"go.mod", false},
		{"go.sum", false},
		{"cmd", false},
		{"internal", false},
		{"internal/config/load.go", false},
		{".git", true},
		{"data", true},
		{"secrets", true},
		{"pvetest.test", true},
		{"bot", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := ignored(tt.path); got != tt.want {
				t.Errorf("got ignored %v, want %v", got, tt.want)
			}
		})
	}
}

// ---- docker-compose.yml and Caddyfile

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string   `yaml:"image"`
	Command     []string `yaml:"command"`
	User        string   `yaml:"user"`
	ReadOnly    bool     `yaml:"read_only"`
	Restart     string   `yaml:"restart"`
	CapDrop     []string `yaml:"cap_drop"`
	SecurityOpt []string `yaml:"security_opt"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	Secrets     []string `yaml:"secrets"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(read(t, "docker-compose.yml"), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// mount finds the short-syntax volume mounted at target: source and options.
func mount(vols []string, target string) (src, opts string, ok bool) {
	for _, v := range vols {
		f := strings.Split(v, ":")
		if len(f) >= 2 && f[1] == target {
			return f[0], strings.Join(f[2:], ":"), true
		}
	}
	return "", "", false
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	bot, ok := c.Services["bot"]
	if !ok {
		t.Fatal("no service bot")
	}
	if _, ok := c.Services["caddy"]; !ok {
		t.Fatal("no service caddy")
	}

	t.Run("bot runs non-root on a read-only root", func(t *testing.T) {
		uid, _, _ := strings.Cut(bot.User, ":")
		if uid == "" || uid == "0" || uid == "root" {
			t.Errorf("got user %q, want a non-root uid", bot.User)
		}
		if !bot.ReadOnly {
			t.Error("got read_only false, want true")
		}
		if !slices.Contains(bot.CapDrop, "ALL") {
			t.Errorf("got cap_drop %q, want ALL", bot.CapDrop)
		}
		if !slices.Contains(bot.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("got security_opt %q, want no-new-privileges:true", bot.SecurityOpt)
		}
	})
	t.Run("restart, command and healthcheck", func(t *testing.T) {
		for _, s := range []string{"bot", "caddy"} {
			if got := c.Services[s].Restart; got != "unless-stopped" {
				t.Errorf("%s: got restart %q, want unless-stopped", s, got)
			}
		}
		if got, want := bot.Command, []string{"serve", "-config", "/config/config.yaml"}; !slices.Equal(got, want) {
			t.Errorf("got command %q, want %q", got, want)
		}
		if got, want := bot.Healthcheck.Test, []string{"CMD", "/bot", "healthcheck"}; !slices.Equal(got, want) {
			t.Errorf("got healthcheck %q, want %q", got, want)
		}
	})
	t.Run("config read-only, data on a named volume", func(t *testing.T) {
		if src, opts, ok := mount(bot.Volumes, "/config"); !ok || opts != "ro" || src != "./config" {
			t.Errorf("got /config from %q (%q, found %v), want ./config read-only", src, opts, ok)
		}
		src, _, ok := mount(bot.Volumes, "/data")
		if _, named := c.Volumes[src]; !ok || !named {
			t.Errorf("got /data from %q, want a named volume declared under volumes:", src)
		}
	})
	t.Run("only caddy is published", func(t *testing.T) {
		if len(bot.Ports) > 0 {
			t.Errorf("got bot ports %q, want none (metrics and status stay private)", bot.Ports)
		}
		if ports := c.Services["caddy"].Ports; !slices.Contains(ports, "443:443") {
			t.Errorf("got caddy ports %q, want 443:443", ports)
		}
		if _, _, ok := mount(c.Services["caddy"].Volumes, "/etc/caddy/Caddyfile"); !ok {
			t.Error("caddy does not mount the Caddyfile")
		}
	})
	t.Run("secrets declared", func(t *testing.T) {
		for _, s := range bot.Secrets {
			if sec, ok := c.Secrets[s]; !ok || sec.File == "" {
				t.Errorf("bot uses secret %q, not declared with a file under secrets:", s)
			}
		}
	})
}

func TestCaddyfile(t *testing.T) {
	text := string(read(t, "Caddyfile"))
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	// Each reverse_proxy must sit in a `handle /wecom/callback*` block, and a
	// catch-all `handle` must answer 404.
	var stack []string // enclosing blocks, innermost last
	proxies, notFound := 0, false
	for _, l := range lines {
		inner := ""
		if len(stack) > 0 {
			inner = stack[len(stack)-1]
		}
		switch {
		case strings.HasSuffix(l, "{"):
			stack = append(stack, strings.TrimSpace(strings.TrimSuffix(l, "{")))
		case l == "}":
			if len(stack) == 0 {
				t.Fatal("Caddyfile: unbalanced }")
			}
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(l, "reverse_proxy"):
			proxies++
			if inner != "handle /wecom/callback*" {
				t.Errorf("got reverse_proxy in %q, want only in handle /wecom/callback*", inner)
			}
			if got, want := strings.Fields(l), []string{"reverse_proxy", "bot:" + port}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		case l == "respond 404" && inner == "handle":
			notFound = true
		}
	}
	if len(stack) != 0 {
		t.Errorf("Caddyfile: unclosed blocks %q", stack)
	}
	if proxies != 1 || !notFound {
		t.Errorf("got %d reverse_proxy, catch-all 404 %v; want 1 and true", proxies, notFound)
	}
}

// ---- kubernetes.yaml

type meta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
	node     *yaml.Node
}

type secContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	SecurityContext secContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe  probe `yaml:"livenessProbe"`
	ReadinessProbe probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type deployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               secContext  `yaml:"securityContext"`
				Containers                    []container `yaml:"containers"`
				Volumes                       []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// loadManifests decodes every document of kubernetes.yaml, keyed by kind.
func loadManifests(t *testing.T) map[string]k8sObject {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(read(t, "kubernetes.yaml")))
	objs := map[string]k8sObject{}
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("kubernetes.yaml: %v", err)
		}
		var o k8sObject
		if err := n.Decode(&o); err != nil {
			t.Fatalf("kubernetes.yaml: %v", err)
		}
		if o.Kind == "" {
			continue
		}
		if _, dup := objs[o.Kind]; dup {
			t.Fatalf("kubernetes.yaml: two %s", o.Kind)
		}
		o.node = &n
		objs[o.Kind] = o
	}
	return objs
}

func decodeAs(t *testing.T, o k8sObject, v any) {
	t.Helper()
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %v", o.Kind, err)
	}
}

func TestKubernetes(t *testing.T) {
	objs := loadManifests(t)
	for _, kind := range []string{"Secret", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"} {
		if _, ok := objs[kind]; !ok {
			t.Fatalf("no %s in kubernetes.yaml", kind)
		}
	}
	for kind, o := range objs {
		if o.Metadata.Namespace != "" {
			t.Errorf("%s: got namespace %q, want none (kubectl -n decides)", kind, o.Metadata.Namespace)
		}
	}
	var d deployment
	decodeAs(t, objs["Deployment"], &d)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	t.Run("one bot owns the data", func(t *testing.T) {
		if d.Spec.Replicas == nil {
			t.Error("replicas not set, want exactly 1")
		} else if *d.Spec.Replicas != 1 {
			t.Errorf("got replicas %d, want exactly 1", *d.Spec.Replicas)
		}
		if got := d.Spec.Strategy.Type; got != "Recreate" {
			t.Errorf("got strategy %q, want Recreate", got)
		}
	})
	t.Run("security context", func(t *testing.T) {
		ps, cs := pod.SecurityContext, c.SecurityContext
		nonRoot := (cs.RunAsNonRoot != nil && *cs.RunAsNonRoot) || (cs.RunAsNonRoot == nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot)
		if !nonRoot {
			t.Error("runAsNonRoot is not true")
		}
		uid := cs.RunAsUser
		if uid == nil {
			uid = ps.RunAsUser
		}
		if uid == nil || *uid == 0 {
			t.Error("runAsUser is unset or 0, want a non-zero uid")
		}
		if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if !slices.Contains(cs.Capabilities.Drop, "ALL") {
			t.Errorf("got capabilities.drop %q, want ALL", cs.Capabilities.Drop)
		}
		if cs.SeccompProfile.Type != "RuntimeDefault" && ps.SeccompProfile.Type != "RuntimeDefault" {
			t.Error("seccompProfile is not RuntimeDefault")
		}
		if pod.TerminationGracePeriodSeconds <= 30 {
			t.Errorf("got terminationGracePeriodSeconds %d, want over the bot's 30 s shutdown", pod.TerminationGracePeriodSeconds)
		}
	})
	t.Run("mounts", func(t *testing.T) {
		vols := map[string]volume{}
		for _, v := range pod.Volumes {
			vols[v.Name] = v
		}
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = true
			v := vols[m.Name]
			switch m.MountPath {
			case "/config":
				if v.ConfigMap == nil || v.ConfigMap.Name != objs["ConfigMap"].Metadata.Name {
					t.Errorf("/config: got volume %+v, want the ConfigMap %s", v, objs["ConfigMap"].Metadata.Name)
				}
				if !m.ReadOnly {
					t.Error("/config: not readOnly")
				}
				if m.SubPath != "" {
					t.Error("/config: subPath mounts never see ConfigMap edits: mount the directory")
				}
			case "/data":
				if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != objs["PersistentVolumeClaim"].Metadata.Name {
					t.Errorf("/data: got volume %+v, want the PVC %s", v, objs["PersistentVolumeClaim"].Metadata.Name)
				}
			case "/secrets":
				if v.Secret == nil || v.Secret.SecretName != objs["Secret"].Metadata.Name || !m.ReadOnly {
					t.Errorf("/secrets: got volume %+v readOnly %v, want the Secret %s read-only", v, m.ReadOnly, objs["Secret"].Metadata.Name)
				}
			}
		}
		for _, p := range []string{"/config", "/data", "/secrets"} {
			if !mounts[p] {
				t.Errorf("nothing mounted at %s", p)
			}
		}
	})
	t.Run("probes", func(t *testing.T) {
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		tests := []struct {
			name, path string
			p          probe
		}{
			{"liveness", "/healthz", c.LivenessProbe},
			{"readiness", "/readyz", c.ReadinessProbe},
		}
		for _, tt := range tests {
			if tt.p.HTTPGet == nil {
				t.Errorf("%s: no httpGet probe", tt.name)
				continue
			}
			if tt.p.HTTPGet.Path != tt.path {
				t.Errorf("%s: got path %q, want %q", tt.name, tt.p.HTTPGet.Path, tt.path)
			}
			got := tt.p.HTTPGet.Port
			if name, ok := got.(string); ok {
				got = ports[name]
			}
			if got != 8080 {
				t.Errorf("%s: got port %v, want 8080", tt.name, tt.p.HTTPGet.Port)
			}
		}
	})
	t.Run("command and resources", func(t *testing.T) {
		if got, want := c.Args, []string{"serve", "-config", "/config/config.yaml"}; !slices.Equal(got, want) {
			t.Errorf("got args %q, want %q", got, want)
		}
		for _, m := range []map[string]string{c.Resources.Requests, c.Resources.Limits} {
			if m["memory"] == "" {
				t.Errorf("got resources %+v, want memory requests and limits", c.Resources)
			}
		}
	})
	t.Run("selectors and service", func(t *testing.T) {
		var s struct {
			Spec struct {
				Type     string            `yaml:"type"`
				Selector map[string]string `yaml:"selector"`
				Ports    []struct {
					Port       int `yaml:"port"`
					TargetPort any `yaml:"targetPort"`
				} `yaml:"ports"`
			} `yaml:"spec"`
		}
		decodeAs(t, objs["Service"], &s)
		labels := d.Spec.Template.Metadata.Labels
		for _, sel := range []map[string]string{d.Spec.Selector.MatchLabels, s.Spec.Selector} {
			if len(sel) == 0 {
				t.Error("empty selector")
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("selector %s=%s does not match the pod labels %v", k, v, labels)
				}
			}
		}
		if s.Spec.Type != "ClusterIP" {
			t.Errorf("got Service type %q, want ClusterIP", s.Spec.Type)
		}
		if len(s.Spec.Ports) != 1 || (s.Spec.Ports[0].TargetPort != "http" && s.Spec.Ports[0].TargetPort != 8080) {
			t.Errorf("got Service ports %+v, want one to the bot's 8080", s.Spec.Ports)
		}
	})
}

// ---- embedded configs

var secretRef = regexp.MustCompile(`(?m)_file:\s*"?(/run/secrets/|/secrets/)([A-Za-z0-9_.-]+)"?\s*$`)

// parseDeployed parses a config as the bot would, after pointing its secret
// paths (under prefix) at temporary files holding values[name]. Every
// referenced secret must be in values.
func parseDeployed(t *testing.T, name, doc, prefix string, values map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	refs := secretRef.FindAllStringSubmatch(doc, -1)
	if len(refs) == 0 {
		t.Fatalf("%s: no *_file secret references", name)
	}
	for _, m := range refs {
		if m[1] != prefix {
			t.Errorf("%s: secret %s%s, want it under %s", name, m[1], m[2], prefix)
			continue
		}
		v, ok := values[m[2]]
		if !ok {
			t.Errorf("%s: refers to secret %q, which is not provided", name, m[2])
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, m[2]), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc = strings.ReplaceAll(doc, prefix, dir+"/")
	cfg, err := config.Parse([]byte(doc), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatalf("%s: config.Parse: %v", name, err)
	}
	return cfg
}

func TestEmbeddedConfigs(t *testing.T) {
	compose := loadCompose(t)
	composeSecrets := map[string]string{}
	for _, s := range compose.Services["bot"].Secrets {
		composeSecrets[s] = "fake-" + s
	}
	composeSecrets["wecom_encoding_aes_key"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

	objs := loadManifests(t)
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	decodeAs(t, objs["ConfigMap"], &cm)
	var sec struct {
		StringData map[string]string `yaml:"stringData"`
	}
	decodeAs(t, objs["Secret"], &sec)

	tests := []struct {
		name, doc, prefix string
		secrets           map[string]string
	}{
		{"deploy/config/config.yaml", string(read(t, "config/config.yaml")), "/run/secrets/", composeSecrets},
		// The Secret's own fake values: its AES key must be a valid one too.
		{"kubernetes.yaml ConfigMap", cm.Data["config.yaml"], "/secrets/", sec.StringData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseDeployed(t, tt.name, tt.doc, tt.prefix, tt.secrets)
			host, p, err := net.SplitHostPort(cfg.Server.Listen)
			if err != nil || p != port || net.ParseIP(host) == nil || net.ParseIP(host).IsLoopback() {
				t.Errorf("got server.listen %q, want 0.0.0.0:%s (reachable from outside the container)", cfg.Server.Listen, port)
			}
			if cfg.DataDir != "/data" {
				t.Errorf("got data_dir %q, want /data", cfg.DataDir)
			}
			if cfg.Server.CallbackPath != "/wecom/callback" {
				t.Errorf("got callback_path %q, want /wecom/callback (the Caddyfile forwards only that)", cfg.Server.CallbackPath)
			}
		})
	}
}

// ---- systemd unit

const unitFile = "wecom-home-ops.service"

// parseUnit gives each "Section.Key" its values in order.
func parseUnit(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	section := ""
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = strings.Trim(l, "[]")
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", unitFile, i+1, l)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

func TestSystemdUnit(t *testing.T) {
	keys := parseUnit(t, read(t, unitFile))
	tests := []struct {
		key, want string
	}{
		{"Service.ExecStart", "/usr/local/bin/bot serve -config /etc/wecom-home-ops/config.yaml"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.Restart", "on-failure"},
		{"Service.DynamicUser", "yes"},
		{"Service.StateDirectory", "wecom-home-ops"},
		{"Service.ConfigurationDirectory", "wecom-home-ops"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.PrivateDevices", "yes"},
		{"Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.AmbientCapabilities", ""},
		{"Service.SystemCallFilter", "@system-service"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Service.LockPersonality", "yes"},
		{"Service.RestrictSUIDSGID", "yes"},
		{"Service.ProtectKernelTunables", "yes"},
		{"Service.UMask", "0077"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := keys[tt.key]
			if !ok || !slices.Contains(got, tt.want) {
				t.Errorf("got %s=%q, want %q", tt.key, got, tt.want)
			}
		})
	}
	t.Run("credentials match the documented names", func(t *testing.T) {
		var names []string
		for _, v := range keys["Service.LoadCredential"] {
			name, path, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(path, "/etc/wecom-home-ops/secrets/") {
				t.Errorf("got credential %s from %q, want it under /etc/wecom-home-ops/secrets/", name, path)
			}
			names = append(names, name)
		}
		sort.Strings(names)
		if want := []string{"pve_token_secret", "wecom_encoding_aes_key", "wecom_secret", "wecom_token"}; !slices.Equal(names, want) {
			t.Errorf("got credentials %q, want %q", names, want)
		}
	})
	t.Run("TimeoutStopSec over the 30 s shutdown", func(t *testing.T) {
		v := keys["Service.TimeoutStopSec"]
		if len(v) != 1 {
			t.Fatalf("got TimeoutStopSec %q, want one value", v)
		}
		if d, err := time.ParseDuration(v[0]); err != nil || d <= 30*time.Second || d > 2*time.Minute {
			t.Errorf("got TimeoutStopSec %s, want a bit over 30s", v[0])
		}
	})
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on a copy of the unit
// whose ExecStart is /bin/true (the bot is not installed here). verify exits 0
// even for unknown keys or bad values, so any line naming the unit fails.
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found: unit not verified")
	}
	unit := string(read(t, unitFile))
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/bot ", "ExecStart=/bin/true ", 1)
	for _, b := range []string{"/bin/true", "/bin/kill"} {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("%s not found: unit not verified", b)
		}
	}
	verify := func(t *testing.T, text string) (complaints []string, out string) {
		t.Helper()
		dir := t.TempDir()
		path := filepath.Join(dir, unitFile)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "verify", "--man=no", path)
		cmd.Dir = dir
		b, _ := cmd.CombinedOutput() // exit status judged by the lines below
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, unitFile) {
				complaints = append(complaints, l)
			}
		}
		return complaints, string(b)
	}

	t.Run("a broken copy is caught", func(t *testing.T) {
		broken := strings.Replace(unit, "UMask=0077", "Umask=0077", 1)
		if got, out := verify(t, broken); len(got) == 0 {
			t.Fatalf("systemd-analyze verify did not flag an unknown key; output:\n%s", out)
		}
	})
	t.Run("the unit", func(t *testing.T) {
		if got, out := verify(t, unit); len(got) > 0 {
			t.Errorf("systemd-analyze verify complains:\n%s\nfull output:\n%s", strings.Join(got, "\n"), out)
		}
	})
}

// TestSetupDoc keeps docs/setup.md saying what the deployment files and the
// PVE least-privilege setup need.
func TestSetupDoc(t *testing.T) {
	doc := string(read(t, "../docs/setup.md"))
	for _, want := range []string{
		`pveum role add ChatBot --privs "VM.Audit VM.PowerMgmt Sys.Audit Datastore.Audit Pool.Audit"`,
		`pveum user add chatbot@pve`,
		`pveum acl modify / --users chatbot@pve --roles ChatBot`,
		`pveum user token add chatbot@pve bot --privsep 1`,
		`pveum acl modify / --tokens 'chatbot@pve!bot' --roles ChatBot`,
		`/pool/`,
		`/etc/pve/pve-root-ca.pem`,
		`pvenode cert info`,
		`可见范围`, `域名主体校验`, `企业可信IP`, `api_base_url`, `EncodingAESKey`,
		`check -config`, `--online`, `bot serve`, `bot menu sync`,
		`${CREDENTIALS_DIRECTORY}/pve_token_secret`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/setup.md lacks %q", want)
		}
	}
	// The three steps in the order the issue asks for.
	i, j, k := strings.Index(doc, "--online"), strings.Index(doc, "bot serve"), strings.Index(doc, "bot menu sync")
	if !(i < j && j < k) {
		t.Errorf("got check --online at %d, serve at %d, menu sync at %d; want them in that order", i, j, k)
	}
}

// adminPort is the admin listener's port in every deployment (/status, /metrics, the
// console): reachable by Prometheus, published by nothing.
const adminPort = "8081"

// TestAdminListenerNotPublished: every deployment runs an admin listener Prometheus can
// scrape, and no deploy file publishes it: no compose port, no Service or Ingress, no
// Caddy route.
func TestAdminListenerNotPublished(t *testing.T) {
	compose := loadCompose(t)
	for name, s := range compose.Services {
		for _, p := range s.Ports {
			if strings.Contains(p, adminPort) {
				t.Errorf("compose service %s publishes %q: the admin listener must stay private", name, p)
			}
		}
	}
	if len(compose.Services["bot"].Ports) > 0 {
		t.Errorf("compose bot publishes %q, want no ports at all", compose.Services["bot"].Ports)
	}
	for _, l := range strings.Split(string(read(t, "Caddyfile")), "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") && strings.Contains(l, adminPort) {
			t.Errorf("the Caddyfile routes to the admin port: %q", l)
		}
	}

	objs := loadManifests(t)
	if _, ok := objs["Ingress"]; ok {
		t.Error("kubernetes.yaml has an Ingress: route only the callback, in your own Ingress")
	}
	var svc struct {
		Spec struct {
			Ports []struct {
				Port       int `yaml:"port"`
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	decodeAs(t, objs["Service"], &svc)
	for _, p := range svc.Spec.Ports {
		if fmt.Sprint(p.Port) == adminPort || fmt.Sprint(p.TargetPort) == adminPort || p.TargetPort == "admin" {
			t.Errorf("the Service carries the admin port: %+v", p)
		}
	}
	var d deployment
	decodeAs(t, objs["Deployment"], &d)
	if got := d.Spec.Template.Metadata.Annotations["prometheus.io/port"]; got != adminPort {
		t.Errorf("pod annotation prometheus.io/port = %q, want %s (Prometheus scrapes the pod, not a Service)", got, adminPort)
	}
	if _, ok := objs["NetworkPolicy"]; !ok {
		t.Error("no NetworkPolicy: every pod of the cluster would reach /status and /metrics")
	}

	// The containers' configs: an admin listener on every interface of the container
	// (Prometheus on the compose network or the pod network reaches it), on adminPort.
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	decodeAs(t, objs["ConfigMap"], &cm)
	for name, doc := range map[string]string{"deploy/config/config.yaml": string(read(t, "config/config.yaml")), "kubernetes.yaml ConfigMap": cm.Data["config.yaml"]} {
		var c struct {
			Server struct {
				AdminListen *string `yaml:"admin_listen"`
			} `yaml:"server"`
		}
		if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Server.AdminListen == nil {
			t.Errorf("%s: no server.admin_listen: its loopback default is out of Prometheus' reach in a container", name)
			continue
		}
		if _, p, err := net.SplitHostPort(*c.Server.AdminListen); err != nil || p != adminPort {
			t.Errorf("%s: server.admin_listen %q, want port %s", name, *c.Server.AdminListen, adminPort)
		}
	}
}
