//! The statsd protocol as netdata 1.37's statsd server reads it: packets of
//! `NAME:VALUE|TYPE[|@RATE][|#TAGS]` lines, their fields, values, sampling
//! rates and tags, and the framing of a TCP stream into whole lines.
//!
//! netdata's reading rules, kept here byte for byte:
//!
//! * A packet ends at its first NUL byte. Blanks, `\r` and `\n` at its
//!   start are skipped (netdata skips them only between lines, so a line
//!   starting with blanks read differently at the start of a datagram or a
//!   TCP read; backhaul reads it the same everywhere). Lines end at `\n`; a field also
//!   ends at `\r`. Blanks (space, tab) around every field are trimmed, and
//!   blank and `\r`/`\n` bytes between lines are skipped.
//! * The name ends at `:`, `=` or `|`. An empty name (a line starting with
//!   one of those) is not a line: that one byte is skipped and reading goes
//!   on right after it.
//! * After `:` (or `=`) comes the value, up to `|`, `@` or `#`; after `|`
//!   the type, up to the same. Then any number of `|@RATE` / `@RATE`
//!   (sampling), `|#TAGS` / `#TAGS` (tags) and other `|...` fields (skipped);
//!   the last of each kind wins. The rest of the line is ignored.
//! * A missing or empty type is a meter (`m`); `g` gauge, `c` or `C`
//!   counter, `m` meter, `ms` timer, `h` histogram, `s` set, `d`
//!   dictionary; anything else is an unknown type (counted, logged).
//! * Values: `zinit` creates the metric without a sample. Gauges: a value
//!   starting with `+` or `-` is a delta (divided by the sampling rate),
//!   anything else sets the gauge. Counters and meters: an integer (1 when
//!   empty) divided by the rate and rounded to nearest. Timers and histograms: a
//!   number recorded `round(1 / rate)` times (rate clamped to 0.01..1).
//!   Sets and dictionaries: the value is a member (text).
//! * Numbers are read as C's `strtod`/`strtoll` read a prefix: what follows
//!   the number is "excess data", reported but not fatal (netdata uses the
//!   number and logs the rest).
//! * Sampling rates are clamped to 0.001..1 (an unreadable one is 0, so
//!   0.001). Tags are `key:value` (or `key=value`) pairs separated by `,`;
//!   netdata uses `units`, `name` (the dimension name) and `family`.

use thiserror::Error;

/// The kinds of statsd metrics netdata keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    Gauge,
    Counter,
    Meter,
    Timer,
    Histogram,
    Set,
    Dictionary,
}

impl MetricType {
    /// Every type, in the order netdata flushes them.
    pub const ALL: [MetricType; 7] = [
        MetricType::Gauge,
        MetricType::Counter,
        MetricType::Meter,
        MetricType::Timer,
        MetricType::Histogram,
        MetricType::Set,
        MetricType::Dictionary,
    ];

    /// The type of a line's type field (`g`, `c`, `C`, `m`, `ms`, `h`, `s`,
    /// `d`; empty is a meter).
    pub fn from_field(field: &[u8]) -> Option<MetricType> {
        // Slice patterns of fixed length: no call to memcmp.
        Some(match *field {
            [] | [b'm'] => MetricType::Meter,
            [b'g'] => MetricType::Gauge,
            [b'c' | b'C'] => MetricType::Counter,
            [b'm', b's'] => MetricType::Timer,
            [b'h'] => MetricType::Histogram,
            [b's'] => MetricType::Set,
            [b'd'] => MetricType::Dictionary,
            _ => return None,
        })
    }

    /// netdata's word for the type: in private chart ids and titles
    /// (`statsd_NAME.gauge`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Meter => "meter",
            MetricType::Timer => "timer",
            MetricType::Histogram => "histogram",
            MetricType::Set => "set",
            MetricType::Dictionary => "dictionary",
        }
    }

    /// The plural, as netdata's families and its own charts' dimensions
    /// name the type.
    pub fn plural(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauges",
            MetricType::Counter => "counters",
            MetricType::Meter => "meters",
            MetricType::Timer => "timers",
            MetricType::Histogram => "histograms",
            MetricType::Set => "sets",
            MetricType::Dictionary => "dictionaries",
        }
    }
}

/// One line of a packet, split into its trimmed fields. `None` is a field
/// the line does not have; `Some(b"")` one it has empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
    pub type_field: Option<&'a [u8]>,
    pub sampling: Option<&'a [u8]>,
    pub tags: Option<&'a [u8]>,
}

/// Why a line adds nothing to a metric.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StatsdError {
    /// The type field is none netdata knows (`x:1|zz`).
    #[error("unknown metric type '{}'", String::from_utf8_lossy(.type_field))]
    UnknownType { type_field: Vec<u8> },
    /// A gauge, timer, histogram, set or dictionary with no value: the
    /// metric exists (netdata creates it), but gets no sample.
    #[error("{} with an empty value is ignored", .0.as_str())]
    EmptyValue(MetricType),
}

/// What one line does to its metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update<'a> {
    /// `zinit`: the metric is created, nothing else.
    Init,
    /// Sets a gauge.
    GaugeSet(f64),
    /// Adds to a gauge (already divided by the sampling rate).
    GaugeAdd(f64),
    /// Adds to a counter or meter (already scaled by the sampling rate and
    /// rounded).
    Count(i64),
    /// Records a timer or histogram value `times` times.
    Sample { value: f64, times: u32 },
    /// Records a member of a set or dictionary.
    Member(&'a [u8]),
}

/// A line read into the metric it updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line<'a> {
    pub name: &'a [u8],
    pub metric_type: MetricType,
    pub update: Update<'a>,
    /// The value had bytes after its number (netdata: "excess data"); the
    /// number was used.
    pub excess: bool,
    /// The tags field, unparsed (see [`tags`]).
    pub tags: Option<&'a [u8]>,
}

/// The lines of one packet (up to its first NUL), in order.
pub fn lines(packet: &[u8]) -> Lines<'_> {
    let end = memchr::memchr(0, packet).unwrap_or(packet.len());
    let mut lines = Lines {
        buf: &packet[..end],
        pos: 0,
    };
    // Leading blanks are skipped as they are between lines, so a line reads
    // the same at the start of a packet (or TCP read) as after another line.
    lines.pos = lines.skip_spaces(0);
    lines
}

/// Iterator over the [`RawLine`]s of a packet; see [`lines`].
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_blank(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_blank(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// A byte class table: `true` for the bytes that end a field.
type Stops = [bool; 256];

const fn stops(chars: [u8; 3]) -> Stops {
    let mut table = [false; 256];
    table[b'\r' as usize] = true;
    table[b'\n' as usize] = true;
    let mut i = 0;
    while i < chars.len() {
        table[chars[i] as usize] = true;
        i += 1;
    }
    table
}

/// Where a name ends.
const NAME_STOPS: Stops = stops([b':', b'=', b'|']);
/// Where a value, a type, a sampling rate or tags end.
const FIELD_STOPS: Stops = stops([b'|', b'@', b'#']);

impl<'a> Lines<'a> {
    /// The position of the first byte of class `stops` from `from` (or the
    /// end).
    #[inline]
    fn skip_to(&self, from: usize, stops: &Stops) -> usize {
        let rest = self.buf.get(from..).unwrap_or_default();
        from + rest
            .iter()
            .position(|&c| stops[usize::from(c)])
            .unwrap_or(rest.len())
    }

    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    fn skip_spaces(&self, mut i: usize) -> usize {
        while matches!(self.at(i), b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = RawLine<'a>;

    fn next(&mut self) -> Option<RawLine<'a>> {
        let buf = self.buf;
        loop {
            if self.pos >= buf.len() {
                return None;
            }
            let name_start = self.pos;
            let mut s = self.skip_to(name_start, &NAME_STOPS);
            if s == name_start {
                // No name: skip this one byte (and the blanks after it).
                self.pos = if s < buf.len() {
                    self.skip_spaces(s + 1)
                } else {
                    s
                };
                continue;
            }
            let name = &buf[name_start..s];
            let mut value = None;
            let mut type_field = None;
            let mut sampling = None;
            let mut tags = None;
            if matches!(self.at(s), b':' | b'=') {
                let start = s + 1;
                s = self.skip_to(start, &FIELD_STOPS);
                value = Some(&buf[start..s]);
            }
            if self.at(s) == b'|' {
                let start = s + 1;
                s = self.skip_to(start, &FIELD_STOPS);
                type_field = Some(&buf[start..s]);
            }
            loop {
                let c = self.at(s);
                let next = self.at(s + 1);
                if (c == b'|' && next == b'@') || c == b'@' {
                    let mut start = s + 1;
                    s = self.skip_to(start, &FIELD_STOPS);
                    if self.at(start) == b'@' && start < s {
                        start += 1;
                    }
                    sampling = Some(&buf[start..s]);
                } else if (c == b'|' && next == b'#') || c == b'#' {
                    let mut start = s + 1;
                    s = self.skip_to(start, &FIELD_STOPS);
                    if self.at(start) == b'#' && start < s {
                        start += 1;
                    }
                    tags = Some(&buf[start..s]);
                } else if c == b'|' {
                    s = self.skip_to(s + 1, &FIELD_STOPS);
                } else {
                    break;
                }
            }
            // The rest of the line is ignored.
            s = match memchr::memchr(b'\n', &buf[s..]) {
                Some(offset) => s + offset,
                None => buf.len(),
            };
            self.pos = self.skip_spaces(s);
            let name = trim(name);
            if name.is_empty() {
                continue;
            }
            return Some(RawLine {
                name,
                value: value.map(trim),
                type_field: type_field.map(trim),
                sampling: sampling.map(trim),
                tags: tags.map(trim),
            });
        }
    }
}

/// A number read as C's `strtod` reads a decimal prefix: the number (0 when
/// there is none) and whether bytes follow it.
pub fn parse_float_prefix(s: &[u8]) -> (f64, bool) {
    let mut i = 0;
    if matches!(s.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_start = i;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if s.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if digits > 0 || j > frac_start {
            digits += j - frac_start;
            i = j;
        }
    }
    if digits == 0 {
        return (0.0, !s.is_empty());
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    // The prefix is ASCII digits, sign, dot and exponent: always valid.
    let number = std::str::from_utf8(&s[..i])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    (number, i < s.len())
}

/// An integer read as C's `strtoll` reads a decimal prefix (saturating at
/// the `i64` range): the number (0 when there is none) and whether bytes
/// follow it.
pub fn parse_int_prefix(s: &[u8]) -> (i64, bool) {
    let mut i = 0;
    let negative = match s.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut value: i64 = 0;
    while let Some(&d) = s.get(i).filter(|d| d.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        value = if negative {
            value.saturating_mul(10).saturating_sub(digit)
        } else {
            value.saturating_mul(10).saturating_add(digit)
        };
        i += 1;
    }
    if i == start {
        return (0, !s.is_empty());
    }
    (value, i < s.len())
}

/// A sampling field as a rate in 0.001..=1 (no field: 1).
pub fn sampling_rate(field: Option<&[u8]>) -> f64 {
    match field {
        None | Some(b"") => 1.0,
        Some(s) => parse_float_prefix(s).0.clamp(0.001, 1.0),
    }
}

/// Reads a [`RawLine`] into the update it makes.
pub fn read_line<'a>(raw: &RawLine<'a>) -> Result<Line<'a>, StatsdError> {
    let type_field = raw.type_field.unwrap_or(b"");
    let metric_type =
        MetricType::from_field(type_field).ok_or_else(|| StatsdError::UnknownType {
            type_field: type_field.to_vec(),
        })?;
    let value = raw.value.unwrap_or(b"");
    let mut excess = false;
    let update = if matches!(*value, [b'z', b'i', b'n', b'i', b't']) {
        Update::Init
    } else {
        match metric_type {
            MetricType::Counter | MetricType::Meter => {
                let (count, more) = if value.is_empty() {
                    (1, false)
                } else {
                    parse_int_prefix(value)
                };
                excess = more;
                let rate = sampling_rate(raw.sampling);
                Update::Count(round_half_even(count as f64 / rate))
            }
            _ if value.is_empty() => return Err(StatsdError::EmptyValue(metric_type)),
            MetricType::Gauge => {
                let (number, more) = parse_float_prefix(value);
                excess = more;
                if matches!(value[0], b'+' | b'-') {
                    Update::GaugeAdd(number / sampling_rate(raw.sampling))
                } else {
                    Update::GaugeSet(number)
                }
            }
            MetricType::Timer | MetricType::Histogram => {
                let (number, more) = parse_float_prefix(value);
                excess = more;
                let rate = sampling_rate(raw.sampling).clamp(0.01, 1.0);
                Update::Sample {
                    value: number,
                    times: round_half_even(1.0 / rate).clamp(1, 100) as u32,
                }
            }
            MetricType::Set | MetricType::Dictionary => Update::Member(value),
        }
    };
    Ok(Line {
        name: raw.name,
        metric_type,
        update,
        excess,
        tags: raw.tags,
    })
}

/// C's `llrint` in the default rounding mode: to nearest, ties to even;
/// saturating at the `i64` range.
fn round_half_even(x: f64) -> i64 {
    if x.is_nan() {
        return 0;
    }
    let r = x.round_ties_even();
    if r >= i64::MAX as f64 {
        i64::MAX
    } else if r <= i64::MIN as f64 {
        i64::MIN
    } else {
        r as i64
    }
}

/// The `key:value` (or `key=value`) pairs of a tags field, trimmed, in
/// order; pairs with an empty key or value are left out, as netdata does.
pub fn tags(field: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    field.split(|&b| b == b',').filter_map(|pair| {
        let cut = pair.iter().position(|&b| b == b':' || b == b'=')?;
        let key = trim(&pair[..cut]);
        let value = trim(&pair[cut + 1..]);
        (!key.is_empty() && !value.is_empty()).then_some((key, value))
    })
}

/// What netdata takes from a metric's tags: `units`, `name` (the
/// dimension's name) and `family`; the first of each wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagMeta {
    pub units: Option<String>,
    pub dimension_name: Option<String>,
    pub family: Option<String>,
}

impl TagMeta {
    /// Takes what a tags field adds to what is already known.
    pub fn absorb(&mut self, field: &[u8]) {
        for (key, value) in tags(field) {
            let slot = match key {
                b"units" => &mut self.units,
                b"name" => &mut self.dimension_name,
                b"family" => &mut self.family,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
}

/// The complete lines at the start of a TCP stream's buffered bytes, and
/// the incomplete rest: everything up to and including the last `\n`.
pub fn split_complete(buf: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'\n', buf) {
        Some(last) => buf.split_at(last + 1),
        None => (&[], buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    fn raw(packet: &str) -> Vec<Fields> {
        let s = |f: Option<&[u8]>| f.map(|b| String::from_utf8_lossy(b).into_owned());
        lines(packet.as_bytes())
            .map(|l| {
                (
                    String::from_utf8_lossy(l.name).into_owned(),
                    s(l.value),
                    s(l.type_field),
                    s(l.sampling),
                    s(l.tags),
                )
            })
            .collect()
    }

    #[test]
    fn fields_and_their_separators() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            raw("a:1|c|@0.5|#k:v"),
            [("a".into(), some("1"), some("c"), some("0.5"), some("k:v"))]
        );
        assert_eq!(
            raw("a=1|c@0.5#k:v"),
            [("a".into(), some("1"), some("c"), some("0.5"), some("k:v"))]
        );
        assert_eq!(raw("nocolon"), [("nocolon".into(), None, None, None, None)]);
        assert_eq!(
            raw(" a : 2 | g \r\n\n b:3|ms|x|@0.1"),
            [
                ("a".into(), some("2"), some("g"), None, None),
                ("b".into(), some("3"), some("ms"), some("0.1"), None),
            ]
        );
        // A line with no name: one byte skipped, reading goes on.
        assert_eq!(raw(":5|c"), [("5".into(), None, some("c"), None, None)]);
        // NUL ends the packet.
        assert_eq!(
            raw("a:1|c\0b:2|c"),
            [("a".into(), some("1"), some("c"), None, None)]
        );
    }

    #[test]
    fn values_per_type() {
        fn read(s: &str) -> Result<Line<'_>, StatsdError> {
            let raw = lines(s.as_bytes()).next().expect("a line");
            read_line(&raw)
        }
        assert_eq!(read("g:5.5|g").map(|l| l.update), Ok(Update::GaugeSet(5.5)));
        assert_eq!(
            read("g:-2|g|@0.5").map(|l| l.update),
            Ok(Update::GaugeAdd(-4.0))
        );
        assert_eq!(read("c:3|c|@0.5").map(|l| l.update), Ok(Update::Count(6)));
        assert_eq!(read("c:|c").map(|l| l.update), Ok(Update::Count(1)));
        assert_eq!(
            read("c").map(|l| (l.metric_type, l.update)),
            Ok((MetricType::Meter, Update::Count(1)))
        );
        assert_eq!(
            read("t:7|ms|@0.25").map(|l| l.update),
            Ok(Update::Sample {
                value: 7.0,
                times: 4
            })
        );
        assert_eq!(
            read("s:abc|s").map(|l| l.update),
            Ok(Update::Member(b"abc"))
        );
        assert_eq!(read("s:zinit|s").map(|l| l.update), Ok(Update::Init));
        assert_eq!(
            read("g:|g"),
            Err(StatsdError::EmptyValue(MetricType::Gauge))
        );
        assert_eq!(
            read("x:1|zz"),
            Err(StatsdError::UnknownType {
                type_field: b"zz".to_vec()
            })
        );
        let l = read("c:1.5|c").expect("counter");
        assert_eq!((l.update, l.excess), (Update::Count(1), true));
    }

    #[test]
    fn tag_meta_keeps_the_first() {
        let mut meta = TagMeta::default();
        meta.absorb(b"k:v, units : ms ,name=nm,,units:s,family:");
        assert_eq!(meta.units.as_deref(), Some("ms"));
        assert_eq!(meta.dimension_name.as_deref(), Some("nm"));
        assert_eq!(meta.family, None);
    }

    #[test]
    fn tcp_framing() {
        assert_eq!(
            split_complete(b"a:1|c\nb:2"),
            (&b"a:1|c\n"[..], &b"b:2"[..])
        );
        assert_eq!(split_complete(b"b:2"), (&b""[..], &b"b:2"[..]));
    }
}
