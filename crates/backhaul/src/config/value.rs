//! Value parsers shared by both files: booleans, whole numbers, `data
//! source`, space-separated (optionally quoted) path lists, and the
//! [`Secret`] wrapper that keeps passwords out of `Debug` output.
//!
//! Each parser returns `Err(reason)`; the caller turns it into a
//! [`ConfigError::InvalidValue`](super::ConfigError::InvalidValue) naming
//! file, line, section and key.

use std::fmt;

/// The reason text for a value that is not a boolean.
pub(crate) const BOOLEAN_EXPECTED: &str =
    "must be yes or no (also accepted: true/false, on/off, 1/0, auto, on demand)";

/// Parses a boolean: `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`, any
/// case. netdata also reads `auto` and `on demand` as yes in plain booleans;
/// so does backhaul. Anything else is an error (netdata silently read it as
/// no, which hides typos).
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" | "auto" | "on demand" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(BOOLEAN_EXPECTED.to_string()),
    }
}

/// Parses a whole decimal number (an optional `+`, then digits) that must be
/// at least `minimum`; `reason` is the message for anything else.
pub fn parse_whole_number(value: &str, minimum: u64, reason: &str) -> Result<u64, String> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(reason.to_string());
    }
    match digits.parse::<u64>() {
        Ok(number) if number >= minimum => Ok(number),
        _ => Err(reason.to_string()),
    }
}

/// A TCP or UDP port from 1 to 65535.
pub fn parse_port(value: &str, reason: &str) -> Result<u16, String> {
    let number = parse_whole_number(value, 1, reason)?;
    u16::try_from(number).map_err(|_| reason.to_string())
}

/// Like [`parse_whole_number`], for values that must fit in a `u32`.
pub fn parse_u32(value: &str, minimum: u32, reason: &str) -> Result<u32, String> {
    let number = parse_whole_number(value, u64::from(minimum), reason)?;
    u32::try_from(number).map_err(|_| reason.to_string())
}

/// Which value of a dimension is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSource {
    /// The raw value last collected, before multiplier and divisor.
    AsCollected,
    /// The average of the stored points over the instance's interval.
    Average,
    /// The sum of the stored points over the instance's interval.
    Sum,
}

impl DataSource {
    /// The canonical spelling: `as collected`, `average` or `sum`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::AsCollected => "as collected",
            DataSource::Average => "average",
            DataSource::Sum => "sum",
        }
    }

    /// Parses netdata's spellings: `as collected` (also `raw`,
    /// `as-collected`, `as_collected`, `ascollected`), `average`, `sum`
    /// (also `volume`). Case-sensitive, as in netdata.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "as collected" | "raw" | "as-collected" | "as_collected" | "ascollected" => {
                Ok(DataSource::AsCollected)
            }
            "average" => Ok(DataSource::Average),
            "sum" | "volume" => Ok(DataSource::Sum),
            _ => Err("must be 'as collected', 'average' or 'sum' \
                 (also accepted: 'raw', 'as-collected', 'as_collected', 'ascollected', 'volume')"
                .to_string()),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits a list of words separated by blanks, where a word may be quoted
/// with `"` or `'` to hold blanks (netdata writes directory lists this way:
/// `"/usr/lib/netdata/plugins.d" "/etc/netdata/custom-plugins.d"`).
pub fn split_quoted_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            loop {
                match chars.next() {
                    Some(c) if c == first => break,
                    Some(c) => word.push(c),
                    None => return Err(format!("the quote {first} is never closed")),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// A value that must not appear in logs: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the code that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for yes in ["yes", "YES", "true", "on", "1", "auto", "on demand"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["no", "No", "false", "off", "0"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert!(parse_bool("yes please").is_err());
        assert!(parse_bool("").is_err());
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(parse_whole_number("10", 1, "r"), Ok(10));
        assert_eq!(parse_whole_number("+7", 1, "r"), Ok(7));
        assert_eq!(parse_whole_number("0", 1, "r"), Err("r".to_string()));
        assert_eq!(parse_whole_number("-3", 0, "r"), Err("r".to_string()));
        assert_eq!(parse_whole_number("lots", 0, "r"), Err("r".to_string()));
        assert_eq!(parse_whole_number("1.5", 0, "r"), Err("r".to_string()));
        assert_eq!(parse_u32("4294967296", 0, "r"), Err("r".to_string()));
    }

    #[test]
    fn data_sources() {
        for raw in [
            "as collected",
            "raw",
            "as-collected",
            "as_collected",
            "ascollected",
        ] {
            assert_eq!(DataSource::parse(raw), Ok(DataSource::AsCollected));
        }
        assert_eq!(DataSource::parse("average"), Ok(DataSource::Average));
        assert_eq!(DataSource::parse("volume"), Ok(DataSource::Sum));
        assert!(DataSource::parse("median").is_err());
    }

    #[test]
    fn quoted_words() {
        assert_eq!(
            split_quoted_words(r#" "/a b/c"  /d '/e' "#),
            Ok(vec![
                "/a b/c".to_string(),
                "/d".to_string(),
                "/e".to_string()
            ])
        );
        assert!(split_quoted_words("\"/a").is_err());
        assert_eq!(split_quoted_words("   "), Ok(vec![]));
    }

    #[test]
    fn secrets_do_not_leak() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "\"***\" ***");
        assert_eq!(secret.expose(), "hunter2");
    }
}
