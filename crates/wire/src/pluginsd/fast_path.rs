//! Fast paths for the lines a plugin sends every collection: `SET`,
//! `BEGIN` and `END`.
//!
//! [`try_parse_fast`] handles their common shapes in one pass over the
//! bytes, eight bytes at a time where it can, with no tokenizer state and
//! decimal readers that need no overflow checks:
//!
//! ```text
//! SET id = 123    SET 'quoted id' = -5    SET id =    SET id 7
//! BEGIN type.id   BEGIN 'type.quoted id' 1000025      END
//! ```
//!
//! Anything else (a backslash or NUL in an id, a value that is quoted, hex,
//! octal, fractional, too long, ...) returns `None` and
//! [`parse_line`](super::parse_line) falls back to the general parser. A
//! fast path must give exactly what the general parser gives whenever it
//! answers; a property test and the fuzz target check that.

use super::command::Command;
use super::swar;

const PASS: u8 = 0;
const SEPARATOR: u8 = 1;
/// NUL or backslash: let the general parser deal with it.
const BAIL: u8 = 2;

/// Byte classes for an unquoted word: separators end it; NUL and
/// backslash send the line to the general parser.
static WORD_CLASS: [u8; 256] = {
    let mut class = [PASS; 256];
    class[b' ' as usize] = SEPARATOR;
    class[b'\t' as usize] = SEPARATOR;
    class[b'\r' as usize] = SEPARATOR;
    class[b'\n' as usize] = SEPARATOR;
    class[b'=' as usize] = SEPARATOR;
    class[0] = BAIL;
    class[b'\\' as usize] = BAIL;
    class
};

#[inline(always)]
fn is_separator(b: u8) -> bool {
    WORD_CLASS[usize::from(b)] == SEPARATOR
}

#[inline(always)]
fn skip_separators(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && is_separator(line[at]) {
        at += 1;
    }
    at
}

/// Flags bytes that may end an unquoted word or need the general parser:
/// below `0x21` (separators, NUL, other control bytes), `=` and `\`.
#[inline(always)]
fn unquoted_stop_mask(word: u64) -> u64 {
    swar::below_mask(word, 0x21) | swar::equal_mask(word, b'=') | swar::equal_mask(word, b'\\')
}

/// Reads the word starting at `at` (which is not a separator) when it has
/// no backslash and no NUL; returns it and the position after it.
#[inline(always)]
fn plain_word(line: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let &first = line.get(at)?;
    if first == b'\'' || first == b'"' {
        let start = at + 1;
        let mut close = swar::skip_unflagged(line, start, |word| {
            swar::equal_mask(word, first)
                | swar::equal_mask(word, 0)
                | swar::equal_mask(word, b'\\')
        });
        loop {
            let &b = line.get(close)?;
            if b == first {
                return Some((&line[start..close], close + 1));
            }
            if b == 0 || b == b'\\' {
                return None;
            }
            close += 1;
        }
    }
    // Eight bytes at a time up to the first byte that may end the word,
    // then byte by byte (which also passes the rare control bytes the mask
    // flags but a word may hold).
    let mut end = swar::skip_unflagged(line, at, unquoted_stop_mask);
    while end < line.len() {
        match WORD_CLASS[usize::from(line[end])] {
            PASS => end += 1,
            SEPARATOR => break,
            _ => return None,
        }
    }
    Some((&line[at..end], end))
}

/// Reads up to `max_digits` decimal digits at `at` that must end the word
/// (end of line or a separator next); `None` if there are none, too many,
/// or something else follows them.
#[inline(always)]
fn plain_digits(line: &[u8], mut at: usize, max_digits: usize) -> Option<(u64, usize)> {
    if let Some((value, digits)) = swar::leading_digits(line, at) {
        // Fewer than eight digits, read from one word (the usual value).
        let end = at + digits;
        if end < line.len() && !is_separator(line[end]) {
            return None;
        }
        return Some((value, digits));
    }
    let start = at;
    let mut value: u64 = 0;
    while at < line.len() {
        let digit = line[at].wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if at - start == max_digits {
            return None;
        }
        value = value * 10 + u64::from(digit);
        at += 1;
    }
    if at == start || (at < line.len() && !is_separator(line[at])) {
        return None;
    }
    Some((value, at - start))
}

/// Decimal digits that always fit in an `i64` (10^18 - 1 < 2^63).
const MAX_SIGNED_DIGITS: usize = 18;
/// Decimal digits that always fit in a `u64` (10^19 - 1 < 2^64).
const MAX_UNSIGNED_DIGITS: usize = 19;

/// Parses `line` if it is a `SET`, `BEGIN` or `END` line of a common shape;
/// `None` means "use the general parser".
///
/// ```
/// use wire::pluginsd::fast_path::try_parse_fast;
/// use wire::pluginsd::Command;
///
/// assert_eq!(
///     try_parse_fast(b"SET user = 1234"),
///     Some(Command::Set { dimension_id: b"user", value: Some(1234) })
/// );
/// assert_eq!(
///     try_parse_fast(b"BEGIN apps.cpu 1000025"),
///     Some(Command::Begin { chart_id: b"apps.cpu", microseconds: Some(1_000_025) })
/// );
/// assert_eq!(try_parse_fast(b"END"), Some(Command::End));
/// assert_eq!(try_parse_fast(b"SET user = 0x10"), None); // general parser: 16
/// assert_eq!(try_parse_fast(b"CHART a.b"), None);
/// ```
#[inline]
pub fn try_parse_fast(line: &[u8]) -> Option<Command<'_>> {
    match line {
        [b'S', b'E', b'T', b' ' | b'\t', ..] => try_parse_set(line),
        [b'B', b'E', b'G', b'I', b'N', b' ' | b'\t', ..] => try_parse_begin(line),
        // END ignores whatever follows it.
        [b'E', b'N', b'D'] => Some(Command::End),
        [b'E', b'N', b'D', next, ..] if is_separator(*next) => Some(Command::End),
        _ => None,
    }
}

#[inline(always)]
fn try_parse_set(line: &[u8]) -> Option<Command<'_>> {
    let (dimension_id, value) = set_fields(line, 4)?;
    Some(Command::Set {
        dimension_id,
        value,
    })
}

/// The dimension id and value of a `SET` line of a common shape, without
/// building a [`Command`] (the line of most rounds; a receiver that
/// dispatches it first moves two words instead of a whole command). `None`
/// for any other line, and for a `SET` the general parser must read: then
/// [`parse_line`](super::parse_line) gives the answer.
///
/// ```
/// use wire::pluginsd::fast_path::try_parse_set_fields;
///
/// assert_eq!(try_parse_set_fields(b"SET user = 1234"), Some((&b"user"[..], Some(1234))));
/// assert_eq!(try_parse_set_fields(b"SET user ="), Some((&b"user"[..], None)));
/// assert_eq!(try_parse_set_fields(b"SET user = 0x10"), None);
/// assert_eq!(try_parse_set_fields(b"BEGIN a.b"), None);
/// ```
#[inline]
pub fn try_parse_set_fields(line: &[u8]) -> Option<(&[u8], Option<i64>)> {
    match line {
        [b'S', b'E', b'T', b' ' | b'\t', ..] => set_fields(line, 4),
        _ => None,
    }
}

/// The `SET` line at the start of `buf` (bytes not yet framed) when it is
/// whole and of the commonest shape: its dimension id, its value, and the
/// bytes it takes with its `\n`. Exactly what framing the line and
/// [`try_parse_set_fields`] give, in one pass over its bytes; `None`
/// whenever the line is not whole, is another command, or has anything
/// less common (a `\r`, trailing blanks, a value the general parser
/// reads): then frame it and parse it as usual.
///
/// ```
/// use wire::pluginsd::fast_path::try_take_set_line;
///
/// assert_eq!(
///     try_take_set_line(b"SET \"user\" = 1234\nSET x = 2\n"),
///     Some((&b"user"[..], Some(1234), 18))
/// );
/// assert_eq!(try_take_set_line(b"SET user =\nEND\n"), Some((&b"user"[..], None, 11)));
/// assert_eq!(try_take_set_line(b"SET user = 12"), None); // not whole yet
/// assert_eq!(try_take_set_line(b"SET user = 12\r\n"), None);
/// assert_eq!(try_take_set_line(b"SET 'user\n' = 1\n"), None);
/// ```
#[inline]
pub fn try_take_set_line(buf: &[u8]) -> Option<(&[u8], Option<i64>, usize)> {
    if !matches!(buf, [b'S', b'E', b'T', b' ' | b'\t', ..]) {
        return None;
    }
    if let Some(taken) = take_plainest_set_line(buf) {
        return Some(taken);
    }
    let at = skip_blanks(buf, 4);
    let (dimension_id, at) = word_in_line(buf, at)?;
    if dimension_id.is_empty() {
        return None;
    }
    let at = skip_blanks(buf, at);
    match *buf.get(at)? {
        b'\n' => return Some((dimension_id, None, at + 1)),
        b'-' | b'+' | b'0'..=b'9' => {}
        _ => return None,
    }
    let (value, end) = signed_decimal(buf, at)?;
    // The line must end right after the value (a blank, a `\r` or the
    // end of the bytes so far: the usual path).
    if buf.get(end) != Some(&b'\n') {
        return None;
    }
    Some((dimension_id, Some(value), end + 1))
}

/// `SET id = 123\n` exactly as a child or plugin writes it every round:
/// an unquoted id after one blank, ` = `, one to seven digits (no sign, no
/// leading 0) and the line's end; in a few word-sized steps and no byte
/// loop. `None` for anything else ([`try_take_set_line`] goes on).
#[inline(always)]
fn take_plainest_set_line(buf: &[u8]) -> Option<(&[u8], Option<i64>, usize)> {
    if buf[3] != b' ' || matches!(buf.get(4)?, b'\'' | b'"') {
        return None;
    }
    // Every byte before `end` passes in an unquoted word.
    let end = swar::skip_unflagged(buf, 4, unquoted_stop_mask);
    if end == 4 || buf.get(end..end + 3)? != b" = " {
        return None;
    }
    let value_at = end + 3;
    let (value, digits) = swar::leading_digits(buf, value_at)?;
    let line_end = value_at + digits;
    if buf[line_end] != b'\n' || (digits > 1 && buf[value_at] == b'0') {
        return None;
    }
    Some((&buf[4..end], Some(value as i64), line_end + 1))
}

/// The decimal at `at` with an optional sign, as `strtoll` reads it when
/// the fast paths may (at most 18 digits, no octal leading 0, ending at
/// a separator or the end of the bytes); with the position after it.
#[inline(always)]
fn signed_decimal(buf: &[u8], mut at: usize) -> Option<(i64, usize)> {
    let negative = match buf.get(at) {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let (magnitude, digits) = plain_digits(buf, at, MAX_SIGNED_DIGITS)?;
    // A leading 0 followed by more digits is octal for strtoll.
    if digits > 1 && buf[at] == b'0' {
        return None;
    }
    let magnitude = magnitude as i64;
    Some((if negative { -magnitude } else { magnitude }, at + digits))
}

/// Skips the separators a `SET` line has between its fields (blanks and
/// `=`), stopping at a line end or a `\r`.
#[inline(always)]
fn skip_blanks(buf: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'=') = buf.get(at) {
        at += 1;
    }
    at
}

/// [`plain_word`] within the line that starts `buf`: a quoted word must
/// close before the line ends.
#[inline(always)]
fn word_in_line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let &first = buf.get(at)?;
    if first == b'\'' || first == b'"' {
        let start = at + 1;
        let close = swar::skip_unflagged(buf, start, |word| {
            swar::equal_mask(word, first)
                | swar::equal_mask(word, 0)
                | swar::equal_mask(word, b'\\')
                | swar::equal_mask(word, b'\n')
        });
        let mut close = close;
        loop {
            let &b = buf.get(close)?;
            if b == first {
                return Some((&buf[start..close], close + 1));
            }
            if b == 0 || b == b'\\' || b == b'\n' {
                return None;
            }
            close += 1;
        }
    }
    // An unquoted word ends at a separator, `\n` included.
    plain_word(buf, at)
}

#[inline(always)]
fn set_fields(line: &[u8], after_verb: usize) -> Option<(&[u8], Option<i64>)> {
    let at = skip_separators(line, after_verb);
    let (dimension_id, at) = plain_word(line, at)?;
    if dimension_id.is_empty() {
        return None;
    }
    let at = skip_separators(line, at);
    if at == line.len() {
        return Some((dimension_id, None));
    }
    let (value, _) = signed_decimal(line, at)?;
    Some((dimension_id, Some(value)))
}

#[inline(always)]
fn try_parse_begin(line: &[u8]) -> Option<Command<'_>> {
    let at = skip_separators(line, 6);
    let (chart_id, at) = plain_word(line, at)?;
    if chart_id.is_empty() {
        return None;
    }
    let at = skip_separators(line, at);
    if at == line.len() {
        return Some(Command::Begin {
            chart_id,
            microseconds: None,
        });
    }
    let (microseconds, _) = plain_digits(line, at, MAX_UNSIGNED_DIGITS)?;
    Some(Command::Begin {
        chart_id,
        microseconds: (microseconds != 0).then_some(microseconds),
    })
}

#[cfg(test)]
mod tests {
    use super::super::command::parse_line_slow_path;
    use super::*;
    use proptest::prelude::*;

    fn set(id: &[u8], value: Option<i64>) -> Option<Command<'_>> {
        Some(Command::Set {
            dimension_id: id,
            value,
        })
    }

    fn begin(id: &[u8], microseconds: Option<u64>) -> Option<Command<'_>> {
        Some(Command::Begin {
            chart_id: id,
            microseconds,
        })
    }

    #[test]
    fn common_shapes() {
        let cases: &[(&[u8], Option<Command<'_>>)] = &[
            (b"SET a = 1", set(b"a", Some(1))),
            (b"SET a=1", set(b"a", Some(1))),
            (b"SET a 1", set(b"a", Some(1))),
            (b"SET\ta\t=\t-1\r", set(b"a", Some(-1))),
            (b"SET 'a b' = +7", set(b"a b", Some(7))),
            (b"SET \"x'y\" = 0", set(b"x'y", Some(0))),
            (b"SET a =", set(b"a", None)),
            (b"SET a", set(b"a", None)),
            (b"SET a = 5 ignored words", set(b"a", Some(5))),
            (
                b"SET a_long_dimension_name_0123456789 = 999999999999999999",
                set(
                    b"a_long_dimension_name_0123456789",
                    Some(999_999_999_999_999_999),
                ),
            ),
            (
                b"SET 'a long quoted dimension name' = -999999999999999999",
                set(
                    b"a long quoted dimension name",
                    Some(-999_999_999_999_999_999),
                ),
            ),
            (
                b"SET caf\xc3\xa9\x01x = 3",
                set(b"caf\xc3\xa9\x01x", Some(3)),
            ),
            (b"BEGIN a.b", begin(b"a.b", None)),
            (b"BEGIN a.b 0", begin(b"a.b", None)),
            (b"BEGIN a.b 1000025", begin(b"a.b", Some(1_000_025))),
            (b"BEGIN 'a b.c d' 5 x", begin(b"a b.c d", Some(5))),
            (
                b"BEGIN a.b 9999999999999999999",
                begin(b"a.b", Some(9_999_999_999_999_999_999)),
            ),
            (b"END", Some(Command::End)),
            (b"END\r", Some(Command::End)),
            (b"END 1 2 'x", Some(Command::End)),
        ];
        for (line, expected) in cases {
            assert_eq!(
                try_parse_fast(line),
                *expected,
                "{}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(
                expected.map(Ok),
                Some(parse_line_slow_path(line)),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn defers_unusual_shapes() {
        let lines: &[&[u8]] = &[
            b"SET a = 0x10",
            b"SET a = 010",
            b"SET a = 1.5",
            b"SET a = 1234567890123456789",
            b"SET a = ''",
            b"SET a = 'x'",
            b"SET a = -",
            b"SET a = abc",
            b"SET a\\b = 1",
            b"SET 'a\\'b' = 1",
            b"SET 'unterminated = 1",
            b"SET '' = 1",
            b"SET a\0 = 1",
            b"SET a = 1\0",
            b"SET ",
            b"SET",
            b"SETX a = 1",
            b"set a = 1",
            b"BEGIN",
            b"BEGIN ",
            b"BEGIN ''",
            b"BEGIN a.b -5",
            b"BEGIN a.b 12x",
            b"BEGIN a.b 99999999999999999999",
            b"BEGIN a\\.b",
            b"BEGINX a.b",
            b"ENDX",
            b"END\0",
            b"EN",
            b"",
        ];
        for &line in lines {
            assert_eq!(
                try_parse_fast(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    fn fast_path_like_line() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop_oneof![
            Just(&b"SET "[..]),
            Just(&b"SET\t"[..]),
            Just(&b"BEGIN "[..]),
            Just(&b"END"[..]),
            Just(&b"END "[..]),
        ];
        let piece = prop_oneof![
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"=".to_vec()),
            Just(b"'".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"-".to_vec()),
            Just(b"+".to_vec()),
            Just(b"0".to_vec()),
            Just(b"0x".to_vec()),
            Just(b".".to_vec()),
            "[0-9]{1,21}".prop_map(String::into_bytes),
            "[a-z_.]{1,12}".prop_map(String::into_bytes),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        (prefix, proptest::collection::vec(piece, 0..10)).prop_map(|(prefix, pieces)| {
            let mut line = prefix.to_vec();
            for piece in pieces {
                line.extend_from_slice(&piece);
            }
            line
        })
    }

    /// What a receiver makes of each line: a `SET` of the fast shape, or
    /// the line for the general parser, or an overlong-line report.
    #[derive(Debug, PartialEq)]
    enum Taken {
        Set(Vec<u8>, Option<i64>),
        Line(Vec<u8>),
        Overlong,
    }

    fn framed(frame: Result<&[u8], super::super::FrameError>) -> Taken {
        match frame {
            Ok(line) => match try_parse_set_fields(line) {
                Some((id, value)) => Taken::Set(id.to_vec(), value),
                None => Taken::Line(line.to_vec()),
            },
            Err(_) => Taken::Overlong,
        }
    }

    /// `bytes` through a framer of `max_line_len`, every line by
    /// `next_line` (`fast`: `SET` lines by `next_set_line` first).
    fn take_all(bytes: &[u8], max_line_len: usize, fast: bool) -> (Vec<Taken>, Vec<u8>) {
        let mut framer = super::super::LineFramer::with_limits(max_line_len, 16);
        let mut taken = Vec::new();
        let mut rest = bytes;
        loop {
            let n = framer.extend(rest);
            rest = &rest[n..];
            loop {
                if fast {
                    while let Some((id, value)) = framer.next_set_line() {
                        taken.push(Taken::Set(id.to_vec(), value));
                    }
                }
                match framer.next_line() {
                    Some(frame) => taken.push(framed(frame)),
                    None => break,
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        let partial = framer
            .finish()
            .map(|f| f.map(<[u8]>::to_vec).unwrap_or_default());
        (taken, partial.unwrap_or_default())
    }

    #[test]
    fn set_lines_taken_whole_in_one_pass() {
        let bytes = b"SET \"user\" = 24325\nSET 'x y' = -5\nSET a =\nSET b = 7 \nSET c = 1\r\nSET d = 012\nSET 'e\nf' = 1\nEND\nSET z = 9";
        let (fast, fast_rest) = take_all(bytes, 1024, true);
        let (plain, plain_rest) = take_all(bytes, 1024, false);
        assert_eq!(fast, plain);
        assert_eq!(fast_rest, plain_rest);
        assert_eq!(fast[0], Taken::Set(b"user".to_vec(), Some(24325)));
        assert_eq!(fast_rest, b"SET z = 9");
        // Longer than the limit: reported by the framer, not taken.
        let (fast, _) = take_all(b"SET abcdefghij = 1\nSET a = 2\n", 12, true);
        assert_eq!(fast, [Taken::Overlong, Taken::Set(b"a".to_vec(), Some(2))]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn set_lines_taken_in_one_pass_are_the_framed_lines(
            lines in proptest::collection::vec(
                (fast_path_like_line(), prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\n\n"[..])]),
                1..8,
            ),
            cut in 0usize..400,
            max_line_len in prop_oneof![Just(8usize), Just(24), Just(1024)],
        ) {
            let mut bytes = Vec::new();
            for (line, end) in &lines {
                bytes.extend_from_slice(line);
                bytes.extend_from_slice(end);
            }
            bytes.truncate(cut.max(1).min(bytes.len()));
            prop_assert_eq!(
                take_all(&bytes, max_line_len, true),
                take_all(&bytes, max_line_len, false)
            );
        }

        #[test]
        fn fast_path_agrees_with_general_parser(line in fast_path_like_line()) {
            if let Some(fast) = try_parse_fast(&line) {
                prop_assert_eq!(Ok(fast), parse_line_slow_path(&line));
            }
            if let Some((dimension_id, value)) = try_parse_set_fields(&line) {
                prop_assert_eq!(
                    Ok(Command::Set { dimension_id, value }),
                    parse_line_slow_path(&line)
                );
            }
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_bytes(
            prefix in prop_oneof![Just(&b"SET "[..]), Just(&b"BEGIN "[..]), Just(&b"END"[..])],
            tail in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut line = prefix.to_vec();
            line.extend_from_slice(&tail);
            if let Some(fast) = try_parse_fast(&line) {
                prop_assert_eq!(Ok(fast), parse_line_slow_path(&line));
            }
            if let Some((dimension_id, value)) = try_parse_set_fields(&line) {
                prop_assert_eq!(
                    Ok(Command::Set { dimension_id, value }),
                    parse_line_slow_path(&line)
                );
            }
        }
    }
}
