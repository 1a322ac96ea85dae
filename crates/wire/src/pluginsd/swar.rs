//! Eight-bytes-at-a-time byte searches ("SIMD within a register"), safe
//! code only, shared by the framer, the tokenizer and the fast path.
//!
//! Each `*_mask` function returns a word whose set bits are high bits of
//! flagged bytes, little-endian. Only the **lowest** set bit is exact (the
//! first flagged byte); higher ones may be false positives, so callers only
//! ever use `mask.trailing_zeros() / 8`.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Flags the bytes of `word` equal to `byte`.
#[inline(always)]
pub(crate) fn equal_mask(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Flags the bytes of `word` below `limit` (which must be at most 128).
#[inline(always)]
pub(crate) fn below_mask(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS
}

/// From `at`, skips whole 8-byte words in which `flags` flags nothing and
/// returns where to continue byte by byte: the first flagged byte, or the
/// start of the last (shorter than 8 bytes) piece.
#[inline(always)]
pub(crate) fn skip_unflagged(bytes: &[u8], at: usize, flags: impl Fn(u64) -> u64) -> usize {
    let Some(rest) = bytes.get(at..) else {
        return at;
    };
    let mut offset = at;
    for chunk in rest.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let mask = flags(u64::from_le_bytes(word));
        if mask != 0 {
            return offset + (mask.trailing_zeros() / 8) as usize;
        }
        offset += 8;
    }
    offset
}

/// The decimal digits that start the eight bytes at `at`, when there are
/// one to seven of them: their value and count. `None` when fewer than
/// eight bytes are left, or the eight start with no digit or are all
/// digits (the caller reads those byte by byte).
#[inline(always)]
pub(crate) fn leading_digits(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    let word = u64::from_le_bytes(word);
    // A byte is not a digit when it is below '0' (the subtraction borrows),
    // above '9' (adding 0x46 reaches 0x80) or has its high bit set. A
    // borrow or carry only crosses into a byte above a flagged one, so the
    // lowest flag is exact.
    let not_digit =
        (word.wrapping_sub(ONES * u64::from(b'0')) | word.wrapping_add(ONES * 0x46) | word) & HIGHS;
    let digits = (not_digit.trailing_zeros() / 8) as usize;
    if digits == 0 || digits == 8 {
        return None;
    }
    // The digits, first one lowest, moved to the top of the word so that
    // zeros lead them and the bytes after them are gone; then pairs,
    // fours and eights of digits combined by multiplication.
    let value = (word & (ONES * 0x0f)) << (8 * (8 - digits));
    let value = (value.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    let value = (value.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    let value = value.wrapping_mul(10_000 << 32 | 1) >> 32;
    Some((value, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_flag_is_the_first_match() {
        for position in 0..8 {
            let mut bytes = *b"abcdefgh";
            bytes[position] = b'\n';
            // A byte that trips the borrow-based false positive just above.
            if position + 1 < 8 {
                bytes[position + 1] = b'\n' + 1;
            }
            let word = u64::from_le_bytes(bytes);
            assert_eq!(
                equal_mask(word, b'\n').trailing_zeros() / 8,
                position as u32
            );
            assert_eq!(below_mask(word, 0x21).trailing_zeros() / 8, position as u32);
        }
        assert_eq!(equal_mask(u64::from_le_bytes(*b"\xff\x80~abcde"), b'\n'), 0);
        assert_eq!(below_mask(u64::from_le_bytes(*b"\xff\x80~!abcd"), 0x21), 0);
    }

    #[test]
    fn skip_unflagged_stops_at_first_match_or_tail() {
        let text = b"0123456789abcdef=xyz";
        assert_eq!(skip_unflagged(text, 0, |w| equal_mask(w, b'=')), 16);
        assert_eq!(skip_unflagged(text, 3, |w| equal_mask(w, b'9')), 9);
        // No match: stops where fewer than 8 bytes remain.
        assert_eq!(skip_unflagged(text, 0, |w| equal_mask(w, b'#')), 16);
        assert_eq!(skip_unflagged(b"abc", 0, |w| equal_mask(w, b'b')), 0);
        assert_eq!(skip_unflagged(b"", 0, |w| equal_mask(w, b'b')), 0);
        assert_eq!(skip_unflagged(b"abc", 9, |w| equal_mask(w, b'b')), 9);
    }

    #[test]
    fn leading_digits_reads_one_to_seven() {
        assert_eq!(leading_digits(b"12345 = x", 0), Some((12345, 5)));
        assert_eq!(leading_digits(b"9\nSET abc", 0), Some((9, 1)));
        assert_eq!(leading_digits(b"x0000000 ", 1), Some((0, 7)));
        assert_eq!(leading_digits(b"9999999\n", 0), Some((9_999_999, 7)));
        assert_eq!(leading_digits(b"0123456/", 0), Some((123_456, 7)));
        // All eight digits, none, or fewer than eight bytes: not here.
        assert_eq!(leading_digits(b"12345678", 0), None);
        assert_eq!(leading_digits(b" 1234567", 0), None);
        assert_eq!(leading_digits(b"1234", 0), None);
        assert_eq!(leading_digits(b"12345678", 1), None);
        assert_eq!(leading_digits(b"1", 9), None);
    }

    proptest::proptest! {
        #[test]
        fn leading_digits_agree_with_a_byte_loop(bytes in proptest::collection::vec(
            proptest::prop_oneof![b'0'..=b'9', proptest::num::u8::ANY], 0..12),
            at in 0usize..4,
        ) {
            let expected = bytes.get(at..at + 8).and_then(|eight| {
                let digits = eight.iter().take_while(|b| b.is_ascii_digit()).count();
                (1..8).contains(&digits).then(|| {
                    let value = eight[..digits]
                        .iter()
                        .fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
                    (value, digits)
                })
            });
            proptest::prop_assert_eq!(leading_digits(&bytes, at), expected);
        }
    }
}
