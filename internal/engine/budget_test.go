package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/transport"
)

// acquireAsync starts acquire(ctx, n) and returns a channel that gets its
// result.
func acquireAsync(ctx context.Context, b *budget, n int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.acquire(ctx, n) }()
	return done
}

// mustWait checks that an acquire is still waiting, and has said so.
func mustWait(t *testing.T, b *budget, done <-chan error) {
	t.Helper()
	waitFor(t, "the acquire to wait", func() bool { return b.stats().Waiting })
	select {
	case err := <-done:
		t.Fatalf("acquire returned (%v) while the budget was spent: %+v", err, b.stats())
	case <-time.After(20 * time.Millisecond):
	}
}

func mustReturn(t *testing.T, done <-chan error, want error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("acquire: %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("acquire still waiting")
	}
}

func TestBudgetAcquireRelease(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	for range 4 {
		if err := b.acquire(ctx, 25); err != nil {
			t.Fatal(err)
		}
	}
	if s := b.stats(); s.Held != 100 || s.Peak != 100 || s.Waiting {
		t.Fatalf("after taking the whole budget: %+v", s)
	}
	done := acquireAsync(ctx, b, 30)
	mustWait(t, b, done)
	b.release(25) // 75 held: 30 more would pass the limit
	mustWait(t, b, done)
	b.release(25) // 50 held: room
	mustReturn(t, done, nil)
	if s := b.stats(); s.Held != 80 || s.Peak != 100 || s.Waiting {
		t.Fatalf("after the wait: %+v", s)
	}
}

// A batch larger than the whole budget passes alone: when nothing is
// held, and then nothing else passes until it is given back.
func TestBudgetOversized(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	if err := b.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	big := acquireAsync(ctx, b, 250)
	mustWait(t, b, big)
	b.release(10)
	mustReturn(t, big, nil)
	if s := b.stats(); s.Held != 250 || s.Peak != 250 {
		t.Fatalf("holding the oversized batch: %+v", s)
	}
	small := acquireAsync(ctx, b, 1)
	mustWait(t, b, small)
	b.release(250)
	mustReturn(t, small, nil)
}

func TestBudgetContext(t *testing.T) {
	b := newBudget(100)
	if err := b.acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.acquire(canceled, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire on a spent budget with a canceled context: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := acquireAsync(ctx, b, 1)
	mustWait(t, b, done)
	cancel()
	mustReturn(t, done, context.Canceled)
	if s := b.stats(); s.Held != 100 {
		t.Fatalf("a canceled acquire took bytes: %+v", s)
	}
	// The abandoned wait does not get in the way of the next one.
	b.release(100)
	if err := b.acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
}

// hold gives a batch's bytes back once, on Ack or Release, whichever comes
// first, and still calls the source's own functions.
func TestBudgetHold(t *testing.T) {
	batch := connector.Batch{Messages: []connector.Message{
		{Key: []byte("k1"), Value: []byte("value"), Headers: []transport.Header{{Key: "h", Value: []byte("vv")}}},
		{Value: []byte("x")},
	}}
	n := batchBytes(batch)
	if n != 2+5+1+2+1 {
		t.Fatalf("batchBytes = %d, want 11", n)
	}
	b := newBudget(100)
	for _, tc := range []struct {
		name      string
		release   bool // Release twice, then Ack; else Ack twice, then Release
		noRelease bool // the source gives no Release
		// Every call reaches the source's functions, which keep their
		// own once.
		wantAcks, wantReleases int
	}{
		{name: "ack", wantAcks: 2, wantReleases: 1},
		{name: "release", release: true, wantAcks: 1, wantReleases: 2},
		{name: "release without the source's", release: true, noRelease: true, wantAcks: 1},
	} {
		var acks, releases int
		in := batch
		in.Ack = func() { acks++ }
		in.Release = func() { releases++ }
		if tc.noRelease {
			in.Release = nil
		}
		if err := b.acquire(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		held := b.hold(in, n)
		if tc.release {
			held.Release()
			held.Release()
			held.Ack()
		} else {
			held.Ack()
			held.Ack()
			held.Release()
		}
		if s := b.stats(); s.Held != 0 {
			t.Errorf("%s: %d bytes held after the batch was given back", tc.name, s.Held)
		}
		if acks != tc.wantAcks || releases != tc.wantReleases {
			t.Errorf("%s: source Ack called %d times, Release %d; want %d and %d", tc.name, acks, releases, tc.wantAcks, tc.wantReleases)
		}
	}
}
