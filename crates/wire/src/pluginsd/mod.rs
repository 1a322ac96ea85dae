//! The netdata plugins.d text protocol: line framing and command parsing.
//!
//! An external plugin writes one command per line on its stdout. Reading it
//! is split in three layers, each pure (no I/O, no allocation per line):
//!
//! | file | owns |
//! | --- | --- |
//! | [`framer`] | [`LineFramer`]: bytes as they arrive from a pipe → complete lines, with a bounded line length |
//! | [`words`] | [`Words`] / [`WordArray`]: netdata's tokenizer (separators, quotes, backslashes) |
//! | [`command`] | [`parse_line`]: one line → one [`Command`] borrowing from the line |
//! | [`fast_path`] | the fast paths for `SET`, `BEGIN` and `END` lines used by [`parse_line`] |
//! | [`c_numbers`] | numbers parsed the way netdata's C code parses them (`strtoll`, `str2l`, ...) |
//! | [`error`] | [`ParseError`], [`FrameError`] and [`TextPreview`] (truncated offending text for logs) |
//!
//! ```
//! use wire::pluginsd::{parse_line, Command, LineFramer};
//!
//! let mut framer = LineFramer::new();
//! let mut sets = 0;
//! framer.feed(b"BEGIN system.cpu\nSET user = 12\nSET system = 3\nEND\n", |frame| {
//!     let line = frame.expect("short lines");
//!     if let Ok(Command::Set { .. }) = parse_line(line) {
//!         sets += 1;
//!     }
//! });
//! assert_eq!(sets, 2);
//! ```
//!
//! The protocol facts this follows are those of netdata 1.37 (the reference
//! version of this project); each deviation is written down where it is made.

pub mod c_numbers;
pub mod command;
pub mod error;
pub mod fast_path;
pub mod framer;
mod swar;
pub mod words;

pub use command::{
    parse_line, Chart, ChartOptions, ChartType, Command, Dimension, DimensionAlgorithm,
    DimensionOptions, LabelValue, ReplayRange, VariableScope, Verb,
};
pub use error::{FrameError, ParseError, TextPreview};
pub use framer::{LineFramer, DEFAULT_MAX_LINE_LEN, DEFAULT_READ_CHUNK};
pub use words::{is_separator, WordArray, Words, MAX_WORDS};
