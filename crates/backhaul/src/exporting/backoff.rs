//! Reconnect pacing: a `RetryPolicy` trait and the exponential backoff with
//! jitter that instances use (from 1 s, doubling, capped at the instance's
//! update every).

use std::time::Duration;

use rand::Rng;

/// Decides how long to wait before the next connection attempt.
pub trait RetryPolicy: Send {
    /// The delay after one more consecutive failure.
    fn next_delay(&mut self) -> Duration;
    /// A connection succeeded: start again from the shortest delay.
    fn reset(&mut self);
}

/// Exponential backoff: `initial`, `2 × initial`, ... up to `max`, each
/// delay drawn uniformly from its upper half (so peers do not synchronise).
#[derive(Debug, Clone)]
pub struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl ExponentialBackoff {
    pub fn new(initial: Duration, max: Duration) -> ExponentialBackoff {
        let max = max.max(initial);
        ExponentialBackoff {
            initial,
            max,
            current: initial,
        }
    }
}

impl RetryPolicy for ExponentialBackoff {
    fn next_delay(&mut self) -> Duration {
        let ceiling = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = ceiling / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_micros() as u64);
        half + Duration::from_micros(jitter)
    }

    fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let ceilings = [1, 2, 4, 8, 10, 10, 10];
        for c in ceilings {
            let d = b.next_delay();
            let c = Duration::from_secs(c);
            assert!(d >= c / 2 && d <= c, "{d:?} not in [{:?}, {c:?}]", c / 2);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn never_zero() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(1), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(b.next_delay() >= Duration::from_millis(500));
        }
    }
}
