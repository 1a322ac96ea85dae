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

/// Default number of slots per dimension.
pub const DEFAULT_HISTORY: usize = 3600;

#[derive(Default)]
struct ChartIndex {
    list: Vec<Arc<Chart>>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    generation: u64,
}

/// A host: hostname, labels, and its charts.
pub struct Host {
    hostname: String,
    machine_guid: Option<String>,
    reachable: std::sync::atomic::AtomicBool,
    history: usize,
    labels: RwLock<Arc<Vec<Label>>>,
    charts: RwLock<ChartIndex>,
}

impl Host {
    /// A host whose charts keep `history` slots per dimension.
    pub fn new(hostname: impl Into<String>, history: usize) -> Host {
        Host {
            hostname: hostname.into(),
            machine_guid: None,
            reachable: std::sync::atomic::AtomicBool::new(true),
            history: history.max(2),
            labels: RwLock::new(Arc::new(Vec::new())),
            charts: RwLock::new(ChartIndex::default()),
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
        let chart = Arc::new(Chart::new(def, self.history));
        let i = index.list.len();
        index.list.push(chart.clone());
        index.by_id.insert(full_id, i);
        index.by_name.insert(full_name, i);
        index.generation += 1;
        chart
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

    /// Bumped whenever a chart is added or renamed.
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
}
