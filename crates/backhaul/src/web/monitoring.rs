//! The web server's self-monitoring charts on the local host, under
//! netdata 1.37's ids (plugin `netdata`, module `stats`, family `api`):
//! `netdata.clients` (connections open), `netdata.requests` (requests/s),
//! `netdata.net` (kilobits/s in and out), `netdata.response_time`
//! (average and longest milliseconds per request over the interval) and
//! `netdata.compression_ratio` (percent of bytes gzip saved over the
//! interval). The event loop updates them every `update every` seconds.

use std::sync::Arc;

use rrd::{Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host};

/// What one interval measured (`*_total` are running totals).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub clients: u64,
    pub requests_total: u64,
    pub bytes_in_total: u64,
    pub bytes_out_total: u64,
    /// Microseconds, over the interval's requests.
    pub response_time_avg_us: u64,
    pub response_time_max_us: u64,
    /// Thousandths of a percent.
    pub compression_savings_milli: u64,
}

struct ChartDims {
    chart: Arc<Chart>,
    dims: Vec<DimIndex>,
}

impl ChartDims {
    fn update(&self, values: &[u64], now_ut: u64) {
        let mut writer = self.chart.write();
        for (&dim, &value) in self.dims.iter().zip(values) {
            writer.set(dim, i64::try_from(value).unwrap_or(i64::MAX));
        }
        if let Err(error) = writer.done(now_ut) {
            tracing::debug!(%error, "web server chart not updated");
        }
    }
}

/// The five charts.
pub struct WebCharts {
    clients: ChartDims,
    requests: ChartDims,
    net: ChartDims,
    response_time: ChartDims,
    compression: ChartDims,
}

impl WebCharts {
    /// Creates (or finds) the charts on `host`.
    pub fn new(host: &Host, update_every: u32) -> WebCharts {
        let chart = |id: &str,
                     title: &str,
                     units: &str,
                     priority: i64,
                     chart_type: ChartType,
                     dims: &[(&str, i64, i64, Algorithm)]| {
            let mut def = ChartDef::new("netdata", id)
                .family("api")
                .title(title)
                .units(units)
                .priority(priority)
                .chart_type(chart_type)
                .update_every(update_every);
            def.plugin = "netdata".to_string();
            def.module = "stats".to_string();
            let chart = host.create_chart(def);
            let dims = {
                let mut writer = chart.write();
                dims.iter()
                    .map(|&(id, multiplier, divisor, algorithm)| {
                        writer.add_dimension(
                            DimensionDef::new(id)
                                .multiplier(multiplier)
                                .divisor(divisor)
                                .algorithm(algorithm),
                        )
                    })
                    .collect()
            };
            ChartDims { chart, dims }
        };
        const ABS: Algorithm = Algorithm::Absolute;
        const INC: Algorithm = Algorithm::Incremental;
        WebCharts {
            clients: chart(
                "clients",
                "Netdata Web Clients",
                "connected clients",
                130200,
                ChartType::Line,
                &[("clients", 1, 1, ABS)],
            ),
            requests: chart(
                "requests",
                "Netdata Web Requests",
                "requests/s",
                130300,
                ChartType::Line,
                &[("requests", 1, 1, INC)],
            ),
            net: chart(
                "net",
                "Netdata Network Traffic",
                "kilobits/s",
                130400,
                ChartType::Area,
                &[("in", 8, 1000, INC), ("out", -8, 1000, INC)],
            ),
            response_time: chart(
                "response_time",
                "Netdata API Response Time",
                "milliseconds/request",
                130500,
                ChartType::Line,
                &[("average", 1, 1000, ABS), ("max", 1, 1000, ABS)],
            ),
            compression: chart(
                "compression_ratio",
                "Netdata API Responses Compression Savings Ratio",
                "percentage",
                130600,
                ChartType::Line,
                &[("savings", 1, 1000, ABS)],
            ),
        }
    }

    /// Stores one interval at `now_ut`.
    pub fn update(&self, sample: &Sample, now_ut: u64) {
        self.clients.update(&[sample.clients], now_ut);
        self.requests.update(&[sample.requests_total], now_ut);
        self.net
            .update(&[sample.bytes_in_total, sample.bytes_out_total], now_ut);
        self.response_time.update(
            &[sample.response_time_avg_us, sample.response_time_max_us],
            now_ut,
        );
        self.compression
            .update(&[sample.compression_savings_milli], now_ut);
    }
}
