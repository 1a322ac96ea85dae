//! Properties of the statsd reader: arbitrary bytes never panic and give
//! trimmed, non-empty names; well-formed lines read back what was written;
//! the number readers agree with Rust's parsers on well-formed numbers;
//! framing a TCP stream does not depend on how it was cut.

use proptest::prelude::*;
use wire::statsd::{
    lines, parse_float_prefix, parse_int_prefix, read_line, split_complete, MetricType, Update,
};

fn statsd_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        2 => Just(b':'),
        2 => Just(b'|'),
        1 => Just(b'@'),
        1 => Just(b'#'),
        1 => Just(b'='),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        1 => Just(b' '),
        1 => Just(0u8),
        3 => b'0'..=b'9',
        2 => prop_oneof![Just(b'g'), Just(b'c'), Just(b'm'), Just(b's'), Just(b'h'), Just(b'd')],
    ];
    proptest::collection::vec(byte, 0..max_len)
}

fn type_field() -> impl Strategy<Value = (&'static str, MetricType)> {
    prop_oneof![
        Just(("g", MetricType::Gauge)),
        Just(("c", MetricType::Counter)),
        Just(("m", MetricType::Meter)),
        Just(("ms", MetricType::Timer)),
        Just(("h", MetricType::Histogram)),
        Just(("s", MetricType::Set)),
        Just(("d", MetricType::Dictionary)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(packet in statsd_bytes(300)) {
        for raw in lines(&packet) {
            prop_assert!(!raw.name.is_empty());
            prop_assert!(!raw.name.contains(&b'\n') && !raw.name.contains(&0));
            prop_assert!(!raw.name.starts_with(b" ") && !raw.name.ends_with(b" "));
            let _ = read_line(&raw);
        }
    }

    #[test]
    fn well_formed_lines_read_back(
        names in proptest::collection::vec("[a-z][a-z0-9._]{0,15}", 1..5),
        value in 1i64..1_000_000,
        (field, t) in type_field(),
        rate_tenths in 1u32..=10,
    ) {
        let rate = f64::from(rate_tenths) / 10.0;
        let packet: String = names
            .iter()
            .map(|n| format!("{n}:{value}|{field}|@{rate}|#k:v\n"))
            .collect();
        let read: Vec<_> = lines(packet.as_bytes()).collect();
        prop_assert_eq!(read.len(), names.len());
        for (raw, name) in read.iter().zip(&names) {
            prop_assert_eq!(raw.name, name.as_bytes());
            let line = read_line(raw).expect("well formed");
            prop_assert_eq!(line.metric_type, t);
            prop_assert_eq!(line.tags, Some(&b"k:v"[..]));
            prop_assert!(!line.excess);
            let v = value as f64;
            let expected = match t {
                MetricType::Gauge => Update::GaugeSet(v),
                MetricType::Counter | MetricType::Meter => {
                    Update::Count((v / rate).round_ties_even() as i64)
                }
                MetricType::Timer | MetricType::Histogram => Update::Sample {
                    value: v,
                    times: (1.0 / rate).round_ties_even() as u32,
                },
                MetricType::Set | MetricType::Dictionary => {
                    Update::Member(value.to_string().into_bytes().leak())
                }
            };
            prop_assert_eq!(line.update, expected);
        }
    }

    #[test]
    fn numbers_agree_with_rust(x in any::<i64>(), f in -1e12f64..1e12) {
        prop_assert_eq!(parse_int_prefix(x.to_string().as_bytes()), (x, false));
        let text = format!("{f}");
        prop_assert_eq!(parse_float_prefix(text.as_bytes()), (f, false));
        let mut with_tail = text.clone().into_bytes();
        with_tail.extend_from_slice(b"xyz");
        prop_assert_eq!(parse_float_prefix(&with_tail), (f, true));
    }

    #[test]
    fn tcp_framing_is_cut_independent(stream in statsd_bytes(400), cuts in proptest::collection::vec(1usize..50, 1..20)) {
        // A NUL ends a packet, so it would end a TCP read early: streams
        // here have none.
        let stream: Vec<u8> = stream.into_iter().map(|b| if b == 0 { b'x' } else { b }).collect();
        // Whole lines as one buffer.
        let (whole, _) = split_complete(&stream);
        let want: Vec<Vec<u8>> = lines(whole).map(|r| r.name.to_vec()).collect();
        // The same stream arriving in pieces, framed as the server frames it.
        let mut pending: Vec<u8> = Vec::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut rest = &stream[..];
        let mut sizes = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).min(rest.len());
            let (piece, tail) = rest.split_at(n);
            rest = tail;
            pending.extend_from_slice(piece);
            let (complete, incomplete) = split_complete(&pending);
            got.extend(lines(complete).map(|r| r.name.to_vec()));
            pending = incomplete.to_vec();
        }
        prop_assert_eq!(got, want);
    }
}
