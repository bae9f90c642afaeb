package pve

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

// ReloadResult names the clusters a Reload added, removed and rebuilt.
type ReloadResult struct {
	Added, Removed, Changed []string
}

// Empty reports whether the reload changed no cluster.
func (r ReloadResult) Empty() bool { return len(r.Added)+len(r.Removed)+len(r.Changed) == 0 }

// view returns the current clients and their index. Callers keep using what they got
// even if a Reload replaces it meanwhile: in-flight calls finish on the old client.
func (f *Fleet) view() ([]*Client, map[string]*Client) {
	f.rmu.RLock()
	defer f.rmu.RUnlock()
	return f.clients, f.byName
}

// Reload swaps the clusters for those of cfg at once, for a config reload. A cluster
// whose settings did not change keeps its client (guest cache, health, preferred
// endpoint); a new or changed one gets a new client, checked in the background when the
// fleet was started; a removed one is dropped. Calls already running finish on the
// client they started with. pve.timeout and pve.task_timeout keep their start-up values.
// On error (a client cannot be built: bad token id, unreadable ca_file) nothing changes.
func (f *Fleet) Reload(cfg config.PVE) (ReloadResult, error) {
	var res ReloadResult
	oldClients, oldByName := f.view()
	f.rmu.RLock()
	oldSpecs := f.specs
	f.rmu.RUnlock()

	clients := make([]*Client, 0, len(cfg.Clusters))
	byName := make(map[string]*Client, len(cfg.Clusters))
	specs := make(map[string]clusterSpec, len(cfg.Clusters))
	var fresh []*Client
	for _, cc := range cfg.Clusters {
		s := specFromConfig(cc)
		key := strings.ToLower(s.Name)
		if _, dup := byName[key]; dup {
			return ReloadResult{}, fmt.Errorf("pve: reload: cluster name %q used twice", s.Name)
		}
		c, kept := oldByName[key]
		if kept && !reflect.DeepEqual(oldSpecs[key], s) {
			kept = false
			res.Changed = append(res.Changed, s.Name)
		} else if !kept {
			res.Added = append(res.Added, s.Name)
		}
		if !kept {
			var err error
			if c, err = newClient(s, f.o); err != nil {
				return ReloadResult{}, fmt.Errorf("pve: reload: %w", err)
			}
			fresh = append(fresh, c)
		}
		clients = append(clients, c)
		byName[key] = c
		specs[key] = s
	}
	for _, c := range oldClients {
		if _, ok := byName[strings.ToLower(c.name)]; !ok {
			res.Removed = append(res.Removed, c.name)
		}
	}

	f.rmu.Lock()
	f.clients, f.byName, f.specs = clients, byName, specs
	f.rmu.Unlock()

	f.mu.Lock()
	for _, name := range append(append([]string(nil), res.Removed...), res.Changed...) {
		delete(f.checks, name)
	}
	started, ctx := f.started, f.startCtx
	f.mu.Unlock()
	if started {
		for _, c := range fresh {
			go f.watch(ctx, c)
		}
	}
	return res, nil
}
