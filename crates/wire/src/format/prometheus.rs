//! The Prometheus text exposition format (version 0.0.4) as netdata 1.37
//! serves it at `/api/v1/allmetrics?format=prometheus`, and the names and
//! labels its remote write connector sends.
//!
//! A sample line:
//!
//! ```text
//! PREFIX_CONTEXT_UNITS_average{chart="C",family="F",dimension="D"} VALUE TIMESTAMP_MS
//! ```
//!
//! * the metric name is [`metric_name`]: the prefix, the chart's context
//!   (bytes outside `[A-Za-z0-9]` → `_`), then for `average` the units
//!   ([`crate::sanitize::write_prometheus_units`], unless hidden) and
//!   `_average`; for `sum` just `_sum`; for `as collected` nothing, or
//!   `_total` for incremental dimensions;
//! * label values are escaped ([`crate::sanitize::write_prometheus_label_value`]);
//!   `prometheus_all_hosts` adds `instance="HOST"` to every sample;
//! * values are `%0.7Lf` (stored) or integers (as collected), timestamps in
//!   milliseconds, left out with `timestamps=no`.
//!
//! Each host's samples follow one `netdata_info` line carrying the host's
//! labels ([`InfoLabels`], shared with remote write).
//!
//! The `# COMMENT` lines of `help=yes` copy netdata's wording; their free
//! text goes through [`crate::sanitize::write_comment_text`].
//!
//! ```
//! use wire::format::prometheus::{metric_name, SeriesHead, Suffix, UnitsPart};
//! use wire::format::MetricValue;
//!
//! let name = metric_name("netdata", "system.idlejitter", UnitsPart::Current("microseconds lost/s"), Suffix::Average);
//! let head = SeriesHead::new(&name, "system.idlejitter", "idlejitter");
//! let mut buf = Vec::new();
//! head.write_sample(&mut buf, "min", b"", MetricValue::Stored(69.2), Some(1795688426000));
//! assert_eq!(
//!     String::from_utf8_lossy(&buf),
//!     "netdata_system_idlejitter_microseconds_lost_persec_average\
//!      {chart=\"system.idlejitter\",family=\"idlejitter\",dimension=\"min\"} 69.2000000 1795688426000\n"
//! );
//! ```

use super::{MetricList, MetricPieces, MetricValue};
use crate::number::{write_stored_value, write_timestamp, RenderedTimestamp};
use crate::room::{Room, PADDING};
use crate::sanitize::{
    write_comment_text, write_prometheus_label_value, write_prometheus_name_head,
    write_prometheus_name_part, write_prometheus_units,
};

/// The units part of an `average` metric name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitsPart<'a> {
    /// No units part (`hideunits=yes`, and every `sum` or `as collected`
    /// name).
    Hidden,
    /// The chart's units.
    Current(&'a str),
    /// The chart's units under their pre-1.12 name (`oldunits=yes`).
    Old(&'a str),
}

/// The end of a metric name: which value the samples hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suffix {
    /// `_average`.
    Average,
    /// `_sum`.
    Sum,
    /// `as collected`, absolute dimensions: nothing.
    Gauge,
    /// `as collected`, incremental dimensions: `_total`.
    Total,
}

impl Suffix {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Suffix::Average => b"_average",
            Suffix::Sum => b"_sum",
            Suffix::Gauge => b"",
            Suffix::Total => b"_total",
        }
    }

    /// The metric type of the samples: `counter` for [`Suffix::Total`],
    /// else `gauge`.
    pub fn metric_type(self) -> &'static str {
        match self {
            Suffix::Total => "counter",
            _ => "gauge",
        }
    }
}

/// `PREFIX_CONTEXT[UNITS]SUFFIX`: the prefix (made a valid name head, see
/// [`write_prometheus_name_head`]), `_`, the context with bytes outside
/// `[A-Za-z0-9]` turned into `_`, the units part and the suffix.
///
/// ```
/// use wire::format::prometheus::{metric_name, Suffix, UnitsPart};
///
/// assert_eq!(metric_name("netdata", "lab.ctx", UnitsPart::Current("units"), Suffix::Average), b"netdata_lab_ctx_units_average");
/// assert_eq!(metric_name("pfx", "lab.ctx", UnitsPart::Hidden, Suffix::Average), b"pfx_lab_ctx_average");
/// assert_eq!(metric_name("netdata", "lab.slow", UnitsPart::Hidden, Suffix::Total), b"netdata_lab_slow_total");
/// ```
pub fn metric_name(prefix: &str, context: &str, units: UnitsPart<'_>, suffix: Suffix) -> Vec<u8> {
    let mut name = Vec::with_capacity(prefix.len() + context.len() + 32);
    write_prometheus_name_head(&mut name, prefix);
    name.push(b'_');
    write_prometheus_name_part(&mut name, context);
    match units {
        UnitsPart::Hidden => {}
        UnitsPart::Current(units) => write_prometheus_units(&mut name, units, false),
        UnitsPart::Old(units) => write_prometheus_units(&mut name, units, true),
    }
    name.extend_from_slice(suffix.as_bytes());
    name
}

/// A metric name and a chart's labels, rendered once per chart:
/// `NAME{chart="C",family="F",dimension="`. Each sample adds its
/// dimension, the extra labels and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesHead {
    bytes: Vec<u8>,
    name_len: usize,
}

impl SeriesHead {
    /// The head of `name`'s samples for a chart shown as `chart` (its name
    /// or id) in `family`. `name` is used as given (build it with
    /// [`metric_name`]); `chart` and `family` are escaped.
    pub fn new(name: &[u8], chart: &str, family: &str) -> SeriesHead {
        let mut bytes = Vec::with_capacity(name.len() + chart.len() + family.len() + 36);
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(b"{chart=\"");
        write_prometheus_label_value(&mut bytes, chart);
        bytes.extend_from_slice(b"\",family=\"");
        write_prometheus_label_value(&mut bytes, family);
        bytes.extend_from_slice(b"\",dimension=\"");
        SeriesHead {
            bytes,
            name_len: name.len(),
        }
    }

    /// The metric name.
    pub fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }

    /// Appends one sample line: the head, `dimension` (escaped), `"`,
    /// `extra_labels` as given (rendered by [`instance_label`], or empty),
    /// `} `, the value, and ` TIMESTAMP` when `timestamp_ms` is given.
    /// Writes nothing for a stored value that is not finite; returns
    /// whether a line was written.
    pub fn write_sample(
        &self,
        buf: &mut Vec<u8>,
        dimension: &str,
        extra_labels: &[u8],
        value: MetricValue,
        timestamp_ms: Option<i64>,
    ) -> bool {
        if !value.is_writable() {
            return false;
        }
        buf.reserve(self.bytes.len() + dimension.len() + extra_labels.len() + 64);
        buf.extend_from_slice(&self.bytes);
        write_prometheus_label_value(buf, dimension);
        buf.push(b'"');
        buf.extend_from_slice(extra_labels);
        buf.extend_from_slice(b"} ");
        value.write(buf);
        if let Some(ts) = timestamp_ms {
            buf.push(b' ');
            write_timestamp(buf, ts);
        }
        buf.push(b'\n');
        true
    }
}

/// The sample lines of all of a chart's dimensions under one
/// [`SeriesHead`], rendered once and kept while the chart and the
/// request's options stay the same: the head once, and per dimension the
/// rest of its labels (`D",EXTRA}`). A scrape then writes each line with a
/// few fixed-size stores: the head, the dimension's part, the value and
/// the chart's timestamp (the same for all its lines), rendered once.
/// The bytes are exactly those of [`SeriesHead::write_sample`].
///
/// ```
/// use wire::format::prometheus::{ChartSamples, SeriesHead};
/// use wire::format::MetricValue;
/// use wire::number::RenderedTimestamp;
///
/// let head = SeriesHead::new(b"netdata_system_load_load_average", "system.load", "load");
/// let mut samples = ChartSamples::new(&head);
/// samples.push("load1", b"");
/// samples.push("load5", b"");
/// let mut buf = Vec::new();
/// let ts = RenderedTimestamp::new(1795688426000);
/// assert_eq!(samples.write_lines(&mut buf, Some(&ts), [(1, MetricValue::Stored(0.5))]), 1);
/// assert_eq!(
///     String::from_utf8_lossy(&buf),
///     "netdata_system_load_load_average{chart=\"system.load\",family=\"load\",dimension=\"load5\"} 0.5000000 1795688426000\n"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartSamples {
    list: MetricList,
}

impl ChartSamples {
    /// No dimension yet, under `head`.
    pub fn new(head: &SeriesHead) -> ChartSamples {
        ChartSamples {
            list: MetricList::new(&head.bytes),
        }
    }

    /// Appends the next dimension (its name or id, escaped here) with the
    /// labels after it (`extra_labels` as given: [`instance_label`] or
    /// empty).
    pub fn push(&mut self, dimension: &str, extra_labels: &[u8]) {
        let mut part = Vec::with_capacity(dimension.len() + extra_labels.len() + 2);
        write_prometheus_label_value(&mut part, dimension);
        part.push(b'"');
        part.extend_from_slice(extra_labels);
        part.push(b'}');
        self.list.push_raw(&part);
    }

    /// How many dimensions the list holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Bytes the rendered pieces hold (for accounting).
    pub fn heap_bytes(&self) -> usize {
        self.list.head.capacity()
            + self.list.parts.capacity()
            + self.list.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Appends the sample line of every `(index, value)` of `lines`: what
    /// [`SeriesHead::write_sample`] writes for dimension `index` (the
    /// dimension and extra labels given to [`Self::push`]) with
    /// `timestamp` (milliseconds) or none. An index out of range or a
    /// value that is not finite writes nothing. Returns the lines written.
    #[inline]
    pub fn write_lines<I>(
        &self,
        buf: &mut Vec<u8>,
        timestamp: Option<&RenderedTimestamp>,
        lines: I,
    ) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        match timestamp {
            Some(timestamp) => self.list.write_lines(buf, lines, |room, metric, value| {
                put_sample(room, metric, value, Some(timestamp))
            }),
            None => self.list.write_lines(buf, lines, |room, metric, value| {
                put_sample(room, metric, value, None)
            }),
        }
    }
}

/// One sample line: `HEAD PART VALUE[ TS]\n` (the part ends in `}`; the
/// value's lead byte is the space).
#[inline(always)]
fn put_sample(
    room: &mut Room<'_>,
    metric: MetricPieces<'_>,
    value: MetricValue,
    timestamp: Option<&RenderedTimestamp>,
) -> bool {
    if !value.is_writable() {
        return false;
    }
    // One reservation for every store of the line: the name pieces (at
    // most their length + 2 PADDING), two number words (16 each) and the
    // timestamp (32).
    room.reserve(metric.len().saturating_add(2 * PADDING + 64));
    // SAFETY: within that reservation.
    unsafe { metric.put_unchecked(room) };
    match value.words(Some(b' ')) {
        Some(number) => {
            // SAFETY: within the reservation above (the number's 32 bytes,
            // then at most 32 for the timestamp or 1 for the line end).
            unsafe {
                number.put_unchecked(room);
                match timestamp {
                    Some(timestamp) => timestamp.put_line_end_unchecked(room),
                    None => room.put_array_unchecked([b'\n'], 1),
                }
            }
        }
        None => {
            value.put(room, Some(b' '));
            match timestamp {
                Some(timestamp) => timestamp.put_spaced(room, true),
                None => room.put_byte(b'\n'),
            }
        }
    }
    true
}

/// `,instance="HOST"`: the label `prometheus_all_hosts` adds to every
/// sample.
pub fn instance_label(hostname: &str) -> Vec<u8> {
    let mut label = b",instance=\"".to_vec();
    write_prometheus_label_value(&mut label, hostname);
    label.push(b'"');
    label
}

/// The labels of a host's `netdata_info` series, in the order netdata
/// sends them: `instance`, `application`, `version`, then the host labels
/// chosen for sending.
///
/// Label names are made valid ([`write_prometheus_name_head`]); a label
/// whose name or value is empty is left out (as netdata does), and so is a
/// label whose name was already given (netdata sent duplicates, which
/// Prometheus rejects). Values are kept as they are: the text format
/// escapes them when writing ([`write_info_line`]), remote write sends them
/// raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoLabels {
    labels: Vec<(String, String)>,
}

impl InfoLabels {
    /// The labels for host `instance`, served by `application` `version`,
    /// with `host_labels` (key, value) in the order to send.
    pub fn new<'a, I>(
        instance: &str,
        application: &str,
        version: &str,
        host_labels: I,
    ) -> InfoLabels
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut labels: Vec<(String, String)> = vec![
            ("instance".to_owned(), instance.to_owned()),
            ("application".to_owned(), application.to_owned()),
            ("version".to_owned(), version.to_owned()),
        ];
        for (key, value) in host_labels {
            let mut name = Vec::with_capacity(key.len() + 1);
            write_prometheus_name_head(&mut name, key);
            let name = String::from_utf8_lossy(&name).into_owned();
            if name.is_empty() || value.is_empty() || labels.iter().any(|(k, _)| *k == name) {
                continue;
            }
            labels.push((name, value.to_owned()));
        }
        InfoLabels { labels }
    }

    /// The labels, `(name, raw value)`, in sending order.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }
}

/// Appends `netdata_info{instance="H",application="A",version="V",k="v",...} 1[ TS]`.
///
/// ```
/// use wire::format::prometheus::{write_info_line, InfoLabels};
///
/// let labels = InfoLabels::new("vm", "netdata", "v1.37.1", [("env", "lab"), ("instance", "dup")]);
/// let mut buf = Vec::new();
/// write_info_line(&mut buf, &labels, Some(1796016190540));
/// assert_eq!(
///     String::from_utf8_lossy(&buf),
///     "netdata_info{instance=\"vm\",application=\"netdata\",version=\"v1.37.1\",env=\"lab\"} 1 1796016190540\n"
/// );
/// ```
pub fn write_info_line(buf: &mut Vec<u8>, labels: &InfoLabels, timestamp_ms: Option<i64>) {
    buf.extend_from_slice(b"netdata_info{");
    for (i, (name, value)) in labels.labels.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"=\"");
        write_prometheus_label_value(buf, value);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"} 1");
    if let Some(ts) = timestamp_ms {
        buf.push(b' ');
        write_timestamp(buf, ts);
    }
    buf.push(b'\n');
}

/// The longest variable name written after the prefix (netdata cut longer
/// ones there).
pub const MAX_VARIABLE_NAME_BYTES: usize = 257;

/// Appends the metric name of custom variable `name`: `PREFIX_NAME`, the
/// prefix made valid as for every name, the name's bytes outside
/// `[A-Za-z0-9]` as `_`, cut at [`MAX_VARIABLE_NAME_BYTES`].
pub fn write_variable_metric_name(buf: &mut Vec<u8>, prefix: &str, name: &str) {
    write_prometheus_name_head(buf, prefix);
    buf.push(b'_');
    let cut = name.len().min(MAX_VARIABLE_NAME_BYTES);
    let cut = (0..=cut)
        .rev()
        .find(|&at| name.is_char_boundary(at))
        .unwrap_or(0);
    write_prometheus_name_part(buf, &name[..cut]);
}

/// [`write_variable_metric_name`] into a new buffer.
pub fn variable_metric_name(prefix: &str, name: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(prefix.len() + name.len() + 2);
    write_variable_metric_name(&mut buf, prefix, name);
    buf
}

/// How [`write_variables`] writes a host's custom variables.
#[derive(Clone, Copy, Debug)]
pub struct VariableLines<'a> {
    /// The metric name prefix (`prefix=`), made valid as for every name.
    pub prefix: &'a str,
    /// `prometheus_all_hosts`: the host, as the one label `instance`.
    pub instance: Option<&'a str>,
    /// The time of the request (ms), unless `timestamps=no`.
    pub timestamp_ms: Option<i64>,
    /// `help=yes`: a header before the first variable, and a comment for
    /// each variable skipped for not being a finite number.
    pub help: bool,
}

/// Appends a host's custom variables (`variables=yes`), netdata's way:
/// `PREFIX_NAME[{instance="HOST"}] VALUE[ TIMESTAMP]` with the value to
/// seven decimals (as every stored value: no negative zero), the name as
/// [`write_variable_metric_name`] writes it, no `# TYPE` line; NaN and
/// infinite values are left out.
///
/// ```
/// use wire::format::prometheus::{write_variables, VariableLines};
///
/// let mut buf = Vec::new();
/// let how = VariableLines { prefix: "netdata", instance: None, timestamp_ms: Some(1796069688000), help: false };
/// write_variables(&mut buf, &how, [("my_host_var", 42.0), ("vartest.one.x", 0.25), ("gone", f64::NAN)]);
/// assert_eq!(
///     String::from_utf8_lossy(&buf),
///     "netdata_my_host_var 42.0000000 1796069688000\nnetdata_vartest_one_x 0.2500000 1796069688000\n"
/// );
/// ```
pub fn write_variables<'v>(
    buf: &mut Vec<u8>,
    how: &VariableLines<'_>,
    variables: impl IntoIterator<Item = (&'v str, f64)>,
) {
    let mut first = true;
    for (name, value) in variables {
        if first && how.help {
            buf.extend_from_slice(b"\n# COMMENT global host and chart variables\n");
        }
        first = false;
        if !value.is_finite() {
            if how.help {
                let what = if value.is_nan() { "NAN" } else { "INF" };
                buf.extend_from_slice(b"# COMMENT variable \"");
                write_comment_text(buf, name);
                buf.extend_from_slice(format!("\" is {what}. Skipped.\n").as_bytes());
            }
            continue;
        }
        write_variable_metric_name(buf, how.prefix, name);
        if let Some(instance) = how.instance {
            buf.extend_from_slice(b"{instance=\"");
            write_prometheus_label_value(buf, instance);
            buf.extend_from_slice(b"\"}");
        }
        buf.push(b' ');
        write_stored_value(buf, value);
        if let Some(ts) = how.timestamp_ms {
            buf.push(b' ');
            write_timestamp(buf, ts);
        }
        buf.push(b'\n');
    }
}

/// Appends `# TYPE NAME TYPE`.
pub fn write_type_line(buf: &mut Vec<u8>, name: &[u8], metric_type: &str) {
    buf.extend_from_slice(b"# TYPE ");
    buf.extend_from_slice(name);
    buf.push(b' ');
    buf.extend_from_slice(metric_type.as_bytes());
    buf.push(b'\n');
}

/// What the scrape header of `help=yes` says.
#[derive(Clone, Copy, Debug)]
pub struct ScrapeComment<'a> {
    /// The host's name.
    pub hostname: &'a str,
    /// The scraper's name (`server`).
    pub server: &'a str,
    /// `average`, `sum` or `as collected`.
    pub source: &'a str,
    /// The scraper's previous scrape of this host (seconds), `None` for
    /// its first.
    pub last_seen: Option<i64>,
    /// Start of the time range served (seconds).
    pub after: i64,
    /// End of the time range served (seconds).
    pub now: i64,
}

/// Appends the header of `help=yes`, and a blank line:
/// `# COMMENT netdata "H" to [FIRST SEEN ]prometheus "S", source "X", last seen N never|seconds ago, time range A to B`.
pub fn write_scrape_comment(buf: &mut Vec<u8>, c: &ScrapeComment<'_>) {
    buf.extend_from_slice(b"# COMMENT netdata \"");
    write_comment_text(buf, c.hostname);
    buf.extend_from_slice(b"\" to ");
    if c.last_seen.is_none() {
        buf.extend_from_slice(b"FIRST SEEN ");
    }
    buf.extend_from_slice(b"prometheus \"");
    write_comment_text(buf, c.server);
    buf.extend_from_slice(b"\", source \"");
    write_comment_text(buf, c.source);
    buf.extend_from_slice(b"\", last seen ");
    match c.last_seen {
        Some(_) => {
            write_timestamp(buf, c.now - c.after);
            buf.extend_from_slice(b" seconds ago");
        }
        None => buf.extend_from_slice(b"0 never"),
    }
    buf.extend_from_slice(b", time range ");
    write_timestamp(buf, c.after);
    buf.extend_from_slice(b" to ");
    write_timestamp(buf, c.now);
    buf.extend_from_slice(b"\n\n");
}

/// A chart as the `help=yes` comments describe it.
#[derive(Clone, Copy, Debug)]
pub struct ChartComment<'a> {
    /// The chart's name or id (as the `chart` label shows it).
    pub chart: &'a str,
    pub context: &'a str,
    pub family: &'a str,
    pub units: &'a str,
}

/// Appends the chart comment of `help=yes`, after a blank line:
/// `# COMMENT homogeneous chart "C", context "X", family "F", units "U"`.
pub fn write_chart_comment(buf: &mut Vec<u8>, c: &ChartComment<'_>) {
    buf.extend_from_slice(b"\n# COMMENT homogeneous chart \"");
    write_comment_text(buf, c.chart);
    buf.extend_from_slice(b"\", context \"");
    write_comment_text(buf, c.context);
    buf.extend_from_slice(b"\", family \"");
    write_comment_text(buf, c.family);
    buf.extend_from_slice(b"\", units \"");
    write_comment_text(buf, c.units);
    buf.extend_from_slice(b"\"\n");
}

/// Appends the comment of a stored (`average`, `sum`) sample:
/// `# COMMENT NAME: dimension "D", value is U, gauge, dt FIRST to LAST inclusive`.
pub fn write_stored_sample_comment(
    buf: &mut Vec<u8>,
    name: &[u8],
    dimension: &str,
    units: &str,
    first: i64,
    last: i64,
) {
    buf.extend_from_slice(b"# COMMENT ");
    buf.extend_from_slice(name);
    buf.extend_from_slice(b": dimension \"");
    write_comment_text(buf, dimension);
    buf.extend_from_slice(b"\", value is ");
    write_comment_text(buf, units);
    buf.extend_from_slice(b", gauge, dt ");
    write_timestamp(buf, first);
    buf.extend_from_slice(b" to ");
    write_timestamp(buf, last);
    buf.extend_from_slice(b" inclusive\n");
}

/// How an `as collected` value relates to the chart's units.
#[derive(Clone, Copy, Debug)]
pub struct CollectedComment<'a> {
    pub chart: ChartComment<'a>,
    pub dimension: &'a str,
    /// The dimension's multiplier and divisor (`1 / 1` when the value is
    /// served already scaled).
    pub multiplier: i64,
    pub divisor: i64,
    /// The value is a counter (incremental dimensions).
    pub counter: bool,
}

/// Appends the comment of an `as collected` sample:
/// `# COMMENT NAME: chart "C", context "X", family "F", dimension "D", value * M / D [delta ]gives U (gauge|counter)`.
pub fn write_collected_sample_comment(buf: &mut Vec<u8>, name: &[u8], c: &CollectedComment<'_>) {
    buf.extend_from_slice(b"# COMMENT ");
    buf.extend_from_slice(name);
    buf.extend_from_slice(b": chart \"");
    write_comment_text(buf, c.chart.chart);
    buf.extend_from_slice(b"\", context \"");
    write_comment_text(buf, c.chart.context);
    buf.extend_from_slice(b"\", family \"");
    write_comment_text(buf, c.chart.family);
    buf.extend_from_slice(b"\", dimension \"");
    write_comment_text(buf, c.dimension);
    buf.extend_from_slice(b"\", value * ");
    write_timestamp(buf, c.multiplier);
    buf.extend_from_slice(b" / ");
    write_timestamp(buf, c.divisor);
    buf.extend_from_slice(if c.counter {
        b" delta gives "
    } else {
        b" gives "
    });
    write_comment_text(buf, c.chart.units);
    buf.extend_from_slice(if c.counter {
        b" (counter)\n"
    } else {
        b" (gauge)\n"
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8]) -> &str {
        std::str::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn samples_escape_labels_and_skip_non_finite_values() {
        let name = metric_name("9x y", "a.b", UnitsPart::Current("%"), Suffix::Average);
        assert_eq!(text(&name), "_9x_y_a_b_percent_average");
        let head = SeriesHead::new(&name, "c\"1\\\n", "f");
        let mut buf = Vec::new();
        assert!(head.write_sample(
            &mut buf,
            "d\n",
            &instance_label("h\""),
            MetricValue::Collected(-3),
            None
        ));
        assert!(!head.write_sample(&mut buf, "x", b"", MetricValue::Stored(f64::NAN), None));
        assert_eq!(
            text(&buf),
            "_9x_y_a_b_percent_average{chart=\"c\\\"1\\\\\\n\",family=\"f\",dimension=\"d\\n\",instance=\"h\\\"\"} -3\n"
        );
        assert_eq!(head.name(), name.as_slice());
    }

    /// Lines netdata 1.37.1 served for `variables=yes` (with `help=yes`,
    /// and with `prometheus_all_hosts&timestamps=no`), captured from a
    /// plugin that set these variables.
    #[test]
    fn variables_as_netdata_writes_them() {
        let huge = "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160";
        let long = format!("bad_long_{}", "x".repeat(300));
        let variables = [
            ("my_host_var", 42.0),
            ("host_var.dash", 5.0),
            ("host_nan", f64::NAN),
            ("host_inf", f64::INFINITY),
            ("host_neginf", -0.0),
            ("host_big", 123456789012345.0),
            ("host_small", 0.000001234),
            ("na__ve_var", 2.0),
            ("9starts_digit", 4.0),
            ("host_thirds", 0.333333333333),
            ("vartest.one.my_chart_var", 7.25),
            ("vartest.one.chart_nan", f64::NAN),
            ("bad_huge", 1e300),
            (long.as_str(), 1.0),
        ];
        let mut buf = Vec::new();
        let how = VariableLines {
            prefix: "netdata",
            instance: None,
            timestamp_ms: Some(1796069688000),
            help: true,
        };
        write_variables(&mut buf, &how, variables);
        let expected = format!(
            "\n# COMMENT global host and chart variables\n\
             netdata_my_host_var 42.0000000 1796069688000\n\
             netdata_host_var_dash 5.0000000 1796069688000\n\
             # COMMENT variable \"host_nan\" is NAN. Skipped.\n\
             # COMMENT variable \"host_inf\" is INF. Skipped.\n\
             netdata_host_neginf 0.0000000 1796069688000\n\
             netdata_host_big 123456789012345.0000000 1796069688000\n\
             netdata_host_small 0.0000012 1796069688000\n\
             netdata_na__ve_var 2.0000000 1796069688000\n\
             netdata_9starts_digit 4.0000000 1796069688000\n\
             netdata_host_thirds 0.3333333 1796069688000\n\
             netdata_vartest_one_my_chart_var 7.2500000 1796069688000\n\
             # COMMENT variable \"vartest.one.chart_nan\" is NAN. Skipped.\n\
             netdata_bad_huge {huge}.0000000 1796069688000\n\
             netdata_bad_long_{} 1.0000000 1796069688000\n",
            "x".repeat(257 - "bad_long_".len())
        );
        assert_eq!(text(&buf), expected);

        let mut buf = Vec::new();
        let how = VariableLines {
            prefix: "netdata",
            instance: Some("vartesthost"),
            timestamp_ms: None,
            help: false,
        };
        write_variables(
            &mut buf,
            &how,
            [("my_host_var", 42.0), ("host_nan", f64::NAN)],
        );
        assert_eq!(
            text(&buf),
            "netdata_my_host_var{instance=\"vartesthost\"} 42.0000000\n"
        );
        // No variable: not even the header.
        let mut buf = Vec::new();
        write_variables(&mut buf, &VariableLines { help: true, ..how }, []);
        assert!(buf.is_empty());
    }

    use proptest::prelude::*;

    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,30}",
            "[ \\t\\r\\n;=~\"\\\\a-zé{}]{0,30}",
            "[a-z \"\\n]{200}",
        ]
    }

    fn any_value() -> impl Strategy<Value = MetricValue> {
        prop_oneof![
            any::<f64>().prop_map(MetricValue::Stored),
            (-1e9f64..1e9).prop_map(MetricValue::Stored),
            (-100_000_000i64..100_000_000).prop_map(|v| MetricValue::Stored(v as f64 / 10.0)),
            any::<i64>().prop_map(MetricValue::Collected),
        ]
    }

    proptest! {
        /// A chart's rendered samples write exactly what one
        /// `SeriesHead::write_sample` per line writes.
        #[test]
        fn chart_samples_write_what_series_heads_write(
            name in "[a-z_]{1,80}",
            chart in hostile_text(),
            family in hostile_text(),
            dims in prop::collection::vec(hostile_text(), 1..6),
            instance in prop::option::of(hostile_text()),
            values in prop::collection::vec((0usize..8, any_value()), 0..12),
            timestamp in prop::option::of(any::<i64>()),
        ) {
            let head = SeriesHead::new(name.as_bytes(), &chart, &family);
            let extra = instance.as_deref().map(instance_label).unwrap_or_default();
            let mut samples = ChartSamples::new(&head);
            for d in &dims {
                samples.push(d, &extra);
            }
            prop_assert_eq!(samples.len(), dims.len());
            let mut expected = Vec::new();
            let mut lines = 0;
            for &(i, value) in &values {
                if let Some(d) = dims.get(i) {
                    lines += usize::from(head.write_sample(&mut expected, d, &extra, value, timestamp));
                }
            }
            let rendered = timestamp.map(RenderedTimestamp::new);
            let mut buf = b"before\n".to_vec();
            let written = samples.write_lines(&mut buf, rendered.as_ref(), values.iter().copied());
            prop_assert_eq!(written, lines);
            prop_assert_eq!(&buf[..7], b"before\n");
            prop_assert_eq!(String::from_utf8_lossy(&buf[7..]), String::from_utf8_lossy(&expected));
        }

        /// With exactly the room a line reserves, no store goes past it
        /// (the unchecked stores' debug assertions check every one).
        #[test]
        fn a_sample_fits_its_own_reservation(
            chart in "[a-z.]{0,140}",
            dim in "[a-z]{0,140}",
            value in any_value(),
            timestamp in prop::option::of(any::<i64>()),
        ) {
            let head = SeriesHead::new(b"n", &chart, "f");
            let mut samples = ChartSamples::new(&head);
            samples.push(&dim, b"");
            let pieces = samples.list.pieces(0).unwrap();
            let exact = pieces.len() + 2 * PADDING + 64;
            let mut buf = Vec::with_capacity(exact);
            prop_assume!(buf.capacity() == exact);
            let rendered = timestamp.map(RenderedTimestamp::new);
            let written = samples.write_lines(&mut buf, rendered.as_ref(), [(0, value)]);
            prop_assert_eq!(written == 1, value.is_writable());
        }
    }

    #[test]
    fn info_labels_are_valid_names_without_duplicates() {
        let labels = InfoLabels::new(
            "vm",
            "backhaul",
            "v1",
            [
                ("env", "lab"),
                ("2nd", "x"),
                ("version", "spoof"),
                ("empty", ""),
                ("", "novalue"),
                ("a.b", "1"),
                ("a_b", "2"),
            ],
        );
        let names: Vec<&str> = labels.labels().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["instance", "application", "version", "env", "_2nd", "a_b"]
        );
        assert_eq!(labels.labels()[5].1, "1");
    }

    #[test]
    fn comments_keep_one_line_each() {
        let mut buf = Vec::new();
        write_scrape_comment(
            &mut buf,
            &ScrapeComment {
                hostname: "vm",
                server: "evil\nline",
                source: "average",
                last_seen: Some(1000),
                after: 1000,
                now: 1010,
            },
        );
        assert_eq!(
            text(&buf),
            "# COMMENT netdata \"vm\" to prometheus \"evil line\", source \"average\", last seen 10 seconds ago, time range 1000 to 1010\n\n"
        );
        buf.clear();
        write_collected_sample_comment(
            &mut buf,
            b"netdata_lab_slow_total",
            &CollectedComment {
                chart: ChartComment {
                    chart: "lab.slow",
                    context: "lab.slow",
                    family: "lab",
                    units: "u",
                },
                dimension: "counter",
                multiplier: 1,
                divisor: -2,
                counter: true,
            },
        );
        assert_eq!(
            text(&buf),
            "# COMMENT netdata_lab_slow_total: chart \"lab.slow\", context \"lab.slow\", family \"lab\", dimension \"counter\", value * 1 / -2 delta gives u (counter)\n"
        );
    }
}
