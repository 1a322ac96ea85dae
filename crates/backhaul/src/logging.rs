//! The agent's log: where its lines go (`[logs] error`: stderr, a file,
//! syslog or nowhere) and how they look there.
//!
//! * Colours only when the output is stderr and stderr is a terminal.
//! * Under systemd (`INVOCATION_ID` or `JOURNAL_STREAM` set) lines written
//!   to stderr carry no timestamp: the journal stamps each line itself.
//!   When stderr *is* the journal (`JOURNAL_STREAM` names stderr's device
//!   and inode) each line starts with its syslog priority (`<4>` for a
//!   warning, ...), which journald strips and records, so `journalctl -p
//!   warning` shows the agent's warnings and errors and not the plugins'
//!   chatter.
//! * syslog lines go to the local socket (`/dev/log`) with the configured
//!   facility, the level's priority, no timestamp.
//! * A file is appended to; [`LogHandle::reopen`] (the agent calls it on
//!   `SIGHUP`, which logrotate sends) opens the path again, so lines go to
//!   the new file once the old one was renamed.
//!
//! Each event is one `write` on the output, so lines of different threads
//! never interleave.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogOutput;

/// Where syslog lines are sent.
const SYSLOG_SOCKET: &str = "/dev/log";

/// What the process was started with that decides how lines look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// systemd runs the agent as a service (`INVOCATION_ID` or
    /// `JOURNAL_STREAM` is set).
    pub under_systemd: bool,
    /// stderr is connected to the journal (`JOURNAL_STREAM` names it).
    pub stderr_is_journal: bool,
    /// stderr is a terminal.
    pub stderr_is_terminal: bool,
}

impl Environment {
    /// The current process's.
    pub fn current() -> Environment {
        let journal_stream = std::env::var("JOURNAL_STREAM").ok();
        let under_systemd = journal_stream.is_some() || std::env::var_os("INVOCATION_ID").is_some();
        let stderr_is_journal = journal_stream.is_some_and(|value| {
            crate::sys::device_and_inode(io::stderr())
                .is_ok_and(|(dev, ino)| names_device_and_inode(&value, dev, ino))
        });
        Environment {
            under_systemd,
            stderr_is_journal,
            stderr_is_terminal: io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, decimal) names this
/// device and inode.
fn names_device_and_inode(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

/// How lines look on one output in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Each line starts with the time.
    pub timestamps: bool,
    /// ANSI colours.
    pub ansi: bool,
    /// Each line starts with `<N>`, its syslog priority (for journald).
    pub priority_prefix: bool,
}

impl Style {
    /// The style of `output` in `env` (see the [module docs](self)).
    pub fn of(output: &LogOutput, env: &Environment) -> Style {
        match output {
            LogOutput::Stderr => Style {
                timestamps: !env.under_systemd,
                ansi: env.stderr_is_terminal && !env.under_systemd,
                priority_prefix: env.stderr_is_journal,
            },
            LogOutput::Syslog | LogOutput::None => Style {
                timestamps: false,
                ansi: false,
                priority_prefix: false,
            },
            LogOutput::File(_) => Style {
                timestamps: true,
                ansi: false,
                priority_prefix: false,
            },
        }
    }
}

/// The syslog severity of a level.
pub fn syslog_severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// The log's output, shared by every thread (and by [`LogHandle`]).
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<SinkInner>,
}

struct SinkInner {
    output: SinkOutput,
    priority_prefix: bool,
}

enum SinkOutput {
    Stderr,
    Null,
    File {
        path: PathBuf,
        file: Mutex<File>,
    },
    Syslog {
        facility: u8,
        ident: String,
        socket: Mutex<Option<UnixDatagram>>,
    },
}

impl LogSink {
    /// Opens `output` (a file is created if missing, and appended to).
    pub fn open(output: &LogOutput, facility: u8, style: Style) -> io::Result<LogSink> {
        let output = match output {
            LogOutput::Stderr => SinkOutput::Stderr,
            LogOutput::None => SinkOutput::Null,
            LogOutput::File(path) => SinkOutput::File {
                file: Mutex::new(open_log_file(path)?),
                path: path.clone(),
            },
            LogOutput::Syslog => SinkOutput::Syslog {
                facility,
                ident: format!("backhaul[{}]", std::process::id()),
                socket: Mutex::new(connect_syslog().ok()),
            },
        };
        Ok(LogSink {
            inner: Arc::new(SinkInner {
                output,
                priority_prefix: style.priority_prefix,
            }),
        })
    }

    /// Opens the file again (after logrotate renamed it), or reconnects to
    /// syslog; nothing for the other outputs. On an error the old file is
    /// kept.
    pub fn reopen(&self) -> io::Result<()> {
        match &self.inner.output {
            SinkOutput::File { path, file } => {
                let reopened = open_log_file(path)?;
                *file.lock() = reopened;
                Ok(())
            }
            SinkOutput::Syslog { socket, .. } => {
                *socket.lock() = Some(connect_syslog()?);
                Ok(())
            }
            SinkOutput::Stderr | SinkOutput::Null => Ok(()),
        }
    }

    /// Writes one formatted event.
    fn emit(&self, level: &Level, text: &[u8]) {
        let inner = &*self.inner;
        match &inner.output {
            SinkOutput::Null => {}
            SinkOutput::Stderr => {
                let mut line = Vec::with_capacity(text.len() + 3);
                if inner.priority_prefix {
                    line.extend_from_slice(b"<0>");
                    line[1] = b'0' + syslog_severity(level);
                }
                line.extend_from_slice(text);
                // Nothing to do about a log that cannot be written.
                let _ = io::stderr().lock().write_all(&line);
            }
            SinkOutput::File { file, .. } => {
                let _ = file.lock().write_all(text);
            }
            SinkOutput::Syslog {
                facility,
                ident,
                socket,
            } => {
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                let priority = u32::from(*facility) * 8 + u32::from(syslog_severity(level));
                let mut datagram = format!("<{priority}>{ident}: ").into_bytes();
                datagram.extend_from_slice(text);
                let mut socket = socket.lock();
                let sent = socket.as_ref().is_some_and(|s| s.send(&datagram).is_ok());
                if !sent {
                    // syslogd restarted: connect again, once per line.
                    *socket = connect_syslog().ok();
                    if let Some(s) = socket.as_ref() {
                        let _ = s.send(&datagram);
                    }
                }
            }
        }
    }
}

fn open_log_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot open log file {}: {error}", path.display()),
            )
        })
}

fn connect_syslog() -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(SYSLOG_SOCKET)?;
    Ok(socket)
}

/// One event being formatted; written out, in one piece, when dropped.
pub struct EventWriter<'a> {
    sink: &'a LogSink,
    level: Level,
    buffer: Vec<u8>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            self.sink.emit(&self.level, &self.buffer);
        }
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> EventWriter<'a> {
        EventWriter {
            sink: self,
            level: Level::INFO,
            buffer: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> EventWriter<'a> {
        EventWriter {
            sink: self,
            level: *meta.level(),
            buffer: Vec::new(),
        }
    }
}

/// The installed log, to reopen its file on `SIGHUP`.
#[derive(Clone)]
pub struct LogHandle {
    sink: LogSink,
}

impl LogHandle {
    /// See [`LogSink::reopen`].
    pub fn reopen(&self) -> io::Result<()> {
        self.sink.reopen()
    }
}

/// Installs the process's log on `output`; the level comes from `RUST_LOG`,
/// else `level` (an `EnvFilter` text such as `warn` or `info,plugin=warn`),
/// else `info`. Fails only if a file cannot be opened.
pub fn init(output: &LogOutput, facility: u8, level: Option<&str>) -> io::Result<LogHandle> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{fmt, EnvFilter, Layer};

    let style = Style::of(output, &Environment::current());
    let sink = LogSink::open(output, facility, style)?;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = fmt::layer().with_ansi(style.ansi).with_writer(sink.clone());
    let layer = if style.timestamps {
        layer.boxed()
    } else {
        layer.without_time().boxed()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    Ok(LogHandle { sink })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_names_device_and_inode() {
        assert!(names_device_and_inode("8:1234", 8, 1234));
        assert!(!names_device_and_inode("8:1234", 8, 1235));
        assert!(!names_device_and_inode("garbage", 8, 1234));
        assert!(!names_device_and_inode("", 0, 0));
    }

    #[test]
    fn no_timestamps_or_colours_under_systemd() {
        let terminal = Environment {
            under_systemd: false,
            stderr_is_journal: false,
            stderr_is_terminal: true,
        };
        let journal = Environment {
            under_systemd: true,
            stderr_is_journal: true,
            stderr_is_terminal: false,
        };
        let pipe = Environment::default();
        let stderr = LogOutput::Stderr;
        let file = LogOutput::File(PathBuf::from("/x"));
        let on = |output, env| Style::of(output, env);
        assert_eq!(
            on(&stderr, &terminal),
            Style {
                timestamps: true,
                ansi: true,
                priority_prefix: false
            }
        );
        assert_eq!(
            on(&stderr, &pipe),
            Style {
                timestamps: true,
                ansi: false,
                priority_prefix: false
            }
        );
        assert_eq!(
            on(&stderr, &journal),
            Style {
                timestamps: false,
                ansi: false,
                priority_prefix: true
            }
        );
        // A file keeps its timestamps, whoever started the agent.
        assert!(on(&file, &journal).timestamps);
        assert!(!on(&file, &terminal).ansi);
        assert!(!on(&LogOutput::Syslog, &terminal).timestamps);
    }

    #[test]
    fn a_file_sink_appends_and_reopens_by_path() {
        let dir = std::env::temp_dir().join(format!("backhaul-logging-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("error.log");
        let _ = std::fs::remove_file(&path);
        let output = LogOutput::File(path.clone());
        let sink =
            LogSink::open(&output, 3, Style::of(&output, &Environment::default())).expect("open");
        sink.emit(&Level::WARN, b"first\n");
        let rotated = dir.join("error.log.1");
        std::fs::rename(&path, &rotated).expect("rename");
        sink.emit(&Level::WARN, b"second\n");
        sink.reopen().expect("reopen");
        sink.emit(&Level::INFO, b"third\n");
        assert_eq!(
            std::fs::read_to_string(&rotated).expect("old"),
            "first\nsecond\n"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("new"), "third\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_named() {
        let output = LogOutput::File(PathBuf::from("/nonexistent-dir/backhaul/error.log"));
        let error = LogSink::open(&output, 3, Style::of(&output, &Environment::default()))
            .err()
            .expect("fails");
        assert!(
            error
                .to_string()
                .contains("/nonexistent-dir/backhaul/error.log"),
            "{error}"
        );
    }

    #[test]
    fn syslog_severities() {
        assert_eq!(syslog_severity(&Level::ERROR), 3);
        assert_eq!(syslog_severity(&Level::WARN), 4);
        assert_eq!(syslog_severity(&Level::INFO), 6);
        assert_eq!(syslog_severity(&Level::TRACE), 7);
    }
}
