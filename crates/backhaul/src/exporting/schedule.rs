//! When an instance wakes: at each multiple of its update every, plus a
//! per-instance random offset within the first quarter of the interval, so
//! a fleet of agents does not send in the same millisecond.

use rand::Rng;

const USEC_PER_SEC: u64 = 1_000_000;

/// An instance's wake-up grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    step_ut: u64,
    offset_ut: u64,
}

impl Schedule {
    /// A schedule every `update_every` seconds with a random offset in
    /// `[0, update_every / 4)`.
    pub fn new(update_every: u32) -> Schedule {
        let step_ut = u64::from(update_every.max(1)) * USEC_PER_SEC;
        let offset_ut = rand::thread_rng().gen_range(0..(step_ut / 4).max(1));
        Schedule { step_ut, offset_ut }
    }

    /// A schedule with a fixed offset (tests, `export --once`).
    pub fn with_offset(update_every: u32, offset_ut: u64) -> Schedule {
        let step_ut = u64::from(update_every.max(1)) * USEC_PER_SEC;
        Schedule {
            step_ut,
            offset_ut: offset_ut.min(step_ut / 4),
        }
    }

    pub fn offset_ut(&self) -> u64 {
        self.offset_ut
    }

    /// The next wake-up strictly after `now_ut`, and the interval boundary
    /// (in seconds) it belongs to: the `before` of the window it exports.
    pub fn next_after(&self, now_ut: u64) -> (u64, i64) {
        let boundary = now_ut - now_ut % self.step_ut;
        let mut wake = boundary + self.offset_ut;
        if wake <= now_ut {
            wake += self.step_ut;
        }
        let before = (wake - self.offset_ut) / USEC_PER_SEC;
        (wake, before as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_within_the_first_quarter() {
        for ue in [1, 2, 10, 60] {
            for _ in 0..200 {
                let s = Schedule::new(ue);
                assert!(s.offset_ut() < u64::from(ue) * USEC_PER_SEC / 4);
            }
        }
    }

    #[test]
    fn wakes_after_the_boundary_plus_offset() {
        let s = Schedule::with_offset(10, 1_500_000);
        // At 1000.2 s the next wake is 1001.5 s? No: the grid is 10 s.
        assert_eq!(s.next_after(1_000_200_000), (1_001_500_000, 1000));
        assert_eq!(s.next_after(1_001_500_000), (1_011_500_000, 1010));
        assert_eq!(s.next_after(1_005_000_000), (1_011_500_000, 1010));
    }

    #[test]
    fn instances_spread_out() {
        let offsets: std::collections::HashSet<u64> =
            (0..50).map(|_| Schedule::new(10).offset_ut()).collect();
        assert!(offsets.len() > 40);
    }
}
