// Package batcher groups embedding requests into batches so the worker can
// run one forward pass for many short inputs.
package batcher

import (
	"context"
	"errors"
	"sync"
	"time"
)

const (
	// DefaultMaxBatch is the largest number of inputs sent in one batch.
	DefaultMaxBatch = 32

	// DefaultMaxWait bounds how long the first request of a batch waits for
	// others to join before the batch is flushed anyway.
	DefaultMaxWait = 20 * time.Millisecond
)

// ErrStopped is returned for requests submitted after Stop.
var ErrStopped = errors.New("batcher: stopped")

// RunFunc embeds a batch of inputs, returning one vector per input.
type RunFunc func(ctx context.Context, inputs []string) ([][]float32, error)

type request struct {
	input string
	reply chan result
}

type result struct {
	vec []float32
	err error
}

// Batcher collects requests and runs them through RunFunc in batches.
type Batcher struct {
	run      RunFunc
	maxBatch int
	maxWait  time.Duration
	reqs     chan request
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// New starts a batcher using the default limits.
func New(run RunFunc) *Batcher {
	b := &Batcher{
		run:      run,
		maxBatch: DefaultMaxBatch,
		maxWait:  DefaultMaxWait,
		reqs:     make(chan request, 4*DefaultMaxBatch),
		stop:     make(chan struct{}),
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

// Embed submits one input and waits for its vector.
func (b *Batcher) Embed(ctx context.Context, input string) ([]float32, error) {
	r := request{input: input, reply: make(chan result, 1)}
	select {
	case b.reqs <- r:
	case <-b.stop:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.vec, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *Batcher) loop() {
	defer b.wg.Done()
	for {
		var first request
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch := []request{first}
		timer := time.NewTimer(b.maxWait)
	collect:
		for len(batch) < b.maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		b.flush(batch)
	}
}

func (b *Batcher) flush(batch []request) {
	inputs := make([]string, len(batch))
	for i, r := range batch {
		inputs[i] = r.input
	}
	vecs, err := b.run(context.Background(), inputs)
	if err == nil && len(vecs) != len(batch) {
		err = errors.New("batcher: RunFunc returned wrong number of vectors")
	}
	for i, r := range batch {
		if err != nil {
			r.reply <- result{err: err}
			continue
		}
		r.reply <- result{vec: vecs[i]}
	}
}

// Stop ends the batching loop. Requests already queued but not yet batched
// are abandoned; their callers return when their context ends.
func (b *Batcher) Stop() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}
