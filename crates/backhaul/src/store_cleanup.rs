//! The store's housekeeping thread: removes the charts that have been
//! obsolete (their interface, mount, disk or plugin gone) for longer than
//! `[db] cleanup obsolete charts after secs`, on every host, so memory
//! returns to its baseline when sources come and go.
//!
//! Removal is by time since the chart was last collected, as netdata does.
//! A collector that still holds a removed chart and collects it again puts
//! it back (see `rrd::Chart`); exporters forget removed charts at their next
//! batch.

use std::sync::Arc;
use std::time::Duration;

use rrd::Store;

use crate::shutdown::Shutdown;
use crate::sys::now_realtime_ut;

/// How often the store is checked: a tenth of the timeout, between 1 and 60
/// seconds, so a chart goes at most 10 % (or a minute) late.
pub fn check_every(after_secs: u32) -> Duration {
    Duration::from_secs(u64::from(after_secs / 10).clamp(1, 60))
}

/// One pass over every host at `now_ut`; returns how many charts went.
pub fn sweep(store: &Store, now_ut: u64, after_secs: u32) -> usize {
    let mut removed = 0;
    for host in store.hosts() {
        let gone = host.remove_obsolete_charts(now_ut, u64::from(after_secs));
        if gone > 0 {
            tracing::info!(
                host = host.hostname(),
                charts = gone,
                after_secs,
                "removed charts obsolete for longer than [db] cleanup obsolete charts after secs"
            );
        }
        removed += gone;
    }
    removed
}

/// Runs [`sweep`] every [`check_every`] until `shutdown` fires.
pub fn run(store: Arc<Store>, after_secs: u32, shutdown: Shutdown) {
    let every = check_every(after_secs);
    while !shutdown.sleep(every) {
        sweep(&store, now_realtime_ut(), after_secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rrd::{ChartDef, DimensionDef, Host};

    #[test]
    fn checks_a_tenth_of_the_timeout_within_one_second_and_a_minute() {
        assert_eq!(check_every(1), Duration::from_secs(1));
        assert_eq!(check_every(30), Duration::from_secs(3));
        assert_eq!(check_every(3600), Duration::from_secs(60));
    }

    #[test]
    fn sweeps_every_host() {
        let store = Store::new(Host::new("local", 10));
        let child = store.add_host(Host::new("child", 10));
        for host in [store.localhost(), &child] {
            let chart = host.create_chart(ChartDef::new("t", "gone"));
            let mut w = chart.write();
            w.add_dimension(DimensionDef::new("d"));
            w.set_by_id("d", 1);
            w.done(10_000_000).unwrap();
            w.set_obsolete(true);
            drop(w);
            host.create_chart(ChartDef::new("t", "kept"));
        }
        assert_eq!(sweep(&store, 14_000_000, 5), 0);
        assert_eq!(sweep(&store, 15_000_000, 5), 2);
        for host in store.hosts() {
            assert_eq!(host.chart_count(), 1);
            assert!(host.chart_by_id("t.kept").is_some());
        }
    }
}
