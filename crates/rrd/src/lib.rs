//! The store: hosts, charts and dimensions, with each dimension's recent
//! history kept in a ring of 32-bit packed samples.
//!
//! No I/O, no async, no clock reads: collection times are passed in (µs since
//! the epoch), and stored points sit on a grid of whole seconds.
//!
//! ```
//! use rrd::{Algorithm, ChartDef, DimensionDef, Host, Store};
//! let store = Store::new(Host::new("box", 60));
//! let chart = store.localhost().create_chart(ChartDef::new("net", "eth0").update_every(1));
//! let mut w = chart.write();
//! let rx = w.add_dimension(DimensionDef::new("received").algorithm(Algorithm::Incremental));
//! w.set(rx, 1_000);
//! w.done(100_000_000).unwrap();          // t = 100 s: first collection, no rate yet
//! w.set(rx, 3_000);
//! w.done(101_000_000).unwrap();          // t = 101 s: 2000 per second
//! drop(w);
//! let c = chart.read();
//! assert_eq!(c.aggregate_between(rx, 100, 101).average(), Some(2000.0));
//! ```

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod chart;
pub mod def;
pub mod host;
pub mod packed;
pub mod query;
pub mod variables;

pub use chart::{
    Chart, ChartState, ChartWriter, CollectError, DimIndex, Dimension, RoundHints, StoredAs,
    GAP_FACTOR,
};
pub use def::{Algorithm, ChartDef, ChartType, DimensionDef, Label, LabelSource};
pub use host::{Host, Store, StoreUsage, DEFAULT_HISTORY};
pub use packed::{PackedSample, ABSOLUTE_ERROR, RELATIVE_ERROR};
pub use query::{SlotWindow, StoredPoint, WindowAggregate};
pub use variables::CustomVariables;
