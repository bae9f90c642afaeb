//go:build unix

package store

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// benchMsg is a typical text command as the callback path records it.
func benchMsg(i int) chat.Message {
	m := textMsg("", "zhangsan", "vm start homeassistant")
	m.ID = "7380000000000" + strconv.Itoa(i)
	return m
}

func BenchmarkReceive(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Receive(ctx, benchMsg(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiveDuplicate(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	m := benchMsg(0)
	if _, err := s.Receive(ctx, m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if fresh, err := s.Receive(ctx, m); err != nil || fresh {
			b.Fatal(fresh, err)
		}
	}
}

func BenchmarkReceiveFinish(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := benchMsg(i)
		if _, err := s.Receive(ctx, m); err != nil {
			b.Fatal(err)
		}
		if err := s.Finish(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiveParallel(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	var worker atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		base := strconv.FormatInt(int64(worker.Add(1)), 10) // each goroutine its own keys
		for i := 0; pb.Next(); i++ {
			m := benchMsg(i)
			m.ID = base + "-" + m.ID
			if _, err := s.Receive(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
