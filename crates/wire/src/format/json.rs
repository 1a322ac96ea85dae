//! JSON lines, one object per metric, with netdata's key order and spacing:
//!
//! ```text
//! {"prefix":"P","hostname":"H","labels":{"k":"v"},"chart_id":"C","chart_name":"C",
//!  "chart_family":"F","chart_context": "X","chart_type":"T","units": "U",
//!  "id":"D","name":"D","value":V,"timestamp": TS}\n
//! ```
//!
//! (one line on the wire). For stored values (`average`, `sum`) netdata put a
//! space after the colon of `chart_context`, `units` and `timestamp`; for
//! `as collected` values it did not. Both spacings are kept.
//!
//! Strings are copied as netdata has them (chart and dimension names are
//! not sanitized here) but JSON-escaped ([`crate::sanitize::write_json_escaped`]),
//! which netdata did not do. The `labels` object is present only when labels
//! are sent.
//!
//! ```
//! use wire::format::{json, MetricValue};
//!
//! let host = json::HostFields::with_labels("netdata", "vm", [("env", "lab")]);
//! let chart = json::ChartFields::new(&json::ChartInfo {
//!     id: "system.idlejitter",
//!     name: "system.idlejitter",
//!     family: "idlejitter",
//!     context: "system.idlejitter",
//!     chart_type: "system",
//!     units: "microseconds lost/s",
//! });
//! let dim = json::DimensionFields::new("min", "min");
//! let mut buf = Vec::new();
//! json::write_line(&mut buf, &host, &chart, &dim, MetricValue::Stored(67.0), 1795688386);
//! assert_eq!(
//!     String::from_utf8_lossy(&buf),
//!     concat!(
//!         r#"{"prefix":"netdata","hostname":"vm","labels":{"env":"lab"},"#,
//!         r#""chart_id":"system.idlejitter","chart_name":"system.idlejitter","chart_family":"idlejitter","#,
//!         r#""chart_context": "system.idlejitter","chart_type":"system","units": "microseconds lost/s","#,
//!         r#""id":"min","name":"min","value":67.0000000,"timestamp": 1795688386}"#,
//!         "\n"
//!     )
//! );
//! ```

use super::{labels_to_render, write_timestamp, MetricList, MetricPieces, MetricValue};
use crate::number::RenderedTimestamp;
use crate::room::{Room, PADDING};
use crate::sanitize::write_json_escaped;

/// Appends `"text"`, escaped.
fn write_json_string(buf: &mut Vec<u8>, text: &str) {
    buf.push(b'"');
    write_json_escaped(buf, text);
    buf.push(b'"');
}

/// The start of every line of a host: `{"prefix":"P","hostname":"H",` and,
/// when labels are sent, `"labels":{...},`. Build it once per host and batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFields {
    bytes: Box<[u8]>,
}

impl HostFields {
    /// Without a `labels` object (label sending off).
    ///
    /// ```
    /// let host = wire::format::json::HostFields::new("netdata", "lab host.name");
    /// assert_eq!(host.as_bytes(), br#"{"prefix":"netdata","hostname":"lab host.name","#);
    /// ```
    pub fn new(prefix: &str, hostname: &str) -> HostFields {
        HostFields {
            bytes: Self::head(prefix, hostname).into_boxed_slice(),
        }
    }

    /// With a `labels` object holding the labels in the given order (`{}` when
    /// there are none).
    ///
    /// ```
    /// let host = wire::format::json::HostFields::with_labels("netdata", "vm", [("team_name", "rust port:semi_tilde")]);
    /// assert_eq!(
    ///     host.as_bytes(),
    ///     br#"{"prefix":"netdata","hostname":"vm","labels":{"team_name":"rust port:semi_tilde"},"#
    /// );
    /// ```
    pub fn with_labels<I, K, V>(prefix: &str, hostname: &str, labels: I) -> HostFields
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut bytes = Self::head(prefix, hostname);
        bytes.extend_from_slice(b"\"labels\":{");
        for (index, (key, value)) in labels_to_render(labels).enumerate() {
            if index > 0 {
                bytes.push(b',');
            }
            write_json_string(&mut bytes, key.as_ref());
            bytes.push(b':');
            write_json_string(&mut bytes, value.as_ref());
        }
        bytes.extend_from_slice(b"},");
        HostFields {
            bytes: bytes.into_boxed_slice(),
        }
    }

    fn head(prefix: &str, hostname: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(prefix.len() + hostname.len() + 32);
        bytes.extend_from_slice(b"{\"prefix\":");
        write_json_string(&mut bytes, prefix);
        bytes.extend_from_slice(b",\"hostname\":");
        write_json_string(&mut bytes, hostname);
        bytes.push(b',');
        bytes
    }

    /// The rendered fields.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What a JSON line says about a chart, as netdata has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartInfo<'a> {
    /// `chart_id`: the full id, `type.id`.
    pub id: &'a str,
    /// `chart_name`: the full name, `type.name` (the id when it has no name).
    pub name: &'a str,
    /// `chart_family`.
    pub family: &'a str,
    /// `chart_context`.
    pub context: &'a str,
    /// `chart_type`: the chart's type, the part of the id before the dot
    /// (not line/area/stacked).
    pub chart_type: &'a str,
    /// `units`.
    pub units: &'a str,
}

/// A chart's fields, `"chart_id":...,"units":"U",`, in both of netdata's
/// spacings. Build them once per chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFields {
    /// `"chart_id":"C",...,"chart_context":` `"X","chart_type":"T","units":`
    /// `"U",` with the two positions where stored values get a space.
    bytes: Box<[u8]>,
    context_value_at: usize,
    units_value_at: usize,
}

impl ChartFields {
    /// Renders and escapes the chart's fields.
    pub fn new(chart: &ChartInfo<'_>) -> ChartFields {
        let mut bytes = Vec::with_capacity(
            chart.id.len()
                + chart.name.len()
                + chart.family.len()
                + chart.context.len()
                + chart.chart_type.len()
                + chart.units.len()
                + 96,
        );
        bytes.extend_from_slice(b"\"chart_id\":");
        write_json_string(&mut bytes, chart.id);
        bytes.extend_from_slice(b",\"chart_name\":");
        write_json_string(&mut bytes, chart.name);
        bytes.extend_from_slice(b",\"chart_family\":");
        write_json_string(&mut bytes, chart.family);
        bytes.extend_from_slice(b",\"chart_context\":");
        let context_value_at = bytes.len();
        write_json_string(&mut bytes, chart.context);
        bytes.extend_from_slice(b",\"chart_type\":");
        write_json_string(&mut bytes, chart.chart_type);
        bytes.extend_from_slice(b",\"units\":");
        let units_value_at = bytes.len();
        write_json_string(&mut bytes, chart.units);
        bytes.push(b',');
        ChartFields {
            bytes: bytes.into_boxed_slice(),
            context_value_at,
            units_value_at,
        }
    }

    /// Appends the fields, with netdata's extra spaces when `stored`.
    #[inline]
    fn write(&self, buf: &mut Vec<u8>, stored: bool) {
        if stored {
            let (before_context, rest) = self.bytes.split_at(self.context_value_at);
            let (before_units, units) = rest.split_at(self.units_value_at - self.context_value_at);
            buf.extend_from_slice(before_context);
            buf.push(b' ');
            buf.extend_from_slice(before_units);
            buf.push(b' ');
            buf.extend_from_slice(units);
        } else {
            buf.extend_from_slice(&self.bytes);
        }
    }
}

/// A dimension's fields, `"id":"D","name":"N",`. Build them once per
/// dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimensionFields {
    bytes: Box<[u8]>,
}

impl DimensionFields {
    /// Renders and escapes the dimension's id and name.
    ///
    /// ```
    /// let dim = wire::format::json::DimensionFields::new("UPPER-case", "Dim-Upper;semi~tilde");
    /// assert_eq!(dim.as_bytes(), br#""id":"UPPER-case","name":"Dim-Upper;semi~tilde","#);
    /// ```
    pub fn new(id: &str, name: &str) -> DimensionFields {
        let mut bytes = Vec::with_capacity(id.len() + name.len() + 16);
        bytes.extend_from_slice(b"\"id\":");
        write_json_string(&mut bytes, id);
        bytes.extend_from_slice(b",\"name\":");
        write_json_string(&mut bytes, name);
        bytes.push(b',');
        DimensionFields {
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The rendered fields.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Appends one JSON object and a `\n`, and returns `true`; or appends nothing
/// and returns `false` when the value is a non-finite stored value (netdata
/// skips a window with no value).
///
/// ```
/// use wire::format::{json, MetricValue};
///
/// let host = json::HostFields::new("netdata", "vm");
/// let chart = json::ChartFields::new(&json::ChartInfo {
///     id: "lab.slow", name: "lab.slow", family: "lab", context: "lab.slow", chart_type: "lab", units: "u",
/// });
/// let dim = json::DimensionFields::new("counter", "counter");
/// let mut buf = Vec::new();
/// json::write_line(&mut buf, &host, &chart, &dim, MetricValue::Collected(250), 1795688390);
/// assert_eq!(
///     String::from_utf8_lossy(&buf),
///     concat!(
///         r#"{"prefix":"netdata","hostname":"vm","chart_id":"lab.slow","chart_name":"lab.slow","#,
///         r#""chart_family":"lab","chart_context":"lab.slow","chart_type":"lab","units":"u","#,
///         r#""id":"counter","name":"counter","value":250,"timestamp":1795688390}"#,
///         "\n"
///     )
/// );
/// ```
#[inline]
pub fn write_line(
    buf: &mut Vec<u8>,
    host: &HostFields,
    chart: &ChartFields,
    dimension: &DimensionFields,
    value: MetricValue,
    timestamp: i64,
) -> bool {
    write_object(buf, host, chart, dimension, value, timestamp, b"}\n")
}

/// Like [`write_line`], but the object ends in `,\n`: a run of them is the
/// body of a JSON array once the last two bytes are cut (netdata's
/// `json:http` bodies are `[\n` + objects joined by `,\n` + `\n]\n`).
///
/// ```
/// use wire::format::{json, MetricValue};
///
/// let host = json::HostFields::new("netdata", "vm");
/// let chart = json::ChartFields::new(&json::ChartInfo {
///     id: "c", name: "c", family: "f", context: "x", chart_type: "t", units: "u",
/// });
/// let dim = json::DimensionFields::new("d", "d");
/// let mut buf = Vec::new();
/// json::write_array_item(&mut buf, &host, &chart, &dim, MetricValue::Collected(1), 5);
/// assert!(buf.ends_with(b"\"timestamp\":5},\n"));
/// ```
#[inline]
pub fn write_array_item(
    buf: &mut Vec<u8>,
    host: &HostFields,
    chart: &ChartFields,
    dimension: &DimensionFields,
    value: MetricValue,
    timestamp: i64,
) -> bool {
    write_object(buf, host, chart, dimension, value, timestamp, b"},\n")
}

#[inline(always)]
fn write_object(
    buf: &mut Vec<u8>,
    host: &HostFields,
    chart: &ChartFields,
    dimension: &DimensionFields,
    value: MetricValue,
    timestamp: i64,
    end: &[u8],
) -> bool {
    if !value.is_writable() {
        return false;
    }
    let stored = value.is_stored();
    buf.reserve(host.bytes.len() + chart.bytes.len() + dimension.bytes.len() + 80);
    buf.extend_from_slice(&host.bytes);
    chart.write(buf, stored);
    buf.extend_from_slice(&dimension.bytes);
    buf.extend_from_slice(b"\"value\":");
    value.write(buf);
    buf.extend_from_slice(if stored {
        b",\"timestamp\": ".as_slice()
    } else {
        b",\"timestamp\":".as_slice()
    });
    write_timestamp(buf, timestamp);
    buf.extend_from_slice(end);
    true
}

/// The objects of all of a chart's dimensions for one host, as
/// [`write_line`] (or [`write_array_item`]) writes them one by one: the
/// host's and chart's fields once, as one head, and each dimension's
/// fields with `"value":` in one buffer. A line is two padded copies, the
/// number and the object's end: no per-line escaping or field lookups.
///
/// ```
/// use wire::format::{json, MetricValue};
///
/// let host = json::HostFields::new("netdata", "vm");
/// let chart = json::ChartFields::new(&json::ChartInfo {
///     id: "c", name: "c", family: "f", context: "x", chart_type: "t", units: "u",
/// });
/// let dim = json::DimensionFields::new("d", "d");
/// let mut objects = json::ChartObjects::new(&host, &chart, true, false);
/// objects.push(&dim);
/// let mut buf = Vec::new();
/// let ts = wire::number::RenderedTimestamp::new(7);
/// assert_eq!(objects.write_lines(&mut buf, &ts, [(0, MetricValue::Stored(1.5))]), 1);
/// let mut one = Vec::new();
/// json::write_line(&mut one, &host, &chart, &dim, MetricValue::Stored(1.5), 7);
/// assert_eq!(buf, one);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartObjects {
    list: MetricList,
    /// Stored values' spacing (`"timestamp": TS`).
    stored: bool,
    /// Objects end in `},\n` (array items) instead of `}\n`.
    array_item: bool,
}

impl ChartObjects {
    /// The head of `host`'s objects for `chart`, in the spacing netdata
    /// uses for stored values (`stored`, the `average` and `sum` data
    /// sources) or for collected ones; `array_item` ends objects in `,\n`.
    pub fn new(host: &HostFields, chart: &ChartFields, stored: bool, array_item: bool) -> Self {
        let mut head = Vec::with_capacity(host.bytes.len() + chart.bytes.len() + 2);
        head.extend_from_slice(&host.bytes);
        chart.write(&mut head, stored);
        ChartObjects {
            list: MetricList::new(&head),
            stored,
            array_item,
        }
    }

    /// Appends the next dimension's fields.
    pub fn push(&mut self, dimension: &DimensionFields) {
        let mut part = Vec::with_capacity(dimension.bytes.len() + 8);
        part.extend_from_slice(&dimension.bytes);
        part.extend_from_slice(b"\"value\":");
        self.list.push_raw(&part);
    }

    /// How many dimensions it holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Writes the object of every `(dimension, value)` of `lines` with
    /// `timestamp`; returns how many were written (a non-finite stored
    /// value or an index out of range writes nothing).
    #[inline]
    pub fn write_lines<I>(
        &self,
        buf: &mut Vec<u8>,
        timestamp: &RenderedTimestamp,
        lines: I,
    ) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        let tail = ObjectTail::new(timestamp, self.stored, self.array_item);
        self.list.write_lines(buf, lines, |room, pieces, value| {
            put_object(room, pieces, value, &tail)
        })
    }
}

/// The end of an object: `,"timestamp": TS}\n` (or `},\n`), padded for
/// one fixed-size store.
struct ObjectTail {
    bytes: [u8; 64],
    len: usize,
}

impl ObjectTail {
    fn new(timestamp: &RenderedTimestamp, stored: bool, array_item: bool) -> ObjectTail {
        let mut text = Vec::with_capacity(48);
        text.extend_from_slice(if stored {
            b",\"timestamp\": ".as_slice()
        } else {
            b",\"timestamp\":".as_slice()
        });
        text.extend_from_slice(timestamp.as_bytes());
        text.extend_from_slice(if array_item {
            b"},\n".as_slice()
        } else {
            b"}\n"
        });
        let mut bytes = [0u8; 64];
        let len = text.len().min(64);
        bytes[..len].copy_from_slice(&text[..len]);
        ObjectTail { bytes, len }
    }
}

/// The one place a cached object is laid out: head, dimension part (with
/// `"value":`), the number, the tail.
#[inline(always)]
fn put_object(
    room: &mut Room<'_>,
    pieces: MetricPieces<'_>,
    value: MetricValue,
    tail: &ObjectTail,
) -> bool {
    if !value.is_writable() {
        return false;
    }
    // One reservation for every store: the pieces (at most their length +
    // 2 PADDING), two number words (16 each), the tail (64).
    room.reserve(pieces.len().saturating_add(2 * PADDING + 32 + 64));
    // SAFETY: within that reservation.
    unsafe {
        pieces.put_unchecked(room);
    }
    match value.words(None) {
        // SAFETY: within the reservation above.
        Some(number) => unsafe {
            number.put_unchecked(room);
            room.put_array_unchecked(tail.bytes, tail.len);
        },
        None => {
            value.put(room, None);
            room.put_array(tail.bytes, tail.len);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    /// A parsed JSON value that keeps object members in order, duplicates
    /// included (serde_json's own map sorts and merges them).
    #[derive(Debug, PartialEq)]
    enum Node {
        Object(Vec<(String, Node)>),
        String(String),
        Number(f64),
    }

    impl Node {
        fn as_str(&self) -> Option<&str> {
            match self {
                Node::String(text) => Some(text),
                _ => None,
            }
        }
    }

    impl<'de> Deserialize<'de> for Node {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct NodeVisitor;
            impl<'de> Visitor<'de> for NodeVisitor {
                type Value = Node;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object, a string or a number")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                    let mut members = Vec::new();
                    while let Some(member) = map.next_entry()? {
                        members.push(member);
                    }
                    Ok(Node::Object(members))
                }
                fn visit_str<E>(self, text: &str) -> Result<Node, E> {
                    Ok(Node::String(text.to_owned()))
                }
                fn visit_i64<E>(self, number: i64) -> Result<Node, E> {
                    Ok(Node::Number(number as f64))
                }
                fn visit_u64<E>(self, number: u64) -> Result<Node, E> {
                    Ok(Node::Number(number as f64))
                }
                fn visit_f64<E>(self, number: f64) -> Result<Node, E> {
                    Ok(Node::Number(number))
                }
            }
            deserializer.deserialize_any(NodeVisitor)
        }
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,30}",
            "[ \\t\\r\\n;=~\"\\\\{}:,a-zé\\x00-\\x1f]{0,30}",
            "[a-z \"\\n]{300}",
        ]
    }

    const KEYS: [&str; 13] = [
        "prefix",
        "hostname",
        "labels",
        "chart_id",
        "chart_name",
        "chart_family",
        "chart_context",
        "chart_type",
        "units",
        "id",
        "name",
        "value",
        "timestamp",
    ];

    proptest! {
        /// The cached objects are byte for byte what `write_line` and
        /// `write_array_item` write, for any text, value and capacity.
        #[test]
        fn chart_objects_write_what_write_line_writes(
            texts in prop::collection::vec(hostile_text(), 8),
            dims in prop::collection::vec((hostile_text(), hostile_text()), 1..6),
            labels in prop::collection::vec((hostile_text(), hostile_text()), 0..3),
            values in prop::collection::vec((any::<i64>(), -1e15f64..1e15), 1..6),
            stored in any::<bool>(),
            array_item in any::<bool>(),
            timestamp in any::<i64>(),
            capacity in 0usize..600,
        ) {
            let host = HostFields::with_labels(&texts[0], &texts[1], labels.iter().map(|(k, v)| (k, v)));
            let chart = ChartFields::new(&ChartInfo {
                id: &texts[2], name: &texts[3], family: &texts[4],
                context: &texts[5], chart_type: &texts[6], units: &texts[7],
            });
            let fields: Vec<DimensionFields> = dims.iter().map(|(i, n)| DimensionFields::new(i, n)).collect();
            let mut objects = ChartObjects::new(&host, &chart, stored, array_item);
            fields.iter().for_each(|d| objects.push(d));
            let lines: Vec<(usize, MetricValue)> = values
                .iter()
                .enumerate()
                .map(|(k, &(i, f))| (k % fields.len(), if stored { MetricValue::Stored(f) } else { MetricValue::Collected(i) }))
                .collect();
            let mut cached = Vec::with_capacity(capacity);
            let written = objects.write_lines(&mut cached, &RenderedTimestamp::new(timestamp), lines.iter().copied());
            let mut one_by_one = Vec::new();
            for &(d, v) in &lines {
                if array_item {
                    write_array_item(&mut one_by_one, &host, &chart, &fields[d], v, timestamp);
                } else {
                    write_line(&mut one_by_one, &host, &chart, &fields[d], v, timestamp);
                }
            }
            prop_assert_eq!(written, lines.len());
            prop_assert_eq!(String::from_utf8_lossy(&cached), String::from_utf8_lossy(&one_by_one));
        }

        #[test]
        fn one_valid_object_with_exactly_the_expected_keys(
            texts in prop::collection::vec(hostile_text(), 10),
            labels in prop::collection::vec((hostile_text(), hostile_text()), 0..4),
            value in any::<i64>(),
            stored in any::<bool>(),
            timestamp in any::<i64>(),
        ) {
            let host = HostFields::with_labels(&texts[0], &texts[1], labels.iter().map(|(k, v)| (k, v)));
            let chart = ChartFields::new(&ChartInfo {
                id: &texts[2],
                name: &texts[3],
                family: &texts[4],
                context: &texts[5],
                chart_type: &texts[6],
                units: &texts[7],
            });
            let dim = DimensionFields::new(&texts[8], &texts[9]);
            let metric_value = if stored { MetricValue::Stored(value as f64 / 1000.0) } else { MetricValue::Collected(value) };
            let mut buf = Vec::new();
            prop_assert!(write_line(&mut buf, &host, &chart, &dim, metric_value, timestamp));

            prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(buf.last(), Some(&b'\n'));
            let parsed: Node = serde_json::from_slice(&buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let Node::Object(members) = parsed else {
                return Err(TestCaseError::fail("not an object"));
            };
            let keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
            prop_assert_eq!(keys, KEYS.to_vec());

            let texts_in_order = members.iter().filter(|(key, _)| !matches!(key.as_str(), "labels" | "value" | "timestamp"));
            for ((_, parsed), text) in texts_in_order.zip(&texts) {
                prop_assert_eq!(parsed.as_str(), Some(text.as_str()));
            }

            let expected: Vec<(String, Node)> = labels
                .iter()
                .filter(|(key, _)| !key.is_empty())
                .map(|(key, value)| (key.clone(), Node::String(if value.is_empty() { "[none]".to_owned() } else { value.clone() })))
                .collect();
            prop_assert_eq!(&members[2].1, &Node::Object(expected));
            let printed_timestamp = std::str::from_utf8(&buf).ok().and_then(|line| line.rsplit(':').next()).map(|tail| tail.trim_start().trim_end_matches("}\n").to_owned());
            prop_assert_eq!(printed_timestamp, Some(timestamp.to_string()));
        }
    }

    #[test]
    fn chart_objects_count_their_dimensions() {
        let host = HostFields::new("p", "h");
        let chart = ChartFields::new(&ChartInfo {
            id: "a.b",
            name: "a.c",
            family: "f",
            context: "x",
            chart_type: "a",
            units: "u",
        });
        let mut objects = ChartObjects::new(&host, &chart, true, false);
        assert!(objects.is_empty());
        assert_eq!(objects.len(), 0);
        let ts = RenderedTimestamp::new(5);
        let mut buf = Vec::new();
        assert_eq!(
            objects.write_lines(&mut buf, &ts, [(0, MetricValue::Stored(1.0))]),
            0
        );
        assert!(buf.is_empty());
        objects.push(&DimensionFields::new("i", "n"));
        objects.push(&DimensionFields::new("j", "m"));
        assert!(!objects.is_empty());
        assert_eq!(objects.len(), 2);
    }

    #[test]
    fn collected_and_stored_spacing() {
        let host = HostFields::new("p", "h");
        let chart = ChartFields::new(&ChartInfo {
            id: "a.b",
            name: "a.c",
            family: "f",
            context: "x",
            chart_type: "a",
            units: "u",
        });
        let dim = DimensionFields::new("i", "n");
        let mut buf = Vec::new();
        write_line(&mut buf, &host, &chart, &dim, MetricValue::Stored(1.0), 5);
        write_line(&mut buf, &host, &chart, &dim, MetricValue::Collected(1), 5);
        assert!(!write_line(
            &mut buf,
            &host,
            &chart,
            &dim,
            MetricValue::Stored(f64::NAN),
            5
        ));
        assert_eq!(
            String::from_utf8_lossy(&buf),
            concat!(
                r#"{"prefix":"p","hostname":"h","chart_id":"a.b","chart_name":"a.c","chart_family":"f","chart_context": "x","chart_type":"a","units": "u","id":"i","name":"n","value":1.0000000,"timestamp": 5}"#,
                "\n",
                r#"{"prefix":"p","hostname":"h","chart_id":"a.b","chart_name":"a.c","chart_family":"f","chart_context":"x","chart_type":"a","units":"u","id":"i","name":"n","value":1,"timestamp":5}"#,
                "\n"
            )
        );
    }
}
