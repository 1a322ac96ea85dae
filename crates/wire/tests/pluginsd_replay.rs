//! Replays real plugin output through the framer and the parser:
//! `pluginsd/apps.plugin.stdout.txt` (5 s of netdata 1.37's apps.plugin) and
//! the lab plugin (`pluginsd/lab.plugin`, its captured output in
//! `pluginsd/lab.plugin.stdout.txt`, see `pluginsd/README.md`).

use std::collections::BTreeMap;

use wire::pluginsd::{
    parse_line, ChartType, Command, DimensionAlgorithm, LineFramer, ParseError, Verb,
};

const APPS: &[u8] = include_bytes!("pluginsd/apps.plugin.stdout.txt");
const LAB_PLUGIN: &str = include_str!("pluginsd/lab.plugin");
const LAB_OUTPUT: &[u8] = include_bytes!("pluginsd/lab.plugin.stdout.txt");

/// Frames `input` fed in pieces of `chunk` bytes and returns its lines.
fn lines(input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut framer = LineFramer::new();
    let mut lines = Vec::new();
    for piece in input.chunks(chunk) {
        framer.feed(piece, |frame| {
            lines.push(frame.expect("no overlong line").to_vec())
        });
    }
    assert_eq!(framer.finish(), None, "input ends with a newline");
    lines
}

fn verb_counts(lines: &[Vec<u8>]) -> BTreeMap<Verb, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        let command = parse_line(line).unwrap_or_else(|error| {
            panic!("{error}: {}", String::from_utf8_lossy(line));
        });
        let verb = command
            .verb()
            .unwrap_or_else(|| panic!("not a known command: {}", String::from_utf8_lossy(line)));
        *counts.entry(verb).or_default() += 1;
    }
    counts
}

fn parsed(line: &[u8]) -> Command<'_> {
    parse_line(line).expect("parses")
}

#[test]
fn apps_plugin_verb_counts_at_any_chunking() {
    for chunk in [1, 7, 100, 4096, APPS.len()] {
        let lines = lines(APPS, chunk);
        assert_eq!(lines.len(), 1620, "chunk {chunk}");
        let counts = verb_counts(&lines);
        let expected = BTreeMap::from([
            (Verb::Chart, 59),
            (Verb::Dimension, 152),
            (Verb::Begin, 295),
            (Verb::Set, 760),
            (Verb::End, 295),
            (Verb::Variable, 5),
            (Verb::Function, 54),
        ]);
        assert_eq!(counts, expected, "chunk {chunk}");
    }
}

#[test]
fn apps_plugin_fields() {
    let lines = lines(APPS, 4096);

    let Command::Chart(chart) = parsed(&lines[0]) else {
        panic!("first line is a CHART");
    };
    assert_eq!(chart.type_id, b"netdata.apps_cpu");
    assert_eq!(chart.type_part(), b"netdata");
    assert_eq!(chart.id_part(), b"apps_cpu");
    assert_eq!(chart.name, None);
    assert_eq!(chart.title, b"Apps Plugin CPU");
    assert_eq!(chart.units, b"milliseconds/s");
    assert_eq!(chart.family, Some(&b"apps.plugin"[..]));
    assert_eq!(chart.context, Some(&b"netdata.apps_cpu"[..]));
    assert_eq!(chart.chart_type, ChartType::Stacked);
    assert_eq!(chart.priority, 140_000);
    assert_eq!(chart.update_every, Some(1));
    assert_eq!(chart.plugin, None);
    assert_eq!(chart.module, None);

    let Command::Dimension(dimension) = parsed(&lines[1]) else {
        panic!("second line is a DIMENSION");
    };
    assert_eq!(dimension.id, b"user");
    assert_eq!(dimension.name, None);
    assert_eq!(dimension.algorithm, DimensionAlgorithm::Incremental);
    assert_eq!((dimension.multiplier, dimension.divisor), (1, 1000));

    let new_pids = lines
        .iter()
        .find(|line| line.starts_with(b"DIMENSION new_pids"))
        .expect("new_pids");
    let Command::Dimension(dimension) = parsed(new_pids) else {
        panic!()
    };
    assert_eq!(dimension.name, Some(&b"new pids"[..]));

    let mut algorithms = BTreeMap::new();
    let mut microseconds = BTreeMap::new();
    let mut set_sum: i64 = 0;
    let mut set_count = 0;
    let mut functions = 0;
    for line in &lines {
        match parsed(line) {
            Command::Dimension(dimension) => {
                *algorithms.entry(dimension.algorithm.as_str()).or_insert(0) += 1;
            }
            Command::Begin {
                microseconds: value,
                ..
            } => *microseconds.entry(value).or_insert(0) += 1,
            Command::Set {
                value: Some(value), ..
            } => {
                set_sum += value;
                set_count += 1;
            }
            Command::Function {
                global,
                name,
                timeout_seconds,
                help,
            } => {
                assert!(!global);
                assert_eq!(name, b"processes");
                assert_eq!(timeout_seconds, 10);
                assert_eq!(
                    help,
                    b"Detailed information on the currently running processes on this node"
                );
                functions += 1;
            }
            Command::Variable { scope, name, value } => {
                assert_eq!(scope, None);
                assert_eq!(name, b"fdperc");
                assert_eq!(value, 0.0);
            }
            _ => {}
        }
    }
    assert_eq!(
        algorithms,
        BTreeMap::from([("absolute", 144), ("incremental", 8)])
    );
    assert_eq!(
        microseconds,
        BTreeMap::from([
            (None, 59),
            (Some(999_875), 59),
            (Some(999_975), 59),
            (Some(1_000_025), 59),
            (Some(1_000_144), 59),
        ])
    );
    assert_eq!(set_count, 760);
    assert_eq!(set_sum, 10_763_587_050);
    assert_eq!(functions, 54);

    assert_eq!(
        parsed(&lines[lines.len() - 2]),
        Command::Set {
            dimension_id: b"root",
            value: Some(8)
        }
    );
}

/// The protocol lines of lab.plugin's heredoc (`cat <<'H'` ... `H`).
fn lab_heredoc() -> Vec<&'static str> {
    LAB_PLUGIN
        .lines()
        .skip_while(|line| *line != "cat <<'H'")
        .skip(1)
        .take_while(|line| *line != "H")
        .collect()
}

#[test]
fn lab_plugin_heredoc_is_what_it_printed_first() {
    let heredoc = lab_heredoc();
    assert_eq!(heredoc.len(), 12);
    let output = lines(LAB_OUTPUT, 5);
    for (from_script, printed) in heredoc.iter().zip(&output) {
        assert_eq!(from_script.as_bytes(), &printed[..]);
    }
}

#[test]
fn lab_plugin_echo_templates_match_printed_lines() {
    // Every `echo "..."` of the script produced lines starting with the
    // template's text up to its first shell expansion.
    let output = lines(LAB_OUTPUT, 64);
    let templates: Vec<&str> = LAB_PLUGIN
        .lines()
        .filter_map(|line| line.trim().strip_prefix("echo \""))
        .filter_map(|line| line.strip_suffix('"'))
        .collect();
    assert_eq!(templates.len(), 15);
    for template in templates {
        let fixed = template.split('$').next().unwrap_or_default();
        assert!(
            output.iter().any(|line| line.starts_with(fixed.as_bytes())),
            "{template}"
        );
    }
}

#[test]
fn lab_plugin_header_fields() {
    let heredoc = lab_heredoc();
    let commands: Vec<Command<'_>> = heredoc.iter().map(|line| parsed(line.as_bytes())).collect();

    let Command::Chart(weird) = commands[0] else {
        panic!()
    };
    assert_eq!(weird.type_id, b"lab.weird_chart");
    assert_eq!(weird.name, Some(&b"Weird Name/with space"[..]));
    assert_eq!(weird.title, b"Lab sanitization test");
    assert_eq!(weird.units, b"units");
    assert_eq!(weird.family, Some(&b"fam"[..]));
    assert_eq!(weird.context, Some(&b"lab.ctx"[..]));
    assert_eq!(weird.chart_type, ChartType::Line);
    assert_eq!(weird.priority, 90_000);
    assert_eq!(weird.update_every, Some(1));

    let dimensions: Vec<_> = commands
        .iter()
        .filter_map(|command| match command {
            Command::Dimension(dimension) => Some(*dimension),
            _ => None,
        })
        .collect();
    assert_eq!(dimensions.len(), 9);
    assert_eq!(dimensions[0].id, b"dim.with.dots");
    assert_eq!(dimensions[0].name, Some(&b"dim name/with slash"[..]));
    assert_eq!(dimensions[1].name, Some(&b"Dim-Upper;semi~tilde"[..]));
    assert_eq!(dimensions[1].divisor, 3);
    assert_eq!(dimensions[2].id, b"negative");
    assert_eq!(dimensions[2].name, None);
    assert_eq!(dimensions[2].multiplier, -1);
    assert_eq!(dimensions[4].divisor, 1000);
    assert_eq!(dimensions[5].id, "température".as_bytes());
    assert_eq!(dimensions[5].name, Some("naïve name".as_bytes()));
    assert_eq!(dimensions[6].id, b"a b");
    assert_eq!(dimensions[7].algorithm, DimensionAlgorithm::Incremental);

    let Command::Chart(spaced) = commands[7] else {
        panic!()
    };
    assert_eq!(spaced.type_id, b"lab.id with spaces/and:colon");
    assert_eq!(spaced.id_part(), b"id with spaces/and:colon");
    assert_eq!(spaced.name, None);
    assert_eq!(spaced.family, None);
    assert_eq!(spaced.context, None);
    assert_eq!(spaced.priority, 90_001);

    let Command::Chart(slow) = commands[9] else {
        panic!()
    };
    assert_eq!(slow.type_id, b"lab.slow");
    assert_eq!(slow.update_every, Some(5));
}

#[test]
fn lab_plugin_output_counts_and_values() {
    let output = lines(LAB_OUTPUT, 3);
    let counts = verb_counts(&output);
    assert_eq!(
        counts,
        BTreeMap::from([
            (Verb::Chart, 3),
            (Verb::Dimension, 9),
            (Verb::Begin, 11),
            (Verb::Set, 37),
            (Verb::End, 11),
        ])
    );
    let sets: Vec<(&[u8], Option<i64>)> = output
        .iter()
        .filter_map(|line| match parsed(line) {
            Command::Set {
                dimension_id,
                value,
            } => Some((dimension_id, value)),
            _ => None,
        })
        .collect();
    assert!(sets.contains(&(&b"big"[..], Some(123_456_789_012_345))));
    assert!(sets.contains(&("température".as_bytes(), Some(42))));
    assert!(sets.contains(&(&b"a b"[..], Some(1))));
    assert!(sets.contains(&(&b"counter"[..], Some(250))));
    assert!(sets.contains(&(&b"UPPER-case"[..], Some(36))));
    let begins: Vec<&[u8]> = output
        .iter()
        .filter_map(|line| match parsed(line) {
            Command::Begin { chart_id, .. } => Some(chart_id),
            _ => None,
        })
        .collect();
    assert_eq!(begins[1], b"lab.id with spaces/and:colon");
}

#[test]
fn replay_never_errors() {
    for input in [APPS, LAB_OUTPUT] {
        for line in lines(input, 512) {
            let result: Result<Command<'_>, ParseError> = parse_line(&line);
            assert!(result.is_ok());
        }
    }
}
