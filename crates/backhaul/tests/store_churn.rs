//! Store lifecycle under churn: a real plugin process creates 1,000 charts
//! per wave and obsoletes the previous wave's (as interfaces, containers or
//! mounts that come and go), ten waves in all: 10,000 charts created and
//! removed (netdata's `cleanup obsolete charts after secs`, 1 s here so the
//! ten minutes of the issue fit in seconds). The store's own accounting
//! returns to its baseline exactly, the plugin's chart count (its limit)
//! drops with it, and the process's RSS does not grow with the churn.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::collectors::pluginsd::{self, PluginsdSettings};
use backhaul::config::parse_main_str;
use backhaul::shutdown::Shutdown;
use backhaul::store_cleanup;
use rrd::{Host, Store, StoreUsage};

const WAVES: u32 = 10;
const CHARTS_PER_WAVE: u32 = 1000;

/// Prints the waves; after each, the stable chart's value is the wave
/// number and the plugin waits until the test writes that number to `go`
/// (it saw the store holding this wave only), then obsoletes the wave.
/// After the last wave's charts are obsoleted the value is 100, then the
/// plugin idles (collecting the stable chart) until it is stopped.
const PLUGIN: &str = r#"#!/bin/bash
echo "CHART churn.stable '' 'stable' u"
echo "DIMENSION wave"
obsolete_wave() {
    for ((i = 0; i < CHARTS; i++)); do
        printf "CHART churn.w%d_%d '' t u '' '' line 1 1 obsolete\n" "$1" "$i"
    done
}
for ((w = 1; w <= WAVES; w++)); do
    for ((i = 0; i < CHARTS; i++)); do
        printf "CHART churn.w%d_%d '' t u\nDIMENSION a\nDIMENSION b\nBEGIN churn.w%d_%d\nSET a = %d\nSET b = 1\nEND\n" \
            "$w" "$i" "$w" "$i" "$i"
    done
    printf "BEGIN churn.stable\nSET wave = %d\nEND\n" "$w"
    until [ "$(cat GO 2>/dev/null)" = "$w" ]; do sleep 0.05; done
    obsolete_wave "$w"
    printf "BEGIN churn.stable\nSET wave = %d\nEND\n" $((1000 + w))
    until [ "$(cat GO 2>/dev/null)" = "removed $w" ]; do sleep 0.05; done
done
while true; do
    printf "BEGIN churn.stable\nSET wave = 100\nEND\n"
    sleep 0.2
done
"#;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until_or_none<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stable_wave(store: &Store) -> Option<f64> {
    let chart = store.localhost().chart_by_id("churn.stable")?;
    let st = chart.read();
    st.dimensions()
        .first()?
        .last_collected()
        .map(|(raw, _)| raw as f64)
}

#[test]
fn ten_thousand_charts_come_and_go_and_memory_returns_to_its_baseline() {
    let dir = std::env::temp_dir().join(format!("backhaul-churn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plugin = dir.join("churn.plugin");
    let script = PLUGIN
        .replace("WAVES;", &format!("{WAVES};"))
        .replace("<= WAVES", &format!("<= {WAVES}"))
        .replace("< CHARTS", &format!("< {CHARTS_PER_WAVE}"))
        .replace("GO", &dir.join("go").display().to_string());
    std::fs::write(&plugin, script).expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let text = format!(
        "[global]\nhostname = churn\nupdate every = 1\n[db]\ncleanup obsolete charts after secs = 1\n\
         [directories]\nplugins = {}\nconfig = {}/etc\n",
        dir.display(),
        dir.display()
    );
    let (main, _) = parse_main_str(&text, "netdata.conf").expect("config");
    assert_eq!(main.cleanup_obsolete_charts_after_secs, 1);
    let mut settings = PluginsdSettings::from_main(&main);
    settings.shutdown_grace = Duration::from_secs(1);
    // Each wave is within the default limit of 10,000 charts per plugin,
    // two waves together are not once the limit is lowered to 1,500: only
    // the removal of the old wave's charts lets the next wave in.
    settings.limits.max_charts = 1500;

    let store = Arc::new(Store::new(Host::new("churn", 3600)));
    let shutdown = Shutdown::new();
    let sweeper = {
        let (store, shutdown) = (store.clone(), shutdown.clone());
        let after = main.cleanup_obsolete_charts_after_secs;
        std::thread::spawn(move || store_cleanup::run(store, after, shutdown))
    };
    let runner = pluginsd::start(settings, store.localhost().clone(), shutdown.clone())
        .expect("start runner");

    let baseline = StoreUsage {
        charts: 1,
        dimensions: 1,
        sample_bytes: 3600 * 4,
    };
    let wave_usage = StoreUsage {
        charts: 1 + CHARTS_PER_WAVE as usize,
        dimensions: 1 + 2 * CHARTS_PER_WAVE as usize,
        sample_bytes: (1 + 2 * CHARTS_PER_WAVE as usize) * 3600 * 4,
    };
    let mut rss_warm = 0;
    for wave in 1..=WAVES {
        wait_until(&format!("wave {wave}"), Duration::from_secs(60), || {
            (stable_wave(&store) == Some(f64::from(wave))).then_some(())
        });
        assert_eq!(store.usage(), wave_usage, "wave {wave} all in");
        std::fs::write(dir.join("go"), wave.to_string()).expect("write go");
        wait_until(
            &format!("wave {wave} obsoleted"),
            Duration::from_secs(60),
            || (stable_wave(&store) == Some(f64::from(1000 + wave))).then_some(()),
        );
        let mut last = StoreUsage::default();
        let removed = wait_until_or_none(Duration::from_secs(60), || {
            last = store.usage();
            (last == baseline).then_some(())
        });
        assert!(
            removed.is_some(),
            "wave {wave}: the store holds {last:?}, not {baseline:?}"
        );
        if wave == 3 {
            rss_warm = rss_kib();
        }
        std::fs::write(dir.join("go"), format!("removed {wave}")).expect("write go");
    }
    wait_until("the end of the waves", Duration::from_secs(60), || {
        (stable_wave(&store) == Some(100.0)).then_some(())
    });
    // Every wave's charts arrived: none was refused by the chart limit.
    let refused = runner
        .plugin("churn")
        .map(|p| p.counters().refused_by_limits)
        .expect("plugin status");
    assert_eq!(
        refused, 0,
        "the removed charts stopped counting toward the limit"
    );
    let usage = wait_until(
        "the store back at its baseline",
        Duration::from_secs(30),
        || {
            let usage = store.usage();
            (usage == baseline).then_some(usage)
        },
    );
    assert_eq!(usage, baseline);
    let plugin_charts = wait_until(
        "the plugin forgetting its charts",
        Duration::from_secs(30),
        || {
            let charts = runner.plugin("churn")?.counters().charts;
            (charts == 1).then_some(charts)
        },
    );
    assert_eq!(plugin_charts, 1);
    let rss_end = rss_kib();
    assert!(
        rss_end <= rss_warm + rss_warm / 10,
        "RSS grew with the churn: {rss_warm} KiB after 3 waves, {rss_end} KiB after {WAVES}"
    );

    shutdown.trigger();
    runner.join();
    let _ = sweeper.join();
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
