//! Prometheus remote write (protocol 0.1.0): a `WriteRequest` protobuf,
//! snappy block-compressed.
//!
//! The exporting engine keeps its batches as lines, so a remote-write batch
//! holds one *record* per sample, a line in the text format's syntax:
//!
//! ```text
//! NAME{label="value",...} VALUEBITS TIMESTAMP_MS\n
//! ```
//!
//! with the labels sorted by name (`__name__` first, always), values
//! escaped as in the text format (so a record never holds a newline but its
//! last byte), the value as the 16 hex digits of its IEEE 754 bits (exact,
//! and cheap both ways) and the timestamp in milliseconds. A record is
//! rendered once per chart and dimension ([`ChartSeries`]) and per line
//! only gets its value and timestamp. [`BodyEncoder`] turns any run of
//! whole records into a request body when it is sent.
//!
//! Names and labels are those of the text format
//! ([`super::prometheus`]): `PREFIX_CONTEXT_UNITS_average{chart, dimension,
//! family, instance}`, and one `netdata_info` series per host with its
//! labels ([`super::prometheus::InfoLabels`]). Unlike netdata, labels are
//! sorted by name and never repeated (receivers such as Thanos and Mimir
//! reject unsorted labels), and label values are sent as they are (netdata
//! sent them with the text format's backslash escapes).
//!
//! The protobuf messages are declared here by hand ([`WriteRequest`],
//! [`TimeSeries`], [`Label`], [`Sample`]: the fields of Prometheus'
//! `remote.proto` and `types.proto` that remote write 0.1.0 uses); the
//! encoder writes the same bytes without building them.
//!
//! ```
//! use wire::format::remote_write::{BodyEncoder, ChartSeries, SeriesName, WriteRequest};
//! use wire::format::MetricValue;
//! use prost::Message;
//!
//! let mut chart = ChartSeries::new();
//! chart.push(&SeriesName::new(b"netdata_system_load_load_average", [("chart", "system.load"), ("dimension", "load1"), ("family", "load"), ("instance", "vm")]));
//! let mut batch = Vec::new();
//! chart.write_lines(&mut batch, 1_700_000_000_000, [(0, MetricValue::Stored(0.25))]);
//! let mut encoder = BodyEncoder::new();
//! let (body, samples) = encoder.encode(&batch).unwrap();
//! assert_eq!(samples, 1);
//! let request = WriteRequest::decode(snap::raw::Decoder::new().decompress_vec(body).unwrap().as_slice()).unwrap();
//! assert_eq!(request.timeseries[0].labels[0].value, "netdata_system_load_load_average");
//! assert_eq!(request.timeseries[0].samples[0].value, 0.25);
//! ```

use super::prometheus::InfoLabels;
use super::MetricValue;
use crate::number::write_timestamp;
use crate::sanitize::write_prometheus_label_value;

/// `prometheus.WriteRequest` (field 1 only: the time series).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels and samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a value at a time in milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The metric-name label.
pub const NAME_LABEL: &str = "__name__";

/// A series' name and labels rendered as the head of its records:
/// `NAME{k="v",...} `, labels sorted by name, the first of equal names
/// kept; names starting with `__` (reserved by Prometheus), empty names and
/// empty values (the same as no label, to Prometheus) left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesName {
    head: Vec<u8>,
}

impl SeriesName {
    /// `name` as given (a valid metric name, see
    /// [`super::prometheus::metric_name`]); label names as given (valid
    /// names), values escaped here.
    pub fn new<'a, I>(name: &[u8], labels: I) -> SeriesName
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut kept: Vec<(&str, &str)> = Vec::new();
        for (key, value) in labels {
            if key.is_empty()
                || value.is_empty()
                || key.starts_with("__")
                || kept.iter().any(|(k, _)| *k == key)
            {
                continue;
            }
            kept.push((key, value));
        }
        kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut head = Vec::with_capacity(name.len() + 64);
        head.extend_from_slice(name);
        head.push(b'{');
        for (i, (key, value)) in kept.iter().enumerate() {
            if i > 0 {
                head.push(b',');
            }
            head.extend_from_slice(key.as_bytes());
            head.extend_from_slice(b"=\"");
            write_prometheus_label_value(&mut head, value);
            head.push(b'"');
        }
        head.extend_from_slice(b"} ");
        SeriesName { head }
    }

    /// The `netdata_info` series of a host.
    pub fn info(labels: &InfoLabels) -> SeriesName {
        SeriesName::new(
            b"netdata_info",
            labels
                .labels()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    /// The rendered head.
    pub fn as_bytes(&self) -> &[u8] {
        &self.head
    }

    /// Appends one record of this series.
    pub fn write_record(&self, buf: &mut Vec<u8>, value: MetricValue, timestamp_ms: i64) -> bool {
        let (suffix, len) = timestamp_suffix(timestamp_ms);
        write_record(buf, &self.head, value, &suffix[..len])
    }
}

/// ` TIMESTAMP\n`: the end of every record of one time.
fn timestamp_suffix(timestamp_ms: i64) -> ([u8; 24], usize) {
    let mut text = Vec::with_capacity(24);
    text.push(b' ');
    write_timestamp(&mut text, timestamp_ms);
    text.push(b'\n');
    let mut suffix = [0u8; 24];
    let len = text.len().min(24);
    suffix[..len].copy_from_slice(&text[..len]);
    (suffix, len)
}

/// Two hex digits for every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    pairs
};

/// The value of each lower-case hex digit; `0xff` for other bytes.
const HEX_VALUES: [u8; 256] = {
    let mut values = [0xffu8; 256];
    let mut i = 0;
    while i < 16 {
        values[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    values
};

/// Appends `head`, the value's bits and `suffix`; nothing for a value that
/// is not finite.
#[inline]
fn write_record(buf: &mut Vec<u8>, head: &[u8], value: MetricValue, suffix: &[u8]) -> bool {
    let value = match value {
        MetricValue::Stored(v) if v.is_finite() => without_noise(v),
        MetricValue::Stored(_) => return false,
        MetricValue::Collected(v) => v as f64,
        MetricValue::Exact(v) => without_noise(v.to_f64()),
    };
    let mut digits = [0u8; 16];
    for (pair, byte) in digits
        .chunks_exact_mut(2)
        .zip(value.to_bits().to_be_bytes())
    {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    buf.reserve(head.len() + digits.len() + suffix.len());
    buf.extend_from_slice(head);
    buf.extend_from_slice(&digits);
    buf.extend_from_slice(suffix);
    true
}

/// `value` rounded to 15 or 16 significant digits. Values computed from
/// packed samples carry noise in their last bits (a stored 31 sums as
/// 31.000000000000004); a packed sample holds about 7 digits, so this keeps
/// every one of them and drops the noise, and the receiver shows `31`.
/// Whole numbers, values of 10^15 and more, and values under about 10^-8
/// are left as they are.
#[inline]
fn without_noise(value: f64) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    // Whole numbers (most gauges) have no noise to drop; this also takes
    // 0 and everything of 2^63 and more (which saturates).
    if (value as i64) as f64 == value {
        return value;
    }
    // The decimal exponent from the binary one (maybe one too small, which
    // keeps 16 digits instead of 15): no log10 on the hot path.
    let binary_exponent = ((value.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let decimal_exponent = (binary_exponent * 1233) >> 12;
    match usize::try_from(14 - decimal_exponent) {
        Ok(k) if k < POW10.len() => {
            // |scaled| < 10^16 < 2^63: rounding through i64 is exact.
            let scaled = value * POW10[k];
            let rounded = (scaled.abs() + 0.5) as i64 as f64;
            rounded.copysign(value) / POW10[k]
        }
        _ => value,
    }
}

/// The record heads of a chart's dimensions, rendered once per chart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartSeries {
    heads: Vec<u8>,
    ends: Vec<usize>,
}

impl ChartSeries {
    pub fn new() -> ChartSeries {
        ChartSeries::default()
    }

    /// Adds the next dimension's series.
    pub fn push(&mut self, series: &SeriesName) {
        self.heads.extend_from_slice(series.as_bytes());
        self.ends.push(self.heads.len());
    }

    /// How many series.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn head(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => *self.ends.get(index - 1)?,
        };
        self.heads.get(start..end)
    }

    /// Appends the record of every `(dimension, value)`, all at
    /// `timestamp_ms`; returns how many were written.
    pub fn write_lines<I>(&self, buf: &mut Vec<u8>, timestamp_ms: i64, lines: I) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        let (suffix, len) = timestamp_suffix(timestamp_ms);
        let suffix = &suffix[..len];
        lines
            .into_iter()
            .map(|(index, value)| {
                self.head(index)
                    .is_some_and(|head| write_record(buf, head, value, suffix))
            })
            .filter(|written| *written)
            .count()
    }
}

/// A record that cannot be read back (never one this module wrote).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote write: unreadable record {line}: {reason}")]
pub struct RecordError {
    /// 1-based record number in the part.
    pub line: usize,
    pub reason: &'static str,
}

/// Encodes parts of a batch of records into request bodies, reusing its
/// buffers.
pub struct BodyEncoder {
    protobuf: Vec<u8>,
    /// The last body is `body[..body_len]`.
    body: Vec<u8>,
    body_len: usize,
    /// The current record's unescaped values (those that had escapes).
    text: Vec<u8>,
    /// The current record's labels, `__name__` first.
    labels: Vec<(Piece, Piece)>,
    /// The last timestamp parsed: its text and value.
    last_timestamp: Option<(usize, [u8; 24], i64)>,
    snappy: snap::raw::Encoder,
}

impl Default for BodyEncoder {
    fn default() -> Self {
        BodyEncoder::new()
    }
}

impl BodyEncoder {
    pub fn new() -> BodyEncoder {
        BodyEncoder {
            protobuf: Vec::new(),
            body: Vec::new(),
            body_len: 0,
            text: Vec::new(),
            labels: Vec::new(),
            last_timestamp: None,
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// The body [`Self::encode`] made last.
    pub fn body(&self) -> &[u8] {
        self.body.get(..self.body_len).unwrap_or_default()
    }

    /// The body for `records` (whole records): a `WriteRequest` with one
    /// time series per record, snappy-compressed; and how many samples it
    /// holds.
    pub fn encode(&mut self, records: &[u8]) -> Result<(&[u8], usize), RecordError> {
        self.protobuf.clear();
        let mut samples = 0;
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', records)
            .map(|end| end + 1)
            .chain(
                (records.last() != Some(&b'\n') && !records.is_empty()).then_some(records.len()),
            );
        for (n, end) in ends.enumerate() {
            let record = &records[start..end];
            start = end;
            self.encode_record(record).map_err(|reason| RecordError {
                line: n + 1,
                reason,
            })?;
            samples += 1;
        }
        // The buffer only grows (no zeroing of its whole length each time).
        let need = snap::raw::max_compress_len(self.protobuf.len());
        if self.body.len() < need {
            self.body.resize(need, 0);
        }
        self.body_len = self
            .snappy
            .compress(&self.protobuf, &mut self.body)
            .map_err(|_| RecordError {
                line: 0,
                reason: "snappy refused the request",
            })?;
        Ok((self.body(), samples))
    }

    /// Appends the `TimeSeries` of one record to `self.protobuf`.
    fn encode_record(&mut self, record: &[u8]) -> Result<(), &'static str> {
        let record = record.strip_suffix(b"\n").ok_or("no newline")?;
        self.text.clear();
        self.labels.clear();
        let open = memchr::memchr(b'{', record).ok_or("no '{'")?;
        self.labels.push((Piece::Name, Piece::Record(0, open)));
        let mut at = open + 1;
        if record.get(at) == Some(&b'}') {
            at += 1;
        } else {
            loop {
                let eq = memchr::memchr(b'=', record.get(at..).unwrap_or_default())
                    .ok_or("no '='")?
                    + at;
                let key = Piece::Record(at, eq);
                if record.get(eq + 1) != Some(&b'"') {
                    return Err("no '\"'");
                }
                at = eq + 2;
                let rest = record.get(at..).unwrap_or_default();
                let stop = memchr::memchr2(b'"', b'\\', rest).ok_or("unterminated value")? + at;
                let value = if record[stop] == b'"' {
                    let value = Piece::Record(at, stop);
                    at = stop;
                    value
                } else {
                    // Escapes: unescape into `text`.
                    let start = self.text.len();
                    self.text.extend_from_slice(&record[at..stop]);
                    at = stop;
                    loop {
                        match record.get(at) {
                            Some(b'"') => break,
                            Some(b'\\') => {
                                let unescaped = match record.get(at + 1) {
                                    Some(b'n') => b'\n',
                                    Some(&b @ (b'\\' | b'"')) => b,
                                    _ => return Err("bad escape"),
                                };
                                self.text.push(unescaped);
                                at += 2;
                            }
                            Some(&b) => {
                                self.text.push(b);
                                at += 1;
                            }
                            None => return Err("unterminated value"),
                        }
                    }
                    Piece::Text(start, self.text.len())
                };
                self.labels.push((key, value));
                at += 1;
                match record.get(at) {
                    Some(b',') => at += 1,
                    Some(b'}') => {
                        at += 1;
                        break;
                    }
                    _ => return Err("no ',' or '}'"),
                }
            }
        }
        let rest = record.get(at..).ok_or("truncated")?;
        let rest = rest.strip_prefix(b" ").ok_or("no value")?;
        if rest.len() < 18 || rest[16] != b' ' {
            return Err("bad value");
        }
        let mut bits = 0u64;
        let mut bad = 0u8;
        for &digit in &rest[..16] {
            let nibble = HEX_VALUES[usize::from(digit)];
            bad |= nibble;
            bits = bits << 4 | u64::from(nibble & 0xf);
        }
        if bad & 0xf0 != 0 {
            return Err("bad value");
        }
        let value = f64::from_bits(bits);
        // The records of a batch mostly share their timestamp.
        let ts_text = &rest[17..];
        let timestamp = match self.last_timestamp {
            Some((len, text, ts)) if ts_text.len() == len && text[..len] == *ts_text => ts,
            _ => {
                let ts = parse_timestamp(ts_text).ok_or("bad timestamp")?;
                if ts_text.len() <= 24 {
                    let mut text = [0u8; 24];
                    text[..ts_text.len()].copy_from_slice(ts_text);
                    self.last_timestamp = Some((ts_text.len(), text, ts));
                }
                ts
            }
        };

        // TimeSeries { labels: 1, samples: 2 } as field 1 of WriteRequest.
        let text = &self.text;
        let bytes = |piece: Piece| -> &[u8] {
            match piece {
                Piece::Name => NAME_LABEL.as_bytes(),
                Piece::Record(a, b) => &record[a..b],
                Piece::Text(a, b) => &text[a..b],
            }
        };
        let label_len =
            |(k, v): (Piece, Piece)| field_len(bytes(k).len()) + field_len(bytes(v).len());
        let labels_len: usize = self.labels.iter().map(|&l| field_len(label_len(l))).sum();
        let sample_len = 9 + 1 + varint_len(timestamp as u64);
        let series_len = labels_len + field_len(sample_len);
        let out = &mut self.protobuf;
        out.reserve(series_len + 10);
        out.push(0x0a);
        put_varint(out, series_len as u64);
        for &(k, v) in &self.labels {
            let (key, value) = (bytes(k), bytes(v));
            out.push(0x0a);
            put_varint(out, (field_len(key.len()) + field_len(value.len())) as u64);
            out.push(0x0a);
            put_varint(out, key.len() as u64);
            out.extend_from_slice(key);
            out.push(0x12);
            put_varint(out, value.len() as u64);
            out.extend_from_slice(value);
        }
        out.push(0x12);
        put_varint(out, sample_len as u64);
        out.push(0x09);
        out.extend_from_slice(&value.to_le_bytes());
        out.push(0x10);
        put_varint(out, timestamp as u64);
        Ok(())
    }
}

/// Where a label name or value of the current record is.
#[derive(Clone, Copy, Debug)]
enum Piece {
    /// `__name__`.
    Name,
    /// `record[a..b]`, as written (no escapes).
    Record(usize, usize),
    /// `text[a..b]`, unescaped.
    Text(usize, usize),
}

/// A timestamp of ASCII digits (an optional `-`), or `None`.
fn parse_timestamp(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// Bytes of a length-delimited field of `len` bytes: key, length, bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    fn decode(body: &[u8]) -> WriteRequest {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(body)
            .expect("snappy");
        WriteRequest::decode(raw.as_slice()).expect("protobuf")
    }

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn records_round_trip_sorted_and_unescaped() {
        let series = SeriesName::new(
            b"netdata_x_average",
            [
                ("instance", "vm"),
                ("family", "fam \"q\""),
                ("chart", "a\\b"),
                ("dimension", "new\nline"),
                ("chart", "duplicate"),
                ("__name__", "spoof"),
                ("", "empty"),
                ("empty", ""),
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(series.as_bytes()),
            "netdata_x_average{chart=\"a\\\\b\",dimension=\"new\\nline\",family=\"fam \\\"q\\\"\",instance=\"vm\"} "
        );
        let info = SeriesName::info(&InfoLabels::new(
            "vm",
            "backhaul",
            "v0",
            [("env", "lab"), ("_is_ephemeral", "false")],
        ));
        let mut batch = Vec::new();
        assert!(series.write_record(&mut batch, MetricValue::Stored(-1.5e-9), 1_000));
        assert!(!series.write_record(&mut batch, MetricValue::Stored(f64::NAN), 1_000));
        assert!(info.write_record(&mut batch, MetricValue::Collected(1), 2_000));
        assert_eq!(batch.iter().filter(|&&b| b == b'\n').count(), 2);

        let mut encoder = BodyEncoder::new();
        let (body, samples) = encoder.encode(&batch).expect("encode");
        assert_eq!(samples, 2);
        let request = decode(body);
        assert_eq!(
            request,
            WriteRequest {
                timeseries: vec![
                    TimeSeries {
                        labels: vec![
                            label("__name__", "netdata_x_average"),
                            label("chart", "a\\b"),
                            label("dimension", "new\nline"),
                            label("family", "fam \"q\""),
                            label("instance", "vm"),
                        ],
                        samples: vec![Sample {
                            value: -1.5e-9,
                            timestamp: 1_000
                        }],
                    },
                    TimeSeries {
                        labels: vec![
                            label("__name__", "netdata_info"),
                            label("_is_ephemeral", "false"),
                            label("application", "backhaul"),
                            label("env", "lab"),
                            label("instance", "vm"),
                            label("version", "v0"),
                        ],
                        samples: vec![Sample {
                            value: 1.0,
                            timestamp: 2_000
                        }],
                    },
                ],
            }
        );
        // The same bytes as prost's own encoding.
        let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
        assert_eq!(raw, request.encode_to_vec());
    }

    #[test]
    fn an_encoder_gives_the_same_bytes_again() {
        let mut chart = ChartSeries::new();
        for dim in ["a", "b \"q\""] {
            chart.push(&SeriesName::new(b"m", [("dimension", dim), ("chart", "c")]));
        }
        let mut batch = Vec::new();
        for t in 0..3 {
            chart.write_lines(
                &mut batch,
                1000 * t,
                [
                    (0, MetricValue::Stored(t as f64)),
                    (1, MetricValue::Collected(-t)),
                ],
            );
        }
        let mut warm = BodyEncoder::new();
        let first = decode(warm.encode(&batch).unwrap().0);
        let again = decode(warm.encode(&batch).unwrap().0);
        let fresh = decode(BodyEncoder::new().encode(&batch).unwrap().0);
        assert_eq!(first, fresh);
        assert_eq!(again, fresh);
        assert_eq!(fresh.timeseries.len(), 6);
        assert_eq!(fresh.timeseries[5].labels[2].value, "b \"q\"");
        assert_eq!(
            fresh.timeseries[5].samples[0],
            Sample {
                value: -2.0,
                timestamp: 2000
            }
        );
    }

    #[test]
    fn packing_noise_is_dropped() {
        for (noisy, clean) in [
            (31.000000000000004, 31.0),
            (0.7500000000000001, 0.75),
            (-73.833335 - 1e-14, -73.833335),
            (123456790000000.0, 123456790000000.0),
            (1.5e-9, 1.5e-9),
            (0.1 + 0.2, 0.3),
            (-2.5, -2.5),
            (1234.5670000000002, 1234.567),
            (0.0, 0.0),
            (1e300, 1e300),
        ] {
            assert_eq!(without_noise(noisy), clean, "{noisy}");
        }
    }

    #[test]
    fn unreadable_records_are_errors_not_panics() {
        let mut encoder = BodyEncoder::new();
        for bad in [
            &b"x{a=\"b\"} 3ff0000000000000\n"[..],
            b"x{a=\"b} 3ff0000000000000 1\n",
            b"x{a=b} 3ff0000000000000 1\n",
            b"x 3ff0000000000000 1\n",
            b"x{} 3ff00000000000zz 1\n",
            b"x{} 3ff0000000000000 1",
            b"x{a=\"\\q\"} 3ff0000000000000 1\n",
        ] {
            assert!(
                encoder.encode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let (body, samples) = encoder.encode(b"").unwrap();
        assert_eq!((decode(body), samples), (WriteRequest::default(), 0));
    }

    #[test]
    fn chart_series_write_their_dimensions() {
        let mut chart = ChartSeries::new();
        for dim in ["a", "b"] {
            chart.push(&SeriesName::new(b"m", [("dimension", dim)]));
        }
        let mut batch = Vec::new();
        let written = chart.write_lines(
            &mut batch,
            5_000,
            [
                (1, MetricValue::Stored(2.0)),
                (7, MetricValue::Stored(1.0)),
                (0, MetricValue::Collected(-3)),
            ],
        );
        assert_eq!(written, 2);
        assert_eq!(
            String::from_utf8_lossy(&batch),
            "m{dimension=\"b\"} 4000000000000000 5000\nm{dimension=\"a\"} c008000000000000 5000\n"
        );
    }

    proptest! {
        #[test]
        fn any_labels_and_values_round_trip(
            name in "[a-z_][a-z0-9_]{0,20}",
            labels in proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "\\PC{0,20}|[\\\\\"\n]{0,5}"), 0..6),
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
            ts in 0i64..=i64::MAX,
        ) {
            let series = SeriesName::new(name.as_bytes(), labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let mut batch = Vec::new();
            prop_assert!(series.write_record(&mut batch, MetricValue::Stored(value), ts));
            prop_assert_eq!(batch.iter().filter(|&&b| b == b'\n').count(), 1);
            let mut encoder = BodyEncoder::new();
            let (body, samples) = encoder.encode(&batch).unwrap();
            prop_assert_eq!(samples, 1);
            let request = decode(body);
            let series = &request.timeseries[0];
            prop_assert_eq!(&series.labels[0], &label("__name__", &name));
            let mut expected: Vec<Label> = Vec::new();
            for (k, v) in &labels {
                if !k.starts_with("__") && !v.is_empty() && !expected.iter().any(|l| &l.name == k) {
                    expected.push(label(k, v));
                }
            }
            expected.sort_by(|a, b| a.name.cmp(&b.name));
            prop_assert_eq!(&series.labels[1..], expected.as_slice());
            let sent = series.samples[0].value;
            prop_assert!((sent - value).abs() <= value.abs() * 1e-14, "{} vs {}", sent, value);
            prop_assert_eq!(series.samples[0].timestamp, ts);
        }
    }
}
