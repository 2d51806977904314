package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Group commit answers every op once, after it is written, in batches of at most opsMax
// written one at a time, and ends idle.
func TestGroupCommit(t *testing.T) {
	type op struct{ written atomic.Int32 }
	var inFlight, maxInFlight, batches atomic.Int32
	g := groupCommit[*op]{opsMax: 7, timeout: time.Minute, write: func(ctx context.Context, batch []*op) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		batches.Add(1)
		if len(batch) > 7 {
			t.Errorf("a batch of %d ops", len(batch))
		}
		time.Sleep(200 * time.Microsecond)
		for _, o := range batch {
			o.written.Add(1)
		}
	}}
	const callers, each = 40, 50
	ops := make([]*op, callers*each)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for k := range each {
				o := &op{}
				ops[c*each+k] = o
				g.do(context.Background(), o)
				if o.written.Load() != 1 {
					t.Errorf("op answered before it was written (%d)", o.written.Load())
				}
			}
		})
	}
	wg.Wait()
	for i, o := range ops {
		if n := o.written.Load(); n != 1 {
			t.Fatalf("op %d written %d times", i, n)
		}
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d batches at once, want one at a time", m)
	}
	if g.running || len(g.pending) != 0 {
		t.Errorf("after the load: running %v, %d pending", g.running, len(g.pending))
	}
	t.Logf("%d ops in %d batches, %d at once at most", len(ops), batches.Load(), maxInFlight.Load())
}
