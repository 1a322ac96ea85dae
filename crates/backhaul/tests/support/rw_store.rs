//! The small store the remote-write tests push: one host `box` with the
//! given labels and one chart of two dimensions, points at `t0 ..= t0 + 3`:
//! `a` is `10 t + 1`, `b` (shown as `B dim`, divisor 4) is `t / 4`, where
//! `t` counts from 0.

use rrd::{ChartDef, DimensionDef, Host, Label, Store};

const S: u64 = 1_000_000;

pub fn two_dimension_store(labels: Vec<Label>, chart: ChartDef, t0: i64) -> Store {
    let store = Store::new(Host::new("box", 100));
    store.localhost().set_labels(labels);
    let chart = store.localhost().create_chart(chart);
    let mut w = chart.write();
    let a = w.add_dimension(DimensionDef::new("a"));
    let b = w.add_dimension(DimensionDef::new("b").name("B dim").divisor(4));
    for t in 0..=3 {
        w.set(a, 10 * t + 1);
        w.set(b, t);
        w.done((t0 + t) as u64 * S).expect("increasing times");
    }
    drop(w);
    store
}
