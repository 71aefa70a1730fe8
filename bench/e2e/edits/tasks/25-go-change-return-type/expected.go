// Package router maps model names to the worker endpoints that serve them
// and picks an endpoint for each request.
//
// Endpoints are grouped by model. Within a group, requests go to the healthy
// endpoint with the fewest outstanding requests relative to its weight; ties
// are broken round-robin so load spreads evenly when the gateway is idle.
package router

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrUnknownModel is returned when no group serves the requested model.
var ErrUnknownModel = errors.New("router: unknown model")

// ErrNoHealthyEndpoint is returned when every endpoint of a group is down.
var ErrNoHealthyEndpoint = errors.New("router: no healthy endpoint")

// Endpoint is one worker process able to serve a model.
type Endpoint struct {
	URL         string
	Weight      int
	outstanding int
	healthy     bool
	failures    int
	lastCheck   time.Time
}

// Outstanding reports the number of requests currently assigned.
func (e *Endpoint) Outstanding() int { return e.outstanding }

// Healthy reports whether the endpoint passed its last health check.
func (e *Endpoint) Healthy() bool { return e.healthy }

// Group is the set of endpoints serving one model.
type Group struct {
	Model     string
	endpoints []*Endpoint
	next      int
}

// Router is safe for concurrent use.
type Router struct {
	mu          sync.RWMutex
	groups      map[string]*Group
	maxFailures int
}

// New returns an empty router. An endpoint is marked unhealthy after
// maxFailures consecutive failed requests or health checks.
func New(maxFailures int) *Router {
	if maxFailures < 1 {
		maxFailures = 1
	}
	return &Router{groups: make(map[string]*Group), maxFailures: maxFailures}
}

// Add registers an endpoint for model, creating the group if needed.
func (r *Router) Add(model, url string, weight int) {
	if weight < 1 {
		weight = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.groups[model]
	if !ok {
		g = &Group{Model: model}
		r.groups[model] = g
	}
	for _, e := range g.endpoints {
		if e.URL == url {
			e.Weight = weight
			return
		}
	}
	g.endpoints = append(g.endpoints, &Endpoint{URL: url, Weight: weight, healthy: true})
}

// Remove drops an endpoint; empty groups are deleted.
func (r *Router) Remove(model, url string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.groups[model]
	if !ok {
		return false
	}
	for i, e := range g.endpoints {
		if e.URL == url {
			g.endpoints = append(g.endpoints[:i], g.endpoints[i+1:]...)
			if len(g.endpoints) == 0 {
				delete(r.groups, model)
			}
			return true
		}
	}
	return false
}

// Lookup returns the group serving model, or an error wrapping
// ErrUnknownModel if there is none.
func (r *Router) Lookup(model string) (*Group, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.groups[model]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModel, model)
	}
	return g, nil
}

// Models lists the served model names in sorted order.
func (r *Router) Models() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.groups))
	for name := range r.groups {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Pick chooses an endpoint for a request to model and counts it as
// outstanding. The caller must call Done when the request finishes.
func (r *Router) Pick(model string) (*Endpoint, error) {
	g, err := r.Lookup(model)
	if err != nil {
		return nil, ErrUnknownModel
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(g.endpoints)
	var best *Endpoint
	bestIdx := -1
	for k := 0; k < n; k++ {
		i := (g.next + k) % n
		e := g.endpoints[i]
		if !e.healthy {
			continue
		}
		// Compare outstanding/weight without floating point.
		if best == nil || e.outstanding*best.Weight < best.outstanding*e.Weight {
			best = e
			bestIdx = i
		}
	}
	if best == nil {
		return nil, ErrNoHealthyEndpoint
	}
	g.next = (bestIdx + 1) % n
	best.outstanding++
	return best, nil
}

// Done records the outcome of a request previously returned by Pick.
func (r *Router) Done(e *Endpoint, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.outstanding > 0 {
		e.outstanding--
	}
	r.recordLocked(e, ok)
}

func (r *Router) recordLocked(e *Endpoint, ok bool) {
	if ok {
		e.failures = 0
		e.healthy = true
		return
	}
	e.failures++
	if e.failures >= r.maxFailures {
		e.healthy = false
	}
}

// ReportHealth records the result of an out-of-band health check.
func (r *Router) ReportHealth(model, url string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, found := r.groups[model]
	if !found {
		return
	}
	for _, e := range g.endpoints {
		if e.URL == url {
			e.lastCheck = time.Now()
			r.recordLocked(e, ok)
			return
		}
	}
}

// SetWeight changes the weight of every endpoint serving model.
func (r *Router) SetWeight(model string, weight int) error {
	if weight < 1 {
		return fmt.Errorf("router: weight must be at least 1, got %d", weight)
	}
	g, err := r.Lookup(model)
	if err != nil {
		return ErrUnknownModel
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range g.endpoints {
		e.Weight = weight
	}
	return nil
}

// Describe returns a one-line human-readable summary of a model's group,
// used by the admin status page.
func (r *Router) Describe(model string) string {
	g, err := r.Lookup(model)
	if err != nil {
		return model + ": not served"
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	parts := make([]string, 0, len(g.endpoints))
	healthy := 0
	for _, e := range g.endpoints {
		state := "down"
		if e.healthy {
			state = "up"
			healthy++
		}
		parts = append(parts, fmt.Sprintf("%s(w=%d,%s,%d)", e.URL, e.Weight, state, e.outstanding))
	}
	return fmt.Sprintf("%s: %d/%d healthy: %s", model, healthy, len(g.endpoints), strings.Join(parts, " "))
}

// Stale returns endpoints not health-checked within maxAge, for the checker
// loop to probe next.
func (r *Router) Stale(maxAge time.Duration) map[string][]string {
	cutoff := time.Now().Add(-maxAge)
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string][]string)
	for model, g := range r.groups {
		for _, e := range g.endpoints {
			if e.lastCheck.Before(cutoff) {
				out[model] = append(out[model], e.URL)
			}
		}
	}
	return out
}

// TotalOutstanding sums outstanding requests across all groups.
func (r *Router) TotalOutstanding() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	total := 0
	for _, g := range r.groups {
		for _, e := range g.endpoints {
			total += e.outstanding
		}
	}
	return total
}
