//! Per-user message rate limit: a sliding window of one minute. Stops and
//! commands are never limited, so a user can always stop a run.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimit {
    per_minute: Option<u32>,
    recent: Mutex<HashMap<u64, VecDeque<Instant>>>,
}

impl RateLimit {
    /// `None` turns the limit off.
    pub fn new(per_minute: Option<u32>) -> Self {
        RateLimit {
            per_minute,
            recent: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> Option<u32> {
        self.per_minute
    }

    /// Counts one message of `user` at `now`; false when it is over the limit
    /// (a refused message does not count).
    pub fn allow(&self, user: u64, now: Instant) -> bool {
        let Some(limit) = self.per_minute else {
            return true;
        };
        let mut recent = self.recent.lock();
        let hits = recent.entry(user).or_default();
        while hits
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            hits.pop_front();
        }
        if hits.len() >= limit as usize {
            return false;
        }
        hits.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_refuses_past_the_limit_and_recovers_after_the_window() {
        let limit = RateLimit::new(Some(2));
        let start = Instant::now();
        assert!(limit.allow(1, start));
        assert!(limit.allow(1, start + Duration::from_secs(1)));
        assert!(
            !limit.allow(1, start + Duration::from_secs(2)),
            "third in a minute"
        );
        assert!(
            limit.allow(2, start + Duration::from_secs(2)),
            "users are counted apart"
        );
        assert!(
            limit.allow(1, start + Duration::from_secs(60)),
            "the first hit left the window"
        );
        assert!(!limit.allow(1, start + Duration::from_secs(60)));
    }

    #[test]
    fn rate_limit_off_allows_everything() {
        let limit = RateLimit::new(None);
        let now = Instant::now();
        assert!((0..1000).all(|_| limit.allow(1, now)));
    }
}
