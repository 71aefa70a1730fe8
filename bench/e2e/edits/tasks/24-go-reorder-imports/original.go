// Package metrics exposes gateway counters in the Prometheus text format
// without pulling in the full client library.
package metrics

import (
	"fmt"
	"glint.dev/gateway/internal/queue"
	"net/http"
	"strconv"

	"glint.dev/gateway/internal/registry"
	"sort"
	"strings"
	"time"
)

// Sample is one exported time series value.
type Sample struct {
	Name   string
	Help   string
	Type   string
	Labels map[string]string
	Value  float64
}

// Collector gathers samples at scrape time.
type Collector struct {
	started  time.Time
	queue    *queue.Queue
	registry *registry.Registry
}

// NewCollector returns a collector reading from q and reg.
func NewCollector(q *queue.Queue, reg *registry.Registry) *Collector {
	return &Collector{started: time.Now(), queue: q, registry: reg}
}

// Collect returns the current samples, sorted by name and labels so the
// output is stable between scrapes.
func (c *Collector) Collect() []Sample {
	samples := []Sample{
		{
			Name:  "glint_uptime_seconds",
			Help:  "Seconds since the gateway started.",
			Type:  "gauge",
			Value: time.Since(c.started).Seconds(),
		},
		{
			Name:  "glint_queue_depth",
			Help:  "Requests waiting for a worker.",
			Type:  "gauge",
			Value: float64(c.queue.Len()),
		},
	}
	for _, m := range c.registry.Models() {
		samples = append(samples, Sample{
			Name:   "glint_model_requests_total",
			Help:   "Completed requests per model.",
			Type:   "counter",
			Labels: map[string]string{"model": m.Name},
			Value:  float64(m.Requests),
		})
	}
	sort.Slice(samples, func(i, j int) bool {
		if samples[i].Name != samples[j].Name {
			return samples[i].Name < samples[j].Name
		}
		return formatLabels(samples[i].Labels) < formatLabels(samples[j].Labels)
	})
	return samples
}

func formatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// WriteText renders samples in the Prometheus exposition format, emitting
// HELP and TYPE once per metric name.
func WriteText(b *strings.Builder, samples []Sample) {
	last := ""
	for _, s := range samples {
		if s.Name != last {
			fmt.Fprintf(b, "# HELP %s %s\n", s.Name, s.Help)
			fmt.Fprintf(b, "# TYPE %s %s\n", s.Name, s.Type)
			last = s.Name
		}
		fmt.Fprintf(b, "%s%s %s\n", s.Name, formatLabels(s.Labels),
			strconv.FormatFloat(s.Value, 'g', -1, 64))
	}
}

// Handler serves the metrics endpoint.
func (c *Collector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		WriteText(&b, c.Collect())
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(b.String()))
	})
}
