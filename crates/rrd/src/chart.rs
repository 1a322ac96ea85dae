//! `Chart`: one chart's definition, its dimensions, their rings of
//! `PackedSample`s, and the collection math that turns collected integers
//! into stored points on the chart's time grid.
//!
//! # Time
//!
//! Collections are timestamped in microseconds since the epoch, passed in by
//! the caller (the store never reads a clock). Stored points live on a grid
//! of whole seconds that are multiples of the chart's `update_every`.
//!
//! # Collection math
//!
//! After a collector has set raw values, [`ChartWriter::done`] at time `T`
//! stores one point for every grid time `g` in `(last stored, T]`:
//!
//! * `absolute`: `raw × multiplier / divisor`, linearly interpolated between
//!   the previous collection and this one at `g`.
//! * `incremental`: `(raw − previous raw) × multiplier / divisor` divided by
//!   the seconds between the two collections: a per-second rate, the same for
//!   every grid time inside the interval.
//! * `percentage-of-absolute-row`: `raw / Σ raw × 100 × multiplier / divisor`
//!   over the dimensions collected this round, interpolated like `absolute`.
//! * `percentage-of-incremental-row`: the same over the deltas, constant over
//!   the interval like `incremental`. A row whose deltas sum to 0 stores 0.
//!
//! Special cases:
//!
//! * **First collection** of a dimension: `absolute` rows store their value
//!   at the grid time at or before `T`; incremental rows store nothing (a
//!   rate needs two collections).
//! * **Gap**: when more than [`GAP_FACTOR`] × `update_every` passed since the
//!   dimension's previous collection, the grid times in between stay empty.
//!   The new collection is treated like a first collection (absolute rows
//!   store the value at the last grid time, incremental rows only remember
//!   the counter): no value is invented for the time nobody looked.
//! * **Counter reset or wrap**: an incremental counter that went backwards
//!   stores an empty slot for its grid times (no spike, no negative rate) and
//!   restarts from the new raw value.
//! * **Not collected**: a dimension not set this round stores empty slots.
//! * **Time going backwards** (`T` not after the previous collection): the
//!   round is refused with [`CollectError::TimeWentBackwards`]; nothing is
//!   stored and the raw values set this round are discarded.
//!
//! # Ring
//!
//! Every dimension has `history` slots; all dimensions of a chart share the
//! slot index (`head` is the slot of the newest grid time). Advancing by more
//! than `history` steps clears the ring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::host::ChartIndex;

use crate::def::{Algorithm, ChartDef, DimensionDef};
use crate::packed::PackedSample;
use crate::query::{SlotWindow, StoredPoint, WindowAggregate};
use crate::variables::CustomVariables;

/// The most of a row [`ChartState::prefetch_row_after`] asks for (the
/// first 1,024 dimensions).
pub const PREFETCH_ROW_MAX: usize = 4096;

const CACHE_LINE: usize = 64;

/// Hints the CPU to bring the cache line holding `at` into its caches.
/// Only a hint: it reads nothing, and cannot fault whatever the address.
#[inline(always)]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect on memory and cannot fault, whatever
    // the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// How many dimensions' state [`Chart::prefetch_round`] asks for at once;
/// the rest are asked for one by one ([`RoundHints::dimension`]).
const ROUND_HINTS_AHEAD: usize = 4;

/// Where a chart's dimension state was when [`Chart::prefetch_round`]
/// looked: only an address for cache hints (never read through; a stale
/// one costs a useless hint, nothing else).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundHints {
    dims_at: usize,
    dims: usize,
}

impl RoundHints {
    /// Hints that dimension `dim`'s state will be written at the end of
    /// this round. No effect on results.
    #[inline(always)]
    pub fn dimension(&self, dim: DimIndex) {
        if dim < self.dims {
            prefetch(
                (self.dims_at as *const u8).wrapping_add(dim * std::mem::size_of::<Dimension>()),
            );
        }
    }
}

/// A collection interval longer than this many grid steps is a gap.
pub const GAP_FACTOR: f64 = 1.5;

const USEC_PER_SEC: u64 = 1_000_000;

/// Why a collection round was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    #[error(
        "chart '{chart}': collection time {now_ut} us is not after the previous one ({last_ut} us)"
    )]
    TimeWentBackwards {
        chart: String,
        now_ut: u64,
        last_ut: u64,
    },
}

/// A dimension index inside its chart; stable for the chart's life.
pub type DimIndex = usize;

/// One dimension: its definition and its collection state (its ring lives
/// in the chart's sample block).
///
/// What a collection round reads and writes sits inline (64 bytes, one
/// cache line: the state, the algorithm, the multiplier and divisor as
/// 32-bit integers when they fit); the definition and stored name, which
/// rounds never read, sit behind a box. A round walks a chart's dimensions
/// in order, so the less of each it touches, the fewer cache lines a
/// received value costs.
#[repr(align(64))]
pub struct Dimension {
    described: Box<Described>,
    /// Raw value set in the current round (when `has_pending`).
    pending: i64,
    /// The last collected raw value and its time (µs); `last_collected_ut`
    /// is 0 before the first collection.
    last_collected_value: i64,
    last_collected_ut: u64,
    /// The value computed at the last collection (absolute rows), used to
    /// interpolate the next one (when `has_last_calculated`; when not, the
    /// next one starts afresh).
    last_calculated: f64,
    /// The value stored at the newest grid time, before packing (NaN when
    /// that slot is empty for this dimension).
    last_stored_value: f64,
    /// `def.multiplier` and `def.divisor` when both fit in 32 bits (then
    /// converted exactly to floats); both 0 when not: then the definition's
    /// are read (rare: netdata's factors are small). `def.algorithm`.
    multiplier: i32,
    divisor: i32,
    algorithm: Algorithm,
    has_pending: bool,
    has_last_calculated: bool,
    /// For incremental rows, whether `last_collected_value` is a usable base.
    has_base: bool,
}

/// The part of a [`Dimension`] collection rounds do not read.
struct Described {
    def: DimensionDef,
    /// The name as netdata stores it ([`crate::def::fix_dimension_name`]),
    /// when that differs from the given name.
    stored_name: Option<Box<str>>,
}

/// A definition's multiplier and divisor as 32-bit integers, or (0, 0) when
/// either does not fit (or the divisor is 0): see [`Dimension::factors`].
fn narrow_factors(def: &DimensionDef) -> (i32, i32) {
    match (i32::try_from(def.multiplier), i32::try_from(def.divisor)) {
        (Ok(multiplier), Ok(divisor)) if divisor != 0 => (multiplier, divisor),
        _ => (0, 0),
    }
}

fn stored_name(def: &DimensionDef) -> Option<Box<str>> {
    let fixed = crate::def::fix_dimension_name(def.display_name());
    (fixed != def.display_name()).then(|| fixed.into_boxed_str())
}

impl Dimension {
    fn new(def: DimensionDef) -> Dimension {
        let (multiplier, divisor) = narrow_factors(&def);
        Dimension {
            pending: 0,
            last_collected_value: 0,
            last_collected_ut: 0,
            last_calculated: 0.0,
            last_stored_value: f64::NAN,
            multiplier,
            divisor,
            algorithm: def.algorithm,
            has_pending: false,
            has_last_calculated: false,
            has_base: false,
            described: Box::new(Described {
                stored_name: stored_name(&def),
                def,
            }),
        }
    }

    /// Takes a new definition (and what rounds read of it).
    fn redefine(&mut self, def: DimensionDef) {
        (self.multiplier, self.divisor) = narrow_factors(&def);
        self.algorithm = def.algorithm;
        self.described.stored_name = stored_name(&def);
        self.described.def = def;
    }

    /// The multiplier and divisor as the round computes with them.
    #[inline]
    fn factors(&self) -> (f64, f64) {
        if self.divisor != 0 {
            (f64::from(self.multiplier), f64::from(self.divisor))
        } else {
            let def = &self.described.def;
            (def.multiplier as f64, def.divisor as f64)
        }
    }

    #[inline]
    fn take_pending(&mut self) -> Option<i64> {
        let pending = self.has_pending.then_some(self.pending);
        self.has_pending = false;
        pending
    }

    #[inline]
    fn last_calculated(&self) -> Option<f64> {
        self.has_last_calculated.then_some(self.last_calculated)
    }

    #[inline]
    fn set_last_calculated(&mut self, value: Option<f64>) {
        self.has_last_calculated = value.is_some();
        self.last_calculated = value.unwrap_or(0.0);
    }

    pub fn def(&self) -> &DimensionDef {
        &self.described.def
    }
    pub fn id(&self) -> &str {
        &self.described.def.id
    }
    /// The name as stored: the given name (or the id), with each byte of a
    /// multi-byte character and each control byte turned into `_`.
    pub fn name(&self) -> &str {
        self.described
            .stored_name
            .as_deref()
            .unwrap_or(self.described.def.display_name())
    }
    /// The last collected raw value (before multiplier and divisor) and its
    /// time in µs, or `None` before the first collection: the seed's
    /// "as collected" source.
    pub fn last_collected(&self) -> Option<(i64, u64)> {
        (self.last_collected_ut != 0).then_some((self.last_collected_value, self.last_collected_ut))
    }
    /// The value stored at the chart's newest grid time, at full precision
    /// (before packing), or `None` when that slot is empty for this
    /// dimension: netdata's `last_stored_value`, served by the shell and
    /// json forms of `/api/v1/allmetrics`.
    pub fn last_stored_value(&self) -> Option<f64> {
        (!self.last_stored_value.is_nan()).then_some(self.last_stored_value)
    }
}

/// Everything about a chart that sits behind its lock.
pub struct ChartState {
    def: ChartDef,
    full_id: String,
    full_name: String,
    dims: Vec<Dimension>,
    dim_by_id: HashMap<String, DimIndex>,
    /// The rings of all dimensions, slot-major: slot `s` of dimension `d` is
    /// `samples[s * dims.len() + d]`. A collection round writes one row and
    /// a window over all dimensions reads consecutive rows, so both walk
    /// memory forward whatever the history length.
    samples: Vec<PackedSample>,
    history: usize,
    /// Slot of the newest stored grid time.
    head: usize,
    /// Newest stored grid time (seconds); 0 before anything was stored.
    last_stored_t: i64,
    /// How many slots hold data of this ring generation (≤ history).
    filled: usize,
    /// Time of the last completed collection round (µs); 0 before.
    last_collected_ut: u64,
    /// Bumped whenever the definition or the set of dimensions changes, so
    /// readers can cache what they derive from them.
    generation: u64,
    rounds: u64,
    /// How many dimensions have no collection (`last_collected` is `None`):
    /// a reader that skips those need not look at any dimension when none
    /// is left.
    uncollected_dims: usize,
    /// A streaming child is sending this chart's history (replication):
    /// what the store holds is not yet whole.
    receiving_history: bool,
    /// How many times receiving history ended: a reader that forwarded
    /// the chart sees history it has not sent.
    histories_received: u32,
    /// The chart's custom variables (`VARIABLE LOCAL`); see
    /// [`crate::Host::set_chart_variable`].
    variables: CustomVariables,
}

/// A chart: an immutable id and its state behind a reader-writer lock.
///
/// Writers ([`Chart::write`]) hold the lock for one collection round;
/// readers ([`Chart::read`]) for as long as they read this one chart.
///
/// # Removal
///
/// A host removes obsolete charts after a while ([`crate::Host::remove_obsolete_charts`]).
/// A collector that still holds a removed chart and completes a round in it
/// ([`ChartWriter::done`]) puts it back into its host's index, so a source
/// that returns after the cleanup finds its chart again, data included.
pub struct Chart {
    full_id: Box<str>,
    state: RwLock<ChartState>,
    /// This chart, for putting it back into `index`.
    me: Weak<Chart>,
    /// The chart index of the host that created it.
    index: Weak<RwLock<ChartIndex>>,
    removed: AtomicBool,
}

impl Chart {
    pub(crate) fn new(
        def: ChartDef,
        history: usize,
        index: Weak<RwLock<ChartIndex>>,
    ) -> Arc<Chart> {
        let history = history.max(2);
        let full_id = def.full_id();
        let full_name = def.full_name();
        Arc::new_cyclic(|me| Chart {
            me: me.clone(),
            index,
            removed: AtomicBool::new(false),
            full_id: full_id.clone().into_boxed_str(),
            state: RwLock::new(ChartState {
                def,
                full_id,
                full_name,
                dims: Vec::new(),
                dim_by_id: HashMap::new(),
                samples: Vec::new(),
                history,
                head: 0,
                last_stored_t: 0,
                filled: 0,
                last_collected_ut: 0,
                generation: 1,
                rounds: 0,
                uncollected_dims: 0,
                receiving_history: false,
                histories_received: 0,
                variables: CustomVariables::default(),
            }),
        })
    }

    /// True when its host removed the chart (obsolete for too long) and no
    /// round completed in it since.
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    pub(crate) fn set_removed(&self, removed: bool) {
        self.removed.store(removed, Ordering::Release);
    }

    /// The chart's `type.id`.
    pub fn id(&self) -> &str {
        &self.full_id
    }

    /// Locks the chart for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, ChartState> {
        self.state.read()
    }

    /// Locks the chart for reading if no writer holds it, without waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, ChartState>> {
        self.state.try_read()
    }

    /// Hints the CPU to fetch the chart's lock and the state fields a
    /// window read looks at, without locking or reading anything: a reader
    /// that walks many charts calls it a chart or two ahead, so that the
    /// cache lines the collector's core last wrote are on their way while
    /// it works on the current chart.
    #[inline]
    pub fn prefetch(&self) {
        let state = self.state.data_ptr().cast_const().cast::<u8>();
        prefetch(std::ptr::from_ref(&self.state).cast::<u8>());
        for offset in [
            std::mem::offset_of!(ChartState, samples),
            std::mem::offset_of!(ChartState, head),
            std::mem::offset_of!(ChartState, dims),
            std::mem::offset_of!(ChartState, generation),
        ] {
            prefetch(state.wrapping_add(offset));
        }
    }

    /// Locks the chart for a collection round or a definition change.
    pub fn write(&self) -> ChartWriter<'_> {
        ChartWriter {
            chart: self,
            state: self.state.write(),
        }
    }

    /// Hints that a collection round of this chart is coming: starts
    /// loading into the CPU's caches the ring row the round will write and
    /// the first dimensions' state, and returns where the others' state
    /// is, so each can be asked for as its value arrives
    /// ([`RoundHints::dimension`]): the loads overlap with the parsing of
    /// the round's values instead of stalling `done`, and are spread out
    /// instead of queued all at once. Returns empty hints while a writer
    /// holds the chart. No effect on results.
    pub fn prefetch_round(&self) -> RoundHints {
        let Some(state) = self.state.try_read() else {
            return RoundHints::default();
        };
        let width = state.dims.len();
        prefetch_slice(&state.dims[..width.min(ROUND_HINTS_AHEAD)]);
        let next = (state.head + 1) % state.history;
        if let Some(row) = state.samples.get(next * width..(next + 1) * width) {
            prefetch_slice(row);
        }
        RoundHints {
            dims_at: state.dims.as_ptr() as usize,
            dims: width,
        }
    }

    /// Hints that this chart will be used soon: starts loading the chart
    /// itself (its lock and the head of its state), so that a later
    /// [`Chart::prefetch_round`] or [`Chart::write`] finds it in cache. No
    /// effect on results.
    pub fn prefetch_chart(&self) {
        prefetch_slice(std::slice::from_ref(self));
    }

    /// Puts a removed chart back into its host's index (unless a chart with
    /// the same id was created there meanwhile). Called with the chart's
    /// write lock held: the host never takes a chart lock while it holds its
    /// index lock, so the order chart -> index cannot deadlock.
    fn reinstate(&self, full_name: String) {
        let (Some(me), Some(index)) = (self.me.upgrade(), self.index.upgrade()) else {
            return;
        };
        let mut index = index.write();
        if !self.is_removed() {
            return;
        }
        index.reinstate(me, full_name);
        self.set_removed(false);
    }
}

impl std::fmt::Debug for Chart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chart").field("id", &self.full_id).finish()
    }
}

/// Read access to a chart (through the read guard).
impl ChartState {
    pub fn def(&self) -> &ChartDef {
        &self.def
    }
    /// `type.id`.
    pub fn id(&self) -> &str {
        &self.full_id
    }
    /// `type.name` (the id when there is no name).
    pub fn name(&self) -> &str {
        &self.full_name
    }
    pub fn update_every(&self) -> u32 {
        self.def.update_every
    }
    pub fn history(&self) -> usize {
        self.history
    }
    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn is_obsolete(&self) -> bool {
        self.def.obsolete
    }
    /// Bytes allocated for the dimensions' rings.
    pub fn sample_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<PackedSample>()
    }
    /// Completed collection rounds.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }
    /// Whether a streaming child is sending this chart's history now
    /// ([`ChartWriter::set_receiving_history`]).
    pub fn is_receiving_history(&self) -> bool {
        self.receiving_history
    }
    /// How many times receiving history ended: when it changes, points
    /// were stored that no collection round announced.
    pub fn histories_received(&self) -> u32 {
        self.histories_received
    }
    /// The chart's custom variables, in the order they were first set.
    pub fn variables(&self) -> &CustomVariables {
        &self.variables
    }
    /// Time of the last completed collection round (µs), 0 before any.
    pub fn last_collected_ut(&self) -> u64 {
        self.last_collected_ut
    }
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }
    /// Whether every dimension has been collected (none has
    /// [`Dimension::last_collected`] `None`), without reading them.
    #[inline]
    pub fn all_dimensions_collected(&self) -> bool {
        self.uncollected_dims == 0
    }
    pub fn dimension(&self, index: DimIndex) -> Option<&Dimension> {
        self.dims.get(index)
    }
    pub fn dimension_index(&self, id: &str) -> Option<DimIndex> {
        self.dim_by_id.get(id).copied()
    }
    /// The sample of dimension `dim` in ring slot `slot`.
    #[inline]
    pub fn sample(&self, slot: usize, dim: DimIndex) -> Option<PackedSample> {
        if dim >= self.dims.len() {
            return None;
        }
        self.samples.get(slot * self.dims.len() + dim).copied()
    }

    /// Hints the CPU to fetch the row of the oldest held grid time after
    /// `after` (at most [`PREFETCH_ROW_MAX`] bytes of it): what a window
    /// starting there reads first. Reads no sample.
    #[inline]
    pub fn prefetch_row_after(&self, after: i64) {
        let Some(first) = self.first_entry_t() else {
            return;
        };
        let ue = i64::from(self.def.update_every.max(1));
        let t = ((after.div_euclid(ue) + 1) * ue).max(first);
        let Some(slot) = self.time_to_slot(t) else {
            return;
        };
        let row = self.row(slot);
        let bytes = std::mem::size_of_val(row).min(PREFETCH_ROW_MAX);
        let start = row.as_ptr().cast::<u8>();
        for offset in (0..bytes).step_by(CACHE_LINE) {
            prefetch(start.wrapping_add(offset));
        }
    }

    /// Ring slot `slot` of every dimension, in dimension order.
    #[inline]
    pub fn row(&self, slot: usize) -> &[PackedSample] {
        let n = self.dims.len();
        self.samples.get(slot * n..(slot + 1) * n).unwrap_or(&[])
    }

    pub fn dimension_index_by_name(&self, name: &str) -> Option<DimIndex> {
        self.dims.iter().position(|d| d.name() == name)
    }

    /// Grid time of the oldest slot still held, or `None` when empty.
    pub fn first_entry_t(&self) -> Option<i64> {
        (self.filled > 0).then(|| {
            self.last_stored_t - (self.filled as i64 - 1) * i64::from(self.def.update_every)
        })
    }

    /// Grid time of the newest slot, or `None` when empty.
    pub fn last_entry_t(&self) -> Option<i64> {
        (self.filled > 0).then_some(self.last_stored_t)
    }

    /// The slot holding grid time `t`, if `t` is a held grid time.
    pub fn time_to_slot(&self, t: i64) -> Option<usize> {
        let first = self.first_entry_t()?;
        let ue = i64::from(self.def.update_every);
        if t < first || t > self.last_stored_t || t % ue != 0 {
            return None;
        }
        let back = ((self.last_stored_t - t) / ue) as usize;
        Some((self.head + self.history - back) % self.history)
    }

    /// The held grid times `t` with `after < t <= before`, as slots.
    pub fn window(&self, after: i64, before: i64) -> Option<SlotWindow> {
        let first = self.first_entry_t()?;
        let ue = i64::from(self.def.update_every);
        // First grid time strictly after `after`, last at or before `before`.
        let lo = (after.div_euclid(ue) + 1) * ue;
        let hi = before.div_euclid(ue) * ue;
        let lo = lo.max(first);
        let hi = hi.min(self.last_stored_t);
        if lo > hi {
            return None;
        }
        let count = ((hi - lo) / ue) as usize + 1;
        let last_slot = self.time_to_slot(hi)?;
        let first_slot = (last_slot + self.history + 1 - count) % self.history;
        Some(SlotWindow {
            first_slot,
            count,
            first_t: lo,
            step: ue,
            history: self.history,
        })
    }

    /// Sum and count of the stored points of dimension `dim` in the window,
    /// skipping empty slots.
    #[inline]
    pub fn aggregate(&self, dim: DimIndex, window: &SlotWindow) -> WindowAggregate {
        let mut agg = WindowAggregate::default();
        if dim >= self.dims.len() {
            return agg;
        }
        for slot in window.slots() {
            let s = self.samples[slot * self.dims.len() + dim];
            if s.exists() {
                agg.sum += s.value_unchecked();
                agg.count += 1;
            }
        }
        agg
    }

    /// Sum and count of every dimension's stored points in the window, in
    /// dimension order, into `out` (cleared first). Reads the window's rows
    /// front to back: the fast path for exporting a whole chart.
    pub fn aggregate_all(&self, window: &SlotWindow, out: &mut Vec<WindowAggregate>) {
        out.clear();
        out.resize(self.dims.len(), WindowAggregate::default());
        for slot in window.slots() {
            for (agg, s) in out.iter_mut().zip(self.row(slot)) {
                agg.sum += s.summand();
                agg.count += s.exists_count();
            }
        }
    }

    /// Sum and count of `dim`'s stored points with `after < t <= before`.
    pub fn aggregate_between(&self, dim: DimIndex, after: i64, before: i64) -> WindowAggregate {
        match self.window(after, before) {
            Some(w) => self.aggregate(dim, &w),
            None => WindowAggregate::default(),
        }
    }

    /// The stored (non-empty) points of `dim` with `after < t <= before`,
    /// oldest first.
    pub fn points(&self, dim: DimIndex, after: i64, before: i64) -> Vec<StoredPoint> {
        let Some(w) = self.window(after, before) else {
            return Vec::new();
        };
        if dim >= self.dims.len() {
            return Vec::new();
        }
        w.slots()
            .enumerate()
            .filter_map(|(k, slot)| {
                self.sample(slot, dim)?.unpack().map(|value| StoredPoint {
                    time: w.first_t + k as i64 * w.step,
                    value,
                })
            })
            .collect()
    }
}

/// Write access to a chart: set raw values, then complete the round with
/// [`ChartWriter::done`]; or change the definition.
pub struct ChartWriter<'a> {
    chart: &'a Chart,
    state: RwLockWriteGuard<'a, ChartState>,
}

impl std::ops::Deref for ChartWriter<'_> {
    type Target = ChartState;
    fn deref(&self) -> &ChartState {
        &self.state
    }
}

impl ChartWriter<'_> {
    /// Replaces the chart's definition (title, units, labels, obsolete, ...).
    /// The id cannot change. A changed `update_every` clears the ring, since
    /// the old points no longer sit on the new grid.
    pub fn redefine(&mut self, mut def: ChartDef) {
        let s = &mut *self.state;
        def.type_.clone_from(&s.def.type_);
        def.id.clone_from(&s.def.id);
        def.update_every = def.update_every.max(1);
        if def == s.def {
            return;
        }
        if def.update_every != s.def.update_every {
            s.clear_ring();
        }
        s.full_name = def.full_name();
        s.def = def;
        s.generation += 1;
    }

    /// Marks the chart obsolete (or not): its collector stopped providing it.
    pub fn set_obsolete(&mut self, obsolete: bool) {
        if self.state.def.obsolete != obsolete {
            self.state.def.obsolete = obsolete;
            self.state.generation += 1;
        }
    }

    /// Sets the chart's custom variable `name`; `true` when that changed
    /// it. [`crate::Host::set_chart_variable`] also enters it in the
    /// host's table.
    pub fn set_variable(&mut self, name: &str, value: f64) -> bool {
        self.state.variables.set(name, value)
    }

    /// Marks the chart as receiving a streaming child's history (points
    /// stored with [`ChartWriter::store_point`], not by rounds), or as done
    /// with it. Ending it counts in
    /// [`ChartState::histories_received`].
    pub fn set_receiving_history(&mut self, receiving: bool) {
        let s = &mut *self.state;
        if s.receiving_history && !receiving {
            s.histories_received = s.histories_received.wrapping_add(1);
        }
        s.receiving_history = receiving;
    }

    /// Adds a dimension, or updates the one with the same id, and returns its
    /// index. Changing the algorithm of an existing dimension restarts its
    /// collection (the old base is not comparable).
    pub fn add_dimension(&mut self, def: DimensionDef) -> DimIndex {
        let s = &mut *self.state;
        if let Some(&i) = s.dim_by_id.get(&def.id) {
            let d = &mut s.dims[i];
            if *d.def() != def {
                let old = d.def();
                if old.algorithm != def.algorithm
                    || old.multiplier != def.multiplier
                    || old.divisor != def.divisor
                {
                    d.set_last_calculated(None);
                    d.has_base = false;
                }
                d.redefine(def);
                s.generation += 1;
            }
            return i;
        }
        let i = s.dims.len();
        s.dim_by_id.insert(def.id.clone(), i);
        s.dims.push(Dimension::new(def));
        s.uncollected_dims += 1;
        s.widen_rows(i);
        s.generation += 1;
        i
    }

    /// Sets the raw value of dimension `dim` for this round.
    #[inline]
    pub fn set(&mut self, dim: DimIndex, raw: i64) -> bool {
        match self.state.dims.get_mut(dim) {
            Some(d) => {
                d.pending = raw;
                d.has_pending = true;
                true
            }
            None => false,
        }
    }

    /// Sets the raw value of the dimension with id `id`; false if unknown.
    pub fn set_by_id(&mut self, id: &str, raw: i64) -> bool {
        match self.state.dim_by_id.get(id).copied() {
            Some(i) => self.set(i, raw),
            None => false,
        }
    }

    /// Stores a point computed elsewhere (a streaming child's replicated
    /// `RSET` values) at grid time `t` (seconds; rounded down to the
    /// chart's grid). After the newest point it is appended (the slots in
    /// between stay empty, the oldest points make room); inside the held
    /// range it fills only samples that are empty (what was collected here
    /// stays); older than the held range it is dropped. NaN values, and
    /// dimensions not given, leave their sample as it was. Collection state
    /// (for the next `done`) is not changed.
    pub fn store_point(&mut self, t: i64, values: &[(DimIndex, f64)]) -> StoredAs {
        self.state.store_point(t, values)
    }

    /// Sets a dimension's last collected raw value and its time (µs), as a
    /// streaming child reports them after replication (`RDSTATE`), so the
    /// next collection of an incremental dimension has its base.
    pub fn set_last_collected(&mut self, dim: DimIndex, raw: i64, collected_ut: u64) {
        let s = &mut *self.state;
        if let Some(d) = s.dims.get_mut(dim) {
            match (d.last_collected_ut == 0, collected_ut == 0) {
                (true, false) => s.uncollected_dims -= 1,
                (false, true) => s.uncollected_dims += 1,
                _ => {}
            }
            d.last_collected_value = raw;
            d.last_collected_ut = collected_ut;
            d.has_base = collected_ut != 0;
            d.set_last_calculated(None);
        }
        if collected_ut > self.state.last_collected_ut {
            self.state.last_collected_ut = collected_ut;
        }
    }

    /// Completes the round at `now_ut` (µs since the epoch): computes and
    /// stores the points for every grid time up to `now_ut`. See the module
    /// documentation for the math.
    ///
    /// A chart its host removed is put back into the host's index first.
    pub fn done(&mut self, now_ut: u64) -> Result<(), CollectError> {
        if self.chart.is_removed() {
            self.chart.reinstate(self.state.full_name.clone());
        }
        self.state.complete_round(now_ut)
    }
}

/// What [`ChartWriter::store_point`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredAs {
    /// A new newest point.
    Appended,
    /// Empty samples inside the held range filled (how many).
    Filled(usize),
    /// Older than the oldest held point (or no dimension): dropped.
    Dropped,
}

impl ChartState {
    fn store_point(&mut self, t: i64, values: &[(DimIndex, f64)]) -> StoredAs {
        let width = self.dims.len();
        if width == 0 {
            return StoredAs::Dropped;
        }
        if self.samples.capacity() > self.samples.len() {
            self.samples.shrink_to_fit();
        }
        let ue = i64::from(self.def.update_every);
        let t = t.div_euclid(ue) * ue;
        let write = |samples: &mut [PackedSample], slot: usize, only_empty: bool| {
            let mut written = 0;
            for &(dim, value) in values {
                if dim >= width || value.is_nan() {
                    continue;
                }
                let sample = &mut samples[slot * width + dim];
                if only_empty && sample.exists() {
                    continue;
                }
                *sample = PackedSample::pack(value);
                written += 1;
            }
            written
        };
        if self.filled == 0 || t > self.last_stored_t {
            let steps = if self.filled == 0 {
                1
            } else {
                ((t - self.last_stored_t) / ue) as usize
            };
            if steps >= self.history || self.filled == 0 {
                self.samples.fill(PackedSample::EMPTY);
                self.filled = 0;
                self.head = self.history - 1;
            }
            let advance = steps.min(self.history);
            for k in 1..=advance {
                let slot = (self.head + k) % self.history;
                self.samples[slot * width..(slot + 1) * width].fill(PackedSample::EMPTY);
            }
            self.head = (self.head + advance) % self.history;
            self.filled = (self.filled + advance).min(self.history);
            self.last_stored_t = t;
            let head = self.head;
            write(&mut self.samples, head, false);
            for d in &mut self.dims {
                d.last_stored_value = f64::NAN;
            }
            for &(dim, value) in values {
                if let Some(d) = self.dims.get_mut(dim) {
                    d.last_stored_value = value;
                }
            }
            return StoredAs::Appended;
        }
        match self.time_to_slot(t) {
            Some(slot) => StoredAs::Filled(write(&mut self.samples, slot, true)),
            None => StoredAs::Dropped,
        }
    }

    /// Makes room for one more column after dimension `old_width - 1`.
    fn widen_rows(&mut self, old_width: usize) {
        let new_width = old_width + 1;
        if self.filled == 0 {
            // Nothing stored: the layout of empty samples does not matter.
            self.samples
                .resize(self.history * new_width, PackedSample::EMPTY);
            return;
        }
        let mut wider = Vec::with_capacity(self.history * new_width);
        for row in self
            .samples
            .chunks_exact(old_width.max(1))
            .take(self.history)
        {
            if old_width > 0 {
                wider.extend_from_slice(row);
            }
            wider.push(PackedSample::EMPTY);
        }
        wider.resize(self.history * new_width, PackedSample::EMPTY);
        self.samples = wider;
    }

    fn clear_ring(&mut self) {
        self.samples.fill(PackedSample::EMPTY);
        for d in &mut self.dims {
            d.set_last_calculated(None);
            d.last_stored_value = f64::NAN;
        }
        self.filled = 0;
        self.head = 0;
        self.last_stored_t = 0;
    }

    fn complete_round(&mut self, now_ut: u64) -> Result<(), CollectError> {
        if self.samples.capacity() > self.samples.len() {
            // Dimensions were added (the block grew with slack): give the
            // slack back once, so a point costs exactly 4 bytes.
            self.samples.shrink_to_fit();
        }
        if self.last_collected_ut != 0 && now_ut <= self.last_collected_ut {
            for d in &mut self.dims {
                d.has_pending = false;
            }
            return Err(CollectError::TimeWentBackwards {
                chart: self.full_id.clone(),
                now_ut,
                last_ut: self.last_collected_ut,
            });
        }
        let ue = i64::from(self.def.update_every);
        let ue_ut = u64::from(self.def.update_every) * USEC_PER_SEC;
        let now_grid = ((now_ut / ue_ut) * ue_ut / USEC_PER_SEC) as i64;

        // Grid times to write this round: (last_stored_t, now_grid].
        let (first_new, steps) = if self.filled == 0 {
            (now_grid, 1usize)
        } else if now_grid > self.last_stored_t {
            let steps = ((now_grid - self.last_stored_t) / ue) as usize;
            (self.last_stored_t + ue, steps)
        } else {
            (now_grid, 0)
        };

        // Row totals for the percentage algorithms.
        let mut abs_row_total = 0.0f64;
        let mut inc_row_total = 0.0f64;
        for d in &self.dims {
            if !d.has_pending {
                continue;
            }
            let raw = d.pending;
            match d.algorithm {
                Algorithm::PercentageOfAbsoluteRow => abs_row_total += raw as f64,
                Algorithm::PercentageOfIncrementalRow if d.has_base => {
                    let delta = counter_delta(raw, d.last_collected_value);
                    if delta > 0.0 {
                        inc_row_total += delta;
                    }
                }
                _ => {}
            }
        }

        // Make room in the ring.
        if steps > 0 {
            if steps >= self.history || self.filled == 0 {
                self.samples.fill(PackedSample::EMPTY);
                self.filled = 0;
                self.head = self.history - 1;
            }
            let advance = steps.min(self.history);
            let width = self.dims.len();
            for k in 1..=advance {
                let slot = (self.head + k) % self.history;
                self.samples[slot * width..(slot + 1) * width].fill(PackedSample::EMPTY);
            }
        }
        // The slot of the first new grid time, then the next ones in order
        // (fewer than `history` of them: no integer division per value).
        let first_slot = (self.head + 1) % self.history;
        let history_len = self.history;
        let base_slot = move |j: usize| {
            let slot = first_slot + j;
            if slot >= history_len {
                slot - history_len
            } else {
                slot
            }
        };
        let skip = steps.saturating_sub(self.history);

        let width = self.dims.len();
        for (col, d) in self.dims.iter_mut().enumerate() {
            let Some(raw) = d.take_pending() else {
                // Not collected: leave the new slots empty, and interpolate
                // nothing across the hole later.
                d.set_last_calculated(None);
                if steps > 0 {
                    d.last_stored_value = f64::NAN;
                }
                continue;
            };
            let (mul, div) = d.factors();
            let previous_ut = d.last_collected_ut;
            let is_gap = previous_ut == 0
                || (now_ut - previous_ut) as f64 > GAP_FACTOR * ue_ut as f64
                || previous_ut >= now_ut;
            let dt_s = (now_ut.saturating_sub(previous_ut)) as f64 / USEC_PER_SEC as f64;

            match d.algorithm {
                Algorithm::Absolute | Algorithm::PercentageOfAbsoluteRow => {
                    let current = if d.algorithm == Algorithm::Absolute {
                        raw as f64 * mul / div
                    } else if abs_row_total != 0.0 {
                        raw as f64 * 100.0 * mul / (div * abs_row_total)
                    } else {
                        0.0
                    };
                    let previous = if is_gap { None } else { d.last_calculated() };
                    if steps > 0 {
                        d.last_stored_value = f64::NAN;
                    }
                    for k in skip..steps {
                        let t = first_new + k as i64 * ue;
                        let value = match previous {
                            Some(prev) => {
                                // A collection right on the grid time (the
                                // usual case) is a fraction of exactly 1:
                                // the same value as the division gives.
                                let frac = if t as u64 * USEC_PER_SEC == now_ut {
                                    1.0
                                } else {
                                    (t as f64 * USEC_PER_SEC as f64 - previous_ut as f64)
                                        / (now_ut - previous_ut) as f64
                                };
                                prev + (current - prev) * frac
                            }
                            // Afresh: only the newest grid time gets a value.
                            None if k + 1 == steps => current,
                            None => continue,
                        };
                        let slot = base_slot(k - skip);
                        self.samples[slot * width + col] = PackedSample::pack(value);
                        if k + 1 == steps {
                            d.last_stored_value = value;
                        }
                    }
                    d.set_last_calculated(Some(current));
                }
                Algorithm::Incremental | Algorithm::PercentageOfIncrementalRow => {
                    let delta = counter_delta(raw, d.last_collected_value);
                    let usable = d.has_base && !is_gap && delta >= 0.0 && dt_s > 0.0;
                    if steps > 0 {
                        d.last_stored_value = f64::NAN;
                    }
                    if usable {
                        let value = if d.algorithm == Algorithm::Incremental {
                            delta * mul / (div * dt_s)
                        } else if inc_row_total > 0.0 {
                            delta * 100.0 * mul / (div * inc_row_total)
                        } else {
                            0.0
                        };
                        let packed = PackedSample::pack(value);
                        for k in skip..steps {
                            let slot = base_slot(k - skip);
                            self.samples[slot * width + col] = packed;
                        }
                        if steps > 0 {
                            d.last_stored_value = value;
                        }
                    }
                    d.has_base = true;
                }
            }
            d.last_collected_value = raw;
            if previous_ut == 0 && now_ut != 0 {
                self.uncollected_dims -= 1;
            }
            d.last_collected_ut = now_ut;
        }

        if steps > 0 {
            let advance = steps.min(self.history);
            self.head = (self.head + advance) % self.history;
            self.filled = (self.filled + advance).min(self.history);
            self.last_stored_t = first_new + (steps as i64 - 1) * ue;
        }
        self.last_collected_ut = now_ut;
        self.rounds += 1;
        Ok(())
    }
}

/// Asks the CPU to load `items`' memory into its caches, one [`prefetch`]
/// per 64-byte line; a hint with no effect on the program's results.
#[inline]
fn prefetch_slice<T>(items: &[T]) {
    let start = items.as_ptr().cast::<u8>();
    for offset in (0..std::mem::size_of_val(items)).step_by(64) {
        prefetch(start.wrapping_add(offset));
    }
}

/// `raw - previous` as the nearest `f64` (its sign exact), in 64-bit
/// arithmetic unless the difference overflows it.
#[inline]
fn counter_delta(raw: i64, previous: i64) -> f64 {
    match raw.checked_sub(previous) {
        Some(delta) => delta as f64,
        None => (i128::from(raw) - i128::from(previous)) as f64,
    }
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
