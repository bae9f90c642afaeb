package pve

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// scaleFleet is clusters fakes of guests guests each (names c07-g123), every one of them
// hanging until the test releases it, and a fleet over them.
func scaleFleet(t testing.TB, clusters, guests int) (*Fleet, []*pvetest.Server) {
	t.Helper()
	var specs []clusterSpec
	var servers []*pvetest.Server
	for i := range clusters {
		s := fake(t, pvetest.Options{}, nil)
		for j := range guests {
			s.AddGuest(pvetest.Guest{VMID: 100 + j, Name: fmt.Sprintf("c%02d-g%03d", i, j), Node: fmt.Sprintf("pve%d", j%2+1), Status: "stopped"})
		}
		servers = append(servers, s)
		specs = append(specs, clusterSpec{Name: fmt.Sprintf("c%02d", i), BaseURL: s.URL(), TokenID: e2eToken, TokenSecret: e2eSecret})
	}
	f, err := newFleet(specs, Options{Timeout: 5 * time.Minute, GuestCacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.CloseIdleConnections)
	return f, servers
}

// A thousand users listing at once cost one GET /cluster/resources per cluster, all in
// flight together (each fake holds its request until every cluster has one), and the
// answer has every guest and every node. A name looked up right after (`vm start
// c07-g123`) is found in that listing, with no request of its own.
func TestFleetListsEachClusterOnceForManyUsers(t *testing.T) {
	const clusters, guests, users = 8, 200, 1000
	f, servers := scaleFleet(t, clusters, guests)
	for _, s := range servers {
		s.Hang(true)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for range users {
		wg.Go(func() {
			gs, ns, failed := f.Listing(ctx)
			n := 0
			for range gs {
				n++
			}
			if len(failed) > 0 || n != clusters*guests || len(ns) != clusters*2 {
				errs <- fmt.Errorf("got %d guests, %d nodes, failed %v; want %d, %d, none", n, len(ns), failed, clusters*guests, clusters*2)
			}
		})
	}
	// Every cluster is asked before any answers: the requests are all in flight at once.
	for _, s := range servers {
		for s.Count("GET", "/cluster/resources") == 0 {
			time.Sleep(time.Millisecond) // polls an event (the request arrived), bounded by the test timeout
		}
	}
	for _, s := range servers {
		s.Hang(false)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range servers {
		if got := s.Count("GET", "/cluster/resources"); got != 1 {
			t.Errorf("cluster %d: %d GET /cluster/resources for %d users, want 1", i, got, users)
		}
		if got := s.Count("GET", "/cluster/resources?type=node"); got != 0 {
			t.Errorf("cluster %d: %d node listings, want none (nodes come with the guests)", i, got)
		}
	}

	before := make([]int, len(servers))
	for i, s := range servers {
		before[i] = len(s.Requests())
	}
	g, err := f.Find(ctx, "c07-g123", nil)
	if err != nil || g.Cluster != "c07" || g.VMID != 223 {
		t.Fatalf("Find = %+v, %v; want c07/223", g, err)
	}
	for i, s := range servers {
		if got := len(s.Requests()); got != before[i] {
			t.Errorf("cluster %d: Find sent %d requests, want none (the listing is cached)", i, got-before[i])
		}
	}
}

// A caller that gives up while its listing is in flight does not fail the others
// waiting for it: one of them asks again.
func TestSharedListingSurvivesACallerThatGivesUp(t *testing.T) {
	f, servers := scaleFleet(t, 1, 3)
	s := servers[0]
	s.Hang(true)
	c := f.Clients()[0]
	first, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Guests(first); done <- err }()
	for s.Count("GET", "/cluster/resources") == 0 {
		time.Sleep(time.Millisecond) // polls an event (the request arrived), bounded by the test timeout
	}
	second := make(chan error, 1)
	go func() {
		gs, err := c.Guests(context.Background())
		if err == nil && len(gs) != 3 {
			err = fmt.Errorf("got %d guests, want 3", len(gs))
		}
		second <- err
	}()
	// Whether the second caller waits on the first one's request or comes after it, it gets the list.
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled caller got a list")
	}
	for s.Count("GET", "/cluster/resources") < 2 {
		time.Sleep(time.Millisecond)
	}
	s.Hang(false)
	if err := <-second; err != nil {
		t.Fatalf("the waiting caller: %v", err)
	}
}

// The listing comes in cluster-name, then VMID order whatever the config's order, and
// reading it (vm list) or looking a name up in it (vm start c02-g150) copies none of the
// cached guests: with 3 clusters of 600 guests, a copy would be about 420 KB a call.
func TestListingIsOrderedAndReadInPlace(t *testing.T) {
	const clusters, guests = 3, 600
	_, servers := scaleFleet(t, clusters, guests)
	var specs []clusterSpec
	for i := clusters - 1; i >= 0; i-- { // c02, c01, c00
		specs = append(specs, clusterSpec{Name: fmt.Sprintf("c%02d", i), BaseURL: servers[i].URL(), TokenID: e2eToken, TokenSecret: e2eSecret})
	}
	f, err := newFleet(specs, Options{Timeout: time.Minute, GuestCacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.CloseIdleConnections)
	ctx := context.Background()
	gs, _, failed := f.Listing(ctx)
	if failed != nil {
		t.Fatal(failed)
	}
	var refs []string
	for g := range gs {
		refs = append(refs, fmt.Sprintf("%s/%04d", g.Cluster, g.VMID))
	}
	if len(refs) != clusters*guests || !slices.IsSorted(refs) {
		t.Fatalf("listing: %d guests, sorted %v; want %d in cluster, VMID order (first %v)", len(refs), slices.IsSorted(refs), clusters*guests, refs[:3])
	}

	copyBytes := uint64(clusters*guests) * uint64(unsafe.Sizeof(Guest{}))
	var before, after runtime.MemStats
	const rounds = 20
	runtime.ReadMemStats(&before)
	for range rounds {
		gs, _, _ := f.Listing(ctx)
		for g := range gs {
			_ = g
		}
		if _, err := f.Find(ctx, "c02-g150", nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > copyBytes/4 {
		t.Errorf("a listing and a lookup allocate %d bytes, want well under one copy of the guests (%d bytes)", per, copyBytes)
	}
}
