//! Properties of the child side's `VARIABLE` lines: whatever the name
//! and value, the line is one line that the plugins.d reader (which a
//! parent's stream receiver uses) reads back as the same scope, name and
//! value (to its seven decimals; NaN and the infinities exactly).

use proptest::prelude::*;
use wire::pluginsd::{parse_line, Command, VariableScope};
use wire::stream_encode::write_variable;

/// Names as the store keeps them (sanitized), and a few it should not hold.
fn variable_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9._]{1,40}",
        1 => Just("HOST".to_string()),
        1 => Just("CHART".to_string()),
        1 => ".{1,20}".prop_filter("not empty", |s| !s.is_empty()),
    ]
}

/// Every kind of `f64`, and values near the seven decimals' rounding.
fn variable_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => -1e9f64..1e9f64,
        1 => (-1_000_000_000i64..1_000_000_000i64).prop_map(|units| units as f64 / 1e7),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn scope() -> impl Strategy<Value = VariableScope> {
    prop_oneof![Just(VariableScope::Global), Just(VariableScope::Local)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_variable_line_reads_back_as_written(
        scope in scope(),
        name in variable_name(),
        value in variable_value(),
    ) {
        let mut out = Vec::new();
        write_variable(&mut out, scope, &name, value);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(out.last(), Some(&b'\n'));
        let line = &out[..out.len() - 1];
        let Ok(Command::Variable { scope: read_scope, name: read_name, value: read_value }) =
            parse_line(line)
        else {
            return Err(TestCaseError::fail(format!(
                "not read back: {}",
                String::from_utf8_lossy(line)
            )));
        };
        prop_assert_eq!(read_scope, Some(scope));
        let written_name = wire::sanitize::variable_name(name.as_bytes());
        prop_assert_eq!(read_name, written_name.as_bytes());
        if value.is_nan() {
            prop_assert!(read_value.is_nan());
        } else if value.is_infinite() {
            prop_assert_eq!(read_value, value);
        } else {
            // Seven decimals: half a unit of the last, plus the reading's
            // own rounding to the nearest float (half an ulp, at most
            // |value|·ε/2; once more for margin).
            let tolerance = 0.5e-7 + value.abs() * f64::EPSILON;
            prop_assert!(
                (read_value - value).abs() <= tolerance,
                "{} written as '{}', read back as {}",
                value,
                String::from_utf8_lossy(line),
                read_value
            );
        }
    }
}
