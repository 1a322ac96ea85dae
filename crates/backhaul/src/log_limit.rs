//! `LogLimiter`: rate-limits one kind of repeating log message and counts
//! what it left out, so that a condition that repeats for hours (a receiver
//! that is down, a plugin that misbehaves on every line) costs a few log
//! lines, never one per occurrence, and the log is never silenced for
//! longer than one refill period. What was left out is reported with the
//! next message that gets through, and by [`LogLimiter::summary_due`] at
//! least every [`SUMMARY_EVERY`] while messages keep being left out, however
//! long the refill period.
//!
//! It is a token bucket: `burst` messages at once, then one more every
//! `refill`. The exporting instances use a burst of one
//! ([`LogLimiter::new`]: at most one message every `interval`); the
//! plugins.d runner gives each plugin a few messages at once per kind
//! ([`LogLimiter::with_burst`]).

use std::time::{Duration, Instant};

/// The longest a source stays silent while its messages are left out: a
/// summary of the count is due this long after the last message or
/// summary logged.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// A token bucket for one kind of log message (see the module docs).
#[derive(Debug, Clone)]
pub struct LogLimiter {
    burst: u32,
    refill: Duration,
    tokens: u32,
    /// When tokens were last earned (or the bucket last seen full).
    last_refill: Option<Instant>,
    suppressed: u64,
    /// When a message or a summary was last logged.
    last_report: Option<Instant>,
}

impl LogLimiter {
    /// At most one message every `interval`: the first at once, then none
    /// until `interval` has passed since the last one logged. A zero
    /// `interval` limits nothing.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter::with_burst(1, interval)
    }

    /// Up to `burst` messages at once (at least one), then one more every
    /// `refill`. A zero `refill` limits nothing.
    pub fn with_burst(burst: u32, refill: Duration) -> LogLimiter {
        let burst = burst.max(1);
        LogLimiter {
            burst,
            refill,
            tokens: burst,
            last_refill: None,
            suppressed: 0,
            last_report: None,
        }
    }

    /// Whether to log a message at `now`. `Some(n)`: log it, mentioning
    /// the `n` messages left out since the last one logged; `None`: stay
    /// quiet (the message is counted).
    pub fn check(&mut self, now: Instant) -> Option<u64> {
        if self.refill.is_zero() {
            self.last_report = Some(now);
            return Some(std::mem::take(&mut self.suppressed));
        }
        let last = *self.last_refill.get_or_insert(now);
        if self.tokens < self.burst {
            let elapsed = now.saturating_duration_since(last);
            let earned = elapsed.as_nanos() / self.refill.as_nanos();
            if earned > 0 {
                let earned = u32::try_from(earned).unwrap_or(u32::MAX);
                self.tokens = self.tokens.saturating_add(earned).min(self.burst);
                self.last_refill = Some(now);
            }
        } else {
            self.last_refill = Some(now);
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1;
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// A summary to log now: `Some(n)` when `n > 0` messages were left out
    /// and nothing was logged for [`SUMMARY_EVERY`] (the count is then
    /// taken). Call it on a timer: it keeps a source that never gets a
    /// token from being silent for longer.
    pub fn summary_due(&mut self, now: Instant) -> Option<u64> {
        if self.suppressed == 0 {
            return None;
        }
        let last = *self.last_report.get_or_insert(now);
        if now.saturating_duration_since(last) < SUMMARY_EVERY {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Takes the count of messages left out and not yet reported (for a
    /// last summary when the source goes away).
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }

    /// [`LogLimiter::check`] at the current instant.
    pub fn check_now(&mut self) -> Option<u64> {
        self.check(Instant::now())
    }

    /// The condition cleared: the bucket is full again, so the next
    /// occurrences log at once. Messages left out and not yet reported
    /// stay counted.
    pub fn reset(&mut self) {
        self.tokens = self.burst;
        self.last_refill = None;
    }

    /// Messages left out and not yet reported.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_interval_with_the_count_then_at_once_after_a_reset() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.check(t0), Some(0));
        assert_eq!(l.check(t0 + Duration::from_secs(1)), None);
        assert_eq!(l.check(t0 + Duration::from_secs(2)), None);
        assert_eq!(l.check(t0 + Duration::from_secs(10)), Some(2));
        l.reset();
        assert_eq!(l.check(t0 + Duration::from_secs(11)), Some(0));
        assert_eq!(l.check(t0 + Duration::from_secs(12)), None);
    }

    #[test]
    fn the_interval_counts_from_the_last_message_logged() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.check(t0), Some(0));
        assert_eq!(l.check(t0 + Duration::from_secs(25)), Some(0));
        assert_eq!(l.check(t0 + Duration::from_secs(34)), None);
        assert_eq!(l.check(t0 + Duration::from_secs(35)), Some(1));
    }

    #[test]
    fn a_reset_keeps_the_count_of_what_was_left_out() {
        let mut l = LogLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(l.check(t0), Some(0));
        assert_eq!(l.check(t0), None);
        assert_eq!(l.suppressed(), 1);
        l.reset();
        assert_eq!(l.check(t0), Some(1));
    }

    #[test]
    fn burst_then_one_per_refill_with_the_count_of_those_left_out() {
        let mut budget = LogLimiter::with_burst(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(budget.check(t0), Some(0));
        assert_eq!(budget.check(t0), Some(0));
        assert_eq!(budget.check(t0), Some(0));
        assert_eq!(budget.check(t0 + Duration::from_secs(1)), None);
        assert_eq!(budget.check(t0 + Duration::from_secs(2)), None);
        assert_eq!(budget.suppressed(), 2);
        assert_eq!(budget.check(t0 + Duration::from_secs(11)), Some(2));
        assert_eq!(budget.check(t0 + Duration::from_secs(12)), None);
        // A long quiet spell refills the whole burst, no more.
        let later = t0 + Duration::from_secs(1000);
        assert_eq!(budget.check(later), Some(1));
        assert_eq!(budget.check(later), Some(0));
        assert_eq!(budget.check(later), Some(0));
        assert_eq!(budget.check(later), None);
    }

    #[test]
    fn a_summary_is_due_every_minute_while_messages_are_left_out() {
        // 10 lines, then one every 10 minutes: without summaries a steady
        // flood would be silent for 10 minutes at a time.
        let mut budget = LogLimiter::with_burst(10, Duration::from_secs(600));
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(budget.check(t0), Some(0));
        }
        assert_eq!(budget.summary_due(t0), None, "nothing left out yet");
        let mut summaries = Vec::new();
        for second in 1..=300u64 {
            let now = t0 + Duration::from_secs(second);
            for _ in 0..100 {
                assert_eq!(budget.check(now), None);
            }
            if let Some(n) = budget.summary_due(now) {
                summaries.push((second, n));
            }
        }
        assert_eq!(
            summaries,
            vec![
                (60, 6000),
                (120, 6000),
                (180, 6000),
                (240, 6000),
                (300, 6000)
            ]
        );
        // The next token reports only what came after the last summary.
        let later = t0 + Duration::from_secs(600);
        assert_eq!(budget.check(later), Some(0));
        assert_eq!(budget.summary_due(later), None);
        assert_eq!(budget.check(later), None);
        assert_eq!(budget.take_suppressed(), 1);
        assert_eq!(budget.summary_due(later + SUMMARY_EVERY), None);
    }

    #[test]
    fn a_zero_interval_limits_nothing() {
        let t0 = Instant::now();
        for mut l in [
            LogLimiter::new(Duration::ZERO),
            LogLimiter::with_burst(2, Duration::ZERO),
        ] {
            for _ in 0..5 {
                assert_eq!(l.check(t0), Some(0));
            }
        }
    }
}
