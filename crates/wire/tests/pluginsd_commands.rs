//! Every plugins.d verb through the public API: fields, defaults, quoting,
//! numeric edge cases, bytes that are not UTF-8, and error messages.

use wire::pluginsd::{
    parse_line, ChartOptions, ChartType, Command, DimensionAlgorithm, DimensionOptions, ParseError,
    VariableScope, Verb,
};

fn ok(line: &[u8]) -> Command<'_> {
    parse_line(line).unwrap_or_else(|error| panic!("{error}"))
}

fn err(line: &[u8]) -> ParseError {
    match parse_line(line) {
        Err(error) => error,
        Ok(command) => panic!("parsed as {command:?}"),
    }
}

fn set(id: &[u8], value: Option<i64>) -> Command<'_> {
    Command::Set {
        dimension_id: id,
        value,
    }
}

#[test]
fn chart_all_fields() {
    let Command::Chart(chart) = ok(
        b"CHART disk.sda 'sda name' \"Disk I/O\" 'KiB/s' io disk.io area 2000 5 'obsolete detail hidden store_first' proc.plugin diskstats",
    ) else {
        panic!()
    };
    assert_eq!(chart.type_id, b"disk.sda");
    assert_eq!(chart.name, Some(&b"sda name"[..]));
    assert_eq!(chart.title, b"Disk I/O");
    assert_eq!(chart.units, b"KiB/s");
    assert_eq!(chart.family, Some(&b"io"[..]));
    assert_eq!(chart.context, Some(&b"disk.io"[..]));
    assert_eq!(chart.chart_type, ChartType::Area);
    assert_eq!(chart.priority, 2000);
    assert_eq!(chart.update_every, Some(5));
    assert_eq!(
        chart.options,
        ChartOptions {
            obsolete: true,
            detail: true,
            hidden: true,
            store_first: true
        }
    );
    assert_eq!(chart.plugin, Some(&b"proc.plugin"[..]));
    assert_eq!(chart.module, Some(&b"diskstats"[..]));
}

#[test]
fn chart_defaults() {
    let Command::Chart(chart) = ok(b"CHART a.b") else {
        panic!()
    };
    assert_eq!(chart.name, None);
    assert_eq!(chart.title, b"");
    assert_eq!(chart.units, b"unknown");
    assert_eq!(chart.family, None);
    assert_eq!(chart.context, None);
    assert_eq!(chart.chart_type, ChartType::Line);
    assert_eq!(chart.priority, 1000);
    assert_eq!(chart.update_every, None);
    assert_eq!(chart.options, ChartOptions::default());
    assert_eq!(chart.plugin, None);
    assert_eq!(chart.module, None);

    let Command::Chart(empty) = ok(b"CHART a.b '' '' '' '' '' '' '' '' '' '' ''") else {
        panic!()
    };
    assert_eq!(empty.units, b"", "an empty units field stays empty");
    assert_eq!(empty.priority, 1000);
    assert_eq!(empty.update_every, None);
    assert_eq!(empty.chart_type, ChartType::Line);

    let Command::Chart(odd) = ok(b"CHART a.b x t u f c pie -3 -1") else {
        panic!()
    };
    assert_eq!(odd.chart_type, ChartType::Line);
    assert_eq!(odd.priority, -3);
    assert_eq!(odd.update_every, None);
    let Command::Chart(zero) = ok(b"CHART a.b x t u f c stacked 10x 0") else {
        panic!()
    };
    assert_eq!(zero.chart_type, ChartType::Stacked);
    assert_eq!(zero.priority, 10);
    assert_eq!(zero.update_every, None);
}

#[test]
fn chart_name_cleanup() {
    let name = |line: &'static [u8]| match ok(line) {
        Command::Chart(chart) => chart.name,
        other => panic!("{other:?}"),
    };
    assert_eq!(name(b"CHART a.b b"), None, "same as the id part");
    assert_eq!(
        name(b"CHART a.b a.b"),
        None,
        "type. prefix removed, then same"
    );
    assert_eq!(name(b"CHART a.b a.c"), Some(&b"c"[..]));
    assert_eq!(name(b"CHART a.b null"), None);
    assert_eq!(name(b"CHART a.b '(Null)'"), None);
    assert_eq!(name(b"CHART a.b a."), None);
    assert_eq!(name(b"CHART a.b ab.c"), Some(&b"ab.c"[..]));
    assert_eq!(name(b"CHART a.b.c x"), Some(&b"x"[..]));
}

#[test]
fn chart_id_must_be_type_dot_id() {
    for line in [
        &b"CHART nodot"[..],
        b"CHART .id",
        b"CHART type.",
        b"CHART ''",
        b"CHART .",
    ] {
        assert!(matches!(err(line), ParseError::InvalidChartId { .. }));
    }
    assert_eq!(
        err(b"CHART"),
        ParseError::MissingField {
            verb: Verb::Chart,
            field: "type.id"
        }
    );
    assert_eq!(err(b"CHART").to_string(), "CHART: missing type.id");
    let long = err(&[&b"CHART "[..], &[b'x'; 200]].concat());
    assert!(long.to_string().contains('…'), "{long}");
    assert!(long.netdata_disables_plugin());
}

#[test]
fn dimension_all_fields_and_defaults() {
    let Command::Dimension(dimension) =
        ok(b"DIMENSION rx 'received' percentage-of-absolute-row -8 0x400 'hidden obsolete noreset nooverflow'")
    else {
        panic!()
    };
    assert_eq!(dimension.id, b"rx");
    assert_eq!(dimension.name, Some(&b"received"[..]));
    assert_eq!(
        dimension.algorithm,
        DimensionAlgorithm::PercentageOfAbsoluteRow
    );
    assert_eq!(dimension.multiplier, -8);
    assert_eq!(dimension.divisor, 1024);
    assert_eq!(
        dimension.options,
        DimensionOptions {
            obsolete: true,
            hidden: true,
            noreset: true,
            nooverflow: true
        }
    );

    let Command::Dimension(defaults) = ok(b"DIMENSION x") else {
        panic!()
    };
    assert_eq!(defaults.name, None);
    assert_eq!(defaults.algorithm, DimensionAlgorithm::Absolute);
    assert_eq!((defaults.multiplier, defaults.divisor), (1, 1));
    assert_eq!(defaults.options, DimensionOptions::default());

    let Command::Dimension(zeros) = ok(b"DIMENSION x '' bogus 0 0 ''") else {
        panic!()
    };
    assert_eq!(zeros.algorithm, DimensionAlgorithm::Absolute);
    assert_eq!((zeros.multiplier, zeros.divisor), (1, 1));

    for (text, algorithm) in [
        ("absolute", DimensionAlgorithm::Absolute),
        ("incremental", DimensionAlgorithm::Incremental),
        (
            "percentage-of-absolute-row",
            DimensionAlgorithm::PercentageOfAbsoluteRow,
        ),
        (
            "percentage-of-incremental-row",
            DimensionAlgorithm::PercentageOfIncrementalRow,
        ),
        ("INCREMENTAL", DimensionAlgorithm::Absolute),
    ] {
        let line = format!("DIMENSION x x {text}");
        let Command::Dimension(dimension) = ok(line.as_bytes()) else {
            panic!()
        };
        assert_eq!(dimension.algorithm, algorithm, "{text}");
        if algorithm != DimensionAlgorithm::Absolute || text == "absolute" {
            assert_eq!(algorithm.as_str(), text);
        }
    }

    assert_eq!(err(b"DIMENSION").to_string(), "DIMENSION: missing id");
    assert_eq!(err(b"DIMENSION ''").to_string(), "DIMENSION: id is empty");
}

#[test]
fn begin_microseconds() {
    let begin = |line: &'static [u8]| match ok(line) {
        Command::Begin {
            chart_id,
            microseconds,
        } => (chart_id, microseconds),
        other => panic!("{other:?}"),
    };
    assert_eq!(begin(b"BEGIN a.b"), (&b"a.b"[..], None));
    assert_eq!(begin(b"BEGIN a.b 0"), (&b"a.b"[..], None));
    assert_eq!(begin(b"BEGIN a.b ''"), (&b"a.b"[..], None));
    assert_eq!(begin(b"BEGIN a.b 1000025"), (&b"a.b"[..], Some(1_000_025)));
    assert_eq!(begin(b"BEGIN a.b 12abc"), (&b"a.b"[..], Some(12)));
    assert_eq!(begin(b"BEGIN a.b -5"), (&b"a.b"[..], None));
    assert_eq!(begin(b"BEGIN 'a b.c'"), (&b"a b.c"[..], None));
    assert_eq!(err(b"BEGIN").to_string(), "BEGIN: missing type.id");
    assert!(err(b"BEGIN ''").netdata_disables_plugin());
}

#[test]
fn set_values() {
    assert_eq!(ok(b"SET x = 5"), set(b"x", Some(5)));
    assert_eq!(ok(b"SET x 5"), set(b"x", Some(5)));
    assert_eq!(ok(b"SET x=5"), set(b"x", Some(5)));
    assert_eq!(ok(b"SET x = "), set(b"x", None));
    assert_eq!(ok(b"SET x ="), set(b"x", None));
    assert_eq!(ok(b"SET x"), set(b"x", None));
    assert_eq!(ok(b"SET x = ''"), set(b"x", None));
    assert_eq!(ok(b"SET x = -17"), set(b"x", Some(-17)));
    assert_eq!(ok(b"SET x = +17"), set(b"x", Some(17)));
    assert_eq!(ok(b"SET x = 0"), set(b"x", Some(0)));
    assert_eq!(ok(b"SET x = -0"), set(b"x", Some(0)));
    assert_eq!(ok(b"SET x = 12.99"), set(b"x", Some(12)));
    assert_eq!(ok(b"SET x = 1e9"), set(b"x", Some(1)));
    assert_eq!(ok(b"SET x = 0x1f"), set(b"x", Some(31)));
    assert_eq!(ok(b"SET x = 017"), set(b"x", Some(15)));
    assert_eq!(ok(b"SET x = 09"), set(b"x", Some(0)));
    assert_eq!(ok(b"SET x = abc"), set(b"x", Some(0)));
    assert_eq!(ok(b"SET x = '42'"), set(b"x", Some(42)));
    assert_eq!(ok(b"SET x = ' 42'"), set(b"x", Some(42)));
    assert_eq!(
        ok(b"SET x = 9223372036854775807"),
        set(b"x", Some(i64::MAX))
    );
    assert_eq!(
        ok(b"SET x = 9223372036854775808"),
        set(b"x", Some(i64::MAX))
    );
    assert_eq!(
        ok(b"SET x = -9223372036854775808"),
        set(b"x", Some(i64::MIN))
    );
    assert_eq!(
        ok(b"SET x = -99999999999999999999999"),
        set(b"x", Some(i64::MIN))
    );
    assert_eq!(ok(b"SET x = 5 extra words"), set(b"x", Some(5)));
    assert_eq!(ok(b"SET x = 5\r"), set(b"x", Some(5)));
    assert_eq!(ok(b"SET x = 5\r\n"), set(b"x", Some(5)));
    assert_eq!(ok(b"  SET\tx\t=\t5"), set(b"x", Some(5)));
    assert_eq!(ok(b"'SET' x = 5"), set(b"x", Some(5)));
    assert_eq!(err(b"SET").to_string(), "SET: missing dimension id");
    assert_eq!(err(b"SET '' = 1").to_string(), "SET: dimension id is empty");
    assert!(err(b"SET").netdata_disables_plugin());
}

/// netdata reads SET values with `strtoll(value, NULL, 0)`: hexadecimal
/// values of 2^64 and more saturate at `i64::MAX` / `i64::MIN` like any
/// other out-of-range value (they overflow 64 bits before the sign is
/// applied, so they must not wrap to a small number).
#[test]
fn set_hex_values_of_2_pow_64_and_beyond_saturate() {
    let cases: &[(&[u8], i64)] = &[
        (b"SET x = 0xffffffffffffffff", i64::MAX),
        (b"SET x = -0xffffffffffffffff", i64::MIN),
        (b"SET x = 0x10000000000000000", i64::MAX),
        (b"SET x = -0x10000000000000000", i64::MIN),
        (b"SET x = 0x10000000000000001", i64::MAX),
        (b"SET x = -0x10000000000000001", i64::MIN),
        (b"SET x = 0X1FFFFFFFFFFFFFFFF", i64::MAX),
        (b"SET x = -0X1FFFFFFFFFFFFFFFF", i64::MIN),
        (b"SET x 0x100000000000000000000000000000000", i64::MAX),
        (b"SET x -0x100000000000000000000000000000000", i64::MIN),
        (b"SET x = '0x10000000000000000'", i64::MAX),
        (b"SET x = +0x10000000000000000 more", i64::MAX),
    ];
    for &(line, expected) in cases {
        assert_eq!(
            ok(line),
            set(b"x", Some(expected)),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn set_ids_quoting() {
    assert_eq!(ok(b"SET 'a b' = 1"), set(b"a b", Some(1)));
    assert_eq!(ok(b"SET \"a b\" = 1"), set(b"a b", Some(1)));
    assert_eq!(ok(b"SET \"it's\" = 1"), set(b"it's", Some(1)));
    assert_eq!(ok(b"SET 'say \"hi\"' = 1"), set(b"say \"hi\"", Some(1)));
    assert_eq!(ok(b"SET 'a=b' = 1"), set(b"a=b", Some(1)));
    assert_eq!(ok(b"SET it's = 1"), set(b"it's", Some(1)));
    assert_eq!(ok(br"SET 'it\'s' = 1"), set(br"it\'s", Some(1)));
    assert_eq!(ok(br"SET a\ b = 1"), set(br"a\ b", Some(1)));
    // Unbalanced quote: the id runs to the end of the line.
    assert_eq!(ok(b"SET 'a b = 1"), set(b"a b = 1", None));
    // The closing quote ends the word.
    assert_eq!(ok(b"SET 'a'1"), set(b"a", Some(1)));
}

#[test]
fn ids_are_bytes_not_necessarily_utf8() {
    assert_eq!(
        ok("SET 'température' = 42".as_bytes()),
        set("température".as_bytes(), Some(42))
    );
    assert_eq!(ok(b"SET \xff\xfe = 1"), set(b"\xff\xfe", Some(1)));
    assert_eq!(
        ok(b"BEGIN a.\xc3"),
        Command::Begin {
            chart_id: b"a.\xc3",
            microseconds: None
        }
    );
    // NUL ends the line, as in C.
    assert_eq!(ok(b"SET x\0 = 5"), set(b"x", None));
    assert_eq!(ok(b"\0SET x = 5"), Command::Empty);
}

#[test]
fn simple_verbs_ignore_extra_words() {
    assert_eq!(ok(b"END"), Command::End);
    assert_eq!(ok(b"END 123 456"), Command::End);
    assert_eq!(ok(b"FLUSH"), Command::Flush);
    assert_eq!(ok(b"DISABLE please"), Command::Disable);
    assert_eq!(ok(b"OVERWRITE labels"), Command::Overwrite);
    assert_eq!(ok(b"CLABEL_COMMIT"), Command::ClabelCommit);
    assert_eq!(ok(b"FUNCTION_RESULT_END"), Command::FunctionResultEnd);
    assert_eq!(
        ok(b"FUNCTION_RESULT_BEGIN tx1 200 application/json 0"),
        Command::FunctionResultBegin {
            transaction: b"tx1"
        }
    );
    assert_eq!(
        ok(b"FUNCTION_RESULT_BEGIN"),
        Command::FunctionResultBegin { transaction: b"" }
    );
}

#[test]
fn verbs_are_case_sensitive_and_unknown_is_a_value() {
    assert_eq!(ok(b"end"), Command::Unknown { verb: b"end" });
    assert_eq!(
        ok(b"HOST_DEFINE x y"),
        Command::Unknown {
            verb: b"HOST_DEFINE"
        }
    );
    assert_eq!(ok(b"# comment"), Command::Unknown { verb: b"#" });
    assert_eq!(ok(b"\xff\x00"), Command::Unknown { verb: b"\xff" });
    assert_eq!(ok(b"ENDX").verb(), None);
}

#[test]
fn empty_lines() {
    for line in [&b""[..], b" ", b"\t\t", b"\r", b"\n", b"=", b" = = "] {
        assert_eq!(ok(line), Command::Empty, "{line:?}");
        assert_eq!(ok(line).verb(), None);
    }
}

#[test]
fn variable_scopes_and_values() {
    let variable = |line: &'static [u8]| match ok(line) {
        Command::Variable { scope, name, value } => (scope, name, value),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        variable(b"VARIABLE fdperc = 0"),
        (None, &b"fdperc"[..], 0.0)
    );
    assert_eq!(
        variable(b"VARIABLE GLOBAL max = 1.5e3"),
        (Some(VariableScope::Global), &b"max"[..], 1500.0)
    );
    assert_eq!(
        variable(b"VARIABLE HOST max = -2"),
        (Some(VariableScope::Global), &b"max"[..], -2.0)
    );
    assert_eq!(
        variable(b"VARIABLE LOCAL x 3"),
        (Some(VariableScope::Local), &b"x"[..], 3.0)
    );
    assert_eq!(
        variable(b"VARIABLE CHART x = .25"),
        (Some(VariableScope::Local), &b"x"[..], 0.25)
    );
    assert_eq!(err(b"VARIABLE").to_string(), "VARIABLE: missing name");
    assert_eq!(
        err(b"VARIABLE GLOBAL").to_string(),
        "VARIABLE: missing name"
    );
    assert!(err(b"VARIABLE GLOBAL").netdata_disables_plugin());
    let missing_value = err(b"VARIABLE x =");
    assert_eq!(missing_value.to_string(), "VARIABLE: missing value");
    assert!(!missing_value.netdata_disables_plugin());
    assert_eq!(
        err(b"VARIABLE x = ''").to_string(),
        "VARIABLE: value is empty"
    );
    let bad = err(b"VARIABLE x = 12abc");
    assert_eq!(bad.to_string(), "VARIABLE: value '12abc' is not a number");
    assert_eq!(bad.verb(), Verb::Variable);
    assert!(!bad.netdata_disables_plugin());
}

#[test]
fn label_value_may_be_several_words() {
    let Command::Label {
        name,
        value,
        source,
    } = ok(b"LABEL _os_name 1 'Debian GNU/Linux'")
    else {
        panic!()
    };
    assert_eq!(name, b"_os_name");
    assert_eq!(source, 1);
    assert_eq!(value.single_word(), Some(&b"Debian GNU/Linux"[..]));

    let Command::Label { value, source, .. } = ok(b"LABEL k 2 a  'b c'\td") else {
        panic!()
    };
    assert_eq!(source, 2);
    assert_eq!(value.single_word(), None);
    let words: Vec<&[u8]> = value.words().collect();
    assert_eq!(words, [&b"a"[..], b"b c", b"d"]);
    let mut joined = Vec::new();
    value.join_into(&mut joined);
    assert_eq!(joined, b"a b c d");

    assert_eq!(err(b"LABEL").to_string(), "LABEL: missing name");
    assert_eq!(err(b"LABEL k").to_string(), "LABEL: missing source");
    assert_eq!(err(b"LABEL k 1").to_string(), "LABEL: missing value");
    assert!(!err(b"LABEL k 1").netdata_disables_plugin());
}

#[test]
fn clabel_order_is_name_value_source() {
    assert_eq!(
        ok(b"CLABEL device 'sda 1' 2"),
        Command::Clabel {
            name: b"device",
            value: b"sda 1",
            source: 2
        }
    );
    assert_eq!(
        ok(b"CLABEL device '' 1"),
        Command::Clabel {
            name: b"device",
            value: b"",
            source: 1
        }
    );
    assert_eq!(
        err(b"CLABEL device x").to_string(),
        "CLABEL: missing source"
    );
    assert_eq!(
        err(b"CLABEL device x ''").to_string(),
        "CLABEL: source is empty"
    );
    assert_eq!(err(b"CLABEL device").to_string(), "CLABEL: missing value");
    assert!(!err(b"CLABEL").netdata_disables_plugin());
}

#[test]
fn function_fields() {
    assert_eq!(
        ok(br#"FUNCTION "processes" 10 "Detailed information""#),
        Command::Function {
            global: false,
            name: b"processes",
            timeout_seconds: 10,
            help: b"Detailed information"
        }
    );
    assert_eq!(
        ok(br#"FUNCTION GLOBAL "systemd-journal info" 60 "Logs" "logs" "member" 100 3"#),
        Command::Function {
            global: true,
            name: b"systemd-journal info",
            timeout_seconds: 60,
            help: b"Logs"
        }
    );
    let Command::Function {
        timeout_seconds, ..
    } = ok(b"FUNCTION f -1 h")
    else {
        panic!()
    };
    assert_eq!(timeout_seconds, 10);
    assert_eq!(err(b"FUNCTION").to_string(), "FUNCTION: missing name");
    assert_eq!(
        err(b"FUNCTION GLOBAL").to_string(),
        "FUNCTION: missing name"
    );
    assert_eq!(err(b"FUNCTION f 10").to_string(), "FUNCTION: missing help");
    assert!(!err(b"FUNCTION f").netdata_disables_plugin());
}

#[test]
fn verb_names_round_trip() {
    for verb in Verb::ALL {
        assert_eq!(Verb::from_keyword(verb.as_str().as_bytes()), Some(verb));
        assert_eq!(verb.to_string(), verb.as_str());
    }
}

#[test]
fn error_messages_escape_control_bytes() {
    let error = err(b"CHART bad\x01id\xff");
    assert_eq!(
        error.to_string(),
        "CHART: type.id 'bad\\u{1}id\\xff' must be TYPE.ID with both parts non-empty"
    );
}
