//! The exporting engine: one [`Instance`] per enabled exporting instance
//! (each `[TYPE:NAME]` of exporting.conf, and the legacy `[backend]`), each
//! on its own named OS thread.
//!
//! Code map:
//! * `exporter`: walks the store and formats a batch (windows, data
//!   sources, filters, name caches);
//! * `connectors`: the line formats, on top of `wire`;
//! * `batch`: the bounded ring of undelivered batches;
//! * `transport`: connections, failover, timeouts;
//! * `backoff`, `log_limit`, `schedule`: pacing of retries, logs and wake-ups;
//! * `monitoring`: the instance's own charts;
//! * `instance`: the thread that ties them together.

pub mod backoff;
pub mod batch;
pub mod connectors;
pub mod exporter;
pub mod instance;
pub mod log_limit;
pub mod monitoring;
pub mod schedule;
pub mod transport;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rrd::Store;

use crate::config::InstanceConfig;
use crate::shutdown::Shutdown;
pub use batch::{Batch, BatchRing};
pub use connectors::Connector;
pub use exporter::{BatchBuilder, BatchSettings};
pub use instance::{Instance, InstanceTotals};
pub use schedule::Schedule;
pub use transport::{Endpoint, Transport};

/// The batch settings of a configured instance.
pub fn batch_settings(cfg: &InstanceConfig) -> BatchSettings {
    BatchSettings {
        data_source: cfg.data_source,
        prefix: cfg.prefix.clone(),
        hostname: cfg.hostname.clone(),
        update_every: cfg.update_every,
        send_names_instead_of_ids: cfg.send_names_instead_of_ids,
        send_charts_matching: cfg.send_charts_matching.clone(),
        send_hosts_matching: cfg.send_hosts_matching.clone(),
        send_configured_labels: cfg.send_configured_labels,
        send_automatic_labels: cfg.send_automatic_labels,
        host_tags: parse_host_tags(&cfg.host_tags),
    }
}

/// Splits the legacy `host tags` value (`k=v k2=v2`, or `k:v`) into pairs.
pub fn parse_host_tags(text: &str) -> Vec<(String, String)> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once(['=', ':']) {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w.to_string(), String::new()),
        })
        .collect()
}

/// Builds the runnable instance of `cfg`, or `None` for a connector
/// backhaul does not speak yet. With `charts`, its self-monitoring charts
/// are created on the store's local host.
pub fn build_instance(cfg: &InstanceConfig, store: &Store, charts: bool) -> Option<Instance> {
    let connector = Connector::for_type(cfg.connector)?;
    let endpoints = cfg
        .destinations
        .iter()
        .map(|d| Endpoint {
            host: d.host.clone(),
            port: d.port,
        })
        .collect();
    let monitoring = charts.then(|| {
        monitoring::InstanceCharts::new(store.localhost(), &cfg.name, cfg.update_every, cfg.legacy)
    });
    Some(Instance::new(
        cfg.name.clone(),
        cfg.destination_text.clone(),
        cfg.update_every,
        BatchBuilder::new(batch_settings(cfg), connector),
        Transport::new(endpoints, Duration::from_millis(cfg.timeout_ms)),
        BatchRing::new(cfg.buffer_on_failures),
        monitoring,
        Schedule::new(cfg.update_every),
        Instance::default_retry(cfg.update_every),
    ))
}

/// A started instance thread.
pub struct RunningInstance {
    pub name: String,
    pub totals: Arc<InstanceTotals>,
    pub thread: JoinHandle<()>,
}

/// Starts one thread per runnable enabled instance. Instances whose
/// connector backhaul does not speak are skipped with a warning.
pub fn start<'a>(
    instances: impl IntoIterator<Item = &'a InstanceConfig>,
    store: &Arc<Store>,
    shutdown: &Shutdown,
) -> std::io::Result<Vec<RunningInstance>> {
    let mut running = Vec::new();
    for cfg in instances {
        if !cfg.enabled {
            continue;
        }
        let Some(instance) = build_instance(cfg, store, true) else {
            tracing::warn!(instance = %cfg.name, connector = cfg.connector.as_str(), "connector not supported by backhaul yet; instance not started");
            continue;
        };
        running.push(spawn(instance, store.clone(), shutdown.clone())?);
    }
    Ok(running)
}

/// Starts `instance` on its own named thread.
pub fn spawn(
    instance: Instance,
    store: Arc<Store>,
    shutdown: Shutdown,
) -> std::io::Result<RunningInstance> {
    let name = instance.name.clone();
    let totals = instance.totals.clone();
    let thread = std::thread::Builder::new()
        .name(Instance::thread_name(&name))
        .spawn(move || instance.run(store, shutdown))?;
    Ok(RunningInstance {
        name,
        totals,
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_tags_split_into_pairs() {
        assert_eq!(
            parse_host_tags("env=prod, dc:eu  solo"),
            vec![
                ("env".to_string(), "prod".to_string()),
                ("dc".to_string(), "eu".to_string()),
                ("solo".to_string(), String::new())
            ]
        );
    }
}
