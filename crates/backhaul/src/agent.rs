//! `Agent`: the running process. Builds the store from the configuration,
//! starts the web server, the collectors, the external plugins and the
//! exporting instances on their own threads, and stops them all when the
//! shutdown fires.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use rrd::{Host, Label, LabelSource, Store};

use crate::collectors::pluginsd::{self, PluginsdRunner, PluginsdSettings};
use crate::collectors::statsd::{self, StatsdServer, StatsdSettings};
use crate::collectors::{self, Collector};
use crate::config::{LoadedConfig, MainConfig};
use crate::exporting::{self, RunningInstance};
use crate::shutdown::Shutdown;
use crate::system_facts::SystemFacts;
use crate::web::{Hooks, StatusSources, WebServer};

/// The store for a configuration: the local host with its labels.
pub fn build_store(config: &LoadedConfig) -> Arc<Store> {
    let main = &config.main;
    let host = Host::new(main.hostname.clone(), main.history as usize);
    let streams_to = config
        .stream
        .sender_enabled
        .then(|| config.stream.sender.destinations_text());
    host.set_labels(host_labels(
        main,
        crate::system_facts::SystemFacts::get(),
        streams_to.as_deref(),
    ));
    Arc::new(Store::new(host))
}

/// The two labels netdata makes from `[health]`.
pub const HEALTH_LABEL_KEYS: [&str; 2] = ["_is_ephemeral", "_has_unstable_connection"];

/// The local host's labels, in the order netdata 1.37 sends them: the
/// `[host labels]` of netdata.conf (keys and values after netdata's label
/// rules), the automatic labels of the machine's facts (`_cloud_provider_type`
/// ... `_aclk_available`, see [`SystemFacts::automatic_labels`]), then
/// `_is_ephemeral` and `_has_unstable_connection` from `[health] is
/// ephemeral` and `has unstable connection` (`true`/`false`), `_is_parent`
/// (`false`; [`crate::stream`] sets it while children stream here) and,
/// when this host streams to a parent, `_streams_to` (the `[stream]
/// destination`).
///
/// The `[host labels]` and the two `[health]` ones are configured labels,
/// as netdata files them (label source 2 in its streaming protocol): with
/// the default `send configured labels = yes` and `send automatic labels =
/// no` every graphite, opentsdb and json line carries
/// `...;env=lab;_is_ephemeral=false;_has_unstable_connection=false`. A
/// `[host labels]` entry with the key of a `[health]` or automatic label
/// gives way to it, so a key is never sent twice.
pub fn host_labels(main: &MainConfig, facts: &SystemFacts, streams_to: Option<&str>) -> Vec<Label> {
    let automatic = facts.automatic_labels();
    let mut labels: Vec<Label> = main
        .host_labels
        .iter()
        .filter_map(|(k, v)| {
            let key = wire::sanitize::sanitize_label_key(k)?;
            if HEALTH_LABEL_KEYS.contains(&key.as_str())
                || AUTOMATIC_LATE_KEYS.contains(&key.as_str())
                || automatic.iter().any(|(a, _)| *a == key)
            {
                return None;
            }
            Some(Label::new(
                key,
                wire::sanitize::sanitize_label_value(v),
                LabelSource::Configured,
            ))
        })
        .collect();
    let auto = |key: &str, value: &str| {
        Label::new(
            key,
            wire::sanitize::sanitize_label_value(value),
            LabelSource::Automatic,
        )
    };
    labels.extend(automatic.iter().map(|(k, v)| auto(k, v)));
    let flag = |on: bool| if on { "true" } else { "false" };
    let [ephemeral, unstable] = HEALTH_LABEL_KEYS;
    labels.push(Label::new(
        ephemeral,
        flag(main.health.is_ephemeral),
        LabelSource::Configured,
    ));
    labels.push(Label::new(
        unstable,
        flag(main.health.has_unstable_connection),
        LabelSource::Configured,
    ));
    labels.push(auto(IS_PARENT_LABEL, "false"));
    if let Some(parents) = streams_to {
        labels.push(auto("_streams_to", parents));
    }
    labels
}

/// The automatic label that says whether children stream to this agent.
pub const IS_PARENT_LABEL: &str = "_is_parent";

/// Automatic labels netdata adds after the `[health]` ones.
const AUTOMATIC_LATE_KEYS: [&str; 2] = [IS_PARENT_LABEL, "_streams_to"];

/// The internal collectors the configuration enables.
///
/// As in netdata, `[plugins] proc = no` switches off every `/proc` module,
/// `[plugin:proc]` `/proc/net/dev = no` (and so on) one module, and
/// `[plugins] diskspace = no` the disk space charts (and `timex`,
/// `idlejitter` theirs).
pub fn internal_collectors(config: &LoadedConfig) -> Vec<Box<dyn Collector>> {
    let main = &config.main;
    let proc_on = main.plugin_enabled("proc");
    let enabled = |switch: &str| {
        if crate::config::PLUGIN_SWITCHES.contains(&switch) {
            main.plugin_enabled(switch)
        } else {
            proc_on && main.proc_module_enabled(switch)
        }
    };
    let switches = |module: &str, key: &str| main.proc_chart_switch(module, key);
    let owned = Arc::new(main.clone());
    let disks = Arc::clone(&owned);
    let disk_sections: collectors::proc::DiskSectionSwitches =
        Arc::new(move |device: &str, key: &str| disks.proc_disk_switch(device, key));
    let interface_sections: collectors::proc::InterfaceSectionSwitches =
        Arc::new(move |interface: &str, key: &str| owned.proc_interface_switch(interface, key));
    // Container interfaces: found by the cgroups collector, charted by the
    // /proc/net/dev one under their cgroups.
    let netdev_renames = Arc::new(collectors::proc::NetdevRenames::default());
    let mut all = collectors::proc::configured_collectors_sharing(
        std::path::Path::new("/"),
        main.update_every,
        &enabled,
        &switches,
        disk_sections,
        interface_sections,
        &main.proc_patterns,
        Some(netdev_renames.clone()),
    );
    // cgroups.plugin: a thread of its own (its rename script may take a
    // while), as in netdata.
    if main.plugin_enabled("cgroups") {
        let plugins_dir = main
            .directories
            .plugins
            .first()
            .cloned()
            .unwrap_or_else(|| std::path::PathBuf::from("/usr/lib/netdata/plugins.d"));
        all.push(Box::new(
            collectors::cgroups::CgroupsCollector::new(&main.cgroups, &plugins_dir)
                .renaming_interfaces(netdev_renames),
        ));
    }
    all
}

/// A running agent.
pub struct Agent {
    pub store: Arc<Store>,
    pub instances: Vec<RunningInstance>,
    /// The external plugins' runner, unless `[plugins] plugins.d = no`.
    pub plugins: Option<PluginsdRunner>,
    /// The web server, unless `[web] mode = none`.
    pub web: Option<WebServer>,
    /// Child mode: the sender streaming the local host to a parent, when
    /// `[stream] enabled = yes`.
    pub sender: Option<crate::stream::sender::StreamSender>,
    /// Proxy mode: the senders forwarding children's hosts, on a parent
    /// with `[stream] enabled = yes`.
    pub proxies: Option<crate::stream::sender::ProxySenders>,
    /// The statsd server, unless `[plugins] statsd = no` or none of its
    /// sockets could be bound.
    pub statsd: Option<StatsdServer>,
    collectors: Vec<JoinHandle<()>>,
    shutdown: Shutdown,
}

impl Agent {
    /// Starts everything the configuration asks for. The web server binds
    /// first, so a port already taken (a netdata still running) stops the
    /// start before anything else runs.
    pub fn start(config: &LoadedConfig, shutdown: Shutdown) -> anyhow::Result<Agent> {
        let store = build_store(config);
        let status = Arc::new(StatusSources::default());
        let receiver_options = crate::stream::ReceiverOptions::from_config(config);
        let receiver = if receiver_options.accepts_children() {
            Some(
                crate::stream::StreamReceiver::start(
                    store.clone(),
                    receiver_options,
                    shutdown.clone(),
                )
                .context("starting the stream receiver")?,
            )
        } else {
            None
        };
        let hooks = Hooks {
            status: status.clone(),
            stream_handler: receiver.clone().map(|r| {
                let handler: Arc<dyn crate::web::StreamHandler> = Arc::new(r);
                handler
            }),
        };
        if let Some(receiver) = &receiver {
            status.set_stream_receiver(receiver.clone());
        }
        let web = WebServer::start(config, store.clone(), shutdown.clone(), hooks)?;
        let mut collectors = Vec::new();
        // The /proc modules share one thread, as in netdata's proc.plugin;
        // the other internal collectors (disk space, timex, idlejitter) have
        // a thread each.
        let (proc_group, others): (Vec<_>, Vec<_>) = internal_collectors(config)
            .into_iter()
            .partition(|c| c.name().starts_with("proc:"));
        let groups = std::iter::once(("col:proc".to_string(), proc_group))
            .filter(|(_, group)| !group.is_empty())
            .chain(
                others
                    .into_iter()
                    .map(|c| (format!("col:{}", c.name()), vec![c])),
            );
        for (name, group) in groups {
            let statuses: Vec<_> = group
                .iter()
                .map(|c| status.add_collector(c.name()))
                .collect();
            let store = store.clone();
            let shutdown = shutdown.clone();
            let mut thread_name = name.clone();
            thread_name.truncate(15);
            let handle = std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || {
                    collectors::run_collectors(group, store.localhost(), &shutdown);
                    for status in statuses {
                        status.stopped();
                    }
                })
                .with_context(|| format!("starting collector thread {name}"))?;
            collectors.push(handle);
        }
        {
            let store = store.clone();
            let shutdown = shutdown.clone();
            let after = config.main.cleanup_obsolete_charts_after_secs;
            let handle = std::thread::Builder::new()
                .name("store-cleanup".to_string())
                .spawn(move || crate::store_cleanup::run(store, after, shutdown))
                .context("starting the store cleanup thread")?;
            collectors.push(handle);
        }
        let statsd = statsd::start(
            &StatsdSettings::from_main(&config.main),
            store.localhost().clone(),
            shutdown.clone(),
        )?;
        if statsd.is_some() {
            // Shown on the status page; it runs until the agent stops.
            status.add_collector("statsd");
        }
        let instances = exporting::start(config.enabled_instances(), &store, &shutdown)
            .context("starting exporting instances")?;
        for instance in &instances {
            status.add_instance(instance.status.clone());
        }
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
        if let Some(runner) = &plugins {
            status.set_plugins(runner.shared());
        }
        let main = &config.main;
        let template = crate::stream::sender::SenderOptions {
            config: config.stream.sender.clone(),
            hostname: main.hostname.clone(),
            machine_guid: String::new(),
            update_every: main.update_every,
            hops: 1,
            enable_compression: config.stream.enable_compression,
        };
        // A parent forwards its children as netdata's do (proxy mode): by
        // default when [stream] is on, per API key and machine GUID as
        // their `proxy` keys say.
        let proxies = match receiver.as_ref().filter(|_| config.stream.may_proxy()) {
            Some(receiver) => {
                let stream = config.stream.clone();
                let receiver = receiver.clone();
                let resolve: crate::stream::sender::ProxyResolver = Box::new(move |guid| {
                    let key = receiver.api_key_of(guid)?;
                    Some(stream.proxy_for(&key, guid))
                });
                Some(
                    crate::stream::sender::ProxySenders::start(
                        store.clone(),
                        template.clone(),
                        resolve,
                        shutdown.clone(),
                    )
                    .context("starting the stream proxy")?,
                )
            }
            None => None,
        };
        let sender = if config.stream.sender_enabled {
            let machine_guid = crate::stream::sender::local_machine_guid(&main.directories.lib)
                .with_context(|| {
                    format!(
                        "reading or making the machine GUID in {}",
                        main.directories.lib.display()
                    )
                })?;
            let options = crate::stream::sender::SenderOptions {
                machine_guid,
                ..template
            };
            let sender = crate::stream::sender::StreamSender::start(
                store.localhost().clone(),
                options,
                shutdown.clone(),
            )
            .context("starting the stream sender")?;
            status.set_stream_sender(sender.status(config.stream.sender.destinations_text()));
            Some(sender)
        } else {
            None
        };
        Ok(Agent {
            sender,
            proxies,
            store,
            instances,
            plugins,
            web,
            statsd,
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
        if let Some(statsd) = self.statsd {
            statsd.join();
        }
        for i in self.instances {
            let _ = i.thread.join();
        }
        if let Some(web) = self.web {
            web.join();
        }
        if let Some(sender) = self.sender {
            sender.join();
        }
        if let Some(proxies) = self.proxies {
            proxies.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_main_str, ExportingConfig};

    fn collectors_for(netdata_conf: &str) -> Vec<String> {
        let (main, _) = parse_main_str(netdata_conf, "netdata.conf").expect("valid");
        let config = LoadedConfig {
            main,
            exporting: ExportingConfig::default(),
            warnings: Vec::new(),
            main_file: None,
            exporting_file: None,
            stream: Default::default(),
            stream_file: None,
        };
        internal_collectors(&config)
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    fn labels_for(netdata_conf: &str) -> Vec<(String, String, LabelSource)> {
        let (main, _) = parse_main_str(netdata_conf, "netdata.conf").expect("valid");
        host_labels(&main, SystemFacts::get(), None)
            .into_iter()
            .filter(|l| l.source == LabelSource::Configured)
            .map(|l| (l.key, l.value, l.source))
            .collect()
    }

    fn configured(pairs: &[(&str, &str)]) -> Vec<(String, String, LabelSource)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string(), LabelSource::Configured))
            .collect()
    }

    #[test]
    fn health_labels_are_configured_and_follow_the_host_labels() {
        assert_eq!(
            labels_for(""),
            configured(&[
                ("_is_ephemeral", "false"),
                ("_has_unstable_connection", "false")
            ])
        );
        assert_eq!(
            labels_for(
                "[health]\n    has unstable connection = yes\n[host labels]\n    env = lab\n    team name = rust port;semi~tilde\n"
            ),
            configured(&[
                ("env", "lab"),
                ("team_name", "rust port:semi_tilde"),
                ("_is_ephemeral", "false"),
                ("_has_unstable_connection", "true"),
            ])
        );
    }

    #[test]
    fn automatic_labels_sit_between_the_configured_and_the_health_labels() {
        let (main, _) = parse_main_str(
            "[host labels]\n    env = lab\n    _os_name = mine\n",
            "netdata.conf",
        )
        .expect("valid");
        let labels = host_labels(&main, SystemFacts::get(), Some("10.0.0.1:19999"));
        let keys: Vec<&str> = labels.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "env",
                "_cloud_provider_type",
                "_cloud_instance_type",
                "_cloud_instance_region",
                "_os_name",
                "_os_version",
                "_kernel_version",
                "_system_cores",
                "_system_cpu_freq",
                "_system_ram_total",
                "_system_disk_space",
                "_architecture",
                "_virtualization",
                "_container",
                "_container_detection",
                "_virt_detection",
                "_is_k8s_node",
                "_aclk_available",
                "_is_ephemeral",
                "_has_unstable_connection",
                "_is_parent",
                "_streams_to",
            ]
        );
        let source = |key: &str| labels.iter().find(|l| l.key == key).map(|l| l.source);
        assert_eq!(source("env"), Some(LabelSource::Configured));
        assert_eq!(source("_os_name"), Some(LabelSource::Automatic));
        assert_eq!(source("_is_ephemeral"), Some(LabelSource::Configured));
        assert_eq!(source("_streams_to"), Some(LabelSource::Automatic));
        assert_eq!(
            labels.last().map(|l| l.value.as_str()),
            Some("10.0.0.1:19999")
        );
        assert_eq!(
            labels
                .iter()
                .find(|l| l.key == "_kernel_version")
                .map(|l| l.value.clone()),
            Some(crate::sys::kernel_names().release)
        );
    }

    #[test]
    fn a_host_label_named_like_a_health_label_is_not_sent_twice() {
        assert_eq!(
            labels_for(
                "[host labels]\n    _is_ephemeral = maybe\n    zone = b\n[health]\n    is ephemeral = yes\n"
            ),
            configured(&[
                ("zone", "b"),
                ("_is_ephemeral", "true"),
                ("_has_unstable_connection", "false"),
            ])
        );
    }

    #[test]
    fn proc_modules_are_switched_one_by_one() {
        let all = collectors_for("");
        assert!(all.contains(&"proc:netdev".to_string()));
        let some = collectors_for("[plugin:proc]\n    /proc/net/dev = no\n    /proc/stat = no\n");
        assert!(!some.contains(&"proc:netdev".to_string()));
        assert!(!some.contains(&"proc:stat".to_string()));
        assert_eq!(some.len(), all.len() - 2);
        // `[plugins] proc = no` wins over a module switched on.
        let none =
            collectors_for("[plugins]\n    proc = no\n[plugin:proc]\n    /proc/stat = yes\n");
        assert_eq!(none, ["diskspace", "timex", "idlejitter", "cgroups"]);
        // The other internal plugins have their `[plugins]` switch.
        let fewer = collectors_for("[plugins]\n    timex = no\n    idlejitter = no\n");
        assert!(fewer.contains(&"diskspace".to_string()));
        assert!(!fewer.contains(&"timex".to_string()));
        assert!(!fewer.contains(&"idlejitter".to_string()));
        assert_eq!(fewer.len(), all.len() - 2);
        let no_cgroups = collectors_for("[plugins]\n    cgroups = no\n");
        assert!(all.contains(&"cgroups".to_string()));
        assert!(!no_cgroups.contains(&"cgroups".to_string()));
    }
}
