//! Fuzz target: arbitrary bytes through the statsd reader.
//!
//! Run (stable toolchain, as for the other targets; from `crates/wire/fuzz`):
//!
//! ```text
//! RUSTC_BOOTSTRAP=1 cargo fuzz run statsd --sanitizer none corpus/statsd \
//!     -- -dict=statsd.dict -max_total_time=40
//! ```
//!
//! Checks, besides "never panics":
//! - every line has a non-empty, trimmed name without `\n`;
//! - framing a stream (no NUL) gives the same lines however it is cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::statsd::{lines, read_line, split_complete, TagMeta};

fn names(packet: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for raw in lines(packet) {
        assert!(!raw.name.is_empty());
        assert!(!raw.name.contains(&b'\n'));
        assert!(!raw.name.starts_with(b" ") && !raw.name.ends_with(b" "));
        if let Ok(line) = read_line(&raw) {
            if let Some(tags) = line.tags {
                let mut meta = TagMeta::default();
                meta.absorb(tags);
            }
        }
        out.push(raw.name.to_vec());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (cut, input) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c) + 1, rest),
        None => (1, data),
    };
    let _ = names(input);
    let stream: Vec<u8> = input
        .iter()
        .map(|&b| if b == 0 { b'x' } else { b })
        .collect();
    let (whole, _) = split_complete(&stream);
    let want = names(whole);
    let mut got = Vec::new();
    let mut pending = Vec::new();
    for piece in stream.chunks(cut) {
        pending.extend_from_slice(piece);
        let (complete, rest) = split_complete(&pending);
        got.extend(names(complete));
        pending = rest.to_vec();
    }
    assert_eq!(got, want, "framing must not depend on how input is cut");
});
