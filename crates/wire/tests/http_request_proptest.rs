//! Properties of the request-head parser: nothing panics on any bytes, the
//! resumable scanner finds the same end however the bytes arrive, every
//! prefix of a valid head is "incomplete", a valid head parses back to what
//! was written, and nothing past the limit is ever accepted.

use proptest::prelude::*;
use wire::http_request::{
    find_head_end, parse_head, percent_decode, HeadError, HeadScanner, Version,
};

/// Bytes biased towards what matters to the parser.
fn head_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        3 => Just(b'\n'),
        3 => Just(b'\r'),
        2 => Just(b' '),
        1 => Just(b':'),
        1 => Just(b'%'),
        1 => Just(b'?'),
        2 => b'A'..=b'Z',
    ];
    proptest::collection::vec(byte, 0..max_len)
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}"
}

/// A valid head and the pieces it was made of.
#[derive(Debug, Clone)]
struct Made {
    bytes: Vec<u8>,
    method: String,
    target: Vec<u8>,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
}

fn made_head() -> impl Strategy<Value = Made> {
    let target = proptest::collection::vec(
        prop_oneof![8 => 0x21u8..0x7f, 1 => Just(b' '), 1 => 0x80u8..=0xff],
        1..60,
    )
    .prop_filter("targets start with a non-blank", |t| t[0] != b' ');
    let value = proptest::collection::vec(
        prop_oneof![8 => 0x21u8..0x7f, 1 => Just(b' '), 1 => Just(b'\t')],
        0..30,
    )
    .prop_map(|v| {
        // Blanks around a value are not part of it.
        let trimmed: &[u8] = {
            let start = v.iter().position(|b| !matches!(b, b' ' | b'\t'));
            let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
            match (start, end) {
                (Some(s), Some(e)) => &v[s..=e],
                _ => &[],
            }
        };
        trimmed.to_vec()
    });
    (
        token(),
        target,
        any::<bool>(),
        proptest::collection::vec((token(), value), 0..8),
        any::<bool>(),
    )
        .prop_map(|(method, target, http11, headers, crlf)| {
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let version = if http11 {
                Version::Http11
            } else {
                Version::Http10
            };
            let mut bytes = method.as_bytes().to_vec();
            bytes.push(b' ');
            bytes.extend_from_slice(&target);
            bytes.push(b' ');
            bytes.extend_from_slice(version.as_str().as_bytes());
            bytes.extend_from_slice(eol);
            for (name, value) in &headers {
                bytes.extend_from_slice(name.as_bytes());
                bytes.extend_from_slice(b": ");
                bytes.extend_from_slice(value);
                bytes.extend_from_slice(eol);
            }
            bytes.extend_from_slice(eol);
            Made {
                bytes,
                method,
                target,
                version,
                headers,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic_and_respect_the_limit(
        bytes in head_bytes(600),
        limit in 1usize..700,
    ) {
        match parse_head(&bytes, limit) {
            Ok(Some((_, len))) => {
                prop_assert!(len <= limit);
                prop_assert!(len <= bytes.len());
            }
            Ok(None) => {
                prop_assert!(bytes.len() <= limit);
                prop_assert_eq!(find_head_end(&bytes), None);
            }
            Err(HeadError::TooLarge { .. }) => {
                let end = find_head_end(&bytes);
                prop_assert!(end.is_none_or(|e| e > limit));
            }
            Err(_) => prop_assert!(find_head_end(&bytes).is_some()),
        }
        let _ = percent_decode(&bytes);
    }

    #[test]
    fn the_scanner_does_not_depend_on_how_bytes_arrive(
        bytes in head_bytes(400),
        cuts in proptest::collection::vec(1usize..16, 1..40),
    ) {
        let whole = find_head_end(&bytes);
        let mut scanner = HeadScanner::default();
        let mut len = 0;
        let mut found = None;
        for cut in cuts.iter().cycle() {
            len = (len + cut).min(bytes.len());
            found = scanner.scan(&bytes[..len]);
            if found.is_some() || len == bytes.len() {
                break;
            }
        }
        prop_assert_eq!(found, whole);
    }

    #[test]
    fn valid_heads_parse_back(made in made_head(), tail in head_bytes(40)) {
        let mut bytes = made.bytes.clone();
        for cut in 0..bytes.len() {
            prop_assert_eq!(parse_head(&bytes[..cut], 1 << 16), Ok(None));
        }
        bytes.extend_from_slice(&tail);
        let (head, len) = parse_head(&bytes, 1 << 16)
            .expect("valid head")
            .expect("complete head");
        prop_assert_eq!(len, made.bytes.len());
        prop_assert_eq!(head.method, made.method.as_str());
        prop_assert_eq!(head.target, &made.target[..]);
        prop_assert_eq!(head.version, made.version);
        let headers: Vec<(String, Vec<u8>)> = head
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect();
        prop_assert_eq!(headers, made.headers);
    }

    #[test]
    fn percent_decoding_inverts_encoding(raw in proptest::collection::vec(1u8..=255, 0..64)) {
        let mut encoded = Vec::new();
        for b in &raw {
            if b.is_ascii_alphanumeric() || *b == b'/' {
                encoded.push(*b);
            } else {
                encoded.extend_from_slice(format!("%{b:02X}").as_bytes());
            }
        }
        prop_assert_eq!(percent_decode(&encoded), Ok(raw));
    }
}
