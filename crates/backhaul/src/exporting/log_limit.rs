//! `LogLimiter`: rate-limits a repeating log message and counts what it
//! suppressed, so a receiver that is down for hours leaves a log line every
//! `interval` (with the count) instead of one per attempt, and the log is
//! never silenced for longer than `interval`.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Whether to log now. `Some(n)`: log, mentioning `n` suppressed
    /// messages since the last one; `None`: stay quiet (counted).
    pub fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }

    /// The condition cleared: the next occurrence logs at once.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_first_then_suppresses_then_reports_count() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.check(t0), Some(0));
        assert_eq!(l.check(t0 + Duration::from_secs(1)), None);
        assert_eq!(l.check(t0 + Duration::from_secs(2)), None);
        assert_eq!(l.check(t0 + Duration::from_secs(10)), Some(2));
        l.reset();
        assert_eq!(l.check(t0 + Duration::from_secs(11)), Some(0));
    }
}
