//! Line framing: bytes as they come out of a plugin's stdout → complete
//! lines, with bounded memory.
//!
//! [`LineFramer`] owns one fixed buffer of `max_line_len + 1 + read_chunk`
//! bytes, allocated once. Bytes go in either by reading straight into it
//! ([`LineFramer::read_buf`] + [`LineFramer::commit`], no copy) or by
//! copying ([`LineFramer::extend`], [`LineFramer::feed`]). Complete lines
//! come out of [`LineFramer::next_line`] as slices of that buffer, without
//! their `\n` or `\r\n`. "Need more bytes" is `None`, not an error.
//!
//! A line longer than `max_line_len` is reported once as
//! [`FrameError::Overlong`] and the rest of it is skipped up to the next
//! newline without being kept, so a plugin that never sends a newline costs
//! no more memory than one that behaves.
//!
//! The default limit, [`DEFAULT_MAX_LINE_LEN`] (16 KiB), is above what
//! netdata 1.37 reads in one piece (`fgets` into a 15 KiB buffer: it cuts
//! longer lines and parses the pieces as separate lines, a behaviour not
//! reproduced here).

use super::error::{FrameError, TextPreview};
use super::swar;

/// Default longest line, in bytes, not counting `\n`.
pub const DEFAULT_MAX_LINE_LEN: usize = 16 * 1024;

/// Default room kept free for one read: a Linux pipe holds 64 KiB.
pub const DEFAULT_READ_CHUNK: usize = 64 * 1024;

/// Splits a byte stream into lines (see the [module docs](self)).
///
/// Reading from a pipe without copying:
///
/// ```
/// use std::io::Read;
/// use wire::pluginsd::LineFramer;
///
/// let mut pipe: &[u8] = b"BEGIN a\r\nSET x = 1\nEND\nparti";
/// let mut framer = LineFramer::new();
/// let mut lines = Vec::new();
/// loop {
///     let n = pipe.read(framer.read_buf()).unwrap();
///     if n == 0 {
///         break;
///     }
///     framer.commit(n);
///     while let Some(frame) = framer.next_line() {
///         lines.push(frame.unwrap().to_vec());
///     }
/// }
/// assert_eq!(lines, [&b"BEGIN a"[..], b"SET x = 1", b"END"]);
/// assert_eq!(framer.finish(), Some(Ok(&b"parti"[..])));
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    buf: Box<[u8]>,
    /// First byte not yet returned.
    start: usize,
    /// One past the last byte filled.
    end: usize,
    /// `buf[start..scanned]` is known to hold no `\n`.
    scanned: usize,
    max_line_len: usize,
    read_chunk: usize,
    /// Inside an overlong line already reported: drop bytes up to `\n`.
    discarding: bool,
}

impl Default for LineFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineFramer {
    /// A framer with [`DEFAULT_MAX_LINE_LEN`] and [`DEFAULT_READ_CHUNK`].
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_LINE_LEN, DEFAULT_READ_CHUNK)
    }

    /// A framer for lines of at most `max_line_len` bytes (not counting the
    /// terminator) that keeps at least `read_chunk` bytes (at least 1) free
    /// for each read. Its buffer, `max_line_len + 1 + read_chunk` bytes, is
    /// allocated here and never grows.
    pub fn with_limits(max_line_len: usize, read_chunk: usize) -> Self {
        let read_chunk = read_chunk.max(1);
        let capacity = max_line_len.saturating_add(1).saturating_add(read_chunk);
        LineFramer {
            buf: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            scanned: 0,
            max_line_len,
            read_chunk,
            discarding: false,
        }
    }

    /// The longest line accepted.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// The buffer's fixed size in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes received but not yet returned as lines (an incomplete line,
    /// or complete lines not yet taken). Once [`LineFramer::next_line`]
    /// has returned `None` this is at most `max_line_len + 1` (the line so
    /// far, and maybe the `\r` of its `\r\n`).
    pub fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// Moves the unreturned bytes to the front of the buffer when the free
    /// room at the back is smaller than one read.
    fn make_room(&mut self) {
        if self.buf.len() - self.end >= self.read_chunk || self.start == 0 {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.scanned -= self.start;
        self.start = 0;
    }

    /// Free room to read into; then call [`LineFramer::commit`] with the
    /// number of bytes written. Empty only when complete lines are waiting
    /// to be taken with [`LineFramer::next_line`].
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.make_room();
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes of [`LineFramer::read_buf`] as filled (clamped to
    /// the room there is).
    pub fn commit(&mut self, n: usize) {
        self.end += n.min(self.buf.len() - self.end);
    }

    /// Copies as much of `bytes` as fits and returns how many were taken.
    /// Take lines with [`LineFramer::next_line`] until `None`, then offer
    /// the rest again ([`LineFramer::feed`] does that loop).
    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        let room = self.read_buf();
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        self.commit(n);
        n
    }

    /// Copies all of `bytes` in, calling `on_frame` for every complete line
    /// (or overlong line report) as it appears.
    ///
    /// ```
    /// use wire::pluginsd::{FrameError, LineFramer};
    ///
    /// let mut framer = LineFramer::with_limits(8, 4);
    /// let mut seen = Vec::new();
    /// framer.feed(b"short\nmuch too long line\nok\n", |frame| match frame {
    ///     Ok(line) => seen.push(String::from_utf8_lossy(line).into_owned()),
    ///     Err(FrameError::Overlong { limit, .. }) => seen.push(format!("overlong>{limit}")),
    /// });
    /// assert_eq!(seen, ["short", "overlong>8", "ok"]);
    /// ```
    pub fn feed(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(Result<&[u8], FrameError>)) {
        loop {
            let taken = self.extend(bytes);
            bytes = &bytes[taken..];
            while let Some(frame) = self.next_line() {
                on_frame(frame);
            }
            if bytes.is_empty() {
                return;
            }
        }
    }

    /// The next line, taken only when it is a whole `SET` of the commonest
    /// shape ([`try_take_set_line`](super::fast_path::try_take_set_line)):
    /// its dimension id and value, read in the same pass that finds the
    /// line's end. `None` changes nothing: take the line with
    /// [`LineFramer::next_line`] then. The lines of a round, taken this way
    /// and the other, are exactly those `next_line` alone gives.
    ///
    /// ```
    /// use wire::pluginsd::LineFramer;
    ///
    /// let mut framer = LineFramer::new();
    /// framer.extend(b"SET a = 1\nEND\n");
    /// assert_eq!(framer.next_set_line(), Some((&b"a"[..], Some(1))));
    /// assert_eq!(framer.next_set_line(), None);
    /// assert_eq!(framer.next_line().unwrap().unwrap(), b"END");
    /// ```
    #[inline]
    pub fn next_set_line(&mut self) -> Option<(&[u8], Option<i64>)> {
        if self.discarding {
            return None;
        }
        let start = self.start;
        let rest = &self.buf[start..self.end];
        let (id, value, taken) = super::fast_path::try_take_set_line(rest)?;
        if taken - 1 > self.max_line_len {
            return None;
        }
        let id_at = start + (id.as_ptr() as usize - rest.as_ptr() as usize);
        let id_end = id_at + id.len();
        self.start = start + taken;
        // `scanned` was at most the line's `\n`.
        self.scanned = self.start;
        Some((&self.buf[id_at..id_end], value))
    }

    /// The next complete line without its `\n` (and without a `\r` before
    /// it), an overlong-line report, or `None` when more bytes are needed.
    pub fn next_line(&mut self) -> Option<Result<&[u8], FrameError>> {
        loop {
            let found = find_newline(&self.buf[self.scanned..self.end]).map(|at| self.scanned + at);
            if self.discarding {
                match found {
                    Some(newline) => {
                        self.discarding = false;
                        self.start = newline + 1;
                        self.scanned = self.start;
                        continue;
                    }
                    None => {
                        self.start = 0;
                        self.end = 0;
                        self.scanned = 0;
                        return None;
                    }
                }
            }
            return match found {
                Some(newline) => {
                    let line_start = self.start;
                    self.start = newline + 1;
                    self.scanned = self.start;
                    let line = &self.buf[line_start..newline];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.len() > self.max_line_len {
                        // Whole overlong line in the buffer: skip it.
                        return Some(Err(FrameError::Overlong {
                            limit: self.max_line_len,
                            head: TextPreview::new(line),
                        }));
                    }
                    Some(Ok(line))
                }
                None if self.partial_line_is_overlong() => {
                    let head = TextPreview::new(&self.buf[self.start..self.end]);
                    self.discarding = true;
                    self.start = 0;
                    self.end = 0;
                    self.scanned = 0;
                    Some(Err(FrameError::Overlong {
                        limit: self.max_line_len,
                        head,
                    }))
                }
                None => {
                    self.scanned = self.end;
                    self.make_room();
                    None
                }
            };
        }
    }

    /// Whether the incomplete line at the end of the buffer is already
    /// longer than the limit (a last `\r` may still be the start of `\r\n`).
    fn partial_line_is_overlong(&self) -> bool {
        let len = self.end - self.start;
        len > self.max_line_len.saturating_add(1)
            || (len == self.max_line_len.saturating_add(1) && self.buf[self.end - 1] != b'\r')
    }

    /// At end of input: the last line if it had no `\n` (netdata parses
    /// it too). Empties the framer. Call after [`LineFramer::next_line`]
    /// has returned `None`.
    pub fn finish(&mut self) -> Option<Result<&[u8], FrameError>> {
        let (start, end, discarding) = (self.start, self.end, self.discarding);
        self.start = 0;
        self.end = 0;
        self.scanned = 0;
        self.discarding = false;
        if discarding || start == end {
            return None;
        }
        let line = &self.buf[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line_len {
            return Some(Err(FrameError::Overlong {
                limit: self.max_line_len,
                head: TextPreview::new(line),
            }));
        }
        Some(Ok(line))
    }
}

/// Position of the first `\n` in `bytes`, eight bytes at a time.
#[inline]
fn find_newline(bytes: &[u8]) -> Option<usize> {
    let at = swar::skip_unflagged(bytes, 0, |word| swar::equal_mask(word, b'\n'));
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|offset| at + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(framer: &mut LineFramer, input: &[u8]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut out = Vec::new();
        framer.feed(input, |frame| out.push(frame.map(<[u8]>::to_vec)));
        out
    }

    #[test]
    fn find_newline_everywhere() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'\n';
                if at + 1 < len {
                    bytes[at + 1] = b'\n';
                }
                assert_eq!(find_newline(&bytes), Some(at));
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[test]
    fn lines_across_arbitrary_chunks() {
        let input = b"CHART a.b '' t u\nDIMENSION x\r\n\nBEGIN a.b\nSET x = 1\nEND\n";
        for chunk in 1..input.len() {
            let mut framer = LineFramer::with_limits(64, 3);
            let mut lines = Vec::new();
            for piece in input.chunks(chunk) {
                lines.extend(collect(&mut framer, piece));
            }
            let expected: Vec<Result<Vec<u8>, FrameError>> = [
                &b"CHART a.b '' t u"[..],
                b"DIMENSION x",
                b"",
                b"BEGIN a.b",
                b"SET x = 1",
                b"END",
            ]
            .iter()
            .map(|line| Ok(line.to_vec()))
            .collect();
            assert_eq!(lines, expected, "chunk {chunk}");
            assert_eq!(framer.finish(), None);
        }
    }

    #[test]
    fn overlong_line_reported_once_and_skipped() {
        let mut framer = LineFramer::with_limits(10, 4);
        let mut frames = collect(&mut framer, b"ok\n0123456789ABCDEF");
        frames.extend(collect(&mut framer, b"GHIJKLMNOPQRSTUVWXYZ"));
        assert!(framer.buffered_len() <= 10);
        frames.extend(collect(&mut framer, b"more\nnext\n"));
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], Ok(b"ok".to_vec()));
        match &frames[1] {
            Err(FrameError::Overlong { limit, head }) => {
                assert_eq!(*limit, 10);
                assert!(head.as_bytes().starts_with(b"0123456789"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(frames[2], Ok(b"next".to_vec()));
    }

    #[test]
    fn overlong_line_found_whole() {
        let mut framer = LineFramer::with_limits(4, 64);
        let frames = collect(&mut framer, b"12345\n1234\n123456789\nx\n");
        assert!(matches!(
            frames[0],
            Err(FrameError::Overlong { limit: 4, .. })
        ));
        assert_eq!(frames[1], Ok(b"1234".to_vec()));
        assert!(matches!(frames[2], Err(FrameError::Overlong { .. })));
        assert_eq!(frames[3], Ok(b"x".to_vec()));
        assert_eq!(frames.len(), 4);
    }

    #[test]
    fn line_of_exactly_the_limit_passes_and_crlf_does_not_count() {
        let mut framer = LineFramer::with_limits(4, 1);
        let frames = collect(&mut framer, b"1234\nabc\r\n1234\r\n12345\r\n");
        assert_eq!(frames.len(), 4);
        assert_eq!(
            frames[..3],
            [
                Ok(b"1234".to_vec()),
                Ok(b"abc".to_vec()),
                Ok(b"1234".to_vec())
            ]
        );
        assert!(frames[3].is_err());
        // The same, one byte at a time: the '\r' waits for its '\n'.
        let mut framer = LineFramer::with_limits(4, 1);
        let mut frames = Vec::new();
        for byte in b"1234\r\n12345\r\nok\n" {
            frames.extend(collect(&mut framer, &[*byte]));
            assert!(framer.buffered_len() <= 5);
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], Ok(b"1234".to_vec()));
        assert!(frames[1].is_err());
        assert_eq!(frames[2], Ok(b"ok".to_vec()));
    }

    #[test]
    fn finish_returns_the_unterminated_tail() {
        let mut framer = LineFramer::new();
        assert!(collect(&mut framer, b"END\nSET x = 1\r").len() == 1);
        assert_eq!(framer.finish(), Some(Ok(&b"SET x = 1"[..])));
        assert_eq!(framer.finish(), None);
        assert_eq!(framer.buffered_len(), 0);

        let mut discarding = LineFramer::with_limits(2, 1);
        assert_eq!(collect(&mut discarding, b"abcdef").len(), 1);
        assert_eq!(discarding.finish(), None);
    }

    #[test]
    fn read_buf_and_commit_without_copy() {
        let mut framer = LineFramer::with_limits(16, 8);
        let capacity = framer.capacity();
        let data = b"SET a = 1\nSET b = 2\nSET c = 3\n";
        let mut lines = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let room = framer.read_buf();
            assert!(!room.is_empty());
            let n = room.len().min(rest.len()).min(7);
            room[..n].copy_from_slice(&rest[..n]);
            framer.commit(n);
            rest = &rest[n..];
            while let Some(frame) = framer.next_line() {
                lines.push(frame.unwrap().to_vec());
            }
            assert!(framer.buffered_len() <= 17);
        }
        assert_eq!(
            lines,
            [
                b"SET a = 1".to_vec(),
                b"SET b = 2".to_vec(),
                b"SET c = 3".to_vec()
            ]
        );
        assert_eq!(framer.capacity(), capacity);
        framer.commit(usize::MAX);
        assert!(framer.buffered_len() <= capacity);
    }

    #[test]
    fn extend_takes_what_fits() {
        let mut framer = LineFramer::with_limits(4, 2);
        assert_eq!(framer.capacity(), 7);
        assert_eq!(framer.extend(b"a\nb\nc\nd\ne\n"), 7);
        assert_eq!(framer.next_line(), Some(Ok(&b"a"[..])));
        assert_eq!(framer.next_line(), Some(Ok(&b"b"[..])));
        assert_eq!(framer.next_line(), Some(Ok(&b"c"[..])));
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.extend(b"\ne\n"), 3);
        assert_eq!(framer.next_line(), Some(Ok(&b"d"[..])));
        assert_eq!(framer.next_line(), Some(Ok(&b"e"[..])));
        assert_eq!(framer.next_line(), None);
    }

    #[test]
    fn zero_limit_framer_only_passes_empty_lines() {
        let mut framer = LineFramer::with_limits(0, 0);
        let frames = collect(&mut framer, b"\n\nx\n\n");
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0], Ok(Vec::new()));
        assert!(frames[2].is_err());
    }
}
