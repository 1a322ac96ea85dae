//! What the status page (`/`) and `/api/v1/exporters` show: the running
//! exporting instances (their [`InstanceStatus`]), streaming (this host's
//! sender to a parent, the receiver of children), the internal collectors,
//! the external plugins and the hosts of the store.
//!
//! The agent starts the web server first (so a port already taken stops the
//! start early), then fills [`StatusSources`] as it starts the rest.
//!
//! Nothing from the configuration is shown but an instance's name,
//! connector type, update every and destination (with any `user:password@`
//! cut out): never a password, a token or an `http headers` value.

pub mod page;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rrd::Store;
use serde::Serialize;

use crate::collectors::pluginsd::{PluginState, SharedPlugins};
use crate::exporting::{InstanceStatus, InstanceTotals};
use crate::stream::sender::SenderStatus;
use crate::stream::StreamReceiver;

/// Where the status data comes from; filled by the agent as it starts
/// things.
#[derive(Default)]
pub struct StatusSources {
    instances: RwLock<Vec<Arc<InstanceStatus>>>,
    collectors: RwLock<Vec<Arc<CollectorStatus>>>,
    plugins: RwLock<Option<SharedPlugins>>,
    sender: RwLock<Option<SenderStatus>>,
    receiver: RwLock<Option<StreamReceiver>>,
}

impl StatusSources {
    /// Shows this host's sender to a parent (`[stream] enabled = yes`).
    pub fn set_stream_sender(&self, sender: SenderStatus) {
        *self.sender.write() = Some(sender);
    }

    /// Shows the receiver of children (an API key enabled in stream.conf).
    pub fn set_stream_receiver(&self, receiver: StreamReceiver) {
        *self.receiver.write() = Some(receiver);
    }

    pub fn add_instance(&self, status: Arc<InstanceStatus>) {
        self.instances.write().push(status);
    }

    /// Lists an internal collector; its thread marks the returned status
    /// [`CollectorStatus::stopped`] when it ends.
    pub fn add_collector(&self, name: &str) -> Arc<CollectorStatus> {
        let status = Arc::new(CollectorStatus {
            name: name.to_string(),
            stopped: AtomicBool::new(false),
        });
        self.collectors.write().push(status.clone());
        status
    }

    pub fn set_plugins(&self, plugins: SharedPlugins) {
        *self.plugins.write() = Some(plugins);
    }

    /// Everything shown, at `now_s` (seconds since the epoch).
    pub fn report(&self, store: &Store, now_s: i64) -> StatusReport {
        let instances = self.instances.read().clone();
        let exporters = instances
            .iter()
            .map(|s| ExporterReport::of(s, now_s))
            .collect();
        let collectors = self
            .collectors
            .read()
            .iter()
            .map(|c| CollectorReport {
                name: c.name.clone(),
                kind: "internal",
                state: if c.stopped.load(Ordering::Relaxed) {
                    "stopped"
                } else {
                    "running"
                }
                .to_string(),
            })
            .collect();
        let plugins = self
            .plugins
            .read()
            .as_ref()
            .map(|p| p.lock().clone())
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let (state, pid, detail) = match p.state() {
                    PluginState::Starting => ("starting", None, String::new()),
                    PluginState::Running { pid } => ("running", Some(pid), String::new()),
                    PluginState::Restarting { delay } => (
                        "restarting",
                        None,
                        format!("restarts in {} s", delay.as_secs()),
                    ),
                    PluginState::Disabled { reason } => ("disabled", None, reason),
                    PluginState::Stopped => ("stopped", None, String::new()),
                };
                let c = p.counters();
                PluginReport {
                    name: p.name.clone(),
                    path: p.path.display().to_string(),
                    state,
                    pid,
                    detail,
                    runs: p.runs(),
                    lines: c.lines,
                    values: c.values,
                    collections: c.collections,
                    charts: c.charts,
                    dimensions: c.dimensions,
                }
            })
            .collect();
        let local = store.localhost().hostname().to_string();
        let hosts = store
            .hosts()
            .iter()
            .map(|h| {
                let usage = h.usage();
                HostReport {
                    hostname: h.hostname().to_string(),
                    localhost: h.hostname() == local,
                    charts: usage.charts,
                    dimensions: usage.dimensions,
                    sample_bytes: usage.sample_bytes,
                }
            })
            .collect();
        let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
        let sender = self.sender.read().as_ref().map(|s| {
            let c = &s.counters;
            let parent = s.parent();
            StreamSenderReport {
                destination: s.destination.clone(),
                state: if parent.is_some() {
                    "connected"
                } else if load(&c.refused) + load(&c.connect_failures) + load(&c.disconnected) == 0
                {
                    "connecting"
                } else {
                    "failing"
                },
                parent,
                connections: load(&c.connected),
                refused: load(&c.refused),
                connect_failures: load(&c.connect_failures),
                overflows: load(&c.overflows),
                charts_sent: load(&c.charts_sent),
                rounds_sent: load(&c.rounds_sent),
                host_variables_sent: load(&c.host_variables_sent),
                chart_variables_sent: load(&c.chart_variables_sent),
                replay_requests: load(&c.replay_requests),
                replayed_points: load(&c.replayed_points),
                bytes_sent: load(&c.bytes_sent),
            }
        });
        let receiver = self.receiver.read().as_ref().map(|r| {
            let c = r.counters();
            StreamReceiverReport {
                children_connected: r.connected_children(),
                accepted: load(&c.accepted),
                refused: load(&c.refused),
                disconnected: load(&c.disconnected),
                hosts_removed: load(&c.hosts_removed),
                replicated_points: load(&c.replicated_points),
            }
        });
        StatusReport {
            hostname: local,
            now: now_s,
            exporters,
            streaming: StreamingReport { sender, receiver },
            collectors,
            plugins,
            hosts,
        }
    }
}

/// An internal collector: its name, and whether its thread has ended.
#[derive(Debug)]
pub struct CollectorStatus {
    pub name: String,
    stopped: AtomicBool,
}

impl CollectorStatus {
    /// Its thread has ended.
    pub fn stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

/// The answer of `/api/v1/exporters`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub hostname: String,
    pub now: i64,
    pub exporters: Vec<ExporterReport>,
    pub streaming: StreamingReport,
    pub collectors: Vec<CollectorReport>,
    pub plugins: Vec<PluginReport>,
    pub hosts: Vec<HostReport>,
}

/// Streaming: `null` parts are not configured.
#[derive(Debug, Serialize)]
pub struct StreamingReport {
    pub sender: Option<StreamSenderReport>,
    pub receiver: Option<StreamReceiverReport>,
}

/// This host's sender to a parent.
#[derive(Debug, Serialize)]
pub struct StreamSenderReport {
    /// The configured destinations (`[stream] destination`).
    pub destination: String,
    /// The parent connected now.
    pub parent: Option<String>,
    /// `connected`; `connecting` (nothing failed yet); `failing` (not
    /// connected after a refusal, a failed connect or a lost connection).
    pub state: &'static str,
    /// Connections a parent accepted.
    pub connections: u64,
    pub refused: u64,
    pub connect_failures: u64,
    /// Connections dropped because `buffer size bytes` overflowed.
    pub overflows: u64,
    pub charts_sent: u64,
    pub rounds_sent: u64,
    /// `VARIABLE HOST` lines sent.
    pub host_variables_sent: u64,
    /// `VARIABLE CHART` lines sent.
    pub chart_variables_sent: u64,
    pub replay_requests: u64,
    pub replayed_points: u64,
    pub bytes_sent: u64,
}

/// The receiver of children.
#[derive(Debug, Serialize)]
pub struct StreamReceiverReport {
    pub children_connected: usize,
    pub accepted: u64,
    pub refused: u64,
    pub disconnected: u64,
    pub hosts_removed: u64,
    pub replicated_points: u64,
}

#[derive(Debug, Serialize)]
pub struct ExporterReport {
    pub name: String,
    pub connector_type: String,
    pub destination: String,
    /// The address of the receiver it is connected to now.
    pub connected_to: Option<SocketAddr>,
    /// `connected`, `connecting` or `failing`.
    pub state: &'static str,
    pub update_every: u32,
    pub ring: RingReport,
    /// Age in seconds of the oldest undelivered point (0 with nothing
    /// buffered), in the ring or, while replaying, still in the store.
    pub lag_seconds: i64,
    pub oldest_undelivered_time: Option<i64>,
    pub last_success_time: Option<i64>,
    pub batches: u64,
    pub sent_metrics: u64,
    pub sent_bytes: u64,
    pub failures: u64,
    pub reconnects: u64,
    /// Lost (ring overflow) plus rejected (refused by the receiver) plus
    /// expired (fell out of the store before a replay sent them).
    pub dropped_metrics: u64,
    pub lost_metrics: u64,
    /// Stored points that fell out of the store before a replay could send
    /// them.
    pub expired_metrics: u64,
    /// Intervals sent from the store after an outage (replay).
    pub replayed_windows: u64,
    pub lost_bytes: u64,
    pub rejected_metrics: u64,
    pub rejected_bytes: u64,
    pub last_error: Option<ErrorReport>,
}

#[derive(Debug, Serialize)]
pub struct RingReport {
    pub batches: u64,
    pub capacity: u64,
    pub buffered_metrics: u64,
    pub buffered_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub text: String,
    pub time: i64,
    pub age_seconds: i64,
}

#[derive(Debug, Serialize)]
pub struct CollectorReport {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub state: String,
}

#[derive(Debug, Serialize)]
pub struct PluginReport {
    pub name: String,
    pub path: String,
    /// `starting`, `running`, `restarting`, `disabled` or `stopped`.
    pub state: &'static str,
    pub pid: Option<u32>,
    pub detail: String,
    pub runs: u64,
    pub lines: u64,
    pub values: u64,
    pub collections: u64,
    pub charts: u64,
    pub dimensions: u64,
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    pub hostname: String,
    pub localhost: bool,
    pub charts: usize,
    /// Dimensions in those charts.
    pub dimensions: usize,
    /// Bytes of the dimensions' rings.
    pub sample_bytes: usize,
}

impl ExporterReport {
    fn of(status: &InstanceStatus, now_s: i64) -> ExporterReport {
        let snap = status.snapshot();
        let t = &status.totals;
        let get = InstanceTotals::get;
        ExporterReport {
            name: status.name.clone(),
            connector_type: status.connector.clone(),
            destination: without_credentials(&status.destination),
            connected_to: snap.peer,
            state: snap.state.as_str(),
            update_every: status.update_every,
            ring: RingReport {
                batches: snap.ring_batches,
                capacity: snap.ring_capacity,
                buffered_metrics: snap.buffered_metrics,
                buffered_bytes: snap.buffered_bytes,
            },
            lag_seconds: snap.oldest_s.map_or(0, |t| (now_s - t).max(0)),
            oldest_undelivered_time: snap.oldest_s,
            last_success_time: snap.last_success_s,
            batches: get(&t.batches),
            sent_metrics: get(&t.sent_metrics),
            sent_bytes: get(&t.sent_bytes),
            failures: get(&t.failures),
            reconnects: get(&t.reconnects),
            dropped_metrics: get(&t.lost_metrics)
                + get(&t.rejected_metrics)
                + get(&t.expired_metrics),
            lost_metrics: get(&t.lost_metrics),
            expired_metrics: get(&t.expired_metrics),
            replayed_windows: get(&t.replayed_windows),
            lost_bytes: get(&t.lost_bytes),
            rejected_metrics: get(&t.rejected_metrics),
            rejected_bytes: get(&t.rejected_bytes),
            last_error: snap.last_error.map(|e| ErrorReport {
                age_seconds: (now_s - e.at_s).max(0),
                text: e.text,
                time: e.at_s,
            }),
        }
    }
}

/// A destination with any `user:password@` before a host cut out.
pub fn without_credentials(destination: &str) -> String {
    destination
        .split_whitespace()
        .map(|d| match d.rfind('@') {
            Some(at) => {
                let scheme = d.find("://").map_or(0, |i| i + 3);
                if at >= scheme {
                    format!("{}***@{}", &d[..scheme], &d[at + 1..])
                } else {
                    d.to_string()
                }
            }
            None => d.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_cut_from_destinations() {
        assert_eq!(
            without_credentials("localhost:2003 https://u:secret@h:443"),
            "localhost:2003 https://***@h:443"
        );
        assert_eq!(without_credentials("bob:pw@10.0.0.1"), "***@10.0.0.1");
        assert_eq!(without_credentials("[::1]:4242"), "[::1]:4242");
    }
}
