//! The link between a collector and its charts in the store:
//! [`DimSpec`] (a dimension as netdata declares it), [`ChartHandle`] (a
//! created chart with its dimension indexes cached, and its obsolete flag),
//! and [`Cycle`] / [`RefusedRounds`] (one collection pass, and the log-once
//! report of rounds the store refused because the clock went backwards).

use std::sync::Arc;

use rrd::{
    Algorithm, Chart, ChartDef, ChartType, CollectError, DimIndex, DimensionDef, Host, Label,
    LabelSource,
};

use super::source::Trouble;

/// A dimension as a collector declares it: id, optional name, algorithm,
/// multiplier, divisor, hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DimSpec {
    pub id: &'static str,
    pub name: Option<&'static str>,
    pub algorithm: Algorithm,
    pub multiplier: i64,
    pub divisor: i64,
    pub hidden: bool,
}

impl DimSpec {
    pub(crate) const fn new(
        id: &'static str,
        algorithm: Algorithm,
        multiplier: i64,
        divisor: i64,
    ) -> DimSpec {
        DimSpec {
            id,
            name: None,
            algorithm,
            multiplier,
            divisor,
            hidden: false,
        }
    }

    /// A rate: `incremental`.
    pub(crate) const fn incremental(id: &'static str, multiplier: i64, divisor: i64) -> DimSpec {
        DimSpec::new(id, Algorithm::Incremental, multiplier, divisor)
    }

    /// A gauge: `absolute`.
    pub(crate) const fn absolute(id: &'static str, multiplier: i64, divisor: i64) -> DimSpec {
        DimSpec::new(id, Algorithm::Absolute, multiplier, divisor)
    }

    pub(crate) const fn named(mut self, name: &'static str) -> DimSpec {
        self.name = Some(name);
        self
    }

    pub(crate) const fn hide(mut self) -> DimSpec {
        self.hidden = true;
        self
    }

    pub(crate) fn to_def(self) -> DimensionDef {
        let def = DimensionDef::new(self.id)
            .algorithm(self.algorithm)
            .multiplier(self.multiplier)
            .divisor(self.divisor)
            .hidden(self.hidden);
        match self.name {
            Some(name) => def.name(name),
            None => def,
        }
    }
}

/// A chart whose definition is fixed (the system-wide ones): everything but
/// its update every. The context is `type.id` unless given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChartSpec {
    pub type_: &'static str,
    pub id: &'static str,
    pub family: &'static str,
    pub context: Option<&'static str>,
    pub title: &'static str,
    pub units: &'static str,
    pub chart_type: ChartType,
    pub priority: i64,
    pub plugin: &'static str,
    pub module: &'static str,
}

impl ChartSpec {
    /// A `proc.plugin` chart of netdata module `module`, with no context of
    /// its own (the chart's default).
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn proc(
        module: &'static str,
        type_: &'static str,
        id: &'static str,
        family: &'static str,
        title: &'static str,
        units: &'static str,
        chart_type: ChartType,
        priority: i64,
    ) -> ChartSpec {
        ChartSpec {
            type_,
            id,
            family,
            context: None,
            title,
            units,
            chart_type,
            priority,
            plugin: super::PROC_PLUGIN,
            module,
        }
    }

    pub(crate) fn def(&self, update_every: u32) -> ChartDef {
        let def = ChartDef::new(self.type_, self.id)
            .family(self.family)
            .title(self.title)
            .units(self.units)
            .chart_type(self.chart_type)
            .priority(self.priority)
            .update_every(update_every);
        let mut def = match self.context {
            Some(context) => def.context(context),
            None => def,
        };
        def.plugin = self.plugin.to_string();
        def.module = self.module.to_string();
        def
    }
}

/// An automatic (discovered) chart label.
pub(crate) fn auto_label(key: &str, value: &str) -> Label {
    Label::new(key, value, LabelSource::Automatic)
}

/// One collection pass of a collector: its time, and the first round the
/// store refused during it.
pub(crate) struct Cycle {
    pub now_ut: u64,
    refused: Option<CollectError>,
}

impl Cycle {
    pub(crate) fn new(now_ut: u64) -> Cycle {
        Cycle {
            now_ut,
            refused: None,
        }
    }

    fn record(&mut self, result: Result<(), CollectError>) {
        if let Err(error) = result {
            self.refused.get_or_insert(error);
        }
    }
}

/// Reports refused rounds (the collection time went backwards) once when
/// they start and once when they stop, instead of every cycle.
#[derive(Default)]
pub(crate) struct RefusedRounds {
    trouble: Trouble,
}

impl RefusedRounds {
    pub(crate) fn settle(&mut self, collector: &str, cycle: Cycle) {
        match cycle.refused {
            Some(error) => {
                if self.trouble.fail() {
                    tracing::warn!(collector, %error, "the store refused a collection round");
                }
            }
            None => {
                if self.trouble.recover() {
                    tracing::info!(collector, "the store accepts collection rounds again");
                }
            }
        }
    }
}

/// A chart the collector created, the indexes of its dimensions in the
/// order they were declared, and whether it is marked obsolete.
pub(crate) struct ChartHandle {
    chart: Arc<Chart>,
    dims: Vec<DimIndex>,
    obsolete: bool,
}

impl ChartHandle {
    /// Creates (or takes over and revives) chart `def` on `host` with
    /// dimensions `dims`, in that order.
    pub(crate) fn create(host: &Host, mut def: ChartDef, dims: &[DimSpec]) -> ChartHandle {
        def.obsolete = false;
        let chart = host.create_chart(def);
        let indexes = {
            let mut writer = chart.write();
            dims.iter()
                .map(|d| writer.add_dimension(d.to_def()))
                .collect()
        };
        ChartHandle {
            chart,
            dims: indexes,
            obsolete: false,
        }
    }

    /// Adds a dimension discovered after the chart was created (or renames
    /// the one with the same id) and returns its position in the order
    /// [`Self::update`] takes values in.
    pub(crate) fn add_dimension(&mut self, def: DimensionDef) -> usize {
        let index = self.chart.write().add_dimension(def);
        match self.dims.iter().position(|&d| d == index) {
            Some(position) => position,
            None => {
                self.dims.push(index);
                self.dims.len() - 1
            }
        }
    }

    /// The chart in the store (for its variables).
    pub(crate) fn chart(&self) -> &Arc<Chart> {
        &self.chart
    }

    /// How many dimensions [`Self::update`] takes values for.
    pub(crate) fn dimension_count(&self) -> usize {
        self.dims.len()
    }

    /// Sets the raw values of the dimensions, in declaration order (`None`
    /// leaves a dimension uncollected this round), and completes the round.
    /// An obsolete chart is revived first.
    pub(crate) fn update(&mut self, cycle: &mut Cycle, values: &[Option<i64>]) {
        let mut writer = self.chart.write();
        if self.obsolete {
            writer.set_obsolete(false);
            self.obsolete = false;
        }
        for (&dim, value) in self.dims.iter().zip(values) {
            if let Some(value) = *value {
                writer.set(dim, value);
            }
        }
        cycle.record(writer.done(cycle.now_ut));
    }

    /// Marks the chart obsolete (its source is gone); cheap when it already is.
    pub(crate) fn mark_obsolete(&mut self) {
        if !self.obsolete {
            self.chart.write().set_obsolete(true);
            self.obsolete = true;
        }
    }
}

/// Marks every created chart of `handles` obsolete.
pub(crate) fn mark_all_obsolete<'a>(
    handles: impl IntoIterator<Item = &'a mut Option<ChartHandle>>,
) {
    for handle in handles.into_iter().flatten() {
        handle.mark_obsolete();
    }
}
