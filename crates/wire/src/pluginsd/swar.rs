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
}
