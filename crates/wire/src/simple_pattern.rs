//! netdata "simple patterns", as used by `send charts matching`,
//! `send hosts matching` and friends.
//!
//! A pattern is a list of words separated by whitespace (space, tab, CR, LF,
//! FF, VT). In a word, `*` matches any run of bytes (any number of `*`,
//! anywhere); a leading `!` makes the word negative. The first word that
//! matches decides: positive → match, negative → no match. When no word
//! matches, the subject does not match. A backslash makes the next character
//! part of the word (`a\ b` is one word `a b`); it does not make `*` literal.
//! An empty subject matches nothing, as in netdata.
//!
//! One deliberate difference: netdata reads consecutive asterisks (`a**b`,
//! `***`) as a literal `*` in some positions; here any run of `*` is a single
//! wildcard. See "Wire formats" in `docs/compatibility.md`.
//!
//! ```
//! use wire::simple_pattern::SimplePattern;
//!
//! let charts = SimplePattern::new("!*.slow lab.* system.cpu");
//! assert!(charts.matches("lab.weird_chart"));
//! assert!(!charts.matches("lab.slow"));
//! assert!(!charts.matches("system.load"));
//! assert_eq!(charts.match_result("lab.slow"), Some(false));
//! assert_eq!(charts.match_result("system.load"), None);
//! ```

use std::fmt;

/// A parsed simple pattern. Matching allocates nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SimplePattern {
    source: Box<str>,
    words: Vec<Word>,
}

/// One word of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    negative: bool,
    glob: Glob,
}

/// A word without its `!`, split at its asterisks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Glob {
    /// No `*`: the subject must equal the text.
    Exact(Box<str>),
    /// At least one `*`: the subject must start with `head`, end with `tail`
    /// and hold each of `middles`, in order and without overlap, in between.
    Wildcard {
        head: Box<str>,
        middles: Box<[Box<str>]>,
        tail: Box<str>,
    },
}

/// netdata's default word separators.
fn is_separator(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\r' | '\n' | '\x0c' | '\x0b')
}

impl SimplePattern {
    /// Parses a pattern. Every text is a valid pattern; one with no words
    /// matches nothing.
    ///
    /// ```
    /// use wire::simple_pattern::SimplePattern;
    ///
    /// let hosts = SimplePattern::new("localhost *");
    /// assert!(hosts.matches("localhost") && hosts.matches("child-1"));
    /// assert!(!SimplePattern::new("").matches("anything"));
    /// assert!(SimplePattern::new("a*b*c").matches("a-b-b-c"));
    /// assert!(SimplePattern::new(r"disk\ space.*").matches("disk space.sda"));
    /// ```
    pub fn new(pattern: &str) -> SimplePattern {
        let mut words = Vec::new();
        let mut characters = pattern.chars().peekable();
        loop {
            while characters.next_if(|&c| is_separator(c)).is_some() {}
            let negative = characters.next_if_eq(&'!').is_some();
            if characters.peek().is_none() {
                break;
            }
            let mut word = String::new();
            let mut escaped = false;
            for character in characters.by_ref() {
                if character == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if is_separator(character) && !escaped {
                    break;
                }
                word.push(character);
                escaped = false;
            }
            if !word.is_empty() {
                words.push(Word {
                    negative,
                    glob: Glob::parse(&word),
                });
            }
        }
        SimplePattern {
            source: pattern.into(),
            words,
        }
    }

    /// The verdict of the first word that matches `subject`: `Some(true)` for
    /// a positive word, `Some(false)` for a negative one, `None` when no word
    /// matches (or `subject` is empty).
    pub fn match_result(&self, subject: &str) -> Option<bool> {
        if subject.is_empty() {
            return None;
        }
        self.words
            .iter()
            .find(|word| word.glob.matches(subject))
            .map(|word| !word.negative)
    }

    /// Whether `subject` matches: the first matching word is positive.
    #[inline]
    pub fn matches(&self, subject: &str) -> bool {
        self.match_result(subject) == Some(true)
    }

    /// Whether the pattern has no word (it then matches nothing).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The text the pattern was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for SimplePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimplePattern").field(&self.source).finish()
    }
}

impl fmt::Display for SimplePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Glob {
    fn parse(word: &str) -> Glob {
        let mut pieces = word.split('*');
        let head = pieces.next().unwrap_or_default();
        let Some(tail) = pieces.next_back() else {
            return Glob::Exact(head.into());
        };
        Glob::Wildcard {
            head: head.into(),
            middles: pieces
                .filter(|piece| !piece.is_empty())
                .map(Box::from)
                .collect(),
            tail: tail.into(),
        }
    }

    #[inline]
    fn matches(&self, subject: &str) -> bool {
        let subject = subject.as_bytes();
        match self {
            Glob::Exact(text) => same_bytes(subject, text.as_bytes()),
            Glob::Wildcard {
                head,
                middles,
                tail,
            } => {
                let (head, tail) = (head.as_bytes(), tail.as_bytes());
                if subject.len() < head.len() + tail.len()
                    || !same_bytes(&subject[..head.len()], head)
                    || !same_bytes(&subject[subject.len() - tail.len()..], tail)
                {
                    return false;
                }
                // head and tail do not overlap: the length check above. The
                // earliest place for each middle leaves the most room for the
                // next ones, so searching left to right is enough.
                let mut rest = &subject[head.len()..subject.len() - tail.len()];
                for middle in middles.iter() {
                    match find(rest, middle.as_bytes()) {
                        Some(at) => rest = &rest[at + middle.len()..],
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

/// Byte equality for the short texts of patterns. An inline loop: calling
/// `memcmp` for a few bytes costs more than the comparison (and much more
/// with some libc variants).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The first position of `needle` (not empty) in `haystack`.
#[inline]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = haystack.len().checked_sub(needle.len())?;
    (0..=last_start)
        .find(|&at| haystack[at] == first && same_bytes(&haystack[at + 1..at + needle.len()], rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn netdata_defaults() {
        let charts = SimplePattern::new("*");
        assert!(charts.matches("system.cpu"));
        assert!(!charts.matches(""));
        let hosts = SimplePattern::new("localhost *");
        assert_eq!(hosts.match_result("localhost"), Some(true));
    }

    #[test]
    fn wildcards_anywhere() {
        let cases = [
            ("system.*", "system.cpu", true),
            ("system.*", "system.", true),
            ("system.*", "system", false),
            ("*.cpu", "system.cpu", true),
            ("*cpu*", "system.cpu_some", true),
            ("*cpu*", "cpu", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*a*a*", "a", false),
            ("*a*a*", "bab-a", true),
            ("ab*b*bc", "abbc", false),
            ("ab*b*bc", "abbbc", true),
            ("a**b", "ab", true),
            ("***", "x", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(
                SimplePattern::new(pattern).matches(subject),
                expected,
                "{pattern:?} on {subject:?}"
            );
        }
    }

    #[test]
    fn first_matching_word_decides() {
        let pattern = SimplePattern::new("!lab.slow lab.* !*");
        assert_eq!(pattern.match_result("lab.slow"), Some(false));
        assert_eq!(pattern.match_result("lab.fast"), Some(true));
        assert_eq!(pattern.match_result("system.cpu"), Some(false));
        let pattern = SimplePattern::new("lab.* !lab.slow");
        assert!(pattern.matches("lab.slow"));
    }

    #[test]
    fn separators_and_escapes() {
        let pattern = SimplePattern::new(" \t a\\ b\nc\\*d\r\x0b\x0c!e ");
        assert!(pattern.matches("a b"));
        assert!(pattern.matches("cd"), "an escaped * is still a wildcard");
        assert!(pattern.matches("cxd"));
        assert_eq!(pattern.match_result("e"), Some(false));
        assert!(!pattern.matches("a"));
        assert!(SimplePattern::new("\\!x").matches("!x"));
        assert!(SimplePattern::new("x!").matches("x!"));
        // a lone `!` before a separator loses its word
        let pattern = SimplePattern::new("! abc");
        assert_eq!(pattern.match_result("abc"), Some(true));
        assert!(SimplePattern::new("!").is_empty());
        assert!(SimplePattern::new("   ").is_empty());
        assert!(SimplePattern::new("trailing\\").matches("trailing"));
    }

    #[test]
    fn utf8_subjects() {
        let pattern = SimplePattern::new("temp*ture *é*");
        assert!(pattern.matches("température"));
        assert!(pattern.matches("é"));
        assert!(!pattern.matches("e"));
    }

    /// A straightforward backtracking glob, for comparison.
    fn reference_glob(pattern: &[u8], subject: &[u8]) -> bool {
        match pattern.split_first() {
            None => subject.is_empty(),
            Some((b'*', rest)) => {
                (0..=subject.len()).any(|skip| reference_glob(rest, &subject[skip..]))
            }
            Some((&byte, rest)) => {
                subject.first() == Some(&byte) && reference_glob(rest, &subject[1..])
            }
        }
    }

    proptest! {
        #[test]
        fn words_match_like_a_glob(word in "[ab*]{1,8}", subject in "[ab]{1,10}") {
            let pattern = SimplePattern::new(&word);
            prop_assert_eq!(pattern.matches(&subject), reference_glob(word.as_bytes(), subject.as_bytes()));
        }

        #[test]
        fn first_match_decides(
            words in prop::collection::vec(("!?", "[ab*]{1,5}"), 0..5),
            subject in "[ab]{1,6}",
        ) {
            let text = words.iter().map(|(bang, word)| format!("{bang}{word}")).collect::<Vec<_>>().join(" ");
            let expected = words
                .iter()
                .find(|(_, word)| reference_glob(word.as_bytes(), subject.as_bytes()))
                .map(|(bang, _)| bang.is_empty());
            prop_assert_eq!(SimplePattern::new(&text).match_result(&subject), expected);
        }

        #[test]
        fn any_text_parses_and_matches_without_panicking(pattern in ".{0,30}", subject in ".{0,30}") {
            let pattern = SimplePattern::new(&pattern);
            let _ = pattern.match_result(&subject);
        }
    }
}
