//! Window queries over a dimension's ring: `SlotWindow` (which slots hold a
//! time range, across the ring's wrap-around), `WindowAggregate` (sum and
//! count, skipping empty slots) and `StoredPoint`.

/// One stored point: its grid time (seconds) and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredPoint {
    pub time: i64,
    pub value: f64,
}

/// A run of `count` consecutive grid times starting at `first_t`, held in
/// the ring from `first_slot` on (wrapping at `history`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWindow {
    pub first_slot: usize,
    pub count: usize,
    pub first_t: i64,
    pub step: i64,
    pub history: usize,
}

impl SlotWindow {
    /// Grid time of the newest point in the window.
    pub fn last_t(&self) -> i64 {
        self.first_t + (self.count as i64 - 1) * self.step
    }

    /// The window's ring slots, oldest first.
    #[inline]
    pub fn slots(&self) -> impl Iterator<Item = usize> {
        let (a, b) = self.ranges();
        a.chain(b)
    }

    /// The window's slots as at most two contiguous ranges of the ring.
    #[inline]
    fn ranges(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let end = self.first_slot + self.count;
        if end <= self.history {
            (self.first_slot..end, 0..0)
        } else {
            (self.first_slot..self.history, 0..end - self.history)
        }
    }
}

/// Sum and count of the stored points of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowAggregate {
    pub sum: f64,
    pub count: usize,
}

impl WindowAggregate {
    /// The mean of the points, or `None` when the window held none.
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The sum of the points, or `None` when the window held none.
    pub fn sum(&self) -> Option<f64> {
        (self.count > 0).then_some(self.sum)
    }
}
