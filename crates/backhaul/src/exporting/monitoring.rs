//! Self-monitoring: each instance's health as charts in the store, so they
//! are exported like any other chart.
//!
//! Exporting-engine instances get netdata 1.37's charts
//! `netdata.exporting_NAME_{metrics,bytes,ops,thread_cpu}`; the legacy
//! `[backend]` instance gets the seed's `netdata.backend_*` charts.

use std::sync::Arc;

use rrd::{Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host};

/// The thread CPU clocks, which live in [`crate::sys`]; re-exported here
/// for the instance thread.
use crate::sys::ThreadCpu;

/// What happened during one interval (counts for the interval, except
/// `buffered_*`, which are what the ring holds now).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IntervalCounters {
    pub buffered_metrics: u64,
    pub buffered_bytes: u64,
    pub sent_metrics: u64,
    pub sent_bytes: u64,
    pub lost_metrics: u64,
    pub lost_bytes: u64,
    /// Stored points that fell out of the store before they could be
    /// replayed (grid times × dimensions).
    pub expired_metrics: u64,
    pub received_bytes: u64,
    pub writes: u64,
    pub discards: u64,
    pub reconnects: u64,
    pub failures: u64,
    pub reads: u64,
    /// Microseconds spent connecting and writing (legacy latency chart).
    pub latency_us: u64,
    /// HTTP: metrics and bytes refused for good (4xx, or a line larger
    /// than the largest request).
    pub rejected_metrics: u64,
    pub rejected_bytes: u64,
    /// HTTP: requests dropped on a 4xx answer.
    pub rejects: u64,
    /// HTTP: requests answered 429 or 5xx.
    pub retries: u64,
    /// HTTP: requests sent again after a lost response.
    pub repeats: u64,
    /// HTTP: 413 answers.
    pub splits: u64,
}

impl IntervalCounters {
    /// Adds `other`'s counts (not its `buffered_*` levels) and clears it.
    pub fn merge(&mut self, other: &mut IntervalCounters) {
        let o = std::mem::take(other);
        self.sent_metrics += o.sent_metrics;
        self.sent_bytes += o.sent_bytes;
        self.lost_metrics += o.lost_metrics;
        self.lost_bytes += o.lost_bytes;
        self.expired_metrics += o.expired_metrics;
        self.received_bytes += o.received_bytes;
        self.writes += o.writes;
        self.discards += o.discards;
        self.reconnects += o.reconnects;
        self.failures += o.failures;
        self.reads += o.reads;
        self.latency_us += o.latency_us;
        self.rejected_metrics += o.rejected_metrics;
        self.rejected_bytes += o.rejected_bytes;
        self.rejects += o.rejects;
        self.retries += o.retries;
        self.repeats += o.repeats;
        self.splits += o.splits;
    }
}

struct ChartDims {
    chart: Arc<Chart>,
    dims: Vec<DimIndex>,
}

impl ChartDims {
    fn create(host: &Host, def: ChartDef, dims: &[(&str, i64, Algorithm)]) -> ChartDims {
        let chart = host.create_chart(def);
        let dims = {
            let mut w = chart.write();
            dims.iter()
                .map(|&(id, div, alg)| {
                    w.add_dimension(DimensionDef::new(id).divisor(div).algorithm(alg))
                })
                .collect()
        };
        ChartDims { chart, dims }
    }

    fn update(&self, values: &[u64], now_ut: u64) {
        let mut w = self.chart.write();
        for (&d, &v) in self.dims.iter().zip(values) {
            w.set(d, i64::try_from(v).unwrap_or(i64::MAX));
        }
        if let Err(error) = w.done(now_ut) {
            tracing::debug!(%error, "self-monitoring chart not updated");
        }
    }
}

const ABS: Algorithm = Algorithm::Absolute;
const INC: Algorithm = Algorithm::Incremental;

/// The self-monitoring charts of one instance.
pub struct InstanceCharts {
    metrics: ChartDims,
    bytes: ChartDims,
    ops: ChartDims,
    latency: Option<ChartDims>,
    cpu: ChartDims,
    legacy: bool,
    http: bool,
}

impl InstanceCharts {
    /// Creates (or finds) the charts of instance `name` on `host`. HTTP
    /// instances (`http`) get dimensions of their own after netdata's:
    /// `rejected` metrics and bytes, and `retry`, `reject`, `repeat` and
    /// `split` operations. Exporting-engine instances also chart
    /// `expired` metrics: stored points that fell out of the store before
    /// a replay could send them.
    pub fn new(
        host: &Host,
        name: &str,
        update_every: u32,
        legacy: bool,
        http: bool,
    ) -> InstanceCharts {
        let def = |suffix: &str,
                   family: &str,
                   context: &str,
                   title: &str,
                   units: &str,
                   prio: i64,
                   t: ChartType| {
            let id = if legacy {
                format!("backend_{suffix}")
            } else {
                format!("exporting_{name}_{suffix}")
            };
            let title = if legacy {
                title.to_string()
            } else {
                format!("{title} (netdata.{id})")
            };
            ChartDef::new("netdata", id)
                .family(family)
                .context(context)
                .title(title)
                .units(units)
                .priority(prio)
                .chart_type(t)
                .update_every(update_every)
        };
        let family = if legacy {
            "backend".to_string()
        } else {
            format!("exporting_{name}")
        };
        let metrics = ChartDims::create(
            host,
            def(
                "metrics",
                &family,
                "exporting_buffer",
                "Netdata Buffered Metrics",
                "metrics",
                130610,
                ChartType::Line,
            ),
            &{
                let mut dims = vec![("buffered", 1, ABS), ("lost", 1, ABS), ("sent", 1, ABS)];
                if http {
                    dims.push(("rejected", 1, ABS));
                }
                if !legacy {
                    dims.push(("expired", 1, ABS));
                }
                dims
            },
        );
        let (bytes_units, bytes_context) = if legacy {
            ("KB", "exporting_data_size")
        } else {
            ("KiB", "exporting_data_size")
        };
        let mut byte_dims = vec![
            ("buffered", 1024, ABS),
            ("lost", 1024, ABS),
            ("sent", 1024, ABS),
        ];
        if !legacy {
            byte_dims.push(("received", 1024, ABS));
        }
        if http {
            byte_dims.push(("rejected", 1024, ABS));
        }
        let bytes = ChartDims::create(
            host,
            def(
                "bytes",
                &family,
                bytes_context,
                "Netdata Exporting Data Size",
                bytes_units,
                130620,
                ChartType::Area,
            ),
            &byte_dims,
        );
        let mut op_dims = vec![
            ("write", 1, ABS),
            ("discard", 1, ABS),
            ("reconnect", 1, ABS),
            ("failure", 1, ABS),
        ];
        if !legacy {
            op_dims.push(("read", 1, ABS));
        }
        if http {
            op_dims.extend([
                ("retry", 1, ABS),
                ("reject", 1, ABS),
                ("repeat", 1, ABS),
                ("split", 1, ABS),
            ]);
        }
        let ops = ChartDims::create(
            host,
            def(
                "ops",
                &family,
                "exporting_operations",
                "Netdata Exporting Operations",
                "operations",
                130630,
                ChartType::Line,
            ),
            &op_dims,
        );
        let latency = legacy.then(|| {
            ChartDims::create(
                host,
                def(
                    "latency",
                    &family,
                    "exporting_latency",
                    "Netdata Backend Latency",
                    "ms",
                    130620,
                    ChartType::Area,
                ),
                &[("latency", 1000, ABS)],
            )
        });
        let cpu = ChartDims::create(
            host,
            def(
                "thread_cpu",
                &family,
                "exporting_instance",
                "Netdata Exporting Instance Thread CPU Usage",
                "milliseconds/s",
                130640,
                ChartType::Stacked,
            ),
            &[("user", 1000, INC), ("system", 1000, INC)],
        );
        InstanceCharts {
            metrics,
            bytes,
            ops,
            latency,
            cpu,
            legacy,
            http,
        }
    }

    /// Stores one interval's counters and the thread's CPU time at `now_ut`.
    pub fn update(&self, c: &IntervalCounters, cpu: ThreadCpu, now_ut: u64) {
        let mut metrics = vec![c.buffered_metrics, c.lost_metrics, c.sent_metrics];
        if self.http {
            metrics.push(c.rejected_metrics);
        }
        if !self.legacy {
            metrics.push(c.expired_metrics);
        }
        self.metrics.update(&metrics, now_ut);
        if self.legacy {
            self.bytes
                .update(&[c.buffered_bytes, c.lost_bytes, c.sent_bytes], now_ut);
            self.ops
                .update(&[c.writes, c.discards, c.reconnects, c.failures], now_ut);
        } else {
            self.bytes.update(
                &[
                    c.buffered_bytes,
                    c.lost_bytes,
                    c.sent_bytes,
                    c.received_bytes,
                    c.rejected_bytes,
                ],
                now_ut,
            );
            self.ops.update(
                &[
                    c.writes,
                    c.discards,
                    c.reconnects,
                    c.failures,
                    c.reads,
                    c.retries,
                    c.rejects,
                    c.repeats,
                    c.splits,
                ],
                now_ut,
            );
        }
        if let Some(latency) = &self.latency {
            latency.update(&[c.latency_us], now_ut);
        }
        self.cpu.update(&[cpu.user_us, cpu.system_us], now_ut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of chart `id` on `host`, by dimension id.
    fn values(host: &Host, id: &str) -> Vec<(String, f64)> {
        let chart = host.chart_by_id(id).expect("chart");
        let st = chart.read();
        st.dimensions()
            .iter()
            .map(|d| {
                (
                    d.id().to_string(),
                    d.last_stored_value().unwrap_or(f64::NAN),
                )
            })
            .collect()
    }

    /// The operations and bytes charts too: every counter in the dimension
    /// of its name (the values are matched by position).
    #[test]
    fn ops_and_bytes_chart_dimensions_get_their_counters() {
        for (http, legacy) in [(false, false), (true, false), (false, true)] {
            let host = Host::new("h", 10);
            let charts = InstanceCharts::new(&host, "x", 1, legacy, http);
            let c = IntervalCounters {
                writes: 11,
                discards: 12,
                reconnects: 13,
                failures: 14,
                reads: 15,
                retries: 16,
                rejects: 17,
                repeats: 18,
                splits: 19,
                buffered_bytes: 21 * 1024,
                lost_bytes: 22 * 1024,
                sent_bytes: 23 * 1024,
                received_bytes: 24 * 1024,
                rejected_bytes: 25 * 1024,
                ..IntervalCounters::default()
            };
            charts.update(&c, ThreadCpu::default(), 1_700_000_000_000_000);
            let prefix = if legacy {
                "netdata.backend"
            } else {
                "netdata.exporting_x"
            };
            let mut ops = vec![
                ("write", 11.0),
                ("discard", 12.0),
                ("reconnect", 13.0),
                ("failure", 14.0),
            ];
            if !legacy {
                ops.push(("read", 15.0));
            }
            if http {
                ops.extend([
                    ("retry", 16.0),
                    ("reject", 17.0),
                    ("repeat", 18.0),
                    ("split", 19.0),
                ]);
            }
            let mut bytes = vec![("buffered", 21.0), ("lost", 22.0), ("sent", 23.0)];
            if !legacy {
                bytes.push(("received", 24.0));
            }
            if http {
                bytes.push(("rejected", 25.0));
            }
            let owned = |v: Vec<(&str, f64)>| -> Vec<(String, f64)> {
                v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            };
            assert_eq!(
                values(&host, &format!("{prefix}_ops")),
                owned(ops),
                "http={http} legacy={legacy}"
            );
            assert_eq!(
                values(&host, &format!("{prefix}_bytes")),
                owned(bytes),
                "http={http} legacy={legacy}"
            );
        }
    }

    /// Each counter lands in its own dimension, with or without the HTTP
    /// ones; the legacy charts keep the seed's dimensions.
    #[test]
    fn metrics_chart_dimensions_get_their_counters() {
        for (http, legacy) in [(false, false), (true, false), (false, true)] {
            let host = Host::new("h", 10);
            let charts = InstanceCharts::new(&host, "x", 1, legacy, http);
            let c = IntervalCounters {
                buffered_metrics: 1,
                lost_metrics: 2,
                sent_metrics: 3,
                rejected_metrics: 4,
                expired_metrics: 5,
                ..IntervalCounters::default()
            };
            charts.update(&c, ThreadCpu::default(), 1_700_000_000_000_000);
            let id = if legacy {
                "netdata.backend_metrics"
            } else {
                "netdata.exporting_x_metrics"
            };
            let got = values(&host, id);
            let mut want = vec![("buffered", 1.0), ("lost", 2.0), ("sent", 3.0)];
            if http {
                want.push(("rejected", 4.0));
            }
            if !legacy {
                want.push(("expired", 5.0));
            }
            let want: Vec<(String, f64)> =
                want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            assert_eq!(got, want, "http={http} legacy={legacy}");
        }
    }
}
