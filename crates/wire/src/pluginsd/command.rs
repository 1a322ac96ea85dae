//! One plugins.d line → one [`Command`], borrowing from the line.
//!
//! [`parse_line`] splits the line with netdata's tokenizer
//! ([`Words`]), matches the verb (case-sensitive, as netdata
//! does) and reads the fields of that verb. Missing optional fields get
//! netdata's defaults; numbers are read as netdata's C code reads them (see
//! [`c_numbers`](super::c_numbers)). `SET`, `BEGIN` and `END` lines take a
//! fast path first ([`fast_path`]).
//!
//! Field order on the wire, for reference:
//!
//! ```text
//! CHART type.id name title units [family [context [charttype [priority [update_every [options [plugin [module]]]]]]]]
//! DIMENSION id [name [algorithm [multiplier [divisor [options]]]]]
//! BEGIN type.id [microseconds]
//! SET id [=] [value]
//! END | FLUSH | DISABLE | OVERWRITE | CLABEL_COMMIT | FUNCTION_RESULT_END
//! VARIABLE [GLOBAL|HOST|LOCAL|CHART] name [=] value
//! LABEL name source value...          (host label; source before value)
//! CLABEL name value source            (chart label)
//! FUNCTION [GLOBAL] name timeout help [tags [access [priority [version]]]]
//! FUNCTION_RESULT_BEGIN transaction status format expires
//! ```
//!
//! Stream-only commands (a netdata child to its parent, and back):
//!
//! ```text
//! CLAIMED_ID machine_guid claim_id                  (claim_id NULL: not claimed)
//! CHART_DEFINITION_END first_entry last_entry wall_clock
//! REPLAY_CHART type.id start_streaming after before (parent → child)
//! RBEGIN [type.id] [start end wall_clock]           (type.id '' keeps the chart)
//! RSET id value flags                               (a stored value of the range)
//! RDSTATE id last_collected_ut collected calculated last_calculated
//! RSSTATE last_collected_ut last_updated_ut
//! REND update_every first_entry last_entry start_streaming after before wall_clock
//! ```

use std::fmt;

use super::c_numbers::{
    parse_c_integer, parse_decimal_prefix, parse_decimal_prefix_i32, parse_unsigned_prefix,
};
use super::error::{ParseError, TextPreview};
use super::fast_path;
use super::words::Words;

/// The verbs this parser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// `CHART`: define or update a chart.
    Chart,
    /// `DIMENSION`: add or update a dimension of the last chart.
    Dimension,
    /// `BEGIN`: start collecting a chart.
    Begin,
    /// `SET`: one collected value.
    Set,
    /// `END`: commit the collected values.
    End,
    /// `FLUSH`: drop the values collected since `BEGIN`.
    Flush,
    /// `DISABLE`: the plugin asks never to be restarted.
    Disable,
    /// `VARIABLE`: a host or chart variable (for health checks).
    Variable,
    /// `LABEL`: a host label, applied by `OVERWRITE`.
    Label,
    /// `OVERWRITE`: replace the host labels with those given by `LABEL`.
    Overwrite,
    /// `CLABEL`: a chart label, applied by `CLABEL_COMMIT`.
    Clabel,
    /// `CLABEL_COMMIT`: apply the chart labels given by `CLABEL`.
    ClabelCommit,
    /// `FUNCTION`: the plugin offers a function.
    Function,
    /// `FUNCTION_RESULT_BEGIN`: a function's result follows, up to
    /// `FUNCTION_RESULT_END`; the lines in between are payload, not commands.
    FunctionResultBegin,
    /// `FUNCTION_RESULT_END`: end of a function's result.
    FunctionResultEnd,
    /// `CLAIMED_ID` (stream): the child's cloud claim.
    ClaimedId,
    /// `CHART_DEFINITION_END` (stream): a chart's definition is complete;
    /// the parent answers with `REPLAY_CHART`.
    ChartDefinitionEnd,
    /// `REPLAY_CHART` (stream, parent → child): ask for a chart's past.
    ReplayChart,
    /// `RBEGIN` (stream): a replicated range of a chart starts.
    ReplayBegin,
    /// `RSET` (stream): one replicated stored value.
    ReplaySet,
    /// `RDSTATE` (stream): a dimension's collection state after replication.
    ReplayDimensionState,
    /// `RSSTATE` (stream): the chart's collection state after replication.
    ReplayChartState,
    /// `REND` (stream): a replication step is complete.
    ReplayEnd,
}

impl Verb {
    /// Every verb, in declaration order.
    pub const ALL: [Verb; 23] = [
        Verb::Chart,
        Verb::Dimension,
        Verb::Begin,
        Verb::Set,
        Verb::End,
        Verb::Flush,
        Verb::Disable,
        Verb::Variable,
        Verb::Label,
        Verb::Overwrite,
        Verb::Clabel,
        Verb::ClabelCommit,
        Verb::Function,
        Verb::FunctionResultBegin,
        Verb::FunctionResultEnd,
        Verb::ClaimedId,
        Verb::ChartDefinitionEnd,
        Verb::ReplayChart,
        Verb::ReplayBegin,
        Verb::ReplaySet,
        Verb::ReplayDimensionState,
        Verb::ReplayChartState,
        Verb::ReplayEnd,
    ];

    /// The keyword as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Chart => "CHART",
            Verb::Dimension => "DIMENSION",
            Verb::Begin => "BEGIN",
            Verb::Set => "SET",
            Verb::End => "END",
            Verb::Flush => "FLUSH",
            Verb::Disable => "DISABLE",
            Verb::Variable => "VARIABLE",
            Verb::Label => "LABEL",
            Verb::Overwrite => "OVERWRITE",
            Verb::Clabel => "CLABEL",
            Verb::ClabelCommit => "CLABEL_COMMIT",
            Verb::Function => "FUNCTION",
            Verb::FunctionResultBegin => "FUNCTION_RESULT_BEGIN",
            Verb::FunctionResultEnd => "FUNCTION_RESULT_END",
            Verb::ClaimedId => "CLAIMED_ID",
            Verb::ChartDefinitionEnd => "CHART_DEFINITION_END",
            Verb::ReplayChart => "REPLAY_CHART",
            Verb::ReplayBegin => "RBEGIN",
            Verb::ReplaySet => "RSET",
            Verb::ReplayDimensionState => "RDSTATE",
            Verb::ReplayChartState => "RSSTATE",
            Verb::ReplayEnd => "REND",
        }
    }

    /// The verb for a keyword (case-sensitive), if known.
    ///
    /// ```
    /// use wire::pluginsd::Verb;
    /// assert_eq!(Verb::from_keyword(b"CLABEL_COMMIT"), Some(Verb::ClabelCommit));
    /// assert_eq!(Verb::from_keyword(b"set"), None);
    /// ```
    pub fn from_keyword(keyword: &[u8]) -> Option<Verb> {
        Some(match keyword {
            b"SET" => Verb::Set,
            b"BEGIN" => Verb::Begin,
            b"END" => Verb::End,
            b"CHART" => Verb::Chart,
            b"DIMENSION" => Verb::Dimension,
            b"FLUSH" => Verb::Flush,
            b"DISABLE" => Verb::Disable,
            b"VARIABLE" => Verb::Variable,
            b"LABEL" => Verb::Label,
            b"OVERWRITE" => Verb::Overwrite,
            b"CLABEL" => Verb::Clabel,
            b"CLABEL_COMMIT" => Verb::ClabelCommit,
            b"FUNCTION" => Verb::Function,
            b"FUNCTION_RESULT_BEGIN" => Verb::FunctionResultBegin,
            b"FUNCTION_RESULT_END" => Verb::FunctionResultEnd,
            b"CLAIMED_ID" => Verb::ClaimedId,
            b"CHART_DEFINITION_END" => Verb::ChartDefinitionEnd,
            b"REPLAY_CHART" => Verb::ReplayChart,
            b"RBEGIN" => Verb::ReplayBegin,
            b"RSET" => Verb::ReplaySet,
            b"RDSTATE" => Verb::ReplayDimensionState,
            b"RSSTATE" => Verb::ReplayChartState,
            b"REND" => Verb::ReplayEnd,
            _ => return None,
        })
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a chart is drawn (`CHART`'s `charttype`). Missing, empty or unknown
/// text is [`ChartType::Line`], as in netdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChartType {
    /// `line` (the default).
    #[default]
    Line,
    /// `area`.
    Area,
    /// `stacked`.
    Stacked,
}

impl ChartType {
    /// Reads `charttype`; unknown text is `Line`.
    ///
    /// ```
    /// use wire::pluginsd::ChartType;
    /// assert_eq!(ChartType::from_keyword(b"stacked"), ChartType::Stacked);
    /// assert_eq!(ChartType::from_keyword(b"pie"), ChartType::Line);
    /// ```
    pub fn from_keyword(keyword: &[u8]) -> ChartType {
        match keyword {
            b"area" => ChartType::Area,
            b"stacked" => ChartType::Stacked,
            _ => ChartType::Line,
        }
    }

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartType::Line => "line",
            ChartType::Area => "area",
            ChartType::Stacked => "stacked",
        }
    }
}

/// How a dimension's collected values become stored values
/// (`DIMENSION`'s `algorithm`). Missing, empty or unknown text is
/// [`DimensionAlgorithm::Absolute`], as in netdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DimensionAlgorithm {
    /// `absolute`: the value as collected (the default).
    #[default]
    Absolute,
    /// `incremental`: the per-second rate of change.
    Incremental,
    /// `percentage-of-absolute-row`: share of the sum of the chart's values.
    PercentageOfAbsoluteRow,
    /// `percentage-of-incremental-row`: share of the sum of the chart's
    /// increments.
    PercentageOfIncrementalRow,
}

impl DimensionAlgorithm {
    /// Reads `algorithm` (case-sensitive); unknown text is `Absolute`.
    ///
    /// ```
    /// use wire::pluginsd::DimensionAlgorithm;
    /// assert_eq!(
    ///     DimensionAlgorithm::from_keyword(b"percentage-of-incremental-row"),
    ///     DimensionAlgorithm::PercentageOfIncrementalRow
    /// );
    /// assert_eq!(DimensionAlgorithm::from_keyword(b"Incremental"), DimensionAlgorithm::Absolute);
    /// ```
    pub fn from_keyword(keyword: &[u8]) -> DimensionAlgorithm {
        match keyword {
            b"incremental" => DimensionAlgorithm::Incremental,
            b"percentage-of-absolute-row" => DimensionAlgorithm::PercentageOfAbsoluteRow,
            b"percentage-of-incremental-row" => DimensionAlgorithm::PercentageOfIncrementalRow,
            _ => DimensionAlgorithm::Absolute,
        }
    }

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DimensionAlgorithm::Absolute => "absolute",
            DimensionAlgorithm::Incremental => "incremental",
            DimensionAlgorithm::PercentageOfAbsoluteRow => "percentage-of-absolute-row",
            DimensionAlgorithm::PercentageOfIncrementalRow => "percentage-of-incremental-row",
        }
    }
}

/// Whether `needle` occurs in `haystack` (netdata matches options with
/// `strstr`, so `notobsolete` counts as `obsolete`).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// `CHART`'s options (a space separated list, matched as substrings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChartOptions {
    /// `obsolete`: hide the chart and delete it after a while.
    pub obsolete: bool,
    /// `detail`: a less important chart.
    pub detail: bool,
    /// `hidden`: collect and export, but do not show on dashboards.
    pub hidden: bool,
    /// `store_first`: store the first value as if the previous one were 0.
    pub store_first: bool,
}

impl ChartOptions {
    /// Reads the options field.
    ///
    /// ```
    /// use wire::pluginsd::ChartOptions;
    /// let options = ChartOptions::from_field(b"obsolete hidden");
    /// assert!(options.obsolete && options.hidden && !options.detail);
    /// ```
    pub fn from_field(field: &[u8]) -> ChartOptions {
        ChartOptions {
            obsolete: contains(field, b"obsolete"),
            detail: contains(field, b"detail"),
            hidden: contains(field, b"hidden"),
            store_first: contains(field, b"store_first"),
        }
    }
}

/// `DIMENSION`'s options (a space separated list, matched as substrings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DimensionOptions {
    /// `obsolete`: delete the dimension after a while.
    pub obsolete: bool,
    /// `hidden`: take part in calculations, but do not show.
    pub hidden: bool,
    /// `noreset`: do not detect counter resets (netdata treats it like
    /// `nooverflow`).
    pub noreset: bool,
    /// `nooverflow`: do not detect counter overflows.
    pub nooverflow: bool,
}

impl DimensionOptions {
    /// Reads the options field.
    ///
    /// ```
    /// use wire::pluginsd::DimensionOptions;
    /// let options = DimensionOptions::from_field(b"hidden noreset");
    /// assert!(options.hidden && options.noreset && !options.obsolete);
    /// ```
    pub fn from_field(field: &[u8]) -> DimensionOptions {
        DimensionOptions {
            obsolete: contains(field, b"obsolete"),
            hidden: contains(field, b"hidden"),
            noreset: contains(field, b"noreset"),
            nooverflow: contains(field, b"nooverflow"),
        }
    }
}

/// A `CHART` line, with netdata's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chart<'a> {
    /// `type.id`, whole (use [`Chart::type_part`] and [`Chart::id_part`]).
    /// Always has a `.` with bytes on both sides.
    pub type_id: &'a [u8],
    /// The display name instead of the id part, or `None` to use the id:
    /// a missing or empty name, one equal to the id part, and `NULL` or
    /// `(NULL)` (any case) are `None`; a leading `type.` is removed, as
    /// netdata does for names streamed as `type.name`.
    pub name: Option<&'a [u8]>,
    /// Title; empty when missing.
    pub title: &'a [u8],
    /// Units; `unknown` when missing (an empty field stays empty).
    pub units: &'a [u8],
    /// Family (dashboard submenu); `None` when missing or empty (netdata
    /// then uses the id part).
    pub family: Option<&'a [u8]>,
    /// Context; `None` when missing or empty (netdata then uses a default
    /// derived from the chart id).
    pub context: Option<&'a [u8]>,
    /// Chart type; `line` when missing, empty or unknown.
    pub chart_type: ChartType,
    /// Priority; 1000 when missing or empty; otherwise read like `str2i`.
    pub priority: i32,
    /// Update interval in seconds; `None` (use the plugin's) when missing,
    /// empty, 0 or negative.
    pub update_every: Option<u32>,
    /// Options; all false when missing.
    pub options: ChartOptions,
    /// Plugin name; `None` when missing or empty (netdata then uses the
    /// plugin's file name).
    pub plugin: Option<&'a [u8]>,
    /// Module name; `None` when missing or empty.
    pub module: Option<&'a [u8]>,
}

impl<'a> Chart<'a> {
    /// The part of `type_id` before the first `.`.
    ///
    /// ```
    /// use wire::pluginsd::{parse_line, Command};
    /// let Ok(Command::Chart(chart)) = parse_line(b"CHART apps.cpu.x '' t u") else { panic!() };
    /// assert_eq!(chart.type_part(), b"apps");
    /// assert_eq!(chart.id_part(), b"cpu.x");
    /// ```
    pub fn type_part(&self) -> &'a [u8] {
        split_chart_id(self.type_id).map_or(self.type_id, |(type_part, _)| type_part)
    }

    /// The part of `type_id` after the first `.`.
    pub fn id_part(&self) -> &'a [u8] {
        split_chart_id(self.type_id).map_or(&[][..], |(_, id_part)| id_part)
    }
}

fn split_chart_id(type_id: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = type_id.iter().position(|&b| b == b'.')?;
    Some((&type_id[..dot], &type_id[dot + 1..]))
}

/// A `DIMENSION` line, with netdata's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimension<'a> {
    /// The id `SET` refers to; never empty.
    pub id: &'a [u8],
    /// The display name, or `None` (missing or empty) to use the id.
    pub name: Option<&'a [u8]>,
    /// The algorithm; `absolute` when missing, empty or unknown.
    pub algorithm: DimensionAlgorithm,
    /// Multiplier, read like `strtol(s, NULL, 0)`; 1 when missing, empty or
    /// 0.
    pub multiplier: i64,
    /// Divisor, read like `strtol(s, NULL, 0)`; 1 when missing, empty or 0.
    pub divisor: i64,
    /// Options; all false when missing.
    pub options: DimensionOptions,
}

/// `VARIABLE`'s scope keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VariableScope {
    /// `GLOBAL` or `HOST`: a host variable.
    Global,
    /// `LOCAL` or `CHART`: a variable of the current chart.
    Local,
}

/// The points an `RBEGIN` announces (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayRange {
    /// Start of the point's interval.
    pub start: i64,
    /// End of the point's interval: the point's time.
    pub end: i64,
    /// The child's wall clock.
    pub wall_clock: i64,
}

/// `LABEL`'s value: every word after the source, which netdata joins with
/// single spaces. Kept as the borrowed rest of the line, re-split on demand
/// (so equality compares that raw text, spacing included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelValue<'a> {
    rest: &'a [u8],
}

impl<'a> LabelValue<'a> {
    /// The value's words.
    pub fn words(&self) -> Words<'a> {
        Words::new(self.rest)
    }

    /// The value when it is one word (the usual case), without copying.
    pub fn single_word(&self) -> Option<&'a [u8]> {
        let mut words = self.words();
        let first = words.next()?;
        match words.next() {
            None => Some(first),
            Some(_) => None,
        }
    }

    /// Appends the words joined by single spaces to `out`, as netdata
    /// stores the value.
    ///
    /// ```
    /// use wire::pluginsd::{parse_line, Command};
    /// let Ok(Command::Label { value, .. }) = parse_line(b"LABEL k 1 'a b'  c") else { panic!() };
    /// let mut joined = Vec::new();
    /// value.join_into(&mut joined);
    /// assert_eq!(joined, b"a b c");
    /// ```
    pub fn join_into(&self, out: &mut Vec<u8>) {
        for (index, word) in self.words().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(word);
        }
    }
}

/// One parsed plugins.d line. Text fields are bytes borrowed from the line
/// (ids need not be UTF-8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command<'a> {
    /// A line with no words (blank, or only separators). netdata ignores it.
    Empty,
    /// `CHART`.
    Chart(Chart<'a>),
    /// `DIMENSION`.
    Dimension(Dimension<'a>),
    /// `BEGIN type.id [microseconds]`.
    Begin {
        /// The chart's `type.id` (never empty).
        chart_id: &'a [u8],
        /// Microseconds since the previous collection of this chart, read
        /// like `str2ull`; `None` when missing, empty or 0 (netdata treats 0
        /// as "not given").
        microseconds: Option<u64>,
    },
    /// `SET id = value`.
    Set {
        /// The dimension id (never empty).
        dimension_id: &'a [u8],
        /// The value read like C's `strtoll(value, NULL, 0)` (so `0x10` is
        /// 16, `010` is 8, `12.7` is 12, `abc` is 0, out of range
        /// saturates); `None` when missing or empty, which leaves the
        /// dimension without a value for this collection.
        value: Option<i64>,
    },
    /// `END`.
    End,
    /// `FLUSH`.
    Flush,
    /// `DISABLE`.
    Disable,
    /// `VARIABLE [scope] name = value`.
    Variable {
        /// The scope keyword, or `None`: then the position decides (inside
        /// a chart's definition or `BEGIN`/`END`: local, else global).
        scope: Option<VariableScope>,
        /// The name (never empty).
        name: &'a [u8],
        /// The value (a floating point number).
        value: f64,
    },
    /// `LABEL name source value...` (a host label; note the order).
    Label {
        /// Label name (never empty).
        name: &'a [u8],
        /// Label value (may be several words).
        value: LabelValue<'a>,
        /// Source bit flags (1 auto, 2 config, 4 k8s, 8 cloud), read like
        /// `str2l`.
        source: i64,
    },
    /// `OVERWRITE`.
    Overwrite,
    /// `CLABEL name value source` (a chart label).
    Clabel {
        /// Label name (never empty).
        name: &'a [u8],
        /// Label value.
        value: &'a [u8],
        /// Source bit flags, read like `str2l`.
        source: i64,
    },
    /// `CLABEL_COMMIT`.
    ClabelCommit,
    /// `FUNCTION [GLOBAL] name timeout help ...`: a function the plugin
    /// offers. Trailing fields (tags, access, priority, version) are
    /// ignored.
    Function {
        /// `GLOBAL` was given (a host function, not a chart function).
        global: bool,
        /// The function's name and parameters (never empty).
        name: &'a [u8],
        /// Timeout in seconds; 10 when missing, 0 or negative.
        timeout_seconds: u32,
        /// Help text.
        help: &'a [u8],
    },
    /// `FUNCTION_RESULT_BEGIN transaction ...`: lines up to
    /// `FUNCTION_RESULT_END` are a function's result, not commands; the
    /// caller must skip them.
    FunctionResultBegin {
        /// The transaction id (empty when missing).
        transaction: &'a [u8],
    },
    /// `FUNCTION_RESULT_END`.
    FunctionResultEnd,
    /// `CLAIMED_ID machine_guid claim_id` (stream).
    ClaimedId {
        /// The machine GUID the claim is for.
        machine_guid: &'a [u8],
        /// The claim id; `None` for `NULL` (not claimed) or empty.
        claim_id: Option<&'a [u8]>,
    },
    /// `CHART_DEFINITION_END first_entry last_entry wall_clock` (stream):
    /// what the child holds of the chart just defined (seconds since the
    /// epoch, 0 when it holds nothing) and the child's clock.
    ChartDefinitionEnd {
        /// The child's oldest stored point of the chart.
        first_entry: i64,
        /// The child's newest stored point of the chart.
        last_entry: i64,
        /// The child's wall clock.
        wall_clock: i64,
    },
    /// `REPLAY_CHART type.id start_streaming after before` (stream, parent →
    /// child).
    ReplayChart {
        /// The chart (never empty).
        chart_id: &'a [u8],
        /// `true`: after this step the child streams the chart live.
        start_streaming: bool,
        /// Oldest point asked for (seconds; 0 with `before` 0: nothing).
        after: i64,
        /// Newest point asked for.
        before: i64,
    },
    /// `RBEGIN [type.id] [start end wall_clock]` (stream).
    ReplayBegin {
        /// The chart; `None` when missing or empty (the chart of the
        /// previous `RBEGIN`).
        chart_id: Option<&'a [u8]>,
        /// The range's points, as `(start, end, wall_clock)` seconds, when
        /// given: the `RSET`s that follow are the point ending at `end`.
        range: Option<ReplayRange>,
    },
    /// `RSET id value flags` (stream): a stored value (already calculated),
    /// for the range of the last `RBEGIN`.
    ReplaySet {
        /// The dimension id (never empty).
        dimension_id: &'a [u8],
        /// The value; NaN for a gap (`NAN`, or missing).
        value: f64,
        /// The storage flags as netdata writes them (`""`: none; `E`: empty
        /// point; `R`: counter reset).
        flags: &'a [u8],
    },
    /// `RDSTATE id last_collected_ut collected calculated last_calculated`
    /// (stream): a dimension's collection state, so incremental dimensions
    /// go on without a gap after replication.
    ReplayDimensionState {
        /// The dimension id (never empty).
        dimension_id: &'a [u8],
        /// When it was last collected (µs since the epoch).
        last_collected_ut: u64,
        /// The last collected raw value.
        collected: i64,
        /// The last calculated value.
        calculated: f64,
        /// The calculated value before it.
        last_calculated: f64,
    },
    /// `RSSTATE last_collected_ut last_updated_ut` (stream): the chart's
    /// collection state.
    ReplayChartState {
        /// When the chart was last collected (µs).
        last_collected_ut: u64,
        /// When it last stored a point (µs).
        last_updated_ut: u64,
    },
    /// `REND update_every first_entry last_entry start_streaming after
    /// before wall_clock` (stream): the end of a replication step.
    ReplayEnd {
        /// The chart's update every (seconds).
        update_every: i64,
        /// The child's oldest stored point of the chart.
        first_entry: i64,
        /// The child's newest stored point of the chart.
        last_entry: i64,
        /// Whether the child now streams the chart live.
        start_streaming: bool,
        /// The step's oldest point, as asked.
        after: i64,
        /// The step's newest point, as asked.
        before: i64,
        /// The child's wall clock.
        wall_clock: i64,
    },
    /// A verb this parser does not know (netdata 1.37 stops a plugin for
    /// it; the caller decides).
    Unknown {
        /// The first word of the line.
        verb: &'a [u8],
    },
}

impl Command<'_> {
    /// The command's verb; `None` for [`Command::Empty`] and
    /// [`Command::Unknown`].
    pub fn verb(&self) -> Option<Verb> {
        Some(match self {
            Command::Empty | Command::Unknown { .. } => return None,
            Command::Chart(_) => Verb::Chart,
            Command::Dimension(_) => Verb::Dimension,
            Command::Begin { .. } => Verb::Begin,
            Command::Set { .. } => Verb::Set,
            Command::End => Verb::End,
            Command::Flush => Verb::Flush,
            Command::Disable => Verb::Disable,
            Command::Variable { .. } => Verb::Variable,
            Command::Label { .. } => Verb::Label,
            Command::Overwrite => Verb::Overwrite,
            Command::Clabel { .. } => Verb::Clabel,
            Command::ClabelCommit => Verb::ClabelCommit,
            Command::Function { .. } => Verb::Function,
            Command::FunctionResultBegin { .. } => Verb::FunctionResultBegin,
            Command::FunctionResultEnd => Verb::FunctionResultEnd,
            Command::ClaimedId { .. } => Verb::ClaimedId,
            Command::ChartDefinitionEnd { .. } => Verb::ChartDefinitionEnd,
            Command::ReplayChart { .. } => Verb::ReplayChart,
            Command::ReplayBegin { .. } => Verb::ReplayBegin,
            Command::ReplaySet { .. } => Verb::ReplaySet,
            Command::ReplayDimensionState { .. } => Verb::ReplayDimensionState,
            Command::ReplayChartState { .. } => Verb::ReplayChartState,
            Command::ReplayEnd { .. } => Verb::ReplayEnd,
        })
    }
}

/// Parses one line (with or without its `\n`/`\r\n`) into a [`Command`]
/// borrowing from it. Never panics, never allocates.
///
/// ```
/// use wire::pluginsd::{parse_line, Command};
///
/// assert_eq!(
///     parse_line(b"SET 'dim.with.dots' = 42"),
///     Ok(Command::Set { dimension_id: b"dim.with.dots", value: Some(42) })
/// );
/// assert_eq!(
///     parse_line(b"SET idle ="),
///     Ok(Command::Set { dimension_id: b"idle", value: None })
/// );
/// assert_eq!(parse_line(b"   "), Ok(Command::Empty));
/// assert_eq!(parse_line(b"HELLO x"), Ok(Command::Unknown { verb: b"HELLO" }));
/// ```
#[inline]
pub fn parse_line(line: &[u8]) -> Result<Command<'_>, ParseError> {
    if let Some(command) = fast_path::try_parse_fast(line) {
        return Ok(command);
    }
    parse_line_slow_path(line)
}

/// [`parse_line`] without the fast paths: the reference they must agree
/// with (tests and the fuzz target compare them).
#[doc(hidden)]
pub fn parse_line_slow_path(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let mut words = Words::new(line);
    let Some(keyword) = words.next() else {
        return Ok(Command::Empty);
    };
    let Some(verb) = Verb::from_keyword(keyword) else {
        return Ok(Command::Unknown { verb: keyword });
    };
    Ok(match verb {
        Verb::Set => parse_set(words)?,
        Verb::Begin => parse_begin(words)?,
        Verb::End => Command::End,
        Verb::Chart => Command::Chart(parse_chart(words)?),
        Verb::Dimension => Command::Dimension(parse_dimension(words)?),
        Verb::Flush => Command::Flush,
        Verb::Disable => Command::Disable,
        Verb::Variable => parse_variable(words)?,
        Verb::Label => parse_label(words)?,
        Verb::Overwrite => Command::Overwrite,
        Verb::Clabel => parse_clabel(words)?,
        Verb::ClabelCommit => Command::ClabelCommit,
        Verb::Function => parse_function(words)?,
        Verb::FunctionResultBegin => Command::FunctionResultBegin {
            transaction: words.next().unwrap_or_default(),
        },
        Verb::FunctionResultEnd => Command::FunctionResultEnd,
        Verb::ClaimedId => parse_claimed_id(words)?,
        Verb::ChartDefinitionEnd => parse_chart_definition_end(words)?,
        Verb::ReplayChart => parse_replay_chart(words)?,
        Verb::ReplayBegin => parse_replay_begin(words),
        Verb::ReplaySet => parse_replay_set(words)?,
        Verb::ReplayDimensionState => parse_replay_dimension_state(words)?,
        Verb::ReplayChartState => parse_replay_chart_state(words)?,
        Verb::ReplayEnd => parse_replay_end(words)?,
    })
}

/// The next word, required and non-empty.
fn required<'a>(
    words: &mut Words<'a>,
    verb: Verb,
    field: &'static str,
) -> Result<&'a [u8], ParseError> {
    match words.next() {
        None => Err(ParseError::MissingField { verb, field }),
        Some([]) => Err(ParseError::EmptyField { verb, field }),
        Some(word) => Ok(word),
    }
}

/// `None` for a missing or empty word.
fn non_empty(word: Option<&[u8]>) -> Option<&[u8]> {
    word.filter(|word| !word.is_empty())
}

/// Reads a `SET` value word: `None` when missing or empty.
#[inline]
pub(crate) fn set_value(word: Option<&[u8]>) -> Option<i64> {
    non_empty(word).map(parse_c_integer)
}

fn parse_set(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let dimension_id = required(&mut words, Verb::Set, "dimension id")?;
    Ok(Command::Set {
        dimension_id,
        value: set_value(words.next()),
    })
}

fn parse_begin(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let chart_id = required(&mut words, Verb::Begin, "type.id")?;
    let microseconds = non_empty(words.next())
        .map(parse_unsigned_prefix)
        .filter(|&microseconds| microseconds != 0);
    Ok(Command::Begin {
        chart_id,
        microseconds,
    })
}

fn parse_chart(mut words: Words<'_>) -> Result<Chart<'_>, ParseError> {
    let type_id = words.next().ok_or(ParseError::MissingField {
        verb: Verb::Chart,
        field: "type.id",
    })?;
    let (type_part, id_part) = split_chart_id(type_id)
        .filter(|(type_part, id_part)| !type_part.is_empty() && !id_part.is_empty())
        .ok_or(ParseError::InvalidChartId {
            type_id: TextPreview::new(type_id),
        })?;
    let name = words.next();
    let title = words.next().unwrap_or_default();
    let units = words.next().unwrap_or(b"unknown");
    let family = non_empty(words.next());
    let context = non_empty(words.next());
    let chart_type = words
        .next()
        .map(ChartType::from_keyword)
        .unwrap_or_default();
    let priority = non_empty(words.next()).map_or(1000, parse_decimal_prefix_i32);
    let update_every = non_empty(words.next())
        .map(parse_decimal_prefix)
        .and_then(|seconds| u32::try_from(seconds).ok())
        .filter(|&seconds| seconds > 0);
    let options = words
        .next()
        .map(ChartOptions::from_field)
        .unwrap_or_default();
    let plugin = non_empty(words.next());
    let module = non_empty(words.next());
    Ok(Chart {
        type_id,
        name: chart_name(name, type_part, id_part),
        title,
        units,
        family,
        context,
        chart_type,
        priority,
        update_every,
        options,
        plugin,
        module,
    })
}

/// netdata's clean-up of `CHART`'s name field (see [`Chart::name`]).
fn chart_name<'a>(name: Option<&'a [u8]>, type_part: &[u8], id_part: &[u8]) -> Option<&'a [u8]> {
    let mut name = non_empty(name)?;
    if let Some(rest) = name.strip_prefix(type_part) {
        if let Some(rest) = rest.strip_prefix(b".") {
            name = rest;
        }
    }
    if name.is_empty()
        || name == id_part
        || name.eq_ignore_ascii_case(b"NULL")
        || name.eq_ignore_ascii_case(b"(NULL)")
    {
        return None;
    }
    Some(name)
}

fn parse_dimension(mut words: Words<'_>) -> Result<Dimension<'_>, ParseError> {
    let id = required(&mut words, Verb::Dimension, "id")?;
    let name = non_empty(words.next());
    let algorithm = words
        .next()
        .map(DimensionAlgorithm::from_keyword)
        .unwrap_or_default();
    let factor = |word: Option<&[u8]>| {
        non_empty(word)
            .map(parse_c_integer)
            .filter(|&factor| factor != 0)
            .unwrap_or(1)
    };
    let multiplier = factor(words.next());
    let divisor = factor(words.next());
    let options = words
        .next()
        .map(DimensionOptions::from_field)
        .unwrap_or_default();
    Ok(Dimension {
        id,
        name,
        algorithm,
        multiplier,
        divisor,
        options,
    })
}

fn parse_variable(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let first = required(&mut words, Verb::Variable, "name")?;
    let (scope, name) = match first {
        b"GLOBAL" | b"HOST" => (
            Some(VariableScope::Global),
            required(&mut words, Verb::Variable, "name")?,
        ),
        b"LOCAL" | b"CHART" => (
            Some(VariableScope::Local),
            required(&mut words, Verb::Variable, "name")?,
        ),
        _ => (None, first),
    };
    let text = required(&mut words, Verb::Variable, "value")?;
    let value = std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .ok_or(ParseError::InvalidNumber {
            verb: Verb::Variable,
            field: "value",
            text: TextPreview::new(text),
        })?;
    Ok(Command::Variable { scope, name, value })
}

fn parse_label(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let name = required(&mut words, Verb::Label, "name")?;
    let source = words.next().ok_or(ParseError::MissingField {
        verb: Verb::Label,
        field: "source",
    })?;
    let rest = words.remainder();
    if rest.is_empty() {
        return Err(ParseError::MissingField {
            verb: Verb::Label,
            field: "value",
        });
    }
    Ok(Command::Label {
        name,
        value: LabelValue { rest },
        source: parse_decimal_prefix(source),
    })
}

fn parse_clabel(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let name = required(&mut words, Verb::Clabel, "name")?;
    let value = words.next().ok_or(ParseError::MissingField {
        verb: Verb::Clabel,
        field: "value",
    })?;
    let source = required(&mut words, Verb::Clabel, "source")?;
    Ok(Command::Clabel {
        name,
        value,
        source: parse_decimal_prefix(source),
    })
}

fn parse_function(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let mut first = words.next();
    let global = first == Some(b"GLOBAL");
    if global {
        first = words.next();
    }
    let name = match first {
        None => {
            return Err(ParseError::MissingField {
                verb: Verb::Function,
                field: "name",
            })
        }
        Some([]) => {
            return Err(ParseError::EmptyField {
                verb: Verb::Function,
                field: "name",
            })
        }
        Some(name) => name,
    };
    let timeout = words.next().ok_or(ParseError::MissingField {
        verb: Verb::Function,
        field: "timeout",
    })?;
    let help = words.next().ok_or(ParseError::MissingField {
        verb: Verb::Function,
        field: "help",
    })?;
    let timeout_seconds = u32::try_from(parse_decimal_prefix(timeout))
        .ok()
        .filter(|&seconds| seconds > 0)
        .unwrap_or(10);
    Ok(Command::Function {
        global,
        name,
        timeout_seconds,
        help,
    })
}

/// A whole-seconds timestamp or count field of a stream command: a decimal
/// integer (netdata writes them with `%llu`/`%d`); anything else is an
/// error naming the field.
fn integer_field(
    words: &mut Words<'_>,
    verb: Verb,
    field: &'static str,
) -> Result<i64, ParseError> {
    let text = words
        .next()
        .ok_or(ParseError::MissingField { verb, field })?;
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::InvalidNumber {
            verb,
            field,
            text: TextPreview::new(text),
        });
    }
    Ok(parse_decimal_prefix(text))
}

/// An unsigned microseconds field (see [`integer_field`]).
fn unsigned_field(
    words: &mut Words<'_>,
    verb: Verb,
    field: &'static str,
) -> Result<u64, ParseError> {
    let value = integer_field(words, verb, field)?;
    Ok(u64::try_from(value).unwrap_or(0))
}

/// A floating point field as netdata writes it (`%0.7Lf`, `NAN`, `inf`).
fn float_field(words: &mut Words<'_>, verb: Verb, field: &'static str) -> Result<f64, ParseError> {
    let text = words
        .next()
        .ok_or(ParseError::MissingField { verb, field })?;
    parse_float(text).ok_or(ParseError::InvalidNumber {
        verb,
        field,
        text: TextPreview::new(text),
    })
}

/// Reads a float the way netdata prints them; `NAN`/`nan`/`-nan` are NaN.
fn parse_float(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    text.parse::<f64>().ok()
}

/// `true`/`false` as netdata writes booleans in stream commands (`true`,
/// or any non-zero number, is true).
fn bool_field(words: &mut Words<'_>, verb: Verb, field: &'static str) -> Result<bool, ParseError> {
    let text = words
        .next()
        .ok_or(ParseError::MissingField { verb, field })?;
    Ok(match text {
        b"true" | b"yes" | b"on" => true,
        b"false" | b"no" | b"off" | b"" => false,
        other => parse_decimal_prefix(other) != 0,
    })
}

fn parse_claimed_id(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let machine_guid = required(&mut words, Verb::ClaimedId, "machine_guid")?;
    let claim_id = required(&mut words, Verb::ClaimedId, "claim_id")?;
    Ok(Command::ClaimedId {
        machine_guid,
        claim_id: (claim_id != b"NULL").then_some(claim_id),
    })
}

fn parse_chart_definition_end(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ChartDefinitionEnd;
    Ok(Command::ChartDefinitionEnd {
        first_entry: integer_field(&mut words, verb, "first_entry")?,
        last_entry: integer_field(&mut words, verb, "last_entry")?,
        wall_clock: integer_field(&mut words, verb, "wall_clock")?,
    })
}

fn parse_replay_chart(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ReplayChart;
    Ok(Command::ReplayChart {
        chart_id: required(&mut words, verb, "type.id")?,
        start_streaming: bool_field(&mut words, verb, "start_streaming")?,
        after: integer_field(&mut words, verb, "after")?,
        before: integer_field(&mut words, verb, "before")?,
    })
}

fn parse_replay_begin(mut words: Words<'_>) -> Command<'_> {
    let chart_id = non_empty(words.next());
    let verb = Verb::ReplayBegin;
    let mut times = || integer_field(&mut words, verb, "start");
    let range = match (times(), times(), times()) {
        (Ok(start), Ok(end), Ok(wall_clock)) => Some(ReplayRange {
            start,
            end,
            wall_clock,
        }),
        _ => None,
    };
    Command::ReplayBegin { chart_id, range }
}

fn parse_replay_set(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ReplaySet;
    let dimension_id = required(&mut words, verb, "dimension id")?;
    let value = match non_empty(words.next()) {
        None => f64::NAN,
        Some(text) => parse_float(text).ok_or(ParseError::InvalidNumber {
            verb,
            field: "value",
            text: TextPreview::new(text),
        })?,
    };
    Ok(Command::ReplaySet {
        dimension_id,
        value,
        flags: words.next().unwrap_or_default(),
    })
}

fn parse_replay_dimension_state(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ReplayDimensionState;
    Ok(Command::ReplayDimensionState {
        dimension_id: required(&mut words, verb, "dimension id")?,
        last_collected_ut: unsigned_field(&mut words, verb, "last_collected_ut")?,
        collected: integer_field(&mut words, verb, "collected")?,
        calculated: float_field(&mut words, verb, "calculated")?,
        last_calculated: float_field(&mut words, verb, "last_calculated")?,
    })
}

fn parse_replay_chart_state(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ReplayChartState;
    Ok(Command::ReplayChartState {
        last_collected_ut: unsigned_field(&mut words, verb, "last_collected_ut")?,
        last_updated_ut: unsigned_field(&mut words, verb, "last_updated_ut")?,
    })
}

fn parse_replay_end(mut words: Words<'_>) -> Result<Command<'_>, ParseError> {
    let verb = Verb::ReplayEnd;
    Ok(Command::ReplayEnd {
        update_every: integer_field(&mut words, verb, "update_every")?,
        first_entry: integer_field(&mut words, verb, "first_entry")?,
        last_entry: integer_field(&mut words, verb, "last_entry")?,
        start_streaming: bool_field(&mut words, verb, "start_streaming")?,
        after: integer_field(&mut words, verb, "after")?,
        before: integer_field(&mut words, verb, "before")?,
        wall_clock: integer_field(&mut words, verb, "wall_clock")?,
    })
}
