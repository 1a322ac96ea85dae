//! Prometheus remote write (protocol 0.1.0): a `WriteRequest` protobuf,
//! snappy block-compressed.
//!
//! The exporting engine keeps its batches as lines, so a remote-write batch
//! holds one *record* per sample, a line in the text format's syntax:
//!
//! ```text
//! #SERIESID NAME{label="value",...} VALUEBITS TIMESTAMP_MS\n
//! ```
//!
//! with the labels sorted by name (the metric name is not one of them; the
//! protobuf has every label, `__name__` too, sorted by name), values
//! escaped as in the text format (so a record never holds a newline but its
//! last byte), the value as the 16 hex digits of its IEEE 754 bits (exact,
//! and cheap both ways) and the timestamp in milliseconds. A record's head
//! is rendered once per chart and dimension ([`ChartSeries`]) and per line
//! only gets its value and timestamp. [`BodyEncoder`] turns any run of
//! whole records into a request body when it is sent.
//!
//! The key `#SERIESID ` (16 hex digits, [`SeriesId`]) names the series
//! within the process: an encoder keeps the protobuf label bytes of each
//! series it has parsed once by that id, so a series it has seen costs it a
//! table look-up and the sample, not a parse of its labels. The head stays
//! in the record, so a record means the same without the table: one read
//! back from a spool that an earlier process wrote (whose ids this one did
//! not make), or one of the first format, which had no key, is parsed.
//! Both paths give the same bytes (a property test holds them to it).
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

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use super::prometheus::InfoLabels;
use super::MetricValue;
use crate::number::write_timestamp;
use crate::room::{Room, PADDING};
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
///
/// Every `SeriesName` gets a process-wide [`SeriesId`] when it is made; its
/// records carry it in front of the head (`#ID NAME{...} ...`), so that a
/// [`BodyEncoder`] that has seen the series once reuses the label bytes it
/// encoded then instead of parsing the head again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesName {
    /// `#ID ` then the head.
    keyed: Vec<u8>,
}

/// `#`, 16 hex digits and a space: the key in front of a record's head.
const KEY_LEN: usize = 18;

/// A series' id: unique within the process: a counter from a random start,
/// so that an id in a record a previous process spooled to disk is, with
/// overwhelming probability, outside the range this one made, and parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesId(u64);

/// Where this process' series ids start, and how many it has made.
static SERIES_ID_START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
static SERIES_IDS_MADE: AtomicU64 = AtomicU64::new(0);

fn series_id_start() -> u64 {
    *SERIES_ID_START.get_or_init(|| std::hash::RandomState::new().hash_one(0x5e7e5_u64))
}

impl SeriesId {
    fn next() -> SeriesId {
        let start = series_id_start();
        SeriesId(start.wrapping_add(SERIES_IDS_MADE.fetch_add(1, Ordering::Relaxed)))
    }

    /// Which series of this process `id` is (0 for the first one made),
    /// or `None` for an id this process did not make (one read back from
    /// a previous process' spool).
    fn ordinal(id: u64) -> Option<u64> {
        let ordinal = id.wrapping_sub(series_id_start());
        (ordinal < SERIES_IDS_MADE.load(Ordering::Relaxed)).then_some(ordinal)
    }

    /// `#` + 16 hex digits + ` `.
    fn key(self) -> [u8; KEY_LEN] {
        let mut key = [b' '; KEY_LEN];
        key[0] = b'#';
        key[1..17].copy_from_slice(&hex16(self.0));
        key
    }
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
        let mut head = Vec::with_capacity(KEY_LEN + name.len() + 64);
        head.extend_from_slice(&SeriesId::next().key());
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
        SeriesName { keyed: head }
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

    /// The rendered head (without its key).
    pub fn as_bytes(&self) -> &[u8] {
        self.keyed.get(KEY_LEN..).unwrap_or_default()
    }

    /// The head with its key, as records start.
    fn keyed_head(&self) -> &[u8] {
        &self.keyed
    }

    /// Appends one record of this series.
    pub fn write_record(&self, buf: &mut Vec<u8>, value: MetricValue, timestamp_ms: i64) -> bool {
        let (suffix, len) = timestamp_suffix(timestamp_ms);
        write_record(buf, &self.keyed, value, &suffix[..len])
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

/// Appends `head`, the value's bits and `suffix`; nothing for a value that
/// is not finite.
#[inline]
fn write_record(buf: &mut Vec<u8>, head: &[u8], value: MetricValue, suffix: &[u8]) -> bool {
    let Some(value) = record_value(value) else {
        return false;
    };
    let digits = hex16(value.to_bits());
    buf.reserve(head.len() + digits.len() + suffix.len());
    buf.extend_from_slice(head);
    buf.extend_from_slice(&digits);
    buf.extend_from_slice(suffix);
    true
}

/// The value a record carries; `None` for one that is not finite.
#[inline]
fn record_value(value: MetricValue) -> Option<f64> {
    match value {
        MetricValue::Stored(v) if v.is_finite() => Some(without_noise(v)),
        MetricValue::Stored(_) => None,
        MetricValue::Collected(v) => Some(v as f64),
        MetricValue::Exact(v) => Some(without_noise(v.to_f64())),
    }
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
    /// The heads one after the other, then [`PADDING`] bytes once there is
    /// one (so a head is copied in fixed-size stores: see
    /// `Room::put_padded`).
    heads: Vec<u8>,
    ends: Vec<usize>,
}

impl ChartSeries {
    pub fn new() -> ChartSeries {
        ChartSeries::default()
    }

    /// Adds the next dimension's series.
    pub fn push(&mut self, series: &SeriesName) {
        self.heads.truncate(self.ends.last().copied().unwrap_or(0));
        self.heads.extend_from_slice(series.keyed_head());
        self.ends.push(self.heads.len());
        self.heads.resize(self.heads.len() + PADDING, 0);
    }

    /// How many series.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where head `index` is in `heads`.
    #[inline]
    fn span(&self, index: usize) -> Option<(usize, usize)> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => *self.ends.get(index - 1)?,
        };
        Some((start, end))
    }

    #[cfg(test)]
    fn head(&self, index: usize) -> Option<&[u8]> {
        let (start, end) = self.span(index)?;
        self.heads.get(start..end)
    }

    /// Appends the record of every `(dimension, value)`, all at
    /// `timestamp_ms`; returns how many were written.
    pub fn write_lines<I>(&self, buf: &mut Vec<u8>, timestamp_ms: i64, lines: I) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        let (suffix, suffix_len) = timestamp_suffix(timestamp_ms);
        let mut room = Room::new(buf);
        let mut written = 0;
        for (index, value) in lines {
            let Some((start, end)) = self.span(index) else {
                continue;
            };
            let Some(bits) = record_value(value).map(f64::to_bits) else {
                continue;
            };
            let (Some(padded), head_len) = (self.heads.get(start..), end - start) else {
                continue;
            };
            // One reservation for the line's stores: the head (its length
            // + PADDING, padded), the value's digits (16) and the suffix (24).
            room.reserve(head_len + PADDING + 16 + 24);
            // SAFETY: within that reservation; `padded` holds the head and
            // the PADDING bytes after the last one (see `push`), so
            // `head_len + PADDING` bytes.
            unsafe {
                room.put_padded_unchecked(padded, head_len);
                room.put_array_unchecked(hex16(bits), 16);
                room.put_array_unchecked(suffix, suffix_len);
            }
            written += 1;
        }
        written
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
///
/// A record with a key (`#ID ...`, see [`SeriesName`]) whose series this
/// encoder has seen costs a table look-up: the `TimeSeries`' label bytes
/// are kept per id from the first time, and only the sample is encoded. A
/// record without a key, or with one it has not seen (the first batch of a
/// series, batches read back from a spool a previous process wrote), is
/// parsed. Both give the same bytes.
pub struct BodyEncoder {
    protobuf: Vec<u8>,
    /// The last body is `body[..body_len]`.
    body: Vec<u8>,
    body_len: usize,
    /// The current record's unescaped values (those that had escapes).
    text: Vec<u8>,
    /// The current record's labels, as parsed (`__name__` first).
    labels: Vec<(Piece, Piece)>,
    /// The label bytes of a record parsed without a key.
    scratch: Vec<u8>,
    /// The last timestamp parsed: its text and value.
    last_timestamp: Option<(usize, [u8; 24], i64)>,
    /// Its text and a newline, little-endian, when shorter than 16 bytes.
    last_timestamp_line: u128,
    series: SeriesCache,
    snappy: snap::raw::Encoder,
}

/// The encoded label bytes of the series an encoder has seen, by the
/// ordinal of their id ([`SeriesId::ordinal`]) in pages of [`PAGE`] slots:
/// a chart's series have consecutive ids, so the look-ups of a batch walk
/// memory in order (a hash table's random probes cost a cache miss each).
/// An entry not used while [`SWEEP_AFTER`] times as many samples as there
/// are entries went by is dropped (its series is gone, or comes back
/// parsed), and a page left empty is freed.
#[derive(Default)]
struct SeriesCache {
    pages: Vec<Option<Box<[CachedSeries; PAGE]>>>,
    entries: usize,
    /// Every entry's label bytes, one after the other.
    arena: Vec<u8>,
    /// Bumped at each sweep; entries used since the last one carry it.
    epoch: u32,
    samples_since_sweep: usize,
}

/// Slots per page of [`SeriesCache`].
const PAGE: usize = 1024;

/// See [`SeriesCache`].
const SWEEP_AFTER: usize = 4;

/// A slot of [`SeriesCache`]; `len == 0` is an empty one (every series has
/// its `__name__` label).
#[derive(Clone, Copy, Default)]
struct CachedSeries {
    /// The labels' bytes: `arena[start..start + len]`.
    start: usize,
    len: u32,
    /// Bytes of the record's head after the key (`NAME{...} `).
    head_len: u32,
    epoch: u32,
}

impl SeriesCache {
    fn get_mut(&mut self, ordinal: u64) -> Option<&mut CachedSeries> {
        let page = usize::try_from(ordinal / PAGE as u64).ok()?;
        let slot = self
            .pages
            .get_mut(page)?
            .as_mut()?
            .get_mut(ordinal as usize % PAGE)?;
        (slot.len != 0).then_some(slot)
    }

    fn insert(&mut self, ordinal: u64, entry: CachedSeries) {
        let Ok(page) = usize::try_from(ordinal / PAGE as u64) else {
            return;
        };
        if self.pages.len() <= page {
            self.pages.resize_with(page + 1, || None);
        }
        let page =
            self.pages[page].get_or_insert_with(|| Box::new([CachedSeries::default(); PAGE]));
        let slot = &mut page[ordinal as usize % PAGE];
        if slot.len == 0 {
            self.entries += 1;
        }
        *slot = entry;
    }

    /// Drops the entries unused since the last sweep, once enough samples
    /// went by for every live series to have been seen; the label bytes
    /// are moved together once the dropped ones are as many as the kept.
    fn maybe_sweep(&mut self) {
        if self.samples_since_sweep < SWEEP_AFTER * self.entries.max(1024) {
            return;
        }
        let epoch = self.epoch;
        self.epoch = epoch.wrapping_add(1);
        self.samples_since_sweep = 0;
        let mut live_bytes = 0;
        for page in &mut self.pages {
            let Some(slots) = page else { continue };
            let mut live = false;
            for slot in slots.iter_mut().filter(|slot| slot.len != 0) {
                if slot.epoch == epoch {
                    live_bytes += slot.len as usize;
                    live = true;
                } else {
                    *slot = CachedSeries::default();
                    self.entries -= 1;
                }
            }
            if !live {
                *page = None;
            }
        }
        while self.pages.last().is_some_and(|page| page.is_none()) {
            self.pages.pop();
        }
        if self.arena.len() < 2 * live_bytes.max(1 << 16) {
            return;
        }
        let mut arena = Vec::with_capacity(live_bytes);
        for slot in self
            .pages
            .iter_mut()
            .flatten()
            .flat_map(|slots| slots.iter_mut())
            .filter(|slot| slot.len != 0)
        {
            let start = arena.len();
            arena.extend_from_slice(&self.arena[slot.start..slot.start + slot.len as usize]);
            slot.start = start;
        }
        self.arena = arena;
    }
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
            scratch: Vec::new(),
            last_timestamp: None,
            last_timestamp_line: 0,
            series: SeriesCache::default(),
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
        let (_, samples) = self.encode_at_most(records, usize::MAX)?;
        Ok((self.body(), samples))
    }

    /// The body ([`Self::body`]) for the first `max_samples` records of
    /// `records` (whole records), or all of them if fewer; returns how many
    /// bytes of `records` it took, and how many samples.
    pub fn encode_at_most(
        &mut self,
        records: &[u8],
        max_samples: usize,
    ) -> Result<(usize, usize), RecordError> {
        self.protobuf.clear();
        let mut samples = 0;
        let mut at = 0;
        while at < records.len() && samples < max_samples {
            let rest = &records[at..];
            let used = match rest.first() {
                Some(b'#') => self.encode_keyed(rest),
                _ => self.encode_unkeyed(rest),
            }
            .map_err(|reason| RecordError {
                line: samples + 1,
                reason,
            })?;
            at += used;
            samples += 1;
        }
        self.series.samples_since_sweep += samples;
        self.series.maybe_sweep();
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
        Ok((at, samples))
    }

    /// Appends the `TimeSeries` of the record at the start of `rest`, one
    /// without a key; returns the record's length.
    fn encode_unkeyed(&mut self, rest: &[u8]) -> Result<usize, &'static str> {
        let end = memchr::memchr(b'\n', rest).ok_or("no newline")?;
        let record = &rest[..end];
        let value_at = self.parse_head(record)?;
        let (value, timestamp) = self.parse_sample(&record[value_at..])?;
        let mut labels = std::mem::take(&mut self.scratch);
        labels.clear();
        self.write_labels(record, &mut labels);
        put_series(&mut self.protobuf, &labels, value, timestamp);
        self.scratch = labels;
        Ok(end + 1)
    }

    /// Appends the `TimeSeries` of the record at the start of `rest`, one
    /// with a key; returns the record's length.
    fn encode_keyed(&mut self, rest: &[u8]) -> Result<usize, &'static str> {
        let id = rest
            .get(1..17)
            .and_then(parse_hex16)
            .filter(|_| rest.get(17) == Some(&b' '))
            .ok_or("bad key")?;
        let ordinal = SeriesId::ordinal(id);
        let epoch = self.series.epoch;
        if let Some(entry) = ordinal.and_then(|o| self.series.get_mut(o)) {
            let head_end = KEY_LEN + entry.head_len as usize;
            // The head ends in `} `; anything else is not the series the
            // id was seen with.
            if rest.get(head_end - 2..head_end) == Some(b"} ") {
                entry.epoch = epoch;
                let entry = *entry;
                let (value, timestamp, len) = self.parse_sample_at(rest, head_end)?;
                let labels = &self.series.arena[entry.start..entry.start + entry.len as usize];
                put_series(&mut self.protobuf, labels, value, timestamp);
                return Ok(len);
            }
        }
        // First sight: parse it, and keep its label bytes.
        let end = memchr::memchr(b'\n', rest).ok_or("no newline")?;
        let record = &rest[KEY_LEN.min(end)..end];
        let value_at = self.parse_head(record)?;
        let (value, timestamp) = self.parse_sample(&record[value_at..])?;
        let mut arena = std::mem::take(&mut self.series.arena);
        let start = arena.len();
        self.write_labels(record, &mut arena);
        let len = arena.len() - start;
        put_series(&mut self.protobuf, &arena[start..], value, timestamp);
        self.series.arena = arena;
        if let (Some(ordinal), Ok(len), Ok(head_len)) =
            (ordinal, u32::try_from(len), u32::try_from(value_at))
        {
            self.series.insert(
                ordinal,
                CachedSeries {
                    start,
                    len,
                    head_len,
                    epoch,
                },
            );
        }
        Ok(end + 1)
    }

    /// The sample of a record whose value starts at `rest[at..]`: value,
    /// timestamp, and the record's length with its newline.
    #[inline]
    fn parse_sample_at(
        &mut self,
        rest: &[u8],
        at: usize,
    ) -> Result<(f64, i64, usize), &'static str> {
        let tail = rest.get(at..).ok_or("truncated")?;
        if tail.len() < 18 || tail[16] != b' ' {
            return Err("bad value");
        }
        let bits = parse_hex16(&tail[..16]).ok_or("bad value")?;
        let ts_and_rest = &tail[17..];
        // The records of a batch mostly share their timestamp: compare its
        // text and newline as one masked 16-byte word.
        if let (Some((len, _, ts)), Some(word)) = (self.last_timestamp, ts_and_rest.get(..16)) {
            if len < 16 {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(word);
                let mask = u128::MAX >> (8 * (15 - len));
                if u128::from_le_bytes(bytes) & mask == self.last_timestamp_line {
                    return Ok((f64::from_bits(bits), ts, at + 17 + len + 1));
                }
            }
        }
        let end = memchr::memchr(b'\n', ts_and_rest).ok_or("no newline")?;
        let ts = self.parse_timestamp_cached(&ts_and_rest[..end])?;
        Ok((f64::from_bits(bits), ts, at + 17 + end + 1))
    }

    /// Value and timestamp of `VALUEBITS TIMESTAMP` (no newline).
    fn parse_sample(&mut self, rest: &[u8]) -> Result<(f64, i64), &'static str> {
        if rest.len() < 18 || rest[16] != b' ' {
            return Err("bad value");
        }
        let bits = parse_hex16(&rest[..16]).ok_or("bad value")?;
        let ts = self.parse_timestamp_cached(&rest[17..])?;
        Ok((f64::from_bits(bits), ts))
    }

    fn parse_timestamp_cached(&mut self, ts_text: &[u8]) -> Result<i64, &'static str> {
        match self.last_timestamp {
            Some((len, text, ts)) if ts_text.len() == len && text[..len] == *ts_text => Ok(ts),
            _ => {
                let ts = parse_timestamp(ts_text).ok_or("bad timestamp")?;
                if ts_text.len() <= 24 {
                    let mut text = [0u8; 24];
                    text[..ts_text.len()].copy_from_slice(ts_text);
                    self.last_timestamp = Some((ts_text.len(), text, ts));
                    let mut line = [0u8; 16];
                    if let Some(prefix) = line.get_mut(..ts_text.len()) {
                        prefix.copy_from_slice(ts_text);
                        if let Some(newline) = line.get_mut(ts_text.len()) {
                            *newline = b'\n';
                        }
                    }
                    self.last_timestamp_line = u128::from_le_bytes(line);
                }
                Ok(ts)
            }
        }
    }

    /// Reads the head `NAME{k="v",...} ` of `record` (no key, no newline)
    /// into `self.labels` and `self.text`; returns where the value starts.
    fn parse_head(&mut self, record: &[u8]) -> Result<usize, &'static str> {
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
        if record.get(at) != Some(&b' ') {
            return Err("no value");
        }
        Ok(at + 1)
    }

    /// Appends the protobuf of the labels [`Self::parse_head`] read from
    /// `record`: a `Label` message (field 1 of `TimeSeries`) each, sorted
    /// by name as bytes, `__name__` included (remote write requires it:
    /// a label such as `Env` or `_2nd` sorts before `__name__`, and Mimir
    /// or Thanos refuse a request that does not keep to that order). Runs
    /// once per series an encoder has not seen yet.
    fn write_labels(&mut self, record: &[u8], out: &mut Vec<u8>) {
        let text = &self.text;
        let bytes = |piece: Piece| -> &[u8] {
            match piece {
                Piece::Name => NAME_LABEL.as_bytes(),
                Piece::Record(a, b) => &record[a..b],
                Piece::Text(a, b) => &text[a..b],
            }
        };
        self.labels.sort_by(|a, b| bytes(a.0).cmp(bytes(b.0)));
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
    }
}

/// Appends one `TimeSeries` (field 1 of `WriteRequest`): `labels` (its
/// encoded `Label` fields) and one sample.
#[inline]
fn put_series(out: &mut Vec<u8>, labels: &[u8], value: f64, timestamp: i64) {
    let sample_len = 9 + 1 + varint_len(timestamp as u64);
    let series_len = labels.len() + field_len(sample_len);
    out.reserve(series_len + 10);
    out.push(0x0a);
    put_varint(out, series_len as u64);
    out.extend_from_slice(labels);
    out.push(0x12);
    put_varint(out, sample_len as u64);
    out.push(0x09);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(0x10);
    put_varint(out, timestamp as u64);
}

/// 16 lower-case hex digits, or `None`.
#[inline]
fn parse_hex16(digits: &[u8]) -> Option<u64> {
    let digits: &[u8; 16] = digits.try_into().ok()?;
    let (high, low) = digits.split_at(8);
    let word = |half: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(half);
        u64::from_le_bytes(bytes)
    };
    Some(u64::from(parse_hex8(word(high))?) << 32 | u64::from(parse_hex8(word(low))?))
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// 8 lower-case hex digits loaded little-endian (the first digit in the
/// lowest byte, the most significant), all at once; `None` if any byte is
/// not one.
#[inline]
fn parse_hex8(word: u64) -> Option<u32> {
    // Per byte: the low nibble, plus 9 for letters (bit 6 set).
    let nibbles = (word & (ONES * 0x0f)) + ((word >> 6) & ONES) * 9;
    // Valid: every nibble below 16, and writing it back gives the input.
    let too_big = (nibbles + ONES * 0x70) & (ONES * 0x80);
    if too_big != 0 || hex8_from_nibbles(nibbles) != word {
        return None;
    }
    // Pairs of nibbles into bytes, bytes into halves, halves into the word.
    let x = ((nibbles & 0x0f00_0f00_0f00_0f00) >> 8) | ((nibbles & 0x000f_000f_000f_000f) << 4);
    let x = ((x & 0x00ff_0000_00ff_0000) >> 16) | ((x & 0x0000_00ff_0000_00ff) << 8);
    let x = ((x & 0x0000_ffff_0000_0000) >> 32) | ((x & 0x0000_0000_0000_ffff) << 16);
    Some(x as u32)
}

/// The digits of 8 nibbles (one per byte, each below 16), little-endian.
#[inline]
fn hex8_from_nibbles(nibbles: u64) -> u64 {
    let letters = ((nibbles + ONES * 0x76) >> 7) & ONES;
    nibbles + ONES * b'0' as u64 + letters * (b'a' - b'0' - 10) as u64
}

/// The 8 hex digits of `value`, little-endian (the first digit in the
/// lowest byte).
#[inline]
fn hex8(value: u32) -> u64 {
    let x = u64::from(value >> 16) | (u64::from(value & 0xffff) << 32);
    let x = ((x & 0x0000_ff00_0000_ff00) >> 8) | ((x & 0x0000_00ff_0000_00ff) << 16);
    let x = ((x & 0x00f0_00f0_00f0_00f0) >> 4) | ((x & 0x000f_000f_000f_000f) << 8);
    hex8_from_nibbles(x)
}

/// The 16 hex digits of `value`.
#[inline]
fn hex16(value: u64) -> [u8; 16] {
    let mut digits = [0u8; 16];
    digits[..8].copy_from_slice(&hex8((value >> 32) as u32).to_le_bytes());
    digits[8..].copy_from_slice(&hex8(value as u32).to_le_bytes());
    digits
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

    /// The batch without the records' keys: what the records of the first
    /// format (and of a spool written by it) look like.
    fn unkeyed(batch: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in batch.split_inclusive(|&b| b == b'\n') {
            let line = match line.first() {
                Some(b'#') => &line[KEY_LEN..],
                _ => line,
            };
            out.extend_from_slice(line);
        }
        out
    }

    /// The key of each of a chart's series.
    fn chart_keys(chart: &ChartSeries) -> Vec<Vec<u8>> {
        (0..chart.len())
            .map(|i| chart.head(i).unwrap()[..KEY_LEN].to_vec())
            .collect()
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
            [("env", "lab"), ("_is_ephemeral", "false"), ("Zone", "Z1")],
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
                            // Sorted as bytes: `Zone` before `__name__`.
                            label("Zone", "Z1"),
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

        // Keyed records, their series unseen and then seen.
        let series = SeriesName::new(b"x", [("a", "b")]);
        let key = String::from_utf8(series.keyed_head()[..KEY_LEN].to_vec()).unwrap();
        let bad_ones = [
            format!("{key}x{{a=\"b\"}} 3ff000000000000 1\n"),
            format!("{key}x{{a=\"b\"}} 3ff0000000000000 1"),
            format!("{key}x{{a=\"b\"}} 3ff0000000000000 \n"),
            format!("{key}x{{a=\"b\"}} 3ff0000000000000 1x\n"),
            format!("{key}x{{a=\"b\"}} 3ff0000000000000"),
            format!("{key}x{{a=\"b\"}} "),
            format!("{key}x{{a=\"b\"}}"),
            key.clone(),
            key.replace('#', "#z"),
            "#0123".to_owned(),
            "#0123456789abcdefx\n".to_owned(),
        ];
        for warm in [false, true] {
            if warm {
                let mut good = Vec::new();
                series.write_record(&mut good, MetricValue::Collected(1), 1);
                encoder.encode(&good).unwrap();
            }
            for bad in &bad_ones {
                assert!(
                    encoder.encode(bad.as_bytes()).is_err(),
                    "{bad} (warm: {warm})"
                );
            }
        }
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
        assert!(batch.starts_with(&chart_keys(&chart)[1]));
        assert_eq!(
            String::from_utf8_lossy(&unkeyed(&batch)),
            "m{dimension=\"b\"} 4000000000000000 5000\nm{dimension=\"a\"} c008000000000000 5000\n"
        );
    }

    #[test]
    fn near_hex_bytes_are_not_digits() {
        for byte in [
            b'g', b'o', b'w', b'G', b'A', b'F', b'/', b':', b'`', b' ', 0x80, 0xe6, 0xb0, 0,
        ] {
            for at in [0, 7, 8, 15] {
                let mut digits = *b"0123456789abcdef";
                digits[at] = byte;
                assert_eq!(parse_hex16(&digits), None, "{byte:#x} at {at}");
            }
        }
        assert_eq!(
            parse_hex16(b"0123456789abcdef"),
            Some(0x0123_4567_89ab_cdef)
        );
        assert_eq!(parse_hex16(b"0123456789abcde"), None);
    }

    #[test]
    fn unused_series_are_swept_and_come_back_parsed() {
        let mut encoder = BodyEncoder::new();
        let old: Vec<SeriesName> = (0..2000)
            .map(|i| SeriesName::new(b"old", [("dimension", format!("{i:0>100}").as_str())]))
            .collect();
        let new = SeriesName::new(b"new", [("dimension", "x")]);
        let mut batch = Vec::new();
        for series in &old {
            series.write_record(&mut batch, MetricValue::Collected(1), 1000);
        }
        encoder.encode(&batch).unwrap();
        assert_eq!(encoder.series.entries, 2000);
        // Only `new` from now on: after a sweep or two the old ones are gone.
        let mut only_new = Vec::new();
        new.write_record(&mut only_new, MetricValue::Collected(2), 2000);
        let expected = BodyEncoder::new().encode(&only_new).unwrap().0.to_vec();
        for _ in 0..(3 * SWEEP_AFTER * 2000) {
            assert_eq!(encoder.encode(&only_new).unwrap().0, expected.as_slice());
        }
        assert_eq!(encoder.series.entries, 1);
        assert_eq!(encoder.series.pages.iter().flatten().count(), 1);
        let kept: usize = encoder
            .series
            .pages
            .iter()
            .flatten()
            .flat_map(|p| p.iter())
            .map(|e| e.len as usize)
            .sum();
        assert_eq!(encoder.series.arena.len(), kept);
        // An old series comes back: parsed again, the same bytes as ever.
        let cold = BodyEncoder::new().encode(&batch).unwrap().0.to_vec();
        assert_eq!(encoder.encode(&batch).unwrap().0, cold.as_slice());
        assert_eq!(encoder.encode(&batch).unwrap().0, cold.as_slice());
    }

    proptest! {
        #[test]
        fn chart_lines_are_the_series_records(
            dims in proptest::collection::vec("\\PC{0,90}", 1..6),
            lines in proptest::collection::vec((0usize..8, -1e9f64..1e9, any::<bool>()), 0..20),
            ts in 0i64..=i64::MAX,
        ) {
            let names: Vec<SeriesName> = dims
                .iter()
                .map(|d| SeriesName::new(b"netdata_some_context_average", [("dimension", d.as_str()), ("chart", "c.x")]))
                .collect();
            let mut chart = ChartSeries::new();
            names.iter().for_each(|n| chart.push(n));
            let values: Vec<(usize, MetricValue)> = lines
                .iter()
                .map(|&(i, v, nan)| (i, MetricValue::Stored(if nan { f64::NAN } else { v })))
                .collect();
            let mut got = b"before ".to_vec();
            let written = chart.write_lines(&mut got, ts, values.iter().copied());
            let mut expected = b"before ".to_vec();
            let mut count = 0;
            for &(i, value) in &values {
                if let Some(series) = names.get(i) {
                    count += usize::from(series.write_record(&mut expected, value, ts));
                }
            }
            prop_assert_eq!(written, count);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
        }

        #[test]
        fn hex_digits_round_trip(value: u64) {
            let digits = hex16(value);
            let expected = format!("{value:016x}");
            prop_assert_eq!(&digits[..], expected.as_bytes());
            prop_assert_eq!(parse_hex16(&digits), Some(value));
        }

        #[test]
        fn only_lower_case_hex_digits_parse(text in "[0-9a-f]{16}", at in 0usize..16, byte: u8) {
            let mut digits = text.into_bytes();
            digits[at] = byte;
            let valid = digits.iter().all(|b| b"0123456789abcdef".contains(b));
            let expected = valid
                .then(|| u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 16).ok())
                .flatten();
            prop_assert_eq!(parse_hex16(&digits), expected);
        }
    }

    proptest! {
        /// The keyed path (a series seen before: its label bytes from the
        /// table) gives the very bytes of the parsing path (records without
        /// keys, the first format), which are prost's own encoding.
        #[test]
        fn keyed_and_unkeyed_records_encode_the_same(
            series in proptest::collection::vec(
                ("[a-z_][a-z0-9_]{0,20}", proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "\\PC{0,12}|[\\\\\"\n]{0,3}"), 0..5)),
                1..6,
            ),
            records in proptest::collection::vec((0usize..6, -1e12f64..1e12, 0usize..6), 0..40),
        ) {
            let series: Vec<SeriesName> = series
                .iter()
                .map(|(name, labels)| SeriesName::new(name.as_bytes(), labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
                .collect();
            let mut keyed = Vec::new();
            for &(which, value, t) in &records {
                const TIMES: [i64; 6] = [0, 7, 123_456, 1_700_000_000_000, 1_700_000_001_000, i64::MAX];
                series[which % series.len()].write_record(&mut keyed, MetricValue::Stored(value), TIMES[t]);
            }
            let plain = unkeyed(&keyed);
            prop_assert!(plain.len() < keyed.len() || records.is_empty());

            let reference = BodyEncoder::new().encode(&plain).unwrap().0.to_vec();
            let mut warm = BodyEncoder::new();
            let cold = warm.encode(&keyed).unwrap().0.to_vec();
            let hot = warm.encode(&keyed).unwrap().0.to_vec();
            prop_assert_eq!(&cold, &reference);
            prop_assert_eq!(&hot, &reference);
            // Unkeyed records through a warm encoder, and keyed again.
            prop_assert_eq!(warm.encode(&plain).unwrap().0, reference.as_slice());
            prop_assert_eq!(warm.encode(&keyed).unwrap().0, reference.as_slice());
            // And the protobuf is prost's (which leaves out a sample's
            // zero value or time; the encoder writes both, as before).
            let raw = snap::raw::Decoder::new().decompress_vec(&reference).unwrap();
            let request = WriteRequest::decode(raw.as_slice()).unwrap();
            prop_assert_eq!(request.timeseries.len(), records.len());
            if request.timeseries.iter().flat_map(|t| &t.samples).all(|s| s.value != 0.0 && s.timestamp != 0) {
                prop_assert_eq!(raw, request.encode_to_vec());
            }
            // At most n records: the first n, the same bytes as those alone.
            let n = records.len() / 2;
            let (taken, samples) = warm.encode_at_most(&keyed, n.max(1)).unwrap();
            prop_assert_eq!(samples, n.max(1).min(records.len()));
            let alone = BodyEncoder::new().encode(&keyed[..taken]).unwrap().0.to_vec();
            prop_assert_eq!(warm.body(), alone.as_slice());
            prop_assert_eq!(keyed[..taken].iter().filter(|&&b| b == b'\n').count(), samples);
        }

        #[test]
        fn any_labels_and_values_round_trip(
            name in "[a-z_][a-z0-9_]{0,20}",
            labels in proptest::collection::vec(("[A-Za-z_][A-Za-z0-9_]{0,8}", "\\PC{0,20}|[\\\\\"\n]{0,5}"), 0..6),
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
            let mut expected: Vec<Label> = vec![label("__name__", &name)];
            for (k, v) in &labels {
                if !k.starts_with("__") && !v.is_empty() && !expected.iter().any(|l| &l.name == k) {
                    expected.push(label(k, v));
                }
            }
            // Every label sorted by name as bytes, `__name__` among them.
            expected.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
            prop_assert_eq!(series.labels.as_slice(), expected.as_slice());
            let sent = series.samples[0].value;
            prop_assert!((sent - value).abs() <= value.abs() * 1e-14, "{} vs {}", sent, value);
            prop_assert_eq!(series.samples[0].timestamp, ts);
        }
    }
}
