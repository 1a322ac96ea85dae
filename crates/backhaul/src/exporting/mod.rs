//! The exporting engine: one [`Instance`] per enabled exporting instance
//! (each `[TYPE:NAME]` of exporting.conf, and the legacy `[backend]`), each
//! on its own named OS thread.
//!
//! Code map:
//! * `registry`: which connector types run, as a format plus a delivery;
//! * `exporter`: walks the store and formats a batch (windows, data
//!   sources, filters, name caches);
//! * `connectors`: the formats' caches, on top of `wire`;
//! * `batch`: the bounded ring of undelivered batches;
//! * `delivery`: TCP lines (`lines`, over `transport`) and HTTP(S)
//!   requests (`http`, `tls`), with interruptible connects (`dial`);
//! * `backoff`, `schedule`: pacing of retries, logs and wake-ups;
//! * `monitoring`: the instance's own charts;
//! * `spool`: the undelivered backlog on disk across a restart;
//! * `spooler`: an instance's spool segments, appended and removed;
//! * `instance`: the thread that ties them together.

pub mod backoff;
pub mod batch;
pub mod connectors;
pub mod delivery;
pub mod exporter;
pub mod instance;
pub mod monitoring;
pub mod registry;
pub mod schedule;
pub mod spool;
pub mod spooler;
pub mod status;
pub mod transport;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rrd::Store;

use crate::config::InstanceConfig;
use crate::shutdown::Shutdown;
pub use batch::{Batch, BatchRing};
pub use connectors::Format;
pub use delivery::Delivery;
pub use exporter::{BatchBuilder, BatchSettings};
pub use instance::{Instance, InstanceParts, InstanceTotals};
pub use registry::{ConnectorSpec, DeliveryKind, Unsupported};
pub use schedule::Schedule;
pub use status::{ConnectionState, InstanceStatus, LastError, StatusSnapshot};
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
        send_variables: cfg.send_variables,
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

/// Why an instance cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    #[error("TLS: {0}")]
    Tls(#[from] delivery::tls::TlsSetupError),
}

/// The `Authorization` header of `username`/`password` (HTTP Basic), when
/// either is set.
fn basic_authorization(cfg: &InstanceConfig) -> Option<String> {
    use base64::Engine as _;
    if cfg.username.is_none() && cfg.password.is_none() {
        return None;
    }
    let user = cfg.username.as_deref().unwrap_or("");
    let password = cfg.password.as_ref().map_or("", |p| p.expose());
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {token}"))
}

/// The TLS settings of `cfg`, in the delivery's terms.
pub fn tls_settings(cfg: &InstanceConfig) -> delivery::tls::TlsSettings {
    delivery::tls::TlsSettings {
        skip_verification: cfg.tls.skip_certificate_verification,
        ca_file: cfg.tls.ca_file.clone(),
        ca_path: cfg.tls.ca_path.clone(),
        client_certificate: cfg.tls.certificate.clone(),
        client_key: cfg.tls.key.clone(),
    }
}

/// Checks that `cfg` can run: its connector is supported and its TLS
/// set-up (files, keys) loads.
pub fn check_runnable(cfg: &InstanceConfig) -> Result<ConnectorSpec, BuildError> {
    let spec = registry::lookup(cfg.connector)?;
    if let DeliveryKind::Http { tls: true, .. } = spec.delivery {
        delivery::tls::client_config(&tls_settings(cfg))?;
    }
    Ok(spec)
}

/// The delivery of `cfg` as `spec` says.
fn build_delivery(
    cfg: &InstanceConfig,
    spec: &ConnectorSpec,
) -> Result<Box<dyn Delivery>, BuildError> {
    let timeout = Duration::from_millis(cfg.timeout_ms);
    let check_primary = Duration::from_secs(u64::from(cfg.check_primary_destination_every));
    let endpoint = |d: &crate::config::Destination| Endpoint {
        host: d.host.clone(),
        port: d.port,
    };
    Ok(match spec.delivery {
        DeliveryKind::Lines => Box::new(delivery::lines::LineDelivery::new(
            &cfg.name,
            Transport::new(cfg.destinations.iter().map(endpoint).collect(), timeout)
                .with_primary_retry_every(check_primary),
            Instance::default_retry(cfg.update_every),
            timeout,
        )),
        DeliveryKind::Http {
            tls,
            content_type,
            framing,
            headers,
        } => {
            let tls = if tls {
                let settings = tls_settings(cfg);
                if settings.skip_verification {
                    tracing::warn!(instance = %cfg.name, "ssl skip certificate verification = yes: the receiver's certificate is NOT verified; anyone on the path can read and change what is sent");
                }
                Some(delivery::tls::client_config(&settings)?)
            } else {
                None
            };
            Box::new(delivery::http::HttpDelivery::new(
                &cfg.name,
                delivery::http::HttpSettings {
                    endpoints: cfg
                        .destinations
                        .iter()
                        .map(|d| {
                            // A destination's own /path, else remote
                            // write's `remote write URL path`, else
                            // netdata's /api/put.
                            let path = d
                                .path
                                .clone()
                                .or_else(|| cfg.remote_write_url_path.clone())
                                .unwrap_or_else(|| "/api/put".to_string());
                            (endpoint(d), path)
                        })
                        .collect(),
                    content_type,
                    framing,
                    authorization: basic_authorization(cfg),
                    fixed_headers: headers,
                    extra_headers: cfg.http.headers.clone(),
                    max_lines: (framing == delivery::http::BodyFraming::RemoteWrite)
                        .then_some(cfg.http.max_samples_per_request),
                    max_body: cfg.http.max_request_body_bytes,
                    timeout,
                    tls,
                    primary_check_every: check_primary,
                    retry: Instance::default_retry(cfg.update_every),
                },
            ))
        }
    })
}

/// Builds the runnable instance of `cfg`, or says why it cannot run. With
/// `charts`, its self-monitoring charts are created on the store's local
/// host.
pub fn build_instance(
    cfg: &InstanceConfig,
    store: &Store,
    charts: bool,
) -> Result<Instance, BuildError> {
    let spec = registry::lookup(cfg.connector)?;
    let delivery = build_delivery(cfg, &spec)?;
    let http = matches!(spec.delivery, DeliveryKind::Http { .. });
    let monitoring = charts.then(|| {
        monitoring::InstanceCharts::new(
            store.localhost(),
            &cfg.name,
            cfg.update_every,
            cfg.legacy,
            http,
        )
    });
    let mut instance = Instance::new(InstanceParts {
        name: cfg.name.clone(),
        destination: cfg.destination_text.clone(),
        update_every: cfg.update_every,
        builder: BatchBuilder::new(batch_settings(cfg), spec.format),
        delivery,
        ring: BatchRing::new(cfg.buffer_on_failures)
            .with_max_bytes(cfg.buffer_on_failures_max_bytes),
        charts: monitoring,
        schedule: Schedule::new(cfg.update_every),
    });
    instance.set_connector(cfg.connector.as_str());
    instance.set_replay_rate(cfg.replay_windows_per_second);
    Ok(instance)
}

/// A started instance thread.
pub struct RunningInstance {
    pub name: String,
    pub totals: Arc<InstanceTotals>,
    /// What the status page and `/api/v1/exporters` show.
    pub status: Arc<InstanceStatus>,
    pub thread: JoinHandle<()>,
}

/// Starts one thread per runnable enabled instance. An instance that cannot
/// run (a connector backhaul does not speak yet, a TLS set-up that does not
/// load) is logged once at error level and skipped; the others run.
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
        let mut instance = match build_instance(cfg, store, true) {
            Ok(instance) => instance,
            Err(error) => {
                tracing::error!(instance = %cfg.name, connector = cfg.connector.as_str(), source = %cfg.source, %error, "exporting instance not started");
                continue;
            }
        };
        if let Some(dir) = &cfg.spool_directory {
            let settings = spool::SpoolSettings {
                dir: dir.clone(),
                max_bytes: cfg.spool_max_bytes as u64,
            };
            instance.set_spool(
                spool::Spool::new(&settings, &cfg.name, cfg.connector.as_str()),
                cfg.spool_every_secs,
            );
        }
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
    let status = instance.status.clone();
    let thread = std::thread::Builder::new()
        .name(Instance::thread_name(&name))
        .spawn(move || instance.run(store, shutdown))?;
    Ok(RunningInstance {
        name,
        totals,
        status,
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
