package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// memSample is the bot's RSS and goroutines at one moment of a soak.
type memSample struct {
	At         time.Duration // since the clock started
	RSS        int64
	Goroutines float64
	FDs        int   // open files of the bot
	StoreBytes int64 // bot.db and its WAL
}

// report is everything one run measured.
type report struct {
	Opts      options
	Prefilled int // callbacks encrypted before the clock started

	Sent, OK, Transport int
	Statuses            map[int]int
	Elapsed             time.Duration // first callback sent -> last one acknowledged
	AckP50, AckP99      time.Duration
	AckMax              time.Duration
	Late                int
	MaxLag              time.Duration

	Replies, Dups, Unknown, Missing int
	E2EP50, E2EP99, E2EMax          time.Duration

	CPU                  time.Duration // bot CPU over the run (warm-up excluded)
	StartRSS             int64         // right after /healthz answered
	IdleRSS, RSS, PeakRS int64         // idle: after the warm-up, before the clock
	IdleAnon             int64         // of IdleRSS, anonymous memory (heap, stacks); the rest is the binary's pages
	GoroutinesIdle       float64
	GoroutinesAfter      float64
	Conns                int64 // TCP connections the fake WeCom accepted during the run
	Pushes               int   // messages to no user (group chat, robot) during the run
	IdleAfterRSS         int64 // -idle-after after start, before any callback
	IdleAfterAnon        int64
	// FleetListingsMin and Max are the GET /cluster/resources of the least and the most
	// asked -fleet cluster during the run.
	FleetListingsMin, FleetListingsMax int
	Samples                            []memSample

	LogErrors, LogWarns int
	SecretInLog         bool
	BotExit             string
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func userIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%04d", i)
	}
	return out
}

// botConfig joins the bot to the fakes: every user a viewer (help and vm list), both
// rate limits off, the PVE certificate pinned; the secrets are apptest's made-up ones.
// /metrics is on adminAddr.
func botConfig(env *apptest.Env, addr, adminAddr, dataDir string, users []string, replyMode string, push bool) string {
	extra := ""
	if push {
		extra = pushConfig
	}
	return env.Config(apptest.ConfigOptions{Listen: addr, AdminListen: adminAddr, DataDir: dataDir, ReplyMode: replyMode,
		RateLimit: "0", PerMember: "0", Users: users, Extra: extra})
}

// pushConfig (-push) turns on every alert rule, checked each minute, and a summary report
// each minute, to a group chat and a group robot: none of it goes to a user, so it is
// never taken for a reply.
const pushConfig = `timezone: Asia/Shanghai
targets:
  ops-group:
    appchat: opsroom
    appchat_members: [user0000, user0001]
  robot:
    webhook_key: "` + apptest.RobotKey + `"
schedules:
  - name: minutely
    cron: "* * * * *"
    report: summary
    to: [robot, ops-group]
alerts:
  interval: 1m
  to: [ops-group]
`

// botProc is the bot running as a child process.
type botProc struct {
	cmd  *exec.Cmd
	log  *os.File
	base string
	// admin is the admin listener's base URL (/metrics).
	admin string
	done  chan struct{}
	err   error
}

func startBot(ctx context.Context, argv []string, env []string, logPath, addr, adminAddr string) (*botProc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("loadgen: start bot: %w", err)
	}
	b := &botProc{cmd: cmd, log: lf, base: "http://" + addr, admin: "http://" + adminAddr, done: make(chan struct{})}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := hc.Get(b.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("loadgen: the bot exited at start: %v (log: %s)", b.err, logPath)
		case <-ctx.Done():
			b.stop()
			return nil, ctx.Err()
		case <-deadline.C:
			b.stop()
			return nil, fmt.Errorf("loadgen: the bot did not answer /healthz in 30s (log: %s)", logPath)
		case <-tick.C:
		}
	}
}

func (b *botProc) pid() int { return b.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 30 s for a graceful exit, then kills the bot.
func (b *botProc) stop() string {
	defer b.log.Close()
	select {
	case <-b.done:
		return fmt.Sprintf("exited early: %v", b.err)
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Sprintf("SIGTERM: %v", b.err)
		}
		return "SIGTERM: exit 0"
	case <-t.C:
		_ = b.cmd.Process.Kill()
		<-b.done
		return "did not stop in 30s after SIGTERM: killed"
	}
}

// buildBot builds ./cmd/bot of this module into dir.
func buildBot(ctx context.Context, dir string, logw io.Writer) (string, error) {
	out := filepath.Join(dir, "bot")
	// The flags of the Dockerfile: the binary measured is the one that ships.
	args := []string{"build", "-trimpath", "-tags", "timetzdata", "-ldflags", "-s -w", "-o", out, "github.com/wecom-home-ops/wecom-home-ops/cmd/bot"}
	fmt.Fprintln(logw, "loadgen: CGO_ENABLED=0 go", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("loadgen: build the bot (run from inside the module, or give -bot): %w", err)
	}
	return out, nil
}

// run is one whole measurement.
func run(ctx context.Context, o options, logw io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "loadgen-*")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintln(logw, "loadgen: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	users := userIDs(o.users)
	m := newMatcher(users)
	wc := wecomtest.NewServer(nil, wecomtest.WithCorp(wecomtest.FakeCorpID, apptest.CorpSecret, wecomtest.FakeAgentID),
		wecomtest.WithSentHook(m.sent), wecomtest.WithoutHistory(),
		wecomtest.WithoutMemberLimit()) // the bot runs with rate limits off
	defer wc.Close()
	pv := pvetest.New(pvetest.Options{TLS: true, ErrorFormat: pvetest.Modern, ClusterName: "home"})
	defer pv.Close()
	pvetest.SeedHomeLab(pv)
	wc.SetLatency(o.wecomLatency)
	pv.SetLatency(o.pveLatency)

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := botConfig(&apptest.Env{WeCom: wc, PVE: pv}, addr, adminAddr, filepath.Join(dir, "data"), users, o.replyMode, o.push)
	fleet := startFleet(o.fleet, o.fleetGuests, o.pveLatency)
	defer func() {
		for _, s := range fleet {
			s.Close()
		}
	}()
	if len(fleet) > 0 {
		if cfg, err = withFleet(cfg, fleet, apptest.PVETokenSecret); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	argv := o.botCmd
	if argv == nil {
		bin := o.bot
		if bin == "" {
			if bin, err = buildBot(ctx, dir, logw); err != nil {
				return nil, err
			}
		}
		argv = []string{bin}
	}
	argv = append(slices.Clone(argv), "serve", "-config", cfgPath, "-watch=false", "-log-level", o.logLevel)
	logPath := filepath.Join(dir, "bot.log")
	bot, err := startBot(ctx, argv, o.env, logPath, addr, adminAddr)
	if err != nil {
		return nil, err
	}
	rep := &report{Opts: o}
	if mem, err := procMem(bot.pid()); err == nil {
		rep.StartRSS = mem.RSS
	}
	if o.idleAfter > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.idleAfter):
		}
		if mem, err := procMem(bot.pid()); err == nil {
			rep.IdleAfterRSS, rep.IdleAfterAnon = mem.RSS, mem.Anon
		}
	}
	defer func() {
		if rep.BotExit == "" {
			rep.BotExit = bot.stop()
		}
	}()

	sender := &wecomtest.Sender{URL: bot.base + "/wecom/callback", Token: apptest.CallbackToken, EncodingAESKey: apptest.AESKey,
		CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID}
	status := "状态 homeassistant"
	if len(fleet) > 0 {
		status = fmt.Sprintf("状态 c%02d-g%03d", len(fleet)-1, o.fleetGuests-1) // the last cluster's last guest
	}
	help, list, stat := utterance{"help", 1}, utterance{"vm list", o.parts}, utterance{status, 1}
	says := map[string][]utterance{"help": {help}, "list": {list}, "status": {stat}, "mixed": {help, list, stat}}[o.mix]
	prod := newProducer(sender, users, says...)
	tr := &http.Transport{MaxIdleConns: o.concurrency + 16, MaxIdleConnsPerHost: o.concurrency + 16, DisableCompression: true}
	defer tr.CloseIdleConnections()
	l := &loader{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, m: m}

	// Warm-up: token, connections, first allocations. Not counted.
	if o.warmup > 0 {
		wsrc := make(chan callback, o.warmup)
		prod.run(ctx, 0, o.warmup, wsrc)
		l.fullSpeed(ctx, wsrc, min(o.warmup, 16), time.Time{})
		if !m.waitAnswered(ctx, o.drain) {
			return nil, fmt.Errorf("loadgen: warm-up callbacks were not all answered in %s (log: %s)", o.drain, logPath)
		}
		if r, d, _, _ := m.counts(); d > 0 || r != m.expectedMessages() {
			return nil, fmt.Errorf("loadgen: warm-up: %d callbacks got %d messages (%d duplicates): %d were expected (-parts %d for each vm list)", o.warmup, r, d, m.expectedMessages(), o.parts)
		}
		m.reset()
	}
	pv.ResetRequests()
	for _, s := range fleet {
		s.ResetRequests()
	}

	total := o.n
	var deadline time.Time
	if total == 0 {
		if o.rate > 0 {
			total = int(min(int64(o.rate)*int64(o.duration/time.Millisecond)/1000, maxMessages))
		} else {
			total = maxMessages
		}
	}
	src := make(chan callback, prefillCount(total, o.rate))
	pctx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	go prod.run(pctx, o.warmup, total, src)
	fill := time.NewTicker(20 * time.Millisecond)
	for len(src) < cap(src) {
		select {
		case <-ctx.Done():
			fill.Stop()
			return nil, ctx.Err()
		case <-fill.C:
		}
	}
	fill.Stop()
	rep.Prefilled = len(src)
	fmt.Fprintf(logw, "loadgen: %d callbacks encrypted in advance; sending\n", rep.Prefilled)

	hc := &http.Client{Timeout: 5 * time.Second}
	mem, err := procMem(bot.pid())
	if err != nil {
		return nil, err
	}
	rep.IdleRSS, rep.IdleAnon = mem.RSS, mem.Anon
	tr.CloseIdleConnections()
	rep.GoroutinesIdle, _ = scrapeGauge(ctx, hc, bot.admin, "go_goroutines")
	connsBefore := wc.ConnsAccepted()
	var perf *exec.Cmd
	if o.perf != "" {
		perf = exec.Command("perf", "record", "-F", "499", "-g", "-o", o.perf, "-p", fmt.Sprint(bot.pid()))
		perf.Stdout, perf.Stderr = logw, logw
		if err := perf.Start(); err != nil {
			return nil, fmt.Errorf("loadgen: perf: %w", err)
		}
	}
	cpu0, err := procCPU(bot.pid())
	if err != nil {
		return nil, err
	}

	sampleDone := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	clock := time.Now()
	go func() {
		defer close(sampleDone)
		if o.sample <= 0 {
			return
		}
		t := time.NewTicker(o.sample)
		defer t.Stop()
		take := func() {
			ms, err := procMem(bot.pid())
			g, gerr := scrapeGauge(sctx, hc, bot.admin, "go_goroutines")
			if err != nil || gerr != nil {
				return
			}
			s := memSample{At: time.Since(clock).Round(time.Second), RSS: ms.RSS, Goroutines: g,
				FDs: openFiles(bot.pid()), StoreBytes: storeSize(filepath.Join(dir, "data"))}
			rep.Samples = append(rep.Samples, s)
			r, _, _, out := m.counts()
			fmt.Fprintf(logw, "loadgen: %6s  rss %5.1f MB  goroutines %4.0f  fds %d  store %.1f MB  replies %d  unanswered %d  pushes %d\n",
				s.At, mb(s.RSS), s.Goroutines, s.FDs, mb(s.StoreBytes), r, out, m.pushCount())
			pv.ResetRequests() // the fake keeps every request: keep it small
		}
		take()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				take()
			}
		}
	}()

	var st *sendStats
	if o.rate > 0 {
		st = l.fixedRate(ctx, src, total, o.rate, o.concurrency)
	} else {
		if o.n == 0 {
			deadline = time.Now().Add(o.duration)
		}
		st = l.fullSpeed(ctx, src, o.concurrency, deadline)
	}
	stopProd()
	answered := m.waitAnswered(ctx, o.drain)
	stopSampling()
	<-sampleDone
	time.Sleep(200 * time.Millisecond) // a late duplicate would show now
	cpu1, err := procCPU(bot.pid())
	if err != nil {
		return nil, err
	}
	if perf != nil {
		_ = perf.Process.Signal(os.Interrupt)
		_ = perf.Wait()
	}
	mem, err = procMem(bot.pid())
	if err != nil {
		return nil, err
	}
	rep.RSS, rep.PeakRS = mem.RSS, mem.HWM
	// The loadgen's idle keep-alive connections each hold a goroutine of the bot's server:
	// close them first, so that the count shows what the bot itself keeps.
	tr.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	rep.GoroutinesAfter, _ = scrapeGauge(ctx, hc, bot.admin, "go_goroutines")
	rep.Conns = wc.ConnsAccepted() - connsBefore
	rep.FleetListingsMin, rep.FleetListingsMax = fleetListings(fleet)
	rep.CPU = cpu1 - cpu0

	rep.Sent, rep.OK, rep.Transport, rep.Statuses = st.sent, st.ok, st.transport, st.statuses
	rep.Elapsed = st.end.Sub(st.start)
	rep.Late, rep.MaxLag = st.late, st.maxLag
	slices.Sort(st.ack)
	rep.AckP50, rep.AckP99 = percentile(st.ack, 0.5), percentile(st.ack, 0.99)
	if len(st.ack) > 0 {
		rep.AckMax = st.ack[len(st.ack)-1]
	}
	e2e := m.latencies()
	slices.Sort(e2e)
	rep.E2EP50, rep.E2EP99 = percentile(e2e, 0.5), percentile(e2e, 0.99)
	if len(e2e) > 0 {
		rep.E2EMax = e2e[len(e2e)-1]
	}
	rep.Replies, rep.Dups, rep.Unknown, rep.Missing = m.counts()
	rep.Pushes = m.pushCount()
	if !answered && rep.Missing == 0 {
		rep.Missing = -1 // cannot happen; keeps the report honest if it does
	}

	rep.BotExit = bot.stop()
	rep.LogErrors, rep.LogWarns, rep.SecretInLog = scanLog(logPath)
	return rep, nil
}

// scanLog counts error and warn lines of the bot's JSON log and looks for the run's
// secrets and for any access token the fake issued ("fake-token-...").
func scanLog(path string) (errs, warns int, secret bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	needles := [][]byte{[]byte("fake-token-")}
	for _, secret := range apptest.Secrets() {
		needles = append(needles, []byte(secret))
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.Contains(line, []byte(`"level":"error"`)):
			errs++
		case bytes.Contains(line, []byte(`"level":"warn"`)):
			warns++
		}
		for _, n := range needles {
			if bytes.Contains(line, n) {
				secret = true
			}
		}
	}
	return errs, warns, secret
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// print writes the report for a person, then one markdown table row for docs/benchmarks.md.
func (r *report) print(w io.Writer) {
	o := r.Opts
	rate := "full speed"
	if o.rate > 0 {
		rate = fmt.Sprintf("%d/s", o.rate)
	}
	acks := 0.0
	if r.Elapsed > 0 {
		acks = float64(r.OK) / r.Elapsed.Seconds()
	}
	cpuPer := time.Duration(0)
	if r.OK > 0 {
		cpuPer = r.CPU / time.Duration(r.OK)
	}
	var errs []string
	for k, v := range r.Statuses {
		errs = append(errs, fmt.Sprintf("HTTP %d: %d", k, v))
	}
	if r.Transport > 0 {
		errs = append(errs, fmt.Sprintf("transport: %d", r.Transport))
	}
	slices.Sort(errs)
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	fmt.Fprintf(w, "mix %s, %d users, %s, concurrency %d, wecom latency %s, pve latency %s\n",
		o.mix, o.users, rate, o.concurrency, o.wecomLatency, o.pveLatency)
	fmt.Fprintf(w, "callbacks sent         %d in %s (%d encrypted in advance)\n", r.Sent, r.Elapsed.Round(time.Millisecond), r.Prefilled)
	fmt.Fprintf(w, "acknowledged (200)     %d, %.0f/s\n", r.OK, acks)
	fmt.Fprintf(w, "ack latency            p50 %s  p99 %s  max %s\n", ms(r.AckP50), ms(r.AckP99), ms(r.AckMax))
	if o.rate > 0 {
		fmt.Fprintf(w, "pacing                 %d callbacks left > 5 ms late, max %s\n", r.Late, ms(r.MaxLag))
	}
	fmt.Fprintf(w, "errors                 %s\n", strings.Join(errs, ", "))
	fmt.Fprintf(w, "replies (messages)     %d, missing %d, duplicates %d, unknown recipient %d\n", r.Replies, r.Missing, r.Dups, r.Unknown)
	fmt.Fprintf(w, "end-to-end latency     p50 %s  p99 %s  max %s\n", ms(r.E2EP50), ms(r.E2EP99), ms(r.E2EMax))
	fmt.Fprintf(w, "bot CPU                %s, %.3f ms per callback\n", r.CPU, float64(cpuPer)/float64(time.Millisecond))
	fmt.Fprintf(w, "bot RSS                started %.1f MB, idle after warm-up %.1f MB (anon %.1f + file %.1f), after %.1f MB, peak (VmHWM) %.1f MB\n",
		mb(r.StartRSS), mb(r.IdleRSS), mb(r.IdleAnon), mb(r.IdleRSS-r.IdleAnon), mb(r.RSS), mb(r.PeakRS))
	if o.idleAfter > 0 {
		fmt.Fprintf(w, "bot RSS idle           %s after start %.1f MB (anon %.1f + file %.1f)\n",
			o.idleAfter, mb(r.IdleAfterRSS), mb(r.IdleAfterAnon), mb(r.IdleAfterRSS-r.IdleAfterAnon))
	}
	fmt.Fprintf(w, "bot goroutines         idle %.0f, after the run %.0f\n", r.GoroutinesIdle, r.GoroutinesAfter)
	if o.fleet > 0 {
		fmt.Fprintf(w, "fleet                  %d clusters x %d guests; GET /cluster/resources per cluster during the run: %d..%d\n",
			o.fleet, o.fleetGuests, r.FleetListingsMin, r.FleetListingsMax)
	}
	fmt.Fprintf(w, "wecom connections      %d accepted during the run\n", r.Conns)
	if o.push {
		fmt.Fprintf(w, "pushes                 %d messages to the group chat and the robot during the run\n", r.Pushes)
	}
	if len(r.Samples) > 1 {
		f, l := r.Samples[0], r.Samples[len(r.Samples)-1]
		fmt.Fprintf(w, "soak                   first %s rss %.1f MB goroutines %.0f fds %d store %.1f MB; last %s rss %.1f MB goroutines %.0f fds %d store %.1f MB\n",
			f.At, mb(f.RSS), f.Goroutines, f.FDs, mb(f.StoreBytes), l.At, mb(l.RSS), l.Goroutines, l.FDs, mb(l.StoreBytes))
	}
	fmt.Fprintf(w, "bot log                %d error, %d warn lines; secrets in log: %v\n", r.LogErrors, r.LogWarns, r.SecretInLog)
	fmt.Fprintf(w, "bot exit               %s\n", r.BotExit)
	fmt.Fprintf(w, "| %s | %s | %.0f | %.2f / %.2f / %.2f | %.1f / %.1f | %s | %.3f | %.1f / %.1f | %.0f | %d |\n",
		o.mix, rate, acks, msf(r.AckP50), msf(r.AckP99), msf(r.AckMax), msf(r.E2EP50), msf(r.E2EP99),
		strings.Join(errs, ", ")+fmt.Sprintf("; missing %d, dup %d", r.Missing, r.Dups),
		float64(cpuPer)/float64(time.Millisecond), mb(r.IdleRSS), mb(r.PeakRS), r.GoroutinesAfter, r.Conns)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
