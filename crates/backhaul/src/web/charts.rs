//! `/api/v1/charts`: a host's charts with the per-chart keys of netdata
//! 1.37's answer (`id`, `name`, `type`, `family`, `context`, `title`,
//! `priority`, `plugin`, `module`, `units`, `chart_type`, `duration`,
//! `first_entry`, `last_entry`, `update_every`, `dimensions` as `{id:
//! {name}}`, `chart_labels`), and the top-level keys backhaul knows
//! (`hostname`, `version`, `os`, `update_every`, `history`, `charts_count`,
//! `dimensions_count`, `hosts_count`, `hosts`).
//!
//! As netdata does, the title ends with the chart's name in parentheses,
//! obsolete and hidden charts are left out, and `chart_labels` ends with the automatic
//! `_collect_plugin` and `_collect_module` (`[none]` when empty) labels.
//! Charts come in the order they were created. Left out: `data_url` (there
//! is no `/api/v1/data`), alarms, chart variables, `green`/`red`,
//! `functions`, and the database settings (`memory_mode`,
//! `rrd_memory_bytes`).

use rrd::Host;
use serde::Serialize;

use super::json::{to_body, Ordered};
use super::routes::Context;

#[derive(Serialize)]
struct DimensionName {
    name: String,
}

#[derive(Serialize)]
struct ChartJson {
    id: String,
    name: String,
    #[serde(rename = "type")]
    type_: String,
    family: String,
    context: String,
    title: String,
    priority: i64,
    plugin: String,
    module: String,
    units: String,
    chart_type: &'static str,
    duration: i64,
    first_entry: i64,
    last_entry: i64,
    update_every: u32,
    dimensions: Ordered<DimensionName>,
    chart_labels: Ordered<String>,
}

#[derive(Serialize)]
struct HostName {
    hostname: String,
}

#[derive(Serialize)]
struct Charts {
    hostname: String,
    version: String,
    os: &'static str,
    update_every: u32,
    history: usize,
    charts_count: usize,
    dimensions_count: usize,
    hosts_count: usize,
    hosts: Vec<HostName>,
    charts: Ordered<ChartJson>,
}

/// The `/api/v1/charts` body for `host`.
pub fn render(ctx: &Context, host: &Host) -> Vec<u8> {
    let mut charts = Vec::new();
    let mut dimensions_count = 0;
    for chart in host.charts() {
        let state = chart.read();
        // Hidden charts are for exporting, not dashboards (netdata).
        if state.is_obsolete() || state.def().hidden {
            continue;
        }
        let def = state.def();
        let name = state.name().to_string();
        let suffix = format!(" ({name})");
        let title = if def.title.ends_with(&suffix) {
            def.title.clone()
        } else {
            format!("{}{suffix}", def.title)
        };
        let (first_entry, last_entry) = match (state.first_entry_t(), state.last_entry_t()) {
            (Some(first), Some(last)) => (first, last),
            _ => (0, 0),
        };
        let update_every = state.update_every();
        let duration = if last_entry > 0 {
            last_entry - first_entry + i64::from(update_every)
        } else {
            0
        };
        let mut labels: Vec<(String, String)> = def
            .labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        let or_none = |s: &str| {
            if s.is_empty() {
                "[none]".to_string()
            } else {
                s.to_string()
            }
        };
        labels.push(("_collect_plugin".to_string(), or_none(&def.plugin)));
        labels.push(("_collect_module".to_string(), or_none(&def.module)));
        // netdata lists and counts only the visible dimensions (a CPU
        // chart's hidden `idle` is left out).
        let visible = || state.dimensions().iter().filter(|d| !d.def().hidden);
        dimensions_count += visible().count();
        charts.push((
            state.id().to_string(),
            ChartJson {
                id: state.id().to_string(),
                name,
                type_: def.type_.clone(),
                family: def.family.clone(),
                context: def.context.clone(),
                title,
                priority: def.priority,
                plugin: def.plugin.clone(),
                module: def.module.clone(),
                units: def.units.clone(),
                chart_type: def.chart_type.as_str(),
                duration,
                first_entry,
                last_entry,
                update_every,
                dimensions: Ordered(
                    visible()
                        .map(|d| {
                            (
                                d.id().to_string(),
                                DimensionName {
                                    name: d.name().to_string(),
                                },
                            )
                        })
                        .collect(),
                ),
                chart_labels: Ordered(labels),
            },
        ));
    }
    let hosts = ctx.store.hosts();
    let body = Charts {
        hostname: host.hostname().to_string(),
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        os: "linux",
        update_every: ctx.update_every,
        history: host.history(),
        charts_count: charts.len(),
        dimensions_count,
        hosts_count: hosts.len(),
        hosts: hosts
            .iter()
            .map(|h| HostName {
                hostname: h.hostname().to_string(),
            })
            .collect(),
        charts: Ordered(charts),
    };
    to_body(&body)
}
