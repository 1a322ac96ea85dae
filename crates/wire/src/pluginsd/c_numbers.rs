//! Numbers read the way netdata's C code reads them, so that a plugin's
//! output means the same number here as it did there.
//!
//! All of these are lenient, like their C models: they read the longest
//! valid prefix and ignore what follows; no digits reads as 0. Unlike C they
//! never overflow silently into garbage: they saturate.
//!
//! | function | C model | used for |
//! | --- | --- | --- |
//! | [`parse_c_integer`] | `strtoll(s, NULL, 0)` | `SET` values, `DIMENSION` multiplier and divisor |
//! | [`parse_decimal_prefix`] | netdata's `str2l` / `str2i` | `CHART` priority and update every, label sources, timeouts |
//! | [`parse_unsigned_prefix`] | netdata's `str2ull` | `BEGIN` microseconds |

/// Reads an integer like C's `strtoll(text, NULL, 0)`: leading whitespace,
/// an optional `+`/`-`, then `0x`/`0X` hexadecimal, `0` octal or decimal
/// digits, stopping at the first byte that is not a digit of that base.
/// Out-of-range values saturate to `i64::MIN`/`i64::MAX` (as `strtoll`
/// does); no digits gives 0.
///
/// ```
/// use wire::pluginsd::c_numbers::parse_c_integer;
///
/// assert_eq!(parse_c_integer(b"123"), 123);
/// assert_eq!(parse_c_integer(b"-42"), -42);
/// assert_eq!(parse_c_integer(b"0x1F"), 31);
/// assert_eq!(parse_c_integer(b"010"), 8); // octal, as in C
/// assert_eq!(parse_c_integer(b"12.9"), 12); // stops at '.'
/// assert_eq!(parse_c_integer(b"99999999999999999999"), i64::MAX);
/// assert_eq!(parse_c_integer(b"abc"), 0);
/// ```
pub fn parse_c_integer(text: &[u8]) -> i64 {
    let mut at = 0;
    while at < text.len() && is_c_space(text[at]) {
        at += 1;
    }
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = text.get(at) {
        negative = sign == b'-';
        at += 1;
    }
    let digits = &text[at..];
    let (radix, digits) = match digits {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, &digits[2..]),
        [b'0', ..] => (8, digits),
        _ => (10, digits),
    };
    let mut magnitude: u64 = 0;
    let mut overflowed = false;
    for &b in digits {
        let Some(digit) = (b as char).to_digit(radix) else {
            break;
        };
        match magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(digit)))
        {
            Some(m) => magnitude = m,
            None => overflowed = true,
        }
    }
    if negative {
        if overflowed || magnitude > i64::MIN.unsigned_abs() {
            i64::MIN
        } else {
            0i64.wrapping_sub_unsigned(magnitude)
        }
    } else if overflowed || magnitude > i64::MAX as u64 {
        i64::MAX
    } else {
        magnitude as i64
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Reads an integer like netdata's `str2l`: an optional `-` (no `+`), then
/// decimal digits up to the first non-digit; saturating; no digits gives 0.
///
/// ```
/// use wire::pluginsd::c_numbers::parse_decimal_prefix;
///
/// assert_eq!(parse_decimal_prefix(b"90000"), 90000);
/// assert_eq!(parse_decimal_prefix(b"-5s"), -5);
/// assert_eq!(parse_decimal_prefix(b"+5"), 0);
/// assert_eq!(parse_decimal_prefix(b"0x10"), 0);
/// ```
pub fn parse_decimal_prefix(text: &[u8]) -> i64 {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let magnitude = parse_unsigned_prefix(digits);
    if negative {
        0i64.saturating_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    }
}

/// Reads decimal digits like netdata's `str2ull`, up to the first non-digit;
/// saturating; no digits (or a sign) gives 0.
///
/// ```
/// use wire::pluginsd::c_numbers::parse_unsigned_prefix;
///
/// assert_eq!(parse_unsigned_prefix(b"1000025"), 1_000_025);
/// assert_eq!(parse_unsigned_prefix(b"-1"), 0);
/// ```
pub fn parse_unsigned_prefix(text: &[u8]) -> u64 {
    let mut value: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    value
}

/// [`parse_decimal_prefix`] clamped to `i32` (netdata's `str2i`).
pub fn parse_decimal_prefix_i32(text: &[u8]) -> i32 {
    let value = parse_decimal_prefix(text);
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integer_matches_strtoll_base_0() {
        let cases: &[(&[u8], i64)] = &[
            (b"0", 0),
            (b"-0", 0),
            (b"+7", 7),
            (b"  12", 12),
            (b"\t-3", -3),
            (b"0x", 0),
            (b"0xg", 0),
            (b"0X7fffffffffffffff", i64::MAX),
            (b"0x8000000000000000", i64::MAX),
            (b"-0x8000000000000000", i64::MIN),
            (b"-0x8000000000000001", i64::MIN),
            (b"08", 0),
            (b"0777", 511),
            (b"9223372036854775807", i64::MAX),
            (b"9223372036854775808", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
            (b"-9223372036854775809", i64::MIN),
            (b"-", 0),
            (b"", 0),
            (b"1e5", 1),
            (b"- 5", 0),
            (b"123456789012345", 123_456_789_012_345),
            (b"1234567890123456789012345678901234567890", i64::MAX),
        ];
        for &(text, expected) in cases {
            assert_eq!(
                parse_c_integer(text),
                expected,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Hexadecimal magnitudes of 2^64 and more overflow the `u64`
    /// accumulator itself (not only the `i64` range): strtoll still
    /// saturates, whatever digits follow, and stops at the first non-hex
    /// byte.
    const HEX_AT_AND_BEYOND_2_POW_64: &[(&[u8], i64)] = &[
        (b"0xffffffffffffffff", i64::MAX),
        (b"-0xffffffffffffffff", i64::MIN),
        (b"0x10000000000000000", i64::MAX),
        (b"-0x10000000000000000", i64::MIN),
        (b"0X10000000000000001", i64::MAX),
        (b"-0X10000000000000001", i64::MIN),
        (b"0x1ffffffffffffffff", i64::MAX),
        (b"-0x1ffffffffffffffff", i64::MIN),
        (b"0x100000000000000000000000000000000", i64::MAX),
        (b"-0x100000000000000000000000000000000", i64::MIN),
        (b"+0x10000000000000000 rest", i64::MAX),
        (b"0x10000000000000000g1", i64::MAX),
    ];

    #[test]
    fn hex_at_and_beyond_2_pow_64_saturates() {
        for &(text, expected) in HEX_AT_AND_BEYOND_2_POW_64 {
            assert_eq!(
                parse_c_integer(text),
                expected,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// The same cases, and their neighbours below 2^64, against glibc's
    /// own `strtoll(text, NULL, 0)`.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn hex_overflow_equals_glibc_strtoll() {
        use std::ffi::{c_char, c_int, c_longlong, CString};
        extern "C" {
            fn strtoll(text: *const c_char, end: *mut *mut c_char, base: c_int) -> c_longlong;
        }
        let below: &[&[u8]] = &[
            b"0x7fffffffffffffff",
            b"0x8000000000000000",
            b"-0x8000000000000000",
            b"-0x8000000000000001",
            b"0xfffffffffffffffe",
        ];
        let texts = HEX_AT_AND_BEYOND_2_POW_64
            .iter()
            .map(|(text, _)| *text)
            .chain(below.iter().copied());
        for text in texts {
            let c_text = CString::new(text).expect("no NUL in the cases");
            // SAFETY: a NUL-terminated string; a null end pointer is allowed.
            let c_value = unsafe { strtoll(c_text.as_ptr(), std::ptr::null_mut(), 0) };
            assert_eq!(
                parse_c_integer(text),
                c_value,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn decimal_prefix_matches_str2l() {
        assert_eq!(parse_decimal_prefix(b""), 0);
        assert_eq!(parse_decimal_prefix(b"-"), 0);
        assert_eq!(parse_decimal_prefix(b"1000"), 1000);
        assert_eq!(parse_decimal_prefix(b"99999999999999999999"), i64::MAX);
        assert_eq!(parse_decimal_prefix(b"-99999999999999999999"), i64::MIN);
        assert_eq!(parse_decimal_prefix_i32(b"99999999999"), i32::MAX);
        assert_eq!(parse_decimal_prefix_i32(b"-99999999999"), i32::MIN);
        assert_eq!(parse_decimal_prefix_i32(b"140000"), 140_000);
    }
}
