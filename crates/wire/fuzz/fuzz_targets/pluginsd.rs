//! Fuzz target: arbitrary bytes through the plugins.d framer and parser.
//!
//! Run (stable toolchain, no nightly here; from `crates/wire/fuzz`):
//!
//! ```text
//! RUSTC_BOOTSTRAP=1 cargo fuzz run pluginsd --sanitizer none \
//!     corpus/pluginsd ../tests/pluginsd -- -dict=pluginsd.dict -max_total_time=40
//! ```
//!
//! `cargo install cargo-fuzz` (0.13) works from the package registry; there is no
//! nightly toolchain here and `RUSTC_BOOTSTRAP=1` lets the stable rustc take
//! the `-Z` flags cargo-fuzz passes. The default AddressSanitizer build works
//! that way too, but is ~2x slower and adds nothing for safe code, hence
//! `--sanitizer none`. cargo-fuzz builds with debug assertions, so integer
//! overflow panics are caught as well. Seeds: the replay fixtures.
//!
//! Checks, besides "never panics":
//! - the framer never holds more than `max_line_len + 1` bytes once it has
//!   asked for more input, and its buffer never grows;
//! - the `SET`/`BEGIN`/`END` fast paths agree with the general parser
//!   whenever they answer;
//! - the framer yields the same lines however the input is cut;
//! - `SET` lines taken in one pass (`LineFramer::next_set_line`) are
//!   exactly the framed lines' `SET`s, in the same order among the others;
//! - the stream decompressor (netdata's LZ4 blocks) never panics, gives the
//!   same bytes however its input is cut, and its output parses as lines
//!   (stream commands included) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::pluginsd::command::parse_line_slow_path;
use wire::pluginsd::fast_path::{try_parse_fast, try_parse_set_fields};
use wire::pluginsd::{parse_line, LineFramer, WordArray};
use wire::stream_compression::StreamDecompressor;

/// What a receiver makes of the lines of `input`: `SET`s of the fast
/// shape as (id, value), other lines as they are, overlong reports as
/// `Err`; with `one_pass`, `SET`s are taken by `next_set_line` first.
#[allow(clippy::type_complexity)]
fn receive_all(
    input: &[u8],
    limit: usize,
    read_chunk: usize,
    one_pass: bool,
) -> Vec<Result<(Vec<u8>, Option<Option<i64>>), ()>> {
    let mut framer = LineFramer::with_limits(limit, read_chunk);
    let mut taken = Vec::new();
    let mut rest = input;
    loop {
        let n = framer.extend(rest);
        rest = &rest[n..];
        loop {
            if one_pass {
                while let Some((id, value)) = framer.next_set_line() {
                    taken.push(Ok((id.to_vec(), Some(value))));
                }
            }
            match framer.next_line() {
                Some(Ok(line)) => taken.push(Ok(match try_parse_set_fields(line) {
                    Some((id, value)) => (id.to_vec(), Some(value)),
                    None => (line.to_vec(), None),
                })),
                Some(Err(_)) => taken.push(Err(())),
                None => break,
            }
        }
        if rest.is_empty() || n == 0 {
            break;
        }
    }
    taken
}

/// Frames `input` cut into pieces of the given sizes (cycled) and returns a
/// fingerprint of every frame, checking invariants on the way.
fn frame_all(
    input: &[u8],
    limit: usize,
    read_chunk: usize,
    cuts: &[u8],
) -> Vec<Result<Vec<u8>, ()>> {
    let mut framer = LineFramer::with_limits(limit, read_chunk);
    let capacity = framer.capacity();
    let mut frames = Vec::new();
    let mut rest = input;
    let mut cut_sizes = cuts.iter().map(|&c| usize::from(c) + 1).cycle();
    while !rest.is_empty() {
        let size = cut_sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(size);
        rest = tail;
        framer.feed(piece, |frame| {
            frames.push(frame.map(<[u8]>::to_vec).map_err(|_| ()));
        });
        assert!(framer.buffered_len() <= limit + 1);
        assert_eq!(framer.capacity(), capacity);
    }
    if let Some(frame) = framer.finish() {
        frames.push(frame.map(<[u8]>::to_vec).map_err(|_| ()));
    }
    frames
}

fuzz_target!(|data: &[u8]| {
    let (settings, input) = data.split_at(data.len().min(4));
    let limit = usize::from(settings.first().copied().unwrap_or(64)) * 4;
    let read_chunk = usize::from(settings.get(1).copied().unwrap_or(16)) + 1;
    let cuts = settings.get(2..).unwrap_or_default();

    let frames = frame_all(
        input,
        limit,
        read_chunk,
        if cuts.is_empty() { &[255] } else { cuts },
    );
    let whole = frame_all(input, limit, read_chunk, &[255]);
    assert_eq!(frames, whole, "framing must not depend on how input is cut");
    assert_eq!(
        receive_all(input, limit, read_chunk, true),
        receive_all(input, limit, read_chunk, false),
        "SET lines taken in one pass must be the framed lines"
    );

    for line in frames.iter().flatten() {
        let parsed = parse_line(line);
        if let Some(fast) = try_parse_fast(line) {
            assert_eq!(Ok(fast), parse_line_slow_path(line));
        }
        if let Some((dimension_id, value)) = try_parse_set_fields(line) {
            assert_eq!(
                Ok(wire::pluginsd::Command::Set {
                    dimension_id,
                    value
                }),
                parse_line_slow_path(line)
            );
        }
        let _ = parsed.map(|command| command.verb());
        let _ = WordArray::split(line);
    }
    // Whole input as one line, too (parse_line accepts embedded newlines).
    let _ = parse_line(input);

    // The same input as a compressed stream, whole and cut.
    let decompress = |cut: usize| {
        let mut decoder = StreamDecompressor::new();
        let mut out = Vec::new();
        let mut failed = false;
        for piece in input.chunks(cut.max(1)) {
            if decoder
                .feed(piece, |bytes| out.extend_from_slice(bytes))
                .is_err()
            {
                failed = true;
                break;
            }
        }
        (out, failed)
    };
    let (whole, whole_failed) = decompress(input.len());
    let cut = usize::from(settings.get(2).copied().unwrap_or(7)) + 1;
    let (pieces, pieces_failed) = decompress(cut);
    assert_eq!(whole_failed, pieces_failed);
    assert_eq!(whole, pieces, "decompression must not depend on how input is cut");
    for line in whole.split(|&b| b == b'\n') {
        let _ = parse_line(line).map(|command| command.verb());
    }
});
