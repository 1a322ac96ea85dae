//! netdata's plugins.d tokenizer: a line → words, borrowed, no allocation.
//!
//! The rules, as netdata 1.37 applies them to plugin output:
//!
//! - **Separators** are space, tab, `\r`, `\n` and `=`. Runs of separators
//!   count as one; leading and trailing ones are ignored. `=` being a
//!   separator is what makes `SET id = 5` three words (`SET`, `id`, `5`), and
//!   `SET id 5` the same thing.
//! - **Quotes**: a word that *starts* with `'` or `"` runs to the next same
//!   quote; separators and the other quote character are literal inside it.
//!   The closing quote ends the word even when no separator follows
//!   (`'a'b` is two words, `a` and `b`). `''` is an empty word, which is
//!   meaningful (an empty name means "use the id"). A quote character in the
//!   middle of an unquoted word is literal (`it's`).
//! - **Unbalanced quote**: a quoted word with no closing quote runs to the
//!   end of the line. [`Words::saw_unterminated_quote`] tells, for a warning.
//! - **Backslash**: `\` followed by any byte keeps that byte from acting as a
//!   separator or a closing quote, but both bytes stay in the word (netdata
//!   does not remove the backslash either): `'it\'s'` is the word `it\'s`.
//! - **NUL** ends the line, as it does for netdata's C strings.
//! - Words are **bytes**: no UTF-8 requirement (`température` is just bytes).
//!
//! [`Words`] is the iterator; [`WordArray`] collects up to [`MAX_WORDS`] into
//! a fixed array (netdata keeps 20 and drops the rest).

use super::swar;

/// The most words a [`WordArray`] keeps; further words are dropped and
/// [`WordArray::truncated`] is set. netdata 1.37 keeps 20; the longest
/// command (`CHART`) has 13.
pub const MAX_WORDS: usize = 32;

const OTHER: u8 = 0;
const SEPARATOR: u8 = 1;
const END: u8 = 2;

/// Byte classes for the scanner: separators, NUL (end of line), the rest.
static CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    class[b' ' as usize] = SEPARATOR;
    class[b'\t' as usize] = SEPARATOR;
    class[b'\r' as usize] = SEPARATOR;
    class[b'\n' as usize] = SEPARATOR;
    class[b'=' as usize] = SEPARATOR;
    class[0] = END;
    class
};

/// Whether `byte` separates words (space, tab, `\r`, `\n`, `=`).
///
/// ```
/// use wire::pluginsd::is_separator;
/// assert!(is_separator(b'='));
/// assert!(!is_separator(b'.'));
/// ```
#[inline]
pub fn is_separator(byte: u8) -> bool {
    CLASS[usize::from(byte)] == SEPARATOR
}

/// Whether `byte` ends an unquoted word (a separator or NUL).
#[inline]
pub(crate) fn ends_unquoted_word(byte: u8) -> bool {
    CLASS[usize::from(byte)] != OTHER
}

/// The words of a line, in order, each borrowed from the line.
///
/// ```
/// use wire::pluginsd::Words;
///
/// let words: Vec<&[u8]> = Words::new(br#"DIMENSION 'a b' "it's" '' x=1"#).collect();
/// assert_eq!(words, [&b"DIMENSION"[..], b"a b", b"it's", b"", b"x", b"1"]);
/// ```
#[derive(Debug, Clone)]
pub struct Words<'a> {
    rest: &'a [u8],
    unterminated_quote: bool,
}

impl<'a> Words<'a> {
    /// Starts at the beginning of `line`.
    #[inline]
    pub fn new(line: &'a [u8]) -> Self {
        Words {
            rest: line,
            unterminated_quote: false,
        }
    }

    /// What is left of the line from the start of the next word (its opening
    /// quote included), or empty when no word is left. Splitting it again
    /// with [`Words::new`] yields exactly the words this iterator would.
    ///
    /// ```
    /// use wire::pluginsd::Words;
    ///
    /// let mut words = Words::new(b"LABEL name 1 'two words'  more ");
    /// words.by_ref().take(3).for_each(drop);
    /// assert_eq!(words.remainder(), b"'two words'  more ");
    /// ```
    pub fn remainder(&self) -> &'a [u8] {
        let start = skip_separators(self.rest, 0);
        match self.rest.get(start) {
            Some(&b) if CLASS[usize::from(b)] != END => &self.rest[start..],
            _ => &[],
        }
    }

    /// Whether a quoted word so far had no closing quote (it then ran to the
    /// end of the line).
    pub fn saw_unterminated_quote(&self) -> bool {
        self.unterminated_quote
    }
}

#[inline]
fn skip_separators(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && CLASS[usize::from(bytes[at])] == SEPARATOR {
        at += 1;
    }
    at
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let bytes = self.rest;
        let start = skip_separators(bytes, 0);
        let &first = bytes.get(start)?;
        if first == 0 {
            self.rest = &[];
            return None;
        }
        if first == b'\'' || first == b'"' {
            let word_start = start + 1;
            let mut at = swar::skip_unflagged(bytes, word_start, |word| {
                swar::equal_mask(word, first)
                    | swar::equal_mask(word, 0)
                    | swar::equal_mask(word, b'\\')
            });
            while at < bytes.len() {
                let b = bytes[at];
                if b == first {
                    self.rest = &bytes[at + 1..];
                    return Some(&bytes[word_start..at]);
                }
                if b == 0 {
                    break;
                }
                if b == b'\\' && at + 1 < bytes.len() && bytes[at + 1] != 0 {
                    at += 2;
                } else {
                    at += 1;
                }
            }
            // No closing quote: the word runs to the end of the line (or
            // its NUL).
            self.unterminated_quote = true;
            self.rest = &[];
            return Some(&bytes[word_start..at.min(bytes.len())]);
        }
        // Whole words of 8 bytes with no separator, NUL or backslash are
        // skipped at once; the byte loop then does the exact work.
        let mut at = swar::skip_unflagged(bytes, start, |word| {
            swar::below_mask(word, 0x21)
                | swar::equal_mask(word, b'=')
                | swar::equal_mask(word, b'\\')
        });
        while at < bytes.len() {
            let b = bytes[at];
            if ends_unquoted_word(b) {
                break;
            }
            if b == b'\\' && at + 1 < bytes.len() && bytes[at + 1] != 0 {
                at += 2;
            } else {
                at += 1;
            }
        }
        let at = at.min(bytes.len());
        self.rest = &bytes[at..];
        Some(&bytes[start..at])
    }
}

/// Up to [`MAX_WORDS`] words of a line in a fixed-size array (no allocation).
///
/// ```
/// use wire::pluginsd::WordArray;
///
/// let words = WordArray::split(b"SET 'dim.with.dots' = 42");
/// assert_eq!(words.as_slice(), [&b"SET"[..], b"dim.with.dots", b"42"]);
/// assert_eq!(words.get(3), None);
/// assert!(!words.truncated());
/// ```
#[derive(Debug, Clone)]
pub struct WordArray<'a> {
    words: [&'a [u8]; MAX_WORDS],
    len: usize,
    truncated: bool,
    unterminated_quote: bool,
}

impl<'a> WordArray<'a> {
    /// Splits `line` with netdata's rules (see the [module docs](self)).
    pub fn split(line: &'a [u8]) -> Self {
        let mut array = WordArray {
            words: [&[]; MAX_WORDS],
            len: 0,
            truncated: false,
            unterminated_quote: false,
        };
        let mut words = Words::new(line);
        for word in words.by_ref() {
            if array.len == MAX_WORDS {
                array.truncated = true;
                break;
            }
            array.words[array.len] = word;
            array.len += 1;
        }
        array.unterminated_quote = words.saw_unterminated_quote();
        array
    }

    /// The words kept.
    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.words[..self.len]
    }

    /// Word `index` (0 is the verb), or `None` past the last one.
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        self.as_slice().get(index).copied()
    }

    /// How many words were kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the line had no word at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the line had more than [`MAX_WORDS`] words (the rest were
    /// dropped).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether a quoted word had no closing quote.
    pub fn unterminated_quote(&self) -> bool {
        self.unterminated_quote
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Vec<&[u8]> {
        Words::new(line).collect()
    }

    #[test]
    fn separators_collapse_and_equal_sign_separates() {
        assert_eq!(split(b"  SET\tid  =  5 \r"), [&b"SET"[..], b"id", b"5"]);
        assert_eq!(split(b"SET id=5"), [&b"SET"[..], b"id", b"5"]);
        assert_eq!(split(b"a==b"), [&b"a"[..], b"b"]);
        assert!(split(b"").is_empty());
        assert!(split(b" \t = \r\n").is_empty());
    }

    #[test]
    fn single_and_double_quotes() {
        assert_eq!(
            split(b"CHART 'a b' \"c d\""),
            [&b"CHART"[..], b"a b", b"c d"]
        );
        assert_eq!(split(b"'it\"s'"), [&b"it\"s"[..]]);
        assert_eq!(split(b"\"it's\""), [&b"it's"[..]]);
        assert_eq!(split(b"'a = b'"), [&b"a = b"[..]]);
    }

    #[test]
    fn empty_quoted_words_are_kept() {
        assert_eq!(
            split(b"DIMENSION x '' \"\" absolute"),
            [&b"DIMENSION"[..], b"x", b"", b"", b"absolute"]
        );
        assert_eq!(split(b"''"), [&b""[..]]);
    }

    #[test]
    fn closing_quote_ends_the_word_and_mid_word_quotes_are_literal() {
        assert_eq!(split(b"'a'b"), [&b"a"[..], b"b"]);
        assert_eq!(split(b"'a''b'"), [&b"a"[..], b"b"]);
        assert_eq!(split(b"it's x"), [&b"it's"[..], b"x"]);
        assert_eq!(split(b"a\"b c\""), [&b"a\"b"[..], b"c\""]);
    }

    #[test]
    fn unterminated_quote_runs_to_end_of_line() {
        let mut words = Words::new(b"SET 'a b = 5");
        assert_eq!(words.next(), Some(&b"SET"[..]));
        assert!(!words.saw_unterminated_quote());
        assert_eq!(words.next(), Some(&b"a b = 5"[..]));
        assert!(words.saw_unterminated_quote());
        assert_eq!(words.next(), None);
        assert_eq!(split(b"'"), [&b""[..]]);
    }

    #[test]
    fn backslash_protects_the_next_byte_and_stays() {
        assert_eq!(split(br"'it\'s' x"), [&br"it\'s"[..], b"x"]);
        assert_eq!(split(br"a\ b c"), [&br"a\ b"[..], b"c"]);
        assert_eq!(split(br"a\=b"), [&br"a\=b"[..]]);
        assert_eq!(split(br"trailing\"), [&br"trailing\"[..]]);
        assert_eq!(split(b"'q\\"), [&b"q\\"[..]]);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split(b"SET a\0b = 5"), [&b"SET"[..], b"a"]);
        assert_eq!(split(b"'a\0b' c"), [&b"a"[..]]);
        assert_eq!(split(b"a\\\0b"), [&b"a\\"[..]]);
        assert!(split(b"\0SET x").is_empty());
    }

    #[test]
    fn words_are_bytes() {
        assert_eq!(
            split("SET 'température' = 42".as_bytes()),
            [&b"SET"[..], "température".as_bytes(), b"42"]
        );
        assert_eq!(split(b"\xff\xfe x"), [&b"\xff\xfe"[..], b"x"]);
    }

    #[test]
    fn remainder_resplits_to_the_same_words() {
        let line = b"LABEL k 1 'a b'  \"c\" d\\ e 'f";
        let mut words = Words::new(line);
        words.by_ref().take(3).for_each(drop);
        let rest = words.remainder();
        assert_eq!(rest, &b"'a b'  \"c\" d\\ e 'f"[..]);
        let direct: Vec<&[u8]> = words.collect();
        assert_eq!(split(rest), direct);
        let mut done = Words::new(b"a  ");
        done.next();
        assert_eq!(done.remainder(), b"");
        let mut nul = Words::new(b"a \0b");
        nul.next();
        assert_eq!(nul.remainder(), b"");
    }

    #[test]
    fn word_array_caps_and_flags() {
        let mut line = Vec::new();
        for i in 0..(MAX_WORDS + 5) {
            line.extend_from_slice(format!("w{i} ").as_bytes());
        }
        let words = WordArray::split(&line);
        assert_eq!(words.len(), MAX_WORDS);
        assert!(words.truncated());
        assert_eq!(words.get(MAX_WORDS - 1), Some(&b"w31"[..]));
        let exact = WordArray::split(b"a b");
        assert!(!exact.truncated());
        assert!(!exact.is_empty());
        assert!(WordArray::split(b"x 'y").unterminated_quote());
        assert!(WordArray::split(b" ").is_empty());
    }
}
