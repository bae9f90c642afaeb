package pve

import "context"

// Fleet routing of the snapshot, backup, node power and migration calls: each goes to the
// client of the guest's (or the named) cluster, like Do.

func (f *Fleet) clientNamed(cluster, op string) (*Client, error) {
	return f.clientFor(Guest{Cluster: cluster}, op)
}

// Snapshots lists g's snapshots (see Client.Snapshots).
func (f *Fleet) Snapshots(ctx context.Context, g Guest) (Snapshots, error) {
	c, err := f.clientFor(g, "snapshots")
	if err != nil {
		return Snapshots{}, err
	}
	return c.Snapshots(ctx, g)
}

// TakeSnapshot sends one snapshot request (see Client.TakeSnapshot).
func (f *Fleet) TakeSnapshot(ctx context.Context, g Guest, name, description string, vmstate bool) (string, error) {
	c, err := f.clientFor(g, "snapshot")
	if err != nil {
		return "", err
	}
	return c.TakeSnapshot(ctx, g, name, description, vmstate)
}

// Rollback sends one rollback request (see Client.Rollback).
func (f *Fleet) Rollback(ctx context.Context, g Guest, name string, start bool) (string, error) {
	c, err := f.clientFor(g, "rollback")
	if err != nil {
		return "", err
	}
	return c.Rollback(ctx, g, name, start)
}

// DeleteSnapshot sends one delete request (see Client.DeleteSnapshot).
func (f *Fleet) DeleteSnapshot(ctx context.Context, g Guest, name string) (string, error) {
	c, err := f.clientFor(g, "delete snapshot")
	if err != nil {
		return "", err
	}
	return c.DeleteSnapshot(ctx, g, name)
}

// GuestConfig reads g's config (see Client.GuestConfig).
func (f *Fleet) GuestConfig(ctx context.Context, g Guest) (GuestConfig, error) {
	c, err := f.clientFor(g, "config")
	if err != nil {
		return GuestConfig{}, err
	}
	return c.GuestConfig(ctx, g)
}

// StartBackup sends one vzdump request for g (see Client.StartBackup).
func (f *Fleet) StartBackup(ctx context.Context, g Guest, storage string, mode BackupMode) (string, error) {
	c, err := f.clientFor(g, "backup")
	if err != nil {
		return "", err
	}
	return c.StartBackup(ctx, g, storage, mode)
}

// Backups lists the backups on one storage of a cluster (see Client.Backups).
func (f *Fleet) Backups(ctx context.Context, cluster, node, storage string, vmid int) ([]BackupVolume, error) {
	c, err := f.clientNamed(cluster, "list backups")
	if err != nil {
		return nil, err
	}
	return c.Backups(ctx, node, storage, vmid)
}

// TaskLog reads a task's log on a cluster (see Client.TaskLog).
func (f *Fleet) TaskLog(ctx context.Context, cluster, node, upid string, limit int) ([]string, error) {
	c, err := f.clientNamed(cluster, "task log")
	if err != nil {
		return nil, err
	}
	return c.TaskLog(ctx, node, upid, limit)
}

// BackupJobs lists the backup jobs of every cluster.
func (f *Fleet) BackupJobs(ctx context.Context) (map[string][]BackupJob, map[string]error) {
	return perCluster(ctx, f, (*Client).BackupJobs)
}

// NotBackedUp lists the guests no job covers, in every cluster.
func (f *Fleet) NotBackedUp(ctx context.Context) ([]Guest, map[string]error) {
	return gather(ctx, f, (*Client).NotBackedUp)
}

// NodePower sends one reboot or shutdown to a node (see Client.NodePower).
func (f *Fleet) NodePower(ctx context.Context, cluster, node string, cmd NodeCommand) error {
	c, err := f.clientNamed(cluster, string(cmd)+" node")
	if err != nil {
		return err
	}
	return c.NodePower(ctx, node, cmd)
}

// WakeNode sends one wake-on-LAN request for a node (see Client.WakeNode).
func (f *Fleet) WakeNode(ctx context.Context, cluster, node string) (string, error) {
	c, err := f.clientNamed(cluster, "wake node")
	if err != nil {
		return "", err
	}
	return c.WakeNode(ctx, node)
}

// CheckMigrate reads PVE's migration precondition for g (see Client.CheckMigrate).
func (f *Fleet) CheckMigrate(ctx context.Context, g Guest, target string) (MigrateCheck, error) {
	c, err := f.clientFor(g, "migrate check")
	if err != nil {
		return MigrateCheck{}, err
	}
	return c.CheckMigrate(ctx, g, target)
}

// Migrate sends one migration request for g (see Client.Migrate).
func (f *Fleet) Migrate(ctx context.Context, g Guest, target string, o MigrateOptions) (string, error) {
	c, err := f.clientFor(g, "migrate")
	if err != nil {
		return "", err
	}
	return c.Migrate(ctx, g, target, o)
}

// perCluster runs fn on every cluster at once and keys the results by cluster name.
func perCluster[T any](ctx context.Context, f *Fleet, fn func(*Client, context.Context) ([]T, error)) (map[string][]T, map[string]error) {
	type tagged struct {
		name string
		v    []T
	}
	all, errs := gather(ctx, f, func(c *Client, ctx context.Context) ([]tagged, error) {
		v, err := fn(c, ctx)
		return []tagged{{c.name, v}}, err
	})
	out := map[string][]T{}
	for _, t := range all {
		out[t.name] = t.v
	}
	return out, errs
}
