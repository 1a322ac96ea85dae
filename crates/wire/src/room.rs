//! `Room`: appending to a byte buffer with fixed-size stores.
//!
//! A metric line is a handful of short pieces (a cached name, a number, a
//! timestamp). Appending each with `extend_from_slice` costs a length check
//! and, for a length not known at compile time, a `memcpy` call, which is
//! more than the piece itself. A [`Room`] instead writes every piece as one
//! or a few fixed-size arrays (a register or two each) into the buffer's
//! spare capacity, and then counts only the bytes that belong to the piece:
//! the excess is overwritten by the next piece or left beyond the end.
//!
//! This module holds the crate's `unsafe` stores; the line writers in
//! [`crate::format`] call its unchecked ones after one reservation per line.
//! It is sound because a `Room` only ever counts bytes it has written: every
//! store of `N` bytes at the current end advances the end by at most `N`,
//! the capacity is checked (and grown) before every checked store and once
//! per line for the unchecked ones (whose callers add up their sizes), and
//! the buffer's length is set to that end when the `Room` is dropped.
//!
//! The module is private to the crate: its unchecked stores are only sound
//! under the line writers' reservations, so nothing outside `wire` can
//! reach them.

/// Bytes a padded source must hold beyond the piece copied from it: see
/// [`Room::put_padded`]. A piece up to this long is copied with one
/// fixed-size store.
pub const PADDING: usize = 64;

/// The copy unit of longer padded pieces.
const CHUNK: usize = 16;

/// Appends to a `Vec<u8>` through fixed-size stores; the vector's length is
/// updated when the `Room` is dropped.
///
/// The write position and the end of the allocation are kept as pointers,
/// so that once a line's code is inlined they live in registers: a piece
/// costs its stores, a compare and an add.
pub struct Room<'a> {
    buf: &'a mut Vec<u8>,
    /// The end of what has been appended so far: every byte of the buffer
    /// before it is initialized.
    end: *mut u8,
    /// The end of the buffer's allocation.
    limit: *mut u8,
}

impl<'a> Room<'a> {
    /// Starts appending at the end of `buf`.
    #[inline(always)]
    pub fn new(buf: &'a mut Vec<u8>) -> Room<'a> {
        let len = buf.len();
        let capacity = buf.capacity();
        let start = buf.as_mut_ptr();
        // SAFETY: `len <= capacity`, both within (or one past) the allocation.
        let (end, limit) = unsafe { (start.add(len), start.add(capacity)) };
        Room { buf, end, limit }
    }

    /// Bytes that fit before the buffer must grow.
    #[inline(always)]
    fn spare(&self) -> usize {
        self.limit as usize - self.end as usize
    }

    /// Bytes appended so far, counting what the buffer held before.
    #[inline]
    fn len(&self) -> usize {
        self.end as usize - self.buf.as_ptr() as usize
    }

    /// Makes sure `additional` more bytes fit without growing on the way.
    #[inline(always)]
    pub fn reserve(&mut self, additional: usize) {
        if self.spare() < additional {
            self.grow(additional);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, additional: usize) {
        let len = self.len();
        // SAFETY: every byte before `end` has been written (see `put_array`).
        unsafe { self.buf.set_len(len) };
        self.buf.reserve(additional.max(4096));
        let start = self.buf.as_mut_ptr();
        let capacity = self.buf.capacity();
        // SAFETY: `len <= capacity` of the (possibly moved) allocation.
        unsafe {
            self.end = start.add(len);
            self.limit = start.add(capacity);
        }
    }

    /// Writes all `N` bytes of `bytes` at the end and keeps the first `keep`
    /// of them (`keep` is capped at `N`): the rest may be overwritten by
    /// the next piece.
    #[inline(always)]
    pub fn put_array<const N: usize>(&mut self, bytes: [u8; N], keep: usize) {
        self.reserve(N);
        // SAFETY: `reserve` made `end + N <= limit`, so the `N` bytes written
        // are inside the buffer's allocation; an unaligned write of a byte
        // array is always allowed. Only written bytes are ever counted.
        unsafe {
            std::ptr::write_unaligned(self.end.cast::<[u8; N]>(), bytes);
            self.end = self.end.add(keep.min(N));
        }
    }

    /// [`Self::put_array`] without the capacity check: a line's code
    /// reserves once for all its pieces and then stores them.
    ///
    /// # Safety
    ///
    /// `keep <= N`, and since the last [`Self::reserve`]`(n)` the sizes `N`
    /// of all the unchecked stores made, this one included, add up to at
    /// most `n`.
    #[inline(always)]
    pub unsafe fn put_array_unchecked<const N: usize>(&mut self, bytes: [u8; N], keep: usize) {
        debug_assert!(self.spare() >= N && keep <= N);
        // SAFETY: the caller's reservation covers these `N` bytes, and only
        // written bytes are counted (`keep <= N`).
        unsafe {
            std::ptr::write_unaligned(self.end.cast::<[u8; N]>(), bytes);
            self.end = self.end.add(keep);
        }
    }

    /// [`Self::put_padded`] without the capacity check: one store of
    /// [`PADDING`] bytes for a piece up to that long, else 16-byte chunks.
    ///
    /// # Safety
    ///
    /// As for [`Self::put_array_unchecked`], counting `len + PADDING` bytes
    /// (at least what is stored).
    ///
    /// # Panics
    ///
    /// If `source` holds fewer than `len + PADDING` bytes.
    #[inline(always)]
    pub unsafe fn put_padded_unchecked(&mut self, source: &[u8], len: usize) {
        assert!(
            len <= source.len().saturating_sub(PADDING),
            "put_padded: source is not padded"
        );
        // Short pieces (a dimension's part, a chart's head) with as few
        // stores as cover them: every store costs, and more so across a
        // cache line.
        if len <= CHUNK {
            // SAFETY: `source` holds at least `PADDING >= CHUNK` bytes.
            let block = unsafe { std::ptr::read_unaligned(source.as_ptr().cast::<[u8; CHUNK]>()) };
            // SAFETY: the caller reserved `len + PADDING >= CHUNK` bytes.
            unsafe { self.put_array_unchecked(block, len) };
            return;
        }
        if len <= 2 * CHUNK {
            // SAFETY: `source` holds at least `PADDING >= 2 * CHUNK` bytes.
            let block =
                unsafe { std::ptr::read_unaligned(source.as_ptr().cast::<[u8; 2 * CHUNK]>()) };
            // SAFETY: the caller reserved `len + PADDING >= 2 * CHUNK` bytes.
            unsafe { self.put_array_unchecked(block, len) };
            return;
        }
        if len <= PADDING {
            // SAFETY: `source` holds at least `PADDING` bytes.
            let block =
                unsafe { std::ptr::read_unaligned(source.as_ptr().cast::<[u8; PADDING]>()) };
            // SAFETY: the caller reserved `len + PADDING >= PADDING` bytes.
            unsafe { self.put_array_unchecked(block, len) };
            return;
        }
        let mut at = 0;
        while at < len {
            // SAFETY: `at < len`, so `at + CHUNK <= len + PADDING <= source.len()`.
            let chunk =
                unsafe { std::ptr::read_unaligned(source.as_ptr().add(at).cast::<[u8; CHUNK]>()) };
            // SAFETY: the caller reserved `len + PADDING` bytes, more than
            // the chunks reach (`len + CHUNK - 1`); `keep <= CHUNK`.
            unsafe { self.put_array_unchecked(chunk, (len - at).min(CHUNK)) };
            at += CHUNK;
        }
    }

    /// Hints the CPU to fetch the buffer's cache line `ahead` bytes past
    /// the end, so that a long run of appends does not wait on each new
    /// line of a buffer that has left the cache. Only a hint: it reads
    /// nothing and cannot fault.
    #[inline(always)]
    pub fn prefetch(&self, ahead: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let at = self.end.wrapping_add(ahead);
            // SAFETY: a prefetch has no effect on memory and cannot fault,
            // whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    at.cast_const().cast::<i8>(),
                )
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = ahead;
    }

    /// Appends one byte.
    #[inline(always)]
    pub fn put_byte(&mut self, byte: u8) {
        self.put_array([byte], 1);
    }

    /// Appends the first `len` bytes of `source`, copied 16 at a time:
    /// `source` must hold the piece followed by [`PADDING`] bytes of
    /// anything (the copy reads some of them and keeps none).
    ///
    /// # Panics
    ///
    /// If `source` is shorter than `len` rounded up to 16 bytes (a missing
    /// padding is a bug of the caller).
    #[inline(always)]
    pub fn put_padded(&mut self, source: &[u8], len: usize) {
        let mut at = 0;
        while at < len {
            let chunk: [u8; CHUNK] = match source.get(at..at + CHUNK) {
                Some(chunk) => chunk.try_into().unwrap_or([0; CHUNK]),
                None => panic!("put_padded: source is not padded"),
            };
            self.put_array(chunk, len - at);
            at += CHUNK;
        }
    }

    /// Appends `bytes` (a plain copy, for pieces without padding).
    #[inline(always)]
    pub fn put_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        // SAFETY: `reserve` made room for `bytes.len()` bytes after `end`; a
        // shared slice cannot overlap the spare capacity of the `Vec` we
        // hold exclusively.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.end, bytes.len());
            self.end = self.end.add(bytes.len());
        }
    }
}

impl Drop for Room<'_> {
    #[inline]
    fn drop(&mut self) {
        let len = self.len();
        // SAFETY: every byte before `end` has been written, and `end` is
        // within the allocation.
        unsafe { self.buf.set_len(len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Piece {
        Array(Vec<u8>, usize),
        Padded(Vec<u8>, usize),
        PaddedUnchecked(Vec<u8>, usize),
        Slice(Vec<u8>),
        Byte(u8),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            (prop::collection::vec(any::<u8>(), 16..=16), 0usize..20)
                .prop_map(|(v, k)| Piece::Array(v, k)),
            prop::collection::vec(any::<u8>(), 0..100).prop_flat_map(|v| {
                let n = v.len();
                (Just(v), 0..=n).prop_map(|(v, k)| Piece::Padded(v, k))
            }),
            prop::collection::vec(any::<u8>(), 0..150).prop_flat_map(|v| {
                let n = v.len();
                (Just(v), 0..=n).prop_map(|(v, k)| Piece::PaddedUnchecked(v, k))
            }),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Piece::Slice),
            any::<u8>().prop_map(Piece::Byte),
        ]
    }

    proptest! {
        /// Whatever the pieces and the starting capacity, the buffer ends up
        /// holding exactly the kept bytes, in order.
        #[test]
        fn appends_exactly_the_kept_bytes(
            start in prop::collection::vec(any::<u8>(), 0..40),
            spare in 0usize..64,
            pieces in prop::collection::vec(piece(), 0..40),
        ) {
            let mut buf = Vec::with_capacity(start.len() + spare);
            buf.extend_from_slice(&start);
            let mut expected = start.clone();
            {
                let mut room = Room::new(&mut buf);
                for p in &pieces {
                    match p {
                        Piece::Array(v, keep) => {
                            let a: [u8; 16] = v.as_slice().try_into().unwrap();
                            room.put_array(a, *keep);
                            expected.extend_from_slice(&v[..(*keep).min(16)]);
                        }
                        Piece::Padded(v, len) => {
                            let mut padded = v.clone();
                            padded.extend_from_slice(&[0xEE; PADDING]);
                            room.put_padded(&padded, *len);
                            expected.extend_from_slice(&v[..*len]);
                        }
                        Piece::PaddedUnchecked(v, len) => {
                            let mut padded = v.clone();
                            padded.extend_from_slice(&[0xEE; PADDING]);
                            room.reserve(len + PADDING);
                            // SAFETY: reserved what the call may store.
                            unsafe { room.put_padded_unchecked(&padded, *len) };
                            expected.extend_from_slice(&v[..*len]);
                        }
                        Piece::Slice(v) => {
                            room.put_slice(v);
                            expected.extend_from_slice(v);
                        }
                        Piece::Byte(b) => {
                            room.put_byte(*b);
                            expected.push(*b);
                        }
                    }
                }
            }
            prop_assert_eq!(buf, expected);
        }
    }

    #[test]
    fn a_piece_keeps_only_its_bytes() {
        let mut buf = b"a".to_vec();
        {
            let mut room = Room::new(&mut buf);
            room.put_array(*b"bcdefgh!", 6); // keeps "bcdefg"
            room.put_padded(b"xyz-and-some-padding", 3);
        }
        assert_eq!(buf, b"abcdefgxyz");
    }

    #[test]
    #[should_panic(expected = "not padded")]
    fn an_unpadded_source_is_refused() {
        let mut buf = Vec::new();
        let mut room = Room::new(&mut buf);
        room.put_padded(b"short", 5);
    }
}
