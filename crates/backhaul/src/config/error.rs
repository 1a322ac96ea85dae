//! Where a setting came from ([`Location`]), what the loader reports without
//! stopping ([`Warning`]) and what stops it ([`ConfigError`]).
//!
//! Every message names the file and the line, and the section and key when
//! there is one, in one shape:
//! `FILE:LINE: [SECTION] 'KEY': message`.

use std::fmt;
use std::path::PathBuf;

/// A place in a configuration file: the file label (the path as given, or
/// the label passed to the `parse_*_str` functions) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as it appears in messages.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

impl Location {
    /// A location in `file` at 1-based `line`.
    pub fn new(file: impl Into<String>, line: usize) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a [`Warning`] was raised, so callers can choose what to show (for
/// instance hide [`WarningKind::NotUsed`] outside `check-config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A netdata setting or section that backhaul accepts and ignores.
    NotUsed,
    /// A setting or section that neither backhaul nor netdata 1.37 knows:
    /// probably a typo.
    Unknown,
    /// The same setting given twice in one section: the last one wins.
    Duplicate,
    /// A value that was replaced by a fallback, or a configuration that loads
    /// but probably does not do what its author meant.
    Suspicious,
    /// An instance whose connector backhaul cannot run (yet).
    Unsupported,
}

/// Something in a configuration file worth telling the user about that does
/// not stop backhaul from starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, as it appears in messages.
    pub file: String,
    /// 1-based line of the setting (or of the section header).
    pub line: usize,
    /// The section, without brackets, when the warning is about one.
    pub section: Option<String>,
    /// The setting name, when the warning is about one setting.
    pub key: Option<String>,
    /// What kind of warning this is.
    pub kind: WarningKind,
    /// Human-readable explanation.
    pub message: String,
}

impl Warning {
    pub(crate) fn about_key(
        at: &Location,
        section: &str,
        key: &str,
        kind: WarningKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: at.file.clone(),
            line: at.line,
            section: Some(section.to_string()),
            key: Some(key.to_string()),
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn about_section(
        at: &Location,
        section: &str,
        kind: WarningKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: at.file.clone(),
            line: at.line,
            section: Some(section.to_string()),
            key: None,
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        match (&self.section, &self.key) {
            (Some(section), Some(key)) => write!(f, "[{section}] '{key}': ")?,
            (Some(section), None) => write!(f, "[{section}]: ")?,
            (None, Some(key)) => write!(f, "'{key}': ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// A configuration problem that stops loading. The `Display` text always
/// names the file and line, and the section and key when there is one.
/// Locations are boxed to keep `Result`s small.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", file.display())]
    Io {
        /// The file that could not be read.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A line that is neither a comment, a `[section]` nor `name = value`.
    #[error("{at}: {message}")]
    Syntax {
        /// Where the line is.
        at: Box<Location>,
        /// What is wrong with it (quotes the line).
        message: String,
    },

    /// A setting whose value cannot be used.
    #[error("{at}: [{section}] '{key}': invalid value '{value}': {reason}")]
    InvalidValue {
        /// Where the value was set.
        at: Box<Location>,
        /// The section holding it, without brackets.
        section: String,
        /// The setting name.
        key: String,
        /// The value as written.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// An enabled instance without a setting it cannot do without (a
    /// prometheus remote write instance without `destination`: there is no
    /// default port).
    #[error("{at}: [{section}]: '{key}' is required: {reason}")]
    MissingSetting {
        /// The section header's location.
        at: Box<Location>,
        /// The section, without brackets.
        section: String,
        /// The setting name.
        key: String,
        /// Why it is needed.
        reason: String,
    },

    /// An exporting.conf section `[TYPE:NAME]` whose TYPE is not a known
    /// connector type.
    #[error(
        "{at}: [{section}]: unknown connector type '{connector}' (known types: {})",
        super::ConnectorType::ALL.map(|c| c.as_str()).join(", ")
    )]
    UnknownConnector {
        /// The section header's location.
        at: Box<Location>,
        /// The whole section name, without brackets.
        section: String,
        /// The part naming the connector type.
        connector: String,
    },

    /// Two instance sections (or an instance and the legacy `[backend]`)
    /// with the same instance name: names identify instances (in logs and
    /// self-monitoring chart ids), so they must be unique.
    #[error("{at}: [{section}]: instance name '{name}' is already used by [{other_section}] at {other_at}")]
    DuplicateInstance {
        /// The second section's header.
        at: Box<Location>,
        /// The second section, without brackets.
        section: String,
        /// The instance name both use.
        name: String,
        /// The first section using it.
        other_section: String,
        /// Where the first section is.
        other_at: Box<Location>,
    },
}
