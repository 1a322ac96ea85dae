//! Unit tests of the collection math, the ring and window queries.

use super::*;
use crate::def::{Algorithm, ChartDef, DimensionDef};
use crate::host::Host;
use std::sync::Arc;

const S: u64 = 1_000_000;

fn chart(update_every: u32, history: usize) -> Arc<Chart> {
    Host::new("h", history).create_chart(ChartDef::new("t", "c").update_every(update_every))
}

/// Adds one dimension, feeds `(time in µs, raw)` rounds, returns the stored
/// points (time, value) in the whole ring.
fn run(alg: Algorithm, mul: i64, div: i64, ue: u32, rounds: &[(u64, i64)]) -> Vec<(i64, f64)> {
    let c = chart(ue, 100);
    let d = {
        let mut w = c.write();
        w.add_dimension(
            DimensionDef::new("d")
                .algorithm(alg)
                .multiplier(mul)
                .divisor(div),
        )
    };
    for &(t, v) in rounds {
        let mut w = c.write();
        w.set(d, v);
        w.done(t).unwrap();
    }
    let r = c.read();
    r.points(d, i64::MIN / 2, i64::MAX / 2)
        .into_iter()
        .map(|p| (p.time, p.value))
        .collect()
}

fn close(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() <= 1e-6 * y.1.abs().max(1.0))
}

macro_rules! assert_points {
    ($got:expr, $want:expr) => {{
        let got = $got;
        let want: Vec<(i64, f64)> = $want;
        assert!(close(&got, &want), "got {got:?}\nwant {want:?}");
    }};
}

#[test]
fn absolute_on_grid() {
    assert_points!(
        run(
            Algorithm::Absolute,
            1,
            1,
            1,
            &[(100 * S, 5), (101 * S, 7), (102 * S, -3)]
        ),
        vec![(100, 5.0), (101, 7.0), (102, -3.0)]
    );
}

#[test]
fn absolute_multiplier_and_divisor() {
    assert_points!(
        run(
            Algorithm::Absolute,
            -8,
            1000,
            1,
            &[(100 * S, 1500), (101 * S, 3000)]
        ),
        vec![(100, -12.0), (101, -24.0)]
    );
}

#[test]
fn absolute_off_grid_is_interpolated() {
    // Collections at 100.5 s (10) and 101.5 s (20): grid time 101 lies half-way.
    assert_points!(
        run(
            Algorithm::Absolute,
            1,
            1,
            1,
            &[(100 * S + S / 2, 10), (101 * S + S / 2, 20)]
        ),
        vec![(100, 10.0), (101, 15.0)]
    );
}

#[test]
fn absolute_with_update_every_5_lands_on_multiples_of_5() {
    assert_points!(
        run(
            Algorithm::Absolute,
            1,
            1,
            5,
            &[(101 * S, 10), (106 * S, 20), (111 * S, 30)]
        ),
        vec![(100, 10.0), (105, 18.0), (110, 28.0)]
    );
}

#[test]
fn incremental_is_a_per_second_rate() {
    assert_points!(
        run(
            Algorithm::Incremental,
            1,
            1,
            1,
            &[(100 * S, 1000), (101 * S, 1500), (102 * S, 2500)]
        ),
        vec![(101, 500.0), (102, 1000.0)]
    );
}

#[test]
fn incremental_rate_uses_actual_elapsed_time() {
    // 5 s chart: delta 100 over 5 s is 20/s, stored once per grid step.
    assert_points!(
        run(
            Algorithm::Incremental,
            8,
            1024,
            5,
            &[(100 * S, 0), (105 * S, 128)]
        ),
        vec![(105, 128.0 * 8.0 / 1024.0 / 5.0)]
    );
}

#[test]
fn incremental_counter_reset_stores_nothing_and_restarts() {
    assert_points!(
        run(
            Algorithm::Incremental,
            1,
            1,
            1,
            &[
                (100 * S, 1000),
                (101 * S, 1100),
                (102 * S, 5),
                (103 * S, 25)
            ]
        ),
        vec![(101, 100.0), (103, 20.0)]
    );
}

#[test]
fn incremental_wrap_of_a_32bit_counter_is_a_reset_not_a_spike() {
    let got = run(
        Algorithm::Incremental,
        1,
        1,
        1,
        &[
            (100 * S, 4_294_967_000),
            (101 * S, 4_294_967_200),
            (102 * S, 100),
            (103 * S, 300),
        ],
    );
    assert_points!(got, vec![(101, 200.0), (103, 200.0)]);
}

#[test]
fn gap_leaves_empty_slots() {
    // Collections at 100, 101, then nothing until 105.
    let abs = run(
        Algorithm::Absolute,
        1,
        1,
        1,
        &[(100 * S, 1), (101 * S, 2), (105 * S, 9)],
    );
    assert_points!(abs, vec![(100, 1.0), (101, 2.0), (105, 9.0)]);
    let inc = run(
        Algorithm::Incremental,
        1,
        1,
        1,
        &[(100 * S, 0), (101 * S, 10), (105 * S, 100), (106 * S, 110)],
    );
    assert_points!(inc, vec![(101, 10.0), (106, 10.0)]);
}

#[test]
fn gap_query_counts_only_existing_points() {
    let c = chart(1, 100);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    for (t, v) in [(100, 1), (101, 2), (105, 9)] {
        let mut w = c.write();
        w.set(d, v);
        w.done(t * S).unwrap();
    }
    let r = c.read();
    let agg = r.aggregate_between(d, 99, 105);
    assert_eq!(agg.count, 3);
    assert_eq!(agg.average(), Some(4.0));
    assert_eq!(r.aggregate_between(d, 101, 104).count, 0);
    assert_eq!(r.aggregate_between(d, 101, 104).average(), None);
    assert_eq!(r.first_entry_t(), Some(100));
    assert_eq!(r.last_entry_t(), Some(105));
}

#[test]
fn small_jitter_is_not_a_gap() {
    let got = run(
        Algorithm::Absolute,
        1,
        1,
        1,
        &[(100 * S + 900_000, 10), (102 * S + 100_000, 22)],
    );
    // 1.2 s apart: grid times 101 and 102 are both interpolated.
    assert_points!(got, vec![(100, 10.0), (101, 11.0), (102, 21.0)]);
}

#[test]
fn dimension_not_collected_this_round_stores_empty() {
    let c = chart(1, 100);
    let (a, b) = {
        let mut w = c.write();
        (
            w.add_dimension(DimensionDef::new("a")),
            w.add_dimension(DimensionDef::new("b")),
        )
    };
    for (t, set_b) in [(100, true), (101, false), (102, true)] {
        let mut w = c.write();
        w.set(a, t);
        if set_b {
            w.set(b, t * 2);
        }
        w.done(t as u64 * S).unwrap();
    }
    let r = c.read();
    assert_eq!(r.points(a, 0, 1000).len(), 3);
    let pb: Vec<_> = r
        .points(b, 0, 1000)
        .iter()
        .map(|p| (p.time, p.value))
        .collect();
    assert_eq!(pb, vec![(100, 200.0), (102, 204.0)]);
}

#[test]
fn percentage_of_absolute_row() {
    let c = chart(1, 100);
    let (a, b) = {
        let mut w = c.write();
        let alg = Algorithm::PercentageOfAbsoluteRow;
        (
            w.add_dimension(DimensionDef::new("a").algorithm(alg)),
            w.add_dimension(DimensionDef::new("b").algorithm(alg)),
        )
    };
    let mut w = c.write();
    w.set(a, 1);
    w.set(b, 3);
    w.done(100 * S).unwrap();
    drop(w);
    let r = c.read();
    assert_eq!(r.aggregate_between(a, 99, 100).average(), Some(25.0));
    assert_eq!(r.aggregate_between(b, 99, 100).average(), Some(75.0));
}

#[test]
fn percentage_of_incremental_row() {
    let c = chart(1, 100);
    let alg = Algorithm::PercentageOfIncrementalRow;
    let (a, b) = {
        let mut w = c.write();
        (
            w.add_dimension(DimensionDef::new("a").algorithm(alg)),
            w.add_dimension(DimensionDef::new("b").algorithm(alg)),
        )
    };
    for (t, va, vb) in [(100, 0, 0), (101, 10, 30), (102, 10, 30)] {
        let mut w = c.write();
        w.set(a, va);
        w.set(b, vb);
        w.done(t * S).unwrap();
    }
    let r = c.read();
    assert_eq!(
        r.points(a, 0, 1000)
            .iter()
            .map(|p| p.value)
            .collect::<Vec<_>>(),
        vec![25.0, 0.0]
    );
    assert_eq!(
        r.points(b, 0, 1000)
            .iter()
            .map(|p| p.value)
            .collect::<Vec<_>>(),
        vec![75.0, 0.0]
    );
}

#[test]
fn time_going_backwards_is_refused_and_discards_the_round() {
    let c = chart(1, 100);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    let mut w = c.write();
    w.set(d, 1);
    w.done(100 * S).unwrap();
    w.set(d, 2);
    let err = w.done(99 * S).unwrap_err();
    assert!(matches!(err, CollectError::TimeWentBackwards { .. }));
    assert!(err.to_string().contains("t.c"));
    w.set(d, 3);
    w.done(101 * S).unwrap();
    drop(w);
    let vals: Vec<_> = c
        .read()
        .points(d, 0, 1000)
        .iter()
        .map(|p| p.value)
        .collect();
    assert_eq!(vals, vec![1.0, 3.0]);
}

#[test]
fn last_collected_is_the_raw_value_and_time() {
    let c = chart(1, 100);
    let d = c
        .write()
        .add_dimension(DimensionDef::new("d").multiplier(3).divisor(7));
    let mut w = c.write();
    assert_eq!(w.dimension(d).unwrap().last_collected(), None);
    w.set(d, 42);
    w.done(100 * S + 250_000).unwrap();
    assert_eq!(
        w.dimension(d).unwrap().last_collected(),
        Some((42, 100 * S + 250_000))
    );
}

fn filled_chart(history: usize, rounds: i64) -> (Arc<Chart>, DimIndex) {
    let c = chart(1, history);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    for t in 1000..1000 + rounds {
        let mut w = c.write();
        w.set(d, t);
        w.done(t as u64 * S).unwrap();
    }
    (c, d)
}

#[test]
fn ring_wraps_and_keeps_the_last_history_points() {
    let (c, d) = filled_chart(10, 25); // t = 1000 ..= 1024
    let r = c.read();
    assert_eq!(r.first_entry_t(), Some(1015));
    assert_eq!(r.last_entry_t(), Some(1024));
    let times: Vec<_> = r
        .points(d, 0, i64::MAX / 2)
        .iter()
        .map(|p| p.time)
        .collect();
    assert_eq!(times, (1015..=1024).collect::<Vec<_>>());
    // Every held time maps to a distinct slot, and values match times.
    let mut slots: Vec<_> = (1015..=1024).map(|t| r.time_to_slot(t).unwrap()).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 10);
    assert_eq!(r.time_to_slot(1014), None);
    assert_eq!(r.time_to_slot(1025), None);
}

#[test]
fn window_aggregation_across_the_wrap_around() {
    let (c, d) = filled_chart(10, 25);
    let r = c.read();
    // The slot of 1020 is 0 (1000 + 20 = 2 full turns); a window 1017..=1022
    // spans the end of the ring and its start.
    assert_eq!(r.time_to_slot(1020), Some(0));
    let w = r.window(1016, 1022).unwrap();
    assert_eq!((w.first_slot, w.count, w.first_t), (7, 6, 1017));
    let agg = r.aggregate(d, &w);
    assert_eq!(agg.count, 6);
    assert_eq!(agg.sum, (1017..=1022).sum::<i64>() as f64);
    assert_eq!(agg.average(), Some(1019.5));
    // Clamped to what is held.
    assert_eq!(r.aggregate_between(d, 0, 2000).count, 10);
    assert_eq!(r.aggregate_between(d, 1024, 2000).count, 0);
    assert_eq!(r.aggregate_between(d, 1023, 1024).sum, 1024.0);
}

#[test]
fn window_boundaries_are_after_exclusive_before_inclusive() {
    let (c, d) = filled_chart(100, 10); // 1000..=1009
    let r = c.read();
    assert_eq!(r.aggregate_between(d, 1002, 1005).count, 3);
    assert_eq!(
        r.aggregate_between(d, 1002, 1005).sum,
        (1003 + 1004 + 1005) as f64
    );
}

#[test]
fn gap_longer_than_history_clears_the_ring() {
    let c = chart(1, 10);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    for t in [1000u64, 1001, 1050] {
        let mut w = c.write();
        w.set(d, t as i64);
        w.done(t * S).unwrap();
    }
    let r = c.read();
    assert_eq!(r.first_entry_t(), Some(1041));
    let pts: Vec<_> = r
        .points(d, 0, 5000)
        .iter()
        .map(|p| (p.time, p.value))
        .collect();
    assert_eq!(pts, vec![(1050, 1050.0)]);
}

#[test]
fn dimension_added_later_starts_empty() {
    let (c, _) = filled_chart(10, 5);
    let e = c.write().add_dimension(DimensionDef::new("late"));
    let mut w = c.write();
    w.set(e, 7);
    w.done(1005 * S).unwrap();
    drop(w);
    let r = c.read();
    assert_eq!(r.points(e, 0, 5000).len(), 1);
    assert_eq!(r.dimension_index("late"), Some(e));
}

#[test]
fn dimension_added_after_data_keeps_the_others_points() {
    let (c, d) = filled_chart(10, 25); // wrapped: 1015 ..= 1024
    let e = c.write().add_dimension(DimensionDef::new("late"));
    let r = c.read();
    let pts: Vec<_> = r
        .points(d, 0, 5000)
        .iter()
        .map(|p| (p.time, p.value))
        .collect();
    assert_eq!(
        pts,
        (1015..=1024).map(|t| (t, t as f64)).collect::<Vec<_>>()
    );
    assert!(r.points(e, 0, 5000).is_empty());
    let w = r.window(1000, 1024).unwrap();
    let mut all = Vec::new();
    r.aggregate_all(&w, &mut all);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].count, 10);
    assert_eq!(all[0].sum, (1015..=1024).sum::<i64>() as f64);
    assert_eq!(all[1].count, 0);
    assert_eq!(all[0], r.aggregate(d, &w));
}

#[test]
fn redefine_bumps_generation_and_changing_update_every_clears_ring() {
    let (c, d) = filled_chart(10, 5);
    let g = c.read().generation();
    let def = c.read().def().clone().title("new title");
    c.write().redefine(def.clone());
    assert!(c.read().generation() > g);
    assert_eq!(c.read().points(d, 0, 5000).len(), 5);
    c.write().redefine(def.update_every(5));
    assert_eq!(c.read().points(d, 0, 5000).len(), 0);
}

#[test]
fn readers_and_writers_run_concurrently() {
    let (c, d) = filled_chart(50, 1);
    let writer = {
        let c = c.clone();
        std::thread::spawn(move || {
            for t in 1001..3001u64 {
                let mut w = c.write();
                w.set(d, t as i64);
                w.done(t * S).unwrap();
            }
        })
    };
    let mut seen = 0;
    loop {
        let done = writer.is_finished();
        let r = c.read();
        if let (Some(first), Some(last)) = (r.first_entry_t(), r.last_entry_t()) {
            let agg = r.aggregate_between(d, first - 1, last);
            // Values equal times, so the window's mean is its middle time.
            assert_eq!(agg.count as i64, last - first + 1);
            assert_eq!(agg.average().unwrap(), (first + last) as f64 / 2.0);
            seen += 1;
        }
        if done {
            break;
        }
    }
    writer.join().unwrap();
    assert!(seen > 0);
}

#[test]
fn dimension_names_are_stored_and_found_as_netdata_stores_them() {
    let c = chart(1, 10);
    let (rx, tx) = {
        let mut w = c.write();
        (
            w.add_dimension(DimensionDef::new("rx").name("naïve name")),
            w.add_dimension(DimensionDef::new("tx")),
        )
    };
    let r = c.read();
    assert_eq!(r.dimension(rx).unwrap().name(), "na__ve name");
    assert_eq!(r.dimension(tx).unwrap().name(), "tx");
    assert_eq!(r.dimension_index_by_name("na__ve name"), Some(rx));
    assert_eq!(r.dimension_index_by_name("tx"), Some(tx));
    assert_eq!(r.dimension_index_by_name("naïve name"), None);
    assert_eq!(r.dimension_index_by_name("rx"), None);
}

#[test]
fn renaming_a_dimension_bumps_the_generation() {
    let c = chart(1, 10);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    let g = c.read().generation();
    assert_eq!(c.write().add_dimension(DimensionDef::new("d")), d);
    assert_eq!(c.read().generation(), g, "same definition, same generation");
    assert_eq!(
        c.write()
            .add_dimension(DimensionDef::new("d").name("renamed")),
        d
    );
    let r = c.read();
    assert!(r.generation() > g);
    assert_eq!(r.dimension(d).unwrap().name(), "renamed");
}

#[test]
fn an_empty_ring_holds_no_times() {
    let c = chart(1, 10);
    let d = c.write().add_dimension(DimensionDef::new("d"));
    {
        let r = c.read();
        assert_eq!(r.first_entry_t(), None);
        assert_eq!(r.last_entry_t(), None);
        assert_eq!(r.window(0, 5000), None);
        assert!(r.points(d, 0, 5000).is_empty());
    }
    let mut w = c.write();
    w.set(d, 1);
    w.done(1000 * S).unwrap();
    assert_eq!(w.first_entry_t(), Some(1000));
    // A new update_every clears the ring: nothing is held any more.
    let def = w.def().clone().update_every(5);
    w.redefine(def);
    assert_eq!(w.first_entry_t(), None);
    assert_eq!(w.window(0, 5000), None);
}

#[test]
fn chart_reports_its_history_and_last_collection_time() {
    let c = chart(1, 10);
    assert_eq!(c.read().history(), 10);
    assert_eq!(chart(1, 1).read().history(), 2, "at least two slots");
    let d = c.write().add_dimension(DimensionDef::new("d"));
    assert_eq!(c.read().last_collected_ut(), 0);
    let mut w = c.write();
    w.set(d, 1);
    w.done(1000 * S + 300_000).unwrap();
    assert_eq!(w.last_collected_ut(), 1000 * S + 300_000);
    w.set(d, 2);
    w.done(999 * S).unwrap_err();
    assert_eq!(w.last_collected_ut(), 1000 * S + 300_000, "refused round");
}

#[test]
fn percentage_rows_apply_multiplier_and_divisor() {
    // share × 100 × multiplier / divisor: 25 % and 75 % times 3/2.
    for alg in [
        Algorithm::PercentageOfAbsoluteRow,
        Algorithm::PercentageOfIncrementalRow,
    ] {
        let c = chart(1, 100);
        let (a, b) = {
            let mut w = c.write();
            let dim = |id: &str| {
                DimensionDef::new(id)
                    .algorithm(alg)
                    .multiplier(3)
                    .divisor(2)
            };
            (w.add_dimension(dim("a")), w.add_dimension(dim("b")))
        };
        for (t, va, vb) in [(100, 0, 0), (101, 10, 30)] {
            let mut w = c.write();
            w.set(a, va);
            w.set(b, vb);
            w.done(t * S).unwrap();
        }
        let r = c.read();
        assert_eq!(
            r.aggregate_between(a, 100, 101).average(),
            Some(37.5),
            "{alg}"
        );
        assert_eq!(
            r.aggregate_between(b, 100, 101).average(),
            Some(112.5),
            "{alg}"
        );
    }
}

#[test]
fn window_reports_its_newest_time_and_sum() {
    let (c, d) = filled_chart(100, 10); // 1000..=1009
    let r = c.read();
    let w = r.window(1002, 1005).unwrap();
    assert_eq!((w.first_t, w.last_t()), (1003, 1005));
    assert_eq!(r.window(1002, 1003).unwrap().last_t(), 1003);
    assert_eq!(r.aggregate(d, &w).sum(), Some((1003 + 1004 + 1005) as f64));
    assert_eq!(r.aggregate_between(d, 1009, 2000).sum(), None);
}

#[test]
fn last_stored_value_is_the_newest_point_unpacked() {
    let c = chart(1, 10);
    let (big, rate, idle) = {
        let mut w = c.write();
        (
            w.add_dimension(DimensionDef::new("big")),
            w.add_dimension(DimensionDef::new("rate").algorithm(Algorithm::Incremental)),
            w.add_dimension(DimensionDef::new("idle")),
        )
    };
    let value = |dim: DimIndex| c.read().dimension(dim).unwrap().last_stored_value();
    assert_eq!(value(big), None);
    {
        let mut w = c.write();
        w.set(big, 123_456_789_012_345);
        w.set(rate, 100);
        w.set(idle, 1);
        w.done(100 * S).unwrap();
    }
    // Full precision, where the ring keeps a packed 123456790000000.
    assert_eq!(value(big), Some(123_456_789_012_345.0));
    assert_eq!(value(rate), None, "a rate needs two collections");
    assert_eq!(value(idle), Some(1.0));
    {
        let mut w = c.write();
        w.set(big, 7);
        w.set(rate, 130);
        w.done(101 * S).unwrap();
    }
    assert_eq!(value(big), Some(7.0));
    assert_eq!(value(rate), Some(30.0));
    assert_eq!(value(idle), None, "not collected: its newest slot is empty");
    {
        // Collected again inside the same grid second: nothing new stored.
        let mut w = c.write();
        w.set(big, 9);
        w.done(101 * S + 500_000).unwrap();
    }
    assert_eq!(value(big), Some(7.0));
}

#[test]
fn stored_points_append_fill_gaps_and_keep_collected_values() {
    let c = chart(1, 10);
    let (a, b) = {
        let mut w = c.write();
        let a = w.add_dimension(DimensionDef::new("a"));
        let b = w.add_dimension(DimensionDef::new("b"));
        (a, b)
    };
    let point = |t: i64, dim: DimIndex| {
        let c = c.read();
        c.time_to_slot(t)
            .and_then(|slot| c.sample(slot, dim))
            .and_then(|s| s.unpack())
    };
    // Into an empty chart, then a gap of two seconds.
    assert_eq!(
        c.write().store_point(100, &[(a, 1.5), (b, 2.0)]),
        StoredAs::Appended
    );
    assert_eq!(
        c.write().store_point(103, &[(a, 4.0), (b, f64::NAN)]),
        StoredAs::Appended
    );
    let state = c.read();
    assert_eq!(state.first_entry_t(), Some(100));
    assert_eq!(state.last_entry_t(), Some(103));
    drop(state);
    assert_eq!(point(100, a), Some(1.5));
    assert_eq!(point(103, a), Some(4.0));
    assert_eq!(point(103, b), None, "NaN stores nothing");
    assert_eq!(point(101, a), None, "the gap stays empty");
    assert_eq!(
        c.read().dimension(a).unwrap().last_stored_value(),
        Some(4.0)
    );

    // A late point fills the gap; collected (non-empty) samples stay.
    assert_eq!(
        c.write().store_point(101, &[(a, 2.0), (b, 3.0)]),
        StoredAs::Filled(2)
    );
    assert_eq!(c.write().store_point(100, &[(a, 9.0)]), StoredAs::Filled(0));
    assert_eq!(point(101, a), Some(2.0));
    assert_eq!(point(100, a), Some(1.5));
    // Off-grid times round down (update every 1: no change); older than
    // the ring: dropped.
    assert_eq!(c.write().store_point(50, &[(a, 1.0)]), StoredAs::Dropped);

    // A jump past the whole history keeps only the new point.
    assert_eq!(c.write().store_point(200, &[(a, 7.0)]), StoredAs::Appended);
    assert_eq!(point(200, a), Some(7.0));
    assert_eq!(point(103, a), None);

    // Live collection goes on after replayed points, from the state the
    // child reported.
    let r = {
        let mut w = c.write();
        w.add_dimension(DimensionDef::new("r").algorithm(Algorithm::Incremental))
    };
    {
        let mut w = c.write();
        w.set_last_collected(r, 1_000, 200 * S);
        w.set(r, 1_500);
        w.done(201 * S).unwrap();
    }
    assert_eq!(point(201, r), Some(500.0), "a rate from the reported base");
}

#[test]
fn receiving_history_is_marked_and_each_end_is_counted() {
    let c = chart(1, 10);
    assert!(!c.read().is_receiving_history());
    assert_eq!(c.read().histories_received(), 0);
    c.write().set_receiving_history(true);
    assert!(c.read().is_receiving_history());
    assert_eq!(c.read().histories_received(), 0, "not ended yet");
    c.write().set_receiving_history(false);
    assert!(!c.read().is_receiving_history());
    assert_eq!(c.read().histories_received(), 1);
    c.write().set_receiving_history(false);
    assert_eq!(c.read().histories_received(), 1, "ending twice counts once");
}

#[test]
fn what_a_round_touches_per_dimension_stays_small() {
    // The inline part of a dimension is what every collection round walks.
    assert_eq!(std::mem::size_of::<Dimension>(), 64);
}

#[test]
fn prefetch_hints_change_nothing_and_never_wait() {
    let (c, d) = filled_chart(5, 12);
    let before: Vec<_> = (0..5).map(|slot| c.read().sample(slot, d)).collect();
    c.prefetch_chart();
    let hints = c.prefetch_round();
    for dim in 0..40 {
        // Past the chart's dimensions too: nothing happens.
        hints.dimension(dim);
    }
    {
        // A writer holds the chart: the hint returns at once, and its
        // dimension hints do nothing.
        let _writer = c.write();
        let held = c.prefetch_round();
        held.dimension(0);
        c.prefetch_chart();
    }
    let after: Vec<_> = (0..5).map(|slot| c.read().sample(slot, d)).collect();
    assert_eq!(before, after);
    // An empty chart, no dimensions, no ring.
    let empty = chart(1, 3);
    empty.prefetch_round().dimension(0);
}

#[test]
fn all_dimensions_collected_follows_every_dimension() {
    let c = chart(1, 10);
    let check = |c: &Chart| {
        let st = c.read();
        let all = st.dimensions().iter().all(|d| d.last_collected().is_some());
        assert_eq!(st.all_dimensions_collected(), all);
        all
    };
    assert!(check(&c), "no dimension: nothing left to collect");
    let mut w = c.write();
    let a = w.add_dimension(DimensionDef::new("a"));
    let b = w.add_dimension(DimensionDef::new("b"));
    drop(w);
    assert!(!check(&c));
    let mut w = c.write();
    w.set(a, 1);
    w.done(100 * S).unwrap();
    drop(w);
    assert!(!check(&c), "b not collected yet");
    let mut w = c.write();
    w.set(a, 2);
    w.set(b, 2);
    w.done(101 * S).unwrap();
    // Redefining a dimension keeps its collection.
    w.add_dimension(DimensionDef::new("a").name("renamed"));
    drop(w);
    assert!(check(&c));
    let mut w = c.write();
    w.set_last_collected(b, 0, 0);
    drop(w);
    assert!(!check(&c), "b's collection was cleared");
    let mut w = c.write();
    w.set_last_collected(b, 5, 101 * S);
    w.set_last_collected(b, 6, 101 * S);
    drop(w);
    assert!(check(&c));
    let mut w = c.write();
    w.add_dimension(DimensionDef::new("c"));
    drop(w);
    assert!(!check(&c), "a new dimension");
    let mut w = c.write();
    w.set(2, 1);
    w.done(102 * S).unwrap();
    drop(w);
    assert!(check(&c));
}

#[test]
fn factors_beyond_32_bits_are_used_whole() {
    // Factors that do not fit the inline 32-bit copies are read from the
    // definition: the stored values are those of the exact 64-bit factors.
    let mul = 1i64 << 40;
    let div = 3i64 << 33;
    let rounds = [(100 * S, 7), (101 * S, 7)];
    let got = run(Algorithm::Absolute, mul, div, 1, &rounds);
    let want = PackedSample::pack(7.0 * mul as f64 / div as f64).unpack();
    assert_eq!(got.last().map(|&(_, v)| v), want);
    let small = run(Algorithm::Absolute, 3, 7, 1, &rounds);
    let want = PackedSample::pack(7.0 * 3.0 / 7.0).unpack();
    assert_eq!(small.last().map(|&(_, v)| v), want);
}
