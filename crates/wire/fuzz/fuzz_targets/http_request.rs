//! Fuzz target: arbitrary bytes through the web server's request-head
//! parser (`wire::http_request`).
//!
//! Run (from `crates/wire/fuzz`; see `pluginsd.rs` for why
//! `RUSTC_BOOTSTRAP=1` and `--sanitizer none`):
//!
//! ```text
//! RUSTC_BOOTSTRAP=1 cargo fuzz run http_request --sanitizer none \
//!     corpus/http_request ../tests/http_request -- -dict=http_request.dict -max_total_time=20
//! ```
//!
//! Seeds: the request heads in `crates/wire/tests/http_request/`.
//!
//! Checks, besides "never panics":
//! - a head is never accepted beyond the limit, nor longer than the input;
//! - "incomplete" only while no head end is in the input and the input is
//!   within the limit;
//! - the resumable scanner finds the same end however the input is cut;
//! - a parsed head's target has no control character and its method is a
//!   non-empty token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::http_request::{
    accepts_gzip, find_head_end, parse_head, percent_decode, HeadError, HeadScanner,
};

fuzz_target!(|data: &[u8]| {
    let (settings, input) = data.split_at(data.len().min(2));
    let limit = usize::from(settings.first().copied().unwrap_or(255)) * 8 + 1;
    let step = usize::from(settings.get(1).copied().unwrap_or(0)) % 17 + 1;

    let whole = find_head_end(input);
    let mut scanner = HeadScanner::default();
    let mut len = 0;
    let mut found = None;
    while found.is_none() && len < input.len() {
        len = (len + step).min(input.len());
        found = scanner.scan(&input[..len]);
    }
    assert_eq!(found, whole, "the scanner must not depend on how input is cut");

    match parse_head(input, limit) {
        Ok(Some((head, len))) => {
            assert!(len <= limit && len <= input.len());
            assert_eq!(Some(len), whole);
            assert!(!head.method.is_empty());
            assert!(!head.target.is_empty());
            assert!(head.target.iter().all(|&b| b >= 0x20 && b != 0x7f));
            let (path, _query) = head.path_and_query();
            let _ = percent_decode(path);
            let _ = head.keep_alive();
            let _ = head.has_body();
            let _ = head.accepts_gzip();
        }
        Ok(None) => {
            assert!(input.len() <= limit);
            assert_eq!(whole, None);
        }
        Err(HeadError::TooLarge { .. }) => assert!(whole.is_none_or(|end| end > limit)),
        Err(_) => assert!(whole.is_some_and(|end| end <= limit)),
    }
    let _ = accepts_gzip(input);
});
