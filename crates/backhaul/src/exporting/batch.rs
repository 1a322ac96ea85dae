//! `BatchRing`: the bounded ring of batches an instance has not yet seen
//! acknowledged (`buffer on failures`), with byte-exact resumption.
//!
//! The ring is one byte stream made of whole batches, with two positions
//! measured from the start of the front batch:
//!
//! * `written`: bytes handed to the current connection. A partial write
//!   resumes exactly here, so nothing is written twice on one connection.
//! * `acked`: bytes the peer's TCP stack acknowledged (the caller learns it
//!   from the socket's send queue). A batch leaves the ring, counted as sent,
//!   only when all of it is acknowledged.
//!
//! When the connection is lost, [`BatchRing::connection_lost`] moves
//! `written` back to the start of the line that holds `acked`: the receiver
//! drops an unterminated line with its connection, so that line is sent whole
//! on the next one, and lines already acknowledged are not sent again.
//!
//! The ring is bounded twice: at most `capacity` batches (`buffer on
//! failures`) and at most `max_bytes` bytes (`buffer on failures max
//! bytes`; one batch is kept whatever its size). An instance that replays
//! from the store asks [`BatchRing::has_room`] before it builds, so its
//! ring never overflows. Otherwise, while the ring is over either bound,
//! one batch is dropped and counted as lost: the oldest one that is not
//! half-written (dropping a half-written batch would cut a line on the
//! wire).

use std::collections::VecDeque;

/// One interval's formatted lines.
#[derive(Debug, Default)]
pub struct Batch {
    pub bytes: Vec<u8>,
    /// Number of metric lines in `bytes`.
    pub metrics: usize,
    /// The end of the interval it was built for (seconds since the epoch;
    /// 0 when not given): its lag is measured from here.
    pub at_s: i64,
}

impl Batch {
    pub fn new(bytes: Vec<u8>, metrics: usize) -> Batch {
        Batch {
            bytes,
            metrics,
            at_s: 0,
        }
    }

    /// The same batch, built for the interval ending at `at_s` (seconds
    /// since the epoch): the time of its points.
    pub fn at(mut self, at_s: i64) -> Batch {
        self.at_s = at_s;
        self
    }
}

/// What dropping batches cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    /// Batches dropped.
    pub batches: usize,
    pub metrics: usize,
    pub bytes: usize,
}

/// Batches that left the ring because they were acknowledged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub batches: usize,
    pub metrics: usize,
}

/// The next request's worth of a batch (HTTP delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// Whole lines, from the first unacknowledged byte of the front batch.
    pub bytes: &'a [u8],
    /// The first line alone is longer than the limit (`bytes` is that line).
    pub oversize: bool,
    /// The part reaches the end of its batch.
    pub batch_end: bool,
}

/// A bounded FIFO of batches with write and acknowledgement positions.
#[derive(Debug)]
pub struct BatchRing {
    batches: VecDeque<Batch>,
    capacity: usize,
    max_bytes: usize,
    /// Bytes of all batches held (acknowledged parts included).
    total: usize,
    written: usize,
    acked: usize,
    /// The buffer of the last delivered batch, kept for the next batch: a
    /// batch is megabytes, and a fresh allocation every interval costs a
    /// page fault per page.
    spare: Option<Vec<u8>>,
}

impl BatchRing {
    /// A ring holding at most `capacity` batches (at least 1).
    pub fn new(capacity: usize) -> BatchRing {
        let capacity = capacity.max(1);
        BatchRing {
            batches: VecDeque::with_capacity(capacity + 1),
            capacity,
            max_bytes: usize::MAX,
            total: 0,
            written: 0,
            acked: 0,
            spare: None,
        }
    }

    /// An empty buffer for the next batch: the largest delivered since the
    /// last call, when there is one, else a new one of `capacity`.
    pub fn take_buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare.take() {
            Some(mut buffer) => {
                buffer.clear();
                buffer.reserve(capacity);
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// The same ring, also bounded to `max_bytes` bytes of batches (one
    /// batch is kept whatever its size).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> BatchRing {
        self.max_bytes = max_bytes.max(1);
        self
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Whether one more batch fits: fewer than `capacity` batches and
    /// fewer than `max_bytes` bytes held (an empty ring always has room).
    pub fn has_room(&self) -> bool {
        self.batches.is_empty()
            || (self.batches.len() < self.capacity && self.total < self.max_bytes)
    }

    fn over_bounds(&self) -> bool {
        self.batches.len() > 1
            && (self.batches.len() > self.capacity || self.total > self.max_bytes)
    }

    /// Batches held (written or not).
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Whether bytes remain to be written.
    pub fn has_unwritten(&self) -> bool {
        self.written < self.total_bytes()
    }

    /// Bytes written on the current connection and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.written - self.acked
    }

    fn total_bytes(&self) -> usize {
        self.total
    }

    /// Metrics held and not yet acknowledged.
    pub fn buffered_metrics(&self) -> usize {
        self.batches.iter().map(|b| b.metrics).sum()
    }

    /// The time of the oldest batch held (not yet acknowledged whole), as
    /// given by [`Batch::at`]; `None` when the ring is empty.
    pub fn oldest_time(&self) -> Option<i64> {
        self.batches.front().map(|b| b.at_s)
    }

    /// The batches held, oldest first (the first may be partly
    /// acknowledged).
    pub fn batches(&self) -> impl Iterator<Item = &Batch> {
        self.batches.iter()
    }

    /// Bytes held and not yet acknowledged.
    pub fn buffered_bytes(&self) -> usize {
        self.total_bytes() - self.acked
    }

    /// Appends a batch; if that overflows the ring, drops batches (see the
    /// module documentation) and returns what was lost.
    pub fn push(&mut self, batch: Batch) -> Option<Loss> {
        if batch.bytes.is_empty() {
            return None;
        }
        self.total += batch.bytes.len();
        self.batches.push_back(batch);
        let mut loss: Option<Loss> = None;
        while self.over_bounds() {
            let Some(one) = self.drop_one() else { break };
            let l = loss.get_or_insert_with(Loss::default);
            l.batches += 1;
            l.metrics += one.metrics;
            l.bytes += one.bytes;
        }
        loss
    }

    /// Appends a batch without dropping any: for a caller that asked
    /// [`Self::has_room`] first (so the ring holds at most `capacity`
    /// batches, and at most `max_bytes` plus that one batch's bytes).
    pub fn append(&mut self, batch: Batch) {
        if batch.bytes.is_empty() {
            return;
        }
        self.total += batch.bytes.len();
        self.batches.push_back(batch);
    }

    /// Drops the oldest batch that is fully written or not started at all.
    fn drop_one(&mut self) -> Option<Loss> {
        let mut start = 0;
        let mut victim = 0;
        for (i, b) in self.batches.iter().enumerate() {
            let end = start + b.bytes.len();
            if end <= self.written || start >= self.written {
                victim = i;
                break;
            }
            start = end;
        }
        let dropped = self.batches.remove(victim)?;
        let len = dropped.bytes.len();
        self.total -= len;
        let mut lost_bytes = len;
        if start + len <= self.written {
            // It was on the wire; forget it, keeping later positions.
            let acked_in_it = self.acked.saturating_sub(start).min(len);
            lost_bytes -= acked_in_it;
            self.written -= len;
            self.acked -= acked_in_it;
        }
        Some(Loss {
            batches: 1,
            metrics: dropped.metrics,
            bytes: lost_bytes,
        })
    }

    /// The bytes to write next (the rest of the batch holding `written`);
    /// empty when everything is written.
    pub fn next_chunk(&self) -> &[u8] {
        let mut start = 0;
        for b in &self.batches {
            let end = start + b.bytes.len();
            if self.written < end {
                return &b.bytes[self.written - start..];
            }
            start = end;
        }
        &[]
    }

    /// Records that `n` bytes of [`Self::next_chunk`] were written.
    pub fn advance(&mut self, n: usize) {
        self.written = (self.written + n).min(self.total_bytes());
    }

    /// Records that the peer acknowledged `n` more bytes; batches acknowledged
    /// whole leave the ring.
    pub fn acknowledge(&mut self, n: usize) -> Delivered {
        self.acked = (self.acked + n).min(self.written);
        let mut delivered = Delivered::default();
        while let Some(front) = self.batches.front() {
            let len = front.bytes.len();
            if self.acked < len {
                break;
            }
            delivered.batches += 1;
            delivered.metrics += front.metrics;
            self.acked -= len;
            self.written -= len;
            self.total -= len;
            if let Some(done) = self.batches.pop_front() {
                if self
                    .spare
                    .as_ref()
                    .is_none_or(|s| s.capacity() < done.bytes.capacity())
                {
                    self.spare = Some(done.bytes);
                }
            }
        }
        delivered
    }

    /// The peer's send queue holds `outstanding` bytes: everything else we
    /// wrote is acknowledged.
    pub fn acknowledge_all_but(&mut self, outstanding: usize) -> Delivered {
        let newly = self.unacked().saturating_sub(outstanding);
        self.acknowledge(newly)
    }

    /// The whole lines that follow `written` in its batch, at most `limit`
    /// bytes of them, or the first line alone when it is longer (marked
    /// `oversize`); `None` when everything is written. For deliveries that
    /// acknowledge each part before writing the next ([`Self::complete`]).
    pub fn next_part(&self, limit: usize) -> Option<Part<'_>> {
        let chunk = self.next_chunk();
        if chunk.is_empty() {
            return None;
        }
        if chunk.len() <= limit {
            return Some(Part {
                bytes: chunk,
                oversize: false,
                batch_end: true,
            });
        }
        if let Some(last) = memchr::memrchr(b'\n', &chunk[..limit]) {
            return Some(Part {
                bytes: &chunk[..=last],
                oversize: false,
                batch_end: false,
            });
        }
        let end = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
        Some(Part {
            bytes: &chunk[..end],
            oversize: true,
            batch_end: end == chunk.len(),
        })
    }

    /// Bytes from `written` to the end of the line it stands in: 0 when
    /// `written` is at a line boundary (or everything is written).
    pub fn rest_of_line(&self) -> usize {
        let mut start = 0;
        for b in &self.batches {
            let end = start + b.bytes.len();
            if self.written < end {
                let at = self.written - start;
                if at == 0 || b.bytes[at - 1] == b'\n' {
                    return 0;
                }
                let rest = &b.bytes[at..];
                return memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            }
            start = end;
        }
        0
    }

    /// Bytes from `written` to the end of its batch.
    pub fn rest_of_batch(&self) -> usize {
        self.next_chunk().len()
    }

    /// `n` bytes were written and acknowledged at once (an HTTP response).
    pub fn complete(&mut self, n: usize) -> Delivered {
        self.advance(n);
        self.acknowledge(n)
    }

    /// The next `n` bytes, holding `lines` metrics, will never be
    /// delivered (rejected by the receiver): they leave the ring without
    /// counting as sent.
    pub fn reject(&mut self, n: usize, lines: usize) -> Delivered {
        let mut start = 0;
        for b in self.batches.iter_mut() {
            let end = start + b.bytes.len();
            if self.written < end {
                b.metrics = b.metrics.saturating_sub(lines);
                break;
            }
            start = end;
        }
        self.complete(n)
    }

    /// Empties the ring, returning what the receiver has not acknowledged,
    /// oldest first, from the start of the line holding the first
    /// unacknowledged byte (so no line is cut; that line may have reached
    /// the receiver).
    pub fn take_unacknowledged(&mut self) -> Vec<Batch> {
        self.connection_lost();
        let acked = self.acked;
        let mut out: Vec<Batch> = self.batches.drain(..).collect();
        if let Some(front) = out.first_mut() {
            if acked > 0 {
                let rest = front.bytes.split_off(acked.min(front.bytes.len()));
                let done = memchr::memchr_iter(b'\n', &front.bytes).count();
                front.metrics = front.metrics.saturating_sub(done);
                front.bytes = rest;
            }
        }
        out.retain(|b| !b.bytes.is_empty());
        self.total = 0;
        self.written = 0;
        self.acked = 0;
        out
    }

    /// The connection is gone: resume at the start of the line holding the
    /// first unacknowledged byte.
    pub fn connection_lost(&mut self) {
        let Some(front) = self.batches.front() else {
            self.written = 0;
            self.acked = 0;
            return;
        };
        let done = &front.bytes[..self.acked.min(front.bytes.len())];
        let line_start = done.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.acked = line_start;
        self.written = line_start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch(lines: &[&str]) -> Batch {
        let bytes: Vec<u8> = lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect();
        Batch::new(bytes, lines.len())
    }

    /// Writes and acknowledges everything, `step` bytes at a time.
    fn drain_all(ring: &mut BatchRing, step: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut metrics = 0;
        loop {
            let chunk = ring.next_chunk();
            if chunk.is_empty() {
                metrics += ring.acknowledge_all_but(0).metrics;
                return (out, metrics);
            }
            let n = chunk.len().min(step);
            out.extend_from_slice(&chunk[..n]);
            ring.advance(n);
            metrics += ring.acknowledge_all_but(0).metrics;
        }
    }

    #[test]
    fn a_batch_leaves_only_when_acknowledged() {
        let mut ring = BatchRing::new(3);
        ring.push(batch(&["a 1 1", "b 1 1"]));
        ring.push(batch(&["c 1 2"]));
        assert_eq!(ring.buffered_metrics(), 3);
        assert_eq!(ring.next_chunk(), b"a 1 1\nb 1 1\n");
        ring.advance(12);
        assert_eq!(ring.next_chunk(), b"c 1 2\n");
        ring.advance(6);
        assert!(!ring.has_unwritten());
        assert_eq!(ring.len(), 2);
        assert_eq!(
            ring.acknowledge_all_but(6),
            Delivered {
                batches: 1,
                metrics: 2
            }
        );
        assert_eq!(
            ring.acknowledge_all_but(0),
            Delivered {
                batches: 1,
                metrics: 1
            }
        );
        assert!(ring.is_empty());
    }

    #[test]
    fn overflow_drops_oldest_unwritten_batch_and_reports_loss() {
        let mut ring = BatchRing::new(2);
        assert_eq!(ring.push(batch(&["a 1 1"])), None);
        assert_eq!(ring.push(batch(&["b 1 1", "b 2 1"])), None);
        let loss = ring.push(batch(&["c 1 1"])).unwrap();
        assert_eq!(
            loss,
            Loss {
                batches: 1,
                metrics: 1,
                bytes: 6
            }
        );
        assert_eq!(ring.len(), 2);
        assert_eq!(drain_all(&mut ring, 100).0, b"b 1 1\nb 2 1\nc 1 1\n");
    }

    #[test]
    fn the_byte_bound_drops_oldest_batches_and_limits_room() {
        let mut ring = BatchRing::new(10).with_max_bytes(13);
        assert!(ring.has_room());
        assert_eq!(ring.push(batch(&["a 1 1"])), None);
        assert!(ring.has_room(), "6 of 13 bytes");
        assert_eq!(ring.push(batch(&["b 1 1"])), None);
        assert!(ring.has_room(), "12 of 13 bytes");
        // 18 bytes > 13: the oldest goes.
        let loss = ring.push(batch(&["c 1 1"])).unwrap();
        assert_eq!(
            loss,
            Loss {
                batches: 1,
                metrics: 1,
                bytes: 6
            }
        );
        // One batch is kept whatever its size.
        let mut ring = BatchRing::new(10).with_max_bytes(4);
        assert_eq!(ring.push(batch(&["long line 1"])), None);
        assert!(!ring.has_room());
        ring.append(batch(&["x 1 1"]));
        assert_eq!(ring.len(), 2, "append never drops");
        assert_eq!(drain_all(&mut ring, 100).0, b"long line 1\nx 1 1\n");
        assert!(ring.has_room());
    }

    #[test]
    fn overflow_never_drops_a_half_written_batch() {
        let mut ring = BatchRing::new(1);
        ring.push(batch(&["abc 1 1", "def 2 1"]));
        ring.advance(3); // "abc" is on the wire
        let loss = ring.push(batch(&["ghi 3 1"])).unwrap();
        assert_eq!(loss.metrics, 1, "the new, unstarted batch goes");
        assert_eq!(drain_all(&mut ring, 2).0, b" 1 1\ndef 2 1\n");
    }

    #[test]
    fn overflow_drops_a_written_but_unacknowledged_batch_whole() {
        let mut ring = BatchRing::new(1);
        ring.push(batch(&["abc 1 1"]));
        ring.advance(8);
        let loss = ring.push(batch(&["def 2 1"])).unwrap();
        assert_eq!(
            loss,
            Loss {
                batches: 1,
                metrics: 1,
                bytes: 8
            }
        );
        assert_eq!(ring.next_chunk(), b"def 2 1\n");
        assert_eq!(ring.unacked(), 0);
    }

    #[test]
    fn the_next_batch_reuses_the_largest_delivered_buffer() {
        let mut ring = BatchRing::new(3);
        let mut big = Vec::with_capacity(1 << 16);
        big.extend_from_slice(b"a 1 1\n");
        ring.push(Batch::new(big, 1));
        ring.push(batch(&["b 1 1"]));
        assert_eq!(drain_all(&mut ring, 100).1, 2);
        let buffer = ring.take_buffer(10);
        assert!(buffer.is_empty());
        assert!(buffer.capacity() >= 1 << 16, "{}", buffer.capacity());
        // Taken: the batch after that gets a fresh one.
        assert!(ring.take_buffer(10).capacity() < 1 << 16);
    }

    #[test]
    fn what_is_not_acknowledged_is_taken_from_a_line_start() {
        let mut ring = BatchRing::new(3);
        ring.push(batch(&["abc 1 1", "def 2 1"]).at(1));
        ring.push(batch(&["ghi 3 2"]).at(2));
        ring.advance(20);
        ring.acknowledge(10); // "abc 1 1\nde"
        let taken = ring.take_unacknowledged();
        let got: Vec<(&[u8], usize, i64)> = taken
            .iter()
            .map(|b| (b.bytes.as_slice(), b.metrics, b.at_s))
            .collect();
        assert_eq!(got, [(&b"def 2 1\n"[..], 1, 1), (&b"ghi 3 2\n"[..], 1, 2)]);
        assert!(ring.is_empty() && ring.has_room() && ring.buffered_bytes() == 0);
    }

    #[test]
    fn partial_write_resumes_at_exact_byte() {
        let mut ring = BatchRing::new(2);
        ring.push(batch(&["abc 1 1", "def 2 1"]));
        ring.advance(5);
        assert_eq!(ring.next_chunk(), b" 1\ndef 2 1\n");
    }

    #[test]
    fn connection_lost_resumes_at_the_line_of_the_first_unacknowledged_byte() {
        let mut ring = BatchRing::new(2);
        ring.push(batch(&["abc 1 1", "def 2 1"]));
        ring.advance(16);
        ring.acknowledge(10); // "abc 1 1\nde" acknowledged
        ring.connection_lost();
        assert_eq!(ring.next_chunk(), b"def 2 1\n");
        let mut ring = BatchRing::new(2);
        ring.push(batch(&["abc 1 1"]));
        ring.advance(8);
        ring.connection_lost(); // nothing acknowledged
        assert_eq!(ring.next_chunk(), b"abc 1 1\n");
    }

    proptest! {
        /// Whatever the write sizes, acknowledgements and connection losses,
        /// the receiver's stream of complete lines has no cut line, no
        /// duplicate and no gap.
        #[test]
        fn stream_never_cuts_repeats_or_loses_lines(
            steps in proptest::collection::vec((1usize..20, 0usize..25, any::<bool>()), 1..80),
            batches in 1usize..6,
        ) {
            let mut ring = BatchRing::new(8);
            let mut expected = Vec::new();
            for b in 0..batches {
                let lines: Vec<String> = (0..3).map(|l| format!("m{b}.{l} {l} {b}")).collect();
                expected.extend(lines.iter().cloned());
                let refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
                ring.push(batch(&refs));
            }
            // The peer's kernel holds `conn` bytes, of which the first `acked`
            // were acknowledged (and so reach the receiver app); on a loss
            // the receiver keeps the complete lines of what it got.
            let mut received: Vec<String> = Vec::new();
            let mut conn: Vec<u8> = Vec::new();
            let mut acked = 0usize;
            for (size, ack, lose) in steps {
                let chunk = ring.next_chunk();
                let n = chunk.len().min(size);
                conn.extend_from_slice(&chunk[..n]);
                ring.advance(n);
                let newly = ack.min(conn.len() - acked);
                acked += newly;
                ring.acknowledge(newly);
                if lose {
                    let text = String::from_utf8(conn[..acked].to_vec()).unwrap();
                    let complete = text.rfind('\n').map_or(0, |p| p + 1);
                    received.extend(text[..complete].lines().map(String::from));
                    conn.clear();
                    acked = 0;
                    ring.connection_lost();
                }
            }
            let (rest, _) = drain_all(&mut ring, 7);
            conn.extend(rest);
            let text = String::from_utf8(conn).unwrap();
            received.extend(text.lines().map(String::from));
            prop_assert_eq!(received, expected);
            prop_assert!(ring.is_empty());
        }

        /// Parts cut for HTTP requests: whole lines, never over the limit
        /// unless one line alone is (then marked oversize), and together
        /// the whole stream, in order; rejected parts leave the ring
        /// without counting as sent.
        #[test]
        fn parts_are_whole_lines_within_the_limit(
            batches in proptest::collection::vec(
                proptest::collection::vec("[a-z]{0,30}", 1..20), 1..5),
            limit in 1usize..120,
            reject_every in 2usize..6,
        ) {
            let mut ring = BatchRing::new(10);
            let mut expected = Vec::new();
            let mut total_metrics = 0;
            for lines in &batches {
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                let b = batch(&refs);
                expected.extend_from_slice(&b.bytes);
                total_metrics += b.metrics;
                ring.push(b);
            }
            let mut seen = Vec::new();
            let (mut sent, mut rejected, mut k) = (0, 0, 0);
            while let Some(part) = ring.next_part(limit) {
                let bytes = part.bytes.to_vec();
                prop_assert!(bytes.ends_with(b"\n"));
                let lines = bytes.iter().filter(|&&b| b == b'\n').count();
                if part.oversize {
                    prop_assert_eq!(lines, 1);
                    prop_assert!(bytes.len() > limit);
                } else {
                    prop_assert!(bytes.len() <= limit);
                }
                prop_assert_eq!(ring.rest_of_line(), 0);
                seen.extend_from_slice(&bytes);
                k += 1;
                if k % reject_every == 0 {
                    rejected += lines;
                    sent += ring.reject(bytes.len(), lines).metrics;
                } else {
                    sent += ring.complete(bytes.len()).metrics;
                }
            }
            prop_assert_eq!(seen, expected);
            prop_assert!(ring.is_empty());
            prop_assert_eq!(sent + rejected, total_metrics);
        }
    }
}
