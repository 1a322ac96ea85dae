//! `PackedSample`: one stored point in 32 bits, after netdata's
//! "storage number" idea.
//!
//! # Layout
//!
//! ```text
//!  31   30   29..27    26..25    24      23..0
//! sign  mul  exponent  reserved  exists  mantissa
//! ```
//!
//! * `mantissa` is an unsigned 24-bit integer (0 ..= 16 777 215).
//! * `exponent` is 0 ..= 7. With `mul` set the value is
//!   `mantissa * 10^exponent`, otherwise `mantissa / 10^exponent`.
//! * `sign` set means the value is negative.
//! * `exists` set means the slot holds a value; the all-zero word is the
//!   empty slot, so a freshly zeroed ring is empty.
//! * the two reserved bits are always zero today.
//!
//! # Range and precision
//!
//! * Largest magnitude: [`PackedSample::MAX`] = 16 777 215 × 10⁷ ≈ 1.68 × 10¹⁴.
//!   Larger magnitudes saturate to ±`MAX` (they are never wrapped or dropped).
//! * Smallest non-zero magnitude: 10⁻⁷. Smaller magnitudes round to 0 or 10⁻⁷.
//! * Packing rounds to the nearest representable value. The mantissa is
//!   normalised to keep at least 7 significant digits, so for
//!   `10⁻⁷ ≤ |x| ≤ MAX` the error is at most
//!   `max(|x| × RELATIVE_ERROR, ABSOLUTE_ERROR)`, with
//!   [`RELATIVE_ERROR`] = 3 × 10⁻⁷ and [`ABSOLUTE_ERROR`] = 5 × 10⁻⁸ (the
//!   latter only matters below about 0.17, where the exponent runs out).
//! * NaN and infinities are not numbers a collector can produce; packing
//!   them yields the empty slot.
//!
//! ```
//! use rrd::PackedSample;
//! let p = PackedSample::pack(123456789012345.0);
//! assert_eq!(p.unpack(), Some(123456790000000.0));
//! assert_eq!(PackedSample::pack(22.0 / 3.0).unpack(), Some(7.333333));
//! assert_eq!(PackedSample::EMPTY.unpack(), None);
//! ```

/// Relative error bound of [`PackedSample::pack`] for magnitudes in range.
pub const RELATIVE_ERROR: f64 = 3e-7;
/// Absolute error bound of [`PackedSample::pack`] for tiny magnitudes.
pub const ABSOLUTE_ERROR: f64 = 5e-8;

const SIGN: u32 = 1 << 31;
const MUL: u32 = 1 << 30;
const EXP_SHIFT: u32 = 27;
const EXP_MASK: u32 = 0b111 << EXP_SHIFT;
const EXISTS: u32 = 1 << 24;
const MANTISSA_MASK: u32 = (1 << 24) - 1;
const MANTISSA_MAX: f64 = MANTISSA_MASK as f64;

const POW10: [f64; 8] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];

/// Scale factors indexed by the top five bits (sign, mul, exponent).
const SUMMAND_SCALE: [f64; 32] = {
    let mut t = [0.0; 32];
    let mut i = 0;
    while i < 32 {
        let exponent = i & 0b111;
        let mul = i & 0b1000 != 0;
        let negative = i & 0b1_0000 != 0;
        let magnitude = if mul {
            POW10[exponent]
        } else {
            1.0 / POW10[exponent]
        };
        t[i] = if negative { -magnitude } else { magnitude };
        i += 1;
    }
    t
};

/// One stored point: a value packed in 32 bits, or the empty slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct PackedSample(u32);

impl PackedSample {
    /// The empty slot (no value was stored for this time).
    pub const EMPTY: PackedSample = PackedSample(0);
    /// The largest magnitude that packs without saturating.
    pub const MAX: f64 = MANTISSA_MAX * 1e7;

    /// Packs `value`, rounding to the nearest representable number and
    /// saturating at ±[`Self::MAX`]. NaN and infinities give [`Self::EMPTY`].
    #[inline]
    pub fn pack(value: f64) -> PackedSample {
        if !value.is_finite() {
            return Self::EMPTY;
        }
        let mut bits = EXISTS;
        let mut magnitude = value;
        if magnitude < 0.0 {
            bits |= SIGN;
            magnitude = -magnitude;
        }
        if magnitude > MANTISSA_MAX + 0.5 {
            // Too big for the mantissa: divide by powers of ten.
            let mut exponent = 0usize;
            while exponent < 7 && magnitude / POW10[exponent] > MANTISSA_MAX + 0.5 {
                exponent += 1;
            }
            let mantissa = rounded_mantissa(magnitude / POW10[exponent]);
            bits |= MUL | ((exponent as u32) << EXP_SHIFT) | mantissa;
        } else {
            // Fits: multiply by powers of ten while that keeps it in range,
            // so that the mantissa carries at least 7 significant digits.
            let mut exponent = 0usize;
            while exponent < 7 && magnitude * POW10[exponent + 1] <= MANTISSA_MAX {
                exponent += 1;
            }
            let mantissa = rounded_mantissa(magnitude * POW10[exponent]);
            bits |= ((exponent as u32) << EXP_SHIFT) | mantissa;
        }
        if bits & MANTISSA_MASK == 0 {
            // Zero has one representation, without sign or exponent.
            bits = EXISTS;
        }
        PackedSample(bits)
    }

    /// Whether the slot holds a value.
    #[inline]
    pub fn exists(self) -> bool {
        self.0 & EXISTS != 0
    }

    /// The stored value, or `None` for the empty slot.
    #[inline]
    pub fn unpack(self) -> Option<f64> {
        if self.exists() {
            Some(self.value_unchecked())
        } else {
            None
        }
    }

    /// The stored value; meaningless (but safe) for the empty slot.
    #[inline]
    pub fn value_unchecked(self) -> f64 {
        let mantissa = (self.0 & MANTISSA_MASK) as f64;
        let exponent = ((self.0 & EXP_MASK) >> EXP_SHIFT) as usize;
        let magnitude = if self.0 & MUL != 0 {
            mantissa * POW10[exponent]
        } else {
            mantissa / POW10[exponent]
        };
        if self.0 & SIGN != 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The stored value for summing: 0 for the empty slot, otherwise the
    /// value computed with one multiplication (a reciprocal power of ten),
    /// which is within one unit in the last place of [`Self::unpack`]. Has
    /// no branch, so window sums over many samples vectorise.
    #[inline]
    pub fn summand(self) -> f64 {
        let mantissa = (self.0 & MANTISSA_MASK) as f64;
        mantissa * SUMMAND_SCALE[(self.0 >> EXP_SHIFT) as usize]
    }

    /// The value exactly, as a sign and a whole number of ten-millionths
    /// (10^-7 units), when it is below 10^8 in magnitude (15 digits in
    /// all); `None` for larger values and the empty slot. Every packed
    /// value is its mantissa times a power of ten from 10^-7 to 10^7, so
    /// this is the decimal a `%0.7f` of the value prints, with no binary
    /// rounding on the way.
    ///
    /// ```
    /// use rrd::PackedSample;
    /// assert_eq!(PackedSample::pack(-1234.567).ten_millionths(), Some((true, 12_345_670_000)));
    /// assert_eq!(PackedSample::pack(1e9).ten_millionths(), None);
    /// assert_eq!(PackedSample::EMPTY.ten_millionths(), None);
    /// ```
    #[inline]
    pub fn ten_millionths(self) -> Option<(bool, u64)> {
        if !self.exists() {
            return None;
        }
        const LIMIT: u64 = 1_000_000_000_000_000;
        const UNITS: [u64; 8] = [10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
        let mantissa = u64::from(self.0 & MANTISSA_MASK);
        let exponent = ((self.0 & EXP_MASK) >> EXP_SHIFT) as usize;
        let units = if self.0 & MUL != 0 {
            // mantissa × 10^exponent is at most 2^24 × 10^7: no overflow,
            // nor once it is known to be below 10^8.
            let whole = mantissa * UNITS[7 - exponent];
            if whole >= LIMIT / UNITS[0] {
                return None;
            }
            whole * UNITS[0]
        } else {
            mantissa * UNITS[exponent]
        };
        Some((self.0 & SIGN != 0, units))
    }

    /// 1 if the slot holds a value, else 0.
    #[inline]
    pub fn exists_count(self) -> usize {
        ((self.0 >> 24) & 1) as usize
    }

    /// The raw 32-bit word.
    #[inline]
    pub fn to_bits(self) -> u32 {
        self.0
    }

    /// Rebuilds a sample from its raw 32-bit word.
    #[inline]
    pub fn from_bits(bits: u32) -> PackedSample {
        PackedSample(bits)
    }
}

/// `x.round().min(MANTISSA_MAX)` for a finite `x >= 0`, as an integer,
/// without `round` (a library call on x86-64's baseline instruction set):
/// truncate, then add one when the fraction is at least a half (the
/// subtraction is exact below 2^24). Equality with `f64::round` is
/// property-tested.
#[inline(always)]
fn rounded_mantissa(x: f64) -> u32 {
    if x >= MANTISSA_MAX {
        return MANTISSA_MASK;
    }
    let whole = x as u32;
    let fraction = x - f64::from(whole);
    whole + u32::from(fraction >= 0.5)
}

impl std::fmt::Debug for PackedSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unpack() {
            Some(v) => write!(f, "PackedSample({v})"),
            None => f.write_str("PackedSample(empty)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn within_bound(x: f64) -> bool {
        let got = PackedSample::pack(x).unpack().expect("finite values exist");
        let clamped = x.clamp(-PackedSample::MAX, PackedSample::MAX);
        let err = (got - clamped).abs();
        err <= (clamped.abs() * RELATIVE_ERROR).max(ABSOLUTE_ERROR)
    }

    #[test]
    fn netdata_observed_values() {
        assert_eq!(
            PackedSample::pack(123456789012345.0).unpack(),
            Some(123456790000000.0)
        );
        assert_eq!(PackedSample::pack(22.0 / 3.0).unpack(), Some(7.333333));
        assert_eq!(PackedSample::pack(1234.567).unpack(), Some(1234.567));
        assert_eq!(PackedSample::pack(-2.0).unpack(), Some(-2.0));
        assert_eq!(PackedSample::pack(42.0).unpack(), Some(42.0));
    }

    #[test]
    fn zero_and_empty_are_distinct() {
        assert_eq!(PackedSample::pack(0.0).unpack(), Some(0.0));
        assert_eq!(PackedSample::pack(-0.0).unpack(), Some(0.0));
        assert_eq!(PackedSample::pack(-0.0), PackedSample::pack(0.0));
        assert!(!PackedSample::EMPTY.exists());
        assert_eq!(PackedSample::default(), PackedSample::EMPTY);
    }

    #[test]
    fn non_finite_is_empty() {
        assert_eq!(PackedSample::pack(f64::NAN), PackedSample::EMPTY);
        assert_eq!(PackedSample::pack(f64::INFINITY), PackedSample::EMPTY);
        assert_eq!(PackedSample::pack(f64::NEG_INFINITY), PackedSample::EMPTY);
    }

    #[test]
    fn out_of_range_saturates() {
        assert_eq!(PackedSample::pack(1e300).unpack(), Some(PackedSample::MAX));
        assert_eq!(PackedSample::pack(-1e20).unpack(), Some(-PackedSample::MAX));
        assert_eq!(
            PackedSample::pack(PackedSample::MAX).unpack(),
            Some(PackedSample::MAX)
        );
    }

    #[test]
    fn tiny_values_round_to_the_smallest_step() {
        assert_eq!(PackedSample::pack(1e-7).unpack(), Some(1e-7));
        assert_eq!(PackedSample::pack(4e-8).unpack(), Some(0.0));
        assert_eq!(PackedSample::pack(6e-8).unpack(), Some(1e-7));
        assert_eq!(PackedSample::pack(-1e-12).unpack(), Some(0.0));
    }

    #[test]
    fn mantissa_boundaries() {
        for x in [
            16_777_215.0,
            16_777_215.4,
            16_777_215.6,
            16_777_216.0,
            167_772_150.0,
            1.6777215,
        ] {
            assert!(within_bound(x), "{x}");
            assert!(within_bound(-x), "-{x}");
        }
    }

    #[test]
    fn a_value_has_one_representation() {
        // Half a unit above the largest mantissa still rounds to it, and
        // compares (and hashes) equal to it.
        for x in [16_777_215.5, -16_777_215.5] {
            let p = PackedSample::pack(x);
            assert_eq!(p.unpack(), Some(x.trunc()));
            assert_eq!(p, PackedSample::pack(x.trunc()), "{x}");
        }
    }

    /// `pack` as it was written first (with `f64::round`): the reference
    /// the faster one must equal bit for bit.
    fn pack_by_loops(value: f64) -> PackedSample {
        if !value.is_finite() {
            return PackedSample::EMPTY;
        }
        let mut bits = EXISTS;
        let mut magnitude = value;
        if magnitude < 0.0 {
            bits |= SIGN;
            magnitude = -magnitude;
        }
        if magnitude > MANTISSA_MAX + 0.5 {
            let mut exponent = 0usize;
            while exponent < 7 && magnitude / POW10[exponent] > MANTISSA_MAX + 0.5 {
                exponent += 1;
            }
            let mantissa = (magnitude / POW10[exponent]).round().min(MANTISSA_MAX);
            bits |= MUL | ((exponent as u32) << EXP_SHIFT) | mantissa as u32;
        } else {
            let mut exponent = 0usize;
            while exponent < 7 && magnitude * POW10[exponent + 1] <= MANTISSA_MAX {
                exponent += 1;
            }
            let mantissa = (magnitude * POW10[exponent]).round().min(MANTISSA_MAX);
            bits |= ((exponent as u32) << EXP_SHIFT) | mantissa as u32;
        }
        if bits & MANTISSA_MASK == 0 {
            bits = EXISTS;
        }
        PackedSample(bits)
    }

    #[test]
    fn pack_equals_the_reference_at_edges() {
        let mut edges = vec![0.0, -0.0, 0.5, 1.0, 1e-7, 5e-8, 16_777_215.5, 16_777_216.0];
        for power in POW10 {
            let boundary = MANTISSA_MAX / power;
            for x in [
                boundary,
                boundary * (1.0 + f64::EPSILON),
                boundary * (1.0 - f64::EPSILON),
            ] {
                edges.push(x);
                edges.push(-x);
            }
        }
        for x in edges {
            assert_eq!(PackedSample::pack(x), pack_by_loops(x), "{x}");
        }
    }

    /// What `pack` computed before [`rounded_mantissa`].
    fn rounded_mantissa_by_round(x: f64) -> u32 {
        x.round().min(MANTISSA_MAX) as u32
    }

    #[test]
    fn rounded_mantissa_at_halves_and_edges() {
        for x in [
            0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            2.4999999999999996,
            16_777_214.5,
            16_777_214.499999998,
            16_777_215.0,
            16_777_215.5,
            1e300,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(rounded_mantissa(x), rounded_mantissa_by_round(x), "{x}");
        }
    }

    proptest! {
        #[test]
        fn pack_equals_the_reference(
            any_value in any::<f64>(),
            mantissa in -1.0f64..1.0,
            exp in -12i32..16,
            integer in any::<i64>(),
        ) {
            let scaled = mantissa * 10f64.powi(exp);
            for x in [any_value, scaled, integer as f64, (integer % 100_000_000) as f64 / 7.0] {
                prop_assert_eq!(PackedSample::pack(x), pack_by_loops(x), "{}", x);
            }
        }

        #[test]
        fn rounded_mantissa_is_round(x in 0.0f64..2e7, y in any::<f64>()) {
            prop_assert_eq!(rounded_mantissa(x), rounded_mantissa_by_round(x));
            let half = x.trunc() + 0.5;
            prop_assert_eq!(rounded_mantissa(half), rounded_mantissa_by_round(half));
            let y = y.abs();
            if y.is_finite() {
                prop_assert_eq!(rounded_mantissa(y), rounded_mantissa_by_round(y));
            }
        }

        #[test]
        fn error_bound_holds_over_magnitudes(mantissa in -1.0f64..1.0, exp in -12i32..16) {
            let x = mantissa * 10f64.powi(exp);
            prop_assert!(within_bound(x), "x={x} got={:?}", PackedSample::pack(x).unpack());
        }

        #[test]
        fn error_bound_holds_for_integers(x in any::<i64>()) {
            prop_assert!(within_bound(x as f64));
        }

        #[test]
        fn error_bound_holds_for_any_finite(x in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            prop_assert!(within_bound(x));
        }

        #[test]
        fn sign_is_kept(x in 1e-6f64..1e14) {
            prop_assert!(PackedSample::pack(x).unpack().unwrap() > 0.0);
            prop_assert!(PackedSample::pack(-x).unpack().unwrap() < 0.0);
        }

        #[test]
        fn packing_is_idempotent(x in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let once = PackedSample::pack(x);
            let twice = PackedSample::pack(once.unpack().unwrap());
            prop_assert_eq!(once.unpack(), twice.unpack());
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn summand_is_within_an_ulp_of_unpack(x in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let p = PackedSample::pack(x);
            let exact = p.unpack().unwrap();
            let fast = p.summand();
            prop_assert!((fast - exact).abs() <= exact.abs() * f64::EPSILON, "{fast} vs {exact}");
            prop_assert_eq!(p.exists_count(), 1);
            prop_assert_eq!(PackedSample::EMPTY.summand(), 0.0);
            prop_assert_eq!(PackedSample::EMPTY.exists_count(), 0);
        }

        #[test]
        fn ten_millionths_are_the_unpacked_value(bits in any::<u32>()) {
            let p = PackedSample::from_bits(bits & !(0b11 << 25));
            match (p.unpack(), p.ten_millionths()) {
                (None, units) => prop_assert_eq!(units, None),
                (Some(v), None) => prop_assert!(v.abs() >= 1e8, "{v}"),
                (Some(v), Some((negative, units))) => {
                    prop_assert!(units < 1_000_000_000_000_000);
                    prop_assert_eq!(negative, v.is_sign_negative());
                    let exact = units as f64 / 1e7;
                    prop_assert!((exact - v.abs()).abs() <= v.abs() * 2.0 * f64::EPSILON, "{exact} vs {v}");
                }
            }
        }

        #[test]
        fn bits_round_trip(bits in any::<u32>()) {
            let p = PackedSample::from_bits(bits);
            prop_assert_eq!(p.to_bits(), bits);
            prop_assert_eq!(p.exists(), bits & EXISTS != 0);
        }
    }
}
