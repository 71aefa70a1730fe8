//! Admission queue for incoming generation requests.
//!
//! Requests wait here until the scheduler has enough KV-cache blocks for
//! them. The queue is FIFO within a priority level; higher priorities are
//! always admitted first.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low = 0,
    Normal = 1,
    High = 2,
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub id: u64,
    pub priority: Priority,
    pub prompt_len: usize,
    pub max_new_tokens: usize,
    pub enqueued_at: Instant,
    pub cancelled: bool,
}

impl Pending {
    /// Tokens this request may occupy at its longest.
    pub fn max_total_tokens(&self) -> usize {
        self.prompt_len + self.max_new_tokens
    }
}

#[derive(Debug, Default)]
pub struct AdmissionQueue {
    lanes: [VecDeque<Pending>; 3],
}

impl AdmissionQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, req: Pending) {
        self.lanes[req.priority as usize].push_back(req);
    }

    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks a request as cancelled; it is dropped when it reaches the front.
    pub fn cancel(&mut self, id: u64) -> bool {
        for lane in self.lanes.iter_mut() {
            if let Some(p) = lane.iter_mut().find(|p| p.id == id) {
                p.cancelled = true;
                return true;
            }
        }
        false
    }

    /// Prompt tokens waiting to be prefilled, ignoring cancelled requests.
    pub fn pending_tokens(&self) -> usize {
        let mut total = 0;
        for lane in self.lanes.iter() {
            for p in lane.iter() {
                if !p.cancelled {
                    total += p.prompt_len;
                }
            }
        }
        total
    }

    /// Pops the next request whose total token need fits in `budget`,
    /// looking at the front of each lane from highest priority down.
    pub fn pop_fitting(&mut self, budget: usize) -> Option<Pending> {
        for lane in self.lanes.iter_mut().rev() {
            while lane.front().map_or(false, |p| p.cancelled) {
                lane.pop_front();
            }
            if let Some(front) = lane.front() {
                if front.max_total_tokens() <= budget {
                    return lane.pop_front();
                }
                // Head-of-line blocking is intentional: skipping a large
                // request would let small ones starve it forever.
                return None;
            }
        }
        None
    }

    /// Removes and returns requests that have waited longer than `max_wait`.
    pub fn expire(&mut self, now: Instant, max_wait: Duration) -> Vec<Pending> {
        let mut expired = Vec::new();
        for lane in self.lanes.iter_mut() {
            let (keep, old): (VecDeque<_>, VecDeque<_>) = lane
                .drain(..)
                .partition(|p| now.duration_since(p.enqueued_at) <= max_wait);
            *lane = keep;
            expired.extend(old);
        }
        expired
    }
}
