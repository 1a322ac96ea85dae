//! Graphite plaintext lines:
//! `PREFIX.HOST.CHART.DIM[;key=value...] VALUE TIMESTAMP\n`.
//!
//! * PREFIX and HOST: [`sanitize::write_prefix_or_hostname`] (netdata sent
//!   them verbatim).
//! * CHART and DIM: [`sanitize::write_metric_part`].
//! * tags: `;key=value` per label, [`sanitize::write_graphite_tag_key`] and
//!   [`sanitize::write_graphite_tag_value`].
//!
//! ```
//! use wire::format::{graphite, MetricValue};
//!
//! let tags = graphite::Tags::new([("env", "lab"), ("team_name", "rust port:semi_tilde")]);
//! let chart = graphite::ChartPath::new("netdata", "vm", "lab.Weird_Name_with_space");
//! let dim = chart.metric("dim name/with slash");
//! let mut buf = Vec::new();
//! graphite::write_line(&mut buf, &dim, &tags, MetricValue::Stored(2.0), 1795688385);
//! assert_eq!(
//!     buf,
//!     b"netdata.vm.lab.Weird_Name_with_space.dim_name_with_slash;env=lab;team_name=rust_port:semi_tilde 2.0000000 1795688385\n"
//! );
//! ```

use super::{labels_to_render, MetricList, MetricPieces, MetricValue, PaddedBytes};
use crate::number::RenderedTimestamp;
use crate::room::{Room, PADDING};
use crate::sanitize;

/// The sanitized head shared by a chart's metrics: `PREFIX.HOST.CHART.`.
/// Build it once per chart (and again when the chart is renamed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartPath {
    bytes: Vec<u8>,
}

impl ChartPath {
    /// `prefix` and `hostname` as configured (or the child host's name),
    /// `chart` the chart's name or id as the instance sends.
    ///
    /// ```
    /// let chart = wire::format::graphite::ChartPath::new("rawpfx", "lab host.name", "lab.id with spaces/and:colon");
    /// assert_eq!(chart.as_bytes(), b"rawpfx.lab_host.name.lab.id_with_spaces_and_colon.");
    /// ```
    pub fn new(prefix: &str, hostname: &str, chart: &str) -> ChartPath {
        let mut bytes = Vec::with_capacity(prefix.len() + hostname.len() + chart.len() + 3);
        sanitize::write_prefix_or_hostname(&mut bytes, prefix);
        bytes.push(b'.');
        sanitize::write_prefix_or_hostname(&mut bytes, hostname);
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

    /// The rendered head, `PREFIX.HOST.CHART.`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A sanitized metric name, `PREFIX.HOST.CHART.DIM`. Build it once per
/// dimension (and again when a name changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricPath {
    bytes: PaddedBytes,
}

impl MetricPath {
    /// The same as `ChartPath::new(prefix, hostname, chart).metric(dimension)`.
    pub fn new(prefix: &str, hostname: &str, chart: &str, dimension: &str) -> MetricPath {
        ChartPath::new(prefix, hostname, chart).metric(dimension)
    }

    /// The rendered name.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }
}

/// The rendered label suffix, `;key=value;key=value`, or nothing. Build it
/// once per host and batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    bytes: PaddedBytes,
}

impl Tags {
    /// Renders labels in the given order. No labels give no suffix (netdata
    /// sent a lone `;` when label sending was on but every label was filtered
    /// out).
    ///
    /// ```
    /// let tags = wire::format::graphite::Tags::new([("env", "lab"), ("k=1", "a;b c~")]);
    /// assert_eq!(tags.as_bytes(), b";env=lab;k_1=a_b_c_");
    /// ```
    pub fn new<I, K, V>(labels: I) -> Tags
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut bytes = Vec::new();
        for (key, value) in labels_to_render(labels) {
            bytes.push(b';');
            sanitize::write_graphite_tag_key(&mut bytes, key.as_ref());
            bytes.push(b'=');
            sanitize::write_graphite_tag_value(&mut bytes, value.as_ref());
        }
        Tags {
            bytes: PaddedBytes::new(bytes),
        }
    }

    /// No tags (label sending off).
    pub fn none() -> Tags {
        Tags::default()
    }

    /// The rendered suffix.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() == 0
    }
}

/// Appends one line, `METRIC[TAGS] VALUE TIMESTAMP\n`, and returns `true`;
/// or appends nothing and returns `false` when the value is a non-finite
/// stored value (netdata skips a window with no value).
///
/// ```
/// use wire::format::{graphite, MetricValue};
///
/// let metric = graphite::MetricPath::new("rawpfx", "vm", "lab.weird_chart", "UPPER-case");
/// let mut buf = Vec::new();
/// assert!(graphite::write_line(&mut buf, &metric, &graphite::Tags::none(), MetricValue::Collected(8), 1795688386));
/// assert!(!graphite::write_line(&mut buf, &metric, &graphite::Tags::none(), MetricValue::Stored(f64::NAN), 1795688386));
/// assert_eq!(buf, b"rawpfx.vm.lab.weird_chart.UPPER_case 8 1795688386\n");
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

/// The bytes a line's unchecked stores may reach: the metric (at most its
/// length + 2 PADDING), the tags (at most their length + PADDING), two
/// number words (16 each) and the timestamp (32).
#[inline(always)]
fn line_reservation(metric: &MetricPieces<'_>, tags_len: usize) -> usize {
    metric
        .len()
        .saturating_add(tags_len)
        .saturating_add(3 * PADDING + 64)
}

/// The one place a graphite line is laid out: `METRIC[TAGS] VALUE TS\n`.
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
    let tags_len = tags.bytes.len();
    // One reservation for every store of the line: the metric (at most its
    // length + 2 PADDING), the tags (at most their length + PADDING), two
    // number words (16 each) and the timestamp (32).
    room.reserve(line_reservation(&metric, tags_len));
    // SAFETY: within that reservation (the tags are padded).
    unsafe {
        metric.put_unchecked(room);
        if tags_len > 0 {
            room.put_padded_unchecked(tags.bytes.padded(), tags_len);
        }
    }
    match value.words(Some(b' ')) {
        Some(number) => {
            // SAFETY: within the reservation above.
            unsafe {
                number.put_unchecked(room);
                timestamp.put_line_end_unchecked(room);
            }
        }
        None => {
            value.put(room, Some(b' '));
            timestamp.put_spaced(room, true);
        }
    }
    true
}

/// The metric names of all of a chart's dimensions, in dimension order:
/// the same names as one [`MetricPath`] per dimension, held as the chart's
/// head once and the dimension parts in one buffer.
///
/// ```
/// use wire::format::{graphite, MetricValue};
///
/// let mut names = graphite::ChartMetrics::new(&graphite::ChartPath::new("netdata", "vm", "system.load"));
/// names.push("load1");
/// names.push("load 5");
/// let mut buf = Vec::new();
/// assert!(names.write_line(&mut buf, 1, &graphite::Tags::none(), MetricValue::Stored(0.5), &wire::number::RenderedTimestamp::new(100)));
/// assert_eq!(buf, b"netdata.vm.system.load.load_5 0.5000000 100\n");
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_metrics_match_one_metric_path_per_dimension() {
        let head = ChartPath::new("pre", "host", "lab.weird chart");
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
        /// With exactly the room a line reserves, no store goes past it
        /// (the unchecked stores' debug assertions check every one).
        #[test]
        fn a_line_fits_its_own_reservation(
            head in "[a-z.]{0,140}",
            dim in "[a-z]{0,140}",
            labels in prop::collection::vec(("[a-z]{1,40}", "[a-z]{0,40}"), 0..3),
            value in prop_oneof![any::<f64>(), -1e9f64..1e9, (-100_000_000i64..100_000_000).prop_map(|v| v as f64)],
            collected in any::<i64>(),
            stored in any::<bool>(),
            timestamp in any::<i64>(),
        ) {
            let chart = ChartPath::new("", "", &head);
            let mut names = ChartMetrics::new(&chart);
            names.push(&dim);
            let tags = Tags::new(labels.iter().map(|(k, v)| (k, v)));
            let pieces = names.list.pieces(0).unwrap();
            let exact = line_reservation(&pieces, tags.bytes.len());
            let mut buf = Vec::with_capacity(exact);
            prop_assume!(buf.capacity() == exact);
            let value = if stored { MetricValue::Stored(value) } else { MetricValue::Collected(collected) };
            let ts = RenderedTimestamp::new(timestamp);
            let written = names.write_line(&mut buf, 0, &tags, value, &ts);
            prop_assert_eq!(written, value.is_writable());
            if written {
                prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
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
            let tags = Tags::new(labels.iter().map(|(k, v)| (k, v)));
            let metric = MetricPath::new(&prefix, &host, &chart, &dim);
            let value = if stored { MetricValue::Stored(value as f64 / 1000.0) } else { MetricValue::Collected(value) };
            let mut buf = Vec::new();
            prop_assert!(write_line(&mut buf, &metric, &tags, value, timestamp));

            prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(buf.last(), Some(&b'\n'));
            prop_assert!(!buf.iter().any(|&b| b == b'\r' || b == b'\t' || b == 0));
            let line = &buf[..buf.len() - 1];
            let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            prop_assert_eq!(fields.len(), 3);
            let name_parts: Vec<&[u8]> = fields[0].split(|&b| b == b';').collect();
            let sent_labels = labels.iter().filter(|(k, _)| !k.is_empty()).count();
            prop_assert_eq!(name_parts.len(), 1 + sent_labels);
            for (tag, (key, _)) in name_parts[1..].iter().zip(labels.iter().filter(|(k, _)| !k.is_empty())) {
                // the key holds no `=`: the first one ends it
                let key_end = tag.iter().position(|&b| b == b'=');
                prop_assert_eq!(key_end, Some(key.len()));
                prop_assert!(!tag.contains(&b'~'));
            }
            let timestamp_text = timestamp.to_string();
            prop_assert_eq!(fields[2], timestamp_text.as_bytes());
        }
    }
}
