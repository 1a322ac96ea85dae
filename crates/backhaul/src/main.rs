//! The `backhaul` command line: run the agent, check a configuration, or
//! export one interval to stdout.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

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

fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => check_config(&cli.files),
        Command::Export(args) => {
            if !args.once {
                bail!("export needs --once (continuous export is `backhaul` itself)");
            }
            let loaded = load(&cli.files)?;
            init_logging(loaded.main.log_level.as_deref().or(Some("warn")));
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
            init_logging(loaded.main.log_level.as_deref());
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let shutdown = Shutdown::new();
            install_signal_handlers(&shutdown)?;
            let agent = backhaul::agent::Agent::start(&loaded, shutdown)?;
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

fn install_signal_handlers(shutdown: &Shutdown) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing SIGINT/SIGTERM handlers")?;
    let shutdown = shutdown.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                tracing::info!(signal = sig, "shutting down");
                shutdown.trigger();
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}
