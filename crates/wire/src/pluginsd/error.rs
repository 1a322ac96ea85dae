//! Errors of the plugins.d reader: [`FrameError`] (framing), [`ParseError`]
//! (one line's command) and [`TextPreview`], the bounded copy of offending
//! text they carry so a log line can show it without allocating and without
//! borrowing the input.

use std::fmt;

use super::command::Verb;

/// How many bytes of offending text an error keeps.
pub const PREVIEW_LEN: usize = 48;

/// A bounded, owned copy of the start of some offending text, for logs.
///
/// It keeps at most [`PREVIEW_LEN`] bytes, cut on a UTF-8 character boundary
/// when the text is UTF-8. `Display` escapes control characters and invalid
/// UTF-8 (as `\xNN`) and appends `…` when the text was cut.
///
/// ```
/// use wire::pluginsd::TextPreview;
///
/// assert_eq!(TextPreview::new(b"caf\xc3\xa9\t\xff").to_string(), "café\\t\\xff");
/// let long = TextPreview::new(&[b'a'; 100]);
/// assert!(long.is_truncated());
/// assert!(long.to_string().ends_with('…'));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextPreview {
    bytes: [u8; PREVIEW_LEN],
    len: u8,
    truncated: bool,
}

impl TextPreview {
    /// Copies the start of `text`.
    pub fn new(text: &[u8]) -> Self {
        let mut len = text.len().min(PREVIEW_LEN);
        let truncated = len < text.len();
        if truncated {
            // `text[len]` is the first byte left out. When it continues a
            // UTF-8 character, leave that whole character out (its lead byte
            // is at most 3 bytes back); invalid UTF-8 is cut where it is.
            let is_continuation = |b: u8| (b & 0b1100_0000) == 0b1000_0000;
            let mut cut = len;
            while cut > 0 && len - cut < 3 && is_continuation(text[cut]) {
                cut -= 1;
            }
            if !is_continuation(text[cut]) {
                len = cut;
            }
        }
        let mut bytes = [0u8; PREVIEW_LEN];
        bytes[..len].copy_from_slice(&text[..len]);
        TextPreview {
            bytes,
            len: len as u8,
            truncated,
        }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether the original text was longer than what is kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for TextPreview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.as_bytes())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TextPreview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Writes `bytes` as text: valid UTF-8 with control characters, quotes and
/// backslashes escaped; invalid bytes as `\xNN`.
fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// A framing problem: the line was dropped, reading goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A line longer than the framer's limit. It is reported once, when the
    /// limit is crossed (or when the whole line is found at once), and the
    /// rest of it is discarded up to the next newline without being kept.
    #[error("plugin line longer than {limit} bytes discarded (it starts with '{head}')")]
    Overlong {
        /// The framer's limit, in bytes, not counting the line terminator.
        limit: usize,
        /// The start of the dropped line.
        head: TextPreview,
    },
}

/// Why a line could not be turned into a [`Command`](super::Command).
///
/// Each variant names the verb and the field; offending text is kept as a
/// [`TextPreview`]. Display gives a complete log message:
///
/// ```
/// use wire::pluginsd::parse_line;
///
/// let error = parse_line(b"CHART nodot '' 'title' units").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "CHART: type.id 'nodot' must be TYPE.ID with both parts non-empty"
/// );
/// assert!(error.netdata_disables_plugin());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A required field is absent from the line.
    #[error("{verb}: missing {field}")]
    MissingField {
        /// The command.
        verb: Verb,
        /// The field's name as the protocol documentation calls it.
        field: &'static str,
    },
    /// A required field is present but empty (`''`).
    #[error("{verb}: {field} is empty")]
    EmptyField {
        /// The command.
        verb: Verb,
        /// The field's name.
        field: &'static str,
    },
    /// `CHART`'s first field is not `TYPE.ID`.
    #[error("CHART: type.id '{type_id}' must be TYPE.ID with both parts non-empty")]
    InvalidChartId {
        /// The offending field.
        type_id: TextPreview,
    },
    /// A field that must be a number is not one.
    #[error("{verb}: {field} '{text}' is not a number")]
    InvalidNumber {
        /// The command.
        verb: Verb,
        /// The field's name.
        field: &'static str,
        /// The offending field.
        text: TextPreview,
    },
}

impl ParseError {
    /// The command the error is about.
    pub fn verb(&self) -> Verb {
        match self {
            ParseError::MissingField { verb, .. }
            | ParseError::EmptyField { verb, .. }
            | ParseError::InvalidNumber { verb, .. } => *verb,
            ParseError::InvalidChartId { .. } => Verb::Chart,
        }
    }

    /// Whether netdata 1.37 stops the plugin for this error (it disables the
    /// plugin for malformed `CHART`, `DIMENSION`, `BEGIN`, `SET` and for a
    /// `VARIABLE` without a name); the other errors are logged and the line
    /// ignored. The caller decides what to do; this says what netdata did.
    pub fn netdata_disables_plugin(&self) -> bool {
        match self {
            ParseError::InvalidChartId { .. } => true,
            ParseError::MissingField { verb, field } | ParseError::EmptyField { verb, field } => {
                match verb {
                    Verb::Chart | Verb::Dimension | Verb::Begin | Verb::Set => true,
                    Verb::Variable => *field == "name",
                    _ => false,
                }
            }
            ParseError::InvalidNumber { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_cuts_on_a_character_boundary() {
        // 47 ASCII bytes then 'é' (2 bytes) straddling the 48-byte limit.
        let mut text = vec![b'a'; PREVIEW_LEN - 1];
        text.extend_from_slice("é and more".as_bytes());
        let preview = TextPreview::new(&text);
        assert_eq!(preview.as_bytes(), &text[..PREVIEW_LEN - 1]);
        assert!(preview.is_truncated());
        assert!(!preview.to_string().contains("\\x"));

        // Invalid UTF-8 is cut where it is.
        let invalid = [0x80u8; 60];
        let preview = TextPreview::new(&invalid);
        assert_eq!(preview.as_bytes().len(), PREVIEW_LEN);
        assert!(preview.to_string().starts_with("\\x80\\x80"));

        let short = TextPreview::new(b"ok");
        assert!(!short.is_truncated());
        assert_eq!(format!("{short:?}"), "\"ok\"");
        assert_eq!(TextPreview::new(b"").to_string(), "");
    }

    #[test]
    fn frame_error_message() {
        let error = FrameError::Overlong {
            limit: 4,
            head: TextPreview::new(b"SET x"),
        };
        assert_eq!(
            error.to_string(),
            "plugin line longer than 4 bytes discarded (it starts with 'SET x')"
        );
    }
}
