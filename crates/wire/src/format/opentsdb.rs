//! OpenTSDB telnet lines:
//! `put PREFIX.CHART.DIM TIMESTAMP VALUE host=HOST[ key=value...]\n`.
//!
//! * PREFIX and HOST: [`sanitize::write_prefix_or_hostname`] (netdata sent
//!   them verbatim).
//! * CHART and DIM: [`sanitize::write_metric_part`].
//! * label keys and values: [`sanitize::write_opentsdb_tag`].
//!
//! ```
//! use wire::format::{opentsdb, MetricValue};
//!
//! let tags = opentsdb::Tags::new("vm", [("env", "lab"), ("team_name", "rust port:semi_tilde")]);
//! let metric = opentsdb::MetricPath::new("netdata", "system.idlejitter", "min");
//! let mut buf = Vec::new();
//! opentsdb::write_line(&mut buf, &metric, &tags, MetricValue::Stored(67.0), 1795688386);
//! assert_eq!(
//!     buf,
//!     b"put netdata.system.idlejitter.min 1795688386 67.0000000 host=vm env=lab team_name=rust_port_semi_tilde\n"
//! );
//! ```

use super::{labels_to_render, MetricList, MetricPieces, MetricValue, PaddedBytes};
use crate::number::RenderedTimestamp;
use crate::room::{Room, PADDING};
use crate::sanitize;

/// The sanitized head shared by a chart's metrics: `PREFIX.CHART.`.
/// Build it once per chart (and again when the chart is renamed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartPath {
    bytes: Vec<u8>,
}

impl ChartPath {
    /// `prefix` as configured, `chart` the chart's name or id as the instance
    /// sends.
    ///
    /// ```
    /// let chart = wire::format::opentsdb::ChartPath::new("netdata", "lab.Weird Name/with space");
    /// assert_eq!(chart.as_bytes(), b"netdata.lab.Weird_Name_with_space.");
    /// ```
    pub fn new(prefix: &str, chart: &str) -> ChartPath {
        let mut bytes = Vec::with_capacity(prefix.len() + chart.len() + 2);
        sanitize::write_prefix_or_hostname(&mut bytes, prefix);
        bytes.push(b'.');
        sanitize::write_metric_part(&mut bytes, chart);
        bytes.push(b'.');
        ChartPath { bytes }
    }

    /// The full metric name of one of the chart's dimensions (its name or id).
    pub fn metric(&self, dimension: &str) -> MetricPath {
        let mut bytes = Vec::with_capacity(self.bytes.len() + dimension.len() + PADDING);
        bytes.extend_from_slice(&self.bytes);
        sanitize::write_metric_part(&mut bytes, dimension);
        MetricPath {
            bytes: PaddedBytes::new(bytes),
        }
    }

    /// The rendered head, `PREFIX.CHART.`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A sanitized metric name, `PREFIX.CHART.DIM`. Build it once per dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricPath {
    bytes: PaddedBytes,
}

impl MetricPath {
    /// The same as `ChartPath::new(prefix, chart).metric(dimension)`.
    pub fn new(prefix: &str, chart: &str, dimension: &str) -> MetricPath {
        ChartPath::new(prefix, chart).metric(dimension)
    }

    /// The rendered name.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }
}

/// The rendered tags, `host=HOST[ key=value...]`. Build them once per host
/// and batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tags {
    bytes: PaddedBytes,
}

impl Tags {
    /// The `host` tag followed by the labels in the given order (none when
    /// label sending is off; netdata then left a trailing space when label
    /// sending was on but every label was filtered out).
    ///
    /// ```
    /// let tags = wire::format::opentsdb::Tags::new("lab host", [("env", "lab"), ("k=1", "a b:c")]);
    /// assert_eq!(tags.as_bytes(), b"host=lab_host env=lab k_1=a_b_c");
    /// let bare = wire::format::opentsdb::Tags::new("vm", std::iter::empty::<(&str, &str)>());
    /// assert_eq!(bare.as_bytes(), b"host=vm");
    /// ```
    pub fn new<I, K, V>(hostname: &str, labels: I) -> Tags
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut bytes = Vec::with_capacity(hostname.len() + 5);
        bytes.extend_from_slice(b"host=");
        sanitize::write_prefix_or_hostname(&mut bytes, hostname);
        for (key, value) in labels_to_render(labels) {
            bytes.push(b' ');
            sanitize::write_opentsdb_tag(&mut bytes, key.as_ref());
            bytes.push(b'=');
            sanitize::write_opentsdb_tag(&mut bytes, value.as_ref());
        }
        Tags {
            bytes: PaddedBytes::new(bytes),
        }
    }

    /// The rendered tags.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }
}

/// Appends one line, `put METRIC TIMESTAMP VALUE TAGS\n`, and returns `true`;
/// or appends nothing and returns `false` when the value is a non-finite
/// stored value (netdata skips a window with no value).
///
/// ```
/// use wire::format::{opentsdb, MetricValue};
///
/// let metric = opentsdb::MetricPath::new("netdata", "lab.Weird_Name_with_space", "negative");
/// let tags = opentsdb::Tags::new("vm", std::iter::empty::<(&str, &str)>());
/// let mut buf = Vec::new();
/// opentsdb::write_line(&mut buf, &metric, &tags, MetricValue::Stored(-2.5), 1795688386);
/// assert_eq!(buf, b"put netdata.lab.Weird_Name_with_space.negative 1795688386 -2.5000000 host=vm\n");
/// ```
#[inline]
pub fn write_line(
    buf: &mut Vec<u8>,
    metric: &MetricPath,
    tags: &Tags,
    value: MetricValue,
    timestamp: i64,
) -> bool {
    let timestamp = RenderedTimestamp::new(timestamp);
    put_line(
        &mut Room::new(buf),
        MetricPieces::whole(&metric.bytes.bytes, metric.bytes.len()),
        tags,
        value,
        &timestamp,
    )
}

/// The bytes a line's unchecked stores may reach: `put ` (4), the metric
/// (at most its length + 2 PADDING), the timestamp (32) and two number
/// words (16 each). The tags and the last bytes are stored with checks.
#[inline(always)]
fn line_reservation(metric: &MetricPieces<'_>) -> usize {
    metric.len().saturating_add(2 * PADDING + 68)
}

/// The one place an opentsdb line is laid out: `put METRIC TS VALUE TAGS\n`.
/// `metric` is the name's first `metric_len` bytes, then padding.
#[inline(always)]
fn put_line(
    room: &mut Room<'_>,
    metric: MetricPieces<'_>,
    tags: &Tags,
    value: MetricValue,
    timestamp: &RenderedTimestamp,
) -> bool {
    if !value.is_writable() {
        return false;
    }
    // One reservation for the unchecked stores of the line.
    room.reserve(line_reservation(&metric));
    let (framed, spaced_len) = timestamp.framed();
    // SAFETY: within that reservation.
    unsafe {
        room.put_array_unchecked(*b"put ", 4);
        metric.put_unchecked(room);
        room.put_array_unchecked(framed, spaced_len);
    }
    match value.words(Some(b' ')) {
        // SAFETY: within the reservation above.
        Some(number) => unsafe {
            number.put_unchecked(room);
        },
        None => value.put(room, Some(b' ')),
    }
    room.put_byte(b' ');
    tags.bytes.put(room);
    room.put_byte(b'\n');
    true
}

/// The tags of an OpenTSDB HTTP `/api/put` object,
/// `"tags":{"host":"HOST","key":"value"...}`, sanitized as the telnet tags
/// are (every byte they keep is safe inside a JSON string). Build them once
/// per host and batch.
///
/// ```
/// let tags = wire::format::opentsdb::JsonTags::new("vm", [("env", "lab"), ("k\"1", "a b")]);
/// assert_eq!(tags.as_bytes(), br#""tags":{"host":"vm","env":"lab","k_1":"a_b"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonTags {
    bytes: PaddedBytes,
}

impl JsonTags {
    /// The `host` tag followed by the labels in the given order.
    pub fn new<I, K, V>(hostname: &str, labels: I) -> JsonTags
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut bytes = Vec::with_capacity(hostname.len() + 24);
        bytes.extend_from_slice(b"\"tags\":{\"host\":\"");
        sanitize::write_prefix_or_hostname(&mut bytes, hostname);
        bytes.push(b'"');
        for (key, value) in labels_to_render(labels) {
            bytes.extend_from_slice(b",\"");
            sanitize::write_opentsdb_tag(&mut bytes, key.as_ref());
            bytes.extend_from_slice(b"\":\"");
            sanitize::write_opentsdb_tag(&mut bytes, value.as_ref());
            bytes.push(b'"');
        }
        bytes.push(b'}');
        JsonTags {
            bytes: PaddedBytes::new(bytes),
        }
    }

    /// The rendered tags.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }
}

/// The one place an OpenTSDB HTTP object is laid out:
/// `{"metric":"METRIC","timestamp":TS,"value":VALUE,TAGS},\n`. Objects end
/// in `,\n` so that a run of them is a JSON array's body once the last two
/// bytes are cut (see the HTTP delivery's framing).
#[inline(always)]
fn put_json_object(
    room: &mut Room<'_>,
    metric: MetricPieces<'_>,
    tags: &JsonTags,
    value: MetricValue,
    timestamp: &RenderedTimestamp,
) -> bool {
    if !value.is_writable() {
        return false;
    }
    room.put_slice(b"{\"metric\":\"");
    room.put_padded(metric.head, metric.head_len);
    if metric.part_len > 0 {
        room.put_padded(metric.part, metric.part_len);
    }
    room.put_slice(b"\",\"timestamp\":");
    room.put_slice(timestamp.as_bytes());
    room.put_slice(b",\"value\":");
    value.put(room, None);
    room.put_byte(b',');
    tags.bytes.put(room);
    room.put_slice(b"},\n");
    true
}

/// The metric names of all of a chart's dimensions, in dimension order:
/// the same names as one [`MetricPath`] per dimension, held as the chart's
/// head once and the dimension parts in one buffer.
///
/// ```
/// use wire::format::{opentsdb, MetricValue};
///
/// let mut names = opentsdb::ChartMetrics::new(&opentsdb::ChartPath::new("netdata", "system.load"));
/// names.push("load1");
/// let tags = opentsdb::Tags::new("vm", [("env", "lab")]);
/// let mut buf = Vec::new();
/// assert!(names.write_line(&mut buf, 0, &tags, MetricValue::Stored(0.5), &wire::number::RenderedTimestamp::new(100)));
/// assert_eq!(buf, b"put netdata.system.load.load1 100 0.5000000 host=vm env=lab\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartMetrics {
    list: MetricList,
}

impl ChartMetrics {
    /// An empty list under `chart`'s head.
    pub fn new(chart: &ChartPath) -> ChartMetrics {
        ChartMetrics {
            list: MetricList::new(&chart.bytes),
        }
    }

    /// Appends the metric of the next dimension (its name or id).
    pub fn push(&mut self, dimension: &str) {
        self.list.push(dimension);
    }

    /// How many metrics the list holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// The metric name of dimension `index`.
    pub fn metric(&self, index: usize) -> Option<Vec<u8>> {
        self.list.metric(index)
    }

    /// Like [`write_line`] for dimension `index`; false (nothing written)
    /// for an index out of range or a non-finite stored value.
    #[inline]
    pub fn write_line(
        &self,
        buf: &mut Vec<u8>,
        index: usize,
        tags: &Tags,
        value: MetricValue,
        timestamp: &RenderedTimestamp,
    ) -> bool {
        self.list
            .write_line(buf, index, value, |room, metric, value| {
                put_line(room, metric, tags, value, timestamp)
            })
    }

    /// What [`Self::write_line`] appends, for every `(index, value)` of
    /// `lines` in turn; returns how many lines were written.
    #[inline]
    pub fn write_lines<I>(
        &self,
        buf: &mut Vec<u8>,
        tags: &Tags,
        timestamp: &RenderedTimestamp,
        lines: I,
    ) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        self.list.write_lines(buf, lines, |room, metric, value| {
            put_line(room, metric, tags, value, timestamp)
        })
    }
    /// What [`Self::write_lines`] does, as OpenTSDB HTTP objects (each
    /// ending in `,\n`); returns how many objects were written.
    ///
    /// ```
    /// use wire::format::{opentsdb, MetricValue};
    ///
    /// let mut names = opentsdb::ChartMetrics::new(&opentsdb::ChartPath::new("netdata", "system.load"));
    /// names.push("load1");
    /// let tags = opentsdb::JsonTags::new("vm", [("env", "lab")]);
    /// let mut buf = Vec::new();
    /// let ts = wire::number::RenderedTimestamp::new(100);
    /// assert_eq!(names.write_json_objects(&mut buf, &tags, &ts, [(0, MetricValue::Stored(0.5))]), 1);
    /// assert_eq!(
    ///     String::from_utf8_lossy(&buf),
    ///     "{\"metric\":\"netdata.system.load.load1\",\"timestamp\":100,\"value\":0.5000000,\"tags\":{\"host\":\"vm\",\"env\":\"lab\"}},\n"
    /// );
    /// ```
    #[inline]
    pub fn write_json_objects<I>(
        &self,
        buf: &mut Vec<u8>,
        tags: &JsonTags,
        timestamp: &RenderedTimestamp,
        lines: I,
    ) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        self.list.write_lines(buf, lines, |room, metric, value| {
            put_json_object(room, metric, tags, value, timestamp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_metrics_match_one_metric_path_per_dimension() {
        let head = ChartPath::new("pre", "lab.weird chart");
        let mut list = ChartMetrics::new(&head);
        let dims = ["a b", "température", "", "dots.in.name", "x;y=z~"];
        for d in dims {
            list.push(d);
        }
        assert_eq!(list.len(), dims.len());
        for (i, d) in dims.iter().enumerate() {
            assert_eq!(list.metric(i).as_deref(), Some(head.metric(d).as_bytes()));
        }
        assert_eq!(list.metric(dims.len()), None);
    }
    use proptest::prelude::*;

    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,30}",
            "[ \\t\\r\\n;=~\"\\\\a-zé]{0,30}",
            "[a-z ;\\n]{300}",
        ]
    }

    proptest! {
        /// With exactly the room a line reserves, no unchecked store goes
        /// past it (their debug assertions check every one), and the line
        /// is the one written into an empty buffer.
        #[test]
        fn a_line_fits_its_own_reservation(
            head in "[a-z.]{0,140}",
            dim in "[a-z]{0,140}",
            host in "[a-z.]{0,60}",
            labels in prop::collection::vec(("[a-z]{1,40}", "[a-z]{0,40}"), 0..3),
            value in prop_oneof![any::<f64>(), -1e9f64..1e9, (-100_000_000i64..100_000_000).prop_map(|v| v as f64)],
            collected in any::<i64>(),
            stored in any::<bool>(),
            timestamp in any::<i64>(),
        ) {
            let chart = ChartPath::new("", &head);
            let mut names = ChartMetrics::new(&chart);
            names.push(&dim);
            let tags = Tags::new(&host, labels.iter().map(|(k, v)| (k, v)));
            let pieces = names.list.pieces(0).unwrap();
            let exact = line_reservation(&pieces);
            let mut buf = Vec::with_capacity(exact);
            prop_assume!(buf.capacity() == exact);
            let value = if stored { MetricValue::Stored(value) } else { MetricValue::Collected(collected) };
            let ts = RenderedTimestamp::new(timestamp);
            let written = names.write_line(&mut buf, 0, &tags, value, &ts);
            prop_assert_eq!(written, value.is_writable());
            let mut alone = Vec::new();
            write_line(&mut alone, &chart.metric(&dim), &tags, value, timestamp);
            prop_assert_eq!(&buf, &alone);
            if written {
                prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
                prop_assert_eq!(buf.last(), Some(&b'\n'));
            }
        }
    }

    proptest! {
        #[test]
        fn one_line_with_the_right_tags(
            prefix in hostile_text(),
            host in hostile_text(),
            chart in hostile_text(),
            dim in hostile_text(),
            labels in prop::collection::vec((hostile_text(), hostile_text()), 0..4),
            value in any::<i64>(),
            stored in any::<bool>(),
            timestamp in any::<i64>(),
        ) {
            let tags = Tags::new(&host, labels.iter().map(|(k, v)| (k, v)));
            let metric = MetricPath::new(&prefix, &chart, &dim);
            let value = if stored { MetricValue::Stored(value as f64 / 1000.0) } else { MetricValue::Collected(value) };
            let mut buf = Vec::new();
            prop_assert!(write_line(&mut buf, &metric, &tags, value, timestamp));

            prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(buf.last(), Some(&b'\n'));
            prop_assert!(!buf.iter().any(|&b| b == b'\r' || b == b'\t' || b == 0));
            let line = &buf[..buf.len() - 1];
            let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let sent_labels = labels.iter().filter(|(k, _)| !k.is_empty()).count();
            prop_assert_eq!(fields.len(), 5 + sent_labels);
            prop_assert_eq!(fields[0], b"put".as_slice());
            let timestamp_text = timestamp.to_string();
            prop_assert_eq!(fields[2], timestamp_text.as_bytes());
            prop_assert!(fields[4].starts_with(b"host="));
            for tag in &fields[4..] {
                prop_assert_eq!(tag.iter().filter(|&&b| b == b'=').count(), 1);
            }
        }
    }
}
