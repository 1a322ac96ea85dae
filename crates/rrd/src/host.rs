//! `Host` and `Store`: the hosts the agent holds charts for, each with its
//! labels and an index of charts by id and by name.
//!
//! # Locking
//!
//! A host's chart index sits behind its own lock, taken only to find, add or
//! list charts (listing clones `Arc`s, so no chart lock is held meanwhile).
//! Each chart has its own reader-writer lock (see [`crate::chart`]). A reader
//! walking the host therefore holds at most one chart lock at a time, and a
//! collector waits at most for one chart's read.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::chart::Chart;
use crate::def::{ChartDef, Label};
use crate::variables::CustomVariables;

/// Default number of slots per dimension.
pub const DEFAULT_HISTORY: usize = 3600;

/// A host's charts: the list in creation order and its two lookups.
#[derive(Default)]
pub(crate) struct ChartIndex {
    list: Vec<Arc<Chart>>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    generation: u64,
    /// Charts removed so far.
    removals: u64,
}

impl ChartIndex {
    fn push(&mut self, chart: Arc<Chart>, full_id: String, full_name: String) {
        let i = self.list.len();
        self.list.push(chart);
        self.by_id.insert(full_id, i);
        self.by_name.insert(full_name, i);
        self.generation += 1;
    }

    /// Puts back a chart that was removed, unless its id is taken again.
    /// Takes no chart lock: the caller holds the chart's write lock.
    pub(crate) fn reinstate(&mut self, chart: Arc<Chart>, full_name: String) {
        if self.by_id.contains_key(chart.id()) {
            return;
        }
        let full_id = chart.id().to_string();
        self.push(chart, full_id, full_name);
    }

    /// Keeps the charts `keep` answers true for and renumbers the lookups.
    /// Takes no chart lock (see `Chart::reinstate` for the lock order).
    fn retain(&mut self, mut keep: impl FnMut(&Arc<Chart>) -> bool) -> usize {
        const GONE: usize = usize::MAX;
        let mut new_position = Vec::with_capacity(self.list.len());
        let mut next = 0;
        for chart in &self.list {
            if keep(chart) {
                new_position.push(next);
                next += 1;
            } else {
                new_position.push(GONE);
            }
        }
        let removed = self.list.len() - next;
        if removed == 0 {
            return 0;
        }
        let mut i = 0;
        self.list.retain(|_| {
            let kept = new_position[i] != GONE;
            i += 1;
            kept
        });
        for map in [&mut self.by_id, &mut self.by_name] {
            map.retain(|_, at| {
                let moved = new_position.get(*at).copied().unwrap_or(GONE);
                *at = moved;
                moved != GONE
            });
            map.shrink_to_fit();
        }
        self.list.shrink_to_fit();
        self.generation += 1;
        self.removals += removed as u64;
        removed
    }
}

/// What a host (or the whole store) holds, as the store counts it: the
/// figure that must return to its baseline when charts come and go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub charts: usize,
    pub dimensions: usize,
    /// Bytes of the dimensions' rings (allocated, not just filled).
    pub sample_bytes: usize,
}

impl std::ops::AddAssign for StoreUsage {
    fn add_assign(&mut self, other: StoreUsage) {
        self.charts += other.charts;
        self.dimensions += other.dimensions;
        self.sample_bytes += other.sample_bytes;
    }
}

/// A host's custom variables: its own, and the table with the charts'
/// copies (see [`crate::variables`]).
#[derive(Debug, Default)]
struct HostVariables {
    own: CustomVariables,
    all: CustomVariables,
}

/// A host: hostname, labels, and its charts.
pub struct Host {
    hostname: String,
    machine_guid: Option<String>,
    reachable: std::sync::atomic::AtomicBool,
    /// How many agents away the host's collector is (0: this one).
    hops: std::sync::atomic::AtomicU32,
    /// What a streaming child said of its machine (`NETDATA_SYSTEM_OS_NAME`
    /// and the like, in its order).
    system_info: RwLock<Arc<Vec<(String, String)>>>,
    history: usize,
    labels: RwLock<Arc<Vec<Label>>>,
    /// Custom host variables and copies of the charts' (see
    /// [`crate::variables`]).
    variables: RwLock<HostVariables>,
    charts: Arc<RwLock<ChartIndex>>,
}

impl Host {
    /// A host whose charts keep `history` slots per dimension.
    pub fn new(hostname: impl Into<String>, history: usize) -> Host {
        Host {
            hostname: hostname.into(),
            machine_guid: None,
            reachable: std::sync::atomic::AtomicBool::new(true),
            hops: std::sync::atomic::AtomicU32::new(0),
            system_info: RwLock::new(Arc::new(Vec::new())),
            history: history.max(2),
            labels: RwLock::new(Arc::new(Vec::new())),
            variables: RwLock::new(HostVariables::default()),
            charts: Arc::new(RwLock::new(ChartIndex::default())),
        }
    }

    /// The same host with a machine GUID (a child streaming to this agent).
    pub fn with_machine_guid(mut self, machine_guid: impl Into<String>) -> Host {
        self.machine_guid = Some(machine_guid.into());
        self
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Whether the host is collecting now (a child: connected).
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the host connected or not (set by the stream receiver).
    pub fn set_reachable(&self, reachable: bool) {
        self.reachable
            .store(reachable, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many agents away the host's collector is: 0 for this agent's
    /// own host, a streaming child's `hops` (1 for a child, 2 for a
    /// child's child through a proxy, ...).
    pub fn hops(&self) -> u32 {
        self.hops.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets [`Host::hops`] (the stream receiver, from the child's request).
    pub fn set_hops(&self, hops: u32) {
        self.hops.store(hops, std::sync::atomic::Ordering::Relaxed);
    }

    /// What a streaming child said of its machine, as `(NETDATA_..., value)`
    /// pairs; empty for other hosts.
    pub fn system_info(&self) -> Arc<Vec<(String, String)>> {
        self.system_info.read().clone()
    }

    /// Replaces [`Host::system_info`] (the stream receiver, from the
    /// child's request).
    pub fn set_system_info(&self, info: Vec<(String, String)>) {
        *self.system_info.write() = Arc::new(info);
    }

    /// The machine GUID, for hosts that have one (children).
    pub fn machine_guid(&self) -> Option<&str> {
        self.machine_guid.as_deref()
    }

    pub fn history(&self) -> usize {
        self.history
    }

    /// The host's labels (a cheap snapshot).
    pub fn labels(&self) -> Arc<Vec<Label>> {
        self.labels.read().clone()
    }

    /// Replaces the host's labels.
    pub fn set_labels(&self, labels: Vec<Label>) {
        *self.labels.write() = Arc::new(labels);
    }

    /// Sets the host variable `name` (`VARIABLE GLOBAL`); `true` when that
    /// changed it.
    pub fn set_variable(&self, name: &str, value: f64) -> bool {
        let mut variables = self.variables.write();
        variables.all.set(name, value);
        variables.own.set(name, value)
    }

    /// Sets `chart`'s variable `name` (`VARIABLE LOCAL`), and its copies in
    /// the host's table: `CHART_ID.NAME`, and `CHART_NAME.NAME` when the
    /// chart's name differs from its id. `true` when the chart's value
    /// changed. The caller must not hold `chart`'s lock.
    pub fn set_chart_variable(&self, chart: &Chart, name: &str, value: f64) -> bool {
        let (changed, id, chart_name) = {
            let mut writer = chart.write();
            let changed = writer.set_variable(name, value);
            (changed, writer.id().to_string(), writer.name().to_string())
        };
        let table = &mut self.variables.write().all;
        table.set(&format!("{id}.{name}"), value);
        if chart_name != id {
            table.set(&format!("{chart_name}.{name}"), value);
        }
        changed
    }

    /// Reads the host's variables table (custom host variables and the
    /// charts' copies, in the order they were first set).
    pub fn with_variables<R>(&self, read: impl FnOnce(&CustomVariables) -> R) -> R {
        read(&self.variables.read().all)
    }

    /// Reads the host's own custom variables (`VARIABLE GLOBAL`; not the
    /// charts' copies), in the order they were first set.
    pub fn with_host_variables<R>(&self, read: impl FnOnce(&CustomVariables) -> R) -> R {
        read(&self.variables.read().own)
    }

    /// Returns the chart with `def`'s id, creating it if needed. An existing
    /// chart gets `def` as its new definition.
    pub fn create_chart(&self, def: ChartDef) -> Arc<Chart> {
        let full_id = def.full_id();
        if let Some(chart) = self.chart_by_id(&full_id) {
            let old_name = chart.read().name().to_string();
            chart.write().redefine(def);
            let new_name = chart.read().name().to_string();
            if old_name != new_name {
                let mut index = self.charts.write();
                if let Some(&i) = index.by_id.get(&full_id) {
                    index.by_name.remove(&old_name);
                    index.by_name.insert(new_name, i);
                    index.generation += 1;
                }
            }
            return chart;
        }
        let mut index = self.charts.write();
        if let Some(&i) = index.by_id.get(&full_id) {
            // Created by someone else meanwhile.
            let chart = index.list[i].clone();
            drop(index);
            chart.write().redefine(def);
            return chart;
        }
        let full_name = def.full_name();
        let chart = Chart::new(def, self.history, Arc::downgrade(&self.charts));
        index.push(chart.clone(), full_id, full_name);
        chart
    }

    /// Removes the charts that are obsolete and were last collected at least
    /// `after_secs` before `now_ut` (µs; a chart never collected counts as
    /// collected at 0), as netdata's `cleanup obsolete charts after secs`
    /// does; returns how many were removed. Whoever still holds a removed
    /// chart may keep using it: a completed round puts it back.
    pub fn remove_obsolete_charts(&self, now_ut: u64, after_secs: u64) -> usize {
        let after_ut = after_secs.saturating_mul(1_000_000);
        // Decide without the index lock (the chart locks come first, see
        // `Chart::reinstate`), then drop the chosen ones by identity.
        let expired: Vec<Arc<Chart>> = self
            .charts()
            .into_iter()
            .filter(|chart| {
                let st = chart.read();
                st.is_obsolete() && now_ut.saturating_sub(st.last_collected_ut()) >= after_ut
            })
            .collect();
        if expired.is_empty() {
            return 0;
        }
        let mut index = self.charts.write();
        index.retain(|chart| {
            let gone = expired.iter().any(|e| Arc::ptr_eq(e, chart));
            if gone {
                chart.set_removed(true);
            }
            !gone
        })
    }

    /// The charts, dimensions and ring bytes this host holds.
    pub fn usage(&self) -> StoreUsage {
        let mut usage = StoreUsage::default();
        for chart in self.charts() {
            let st = chart.read();
            usage.charts += 1;
            usage.dimensions += st.dimensions().len();
            usage.sample_bytes += st.sample_bytes();
        }
        usage
    }

    pub fn chart_by_id(&self, id: &str) -> Option<Arc<Chart>> {
        let index = self.charts.read();
        index.by_id.get(id).map(|&i| index.list[i].clone())
    }

    pub fn chart_by_name(&self, name: &str) -> Option<Arc<Chart>> {
        let index = self.charts.read();
        index.by_name.get(name).map(|&i| index.list[i].clone())
    }

    /// A snapshot of the charts, in creation order.
    pub fn charts(&self) -> Vec<Arc<Chart>> {
        self.charts.read().list.clone()
    }

    pub fn chart_count(&self) -> usize {
        self.charts.read().list.len()
    }

    /// How many charts were removed from this host so far (holders of
    /// charts compare it to know when to look for removed ones).
    pub fn removals(&self) -> u64 {
        self.charts.read().removals
    }

    /// Bumped whenever a chart is added, renamed or removed.
    pub fn charts_generation(&self) -> u64 {
        self.charts.read().generation
    }
}

/// All the hosts; the first is the local host.
pub struct Store {
    localhost: Arc<Host>,
    hosts: RwLock<Vec<Arc<Host>>>,
}

impl Store {
    /// A store whose local host is `localhost`.
    pub fn new(localhost: Host) -> Store {
        let localhost = Arc::new(localhost);
        Store {
            hosts: RwLock::new(vec![localhost.clone()]),
            localhost,
        }
    }

    pub fn localhost(&self) -> &Arc<Host> {
        &self.localhost
    }

    /// A snapshot of the hosts, the local host first.
    pub fn hosts(&self) -> Vec<Arc<Host>> {
        self.hosts.read().clone()
    }

    /// The host with `machine_guid`, if any.
    pub fn host_by_guid(&self, machine_guid: &str) -> Option<Arc<Host>> {
        self.hosts
            .read()
            .iter()
            .find(|h| h.machine_guid() == Some(machine_guid))
            .cloned()
    }

    /// Adds a host known by its machine GUID (a streaming child), or returns
    /// the one with that GUID. Hostnames may repeat (two machines may share
    /// one, as in netdata); a host without a GUID is added as is.
    pub fn add_host_by_guid(&self, host: Host) -> Arc<Host> {
        let mut hosts = self.hosts.write();
        if let Some(guid) = host.machine_guid() {
            if let Some(h) = hosts.iter().find(|h| h.machine_guid() == Some(guid)) {
                return h.clone();
            }
        }
        let host = Arc::new(host);
        hosts.push(host.clone());
        host
    }

    /// Removes `host` (never the local host); whoever still holds its
    /// `Arc` keeps a working host that is no longer listed. Returns whether
    /// it was listed.
    pub fn remove_host(&self, host: &Arc<Host>) -> bool {
        if Arc::ptr_eq(host, &self.localhost) {
            return false;
        }
        let mut hosts = self.hosts.write();
        let before = hosts.len();
        hosts.retain(|h| !Arc::ptr_eq(h, host));
        hosts.len() != before
    }

    /// What every host holds together.
    pub fn usage(&self) -> StoreUsage {
        let mut usage = StoreUsage::default();
        for host in self.hosts() {
            usage += host.usage();
        }
        usage
    }

    /// Adds a (child) host, or returns the one with that hostname.
    pub fn add_host(&self, host: Host) -> Arc<Host> {
        let mut hosts = self.hosts.write();
        if let Some(h) = hosts.iter().find(|h| h.hostname() == host.hostname()) {
            return h.clone();
        }
        let host = Arc::new(host);
        hosts.push(host.clone());
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::LabelSource;

    #[test]
    fn set_labels_replaces_the_labels_and_keeps_old_snapshots() {
        let h = Host::new("h", 10);
        assert!(h.labels().is_empty());
        let first = vec![Label::new("a", "1", LabelSource::Configured)];
        h.set_labels(first.clone());
        let snapshot = h.labels();
        assert_eq!(*snapshot, first);
        let second = vec![Label::new("_os_name", "linux", LabelSource::Automatic)];
        h.set_labels(second.clone());
        assert_eq!(*h.labels(), second);
        assert_eq!(*snapshot, first);
    }

    #[test]
    fn hosts_by_guid_are_kept_apart_and_removable() {
        let store = Store::new(Host::new("box", 10));
        let a = store.add_host_by_guid(Host::new("box", 10).with_machine_guid("g-a"));
        assert!(
            !Arc::ptr_eq(&a, store.localhost()),
            "same hostname, other machine"
        );
        let again = store.add_host_by_guid(Host::new("renamed", 10).with_machine_guid("g-a"));
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(store.hosts().len(), 2);
        assert!(Arc::ptr_eq(&store.host_by_guid("g-a").unwrap(), &a));
        assert!(store.host_by_guid("g-b").is_none());
        assert!(!store.remove_host(&store.localhost().clone()));
        assert!(store.remove_host(&a));
        assert!(!store.remove_host(&a));
        assert_eq!(store.hosts().len(), 1);
        assert!(store.host_by_guid("g-a").is_none());
    }

    #[test]
    fn charts_generation_changes_when_a_chart_is_added_or_renamed() {
        let h = Host::new("h", 10);
        let g0 = h.charts_generation();
        h.create_chart(ChartDef::new("t", "a"));
        let g1 = h.charts_generation();
        assert!(g1 > g0);
        h.create_chart(ChartDef::new("t", "a").title("new title"));
        assert_eq!(h.charts_generation(), g1, "same name");
        h.create_chart(ChartDef::new("t", "a").name("b"));
        assert!(h.charts_generation() > g1);
        assert!(h.chart_by_name("t.b").is_some());
        assert!(h.chart_by_name("t.a").is_none());
    }

    fn collected_chart(h: &Host, id: &str, at_s: u64) -> Arc<Chart> {
        let chart = h.create_chart(ChartDef::new("t", id).update_every(1));
        let mut w = chart.write();
        let d = w.add_dimension(crate::DimensionDef::new("d"));
        w.set(d, 1);
        w.done(at_s * 1_000_000).unwrap();
        drop(w);
        chart
    }

    #[test]
    fn obsolete_charts_are_removed_only_after_the_timeout() {
        let h = Host::new("h", 10);
        let a = collected_chart(&h, "a", 100);
        let b = collected_chart(&h, "b", 100);
        let c = collected_chart(&h, "c", 100);
        b.write().set_obsolete(true);
        let g = h.charts_generation();
        assert_eq!(
            h.remove_obsolete_charts(159_999_999, 60),
            0,
            "59.99 s after"
        );
        assert_eq!(h.charts_generation(), g);
        assert_eq!(h.remove_obsolete_charts(160_000_000, 60), 1);
        assert!(h.charts_generation() > g);
        assert!(b.is_removed() && !a.is_removed() && !c.is_removed());
        assert!(h.chart_by_id("t.b").is_none() && h.chart_by_name("t.b").is_none());
        // The lookups of the others point at the right charts after renumbering.
        assert!(Arc::ptr_eq(&h.chart_by_id("t.c").unwrap(), &c));
        assert!(Arc::ptr_eq(&h.chart_by_name("t.a").unwrap(), &a));
        assert_eq!(h.chart_count(), 2);
    }

    #[test]
    fn a_chart_never_collected_counts_as_collected_at_zero() {
        let h = Host::new("h", 10);
        let mut def = ChartDef::new("t", "x");
        def.obsolete = true;
        h.create_chart(def);
        assert_eq!(h.remove_obsolete_charts(60_000_000, 60), 1);
        assert_eq!(h.chart_count(), 0);
    }

    #[test]
    fn a_round_in_a_removed_chart_puts_it_back_with_its_data() {
        let h = Host::new("h", 10);
        let a = collected_chart(&h, "a", 100);
        a.write().set_obsolete(true);
        assert_eq!(h.remove_obsolete_charts(1_000_000_000, 60), 1);
        {
            let mut w = a.write();
            w.set_obsolete(false);
            w.set_by_id("d", 2);
            w.done(101_000_000).unwrap();
        }
        assert!(!a.is_removed());
        let back = h.chart_by_id("t.a").expect("reinstated");
        assert!(Arc::ptr_eq(&back, &a));
        assert_eq!(back.read().first_entry_t(), Some(100), "old points kept");
    }

    #[test]
    fn a_removed_chart_does_not_displace_a_new_one_with_its_id() {
        let h = Host::new("h", 10);
        let old = collected_chart(&h, "a", 100);
        old.write().set_obsolete(true);
        h.remove_obsolete_charts(1_000_000_000, 60);
        let new = h.create_chart(ChartDef::new("t", "a").update_every(1));
        assert!(!Arc::ptr_eq(&old, &new));
        old.write().done(101_000_000).unwrap();
        assert!(Arc::ptr_eq(&h.chart_by_id("t.a").unwrap(), &new));
        assert_eq!(h.chart_count(), 1);
    }

    #[test]
    fn usage_returns_to_its_baseline_when_charts_come_and_go() {
        let h = Host::new("h", 10);
        collected_chart(&h, "keep", 100);
        let baseline = h.usage();
        assert_eq!(baseline.charts, 1);
        assert_eq!(baseline.dimensions, 1);
        assert_eq!(baseline.sample_bytes, 10 * 4);
        for round in 0..5u64 {
            for i in 0..100 {
                let chart = collected_chart(&h, &format!("churn{i}"), 100 + round);
                chart.write().set_obsolete(true);
            }
            assert_eq!(h.usage().charts, 101);
            assert_eq!(h.remove_obsolete_charts((200 + round) * 1_000_000, 10), 100);
            assert_eq!(h.usage(), baseline);
        }
        let store = Store::new(h);
        assert_eq!(store.usage(), baseline);
    }
}
