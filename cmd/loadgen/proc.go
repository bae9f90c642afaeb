package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux the bot runs on (getconf CLK_TCK).
const clockTicks = 100

// procCPU is the CPU time (user + system) the process used so far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: read stat: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat line. The
// command name (field 2) is in parentheses and may hold spaces, so fields are counted
// from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("loadgen: stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("loadgen: stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("loadgen: stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// memStatus is what /proc/<pid>/status says of the process's memory, in bytes.
type memStatus struct {
	RSS, HWM int64 // VmRSS now, VmHWM (peak RSS) since start
	Anon     int64 // RssAnon: the part of RSS that is not file pages (the binary)
}

func procMem(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, fmt.Errorf("loadgen: read status: %w", err)
	}
	return parseStatus(b)
}

// parseStatus reads VmRSS, VmHWM and RssAnon ("VmRSS:	   12345 kB").
func parseStatus(b []byte) (memStatus, error) {
	var m memStatus
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM" && k != "RssAnon") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("loadgen: status: odd %s line %q", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("loadgen: status: %s: %w", k, err)
		}
		switch k {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		default:
			m.Anon = n << 10
		}
		found++
	}
	if found != 3 {
		return m, errors.New("loadgen: status: VmRSS, VmHWM or RssAnon missing")
	}
	return m, nil
}

// scrapeGauge fetches the bot's /metrics and returns the value of an unlabelled series.
func scrapeGauge(ctx context.Context, hc *http.Client, base, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("loadgen: scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("loadgen: scrape: status %d", resp.StatusCode)
	}
	return findSeries(resp.Body, name)
}

// findSeries finds "name value" in the Prometheus text format.
func findSeries(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("loadgen: metrics: %s: %w", name, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("loadgen: metrics: %w", err)
	}
	return 0, fmt.Errorf("loadgen: metrics: no series %s", name)
}

// openFiles is how many file descriptors pid holds (-1 when it cannot be read).
func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// storeSize is the size of the bot's database files in dataDir (bot.db, -wal, -shm).
func storeSize(dataDir string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(dataDir, "bot.db"+suffix)); err == nil {
			n += fi.Size()
		}
	}
	return n
}
