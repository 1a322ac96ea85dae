//! `export --once`: collect for one interval and return exactly the bytes an
//! instance would send for it. Needs no receiver; the README's main job.

use anyhow::{bail, Context as _};

use crate::agent::{build_store, internal_collectors};
use crate::config::{DataSource, LoadedConfig};
use crate::exporting::delivery::http::BodyFraming;
use crate::exporting::{
    batch_settings, registry, BatchBuilder, BatchSettings, ConnectorSpec, DeliveryKind, Format,
};
use crate::sys::now_realtime_ut;

/// The settings of the instance to print: the one named, else the first
/// enabled one that backhaul runs, else a graphite instance on netdata's
/// defaults.
fn pick_instance(
    config: &LoadedConfig,
    name: Option<&str>,
) -> anyhow::Result<(BatchSettings, ConnectorSpec)> {
    if let Some(name) = name {
        let Some(cfg) = config.instances().find(|i| i.name == name) else {
            let known: Vec<&str> = config.instances().map(|i| i.name.as_str()).collect();
            bail!(
                "no exporting instance named '{name}' (configured: {})",
                known.join(", ")
            );
        };
        let spec = registry::lookup(cfg.connector).with_context(|| format!("instance '{name}'"))?;
        return Ok((batch_settings(cfg), spec));
    }
    if let Some((cfg, spec)) = config
        .enabled_instances()
        .find_map(|i| registry::lookup(i.connector).ok().map(|spec| (i, spec)))
    {
        return Ok((batch_settings(cfg), spec));
    }
    Ok((
        default_graphite(config),
        ConnectorSpec {
            format: Format::Graphite,
            delivery: DeliveryKind::Lines,
        },
    ))
}

/// A graphite instance on netdata's defaults.
pub fn default_graphite(config: &LoadedConfig) -> BatchSettings {
    BatchSettings {
        data_source: DataSource::Average,
        prefix: "netdata".into(),
        hostname: config.main.hostname.clone(),
        update_every: config.main.update_every,
        send_names_instead_of_ids: true,
        send_charts_matching: "*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: true,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    }
}

/// Collects twice, one collection interval apart (so rates exist), then
/// formats the interval that ends at the second collection.
pub fn export_once(config: &LoadedConfig, instance: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let (mut settings, spec) = pick_instance(config, instance)?;
    let store = build_store(config);
    let mut collectors = internal_collectors(config);
    let step_ut = u64::from(config.main.update_every.max(1)) * 1_000_000;
    let t0 = now_realtime_ut();
    for c in &mut collectors {
        if let Err(error) = c.collect(store.localhost(), t0) {
            tracing::warn!(collector = c.name(), %error, "collection failed");
        }
    }
    let next = t0 - t0 % step_ut + step_ut;
    std::thread::sleep(std::time::Duration::from_micros(
        next.saturating_sub(now_realtime_ut()),
    ));
    let t1 = now_realtime_ut().max(next);
    for c in &mut collectors {
        if let Err(error) = c.collect(store.localhost(), t1) {
            tracing::warn!(collector = c.name(), %error, "collection failed");
        }
    }
    let before = (t1 / 1_000_000) as i64;
    // The store holds only this run's points: let the window reach back far
    // enough to include charts slower than one interval (system.load is
    // collected every 5 s), so each chart's points go out once.
    settings.update_every = settings.update_every.max(60);
    let mut builder = BatchBuilder::new(settings, spec.format);
    let mut out = Vec::new();
    builder.build(&store, before, &mut out);
    // HTTP connectors: the body of the one request (the head is left out;
    // remote write: the whole batch in one snappy-compressed protobuf).
    if let DeliveryKind::Http {
        framing: BodyFraming::RemoteWrite,
        ..
    } = spec.delivery
    {
        let mut encoder = wire::format::remote_write::BodyEncoder::new();
        let (body, _) = encoder.encode(&out)?;
        return Ok(body.to_vec());
    }
    if let DeliveryKind::Http {
        framing: BodyFraming::JsonArray,
        ..
    } = spec.delivery
    {
        let objects = &out[..out.len().saturating_sub(2)];
        let mut body = Vec::with_capacity(out.len() + 3);
        body.extend_from_slice(b"[\n");
        body.extend_from_slice(objects);
        body.extend_from_slice(b"\n]\n");
        return Ok(body);
    }
    Ok(out)
}
