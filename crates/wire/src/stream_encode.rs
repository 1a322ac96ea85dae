//! What a netdata child sends to its parent: the `STREAM` request and the
//! stream's lines, byte for byte as netdata 1.37.1 writes them.
//!
//! The request is an HTTP/1.1 head whose target is the `key=...&...` query
//! (raw: values with spaces are sent as they are, as netdata does). After
//! the parent's answer the child writes plugins.d-style lines:
//!
//! ```text
//! LABEL "key" = SOURCE "value"          host labels, then OVERWRITE labels
//! CHART "type.id" "name" "title" "units" "family" "context" "type" priority update_every "options" "plugin" "module"
//! CLABEL "key" "value" SOURCE           chart labels, then CLABEL_COMMIT
//! DIMENSION "id" "name" "algorithm" multiplier divisor "options"
//! VARIABLE CHART name = value           the chart's custom variables
//! CHART_DEFINITION_END first_entry last_entry wall_clock
//! BEGIN "type.id" microseconds / SET "id" = collected / END
//! VARIABLE HOST name = value            a host's custom variable
//! RBEGIN ... RSET ... RDSTATE ... RSSTATE ... REND     answers to REPLAY_CHART
//! ```
//!
//! Strings are written between double quotes; netdata's tokenizer has no
//! escapes, so a string holding `"` is written between single quotes, and
//! one holding both has its `"` replaced by `'`.

use crate::number::{write_collected_value, write_stored_value};
use crate::pluginsd::VariableScope;
use crate::sanitize;

/// Label source bits as netdata 1.37 sends them.
pub mod label_source {
    /// Discovered by the agent (`_os_name`, `_collect_plugin`, ...).
    pub const AUTO: u32 = 1;
    /// Written by the operator (`[host labels]`).
    pub const CONFIG: u32 = 2;
    /// Permanent (netdata's `_collect_plugin`/`_collect_module`).
    pub const PERMANENT: u32 = 1 << 29;
}

/// The fields of a child's `STREAM` request, in the order netdata sends
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequestFields<'a> {
    /// `key`: the API key.
    pub key: &'a str,
    /// `hostname`.
    pub hostname: &'a str,
    /// `registry_hostname`.
    pub registry_hostname: &'a str,
    /// `machine_guid`.
    pub machine_guid: &'a str,
    /// `update_every`.
    pub update_every: u32,
    /// `os` (`linux`).
    pub os: &'a str,
    /// `timezone` (`Etc/UTC`).
    pub timezone: &'a str,
    /// `abbrev_timezone` (`UTC`).
    pub abbrev_timezone: &'a str,
    /// `utc_offset` in seconds.
    pub utc_offset: i64,
    /// `hops`: 1 for a host's own metrics, one more per proxy.
    pub hops: u32,
    /// `ml_capable`.
    pub ml_capable: bool,
    /// `ml_enabled`.
    pub ml_enabled: bool,
    /// `mc_version`.
    pub mc_version: u32,
    /// `tags`.
    pub tags: &'a str,
    /// `ver`: the capability bits offered.
    pub version: u32,
    /// The `NETDATA_*` system facts, in order (`NETDATA_PROTOCOL_VERSION`
    /// last, as netdata sends it).
    pub system_info: &'a [(&'a str, &'a str)],
    /// The `User-Agent` header.
    pub user_agent: &'a str,
}

/// Appends the whole `STREAM` request head (ending in the empty line).
pub fn write_stream_request(out: &mut Vec<u8>, fields: &StreamRequestFields<'_>) {
    use std::io::Write as _;
    let _ = write!(
        out,
        "STREAM key={}&hostname={}&registry_hostname={}&machine_guid={}&update_every={}\
         &os={}&timezone={}&abbrev_timezone={}&utc_offset={}&hops={}&ml_capable={}\
         &ml_enabled={}&mc_version={}&tags={}&ver={}",
        fields.key,
        fields.hostname,
        fields.registry_hostname,
        fields.machine_guid,
        fields.update_every,
        fields.os,
        fields.timezone,
        fields.abbrev_timezone,
        fields.utc_offset,
        fields.hops,
        u8::from(fields.ml_capable),
        u8::from(fields.ml_enabled),
        fields.mc_version,
        fields.tags,
        fields.version,
    );
    for (name, value) in fields.system_info {
        let _ = write!(out, "&{name}={value}");
    }
    let _ = write!(
        out,
        " HTTP/1.1\r\nUser-Agent: {}\r\nAccept: */*\r\n\r\n",
        fields.user_agent
    );
}

/// Appends `text` between quotes (see the [module docs](self)).
fn quoted(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'"') {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else if !bytes.contains(&b'\'') {
        out.push(b'\'');
        out.extend_from_slice(bytes);
        out.push(b'\'');
    } else {
        out.push(b'"');
        out.extend(bytes.iter().map(|&b| if b == b'"' { b'\'' } else { b }));
        out.push(b'"');
    }
}

fn number(out: &mut Vec<u8>, value: i64) {
    write_collected_value(out, value);
}

fn unsigned(out: &mut Vec<u8>, value: u64) {
    use std::io::Write as _;
    let _ = write!(out, "{value}");
}

/// `CLAIMED_ID machine_guid claim_id` (`NULL` when not claimed).
pub fn write_claimed_id(out: &mut Vec<u8>, machine_guid: &str, claim_id: Option<&str>) {
    out.extend_from_slice(b"CLAIMED_ID ");
    out.extend_from_slice(machine_guid.as_bytes());
    out.push(b' ');
    out.extend_from_slice(claim_id.unwrap_or("NULL").as_bytes());
    out.push(b'\n');
}

/// `LABEL "key" = SOURCE "value"`: one host label.
pub fn write_host_label(out: &mut Vec<u8>, key: &str, value: &str, source: u32) {
    out.extend_from_slice(b"LABEL ");
    quoted(out, key);
    out.extend_from_slice(b" = ");
    unsigned(out, u64::from(source));
    out.push(b' ');
    quoted(out, value);
    out.push(b'\n');
}

/// `OVERWRITE labels`: the host labels sent replace the parent's.
pub fn write_overwrite_labels(out: &mut Vec<u8>) {
    out.extend_from_slice(b"OVERWRITE labels\n");
}

/// A chart's definition line.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLine<'a> {
    /// `type.id`.
    pub id: &'a str,
    /// `type.name`, or empty when it is the id (netdata sends `""` then).
    pub name: &'a str,
    /// Title.
    pub title: &'a str,
    /// Units.
    pub units: &'a str,
    /// Family.
    pub family: &'a str,
    /// Context.
    pub context: &'a str,
    /// `line`, `area`, `stacked`.
    pub chart_type: &'a str,
    /// Priority.
    pub priority: i64,
    /// Seconds between points.
    pub update_every: u32,
    /// Whether the chart is obsolete.
    pub obsolete: bool,
    /// Whether the chart is hidden.
    pub hidden: bool,
    /// The plugin that collects it.
    pub plugin: &'a str,
    /// The plugin's module.
    pub module: &'a str,
}

/// `CHART ...` (options as netdata writes them: four words, `obsolete`,
/// `detail`, `store_first`, `hidden`, each empty when not set).
pub fn write_chart(out: &mut Vec<u8>, chart: &ChartLine<'_>) {
    out.extend_from_slice(b"CHART ");
    for text in [
        chart.id,
        chart.name,
        chart.title,
        chart.units,
        chart.family,
        chart.context,
        chart.chart_type,
    ] {
        quoted(out, text);
        out.push(b' ');
    }
    number(out, chart.priority);
    out.push(b' ');
    unsigned(out, u64::from(chart.update_every));
    out.extend_from_slice(b" \"");
    out.extend_from_slice(if chart.obsolete { b"obsolete" } else { b"" });
    out.extend_from_slice(b"   ");
    out.extend_from_slice(if chart.hidden { b"hidden" } else { b"" });
    out.extend_from_slice(b"\" ");
    quoted(out, chart.plugin);
    out.push(b' ');
    quoted(out, chart.module);
    out.push(b'\n');
}

/// `CLABEL "key" "value" SOURCE`: one chart label.
pub fn write_chart_label(out: &mut Vec<u8>, key: &str, value: &str, source: u32) {
    out.extend_from_slice(b"CLABEL ");
    quoted(out, key);
    out.push(b' ');
    quoted(out, value);
    out.push(b' ');
    unsigned(out, u64::from(source));
    out.push(b'\n');
}

/// `CLABEL_COMMIT`: the chart labels sent replace the parent's.
pub fn write_chart_labels_commit(out: &mut Vec<u8>) {
    out.extend_from_slice(b"CLABEL_COMMIT\n");
}

/// A dimension's definition line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionLine<'a> {
    /// Id.
    pub id: &'a str,
    /// Name (the id when it has none).
    pub name: &'a str,
    /// `absolute`, `incremental`, `percentage-of-absolute-row`, ...
    pub algorithm: &'a str,
    /// Multiplier.
    pub multiplier: i64,
    /// Divisor.
    pub divisor: i64,
    /// Whether it is obsolete.
    pub obsolete: bool,
    /// Whether it is hidden.
    pub hidden: bool,
}

/// `DIMENSION ...` (options: three words, `obsolete`, `hidden`,
/// `noreset`, each empty when not set).
pub fn write_dimension(out: &mut Vec<u8>, dimension: &DimensionLine<'_>) {
    out.extend_from_slice(b"DIMENSION ");
    quoted(out, dimension.id);
    out.push(b' ');
    quoted(out, dimension.name);
    out.push(b' ');
    quoted(out, dimension.algorithm);
    out.push(b' ');
    number(out, dimension.multiplier);
    out.push(b' ');
    number(out, dimension.divisor);
    out.extend_from_slice(b" \"");
    out.extend_from_slice(if dimension.obsolete { b"obsolete" } else { b"" });
    out.push(b' ');
    out.extend_from_slice(if dimension.hidden { b"hidden" } else { b"" });
    out.extend_from_slice(b" \"\n");
}

/// `CHART_DEFINITION_END first_entry last_entry wall_clock` (seconds; 0
/// for a chart without points).
pub fn write_chart_definition_end(out: &mut Vec<u8>, first: i64, last: i64, wall_clock: i64) {
    out.extend_from_slice(b"CHART_DEFINITION_END ");
    number(out, first);
    out.push(b' ');
    number(out, last);
    out.push(b' ');
    number(out, wall_clock);
    out.push(b'\n');
}

/// `VARIABLE HOST name = value` ([`VariableScope::Global`]) or
/// `VARIABLE CHART name = value` ([`VariableScope::Local`]): a custom
/// variable, as netdata 1.37's sender writes it. A chart's variables go
/// inside its definition (before `CHART_DEFINITION_END`) or a round (before
/// `END`); a host's between charts.
///
/// The value is written like C's `printf("%0.7Lf")` (all integer digits,
/// seven decimals; see [`write_stored_value`]), and a NaN or an infinity as
/// glibc prints it: `nan`, `inf`, `-inf` (a negative NaN too is `nan`).
/// The name goes out unquoted, as netdata sends it: a byte outside
/// `[A-Za-z0-9._]` (which the receiving side would not keep either) is
/// written `_`, and an empty name writes nothing at all (a netdata parent
/// drops the connection on a `VARIABLE` without a name).
///
/// ```
/// use wire::pluginsd::VariableScope;
/// use wire::stream_encode::write_variable;
///
/// let mut out = Vec::new();
/// write_variable(&mut out, VariableScope::Local, "my_chart_var", 7.25);
/// write_variable(&mut out, VariableScope::Global, "host_nan", f64::NAN);
/// assert_eq!(out, b"VARIABLE CHART my_chart_var = 7.2500000\nVARIABLE HOST host_nan = nan\n");
/// ```
pub fn write_variable(out: &mut Vec<u8>, scope: VariableScope, name: &str, value: f64) {
    if name.is_empty() {
        return;
    }
    out.extend_from_slice(match scope {
        VariableScope::Global => b"VARIABLE HOST ",
        VariableScope::Local => b"VARIABLE CHART ",
    });
    if name.bytes().all(is_variable_name_byte) {
        out.extend_from_slice(name.as_bytes());
    } else {
        out.extend_from_slice(sanitize::variable_name(name.as_bytes()).as_bytes());
    }
    out.extend_from_slice(b" = ");
    if value.is_nan() {
        out.extend_from_slice(b"nan");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"inf" } else { b"-inf" });
    } else {
        write_stored_value(out, value);
    }
    out.push(b'\n');
}

/// Whether `byte` is kept in a variable name (see
/// [`sanitize::variable_name`]).
fn is_variable_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'_'
}

/// `BEGIN "type.id" microseconds` (the time since the chart's previous
/// round; netdata writes no number for the first round).
pub fn write_begin(out: &mut Vec<u8>, chart_id: &str, microseconds: Option<u64>) {
    out.extend_from_slice(b"BEGIN ");
    quoted(out, chart_id);
    if let Some(us) = microseconds {
        out.push(b' ');
        unsigned(out, us);
    }
    out.push(b'\n');
}

/// `SET "id" = collected`.
pub fn write_set(out: &mut Vec<u8>, dimension_id: &str, collected: i64) {
    out.extend_from_slice(b"SET ");
    quoted(out, dimension_id);
    out.extend_from_slice(b" = ");
    number(out, collected);
    out.push(b'\n');
}

/// `END`.
pub fn write_end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"END\n");
}

/// `RBEGIN "type.id"`: the answer to a `REPLAY_CHART` starts.
pub fn write_replay_begin_chart(out: &mut Vec<u8>, chart_id: &str) {
    out.extend_from_slice(b"RBEGIN ");
    quoted(out, chart_id);
    out.push(b'\n');
}

/// `RBEGIN '' start end wall_clock`: one replicated point (of the chart of
/// the previous `RBEGIN`) follows.
pub fn write_replay_begin_point(out: &mut Vec<u8>, start: i64, end: i64, wall_clock: i64) {
    out.extend_from_slice(b"RBEGIN '' ");
    number(out, start);
    out.push(b' ');
    number(out, end);
    out.push(b' ');
    number(out, wall_clock);
    out.push(b'\n');
}

/// `RSET "id" value ""`: a stored value of the point (finite).
pub fn write_replay_set(out: &mut Vec<u8>, dimension_id: &str, value: f64) {
    out.extend_from_slice(b"RSET ");
    quoted(out, dimension_id);
    out.push(b' ');
    write_stored_value(out, value);
    out.extend_from_slice(b" \"\"\n");
}

fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        write_stored_value(out, value);
    } else {
        out.extend_from_slice(b"0.0000000");
    }
}

/// `RDSTATE "id" last_collected_ut collected calculated last_calculated`.
pub fn write_replay_dimension_state(
    out: &mut Vec<u8>,
    dimension_id: &str,
    last_collected_ut: u64,
    collected: i64,
    calculated: f64,
    last_calculated: f64,
) {
    out.extend_from_slice(b"RDSTATE ");
    quoted(out, dimension_id);
    out.push(b' ');
    unsigned(out, last_collected_ut);
    out.push(b' ');
    number(out, collected);
    out.push(b' ');
    float(out, calculated);
    out.push(b' ');
    float(out, last_calculated);
    out.push(b'\n');
}

/// `RSSTATE last_collected_ut last_updated_ut`.
pub fn write_replay_chart_state(out: &mut Vec<u8>, last_collected_ut: u64, last_updated_ut: u64) {
    out.extend_from_slice(b"RSSTATE ");
    unsigned(out, last_collected_ut);
    out.push(b' ');
    unsigned(out, last_updated_ut);
    out.push(b'\n');
}

/// The end of a replication step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayEndLine {
    /// The chart's update every.
    pub update_every: u32,
    /// The oldest point the child holds.
    pub first_entry: i64,
    /// The newest point the child holds.
    pub last_entry: i64,
    /// Whether the chart streams live from now on.
    pub start_streaming: bool,
    /// The step's `after`, as asked.
    pub after: i64,
    /// The step's `before`, as asked.
    pub before: i64,
    /// The child's wall clock.
    pub wall_clock: i64,
}

/// `REND update_every first last start_streaming after before wall_clock`.
pub fn write_replay_end(out: &mut Vec<u8>, end: &ReplayEndLine) {
    out.extend_from_slice(b"REND ");
    unsigned(out, u64::from(end.update_every));
    for value in [end.first_entry, end.last_entry] {
        out.push(b' ');
        number(out, value);
    }
    out.extend_from_slice(if end.start_streaming {
        b" true"
    } else {
        b" false"
    });
    for value in [end.after, end.before, end.wall_clock] {
        out.push(b' ');
        number(out, value);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_pick_a_quote_the_text_lacks() {
        let mut out = Vec::new();
        quoted(&mut out, "a b");
        quoted(&mut out, "say \"hi\"");
        quoted(&mut out, "it's \"x\"");
        assert_eq!(out, b"\"a b\"'say \"hi\"'\"it's 'x'\"");
    }

    #[test]
    fn variables_have_seven_decimals_and_c_spellings_of_nan_and_infinities() {
        let mut out = Vec::new();
        for value in [
            7.25,
            2.0,
            -3.5,
            0.0,
            1e20,
            0.000_000_04,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            write_variable(&mut out, VariableScope::Local, "v", value);
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            "VARIABLE CHART v = 7.2500000\n\
             VARIABLE CHART v = 2.0000000\n\
             VARIABLE CHART v = -3.5000000\n\
             VARIABLE CHART v = 0.0000000\n\
             VARIABLE CHART v = 100000000000000000000.0000000\n\
             VARIABLE CHART v = 0.0000000\n\
             VARIABLE CHART v = nan\n\
             VARIABLE CHART v = nan\n\
             VARIABLE CHART v = inf\n\
             VARIABLE CHART v = -inf\n"
        );
    }

    #[test]
    fn a_variable_name_cannot_break_the_line() {
        let mut out = Vec::new();
        write_variable(&mut out, VariableScope::Global, "", 1.0);
        assert!(out.is_empty(), "an empty name writes nothing");
        write_variable(&mut out, VariableScope::Global, "a b=\"c\"\n", 1.0);
        write_variable(&mut out, VariableScope::Global, "chart_var.dot", 1.0);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "VARIABLE HOST a_b__c__ = 1.0000000\nVARIABLE HOST chart_var.dot = 1.0000000\n"
        );
    }

    #[test]
    fn first_round_begin_has_no_microseconds() {
        let mut out = Vec::new();
        write_begin(&mut out, "a.b", None);
        write_begin(&mut out, "a.b", Some(1_000_000));
        assert_eq!(out, b"BEGIN \"a.b\"\nBEGIN \"a.b\" 1000000\n");
    }
}
