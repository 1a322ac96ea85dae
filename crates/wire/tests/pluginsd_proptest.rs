//! Properties of the plugins.d reader on arbitrary input: nothing panics,
//! the framer's memory stays bounded and it yields exactly the lines a
//! naive split would, whatever the chunking.

use proptest::prelude::*;
use wire::pluginsd::{parse_line, FrameError, LineFramer, WordArray, Words, MAX_WORDS};

/// Bytes biased towards the protocol's special characters.
fn protocol_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        2 => Just(b' '),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        1 => Just(b'\''),
        1 => Just(b'"'),
        1 => Just(b'='),
        1 => Just(b'\\'),
        1 => Just(0u8),
        2 => b'0'..=b'9',
    ];
    proptest::collection::vec(byte, 0..max_len)
}

/// Lines made of protocol keywords and awkward words.
fn protocol_line() -> impl Strategy<Value = Vec<u8>> {
    let verb = prop_oneof![
        Just("CHART"),
        Just("DIMENSION"),
        Just("BEGIN"),
        Just("SET"),
        Just("END"),
        Just("FLUSH"),
        Just("DISABLE"),
        Just("VARIABLE"),
        Just("LABEL"),
        Just("OVERWRITE"),
        Just("CLABEL"),
        Just("CLABEL_COMMIT"),
        Just("FUNCTION"),
        Just("FUNCTION_RESULT_BEGIN"),
        Just("GLOBAL"),
        Just("x"),
    ];
    (verb, protocol_bytes(80)).prop_map(|(verb, tail)| {
        let mut line = verb.as_bytes().to_vec();
        line.push(b' ');
        line.extend_from_slice(&tail);
        line
    })
}

/// What a framer must yield for `input`: lines split on `\n`, a `\r` before
/// it removed, lines longer than `limit` reported as overlong, and the last
/// unterminated piece from `finish`.
fn naive_frames(input: &[u8], limit: usize) -> Vec<Result<Vec<u8>, ()>> {
    let mut frames = Vec::new();
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let last = pieces.pop().unwrap_or_default();
    for piece in pieces {
        let line = piece.strip_suffix(b"\r").unwrap_or(piece);
        frames.push(if line.len() > limit {
            Err(())
        } else {
            Ok(line.to_vec())
        });
    }
    if !last.is_empty() {
        let line = last.strip_suffix(b"\r").unwrap_or(last);
        frames.push(if line.len() > limit {
            Err(())
        } else {
            Ok(line.to_vec())
        });
    }
    frames
}

fn framed(
    input: &[u8],
    limit: usize,
    read_chunk: usize,
    chunk_sizes: &[usize],
) -> (Vec<Result<Vec<u8>, ()>>, usize) {
    let mut framer = LineFramer::with_limits(limit, read_chunk);
    let capacity = framer.capacity();
    let mut frames = Vec::new();
    let mut most_buffered = 0;
    let mut rest = input;
    let mut sizes = chunk_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(size);
        rest = tail;
        framer.feed(piece, |frame| match frame {
            Ok(line) => frames.push(Ok(line.to_vec())),
            Err(FrameError::Overlong {
                limit: reported, ..
            }) => {
                assert_eq!(reported, limit);
                frames.push(Err(()));
            }
        });
        most_buffered = most_buffered.max(framer.buffered_len());
        assert_eq!(framer.capacity(), capacity, "the buffer never grows");
    }
    if let Some(frame) = framer.finish() {
        frames.push(frame.map(<[u8]>::to_vec).map_err(|_| ()));
    }
    (frames, most_buffered)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_line_never_panics(line in protocol_bytes(200)) {
        let _ = parse_line(&line);
        let words = WordArray::split(&line);
        prop_assert!(words.len() <= MAX_WORDS);
    }

    #[test]
    fn parse_protocol_lines_never_panics(line in protocol_line()) {
        if let Ok(command) = parse_line(&line) {
            // Everything borrowed lies inside the line.
            let debug = format!("{command:?}");
            prop_assert!(!debug.is_empty());
        }
    }

    #[test]
    fn words_are_subslices_and_never_contain_unquoted_separators(line in protocol_bytes(120)) {
        let range = line.as_ptr_range();
        for word in Words::new(&line) {
            let inside = word.is_empty()
                || (range.start <= word.as_ptr() && word.as_ptr_range().end <= range.end);
            prop_assert!(inside);
        }
    }

    #[test]
    fn framer_matches_naive_split_and_stays_bounded(
        input in protocol_bytes(600),
        limit in 0usize..40,
        read_chunk in 1usize..50,
        chunk_sizes in proptest::collection::vec(1usize..70, 1..8),
    ) {
        let (frames, most_buffered) = framed(&input, limit, read_chunk, &chunk_sizes);
        prop_assert_eq!(frames, naive_frames(&input, limit));
        prop_assert!(most_buffered <= limit + 1, "buffered {} > limit {} + 1", most_buffered, limit);
    }

    #[test]
    fn framer_survives_lines_without_newlines(
        fill in any::<u8>().prop_filter("not a newline", |b| *b != b'\n'),
        len in 0usize..5000,
        limit in 0usize..100,
    ) {
        let input = vec![fill; len];
        let (frames, most_buffered) = framed(&input, limit, 16, &[97, 13, 512]);
        prop_assert!(frames.len() <= 1);
        prop_assert!(most_buffered <= limit + 1);
    }
}
