//! Decimal formatting of metric values, byte for byte as netdata 1.37 sends them.
//!
//! * [`write_stored_value`]: a value computed from stored points (`average` and
//!   `sum` data sources), as C's `printf("%0.7Lf")` prints it: always seven
//!   decimals, never an exponent, correctly rounded (ties to even).
//! * [`write_collected_value`]: the integer last collected (`as collected`),
//!   as `printf("%lld")` prints it.
//! * [`write_timestamp`]: seconds since the epoch, as an integer.
//!
//! The one deliberate difference from netdata: a value that prints as zero
//! never carries a minus sign (`-0.0` and `-0.00000001` give `0.0000000`, where
//! C gives `-0.0000000`). See "Wire formats" in `docs/compatibility.md`.

use crate::room::Room;

/// How many decimals a stored value is written with (netdata's `%0.7Lf`).
pub const STORED_VALUE_DECIMALS: usize = 7;

/// 10^[`STORED_VALUE_DECIMALS`].
const DECIMAL_SCALE: u64 = 10_000_000;

/// Appends `value` the way C's `printf("%0.7Lf", (long double)value)` does:
/// an optional `-`, the integer digits, a dot and exactly seven decimals.
///
/// The decimal expansion is exact and rounded to nearest with ties to even,
/// like glibc. A value that rounds to zero is written `0.0000000` (C would
/// keep the sign of `-0.0` or of a tiny negative number).
///
/// `value` must be finite: netdata skips windows without a value (NaN) and
/// stored values cannot be infinite. Passing NaN or an infinity is a bug of
/// the caller (a `debug_assert!` fires in debug builds); release builds write
/// `nan`, `inf` or `-inf` so the line stays one line.
///
/// Values with a magnitude below 2^64 (all real metrics) take an exact integer
/// fast path; larger ones fall back to Rust's exact `{:.7}` formatting.
///
/// ```
/// use wire::number::write_stored_value;
///
/// let mut buf = Vec::new();
/// for v in [13.0, -2.5, 123456790000000.0, 1234.567, 7.333333, -0.0] {
///     write_stored_value(&mut buf, v);
///     buf.push(b' ');
/// }
/// assert_eq!(
///     buf,
///     b"13.0000000 -2.5000000 123456790000000.0000000 1234.5670000 7.3333330 0.0000000 "
/// );
/// ```
#[inline]
pub fn write_stored_value(buf: &mut Vec<u8>, value: f64) {
    put_stored_value(&mut Room::new(buf), None, value);
}

/// [`write_stored_value`] into a [`Room`], after the byte `lead` if any.
#[inline(always)]
pub(crate) fn put_stored_value(room: &mut Room<'_>, lead: Option<u8>, value: f64) {
    debug_assert!(
        value.is_finite(),
        "stored values must be finite (got {value}); skip the line instead"
    );
    match stored_value_words(lead, value) {
        Some(words) => words.put(room),
        None => put_stored_value_exact(room, lead, value),
    }
}

/// A stored value known exactly as a whole number of 10^-7 units, below
/// 10^8 in magnitude: what one packed point is (its mantissa times a power
/// of ten). Written as [`write_stored_value`] writes the same value, without
/// the conversion from binary floating point and its rounding checks.
///
/// ```
/// use wire::number::{write_stored_value, SevenDecimalUnits};
/// use wire::format::MetricValue;
///
/// let mut exact = Vec::new();
/// MetricValue::Exact(SevenDecimalUnits::new(true, 12_345_670_000).unwrap()).write(&mut exact);
/// assert_eq!(exact, b"-1234.5670000");
/// let mut float = Vec::new();
/// write_stored_value(&mut float, -1234.567);
/// assert_eq!(exact, float);
/// assert_eq!(SevenDecimalUnits::new(false, 1_000_000_000_000_000), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SevenDecimalUnits {
    negative: bool,
    /// The magnitude in 10^-7 units, below 10^15.
    units: u64,
}

impl SevenDecimalUnits {
    /// The value `units` × 10^-7, negated when `negative`; `None` from
    /// 10^8 (10^15 units) on. A zero is never negative.
    #[inline]
    pub fn new(negative: bool, units: u64) -> Option<SevenDecimalUnits> {
        (units < DECIMAL_SCALE * 100_000_000).then_some(SevenDecimalUnits {
            negative: negative && units != 0,
            units,
        })
    }

    /// The nearest double.
    #[inline]
    pub fn to_f64(self) -> f64 {
        let magnitude = self.units as f64 / DECIMAL_SCALE as f64;
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The text, after the byte `lead` if any, as [`NumberWords`].
    #[inline(always)]
    pub(crate) fn words(self, lead: Option<u8>) -> NumberWords {
        scaled_words(lead, self.negative, self.units)
    }
}

/// A number laid out as two little-endian words: the first `head_len`
/// bytes of `head`, then the first `tail_len` bytes of `tail`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumberWords {
    pub head: u128,
    pub head_len: usize,
    pub tail: u128,
    pub tail_len: usize,
}

impl NumberWords {
    /// Appends the number (checked stores).
    #[inline(always)]
    pub(crate) fn put(self, room: &mut Room<'_>) {
        room.put_array(self.head.to_le_bytes(), self.head_len);
        room.put_array(self.tail.to_le_bytes(), self.tail_len);
    }

    /// Appends the number without the capacity check: two 16-byte stores.
    ///
    /// # Safety
    ///
    /// As for [`Room::put_array_unchecked`], counting 32 bytes. (Both
    /// lengths are at most 16: a lead byte, a sign and eight digits in the
    /// head; eight or nine bytes in the tail.)
    #[inline(always)]
    pub(crate) unsafe fn put_unchecked(self, room: &mut Room<'_>) {
        // SAFETY: the caller's reservation covers both stores.
        unsafe {
            room.put_array_unchecked(self.head.to_le_bytes(), self.head_len);
            room.put_array_unchecked(self.tail.to_le_bytes(), self.tail_len);
        }
    }
}

/// The text of [`write_stored_value`], after the byte `lead` if any, as
/// [`NumberWords`]; `None` for the values [`scale_fast`] leaves (written by
/// [`put_stored_value_exact`]).
#[inline(always)]
pub(crate) fn stored_value_words(lead: Option<u8>, value: f64) -> Option<NumberWords> {
    // Whole numbers below 10^8 (most gauges) need neither the scaling nor
    // the decimals: `i` is exact, and `-0.0` compares equal to 0 (written
    // without its sign).
    let whole = value as i64;
    if whole as f64 == value && whole.unsigned_abs() < 100_000_000 {
        let (digits, count) = significant_digits(whole.unsigned_abs() as u32);
        let (head, head_len) = head_word(lead, whole < 0, digits, count);
        return Some(NumberWords {
            head,
            head_len,
            tail: u128::from(u64::from_le_bytes(*b".0000000")),
            tail_len: 8,
        });
    }
    let (negative, scaled) = scale_fast(value)?;
    Some(scaled_words(lead, negative, scaled))
}

/// The text of [`write_collected_value`], after the byte `lead` if any, as
/// [`NumberWords`]; `None` from 10^16 on (written by [`put_integer`]).
#[inline(always)]
pub(crate) fn integer_words(lead: Option<u8>, value: i64) -> Option<NumberWords> {
    let negative = value < 0;
    let magnitude = value.unsigned_abs();
    if magnitude < 100_000_000 {
        let (digits, count) = significant_digits(magnitude as u32);
        let (head, head_len) = head_word(lead, negative, digits, count);
        Some(NumberWords {
            head,
            head_len,
            tail: 0,
            tail_len: 0,
        })
    } else if magnitude < 10_000_000_000_000_000 {
        let (digits, count) = significant_digits((magnitude / 100_000_000) as u32);
        let (head, head_len) = head_word(lead, negative, digits, count);
        let tail = u128::from(u64::from_le_bytes(eight_digits(
            (magnitude % 100_000_000) as u32,
        )));
        Some(NumberWords {
            head,
            head_len,
            tail,
            tail_len: 8,
        })
    } else {
        None
    }
}

/// The values [`scale_fast`] leaves: near a rounding tie, or 10^8 and up.
#[inline(never)]
pub(crate) fn put_stored_value_exact(room: &mut Room<'_>, lead: Option<u8>, value: f64) {
    if let Some(byte) = lead {
        room.put_byte(byte);
    }
    match split_at_seven_decimals(value) {
        Some(parts) => {
            let (text, len) = render_parts(parts);
            room.put_slice(&text[..len]);
        }
        None => room.put_slice(write_stored_value_slow(value).as_bytes()),
    }
}

/// Appends `value` as a plain decimal integer (`printf("%lld")`), the form of
/// `as collected` values.
///
/// ```
/// use wire::number::write_collected_value;
///
/// let mut buf = Vec::new();
/// write_collected_value(&mut buf, -123456789012345);
/// assert_eq!(buf, b"-123456789012345");
/// ```
#[inline]
pub fn write_collected_value(buf: &mut Vec<u8>, value: i64) {
    put_integer(&mut Room::new(buf), None, value);
}

/// [`write_collected_value`] into a [`Room`], after the byte `lead` if any.
#[inline(always)]
pub(crate) fn put_integer(room: &mut Room<'_>, lead: Option<u8>, value: i64) {
    if let Some(words) = integer_words(lead, value) {
        words.put(room);
    } else {
        if let Some(byte) = lead {
            room.put_byte(byte);
        }
        let (text, len) = render_integer(value);
        room.put_slice(&text[..len]);
    }
}

/// The first bytes of a number as one little-endian word: `lead` (if any),
/// `-` (if `negative`) and `count` digits (the low bytes of `digits`).
/// Returns the word and how many of its bytes count (at most 10).
#[inline(always)]
fn head_word(lead: Option<u8>, negative: bool, digits: u64, count: usize) -> (u128, usize) {
    let mut head = u128::from(digits);
    let mut len = count;
    if negative {
        head = (head << 8) | u128::from(b'-');
        len += 1;
    }
    if let Some(byte) = lead {
        head = (head << 8) | u128::from(byte);
        len += 1;
    }
    (head, len)
}

/// Appends a timestamp (seconds since the epoch) as a decimal integer.
///
/// netdata printed timestamps with `%llu` of a `time_t`; they are never
/// negative, and a negative one would be written with its sign here.
///
/// ```
/// let mut buf = Vec::new();
/// wire::number::write_timestamp(&mut buf, 1795688386);
/// assert_eq!(buf, b"1795688386");
/// ```
#[inline]
pub fn write_timestamp(buf: &mut Vec<u8>, timestamp: i64) {
    write_integer(buf, timestamp);
}

/// A timestamp rendered once, for the many lines of a batch that share it.
///
/// ```
/// let ts = wire::number::RenderedTimestamp::new(1795688386);
/// assert_eq!(ts.as_bytes(), b"1795688386");
/// assert_eq!(ts.value(), 1795688386);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderedTimestamp {
    /// ` DIGITS\n`, padded with zeros: the forms the line formats need are
    /// prefixes of it, written with one fixed-size store.
    framed: [u8; 32],
    /// How many digits.
    len: u8,
    value: i64,
}

impl RenderedTimestamp {
    /// Renders `timestamp` exactly as [`write_timestamp`] does.
    pub fn new(timestamp: i64) -> RenderedTimestamp {
        let (text, len) = render_integer(timestamp);
        let mut framed = [0u8; 32];
        framed[0] = b' ';
        framed[1..=len].copy_from_slice(&text[..len]);
        framed[len + 1] = b'\n';
        RenderedTimestamp {
            framed,
            len: len as u8,
            value: timestamp,
        }
    }

    /// The rendered digits.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.framed[1..=usize::from(self.len)]
    }

    /// The timestamp itself.
    pub fn value(&self) -> i64 {
        self.value
    }

    /// ` DIGITS\n` padded to 32 bytes, and how many bytes are ` DIGITS`.
    #[inline(always)]
    pub(crate) fn framed(&self) -> ([u8; 32], usize) {
        (self.framed, usize::from(self.len) + 1)
    }

    /// Appends ` DIGITS\n` without a capacity check: in one 16-byte store
    /// when it fits (up to 14 digits: millisecond timestamps until the year
    /// 5138), else one of 32 bytes.
    ///
    /// # Safety
    ///
    /// `room` must have at least 32 bytes reserved beyond its position.
    #[inline(always)]
    pub(crate) unsafe fn put_line_end_unchecked(&self, room: &mut Room<'_>) {
        let (framed, spaced_len) = self.framed();
        // SAFETY: the caller reserved 32 bytes; both stores write within
        // them.
        unsafe {
            if spaced_len < 16 {
                let mut short = [0u8; 16];
                short.copy_from_slice(&framed[..16]);
                room.put_array_unchecked(short, spaced_len + 1);
            } else {
                room.put_array_unchecked(framed, spaced_len + 1);
            }
        }
    }

    /// Appends ` DIGITS`, and the `\n` after it when `newline`.
    #[inline]
    pub(crate) fn put_spaced(&self, room: &mut Room<'_>, newline: bool) {
        room.put_array(
            self.framed,
            usize::from(self.len) + 1 + usize::from(newline),
        );
    }
}

/// A value rounded to seven decimals: `[-]integer.fraction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SevenDecimals {
    negative: bool,
    integer: u64,
    /// The seven decimals as an integer, `0..DECIMAL_SCALE`.
    fraction: u32,
}

/// The common case in one multiplication. The product `|value| × 10^7` is
/// off by at most half a unit in its last place: at most 2^-14 below 10^12
/// (|value| < 10^5) and 2^-4 below 10^15 (|value| < 10^8). When its fraction
/// is further than twice that from one half, rounding the product rounds the
/// exact decimal expansion the same way. Returns the sign (false for a result
/// of zero) and `|value| × 10^7` rounded, exactly what
/// [`split_at_seven_decimals`] computes; otherwise `None`.
#[inline(always)]
fn scale_fast(value: f64) -> Option<(bool, u64)> {
    let magnitude = value.abs();
    let guard = if magnitude < 1.0e5 {
        1.0 / 4096.0
    } else if magnitude < 1.0e8 {
        1.0 / 8.0
    } else {
        return None; // (a NaN falls through and fails both checks below)
    };
    let scaled = magnitude * DECIMAL_SCALE as f64;
    // Truncation: 0 <= scaled < 10^15 < 2^63, so the signed conversions
    // (one instruction each way) are exact.
    let floor = scaled as i64;
    let fraction = scaled - floor as f64; // exact (Sterbenz, or floor = 0)
    let floor = floor as u64;
    let rounded = if fraction > 0.5 + guard {
        floor + 1
    } else if fraction < 0.5 - guard {
        floor
    } else {
        return None;
    };
    if rounded >= 1_000_000_000_000_000 {
        return None; // 99999999.99999995 and up round to nine integer digits
    }
    Some((value.is_sign_negative() && rounded != 0, rounded))
}

/// The four ASCII digits of every number below 10^4, zero-padded (40 KB).
static FOUR_DIGITS: [[u8; 4]; 10_000] = {
    let mut table = [[0u8; 4]; 10_000];
    let mut n = 0;
    while n < 10_000 {
        table[n] = [
            b'0' + (n / 1000) as u8,
            b'0' + (n / 100 % 10) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ];
        n += 1;
    }
    table
};

/// The eight decimal digits of `n < 10^8`, zero-padded, as ASCII bytes in
/// reading order: two lookups of four digits.
#[inline(always)]
fn eight_digits(n: u32) -> [u8; 8] {
    debug_assert!(n < 100_000_000);
    let high = (n / 10_000) as usize;
    let low = (n % 10_000) as usize;
    let high = FOUR_DIGITS.get(high).copied().unwrap_or([b'9'; 4]);
    let low = FOUR_DIGITS.get(low).copied().unwrap_or([b'9'; 4]);
    let word = u64::from(u32::from_le_bytes(high)) | (u64::from(u32::from_le_bytes(low)) << 32);
    word.to_le_bytes()
}

/// `[lead][-]integer.fraction` for `scaled` = value × 10^7 < 10^15, put
/// together in registers: assembling it byte by byte in a stack array and
/// copying that out stalls on store-to-load forwarding, which costs more
/// than the digits.
#[inline(always)]
fn scaled_words(lead: Option<u8>, negative: bool, scaled: u64) -> NumberWords {
    let integer = (scaled / DECIMAL_SCALE) as u32; // < 10^8
    let fraction = (scaled % DECIMAL_SCALE) as u32; // < 10^7
    let (digits, count) = significant_digits(integer);
    let (head, head_len) = head_word(lead, negative, digits, count);
    // Eight digits of a number below 10^7 start with a `0`: the dot's place.
    // Whole numbers (most gauges) skip the conversion.
    let tail = if fraction == 0 {
        u64::from_le_bytes(*b".0000000")
    } else {
        (u64::from_le_bytes(eight_digits(fraction)) & !0xff) | u64::from(b'.')
    };
    NumberWords {
        head,
        head_len,
        tail: u128::from(tail),
        tail_len: 8,
    }
}

/// The decimal digits of `n < 10^8` without leading zeros (one digit for
/// zero), in the low bytes of a little-endian word, and how many.
#[inline(always)]
fn significant_digits(n: u32) -> (u64, usize) {
    let text = u64::from_le_bytes(eight_digits(n));
    // Leading zeros are the low bytes that are zero before adding '0'; the
    // bit set in the last byte keeps at least one digit.
    let values = (text - 0x3030_3030_3030_3030) | (1 << 56);
    let zeros = (values.trailing_zeros() / 8) as usize;
    (text >> (8 * zeros), 8 - zeros)
}

/// Rounds a finite `value` whose magnitude is below 2^64 to seven decimals,
/// exactly. Returns `None` for larger magnitudes and non-finite values.
///
/// A double is `mantissa * 2^exponent` with a 53-bit mantissa. For a negative
/// exponent `-shift` the integer part is `mantissa >> shift` and the fraction
/// is `rest / 2^shift` with `rest < 2^shift`; its seven decimals are
/// `floor(rest * 10^7 / 2^shift)`, computed exactly in 128 bits, and the bits
/// shifted out decide the rounding.
#[inline]
fn split_at_seven_decimals(value: f64) -> Option<SevenDecimals> {
    let bits = value.to_bits();
    let negative = bits >> 63 != 0;
    let biased_exponent = ((bits >> 52) & 0x7ff) as i32;
    let stored_mantissa = bits & ((1u64 << 52) - 1);
    if biased_exponent == 0x7ff {
        return None; // NaN or infinity
    }
    let (mantissa, exponent) = if biased_exponent == 0 {
        (stored_mantissa, -1074) // subnormal (or zero)
    } else {
        (stored_mantissa | (1u64 << 52), biased_exponent - 1075)
    };

    if exponent >= 0 {
        // An integer. mantissa < 2^53, so a shift of up to 11 stays below 2^64.
        if exponent > 11 {
            return None;
        }
        let integer = mantissa << exponent;
        return Some(SevenDecimals {
            negative: negative && integer != 0,
            integer,
            fraction: 0,
        });
    }

    let shift = exponent.unsigned_abs();
    let (mut integer, rest) = if shift < 64 {
        (mantissa >> shift, mantissa & ((1u64 << shift) - 1))
    } else {
        (0, mantissa)
    };

    // rest * 10^7 < 2^53 * 2^24 = 2^77. With shift >= 78 that is below half of
    // 2^shift, so the seven decimals round down to zero.
    let mut fraction = if shift >= 78 {
        0
    } else {
        let scaled = u128::from(rest) * u128::from(DECIMAL_SCALE);
        let quotient = scaled >> shift;
        let remainder = scaled & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        // quotient < 10^7 because rest < 2^shift.
        let mut fraction = quotient as u64;
        if remainder > half || (remainder == half && fraction & 1 == 1) {
            fraction += 1;
        }
        fraction
    };
    if fraction == DECIMAL_SCALE {
        integer += 1;
        fraction = 0;
    }
    Some(SevenDecimals {
        negative: negative && (integer != 0 || fraction != 0),
        integer,
        fraction: fraction as u32,
    })
}

/// "00" to "99", two bytes per number.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Room for the longest number written here: a sign, 20 integer digits, a
/// dot and 7 decimals (29 bytes).
const NUMBER_ROOM: usize = 32;

/// Writes the decimal digits of `value` so that they end just before
/// `text[end]`, and returns where they start.
#[inline]
fn write_digits_ending_at(text: &mut [u8; NUMBER_ROOM], end: usize, mut value: u64) -> usize {
    let mut start = end;
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        start -= 2;
        text[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if value >= 10 {
        let pair = value as usize * 2;
        start -= 2;
        text[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        text[start] = b'0' + value as u8;
    }
    start
}

/// How many decimal digits `value` has (1 for 0).
#[inline]
fn digit_count(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// `[-]integer.fraction` as text and its length.
#[inline]
fn render_parts(parts: SevenDecimals) -> ([u8; NUMBER_ROOM], usize) {
    let mut text = [b'-'; NUMBER_ROOM];
    let dot = usize::from(parts.negative) + digit_count(parts.integer);
    write_digits_ending_at(&mut text, dot, parts.integer);
    text[dot] = b'.';
    let mut fraction = parts.fraction;
    let mut at = dot + 1 + STORED_VALUE_DECIMALS;
    for _ in 0..3 {
        let pair = (fraction % 100) as usize * 2;
        fraction /= 100;
        at -= 2;
        text[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    text[dot + 1] = b'0' + fraction as u8; // the first decimal
    (text, dot + 1 + STORED_VALUE_DECIMALS)
}

/// `value` as a decimal integer (`printf("%lld")`) and its length.
#[inline]
fn render_integer(value: i64) -> ([u8; NUMBER_ROOM], usize) {
    let mut text = [b'-'; NUMBER_ROOM];
    let magnitude = value.unsigned_abs();
    let len = usize::from(value < 0) + digit_count(magnitude);
    write_digits_ending_at(&mut text, len, magnitude);
    (text, len)
}

/// Appends `value` as a decimal integer (`printf("%lld")`).
#[inline]
fn write_integer(buf: &mut Vec<u8>, value: i64) {
    let (text, len) = render_integer(value);
    buf.extend_from_slice(&text[..len]);
}

#[cold]
fn write_stored_value_slow(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        (if value > 0.0 { "inf" } else { "-inf" }).to_owned()
    } else {
        // |value| >= 2^64: an integer, never a negative zero. Rust's `{:.7}` is
        // exact, as glibc's printf is.
        format!("{value:.7}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn fast_split_agrees_with_the_exact_one(v in -1.0e5f64..1.0e5) {
            if let Some(fast) = scale_fast(v) {
                proptest::prop_assert_eq!(Some(from_scaled(fast)), split_at_seven_decimals(v));
            }
        }

        #[test]
        fn eight_digits_are_the_zero_padded_decimal(n in 0u32..100_000_000) {
            proptest::prop_assert_eq!(eight_digits(n).to_vec(), format!("{n:08}").into_bytes());
        }

        #[test]
        fn fast_split_agrees_up_to_1e8(v in -1.0e8f64..1.0e8) {
            if let Some(fast) = scale_fast(v) {
                proptest::prop_assert_eq!(Some(from_scaled(fast)), split_at_seven_decimals(v));
                let mut fast_text = Vec::new();
                scaled_words(None, fast.0, fast.1).put(&mut Room::new(&mut fast_text));
                let (exact, len) = render_parts(from_scaled(fast));
                proptest::prop_assert_eq!(fast_text, exact[..len].to_vec());
            }
        }

        #[test]
        fn integers_up_to_1e8_take_the_fast_path(n in -99_999_999i64..99_999_999) {
            let fast = scale_fast(n as f64);
            proptest::prop_assert!(fast.is_some());
            let mut text = Vec::new();
            write_stored_value(&mut text, n as f64);
            proptest::prop_assert_eq!(String::from_utf8(text).unwrap(), format!("{n}.0000000"));
        }

        #[test]
        fn scaled_writing_matches_the_exact_writer(v in -1.0e5f64..1.0e5) {
            if let Some((negative, scaled)) = scale_fast(v) {
                let mut fast = b"x".to_vec();
                scaled_words(Some(b' '), negative, scaled).put(&mut Room::new(&mut fast));
                let (exact, len) = render_parts(from_scaled((negative, scaled)));
                let mut expected = b"x ".to_vec();
                expected.extend_from_slice(&exact[..len]);
                proptest::prop_assert_eq!(fast, expected);
            }
        }

        #[test]
        fn fast_split_agrees_near_rounding_boundaries(k in -1_000_000_000_000i64..1_000_000_000_000, nudge in -3i32..=3) {
            // Values near x.xxxxxxx5, where rounding is decided.
            let v = (k as f64 + 0.5) / 1e7;
            let v = f64::from_bits((v.to_bits() as i64 + i64::from(nudge)) as u64);
            if let Some(fast) = scale_fast(v) {
                proptest::prop_assert_eq!(Some(from_scaled(fast)), split_at_seven_decimals(v));
            }
        }
    }

    fn from_scaled((negative, scaled): (bool, u64)) -> SevenDecimals {
        SevenDecimals {
            negative,
            integer: scaled / DECIMAL_SCALE,
            fraction: (scaled % DECIMAL_SCALE) as u32,
        }
    }

    #[test]
    fn fast_split_takes_the_common_values() {
        for v in [0.0, 1.0, -2.5, 13.0, 1234.567, 7.333333, 99_999.9999999] {
            assert!(scale_fast(v).is_some(), "{v}");
        }
        assert!(scale_fast(1.0e5).is_some());
        assert!(scale_fast(1.0e8).is_none());
        assert!(
            scale_fast(0.00000005).is_none(),
            "a tie goes to the exact path"
        );
        for (v, text) in [
            (0.0, "0.0000000"),
            (-0.0, "0.0000000"),
            (-2.5, "-2.5000000"),
            (12345.6789012, "12345.6789012"),
            (99_999.99999999, "100000.0000000"),
            (0.1, "0.1000000"),
            (-0.00000004, "0.0000000"),
        ] {
            let mut buf = b"x".to_vec();
            write_stored_value(&mut buf, v);
            assert_eq!(std::str::from_utf8(&buf[1..]).unwrap(), text, "{v}");
        }
    }
    use proptest::prelude::*;

    fn stored(value: f64) -> String {
        let mut buf = Vec::new();
        write_stored_value(&mut buf, value);
        String::from_utf8(buf).expect("ascii")
    }

    /// What backhaul must print: Rust's exact formatting, without the sign of
    /// a zero.
    fn reference(value: f64) -> String {
        let text = format!("{value:.7}");
        if text == "-0.0000000" {
            "0.0000000".to_owned()
        } else {
            text
        }
    }

    #[test]
    fn netdata_samples() {
        assert_eq!(stored(13.0), "13.0000000");
        assert_eq!(stored(-2.5), "-2.5000000");
        assert_eq!(stored(123456790000000.0), "123456790000000.0000000");
        assert_eq!(stored(1234.567), "1234.5670000");
        assert_eq!(stored(7.333333), "7.3333330");
        assert_eq!(stored(6.1666665), "6.1666665");
        assert_eq!(stored(55.66016), "55.6601600");
        assert_eq!(stored(0.0), "0.0000000");
    }

    #[test]
    fn negative_zero_prints_without_sign() {
        assert_eq!(stored(-0.0), "0.0000000");
        assert_eq!(stored(-0.00000001), "0.0000000");
        assert_eq!(stored(-0.00000005), "0.0000000"); // just under half a unit
        assert_eq!(stored(-0.00000006), "-0.0000001");
    }

    #[test]
    fn ties_round_to_even() {
        // 1/256 = 0.00390625 exactly: the eighth decimal is a 5 with nothing after.
        assert_eq!(stored(0.00390625), "0.0039062");
        assert_eq!(stored(0.01171875), "0.0117188"); // 3/256
        assert_eq!(stored(-0.00390625), "-0.0039062");
        assert_eq!(stored(0.99999995), reference(0.99999995));
        assert_eq!(stored(0.99999999), "1.0000000");
        assert_eq!(stored(9.99999999), "10.0000000");
    }

    #[test]
    fn limits_of_the_fast_path() {
        let below = 18446744073709549568.0; // largest double below 2^64
        assert_eq!(stored(below), "18446744073709549568.0000000");
        assert_eq!(
            stored(18446744073709551616.0),
            "18446744073709551616.0000000"
        );
        assert_eq!(stored(-1e300), reference(-1e300));
        assert_eq!(stored(f64::MAX), reference(f64::MAX));
        assert_eq!(stored(f64::MIN_POSITIVE), "0.0000000");
        assert_eq!(stored(5e-324), "0.0000000");
        assert_eq!(stored(4503599627370495.5), "4503599627370495.5000000");
        assert_eq!(stored(9007199254740991.0), "9007199254740991.0000000");
    }

    /// Whole values at the bound of the whole-number fast path (below
    /// 10^8): 10^8 has nine digits and must leave it. Eight digits of 10^8
    /// read past the digit table and would print `99990000.0000000`.
    #[test]
    fn whole_values_at_the_fast_paths_bound() {
        assert_eq!(stored(99_999_999.0), "99999999.0000000");
        assert_eq!(stored(-99_999_999.0), "-99999999.0000000");
        assert_eq!(stored(1e8), "100000000.0000000");
        assert_eq!(stored(-1e8), "-100000000.0000000");
        assert_eq!(stored(100_000_001.0), "100000001.0000000");
        assert_eq!(stored(-100_000_001.0), "-100000001.0000000");
        for v in [1e8, -1e8, 99_999_999.0, -99_999_999.0] {
            assert_eq!(stored(v), reference(v), "{v}");
        }
        // After a lead byte, as the line encoders write it.
        let mut room_text = b"x".to_vec();
        put_stored_value(&mut Room::new(&mut room_text), Some(b' '), 1e8);
        assert_eq!(room_text, b"x 100000000.0000000");
        // The collected (integer) writer has the same bound.
        let mut collected = Vec::new();
        for v in [99_999_999, 100_000_000, -100_000_000, 100_000_001] {
            write_collected_value(&mut collected, v);
            collected.push(b' ');
        }
        assert_eq!(
            collected,
            b"99999999 100000000 -100000000 100000001 ".as_slice()
        );
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn non_finite_values_stay_one_word() {
        assert_eq!(stored(f64::NAN), "nan");
        assert_eq!(stored(f64::INFINITY), "inf");
        assert_eq!(stored(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    #[should_panic(expected = "stored values must be finite")]
    #[cfg(debug_assertions)]
    fn non_finite_values_are_a_caller_bug() {
        stored(f64::NAN);
    }

    #[test]
    fn collected_values() {
        let mut buf = Vec::new();
        for v in [0, 42, -1, i64::MIN, i64::MAX] {
            write_collected_value(&mut buf, v);
            buf.push(b' ');
        }
        assert_eq!(
            buf,
            b"0 42 -1 -9223372036854775808 9223372036854775807 ".as_slice()
        );
    }

    /// Doubles near a rounding boundary of the seventh decimal: `k / 10^7`
    /// plus or minus half a unit, nudged by a few ulps.
    fn near_a_boundary() -> impl Strategy<Value = f64> {
        (any::<i64>(), -3i64..=3, any::<bool>()).prop_map(|(k, ulps, half)| {
            let k = (k % 100_000_000_000_000) as f64;
            let base = if half { (k + 0.5) / 1e7 } else { k / 1e7 };
            let bits = base.to_bits() as i64 + ulps;
            f64::from_bits(bits as u64)
        })
    }

    /// Doubles whose eighth decimal is an exact tie: `m / 2^n`.
    fn dyadic() -> impl Strategy<Value = f64> {
        (any::<i32>(), 1u32..40).prop_map(|(m, n)| f64::from(m) / f64::from(1u32 << (n % 31)))
    }

    /// glibc's own `printf("%.7f")` (a double widens exactly to the `long
    /// double` netdata formats, so `%.7f` and `%0.7Lf` print the same digits).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc(value: f64) -> String {
        use std::ffi::{c_char, c_int};
        extern "C" {
            fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, ...) -> c_int;
        }
        let mut out = vec![0u8; 400];
        // SAFETY: the buffer is 400 bytes and snprintf writes at most `size`
        // bytes including the terminator; the format takes exactly one double.
        let written = unsafe {
            snprintf(
                out.as_mut_ptr().cast::<c_char>(),
                out.len(),
                c"%.7f".as_ptr(),
                value,
            )
        };
        let written = usize::try_from(written).expect("snprintf succeeded");
        assert!(written < out.len(), "output fits");
        out.truncate(written);
        let text = String::from_utf8(out).expect("ascii");
        if text == "-0.0000000" {
            "0.0000000".to_owned()
        } else {
            text
        }
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn equals_glibc_on_samples_and_ties() {
        for value in [
            13.0,
            -2.5,
            123456790000000.0,
            1234.567,
            7.333333,
            0.00390625,
            0.01171875,
            -0.00000005,
            0.99999995,
            1e22,
            -1e300,
            f64::MAX,
            5e-324,
        ] {
            assert_eq!(stored(value), glibc(value), "{value:e}");
        }
    }

    /// Any finite double below 2^100 in magnitude, subnormals included: every
    /// binary exponent equally likely.
    fn up_to_2_pow_100() -> impl Strategy<Value = f64> {
        (any::<bool>(), 0u64..=1023 + 100, any::<u64>()).prop_map(
            |(negative, exponent, mantissa)| {
                let sign = u64::from(negative) << 63;
                f64::from_bits(sign | exponent << 52 | (mantissa & ((1 << 52) - 1)))
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn exponent_spread_equals_exact_formatting(value in up_to_2_pow_100()) {
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        fn equals_glibc(value in up_to_2_pow_100()) {
            prop_assert_eq!(stored(value), glibc(value));
        }

        #[test]
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        fn equals_glibc_near_boundaries(value in near_a_boundary()) {
            prop_assume!(value.is_finite());
            prop_assert_eq!(stored(value), glibc(value));
        }

        #[test]
        fn fast_path_equals_exact_formatting(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assume!(value.is_finite());
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        fn moderate_values_equal_exact_formatting(value in -1e15f64..1e15) {
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        fn small_values_equal_exact_formatting(value in -1e-3f64..1e-3) {
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        fn boundary_values_equal_exact_formatting(value in near_a_boundary()) {
            prop_assume!(value.is_finite());
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        fn tie_values_equal_exact_formatting(value in dyadic()) {
            prop_assert_eq!(stored(value), reference(value));
        }

        #[test]
        fn always_seven_decimals_and_no_exponent(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assume!(value.is_finite());
            let text = stored(value);
            let (_, decimals) = text.split_once('.').expect("a dot");
            prop_assert_eq!(decimals.len(), STORED_VALUE_DECIMALS);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'));
        }

        #[test]
        fn collected_equals_display(value in any::<i64>()) {
            let mut buf = Vec::new();
            write_collected_value(&mut buf, value);
            prop_assert_eq!(buf, value.to_string().into_bytes());
        }

        /// Every length, through every path (one word, two words, the
        /// text fallback), after a lead byte or not.
        #[test]
        fn collected_of_every_length_equals_display(digits in 1u32..=19, x in any::<u64>(), negative in any::<bool>(), lead in any::<bool>()) {
            let magnitude = (x % 10u64.pow(digits)) as i64;
            let value = if negative { -magnitude } else { magnitude };
            let mut buf = b"<".to_vec();
            put_integer(&mut Room::new(&mut buf), lead.then_some(b' '), value);
            let expected = format!("<{}{value}", if lead { " " } else { "" });
            prop_assert_eq!(String::from_utf8(buf).unwrap(), expected);
        }
    }

    #[test]
    fn collected_limits() {
        for value in [
            0,
            -1,
            9,
            10,
            99_999_999,
            100_000_000,
            -100_000_000,
            9_999_999_999_999_999,
            10_000_000_000_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            write_collected_value(&mut buf, value);
            assert_eq!(buf, value.to_string().into_bytes());
        }
    }
}
