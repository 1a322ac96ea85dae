//! `/proc/uptime`: the time since boot (`system.uptime`), collected in
//! milliseconds and stored in seconds, as netdata does.
//!
//! netdata reads `CLOCK_BOOTTIME` instead when it agrees with the file
//! within a second; backhaul always reads the file, so that a host root
//! other than `/` (and the test fixtures) is honoured.

use std::path::Path;

use rrd::ChartType;

use super::chart_handle::{ChartSpec, DimSpec};
use super::one_value::{OneValue, OneValueCollector};
use super::parse::{lines, parse_f64, thousandths, words};
use super::PROC_PLUGIN;

static UPTIME: OneValue = OneValue {
    collector: "proc:uptime",
    path: "/proc/uptime",
    chart: ChartSpec {
        type_: "system",
        id: "uptime",
        family: "uptime",
        context: None,
        title: "System Uptime",
        units: "seconds",
        chart_type: ChartType::Line,
        priority: 1000,
        plugin: PROC_PLUGIN,
        module: "/proc/uptime",
    },
    dims: [DimSpec::absolute("uptime", 1, 1000)],
    parse: uptime_ms,
};

/// The uptime in milliseconds: the first number of the file, times 1000.
fn uptime_ms(data: &[u8]) -> Option<i64> {
    let first = lines(data).next()?;
    words(first)
        .next()
        .and_then(parse_f64)
        .and_then(thousandths)
}

/// Collects `/proc/uptime`.
pub(crate) fn collector(root: &Path, update_every: u32) -> OneValueCollector {
    OneValueCollector::new(root, update_every, &UPTIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_number() {
        assert_eq!(uptime_ms(b"678.26 858.50\n"), Some(678_260));
        assert_eq!(uptime_ms(b"12\n"), Some(12_000));
        assert_eq!(uptime_ms(b"abc 1\n"), None);
        assert_eq!(uptime_ms(b"\n"), None);
    }
}
