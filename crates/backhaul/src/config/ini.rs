//! The ini layer: turns the text of a netdata-style configuration file into
//! sections of `name = value` settings, each remembering its line.
//!
//! Syntax (netdata's, plus `;` comments):
//! - `[section name]` starts a section; the name is trimmed and may contain
//!   spaces and colons (`[graphite:http:my instance]`);
//! - `name = value` sets a value; name and value are trimmed, the name may
//!   contain spaces, the value runs to the end of the line (a `#` inside a
//!   value is kept) and may be empty; the first `=` separates them;
//! - a line whose first non-blank character is `#` or `;` is a comment, blank
//!   lines are ignored; leading spaces and tabs never matter.
//!
//! A repeated section continues the first one. A setting repeated in one
//! section keeps its first position, takes the last value and line, and
//! raises a [`WarningKind::Duplicate`] warning.
//!
//! Errors (each naming file and line): a line with no `=`, a `[` with no
//! closing `]`, an empty section name, an empty setting name, a setting
//! before any section.
//!
//! No ini crate was used: the common ones (rust-ini, configparser) do not
//! report the line of each key, which every message here needs.

use super::error::{ConfigError, Location, Warning, WarningKind};

/// One `name = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    /// The setting name, trimmed.
    pub key: String,
    /// The value, trimmed; may be empty.
    pub value: String,
    /// Where the (last) value was set.
    pub at: Location,
}

/// One `[section]` with its settings in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniSection {
    /// The section name without brackets, trimmed.
    pub name: String,
    /// The (first) header line.
    pub at: Location,
    /// Settings in the order they first appeared.
    pub entries: Vec<IniEntry>,
}

impl IniSection {
    /// The setting called `key` (names are case-sensitive, as in netdata).
    pub fn get(&self, key: &str) -> Option<&IniEntry> {
        self.entries.iter().find(|entry| entry.key == key)
    }
}

/// A whole parsed file: its sections in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDocument {
    /// The file label used in messages.
    pub file: String,
    /// Sections in order of first appearance.
    pub sections: Vec<IniSection>,
}

impl IniDocument {
    /// The section called `name` (case-sensitive).
    pub fn section(&self, name: &str) -> Option<&IniSection> {
        self.sections.iter().find(|section| section.name == name)
    }
}

/// Parses `text`, naming it `file` in messages; duplicate settings are
/// reported into `warnings`.
pub fn parse(
    text: &str,
    file: &str,
    warnings: &mut Vec<Warning>,
) -> Result<IniDocument, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut document = IniDocument {
        file: file.to_string(),
        sections: Vec::new(),
    };
    let mut current_section: Option<usize> = None;

    for (index, raw_line) in text.lines().enumerate() {
        let at = Location::new(file, index + 1);
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }

        if let Some(after_bracket) = line.strip_prefix('[') {
            let Some(inner) = after_bracket.strip_suffix(']') else {
                return Err(ConfigError::Syntax {
                    at: Box::new(at),
                    message: format!("section header '{line}' has no closing ']'"),
                });
            };
            let name = inner.trim();
            if name.is_empty() {
                return Err(ConfigError::Syntax {
                    at: Box::new(at),
                    message: "empty section name '[]'".to_string(),
                });
            }
            current_section = Some(
                match document.sections.iter().position(|s| s.name == name) {
                    Some(existing) => existing,
                    None => {
                        document.sections.push(IniSection {
                            name: name.to_string(),
                            at,
                            entries: Vec::new(),
                        });
                        document.sections.len() - 1
                    }
                },
            );
            continue;
        }

        let Some((raw_key, raw_value)) = line.split_once('=') else {
            return Err(ConfigError::Syntax {
                at: Box::new(at),
                message: format!(
                    "cannot understand '{line}': expected 'name = value', '[section]' or a comment"
                ),
            });
        };
        let key = raw_key.trim();
        let value = raw_value.trim();
        if key.is_empty() {
            return Err(ConfigError::Syntax {
                at: Box::new(at),
                message: format!("setting '{line}' has no name before '='"),
            });
        }
        let Some(section_index) = current_section else {
            return Err(ConfigError::Syntax {
                at: Box::new(at),
                message: format!("setting '{key}' comes before any [section]"),
            });
        };
        let section = &mut document.sections[section_index];
        match section.entries.iter_mut().find(|entry| entry.key == key) {
            Some(previous) => {
                warnings.push(Warning::about_key(
                    &at,
                    &section.name,
                    key,
                    WarningKind::Duplicate,
                    format!(
                        "set again (first set at line {}); the last value wins",
                        previous.at.line
                    ),
                ));
                previous.value = value.to_string();
                previous.at = at;
            }
            None => section.entries.push(IniEntry {
                key: key.to_string(),
                value: value.to_string(),
                at,
            }),
        }
    }
    Ok(document)
}

/// An ordered list of sections to look a setting up in: the first section
/// that sets it wins (exporting.conf reads `[TYPE:NAME]`, then `[TYPE]`, then
/// `[exporting:global]`). Parse failures become
/// [`ConfigError::InvalidValue`] naming where the value was found.
#[derive(Debug, Clone, Default)]
pub struct SectionChain<'a> {
    sections: Vec<&'a IniSection>,
}

impl<'a> SectionChain<'a> {
    /// A chain over `sections`, most specific first; `None`s are skipped.
    pub fn new(sections: impl IntoIterator<Item = Option<&'a IniSection>>) -> Self {
        Self {
            sections: sections.into_iter().flatten().collect(),
        }
    }

    /// The first section setting `key`, with the setting.
    pub fn find(&self, key: &str) -> Option<(&'a IniSection, &'a IniEntry)> {
        self.sections
            .iter()
            .find_map(|section| section.get(key).map(|entry| (*section, entry)))
    }

    /// The value of `key` parsed with `parse`, or `None` when no section
    /// sets it.
    pub fn parsed<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.find(key) {
            None => Ok(None),
            Some((section, entry)) => parse(&entry.value)
                .map(Some)
                .map_err(|reason| invalid_value(section, entry, reason)),
        }
    }

    /// The value of `key` parsed with `parse`, or `default` when no section
    /// sets it.
    pub fn parsed_or<T>(
        &self,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        Ok(self.parsed(key, parse)?.unwrap_or(default))
    }

    /// The raw text of `key`, or `default`.
    pub fn text_or(&self, key: &str, default: &str) -> String {
        self.find(key)
            .map_or(default, |(_, entry)| entry.value.as_str())
            .to_string()
    }
}

/// The error for `entry` of `section` whose value cannot be used.
pub fn invalid_value(section: &IniSection, entry: &IniEntry, reason: String) -> ConfigError {
    ConfigError::InvalidValue {
        at: Box::new(entry.at.clone()),
        section: section.name.clone(),
        key: entry.key.clone(),
        value: entry.value.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (IniDocument, Vec<Warning>) {
        let mut warnings = Vec::new();
        let document = parse(text, "t.conf", &mut warnings).expect("parses");
        (document, warnings)
    }

    fn parse_err(text: &str) -> String {
        let mut warnings = Vec::new();
        parse(text, "t.conf", &mut warnings)
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn sections_keys_comments_and_lines() {
        let text = "\u{feff}# top comment\n[global]\n\thostname = my host # not a comment\n  ; semicolon comment\n\n   # indented comment\n[graphite:http:my instance]\nempty =\nurl = a=b\r\n";
        let (document, warnings) = parse_ok(text);
        assert!(warnings.is_empty());
        assert_eq!(document.sections.len(), 2);
        let global = document.section("global").expect("global");
        assert_eq!(global.at.line, 2);
        let hostname = global.get("hostname").expect("hostname");
        assert_eq!(hostname.value, "my host # not a comment");
        assert_eq!(hostname.at.line, 3);
        let instance = document
            .section("graphite:http:my instance")
            .expect("instance");
        assert_eq!(instance.get("empty").map(|e| e.value.as_str()), Some(""));
        assert_eq!(instance.get("url").map(|e| e.value.as_str()), Some("a=b"));
        assert_eq!(instance.get("url").map(|e| e.at.line), Some(9));
    }

    #[test]
    fn repeated_sections_merge_and_last_duplicate_wins() {
        let text = "[a]\nx = 1\ny = 2\n[b]\nz = 3\n[a]\nx = 4\n";
        let (document, warnings) = parse_ok(text);
        assert_eq!(document.sections.len(), 2);
        let a = document.section("a").expect("a");
        assert_eq!(a.entries[0].key, "x");
        assert_eq!(a.entries[0].value, "4");
        assert_eq!(a.entries[0].at.line, 7);
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            "t.conf:7: [a] 'x': set again (first set at line 2); the last value wins"
        );
    }

    #[test]
    fn malformed_lines_are_errors_naming_file_and_line() {
        assert_eq!(
            parse_err("[a]\nx = 1\njust words\n"),
            "t.conf:3: cannot understand 'just words': expected 'name = value', '[section]' or a comment"
        );
        assert_eq!(
            parse_err("[a\n"),
            "t.conf:1: section header '[a' has no closing ']'"
        );
        assert_eq!(parse_err("[ ]\n"), "t.conf:1: empty section name '[]'");
        assert_eq!(
            parse_err("[a]\n = 3\n"),
            "t.conf:2: setting '= 3' has no name before '='"
        );
        assert_eq!(
            parse_err("\nx = 1\n[a]\n"),
            "t.conf:2: setting 'x' comes before any [section]"
        );
    }
}
