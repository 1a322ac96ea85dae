//! The JSON form of `/api/v1/allmetrics` (`format=json`): one object keyed
//! by chart id, each chart with its name, family, context, units, newest
//! stored time and dimensions (each dimension's newest stored value), laid
//! out with netdata 1.37's line breaks and tabs (shown as four spaces):
//!
//! ```text
//! {
//!     "lab.slow": {
//!         "name":"lab.slow",
//!         "family":"lab",
//!         "context":"lab.slow",
//!         "units":"u",
//!         "last_updated": 1795688425,
//!         "dimensions": {
//!             "gauge": {
//!                 "name": "gauge",
//!                 "value": 45.0000000
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Strings are JSON-escaped ([`crate::sanitize::write_json_escaped`]; netdata
//! copied them as they were). A dimension without a value has `null`.
//!
//! ```
//! use wire::format::allmetrics_json::{ChartHead, Document};
//!
//! let mut buf = Vec::new();
//! let mut doc = Document::begin(&mut buf);
//! let mut chart = doc.chart(&ChartHead {
//!     id: "lab.slow", name: "lab.slow", family: "lab", context: "lab.slow", units: "u", last_updated: 1795688425,
//! });
//! chart.dimension("gauge", "gauge", Some(45.0));
//! chart.end();
//! doc.end();
//! assert!(String::from_utf8_lossy(&buf).ends_with("\"value\": 45.0000000\n\t\t\t}\n\t\t}\n\t}\n}"));
//! ```

use crate::number::{write_stored_value, write_timestamp};
use crate::sanitize::write_json_escaped;

/// A chart's fields.
#[derive(Clone, Copy, Debug)]
pub struct ChartHead<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub family: &'a str,
    pub context: &'a str,
    pub units: &'a str,
    /// The newest stored time of the chart (seconds), 0 when none.
    pub last_updated: i64,
}

/// The document being written: `{`, the charts, `\n}`.
pub struct Document<'b> {
    buf: &'b mut Vec<u8>,
    charts: usize,
}

impl<'b> Document<'b> {
    /// Starts the document in `buf`.
    pub fn begin(buf: &'b mut Vec<u8>) -> Document<'b> {
        buf.push(b'{');
        Document { buf, charts: 0 }
    }

    /// Starts a chart; add its dimensions, then [`Chart::end`] it.
    pub fn chart(&mut self, head: &ChartHead<'_>) -> Chart<'_> {
        let buf = &mut *self.buf;
        if self.charts > 0 {
            buf.push(b',');
        }
        self.charts += 1;
        buf.extend_from_slice(b"\n\t\"");
        write_json_escaped(buf, head.id);
        buf.extend_from_slice(b"\": {\n\t\t\"name\":\"");
        write_json_escaped(buf, head.name);
        buf.extend_from_slice(b"\",\n\t\t\"family\":\"");
        write_json_escaped(buf, head.family);
        buf.extend_from_slice(b"\",\n\t\t\"context\":\"");
        write_json_escaped(buf, head.context);
        buf.extend_from_slice(b"\",\n\t\t\"units\":\"");
        write_json_escaped(buf, head.units);
        buf.extend_from_slice(b"\",\n\t\t\"last_updated\": ");
        write_timestamp(buf, head.last_updated);
        buf.extend_from_slice(b",\n\t\t\"dimensions\": {");
        Chart { buf, dimensions: 0 }
    }

    /// Ends the document.
    pub fn end(self) {
        self.buf.extend_from_slice(b"\n}");
    }
}

/// A chart being written.
pub struct Chart<'b> {
    buf: &'b mut Vec<u8>,
    dimensions: usize,
}

impl Chart<'_> {
    /// Adds a dimension: its id, name and value (`null` for `None` or a
    /// value that is not finite).
    pub fn dimension(&mut self, id: &str, name: &str, value: Option<f64>) {
        let buf = &mut *self.buf;
        if self.dimensions > 0 {
            buf.push(b',');
        }
        self.dimensions += 1;
        buf.extend_from_slice(b"\n\t\t\t\"");
        write_json_escaped(buf, id);
        buf.extend_from_slice(b"\": {\n\t\t\t\t\"name\": \"");
        write_json_escaped(buf, name);
        buf.extend_from_slice(b"\",\n\t\t\t\t\"value\": ");
        match value.filter(|v| v.is_finite()) {
            Some(value) => write_stored_value(buf, value),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b"\n\t\t\t}");
    }

    /// Ends the chart.
    pub fn end(self) {
        self.buf.extend_from_slice(b"\n\t\t}\n\t}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_parses_with_escaped_names() {
        let mut buf = Vec::new();
        let mut doc = Document::begin(&mut buf);
        for id in ["a\"b", "c"] {
            let mut chart = doc.chart(&ChartHead {
                id,
                name: "n\\",
                family: "f\n",
                context: "x",
                units: "é",
                last_updated: 7,
            });
            chart.dimension("d1", "one", Some(-1.5));
            chart.dimension("d2", "two", None);
            chart.end();
        }
        let mut empty = doc.chart(&ChartHead {
            id: "e",
            name: "e",
            family: "",
            context: "",
            units: "",
            last_updated: 0,
        });
        empty.dimensions = 0;
        empty.end();
        doc.end();
        let parsed: serde_json::Value = serde_json::from_slice(&buf).expect("valid JSON");
        assert_eq!(parsed["a\"b"]["dimensions"]["d1"]["value"], -1.5);
        assert!(parsed["c"]["dimensions"]["d2"]["value"].is_null());
        assert_eq!(parsed["c"]["family"], "f\n");
        assert_eq!(parsed["e"]["last_updated"], 0);
    }

    #[test]
    fn an_empty_document() {
        let mut buf = Vec::new();
        Document::begin(&mut buf).end();
        assert_eq!(buf, b"{\n}");
    }
}
