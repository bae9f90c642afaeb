package pve

import (
	"context"
	"slices"
	"strings"
	"time"
)

// AllBackups lists every backup the token can see, newest first: each storage whose content
// includes backups once (a shared one from the first node that lists it). See Backups for why
// an empty list may mean missing privileges rather than no backups.
func (f *Fleet) AllBackups(ctx context.Context) ([]BackupVolume, map[string]error) {
	stor, errs := f.Storage(ctx)
	if errs == nil {
		errs = map[string]error{}
	}
	seen := map[string]bool{}
	var out []BackupVolume
	for _, s := range stor {
		if !slices.Contains(strings.Split(s.Content, ","), "backup") || s.Status != "" && s.Status != "available" {
			continue
		}
		key := s.Cluster + "/" + s.Name
		if !s.Shared {
			key += "@" + s.Node
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		list, err := f.Backups(ctx, s.Cluster, s.Node, s.Name, 0)
		if err != nil {
			if _, had := errs[s.Cluster]; !had {
				errs[s.Cluster] = err
			}
			continue
		}
		out = append(out, list...)
	}
	slices.SortStableFunc(out, func(a, b BackupVolume) int { return b.Time.Compare(a.Time) })
	if len(errs) == 0 {
		errs = nil
	}
	return out, errs
}

// BackupRun is one finished vzdump task: a job's run on one node, or a single backup.
type BackupRun struct {
	Cluster, Node, UPID, User string
	Start, End                time.Time
	OK                        bool
	Exit                      string
	Failed                    []GuestBackupResult // from the task log, failed runs only
	JobError                  string
}

// BackupRuns lists the vzdump tasks that ended at or after since, newest first, reading the
// log of each failed one for the guests that failed (the exit status says only "job errors").
// Scheduled jobs run as root@pam: the token sees them with Sys.Audit on the node.
func (f *Fleet) BackupRuns(ctx context.Context, since time.Time) ([]BackupRun, map[string]error) {
	tasks, errs := f.Tasks(ctx, 200)
	var out []BackupRun
	for _, t := range tasks {
		if t.Type != "vzdump" || t.End.IsZero() || t.End.Before(since) {
			continue
		}
		r := BackupRun{Cluster: t.Cluster, Node: t.Node, UPID: t.UPID, User: t.User, Start: t.Start, End: t.End, Exit: t.Status,
			OK: t.Status == "OK" || strings.HasPrefix(t.Status, "WARNINGS")}
		if !r.OK {
			if lines, err := f.TaskLog(ctx, t.Cluster, t.Node, t.UPID, 5000); err == nil {
				guests, jobErr := ParseVzdumpLog(lines)
				r.JobError = jobErr
				for _, g := range guests {
					if !g.OK && g.Reason != "" {
						r.Failed = append(r.Failed, g)
					}
				}
			}
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b BackupRun) int { return b.End.Compare(a.End) })
	return out, errs
}
