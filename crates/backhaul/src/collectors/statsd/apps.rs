//! `statsd.d/*.conf`: netdata's synthetic charts. Each file holds `[app]`
//! sections (which metrics, whether they also get private charts), an
//! optional `[dictionary]` of dimension names, and chart sections whose
//! `dimension = ...` lines take values from metrics.

use rrd::Host;
use wire::statsd::MetricType;

use super::metrics::HistogramLast;

/// What a synthetic chart's dimension may read from a metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricValues {
    pub events: i64,
    pub last: i64,
    pub histogram: Option<HistogramLast>,
}

/// What an app decides for a metric its `metrics` pattern matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppClaim {
    /// The app's `private charts`.
    pub private_charts: bool,
    /// The app's `gaps when not collected`.
    pub gaps: bool,
    /// A chart of the app has a dimension for the metric.
    pub used: bool,
}

/// Every app read from the statsd.d folders.
#[derive(Debug, Default)]
pub struct AppCharts {}

impl AppCharts {
    /// Reads `statsd.d/*.conf` from the user folder, then the stock folder
    /// for the names the user has not overridden.
    pub fn load(_user_dir: &std::path::Path, _stock_dir: &std::path::Path) -> AppCharts {
        AppCharts::default()
    }

    /// The claim of the first app whose `metrics` match `name`; links the
    /// metric to the dimensions that name it.
    pub fn claim(&mut self, _t: MetricType, _name: &str, _decimal_detail: i64) -> Option<AppClaim> {
        None
    }

    /// Completes every synthetic chart that has a linked dimension.
    pub fn update(
        &mut self,
        _host: &Host,
        _now_ut: u64,
        _update_every: u32,
        _values: &dyn Fn(MetricType, &str) -> Option<MetricValues>,
    ) {
    }
}
