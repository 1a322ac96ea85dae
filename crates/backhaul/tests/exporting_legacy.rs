//! The legacy `[backend]` section of netdata.conf (the seed's backend) runs
//! as an instance of its own, with the seed's `netdata.backend_*` charts.

mod support;

use std::time::Duration;

use backhaul::config::parse_main_str;
use backhaul::exporting::build_instance;
use backhaul::exporting::monitoring::IntervalCounters;
use rrd::{ChartDef, DimensionDef, Host, Store};
use support::{Behaviour, FakeReceiver};

#[test]
fn legacy_backend_section_exports_and_charts_itself() {
    let rx = FakeReceiver::start(Behaviour::Normal);
    let text = format!(
        "[global]\n    hostname = box\n[backend]\n    enabled = yes\n    type = opentsdb\n    destination = tcp:127.0.0.1:{}\n    update every = 1\n    host tags = dc=eu\n",
        rx.addr.port()
    );
    let (main, _warnings) = parse_main_str(&text, "netdata.conf").unwrap();
    let cfg = main.backend.clone().expect("the [backend] section");
    assert!(cfg.enabled && cfg.legacy);
    let store = Store::new(Host::new("box", 60));
    let chart = store.localhost().create_chart(ChartDef::new("test", "c"));
    chart.write().add_dimension(DimensionDef::new("d"));
    let mut inst = build_instance(&cfg, &store, true).expect("opentsdb is supported");
    let t0 = 1_700_000_000i64;
    for t in 1..=3 {
        let mut w = chart.write();
        w.set(0, t);
        w.done((t0 + t) as u64 * 1_000_000).unwrap();
        drop(w);
        inst.tick(&store, t0 + t, IntervalCounters::default());
    }
    let lines = rx.wait_for_lines(3, Duration::from_secs(5));
    assert!(
        lines.contains(&format!(
            "put netdata.test.c.d {} 2.0000000 host=box dc=eu",
            t0 + 2
        )),
        "{lines:?}"
    );
    for (id, dims) in [
        ("netdata.backend_metrics", &["buffered", "lost", "sent"][..]),
        ("netdata.backend_bytes", &["buffered", "lost", "sent"][..]),
        (
            "netdata.backend_ops",
            &["write", "discard", "reconnect", "failure"][..],
        ),
        ("netdata.backend_latency", &["latency"][..]),
        ("netdata.backend_thread_cpu", &["user", "system"][..]),
    ] {
        let chart = store
            .localhost()
            .chart_by_id(id)
            .unwrap_or_else(|| panic!("no {id}"));
        let r = chart.read();
        let got: Vec<&str> = r.dimensions().iter().map(|d| d.id()).collect();
        assert_eq!(got, dims, "{id}");
        assert_eq!(r.def().family, "backend");
    }
}
