//! Definitions: what a collector says about a chart and its dimensions
//! (`ChartDef`, `DimensionDef`, `Algorithm`, `ChartType`, `Label`).
//!
//! These are plain values; the store copies them into its charts.

use std::fmt;

/// How a dimension's collected integers become stored values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// The collected value itself (times multiplier, over divisor).
    #[default]
    Absolute,
    /// A per-second rate from the delta between two collections.
    Incremental,
    /// The dimension's share, in percent, of the sum of the row's values.
    PercentageOfAbsoluteRow,
    /// The dimension's share, in percent, of the sum of the row's deltas.
    PercentageOfIncrementalRow,
}

impl Algorithm {
    /// netdata's name for the algorithm.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Absolute => "absolute",
            Algorithm::Incremental => "incremental",
            Algorithm::PercentageOfAbsoluteRow => "percentage-of-absolute-row",
            Algorithm::PercentageOfIncrementalRow => "percentage-of-incremental-row",
        }
    }

    /// Parses netdata's names; anything unknown is `absolute`, as netdata does.
    pub fn parse_lenient(s: &str) -> Algorithm {
        match s {
            "incremental" => Algorithm::Incremental,
            "percentage-of-absolute-row" => Algorithm::PercentageOfAbsoluteRow,
            "percentage-of-incremental-row" => Algorithm::PercentageOfIncrementalRow,
            _ => Algorithm::Absolute,
        }
    }

    /// Whether the stored value comes from the delta of two collections.
    pub fn is_incremental(self) -> bool {
        matches!(
            self,
            Algorithm::Incremental | Algorithm::PercentageOfIncrementalRow
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a chart is drawn (kept for the JSON format, and a web API later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ChartType {
    #[default]
    Line,
    Area,
    Stacked,
}

impl ChartType {
    /// netdata's name for the chart type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartType::Line => "line",
            ChartType::Area => "area",
            ChartType::Stacked => "stacked",
        }
    }

    /// Parses netdata's names; anything unknown is `line`.
    pub fn parse_lenient(s: &str) -> ChartType {
        match s {
            "area" => ChartType::Area,
            "stacked" => ChartType::Stacked,
            _ => ChartType::Line,
        }
    }
}

/// Where a label came from: `send configured labels` and `send automatic
/// labels` select on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelSource {
    /// Written by the operator (`[host labels]`, the `[health]` flags sent
    /// as `_is_ephemeral` and `_has_unstable_connection`, a plugin's LABEL).
    Configured,
    /// Discovered by the agent itself (`_os_name`, `_architecture`, ...).
    Automatic,
}

/// A `key = value` label on a host or a chart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub key: String,
    pub value: String,
    pub source: LabelSource,
}

impl Label {
    pub fn new(key: impl Into<String>, value: impl Into<String>, source: LabelSource) -> Label {
        Label {
            key: key.into(),
            value: value.into(),
            source,
        }
    }
}

/// What a collector declares about a chart.
///
/// The chart's id is `type.id` and its name `type.name` (the id when no name
/// is given), as in netdata.
///
/// ```
/// use rrd::ChartDef;
/// let def = ChartDef::new("system", "cpu").name("processor").units("percentage");
/// assert_eq!(def.full_id(), "system.cpu");
/// assert_eq!(def.full_name(), "system.processor");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ChartDef {
    pub type_: String,
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub units: String,
    pub family: String,
    pub context: String,
    pub chart_type: ChartType,
    pub priority: i64,
    /// Seconds between collections; the grid step of the chart's ring.
    pub update_every: u32,
    pub labels: Vec<Label>,
    pub obsolete: bool,
    /// netdata's `hidden` option: collected and exported, not listed for
    /// dashboards (`/api/v1/charts`).
    pub hidden: bool,
    /// Which plugin and module created the chart (informational).
    pub plugin: String,
    pub module: String,
}

impl ChartDef {
    /// A chart `type_.id` with netdata's defaults: family = id,
    /// context = `type_.id`, priority 1000, update every 1 s.
    pub fn new(type_: impl Into<String>, id: impl Into<String>) -> ChartDef {
        let type_ = type_.into();
        let id = id.into();
        ChartDef {
            family: id.clone(),
            context: format!("{type_}.{id}"),
            type_,
            id,
            name: None,
            title: String::new(),
            units: String::new(),
            chart_type: ChartType::Line,
            priority: 1000,
            update_every: 1,
            labels: Vec::new(),
            obsolete: false,
            hidden: false,
            plugin: String::new(),
            module: String::new(),
        }
    }

    /// Splits a `type.id` string at its first dot, as plugins.d does.
    /// Without a dot the whole string is the id and the type is empty.
    pub fn from_full_id(full: &str) -> ChartDef {
        match full.split_once('.') {
            Some((t, i)) => ChartDef::new(t, i),
            None => ChartDef::new("", full),
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.name = if name.is_empty() { None } else { Some(name) };
        self
    }
    pub fn title(mut self, v: impl Into<String>) -> Self {
        self.title = v.into();
        self
    }
    pub fn units(mut self, v: impl Into<String>) -> Self {
        self.units = v.into();
        self
    }
    pub fn family(mut self, v: impl Into<String>) -> Self {
        self.family = v.into();
        self
    }
    pub fn context(mut self, v: impl Into<String>) -> Self {
        self.context = v.into();
        self
    }
    pub fn chart_type(mut self, v: ChartType) -> Self {
        self.chart_type = v;
        self
    }
    pub fn priority(mut self, v: i64) -> Self {
        self.priority = v;
        self
    }
    pub fn update_every(mut self, v: u32) -> Self {
        self.update_every = v.max(1);
        self
    }
    pub fn label(mut self, label: Label) -> Self {
        self.labels.push(label);
        self
    }

    /// `type.id` (just `id` when the type is empty).
    pub fn full_id(&self) -> String {
        join_type(&self.type_, &self.id)
    }

    /// `type.name`, or the full id when there is no name, with netdata's
    /// rule for stored chart names: every byte outside `[A-Za-z0-9._-]`
    /// becomes `_` (`lab.Weird Name/with space` is stored as
    /// `lab.Weird_Name_with_space`). The id is kept as given.
    pub fn full_name(&self) -> String {
        let raw = match &self.name {
            Some(n) => join_type(&self.type_, n),
            None => self.full_id(),
        };
        fix_chart_name(&raw)
    }
}

/// netdata's stored form of a chart name: bytes outside `[A-Za-z0-9._-]`
/// become `_`, one per byte.
///
/// ```
/// assert_eq!(rrd::def::fix_chart_name("lab.id with spaces/and:colon"), "lab.id_with_spaces_and_colon");
/// ```
pub fn fix_chart_name(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

/// netdata's stored form of a dimension name: each byte of a multi-byte
/// UTF-8 character and each control byte becomes `_`; everything else is
/// kept (`naïve name` is stored as `na__ve name`).
///
/// ```
/// assert_eq!(rrd::def::fix_dimension_name("naïve name"), "na__ve name");
/// assert_eq!(rrd::def::fix_dimension_name("Dim-Upper;semi~tilde"), "Dim-Upper;semi~tilde");
/// ```
pub fn fix_dimension_name(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b >= 0x80 || b.is_ascii_control() {
                '_'
            } else {
                b as char
            }
        })
        .collect()
}

fn join_type(type_: &str, rest: &str) -> String {
    if type_.is_empty() {
        rest.to_string()
    } else {
        format!("{type_}.{rest}")
    }
}

/// What a collector declares about one dimension of a chart.
///
/// ```
/// use rrd::{Algorithm, DimensionDef};
/// let d = DimensionDef::new("user").algorithm(Algorithm::Incremental).divisor(100);
/// assert_eq!(d.display_name(), "user");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimensionDef {
    pub id: String,
    pub name: Option<String>,
    pub algorithm: Algorithm,
    pub multiplier: i64,
    pub divisor: i64,
    pub hidden: bool,
}

impl DimensionDef {
    pub fn new(id: impl Into<String>) -> DimensionDef {
        DimensionDef {
            id: id.into(),
            name: None,
            algorithm: Algorithm::Absolute,
            multiplier: 1,
            divisor: 1,
            hidden: false,
        }
    }
    pub fn name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.name = if name.is_empty() { None } else { Some(name) };
        self
    }
    pub fn algorithm(mut self, a: Algorithm) -> Self {
        self.algorithm = a;
        self
    }
    /// A multiplier of 0 is taken as 1, as netdata does.
    pub fn multiplier(mut self, m: i64) -> Self {
        self.multiplier = if m == 0 { 1 } else { m };
        self
    }
    /// A divisor of 0 is taken as 1, as netdata does.
    pub fn divisor(mut self, d: i64) -> Self {
        self.divisor = if d == 0 { 1 } else { d };
        self
    }
    pub fn hidden(mut self, h: bool) -> Self {
        self.hidden = h;
        self
    }
    /// The name as given, or the id when no name was given.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netdata_names_parse_back_to_what_they_name() {
        for a in [
            Algorithm::Absolute,
            Algorithm::Incremental,
            Algorithm::PercentageOfAbsoluteRow,
            Algorithm::PercentageOfIncrementalRow,
        ] {
            assert_eq!(Algorithm::parse_lenient(a.as_str()), a);
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!(Algorithm::parse_lenient("derivative"), Algorithm::Absolute);
        for t in [ChartType::Line, ChartType::Area, ChartType::Stacked] {
            assert_eq!(ChartType::parse_lenient(t.as_str()), t);
        }
        assert_eq!(ChartType::parse_lenient("pie"), ChartType::Line);
    }
}
