//! Metric line encoders: graphite plaintext, opentsdb telnet, json lines;
//! and the forms of netdata's `/api/v1/allmetrics` ([`prometheus`], whose
//! names and labels remote write shares, [`allmetrics_shell`],
//! [`allmetrics_json`]); Prometheus remote write ([`remote_write`]).
//!
//! Each format is split the way the exporting engine works, so that the
//! per-line work is a few copies and two number conversions:
//!
//! | built once | per | graphite | opentsdb | json |
//! | --- | --- | --- | --- | --- |
//! | labels | host, batch | [`graphite::Tags`] | [`opentsdb::Tags`] (with `host=`) | [`json::HostFields`] (with prefix, hostname) |
//! | chart head | chart | [`graphite::ChartPath`] | [`opentsdb::ChartPath`] | [`json::ChartFields`] |
//! | metric name | dimension | [`graphite::MetricPath`] | [`opentsdb::MetricPath`] | [`json::DimensionFields`] |
//! | the line | value | [`graphite::write_line`] | [`opentsdb::write_line`] | [`json::write_line`] |
//!
//! The cached pieces are types with private contents, built only by their
//! constructors, which sanitize or escape every input (see
//! [`crate::sanitize`]). So no name, label or hostname can add a line, a tag
//! or a JSON key: each `write_line` appends exactly one line ending in its
//! only `\n`, or nothing.
//!
//! Which strings the engine passes is its business: with `send names instead
//! of ids` the chart is its name (netdata's names already hold the type:
//! `lab.Weird_Name_with_space`) and the dimension its name; otherwise both
//! are ids.
//!
//! Labels are passed as `(key, value)` pairs in the order to send, normally
//! as the label store keeps them ([`crate::sanitize::sanitize_label_key`],
//! [`crate::sanitize::sanitize_label_value`]). A pair with an empty key is
//! skipped; an empty value is sent as netdata stores one,
//! [`crate::sanitize::EMPTY_LABEL_VALUE`].
//!
//! ```
//! use wire::format::{graphite, MetricValue};
//!
//! let tags = graphite::Tags::new([("env", "lab")]);
//! let chart = graphite::ChartPath::new("netdata", "vm", "system.idlejitter");
//! let min = chart.metric("min");
//! let mut buf = Vec::new();
//! assert!(graphite::write_line(&mut buf, &min, &tags, MetricValue::Stored(67.0), 1795688386));
//! assert_eq!(buf, b"netdata.vm.system.idlejitter.min;env=lab 67.0000000 1795688386\n");
//! ```

pub mod allmetrics_json;
pub mod allmetrics_shell;
pub mod graphite;
pub mod json;
pub mod opentsdb;
pub mod prometheus;
pub mod remote_write;

use crate::number::{
    integer_words, put_integer, put_stored_value, stored_value_words, write_timestamp, NumberWords,
    SevenDecimalUnits,
};
use crate::room::{Room, PADDING};
use crate::sanitize::EMPTY_LABEL_VALUE;

/// The metric names of all of a chart's dimensions: the chart's head once,
/// and the sanitized dimension parts in one buffer; shared by the graphite
/// and opentsdb `ChartMetrics`. A line copies the head (the same for every
/// line of the chart, so it stays in the L1 cache) and then its part: far
/// less memory to walk per interval than one full name per dimension. Both
/// buffers end with [`PADDING`] bytes that belong to no name, so every piece
/// can be copied with [`Room::put_padded`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct MetricList {
    /// The head, then `PADDING` zeros.
    head: Vec<u8>,
    /// The dimension parts back to back, then `PADDING` zeros.
    parts: Vec<u8>,
    /// Where each part ends in `parts`.
    ends: Vec<usize>,
}

/// How far ahead of the end of the buffer [`MetricList::write_lines`]
/// prefetches (a batch is megabytes, written once an interval: its lines
/// have left the cache by the time it is filled again).
const PREFETCH_AHEAD: usize = 2048;

/// One metric name as two padded pieces: `head[..head_len]` then
/// `part[..part_len]`.
#[derive(Clone, Copy, Debug)]
struct MetricPieces<'a> {
    head: &'a [u8],
    head_len: usize,
    part: &'a [u8],
    part_len: usize,
}

impl<'a> MetricPieces<'a> {
    /// A name held whole in one padded buffer.
    fn whole(padded: &'a [u8], len: usize) -> MetricPieces<'a> {
        MetricPieces {
            head: padded,
            head_len: len,
            part: &[],
            part_len: 0,
        }
    }

    /// Bytes of the name.
    #[inline(always)]
    fn len(&self) -> usize {
        self.head_len + self.part_len
    }

    /// Appends the name. Stores at most `len() + 2 * PADDING` bytes.
    ///
    /// # Safety
    ///
    /// As for [`Room::put_array_unchecked`]: the room must have been
    /// reserved for `len() + 2 * PADDING` bytes.
    #[inline(always)]
    unsafe fn put_unchecked(&self, room: &mut Room<'_>) {
        // SAFETY: within the caller's reservation.
        unsafe {
            room.put_padded_unchecked(self.head, self.head_len);
            if self.part_len > 0 {
                room.put_padded_unchecked(self.part, self.part_len);
            }
        }
    }
}

impl Default for MetricList {
    fn default() -> MetricList {
        MetricList::new(&[])
    }
}

impl MetricList {
    fn new(head: &[u8]) -> MetricList {
        let mut padded = head.to_vec();
        padded.extend_from_slice(&[0; PADDING]);
        MetricList {
            head: padded,
            parts: vec![0; PADDING],
            ends: Vec::new(),
        }
    }

    fn push(&mut self, dimension: &str) {
        self.parts.truncate(self.parts.len() - PADDING);
        crate::sanitize::write_metric_part(&mut self.parts, dimension);
        self.ends.push(self.parts.len());
        self.parts.extend_from_slice(&[0; PADDING]);
    }

    /// Appends a part as it is (already rendered and escaped).
    fn push_raw(&mut self, part: &[u8]) {
        self.parts.truncate(self.parts.len() - PADDING);
        self.parts.extend_from_slice(part);
        self.ends.push(self.parts.len());
        self.parts.extend_from_slice(&[0; PADDING]);
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The full name of metric `index`.
    fn metric(&self, index: usize) -> Option<Vec<u8>> {
        let pieces = self.pieces(index)?;
        let mut name = Vec::with_capacity(pieces.len());
        name.extend_from_slice(&pieces.head[..pieces.head_len]);
        name.extend_from_slice(&pieces.part[..pieces.part_len]);
        Some(name)
    }

    /// Writes the line of metric `index` with `put_line`; false (nothing
    /// written) for an index out of range or what `put_line` refuses.
    #[inline(always)]
    fn write_line<F>(
        &self,
        buf: &mut Vec<u8>,
        index: usize,
        value: MetricValue,
        put_line: F,
    ) -> bool
    where
        F: FnOnce(&mut Room<'_>, MetricPieces<'_>, MetricValue) -> bool,
    {
        match self.pieces(index) {
            Some(metric) => put_line(&mut Room::new(buf), metric, value),
            None => false,
        }
    }

    /// Writes the line of every `(index, value)` of `lines` with
    /// `put_line`, into one [`Room`]; returns how many were written.
    #[inline(always)]
    fn write_lines<I, F>(&self, buf: &mut Vec<u8>, lines: I, mut put_line: F) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
        F: FnMut(&mut Room<'_>, MetricPieces<'_>, MetricValue) -> bool,
    {
        let mut room = Room::new(buf);
        let mut written = 0;
        for (index, value) in lines {
            room.prefetch(PREFETCH_AHEAD);
            if let Some(metric) = self.pieces(index) {
                written += usize::from(put_line(&mut room, metric, value));
            }
        }
        written
    }

    /// Metric `index` as padded pieces.
    #[inline(always)]
    fn pieces(&self, index: usize) -> Option<MetricPieces<'_>> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 {
            0
        } else {
            *self.ends.get(index - 1)?
        };
        Some(MetricPieces {
            head: &self.head,
            head_len: self.head.len() - PADDING,
            part: self.parts.get(start..)?,
            part_len: end - start,
        })
    }
}

/// Rendered bytes followed by [`PADDING`] bytes, for [`Room::put_padded`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PaddedBytes {
    /// The content, then `PADDING` zeros (none when empty).
    bytes: Box<[u8]>,
}

impl PaddedBytes {
    fn new(mut content: Vec<u8>) -> PaddedBytes {
        if !content.is_empty() {
            content.extend_from_slice(&[0; PADDING]);
        }
        PaddedBytes {
            bytes: content.into_boxed_slice(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.bytes.len().saturating_sub(PADDING)
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    #[inline(always)]
    fn put(&self, room: &mut Room<'_>) {
        room.put_padded(&self.bytes, self.len());
    }

    /// The content and its padding.
    #[inline(always)]
    fn padded(&self) -> &[u8] {
        &self.bytes
    }
}

/// The value of one line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    /// Computed from stored points (`average`, `sum`): written with seven
    /// decimals. Must be finite; a non-finite value writes no line.
    Stored(f64),
    /// The raw integer last collected (`as collected`): written as an integer.
    Collected(i64),
    /// A stored value known exactly in decimal (one stored point): written
    /// as `Stored` of the same value is.
    Exact(SevenDecimalUnits),
}

impl MetricValue {
    /// Whether a line can be written for this value (a stored value must be
    /// finite; netdata skips windows without a value).
    #[inline]
    pub fn is_writable(self) -> bool {
        match self {
            MetricValue::Stored(value) => value.is_finite(),
            MetricValue::Collected(_) | MetricValue::Exact(_) => true,
        }
    }

    /// Appends the value as netdata writes it (`%0.7Lf` or `%lld`).
    #[inline]
    pub fn write(self, buf: &mut Vec<u8>) {
        self.put(&mut Room::new(buf), None);
    }

    /// The value's text after the byte `lead`, as two words; `None` for
    /// the rare values written only by [`Self::put`].
    #[inline(always)]
    fn words(self, lead: Option<u8>) -> Option<NumberWords> {
        match self {
            MetricValue::Stored(value) => stored_value_words(lead, value),
            MetricValue::Collected(value) => integer_words(lead, value),
            MetricValue::Exact(value) => Some(value.words(lead)),
        }
    }

    /// [`Self::write`] into a [`Room`], after the byte `lead` if any.
    #[inline(always)]
    fn put(self, room: &mut Room<'_>, lead: Option<u8>) {
        match self {
            MetricValue::Stored(value) => put_stored_value(room, lead, value),
            MetricValue::Collected(value) => put_integer(room, lead, value),
            MetricValue::Exact(value) => value.words(lead).put(room),
        }
    }

    /// Whether this is a stored (`average`/`sum`) value: the JSON format
    /// spaces its keys differently for those.
    #[inline]
    fn is_stored(self) -> bool {
        matches!(self, MetricValue::Stored(_) | MetricValue::Exact(_))
    }
}

/// The labels to render: empty keys dropped, empty values replaced.
fn labels_to_render<I, K, V>(labels: I) -> impl Iterator<Item = (K, LabelValue<V>)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    labels
        .into_iter()
        .filter(|(key, _)| !key.as_ref().is_empty())
        .map(|(key, value)| (key, LabelValue(value)))
}

/// A label value, with netdata's placeholder for an empty one.
struct LabelValue<V>(V);

impl<V: AsRef<str>> AsRef<str> for LabelValue<V> {
    fn as_ref(&self) -> &str {
        match self.0.as_ref() {
            "" => EMPTY_LABEL_VALUE,
            value => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let mut buf = Vec::new();
        MetricValue::Stored(2.5).write(&mut buf);
        buf.push(b' ');
        MetricValue::Collected(-7).write(&mut buf);
        assert_eq!(buf, b"2.5000000 -7");
        assert!(!MetricValue::Stored(f64::NAN).is_writable());
        assert!(!MetricValue::Stored(f64::INFINITY).is_writable());
        assert!(MetricValue::Stored(0.0).is_writable());
        assert!(MetricValue::Collected(i64::MIN).is_writable());
    }

    #[test]
    fn empty_keys_are_dropped_and_empty_values_replaced() {
        let rendered: Vec<(String, String)> = labels_to_render([("", "x"), ("k", ""), ("a", "b")])
            .map(|(key, value)| (key.to_owned(), value.as_ref().to_owned()))
            .collect();
        assert_eq!(
            rendered,
            [
                ("k".to_owned(), "[none]".to_owned()),
                ("a".to_owned(), "b".to_owned())
            ]
        );
    }
}
