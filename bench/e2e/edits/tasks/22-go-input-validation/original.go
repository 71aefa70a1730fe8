// Package workerpool runs tokenization and detokenization jobs on a fixed
// set of goroutines so that CPU-heavy text processing does not block the
// request handlers.
package workerpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by Submit after Close has been called.
var ErrClosed = errors.New("workerpool: pool is closed")

// Job is a unit of work. It receives the pool's context, which is cancelled
// when the pool closes.
type Job func(ctx context.Context) error

type task struct {
	job  Job
	done chan error
}

// Pool is a fixed-size goroutine pool with a bounded queue.
type Pool struct {
	tasks  chan task
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// NewPool starts workers goroutines that pull from a queue holding up to
// queueDepth pending jobs. A queueDepth of zero makes Submit hand jobs
// directly to an idle worker.
func NewPool(workers, queueDepth int) (*Pool, error) {
	if workers <= 0 {
		return nil, fmt.Errorf("workers must be positive, got %d", workers)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{
		tasks:  make(chan task, queueDepth),
		ctx:    ctx,
		cancel: cancel,
	}
	p.wg.Add(workers)
	for i := 0; i < workers; i++ {
		go p.worker()
	}
	return p, nil
}

func (p *Pool) worker() {
	defer p.wg.Done()
	for t := range p.tasks {
		err := p.run(t.job)
		t.done <- err
		close(t.done)
	}
}

func (p *Pool) run(job Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("workerpool: job panicked: %v", r)
		}
	}()
	return job(p.ctx)
}

// Submit enqueues job and returns a channel that receives its result. It
// blocks while the queue is full, or until ctx is done.
func (p *Pool) Submit(ctx context.Context, job Job) (<-chan error, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	t := task{job: job, done: make(chan error, 1)}
	select {
	case p.tasks <- t:
		return t.done, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Do submits job and waits for its result.
func (p *Pool) Do(ctx context.Context, job Job) error {
	done, err := p.Submit(ctx, job)
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting jobs, cancels the pool context and waits for the
// workers to drain the queue.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.tasks)
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}
