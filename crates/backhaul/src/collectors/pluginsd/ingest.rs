//! `Ingest`: applies one plugin's parsed plugins.d commands to the local
//! host's charts.
//!
//! One `Ingest` lives as long as its plugin is supervised (across restarts),
//! on the plugin's own thread. It keeps a cache of the charts the plugin
//! defined: chart id → (`Arc<Chart>`, dimension id → [`DimIndex`]), so a
//! `SET` costs a byte comparison (plugins send a chart's `SET`s in the order
//! of its `DIMENSION`s, so the next dimension is guessed first; a chart's
//! ids sit end to end in one block, [`DimensionIds`]) or one hash
//! lookup, and a push onto a buffer kept between blocks: no allocation and
//! no lock per `SET`. The chart's write lock is taken once per
//! `BEGIN`..`END` block, at `END`, to apply the buffered values and
//! complete the round.
//!
//! What each command does (netdata 1.37's behaviour unless said otherwise):
//!
//! * `CHART type.id name title units [family [context [charttype [priority
//!   [update_every [options [plugin [module]]]]]]]]`: creates the chart, or
//!   redefines it when anything changed. A missing update every is the
//!   plugin's. Option `obsolete` marks it obsolete; `hidden` keeps it out
//!   of `/api/v1/charts` (it is still exported and streamed, as netdata);
//!   `detail` and `store_first` have no meaning in the store and are
//!   ignored.
//! * `DIMENSION id [name [algorithm [multiplier [divisor [options]]]]]`:
//!   adds or updates a dimension of the current chart (the last `CHART` or
//!   `BEGIN`); option `hidden` is kept, `obsolete`, `noreset`, `nooverflow`
//!   are ignored.
//! * `BEGIN type.id [microseconds]` / `SET id = value` / `END`: values are
//!   buffered and stored at `END`. The collection time is the wall clock at
//!   `END`, except that, as netdata does, when the plugin gives the
//!   microseconds since its previous collection of the chart and that
//!   previous collection is at most 5 update everys old, the time is the
//!   previous collection time plus those microseconds (so plugin-side
//!   timing, not pipe latency, decides the interval). Unlike netdata, that
//!   trusted time is never allowed more than a tenth of an update every
//!   ahead of the wall clock (the store cannot move a chart back in time).
//!   A chart collected while obsolete stops being obsolete.
//! * `FLUSH`: drops the values of the open block.
//! * `DISABLE`: [`Flow::Disable`]; the caller stops the plugin for good.
//! * `VARIABLE`, `FUNCTION`: counted and ignored (no health engine, no
//!   functions). `FUNCTION_RESULT_BEGIN` .. `FUNCTION_RESULT_END`: the
//!   payload lines in between are skipped unparsed.
//! * `LABEL name source value` + `OVERWRITE`: host labels. netdata replaces
//!   all the host's labels with the plugin's set; here the plugin's set
//!   replaces only the labels this plugin set before, and labels with the
//!   same keys: `[host labels]` and other plugins' labels stay.
//! * `CLABEL name value source` + `CLABEL_COMMIT`: the current chart's
//!   labels become the committed set.
//! * Label sources: a source with netdata's "config" bit (2) is
//!   [`LabelSource::Configured`]; any other (automatic, k8s, cloud) is
//!   [`LabelSource::Automatic`], so it is exported only with `send automatic
//!   labels`. Keys and values are sanitized as netdata's label store does.
//!
//! Deviations that keep a plugin running where netdata 1.37 stops it: an
//! unknown verb, a malformed line, a `SET` for an unknown dimension or
//! outside `BEGIN`/`END`, and a `BEGIN` for an unknown chart are counted,
//! logged (rate-limited, naming the plugin and the line number) and
//! ignored. Only `DISABLE` stops a plugin.
//!
//! Limits ([`IngestLimits`]): charts per plugin, dimensions per chart,
//! dimensions per plugin, pending labels. What goes beyond is ignored,
//! counted, and logged once.

use std::collections::HashMap;
use std::sync::Arc;

use rrd::{
    Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host, Label, LabelSource,
};
use wire::pluginsd::{
    self, parse_line, Command, DimensionAlgorithm, FrameError, LineFramer, ParseError, Words,
};

use super::dimension_ids::DimensionIds;
use crate::log_limit::LogLimiter;

/// Microseconds in a second.
const USEC_PER_SEC: u64 = 1_000_000;

/// netdata's "config" label source bit.
const LABEL_SOURCE_CONFIG: i64 = 2;

/// What the caller does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// The plugin sent `DISABLE`: stop it and never restart it.
    Disable,
}

/// Bounds on what one plugin may create. Beyond them, definitions are
/// ignored (counted, logged once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Charts one plugin may define over its whole life (restarts
    /// included).
    pub max_charts: usize,
    /// Dimensions one chart may have.
    pub max_dimensions_per_chart: usize,
    /// Dimensions one plugin may define over all its charts.
    pub max_dimensions: usize,
    /// `LABEL`s (or `CLABEL`s) pending before an `OVERWRITE` (or
    /// `CLABEL_COMMIT`).
    pub max_pending_labels: usize,
    /// Entries of the host's variables table (host variables and the
    /// charts' copies) past which a new variable name is refused.
    pub max_variables: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_charts: 10_000,
            max_dimensions_per_chart: 1_000,
            max_dimensions: 100_000,
            max_pending_labels: 1_000,
            max_variables: 10_000,
        }
    }
}

/// Who the plugin is and what it may do.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The plugin's name (its file name without `.plugin`), for logs.
    pub plugin: Arc<str>,
    /// The plugin's file name, the charts' default `plugin` field.
    pub plugin_file: String,
    /// Seconds between collections for charts that do not say.
    pub update_every: u32,
    /// Bounds.
    pub limits: IngestLimits,
}

/// Running totals of what a plugin sent (over all its runs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounters {
    /// Lines received (complete or overlong).
    pub lines: u64,
    /// Values stored (`SET`s with a value inside an accepted block).
    pub values: u64,
    /// Completed collection rounds (`END`s that stored).
    pub collections: u64,
    /// Charts this plugin owns.
    pub charts: u64,
    /// Dimensions this plugin owns.
    pub dimensions: u64,
    /// `VARIABLE`s applied.
    pub variables: u64,
    /// `FUNCTION`s (ignored).
    pub functions: u64,
    /// Lines of function results (skipped).
    pub function_result_lines: u64,
    /// Host and chart labels applied.
    pub labels: u64,
    /// Lines with a verb this agent does not know.
    pub unknown_verbs: u64,
    /// Malformed lines.
    pub parse_errors: u64,
    /// Lines longer than the framer's limit (dropped).
    pub overlong_lines: u64,
    /// `SET`s for an unknown dimension or outside `BEGIN`/`END`.
    pub set_errors: u64,
    /// Commands out of order: `END` without `BEGIN`, `BEGIN` of an unknown
    /// chart, `BEGIN` before the previous `END`, `DIMENSION` or
    /// `CLABEL_COMMIT` without a chart.
    pub sequence_errors: u64,
    /// Definitions refused by [`IngestLimits`].
    pub refused_by_limits: u64,
    /// Rounds the store refused (collection time not after the previous).
    pub time_errors: u64,
}

/// One dimension of a cached chart (its id and store index are in the
/// chart's [`DimensionIds`], at the same position).
struct DimSlot {
    def: DimensionDef,
}

/// One chart this plugin defined.
struct ChartSlot {
    id: Box<[u8]>,
    chart: Arc<Chart>,
    /// The definition last applied to the store.
    def: ChartDef,
    /// The chart whose `BEGIN` followed this one's last time (a hint:
    /// plugins and children send their charts in the same order every
    /// round).
    begun_next: Option<usize>,
    /// In `DIMENSION` order.
    dims: Vec<DimSlot>,
    /// The dimensions' ids and store indexes, in the same order.
    dim_ids: DimensionIds,
    dims_limit_logged: bool,
}

/// The open `BEGIN` .. `END` block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// `None`: the chart is unknown; its `SET`s are dropped quietly.
    slot: Option<usize>,
    microseconds: Option<u64>,
    /// Position in the chart's dimensions the next `SET` probably names.
    next_guess: usize,
    /// Where the chart's dimension state is, to ask for each `SET`'s
    /// before `END` writes it.
    hints: rrd::RoundHints,
}

/// Rate limits for the kinds of complaint a plugin can cause.
struct Complaints {
    parse: LogLimiter,
    sets: LogLimiter,
    sequence: LogLimiter,
    unknown_verbs: LogLimiter,
    time: LogLimiter,
}

impl Complaints {
    fn new() -> Complaints {
        let budget = || LogLimiter::with_burst(5, std::time::Duration::from_secs(60));
        Complaints {
            parse: budget(),
            sets: budget(),
            sequence: budget(),
            unknown_verbs: budget(),
            time: budget(),
        }
    }
}

/// Serializes plugins' read-modify-write of the host labels.
static HOST_LABELS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Applies one plugin's commands to a host (see the [module docs](self)).
pub struct Ingest {
    settings: IngestSettings,
    host: Arc<Host>,
    slots: Vec<ChartSlot>,
    slot_by_id: HashMap<Box<[u8]>, usize>,
    total_dimensions: usize,
    /// The chart `DIMENSION`, `CLABEL_COMMIT` apply to.
    current: Option<usize>,
    /// The slot of the last `BEGIN` (for [`ChartSlot::begun_next`]).
    last_begun: Option<usize>,
    block: Option<Block>,
    /// Values of the open block, applied at `END`.
    pending: Vec<(DimIndex, i64)>,
    pending_host_labels: Vec<Label>,
    pending_chart_labels: Vec<Label>,
    /// Keys of the host labels this plugin set with `OVERWRITE`.
    own_host_label_keys: Vec<String>,
    in_function_result: bool,
    line_no: u64,
    counters: IngestCounters,
    complaints: Complaints,
    charts_limit_logged: bool,
    variables_limit_logged: bool,
    dimensions_limit_logged: bool,
    labels_limit_logged: bool,
    /// The host's removal count when the slots were last checked for
    /// removed charts.
    seen_removals: u64,
}

impl Ingest {
    /// An empty cache for one plugin writing to `host`.
    pub fn new(settings: IngestSettings, host: Arc<Host>) -> Ingest {
        Ingest {
            settings,
            host,
            slots: Vec::new(),
            slot_by_id: HashMap::new(),
            total_dimensions: 0,
            current: None,
            last_begun: None,
            block: None,
            pending: Vec::new(),
            pending_host_labels: Vec::new(),
            pending_chart_labels: Vec::new(),
            own_host_label_keys: Vec::new(),
            in_function_result: false,
            line_no: 0,
            counters: IngestCounters::default(),
            complaints: Complaints::new(),
            charts_limit_logged: false,
            variables_limit_logged: false,
            dimensions_limit_logged: false,
            labels_limit_logged: false,
            seen_removals: 0,
        }
    }

    /// Forgets the charts the store removed (obsolete for longer than
    /// `cleanup obsolete charts after secs`): they stop counting toward the
    /// plugin's limits and their memory is freed. A plugin that defines one
    /// again gets a fresh chart. Cheap when nothing was removed; waits while
    /// a `BEGIN` block is open.
    fn forget_removed_charts(&mut self) {
        if self.block.is_some() {
            return;
        }
        let removals = self.host.removals();
        if removals == self.seen_removals {
            return;
        }
        self.seen_removals = removals;
        if !self.slots.iter().any(|slot| slot.chart.is_removed()) {
            return;
        }
        let current = self
            .current
            .and_then(|i| self.slots.get(i))
            .map(|s| s.id.clone());
        let mut forgotten_dimensions = 0;
        self.slots.retain(|slot| {
            let removed = slot.chart.is_removed();
            if removed {
                forgotten_dimensions += slot.dims.len();
            }
            !removed
        });
        self.total_dimensions -= forgotten_dimensions;
        self.slot_by_id = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| (slot.id.clone(), i))
            .collect();
        self.current = current.and_then(|id| self.slot_by_id.get(&id).copied());
        // Slot positions moved: the hints start over.
        self.last_begun = None;
        for slot in &mut self.slots {
            slot.begun_next = None;
        }
        if self.slots.len() < self.settings.limits.max_charts {
            self.charts_limit_logged = false;
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.settings.plugin
    }

    /// The totals so far.
    pub fn counters(&self) -> IngestCounters {
        let mut counters = self.counters;
        counters.charts = self.slots.len() as u64;
        counters.dimensions = self.total_dimensions as u64;
        counters
    }

    /// The line number of the last line, counted from the start of the
    /// current run.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The charts this plugin defined, in definition order.
    pub fn charts(&self) -> impl Iterator<Item = &Arc<Chart>> + '_ {
        self.slots.iter().map(|slot| &slot.chart)
    }

    /// Starts a new run of the plugin: forgets the per-connection state
    /// (open block, pending labels, line numbers); keeps the chart cache.
    pub fn start_run(&mut self) {
        self.current = None;
        self.last_begun = None;
        self.block = None;
        self.pending.clear();
        self.pending_host_labels.clear();
        self.pending_chart_labels.clear();
        self.in_function_result = false;
        self.line_no = 0;
    }

    /// The plugin stopped: marks every chart it defined obsolete (a new run
    /// that defines or collects them again brings them back).
    pub fn end_run(&mut self) {
        self.block = None;
        self.pending.clear();
        for slot in &mut self.slots {
            slot.chart.write().set_obsolete(true);
            slot.def.obsolete = true;
        }
    }

    /// Applies every complete line the framer holds. Stops at `DISABLE`.
    pub fn drain(&mut self, framer: &mut LineFramer, clock: &mut dyn FnMut() -> u64) -> Flow {
        self.forget_removed_charts();
        loop {
            self.take_set_lines(framer);
            let Some(frame) = framer.next_line() else {
                break;
            };
            match frame {
                Ok(line) => {
                    if self.apply_line(line, clock) == Flow::Disable {
                        return Flow::Disable;
                    }
                }
                Err(error) => self.on_frame_error(&error),
            }
        }
        Flow::Continue
    }

    /// At end of input: applies the last line if it had no newline.
    pub fn finish(&mut self, framer: &mut LineFramer, clock: &mut dyn FnMut() -> u64) -> Flow {
        match framer.finish() {
            Some(Ok(line)) => self.apply_line(line, clock),
            Some(Err(error)) => {
                self.on_frame_error(&error);
                Flow::Continue
            }
            None => Flow::Continue,
        }
    }

    /// Counts and reports a line the framer dropped.
    pub fn on_frame_error(&mut self, error: &FrameError) {
        self.line_no += 1;
        self.counters.lines += 1;
        self.counters.overlong_lines += 1;
        if let Some(suppressed) = self.complaints.parse.check_now() {
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                %error,
                "plugin line dropped"
            );
        }
    }

    /// Applies one line (without its newline). `clock` gives the wall clock
    /// in µs since the epoch; it is read only at `END`.
    pub fn apply_line(&mut self, line: &[u8], clock: &mut dyn FnMut() -> u64) -> Flow {
        if self.try_apply_set(line) {
            return Flow::Continue;
        }
        self.line_no += 1;
        self.counters.lines += 1;
        if self.in_function_result {
            self.skip_function_result_line(line);
            return Flow::Continue;
        }
        match parse_line(line) {
            Ok(Command::Set {
                dimension_id,
                value,
            }) => {
                self.on_set(dimension_id, value);
                Flow::Continue
            }
            Ok(command) => self.apply_command(command, clock),
            Err(error) => {
                self.on_parse_error(&error);
                Flow::Continue
            }
        }
    }

    /// Applies the `SET` lines of the commonest shape at the front of
    /// `framer`, each read in the one pass that frames it
    /// ([`LineFramer::next_set_line`]); stops at the first other line,
    /// which the caller takes with [`LineFramer::next_line`]. What is
    /// applied is what [`Self::apply_line`] does with the same lines.
    #[inline]
    pub fn take_set_lines(&mut self, framer: &mut LineFramer) {
        if self.in_function_result {
            return;
        }
        while let Some((dimension_id, value)) = framer.next_set_line() {
            self.line_no += 1;
            self.counters.lines += 1;
            self.on_set(dimension_id, value);
        }
    }

    /// Applies `line` if it is a `SET` of a common shape (the line of most
    /// rounds), without building a whole `Command`; false (and nothing
    /// done) for any other line, which then goes through [`Self::apply_line`]
    /// or [`Self::apply_parsed`].
    #[inline]
    pub fn try_apply_set(&mut self, line: &[u8]) -> bool {
        if self.in_function_result {
            return false;
        }
        let Some((dimension_id, value)) = pluginsd::fast_path::try_parse_set_fields(line) else {
            return false;
        };
        self.line_no += 1;
        self.counters.lines += 1;
        self.on_set(dimension_id, value);
        true
    }

    /// Applies one line the caller parsed itself (the stream receiver, which
    /// handles the stream-only commands and hands over the rest).
    #[inline]
    pub fn apply_parsed(
        &mut self,
        parsed: Result<Command<'_>, ParseError>,
        clock: &mut dyn FnMut() -> u64,
    ) -> Flow {
        self.line_no += 1;
        self.counters.lines += 1;
        match parsed {
            Ok(Command::Set {
                dimension_id,
                value,
            }) => {
                self.on_set(dimension_id, value);
                Flow::Continue
            }
            Ok(command) => self.apply_command(command, clock),
            Err(error) => {
                self.on_parse_error(&error);
                Flow::Continue
            }
        }
    }

    /// Applies one parsed command. Stream-only commands are counted as
    /// unknown verbs here.
    fn apply_command(&mut self, command: Command<'_>, clock: &mut dyn FnMut() -> u64) -> Flow {
        match command {
            Command::Set {
                dimension_id,
                value,
            } => self.on_set(dimension_id, value),
            Command::Begin {
                chart_id,
                microseconds,
            } => self.on_begin(chart_id, microseconds),
            Command::End => self.on_end(clock),
            Command::Chart(chart) => self.on_chart(&chart),
            Command::Dimension(dimension) => self.on_dimension(&dimension),
            Command::Flush => {
                self.pending.clear();
                self.block = None;
                self.current = None;
            }
            Command::Disable => {
                tracing::info!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    "plugin sent DISABLE"
                );
                return Flow::Disable;
            }
            Command::Variable { scope, name, value } => self.on_variable(scope, name, value),
            Command::Label {
                name,
                value,
                source,
            } => {
                let mut joined = Vec::new();
                value.join_into(&mut joined);
                self.on_label(name, &joined, source, LabelKind::Host);
            }
            Command::Overwrite => self.on_overwrite(),
            Command::Clabel {
                name,
                value,
                source,
            } => self.on_label(name, value, source, LabelKind::Chart),
            Command::ClabelCommit => self.on_clabel_commit(),
            Command::Function { .. } => self.counters.functions += 1,
            Command::FunctionResultBegin { .. } => self.in_function_result = true,
            Command::FunctionResultEnd => {}
            Command::Empty => {}
            command @ (Command::ClaimedId { .. }
            | Command::ChartDefinitionEnd { .. }
            | Command::ReplayChart { .. }
            | Command::ReplayBegin { .. }
            | Command::ReplaySet { .. }
            | Command::ReplayDimensionState { .. }
            | Command::ReplayChartState { .. }
            | Command::ReplayEnd { .. }) => {
                let verb = command.verb().map_or("", |verb| verb.as_str());
                self.unknown_verb(verb.as_bytes());
            }
            Command::Unknown { verb } => self.unknown_verb(verb),
        }
        Flow::Continue
    }

    fn unknown_verb(&mut self, verb: &[u8]) {
        self.counters.unknown_verbs += 1;
        if let Some(suppressed) = self.complaints.unknown_verbs.check_now() {
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                verb = %pluginsd::TextPreview::new(verb),
                "unknown plugins.d command ignored"
            );
        }
    }

    fn skip_function_result_line(&mut self, line: &[u8]) {
        if Words::new(line).next() == Some(b"FUNCTION_RESULT_END") {
            self.in_function_result = false;
        } else {
            self.counters.function_result_lines += 1;
        }
    }

    fn on_parse_error(&mut self, error: &ParseError) {
        self.counters.parse_errors += 1;
        if let Some(suppressed) = self.complaints.parse.check_now() {
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                %error,
                "malformed plugin line ignored"
            );
        }
    }

    fn sequence_error(&mut self, what: &str) {
        self.counters.sequence_errors += 1;
        if let Some(suppressed) = self.complaints.sequence.check_now() {
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                "{what}"
            );
        }
    }

    #[inline]
    fn on_set(&mut self, dimension_id: &[u8], value: Option<i64>) {
        let Some(block) = self.block.as_mut() else {
            self.set_error("SET outside BEGIN/END ignored", dimension_id);
            return;
        };
        let Some(slot_index) = block.slot else {
            // A block of an unknown chart: already reported at BEGIN.
            return;
        };
        let Some((position, index)) = self.slots[slot_index]
            .dim_ids
            .find(dimension_id, block.next_guess)
        else {
            self.set_error("SET for an unknown dimension ignored", dimension_id);
            return;
        };
        block.next_guess = position + 1;
        if let Some(value) = value {
            block.hints.dimension(index);
            self.pending.push((index, value));
        }
    }

    #[cold]
    fn set_error(&mut self, what: &str, dimension_id: &[u8]) {
        self.counters.set_errors += 1;
        if let Some(suppressed) = self.complaints.sets.check_now() {
            let chart = self
                .block
                .and_then(|block| block.slot)
                .map(|slot| String::from_utf8_lossy(&self.slots[slot].id).into_owned());
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                chart = chart.as_deref().unwrap_or(""),
                dimension = %pluginsd::TextPreview::new(dimension_id),
                "{what}"
            );
        }
    }

    fn on_begin(&mut self, chart_id: &[u8], microseconds: Option<u64>) {
        if self.block.is_some() {
            self.pending.clear();
            self.sequence_error("BEGIN before the previous block's END: its values are dropped");
        }
        // The chart that followed the previous one last round, if this is
        // it; else by hash.
        let guess = self
            .last_begun
            .and_then(|previous| self.slots.get(previous))
            .and_then(|previous| previous.begun_next)
            .filter(|&next| {
                self.slots
                    .get(next)
                    .is_some_and(|slot| *slot.id == *chart_id)
            });
        let slot = guess.or_else(|| self.slot_by_id.get(chart_id).copied());
        let hints = match slot {
            Some(index) => self.prepare_round(index),
            None => {
                self.sequence_error_with_chart(
                    "BEGIN of a chart this plugin did not define",
                    chart_id,
                );
                rrd::RoundHints::default()
            }
        };
        self.block = Some(Block {
            slot,
            microseconds,
            next_guess: 0,
            hints,
        });
        self.current = slot;
    }

    /// Cache hints at the `BEGIN` of slot `index`: its dimension ids and
    /// the chart's state for the coming `SET`s and `END` (the state of the
    /// dimensions after the first few is asked for by each `SET`, through
    /// the returned hints), and the chart that came next last round, for
    /// its own `BEGIN`.
    fn prepare_round(&mut self, index: usize) -> rrd::RoundHints {
        if let Some(previous) = self.last_begun.replace(index) {
            if let Some(previous) = self.slots.get_mut(previous) {
                previous.begun_next = Some(index);
            }
        }
        let slot = &self.slots[index];
        slot.dim_ids.prefetch();
        let hints = slot.chart.prefetch_round();
        if let Some(next) = slot.begun_next.and_then(|next| self.slots.get(next)) {
            crate::sys::prefetch(std::slice::from_ref(next));
            crate::sys::prefetch(&next.id);
            next.chart.prefetch_chart();
        }
        hints
    }

    fn sequence_error_with_chart(&mut self, what: &str, chart_id: &[u8]) {
        self.counters.sequence_errors += 1;
        if let Some(suppressed) = self.complaints.sequence.check_now() {
            tracing::warn!(
                plugin = %self.settings.plugin,
                line = self.line_no,
                suppressed,
                chart = %pluginsd::TextPreview::new(chart_id),
                "{what}"
            );
        }
    }

    fn on_end(&mut self, clock: &mut dyn FnMut() -> u64) {
        let Some(block) = self.block.take() else {
            self.sequence_error("END without BEGIN ignored");
            return;
        };
        self.current = None;
        let Some(slot_index) = block.slot else {
            return;
        };
        let now_ut = clock();
        let slot = &mut self.slots[slot_index];
        let mut writer = slot.chart.write();
        let collected_at = collection_time_ut(
            writer.last_collected_ut(),
            block.microseconds,
            now_ut,
            writer.update_every(),
        );
        for &(index, value) in &self.pending {
            writer.set(index, value);
        }
        let values = self.pending.len() as u64;
        self.pending.clear();
        if writer.is_obsolete() {
            writer.set_obsolete(false);
            slot.def.obsolete = false;
        }
        let result = writer.done(collected_at);
        drop(writer);
        match result {
            Ok(()) => {
                self.counters.collections += 1;
                self.counters.values += values;
            }
            Err(error) => {
                self.counters.time_errors += 1;
                if let Some(suppressed) = self.complaints.time.check_now() {
                    tracing::warn!(
                        plugin = %self.settings.plugin,
                        line = self.line_no,
                        suppressed,
                        %error,
                        "collection round refused"
                    );
                }
            }
        }
    }

    fn on_chart(&mut self, chart: &pluginsd::Chart<'_>) {
        if self.block.take().is_some() {
            self.pending.clear();
            self.sequence_error("CHART inside a BEGIN/END block: the block's values are dropped");
        }
        self.forget_removed_charts();
        let existing = self.slot_by_id.get(chart.type_id).copied();
        if existing.is_none() && self.slots.len() >= self.settings.limits.max_charts {
            self.current = None;
            self.counters.refused_by_limits += 1;
            if !self.charts_limit_logged {
                self.charts_limit_logged = true;
                tracing::warn!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    limit = self.settings.limits.max_charts,
                    chart = %pluginsd::TextPreview::new(chart.type_id),
                    "plugin reached its chart limit: further new charts are ignored"
                );
            }
            return;
        }
        let labels = existing
            .map(|index| self.slots[index].def.labels.clone())
            .unwrap_or_default();
        let def = self.chart_def(chart, labels);
        match existing {
            Some(index) => {
                let slot = &mut self.slots[index];
                if slot.def != def {
                    slot.chart = self.host.create_chart(def.clone());
                    slot.def = def;
                }
                self.current = Some(index);
            }
            None => {
                let chart_arc = self.host.create_chart(def.clone());
                let index = self.slots.len();
                let id: Box<[u8]> = chart.type_id.into();
                self.slot_by_id.insert(id.clone(), index);
                self.slots.push(ChartSlot {
                    id,
                    chart: chart_arc,
                    def,
                    begun_next: None,
                    dims: Vec::new(),
                    dim_ids: DimensionIds::default(),
                    dims_limit_logged: false,
                });
                self.current = Some(index);
            }
        }
    }

    fn chart_def(&self, chart: &pluginsd::Chart<'_>, labels: Vec<Label>) -> ChartDef {
        let mut def = ChartDef::new(lossy(chart.type_part()), lossy(chart.id_part()))
            .name(chart.name.map(lossy).unwrap_or_default())
            .title(lossy(chart.title))
            .units(lossy(chart.units))
            .chart_type(match chart.chart_type {
                pluginsd::ChartType::Line => ChartType::Line,
                pluginsd::ChartType::Area => ChartType::Area,
                pluginsd::ChartType::Stacked => ChartType::Stacked,
            })
            .priority(i64::from(chart.priority))
            .update_every(chart.update_every.unwrap_or(self.settings.update_every));
        if let Some(family) = chart.family {
            def.family = lossy(family);
        }
        if let Some(context) = chart.context {
            def.context = lossy(context);
        }
        def.labels = labels;
        def.obsolete = chart.options.obsolete;
        def.hidden = chart.options.hidden;
        def.plugin = chart
            .plugin
            .map(lossy)
            .unwrap_or_else(|| self.settings.plugin_file.clone());
        def.module = chart.module.map(lossy).unwrap_or_default();
        def
    }

    fn on_dimension(&mut self, dimension: &pluginsd::Dimension<'_>) {
        let Some(index) = self.current else {
            self.sequence_error_with_chart("DIMENSION without a chart ignored", dimension.id);
            return;
        };
        let def = DimensionDef::new(lossy(dimension.id))
            .name(dimension.name.map(lossy).unwrap_or_default())
            .algorithm(match dimension.algorithm {
                DimensionAlgorithm::Absolute => Algorithm::Absolute,
                DimensionAlgorithm::Incremental => Algorithm::Incremental,
                DimensionAlgorithm::PercentageOfAbsoluteRow => Algorithm::PercentageOfAbsoluteRow,
                DimensionAlgorithm::PercentageOfIncrementalRow => {
                    Algorithm::PercentageOfIncrementalRow
                }
            })
            .multiplier(dimension.multiplier)
            .divisor(dimension.divisor)
            .hidden(dimension.options.hidden);
        let limits = self.settings.limits;
        let slot = &mut self.slots[index];
        if let Some(position) = slot.dim_ids.position(dimension.id) {
            let dim = &mut slot.dims[position];
            if dim.def != def {
                let index = slot.chart.write().add_dimension(def.clone());
                slot.dim_ids.set_index(position, index);
                dim.def = def;
            }
            return;
        }
        if slot.dims.len() >= limits.max_dimensions_per_chart {
            self.counters.refused_by_limits += 1;
            if !slot.dims_limit_logged {
                slot.dims_limit_logged = true;
                tracing::warn!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    limit = limits.max_dimensions_per_chart,
                    chart = %String::from_utf8_lossy(&slot.id),
                    "chart reached its dimension limit: further new dimensions are ignored"
                );
            }
            return;
        }
        if self.total_dimensions >= limits.max_dimensions {
            self.counters.refused_by_limits += 1;
            if !self.dimensions_limit_logged {
                self.dimensions_limit_logged = true;
                tracing::warn!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    limit = limits.max_dimensions,
                    "plugin reached its dimension limit: further new dimensions are ignored"
                );
            }
            return;
        }
        let dim_index = slot.chart.write().add_dimension(def.clone());
        slot.dim_ids.push(dimension.id, dim_index);
        slot.dims.push(DimSlot { def });
        self.total_dimensions += 1;
    }

    /// `VARIABLE [GLOBAL|HOST|LOCAL|CHART] name = value`: a host variable,
    /// or one of the current chart (after its `CHART`, or inside its
    /// `BEGIN`/`END`); without a scope keyword, the current chart's when
    /// there is one, as netdata decides.
    fn on_variable(&mut self, scope: Option<pluginsd::VariableScope>, name: &[u8], value: f64) {
        let chart = match scope {
            Some(pluginsd::VariableScope::Global) => None,
            Some(pluginsd::VariableScope::Local) => match self.current {
                Some(slot) => Some(slot),
                None => {
                    self.sequence_error_with_chart(
                        "chart VARIABLE without a current chart (after CHART or BEGIN) ignored",
                        name,
                    );
                    return;
                }
            },
            None => self.current,
        };
        let name = wire::sanitize::variable_name(name);
        let chart = chart.map(|slot| self.slots[slot].chart.clone());
        // A chart variable takes one or two entries of the host's table.
        let entry = match &chart {
            Some(chart) => format!("{}.{name}", chart.id()),
            None => name.clone(),
        };
        let full = self.host.with_variables(|table| {
            table.len() >= self.settings.limits.max_variables && !table.contains(&entry)
        });
        if full {
            self.counters.refused_by_limits += 1;
            if !self.variables_limit_logged {
                self.variables_limit_logged = true;
                tracing::warn!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    limit = self.settings.limits.max_variables,
                    "the host has too many variables: further new ones are ignored"
                );
            }
            return;
        }
        match chart {
            Some(chart) => {
                self.host.set_chart_variable(&chart, &name, value);
            }
            None => {
                self.host.set_variable(&name, value);
            }
        }
        self.counters.variables += 1;
    }

    fn on_label(&mut self, name: &[u8], value: &[u8], source: i64, kind: LabelKind) {
        let pending_len = match kind {
            LabelKind::Host => self.pending_host_labels.len(),
            LabelKind::Chart => self.pending_chart_labels.len(),
        };
        if pending_len >= self.settings.limits.max_pending_labels {
            self.counters.refused_by_limits += 1;
            if !self.labels_limit_logged {
                self.labels_limit_logged = true;
                tracing::warn!(
                    plugin = %self.settings.plugin,
                    line = self.line_no,
                    limit = self.settings.limits.max_pending_labels,
                    "plugin sent too many labels at once: further labels are ignored"
                );
            }
            return;
        }
        let Some(key) = wire::sanitize::sanitize_label_key(&String::from_utf8_lossy(name)) else {
            self.sequence_error_with_chart("label with an unusable name ignored", name);
            return;
        };
        let value = wire::sanitize::sanitize_label_value(&String::from_utf8_lossy(value));
        let source = if source & LABEL_SOURCE_CONFIG != 0 {
            LabelSource::Configured
        } else {
            LabelSource::Automatic
        };
        let label = Label::new(key, value, source);
        match kind {
            LabelKind::Host => self.pending_host_labels.push(label),
            LabelKind::Chart => self.pending_chart_labels.push(label),
        }
    }

    fn on_overwrite(&mut self) {
        let new_labels = std::mem::take(&mut self.pending_host_labels);
        let _guard = HOST_LABELS_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.host.labels();
        let mut labels: Vec<Label> = current
            .iter()
            .filter(|label| {
                !self.own_host_label_keys.contains(&label.key)
                    && !new_labels.iter().any(|new| new.key == label.key)
            })
            .cloned()
            .collect();
        self.own_host_label_keys = new_labels.iter().map(|label| label.key.clone()).collect();
        self.counters.labels += new_labels.len() as u64;
        labels.extend(dedup_by_key(new_labels));
        self.host.set_labels(labels);
    }

    fn on_clabel_commit(&mut self) {
        let labels = dedup_by_key(std::mem::take(&mut self.pending_chart_labels));
        let Some(index) = self.current else {
            self.sequence_error("CLABEL_COMMIT without a chart ignored");
            return;
        };
        self.counters.labels += labels.len() as u64;
        let slot = &mut self.slots[index];
        if slot.def.labels != labels {
            slot.def.labels = labels;
            slot.chart.write().redefine(slot.def.clone());
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum LabelKind {
    Host,
    Chart,
}

/// Keeps the last label of each key, in first-seen order.
fn dedup_by_key(labels: Vec<Label>) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::with_capacity(labels.len());
    for label in labels {
        match out.iter_mut().find(|kept| kept.key == label.key) {
            Some(kept) => *kept = label,
            None => out.push(label),
        }
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The time of a collection round completed at wall clock `now_ut` (see the
/// [module docs](self)): the plugin's own interval since `last_ut` when it
/// gave one and the chart is not far behind, else the wall clock.
///
/// ```
/// use backhaul::collectors::pluginsd::ingest::collection_time_ut;
/// let s = 1_000_000;
/// // Trusted: 1.000144 s after the previous round.
/// assert_eq!(collection_time_ut(100 * s, Some(1_000_144), 101 * s + 3_000, 1), 101 * s + 144);
/// // No interval given, or first round: the wall clock.
/// assert_eq!(collection_time_ut(100 * s, None, 101 * s, 1), 101 * s);
/// assert_eq!(collection_time_ut(0, Some(s), 101 * s, 1), 101 * s);
/// // More than 5 update everys behind: the wall clock.
/// assert_eq!(collection_time_ut(100 * s, Some(s), 106 * s + 1, 1), 106 * s + 1);
/// ```
pub fn collection_time_ut(
    last_ut: u64,
    microseconds: Option<u64>,
    now_ut: u64,
    update_every: u32,
) -> u64 {
    let step_ut = u64::from(update_every.max(1)) * USEC_PER_SEC;
    match microseconds {
        Some(microseconds)
            if last_ut != 0 && now_ut >= last_ut && now_ut - last_ut <= 5 * step_ut =>
        {
            let trusted = last_ut.saturating_add(microseconds);
            if trusted <= now_ut.saturating_add(step_ut / 10) {
                trusted
            } else {
                now_ut
            }
        }
        _ => now_ut,
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
