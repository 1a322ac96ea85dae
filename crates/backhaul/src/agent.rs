//! `Agent`: the running process. Builds the store from the configuration,
//! starts the collectors, the external plugins and the exporting instances
//! on their own threads, and stops them all when the shutdown fires.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use rrd::{Host, Label, LabelSource, Store};

use crate::collectors::pluginsd::{self, PluginsdRunner, PluginsdSettings};
use crate::collectors::{self, Collector};
use crate::config::LoadedConfig;
use crate::exporting::{self, RunningInstance};
use crate::shutdown::Shutdown;

/// The store for a configuration: the local host with its labels.
pub fn build_store(config: &LoadedConfig) -> Arc<Store> {
    let main = &config.main;
    let host = Host::new(main.hostname.clone(), main.history as usize);
    let mut labels: Vec<Label> = main
        .host_labels
        .iter()
        .filter_map(|(k, v)| {
            let key = wire::sanitize::sanitize_label_key(k)?;
            Some(Label::new(
                key,
                wire::sanitize::sanitize_label_value(v),
                LabelSource::Configured,
            ))
        })
        .collect();
    labels.extend(automatic_labels());
    host.set_labels(labels);
    Arc::new(Store::new(host))
}

/// The labels netdata adds by itself for a standalone agent.
pub fn automatic_labels() -> Vec<Label> {
    vec![
        Label::new("_is_ephemeral", "false", LabelSource::Automatic),
        Label::new("_has_unstable_connection", "false", LabelSource::Automatic),
    ]
}

/// The internal collectors the configuration enables.
///
/// As in netdata, `[plugins] proc = no` switches off every `/proc` module and
/// `[plugins] diskspace = no` the disk space charts.
pub fn internal_collectors(config: &LoadedConfig) -> Vec<Box<dyn Collector>> {
    let main = &config.main;
    let proc_on = main.plugin_enabled("proc");
    let diskspace_on = main.plugin_enabled("diskspace");
    let enabled = |switch: &str| {
        if switch == "diskspace" {
            diskspace_on
        } else {
            proc_on
        }
    };
    collectors::proc::default_collectors(std::path::Path::new("/"), main.update_every, &enabled)
}

/// A running agent.
pub struct Agent {
    pub store: Arc<Store>,
    pub instances: Vec<RunningInstance>,
    /// The external plugins' runner, unless `[plugins] plugins.d = no`.
    pub plugins: Option<PluginsdRunner>,
    collectors: Vec<JoinHandle<()>>,
    shutdown: Shutdown,
}

impl Agent {
    /// Starts everything the configuration asks for.
    pub fn start(config: &LoadedConfig, shutdown: Shutdown) -> anyhow::Result<Agent> {
        let store = build_store(config);
        let mut collectors = Vec::new();
        for collector in internal_collectors(config) {
            let name = format!("col:{}", collector.name());
            let store = store.clone();
            let shutdown = shutdown.clone();
            let mut thread_name = name.clone();
            thread_name.truncate(15);
            let handle = std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || collectors::run_collector(collector, store.localhost(), &shutdown))
                .with_context(|| format!("starting collector thread {name}"))?;
            collectors.push(handle);
        }
        let instances = exporting::start(config.enabled_instances(), &store, &shutdown)
            .context("starting exporting instances")?;
        let plugins_settings = PluginsdSettings::from_main(&config.main);
        let plugins = if plugins_settings.enabled {
            Some(pluginsd::start(
                plugins_settings,
                store.localhost().clone(),
                shutdown.clone(),
            )?)
        } else {
            None
        };
        Ok(Agent {
            store,
            instances,
            plugins,
            collectors,
            shutdown,
        })
    }

    /// Waits until the shutdown fires, then joins every thread.
    pub fn wait(self) {
        while !self.shutdown.sleep(std::time::Duration::from_secs(3600)) {}
        for c in self.collectors {
            let _ = c.join();
        }
        if let Some(plugins) = self.plugins {
            plugins.join();
        }
        for i in self.instances {
            let _ = i.thread.join();
        }
    }
}
