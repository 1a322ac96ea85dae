//! `LogBudget`: a token bucket for one kind of repeating log message of one
//! plugin (its stderr lines, its parse errors, its unknown dimensions...),
//! so a plugin that misbehaves on every line costs a few log lines a minute,
//! not one per line. What was left out is counted and reported with the
//! next message that gets through.

use std::time::{Duration, Instant};

/// A token bucket: `burst` messages at once, then one every `refill`.
#[derive(Debug, Clone)]
pub struct LogBudget {
    burst: u32,
    refill: Duration,
    tokens: u32,
    last_refill: Option<Instant>,
    suppressed: u64,
}

impl LogBudget {
    /// Up to `burst` messages at once, then one more every `refill`.
    pub fn new(burst: u32, refill: Duration) -> LogBudget {
        LogBudget {
            burst: burst.max(1),
            refill,
            tokens: burst.max(1),
            last_refill: None,
            suppressed: 0,
        }
    }

    /// Whether a message may be logged at `now`. `Some(n)`: log it, and
    /// mention the `n` messages left out since the last one that was
    /// logged; `None`: stay quiet (the message is counted).
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let last = *self.last_refill.get_or_insert(now);
        if !self.refill.is_zero() && self.tokens < self.burst {
            let elapsed = now.saturating_duration_since(last);
            let earned = elapsed.as_nanos() / self.refill.as_nanos().max(1);
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
        Some(std::mem::take(&mut self.suppressed))
    }

    /// [`LogBudget::allow`] at the current instant.
    pub fn allow_now(&mut self) -> Option<u64> {
        self.allow(Instant::now())
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
    fn burst_then_one_per_refill_with_the_count_of_those_left_out() {
        let mut budget = LogBudget::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(budget.allow(t0), Some(0));
        assert_eq!(budget.allow(t0), Some(0));
        assert_eq!(budget.allow(t0), Some(0));
        assert_eq!(budget.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(budget.allow(t0 + Duration::from_secs(2)), None);
        assert_eq!(budget.suppressed(), 2);
        assert_eq!(budget.allow(t0 + Duration::from_secs(11)), Some(2));
        assert_eq!(budget.allow(t0 + Duration::from_secs(12)), None);
        // A long quiet spell refills the whole burst, no more.
        let later = t0 + Duration::from_secs(1000);
        assert_eq!(budget.allow(later), Some(1));
        assert_eq!(budget.allow(later), Some(0));
        assert_eq!(budget.allow(later), Some(0));
        assert_eq!(budget.allow(later), None);
    }
}
