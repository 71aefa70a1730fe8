//! Generation limits for a single request: a token budget, an optional
//! wall-clock deadline, and stop-token handling.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Length,
    Stop,
    Timeout,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Length => "length",
            FinishReason::Stop => "stop",
            FinishReason::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    max_tokens: usize,
    used: usize,
    deadline: Option<Instant>,
    stop_tokens: Vec<u32>,
    finished: Option<FinishReason>,
}

impl Limits {
    pub fn new(max_tokens: usize, timeout: Option<Duration>, stop_tokens: Vec<u32>) -> Self {
        Limits {
            max_tokens,
            used: 0,
            deadline: timeout.map(|t| Instant::now() + t),
            stop_tokens,
            finished: None,
        }
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn used(&self) -> usize {
        self.used
    }

    /// Tokens that may still be generated before the budget is exhausted.
    pub fn remaining(&self) -> usize {
        self.max_tokens.saturating_sub(self.used)
    }

    pub fn finished(&self) -> Option<FinishReason> {
        self.finished
    }

    /// Records a generated token and returns the finish reason if the
    /// request is now complete. Stop tokens count against the budget.
    pub fn observe(&mut self, token: u32, now: Instant) -> Option<FinishReason> {
        if self.finished.is_some() {
            return self.finished;
        }
        self.used += 1;
        let reason = if self.stop_tokens.contains(&token) {
            Some(FinishReason::Stop)
        } else if self.used >= self.max_tokens {
            Some(FinishReason::Length)
        } else if self.deadline.map_or(false, |d| now >= d) {
            Some(FinishReason::Timeout)
        } else {
            None
        };
        self.finished = reason;
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_budget() {
        let mut l = Limits::new(2, None, vec![]);
        let now = Instant::now();
        assert_eq!(l.observe(5, now), None);
        assert_eq!(l.observe(6, now), Some(FinishReason::Length));
        assert_eq!(l.used(), 2);
    }

    #[test]
    fn stop_token_wins() {
        let mut l = Limits::new(10, None, vec![2]);
        assert_eq!(l.observe(2, Instant::now()), Some(FinishReason::Stop));
    }

    #[test]
    fn deadline_expires() {
        let mut l = Limits::new(10, Some(Duration::from_millis(5)), vec![]);
        let later = Instant::now() + Duration::from_secs(1);
        assert_eq!(l.observe(1, later), Some(FinishReason::Timeout));
    }

    #[test]
    fn remaining_counts_down() {
        let mut l = Limits::new(3, None, vec![]);
        assert_eq!(l.remaining(), 3);
        l.observe(7, Instant::now());
        assert_eq!(l.remaining(), 2);
    }
}
