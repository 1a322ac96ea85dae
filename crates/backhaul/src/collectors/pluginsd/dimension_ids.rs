//! `DimensionIds`: one cached chart's dimension ids, in `DIMENSION` order,
//! laid out for the `SET` path.
//!
//! A plugin (or a streaming child) sends a chart's `SET`s in the order of
//! its `DIMENSION`s every round, so a `SET` is first checked against the
//! dimension after the previous one: a comparison of the id with the bytes
//! kept at that position. All ids of a chart sit end to end in one block,
//! and each position's end and store index in one array,
//! so a round reads both forward through memory (the prefetcher's case)
//! instead of chasing one heap pointer per dimension. A `SET` that names
//! another dimension is found by a hash lookup.

use std::collections::HashMap;

use rrd::DimIndex;

/// How many positions ahead of a `SET` the next ones' entries are asked
/// for (four entries share a cache line).
const HINTS_AHEAD: usize = 8;

/// One position: where its id ends in the block, and its store index.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id_end: usize,
    index: DimIndex,
}

/// A chart's dimension ids and store indexes (see the [module docs](self)).
#[derive(Debug, Default)]
pub(super) struct DimensionIds {
    /// All ids, end to end, in position order.
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    by_id: HashMap<Box<[u8]>, usize>,
}

impl DimensionIds {
    /// Adds a dimension at the next position (the caller checked the id
    /// is new) and returns that position.
    pub(super) fn push(&mut self, id: &[u8], index: DimIndex) -> usize {
        let position = self.entries.len();
        self.bytes.extend_from_slice(id);
        self.entries.push(Entry {
            id_end: self.bytes.len(),
            index,
        });
        self.by_id.insert(id.into(), position);
        position
    }

    /// Hints that `SET`s for this chart are coming (see
    /// [`crate::sys::prefetch`]): the first positions' entries and ids;
    /// each [`DimensionIds::find`] that hits its guess asks for those a
    /// little further on, so the loads are spread over the round instead
    /// of queued all at once.
    pub(super) fn prefetch(&self) {
        crate::sys::prefetch(&self.entries[..self.entries.len().min(HINTS_AHEAD)]);
        crate::sys::prefetch(&self.bytes[..self.bytes.len().min(64)]);
    }

    /// The position of the dimension with this id, by hash.
    pub(super) fn position(&self, id: &[u8]) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The store index of the dimension at `position`.
    pub(super) fn index(&self, position: usize) -> DimIndex {
        self.entries[position].index
    }

    /// Changes the store index at `position` (the chart gave another).
    pub(super) fn set_index(&mut self, position: usize, index: DimIndex) {
        self.entries[position].index = index;
    }

    /// The dimension with this id, `guess` tried first: its position and
    /// store index.
    #[inline]
    pub(super) fn find(&self, id: &[u8], guess: usize) -> Option<(usize, DimIndex)> {
        if let Some(entry) = self.entries.get(guess) {
            let start = match guess {
                0 => 0,
                _ => self.entries[guess - 1].id_end,
            };
            if bytes_equal(&self.bytes[start..entry.id_end], id) {
                // The positions a few `SET`s ahead.
                crate::sys::prefetch_at(&self.entries, guess + HINTS_AHEAD);
                crate::sys::prefetch_at(&self.bytes, entry.id_end + 64);
                return Some((guess, entry.index));
            }
        }
        let position = self.position(id)?;
        Some((position, self.index(position)))
    }
}

/// Byte equality for short slices without a call into `memcmp`: eight
/// bytes at a time, then the tail.
#[inline(always)]
fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    for (x, y) in (&mut a_words).zip(&mut b_words) {
        if word(x) != word(y) {
            return false;
        }
    }
    a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .all(|(x, y)| x == y)
}

/// Eight bytes (the caller's chunk has exactly eight) as one word.
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_ne_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_by_guess_and_by_hash() {
        let mut ids = DimensionIds::default();
        assert_eq!(ids.push(b"user", 3), 0);
        assert_eq!(ids.push(b"system", 1), 1);
        assert_eq!(ids.push(b"a much longer dimension id", 0), 2);
        assert_eq!(ids.find(b"user", 0), Some((0, 3)));
        assert_eq!(ids.find(b"system", 1), Some((1, 1)));
        assert_eq!(ids.find(b"a much longer dimension id", 2), Some((2, 0)));
        // Wrong guesses, and a guess past the end, fall back to the hash.
        assert_eq!(ids.find(b"user", 2), Some((0, 3)));
        assert_eq!(ids.find(b"system", 3), Some((1, 1)));
        assert_eq!(ids.find(b"nice", 0), None);
        assert_eq!(ids.find(b"use", 0), None);
        assert_eq!(ids.find(b"", 0), None);
        ids.set_index(1, 7);
        assert_eq!(ids.find(b"system", 1), Some((1, 7)));
        assert_eq!(ids.index(1), 7);
        assert_eq!(ids.position(b"a much longer dimension id"), Some(2));
    }

    #[test]
    fn empty_id_is_an_id() {
        let mut ids = DimensionIds::default();
        ids.push(b"", 0);
        ids.push(b"x", 1);
        assert_eq!(ids.find(b"", 0), Some((0, 0)));
        assert_eq!(ids.find(b"x", 1), Some((1, 1)));
        assert_eq!(ids.find(b"x", 0), Some((1, 1)));
    }

    proptest! {
        #[test]
        fn bytes_equal_is_slice_equality(
            a in proptest::collection::vec(any::<u8>(), 0..40),
            b in proptest::collection::vec(any::<u8>(), 0..40),
            flip in any::<prop::sample::Index>(),
        ) {
            prop_assert_eq!(bytes_equal(&a, &b), a == b);
            prop_assert!(bytes_equal(&a, &a));
            if !a.is_empty() {
                let mut c = a.clone();
                c[flip.index(a.len())] ^= 1;
                prop_assert!(!bytes_equal(&a, &c));
            }
        }

        /// Whatever the guess, `find` answers what a hash map of the ids
        /// answers.
        #[test]
        fn find_agrees_with_a_map(
            ids in proptest::collection::btree_set("[a-z0-9_]{0,20}", 1..30),
            probes in proptest::collection::vec(("[a-z0-9_]{0,20}", 0usize..32), 0..40),
        ) {
            let mut table = DimensionIds::default();
            let mut map = HashMap::new();
            for (n, id) in ids.iter().enumerate() {
                table.push(id.as_bytes(), n * 2);
                map.insert(id.clone(), (n, n * 2));
            }
            for (n, id) in ids.iter().enumerate() {
                prop_assert_eq!(table.find(id.as_bytes(), n), Some((n, n * 2)));
            }
            for (probe, guess) in probes {
                prop_assert_eq!(table.find(probe.as_bytes(), guess), map.get(&probe).copied());
            }
        }
    }
}
