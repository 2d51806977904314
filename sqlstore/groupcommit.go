package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"
)

// groupCommit is group commit: work asked for while a batch is being written waits, and
// the next batch takes it all, so that many callers share one transaction and one fsync.
// The caller that finds no batch running writes the next one, which begins with its own
// work, then passes the lead to the caller of the first work still waiting: no caller
// writes batch after batch of others' work under a steady load.
//
// write decides and writes a batch and answers each of its ops (through the op itself);
// it must answer every op, also when it fails.
type groupCommit[T any] struct {
	opsMax  int           // bounds the ops one batch takes
	timeout time.Duration // bounds one batch, waits for locks and connections included
	write   func(ctx context.Context, batch []T)

	mu      sync.Mutex // protects the following fields
	pending []*queued[T]
	running bool
}

type queued[T any] struct {
	op   T
	done chan struct{} // closed once the batch holding op is written
	lead chan struct{} // told to write the next batch
}

// do queues op and returns once the batch holding it has been written.
func (g *groupCommit[T]) do(ctx context.Context, op T) {
	w := &queued[T]{op: op, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if !lead {
		select {
		case <-w.done: // written in another caller's batch
		case <-w.lead:
			lead = true
		}
	}
	if lead {
		g.lead(ctx)
	}
	<-w.done
}

// lead writes the next batch of waiting ops, then passes the lead on.
func (g *groupCommit[T]) lead(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.pending), g.opsMax)
	batch := g.pending[:n:n]
	// The waiting rest move to a new array, so that the batch's ops are not kept alive by
	// the queue once answered.
	g.pending = slices.Clone(g.pending[n:])
	g.mu.Unlock()
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
		g.mu.Lock()
		if len(g.pending) > 0 {
			g.pending[0].lead <- struct{}{} // its caller waits on it; it stays first until then
		} else {
			g.running = false
		}
		g.mu.Unlock()
	}()
	ops := make([]T, len(batch))
	for i, w := range batch {
		ops[i] = w.op
	}
	// A batch carries other callers' work: it must not fail because this caller gives
	// up, but it must end, or every caller would wait on it.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	g.write(bctx, ops)
}
