//! The `backhaul` command line: run the agent, check a configuration, or
//! export one interval to stdout. A hidden `generate` subcommand writes the
//! man pages and shell completions (the Debian package's build calls it).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, CommandFactory as _, Parser, Subcommand};

use backhaul::config::{self, LoadedConfig};
use backhaul::shutdown::Shutdown;

/// A metrics agent: collects a host's metrics into an in-memory round-robin
/// store and sends them to Graphite, OpenTSDB and JSON receivers. It reads
/// netdata's netdata.conf and exporting.conf unchanged.
#[derive(Parser, Debug)]
#[command(name = "backhaul", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    files: ConfigFiles,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
struct ConfigFiles {
    /// The main configuration file, in netdata.conf syntax. Without it,
    /// built-in defaults are used and no file is read.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The exporting configuration, in netdata's exporting.conf syntax.
    /// Default: `exporting.conf` in the main file's `[directories] config`,
    /// if that file exists (only when --config is given).
    #[arg(long = "exporting-config", value_name = "FILE", global = true)]
    exporting_config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent (the default).
    Run,
    /// Validate the configuration and list the resolved exporting instances
    /// (type, name, destination, data source, update every, enabled).
    /// Exits non-zero on any error.
    CheckConfig,
    /// Collect for one interval and write to stdout exactly the bytes an
    /// instance would send, then exit. Needs no receiver.
    Export(ExportArgs),
    /// Write the man pages or shell completions into a directory (for
    /// packaging; not shown in --help).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Subcommand, Debug)]
enum Generate {
    /// backhaul.1 and a page per subcommand.
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
    /// The completion script of one shell.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
        /// Where to write it.
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Export one interval and exit (the only mode for now).
    #[arg(long)]
    once: bool,
    /// The exporting instance whose bytes to print (default: the first
    /// enabled one; without an exporting config, graphite on defaults).
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("backhaul: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(files: &ConfigFiles) -> anyhow::Result<LoadedConfig> {
    let loaded = config::load(files.config.as_deref(), files.exporting_config.as_deref())?;
    Ok(loaded)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => check_config(&cli.files),
        Command::Generate { what } => {
            generate(what)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            if !args.once {
                bail!("export needs --once (continuous export is `backhaul` itself)");
            }
            let loaded = load(&cli.files)?;
            // An interactive command: its log goes to stderr whatever
            // `[logs] error` says.
            backhaul::logging::init(
                &backhaul::config::LogOutput::Stderr,
                loaded.main.logs.facility,
                loaded.main.log_level.as_deref().or(Some("warn")),
            )?;
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let bytes = backhaul::once::export_once(&loaded, args.instance.as_deref())?;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes).context("writing to stdout")?;
            out.flush().context("writing to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let loaded = load(&cli.files)?;
            let logs = &loaded.main.logs;
            let log = backhaul::logging::init(
                &logs.output,
                logs.facility,
                loaded.main.log_level.as_deref(),
            )?;
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let shutdown = Shutdown::new();
            install_signal_handlers(&shutdown, log)?;
            let agent = backhaul::agent::Agent::start(&loaded, shutdown)?;
            if agent.instances.is_empty() {
                tracing::warn!(
                    exporting_config = %loaded
                        .exporting_file
                        .as_deref()
                        .map_or_else(|| "none".to_string(), |p| p.display().to_string()),
                    "no exporting instance is enabled: metrics are collected but sent nowhere \
                     (enable one in exporting.conf; `backhaul check-config` lists them)"
                );
            }
            tracing::info!(
                hostname = %loaded.main.hostname,
                instances = agent.instances.len(),
                "backhaul running"
            );
            agent.wait();
            tracing::info!("backhaul stopped");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `check-config` exit status: an error in the configuration.
const EXIT_CONFIG_ERROR: u8 = 1;
/// `check-config` exit status: the configuration is valid, but an enabled
/// instance uses a connector backhaul cannot run yet.
const EXIT_UNSUPPORTED: u8 = 3;

fn check_config(files: &ConfigFiles) -> anyhow::Result<ExitCode> {
    let loaded = match load(files) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("backhaul: configuration error: {e:#}");
            return Ok(ExitCode::from(EXIT_CONFIG_ERROR));
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    let mut count = 0;
    let mut unsupported = 0;
    let mut errors = 0;
    for instance in loaded.instances() {
        let mut line = instance.summary_line();
        if instance.enabled {
            match backhaul::exporting::check_runnable(instance) {
                Ok(_) => {}
                Err(backhaul::exporting::BuildError::Unsupported(why)) => {
                    unsupported += 1;
                    if let Some(stem) = line.strip_suffix("enabled=yes") {
                        line = format!("{stem}enabled=no (unsupported: {why})");
                    }
                }
                Err(error) => {
                    errors += 1;
                    eprintln!(
                        "backhaul: configuration error: {}: instance '{}': {error}",
                        instance.source, instance.name
                    );
                }
            }
        }
        writeln!(out, "{line}")?;
        count += 1;
    }
    if count == 0 {
        writeln!(out, "no exporting instances configured")?;
    }
    // Where the web server will listen (on stderr: stdout lists instances).
    let web = &loaded.main.web;
    if web.enabled() {
        let addresses: Vec<String> = web.bind.iter().map(ToString::to_string).collect();
        let scheme = if web.ssl_certificate.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!("web server: {scheme} on {}", addresses.join(", "));
    } else {
        eprintln!("web server: off ([web] mode = {})", web.mode);
    }
    // Where the statsd server will listen ([plugins] statsd, [statsd] bind to).
    if !loaded.main.plugin_enabled("statsd") {
        eprintln!("statsd server: off ([plugins] statsd = no)");
    } else {
        match loaded.main.statsd.binds() {
            Ok(binds) => {
                let addresses: Vec<String> = binds
                    .iter()
                    .map(|b| {
                        let proto = if b.udp { "udp" } else { "tcp" };
                        format!("{proto}:{}:{}", b.host, b.port)
                    })
                    .collect();
                eprintln!("statsd server: on {}", addresses.join(", "));
            }
            Err(error) => eprintln!("statsd server: [statsd] bind to: {error}"),
        }
    }
    // Parent mode: which API keys accept children.
    let stream = &loaded.stream;
    let keys: Vec<String> = stream
        .enabled_api_keys()
        .map(|section| {
            let settings = stream
                .resolve(&section.name, "", loaded.main.history, |_| true)
                .ok();
            match settings {
                Some(s) => format!(
                    "{} (history {}, compression {}, replication {})",
                    section.name,
                    s.history,
                    if s.enable_compression { "yes" } else { "no" },
                    if s.enable_replication {
                        format!(
                            "yes: {} s in steps of {} s",
                            s.seconds_to_replicate, s.seconds_per_replication_step
                        )
                    } else {
                        "no".to_string()
                    }
                ),
                None => section.name.clone(),
            }
        })
        .collect();
    // Said only when there is a stream.conf: without one nothing changed.
    match (&loaded.stream_file, keys.is_empty()) {
        (None, _) => {}
        (Some(file), true) => eprintln!(
            "streaming: no API key enabled in {}, no child accepted",
            file.display()
        ),
        (Some(_), false) => eprintln!(
            "streaming: children accepted with API key {}",
            keys.join(", ")
        ),
    }
    // Proxy mode: where each API key's children are forwarded (a machine
    // GUID section can still say otherwise for one child).
    for section in stream.enabled_api_keys() {
        let proxy = stream.proxy_for(&section.name, "");
        if proxy.enabled && !proxy.destinations.is_empty() {
            let destinations: Vec<String> =
                proxy.destinations.iter().map(ToString::to_string).collect();
            eprintln!(
                "streaming: children of API key {} forwarded to {} (proxy; send charts matching {})",
                section.name,
                destinations.join(" "),
                proxy.send_charts_matching
            );
        }
    }
    if stream.sender_enabled {
        let sender = &stream.sender;
        eprintln!(
            "streaming: this host to {} (first reachable; send charts matching {}, buffer {} bytes, \
             reconnect after {} s)",
            sender.destinations_text(),
            sender.send_charts_matching,
            sender.buffer_size_bytes,
            sender.reconnect_delay_seconds
        );
    }
    if errors > 0 {
        return Ok(ExitCode::from(EXIT_CONFIG_ERROR));
    }
    if unsupported > 0 {
        eprintln!(
            "backhaul: {unsupported} enabled instance(s) use a connector backhaul does not support yet; \
             the agent would run without them"
        );
        return Ok(ExitCode::from(EXIT_UNSUPPORTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM stop the agent; SIGHUP reopens the log file (as
/// logrotate expects) and changes nothing else.
fn install_signal_handlers(
    shutdown: &Shutdown,
    log: backhaul::logging::LogHandle,
) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing SIGINT/SIGTERM/SIGHUP handlers")?;
    let shutdown = shutdown.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    match log.reopen() {
                        Ok(()) => tracing::info!("SIGHUP: log reopened"),
                        Err(error) => {
                            tracing::error!(%error, "SIGHUP: cannot reopen the log; still writing to the old file")
                        }
                    }
                    continue;
                }
                tracing::info!(signal = sig, "shutting down");
                shutdown.trigger();
                break;
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// `backhaul generate man DIR` / `completions SHELL DIR`.
fn generate(what: Generate) -> anyhow::Result<()> {
    match what {
        Generate::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            write_man_pages(&dir)
        }
        Generate::Completions { shell, dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut command = Cli::command();
            let path = clap_complete::generate_to(shell, &mut command, "backhaul", &dir)
                .with_context(|| format!("writing {shell} completions into {}", dir.display()))?;
            println!("{}", path.display());
            Ok(())
        }
    }
}

/// The sections of backhaul.1 after the ones clap_mangen renders from the
/// command line, in roff.
const MAN_EXTRA: &str = r#".SH FILES
.TP
\fI/etc/backhaul/netdata.conf\fR
The main configuration of the packaged service (netdata.conf syntax).
.TP
\fI/etc/backhaul/exporting.conf\fR
The exporting instances (netdata's exporting.conf syntax), found through
\fB[directories] config\fR.
.TP
\fI/usr/lib/systemd/system/backhaul.service\fR
The systemd unit; it runs \fBbackhaul \-\-config /etc/backhaul/netdata.conf\fR.
.SH LOGS
By default the agent logs to standard error: under systemd that is the
journal (\fBjournalctl \-u backhaul\fR), without timestamps of its own and
with each line's priority, so \fBjournalctl \-u backhaul \-p warning\fR shows
its warnings and errors only. \fB[logs] error\fR in netdata.conf names a file,
\fBsyslog\fR or \fBnone\fR instead. Lines a plugin writes to its standard
error are logged at INFO under the target \fBplugin\fR, at most
\fB[logs] errors to trigger flood protection\fR at once per plugin, then
one every \fBerrors flood protection period\fR divided by that number; what is
left out is counted in a line logged at least every 60 seconds.
.SH ENVIRONMENT
.TP
\fBRUST_LOG\fR
The log level and filters (for example \fBinfo,plugin=warn\fR); it overrides
\fB[global] log level\fR.
.SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Stop cleanly, plugins included.
.TP
\fBSIGHUP\fR
Reopen the log file (logrotate sends it); the configuration is not re-read.
.SH EXIT STATUS
\fBcheck\-config\fR exits 0 on a valid configuration, 1 on an error, 3 when
an enabled instance uses a connector backhaul does not run yet.
"#;

fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    let command = Cli::command();
    let main_page = dir.join("backhaul.1");
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(MAN_EXTRA.as_bytes());
    man.render_version_section(&mut out)?;
    std::fs::write(&main_page, &out).with_context(|| format!("writing {}", main_page.display()))?;
    println!("{}", main_page.display());
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("backhaul-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("backhaul {}", sub.get_name()));
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(sub).render(&mut out)?;
        std::fs::write(&path, &out).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
