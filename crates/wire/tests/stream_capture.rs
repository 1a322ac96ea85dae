//! The stream-only plugins.d commands and netdata's stream compression,
//! on real captures of a netdata 1.37.1 child streaming to a 1.37.1 parent
//! (`stream/`, see its README): every line the child sent parses to a known
//! command, selected lines parse to exactly what netdata meant, and the
//! compressed capture decodes to the same kinds of commands.

use std::collections::BTreeMap;

use wire::pluginsd::{parse_line, Command, LineFramer, ReplayRange, Verb};
use wire::stream_compression::StreamDecompressor;

const PLAIN: &[u8] = include_bytes!("stream/stream_capture_child_to_parent.txt");
const COMPRESSED: &[u8] = include_bytes!("stream/stream_capture_compressed.bin");

/// Who sent a section of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Child,
    Parent,
}

/// The capture's sections, in order; a section cut by the end of the
/// capture is returned as far as it goes.
fn sections(capture: &[u8]) -> Vec<(Side, &[u8])> {
    let mut sections = Vec::new();
    let mut rest = capture;
    while !rest.is_empty() {
        let newline = rest
            .iter()
            .position(|&b| b == b'\n')
            .expect("a header line");
        let header = std::str::from_utf8(&rest[..newline]).expect("ASCII header");
        let mut fields = header.split(' ');
        let side = match fields.next() {
            Some(">>CHILD") => Side::Child,
            Some("<<PARENT") => Side::Parent,
            other => panic!("bad section header {other:?}"),
        };
        let len: usize = fields
            .nth(1)
            .expect("a byte count")
            .parse()
            .expect("a number");
        let body = &rest[newline + 1..];
        let len = len.min(body.len());
        sections.push((side, &body[..len]));
        rest = body.get(len + 1..).unwrap_or_default();
    }
    sections
}

/// The lines of a byte stream (the last, unterminated one left out).
fn lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut framer = LineFramer::new();
    let mut lines = Vec::new();
    framer.feed(stream, |frame| {
        lines.push(frame.expect("short lines").to_vec())
    });
    lines
}

/// Splits off the handshake (the child's first section, its `STREAM`
/// head; the parent's first section, its answer, which has no newline) and
/// returns both sides' streams after it.
fn streams(sections: &[(Side, &[u8])]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut child: Vec<&[u8]> = Vec::new();
    let mut parent: Vec<&[u8]> = Vec::new();
    for (side, body) in sections {
        match side {
            Side::Child => child.push(body),
            Side::Parent => parent.push(body),
        }
    }
    (
        child[0].to_vec(),
        child[1..].concat(),
        parent[0].to_vec(),
        parent[1..].concat(),
    )
}

fn verb_counts(lines: &[Vec<u8>]) -> BTreeMap<Verb, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        let command = parse_line(line).unwrap_or_else(|error| {
            panic!("{error}: {}", String::from_utf8_lossy(line));
        });
        match command {
            Command::Empty => {}
            command => {
                let verb = command.verb().unwrap_or_else(|| {
                    panic!("not a known command: {}", String::from_utf8_lossy(line))
                });
                *counts.entry(verb).or_default() += 1;
            }
        }
    }
    counts
}

/// The golden check: `line` parses to exactly `expected`.
fn check(line: &[u8], expected: Command<'_>) {
    let parsed = parse_line(line).unwrap_or_else(|error| panic!("{error}"));
    match (&parsed, &expected) {
        // NaN != NaN: compare the rest.
        (
            Command::ReplaySet {
                dimension_id: a,
                value: x,
                flags: f,
            },
            Command::ReplaySet {
                dimension_id: b,
                value: y,
                flags: g,
            },
        ) if x.is_nan() && y.is_nan() => assert_eq!((a, f), (b, g)),
        _ => assert_eq!(parsed, expected, "{}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn the_handshake_is_as_netdata_1_37_sends_it() {
    let (head, _, answer, _) = streams(&sections(PLAIN));
    assert!(
        head.starts_with(b"STREAM key=11111111-2222-3333-4444-555555555555&hostname=child-host&")
    );
    assert!(head.ends_with(b" HTTP/1.1\r\nUser-Agent: netdata/v1.37.1\r\nAccept: */*\r\n\r\n"));
    assert_eq!(
        answer,
        b"Hit me baby, push them over with the version=15296"
    );
    let (_, _, answer, _) = streams(&sections(COMPRESSED));
    assert_eq!(
        answer,
        b"Hit me baby, push them over with the version=16320"
    );
}

#[test]
fn every_line_the_child_sent_is_a_known_command() {
    let (_, child, _, _) = streams(&sections(PLAIN));
    let counts = verb_counts(&lines(&child));
    let expected = BTreeMap::from([
        (Verb::ClaimedId, 1),
        (Verb::Label, 23),
        (Verb::Overwrite, 1),
        (Verb::Chart, 78),
        (Verb::Clabel, 161),
        (Verb::ClabelCommit, 78),
        (Verb::Dimension, 367),
        (Verb::ChartDefinitionEnd, 78),
        (Verb::ReplayBegin, 82),
        (Verb::ReplaySet, 11),
        (Verb::ReplayDimensionState, 367),
        (Verb::ReplayChartState, 78),
        (Verb::ReplayEnd, 78),
        (Verb::Begin, 727),
        (Verb::Set, 3382), // the 3383rd is cut by the end of the capture
        (Verb::End, 726),
    ]);
    assert_eq!(counts, expected);
}

#[test]
fn every_line_the_parent_sent_is_a_replay_request() {
    let (_, _, _, parent) = streams(&sections(PLAIN));
    let counts = verb_counts(&lines(&parent));
    assert_eq!(counts, BTreeMap::from([(Verb::ReplayChart, 78)]));
}

#[test]
fn stream_only_commands_golden() {
    check(
        b"CLAIMED_ID 705216b4-ec79-11f1-9d5c-02fc00000001 NULL",
        Command::ClaimedId {
            machine_guid: b"705216b4-ec79-11f1-9d5c-02fc00000001",
            claim_id: None,
        },
    );
    check(
        b"CLAIMED_ID 705216b4-ec79-11f1-9d5c-02fc00000001 abc",
        Command::ClaimedId {
            machine_guid: b"705216b4-ec79-11f1-9d5c-02fc00000001",
            claim_id: Some(b"abc"),
        },
    );
    check(
        b"CHART_DEFINITION_END 1796014273 1796014274 1796014274",
        Command::ChartDefinitionEnd {
            first_entry: 1796014273,
            last_entry: 1796014274,
            wall_clock: 1796014274,
        },
    );
    check(
        br#"REPLAY_CHART "conf.we ird=id" "true" 1796014272 1796014273"#,
        Command::ReplayChart {
            chart_id: b"conf.we ird=id",
            start_streaming: true,
            after: 1796014272,
            before: 1796014273,
        },
    );
    check(
        br#"REPLAY_CHART "a.b" "false" 0 0"#,
        Command::ReplayChart {
            chart_id: b"a.b",
            start_streaming: false,
            after: 0,
            before: 0,
        },
    );
    check(
        br#"RBEGIN "netdata.server_cpu""#,
        Command::ReplayBegin {
            chart_id: Some(b"netdata.server_cpu"),
            range: None,
        },
    );
    check(
        b"RBEGIN '' 1796014273 1796014274 1796014274",
        Command::ReplayBegin {
            chart_id: None,
            range: Some(ReplayRange {
                start: 1796014273,
                end: 1796014274,
                wall_clock: 1796014274,
            }),
        },
    );
    check(
        br#"RSET "big" 9876543000000.0000000 """#,
        Command::ReplaySet {
            dimension_id: b"big",
            value: 9876543000000.0,
            flags: b"",
        },
    );
    check(
        br#"RSET "neg" -7.0000000 "R""#,
        Command::ReplaySet {
            dimension_id: b"neg",
            value: -7.0,
            flags: b"R",
        },
    );
    check(
        br#"RSET "gap" NAN "E""#,
        Command::ReplaySet {
            dimension_id: b"gap",
            value: f64::NAN,
            flags: b"E",
        },
    );
    check(
        br#"RDSTATE "c10" 1796014274171760 20 2.5568545 7.4431455"#,
        Command::ReplayDimensionState {
            dimension_id: b"c10",
            last_collected_ut: 1796014274171760,
            collected: 20,
            calculated: 2.5568545,
            last_calculated: 7.4431455,
        },
    );
    check(
        b"RSSTATE 1796014274171700 1796014274000000",
        Command::ReplayChartState {
            last_collected_ut: 1796014274171700,
            last_updated_ut: 1796014274000000,
        },
    );
    check(
        b"REND 1 1796014273 1796014274 true 1796014272 1796014274 1796014274",
        Command::ReplayEnd {
            update_every: 1,
            first_entry: 1796014273,
            last_entry: 1796014274,
            start_streaming: true,
            after: 1796014272,
            before: 1796014274,
            wall_clock: 1796014274,
        },
    );
}

#[test]
fn malformed_stream_commands_are_errors_naming_the_field() {
    let error = |line: &[u8]| parse_line(line).unwrap_err().to_string();
    assert_eq!(
        error(b"CHART_DEFINITION_END 1 x 3"),
        "CHART_DEFINITION_END: last_entry 'x' is not a number"
    );
    assert_eq!(error(b"REND 1 2"), "REND: missing last_entry");
    assert_eq!(error(b"RSET"), "RSET: missing dimension id");
    assert_eq!(
        error(b"RSET d 1.5.5"),
        "RSET: value '1.5.5' is not a number"
    );
    assert_eq!(
        error(b"REPLAY_CHART '' true 1 2"),
        "REPLAY_CHART: type.id is empty"
    );
    assert_eq!(error(b"CLAIMED_ID"), "CLAIMED_ID: missing machine_guid");
}

#[test]
fn the_compressed_capture_decodes_to_the_same_kinds_of_commands() {
    let (head, child, _, _) = streams(&sections(COMPRESSED));
    assert!(head.windows(10).any(|w| w == b"&ver=16376"));
    let mut decoder = StreamDecompressor::new();
    let mut plain = Vec::new();
    decoder
        .feed(&child, |bytes| plain.extend_from_slice(bytes))
        .expect("every complete block decodes");
    assert!(decoder.blocks() > 50, "{} blocks", decoder.blocks());
    assert!(
        plain.len() > 3 * child.len(),
        "{} bytes from {}",
        plain.len(),
        child.len()
    );
    let counts = verb_counts(&lines(&plain));
    for verb in [
        Verb::ClaimedId,
        Verb::Label,
        Verb::Overwrite,
        Verb::Chart,
        Verb::Clabel,
        Verb::ClabelCommit,
        Verb::Dimension,
        Verb::ChartDefinitionEnd,
        Verb::ReplayBegin,
        Verb::ReplayDimensionState,
        Verb::ReplayChartState,
        Verb::ReplayEnd,
        Verb::Begin,
        Verb::Set,
        Verb::End,
    ] {
        assert!(
            counts.get(&verb).copied().unwrap_or(0) > 0,
            "no {verb} in {counts:?}"
        );
    }
    assert_eq!(counts[&Verb::Chart], counts[&Verb::ChartDefinitionEnd]);
    assert_eq!(counts[&Verb::ReplayChartState], counts[&Verb::ReplayEnd]);
    assert!(plain.starts_with(b"CLAIMED_ID "));
}
