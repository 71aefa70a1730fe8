//! Per-request timing metrics: queue time, time to first token and
//! inter-token latency, aggregated into a rolling window for the status page.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Timestamps collected while one request is processed.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    pub arrived: Instant,
    pub scheduled: Option<Instant>,
    pub first_token: Option<Instant>,
    pub finished: Option<Instant>,
    pub output_tokens: u32,
}

impl RequestMetrics {
    pub fn new(arrived: Instant) -> Self {
        RequestMetrics {
            arrived,
            scheduled: None,
            first_token: None,
            finished: None,
            output_tokens: 0,
        }
    }

    pub fn on_token(&mut self, now: Instant) {
        if self.first_token.is_none() {
            self.first_token = Some(now);
        }
        self.output_tokens += 1;
    }

    pub fn queue_time(&self) -> Option<Duration> {
        self.scheduled.map(|s| s.duration_since(self.arrived))
    }

    pub fn time_to_first_token(&self) -> Option<Duration> {
        self.first_token.map(|t| t.duration_since(self.arrived))
    }

    /// Mean gap between output tokens after the first one.
    pub fn inter_token_latency(&self) -> Option<Duration> {
        let first = self.first_token?;
        let end = self.finished?;
        if self.output_tokens < 2 {
            return None;
        }
        Some(end.duration_since(first) / (self.output_tokens - 1))
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct WindowSummary {
    pub requests: usize,
    pub mean_ttft_ms: f64,
    pub mean_itl_ms: f64,
    pub tokens_per_sec: f64,
}

/// Keeps the metrics of requests finished within the last `span`.
pub struct RollingWindow {
    span: Duration,
    done: VecDeque<RequestMetrics>,
}

impl RollingWindow {
    pub fn new(span: Duration) -> Self {
        RollingWindow {
            span,
            done: VecDeque::new(),
        }
    }

    pub fn record(&mut self, m: RequestMetrics) {
        if m.finished.is_some() {
            self.done.push_back(m);
        }
    }

    fn evict(&mut self, now: Instant) {
        while let Some(front) = self.done.front() {
            let finished = front.finished.expect("only finished requests are stored");
            if now.duration_since(finished) <= self.span {
                break;
            }
            self.done.pop_front();
        }
    }

    pub fn summary(&mut self, now: Instant) -> WindowSummary {
        self.evict(now);
        let n = self.done.len();
        if n == 0 {
            return WindowSummary::default();
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let ttfts: Vec<f64> = self
            .done
            .iter()
            .filter_map(RequestMetrics::time_to_first_token)
            .map(ms)
            .collect();
        let itls: Vec<f64> = self
            .done
            .iter()
            .filter_map(RequestMetrics::inter_token_latency)
            .map(ms)
            .collect();
        let tokens: u64 = self.done.iter().map(|m| m.output_tokens as u64).sum();
        WindowSummary {
            requests: n,
            mean_ttft_ms: mean(&ttfts),
            mean_itl_ms: mean(&itls),
            tokens_per_sec: tokens as f64 / self.span.as_secs_f64(),
        }
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}
