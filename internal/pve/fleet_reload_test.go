package pve

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

func reloadCluster(name string, s *pvetest.Server) config.Cluster {
	return config.Cluster{Name: name, BaseURL: s.URL(), TokenID: e2eToken, TokenSecret: config.Secret(e2eSecret)}
}

func TestFleetReload(t *testing.T) {
	a := fake(t, pvetest.Options{}, nil)
	b := fake(t, pvetest.Options{}, nil)
	a.AddGuest(pvetest.Guest{VMID: 101, Name: "alpha", Node: "pve1"})
	b.AddGuest(pvetest.Guest{VMID: 201, Name: "beta", Node: "pve1"})
	o := Options{Timeout: 2 * time.Second, GuestCacheTTL: -1, RetryMin: time.Millisecond, Logger: zaptestLogger(t)}
	f, err := NewFleet(config.PVE{Clusters: []config.Cluster{reloadCluster("home", a)}}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Start(ctx)
	home, _ := f.Client("home")

	steps := []struct {
		name     string
		clusters []config.Cluster
		want     ReloadResult
		names    []string
		keepHome bool
	}{
		{"unchanged keeps the client", []config.Cluster{reloadCluster("home", a)}, ReloadResult{}, []string{"home"}, true},
		{"add a cluster", []config.Cluster{reloadCluster("home", a), reloadCluster("lab", b)}, ReloadResult{Added: []string{"lab"}}, []string{"home", "lab"}, true},
		{"change and remove", []config.Cluster{func() config.Cluster {
			c := reloadCluster("home", b)
			return c
		}()}, ReloadResult{Removed: []string{"lab"}, Changed: []string{"home"}}, []string{"home"}, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := f.Reload(config.PVE{Clusters: s.clusters})
			if err != nil {
				t.Fatalf("Reload: %v", err)
			}
			if !slices.Equal(got.Added, s.want.Added) || !slices.Equal(got.Removed, s.want.Removed) || !slices.Equal(got.Changed, s.want.Changed) {
				t.Errorf("Reload = %+v, want %+v", got, s.want)
			}
			if names := f.ClusterNames(); !slices.Equal(names, s.names) {
				t.Errorf("ClusterNames = %v, want %v", names, s.names)
			}
			c, _ := f.Client("home")
			if (c == home) != s.keepHome {
				t.Errorf("home client kept = %v, want %v", c == home, s.keepHome)
			}
		})
	}
	// home now points at b: its guest is found there.
	g, err := f.Find(ctx, "beta", nil)
	if err != nil || g.Cluster != "home" {
		t.Fatalf("Find(beta) = %+v, %v; want it on cluster home", g, err)
	}

	t.Run("a broken cluster changes nothing", func(t *testing.T) {
		bad := reloadCluster("home", a)
		bad.TokenID = "not a token id"
		if _, err := f.Reload(config.PVE{Clusters: []config.Cluster{bad, reloadCluster("lab", b)}}); err == nil {
			t.Fatal("Reload with a bad token id succeeded")
		}
		if names := f.ClusterNames(); !slices.Equal(names, []string{"home"}) {
			t.Errorf("ClusterNames = %v, want [home]", names)
		}
	})
}

// TestFleetReloadConcurrent runs lists while clusters are swapped (for -race).
func TestFleetReloadConcurrent(t *testing.T) {
	a := fake(t, pvetest.Options{}, nil)
	b := fake(t, pvetest.Options{}, nil)
	f, err := NewFleet(config.PVE{Clusters: []config.Cluster{reloadCluster("home", a)}}, Options{Timeout: 2 * time.Second, Logger: zaptestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				_, _ = f.Guests(ctx)
				_ = f.ClusterNames()
			}
		}()
	}
	for i := range 20 {
		cl := []config.Cluster{reloadCluster("home", a)}
		if i%2 == 0 {
			cl = append(cl, reloadCluster("lab", b))
		}
		if _, err := f.Reload(config.PVE{Clusters: cl}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
