//! Golden tests of the statsd reader: packets as netdata 1.37's statsd
//! server reads them (checked against the real server by
//! `backhaul/tests/statsd_real.rs`), through one `check` helper. Each
//! expected line is `NAME TYPE UPDATE [excess] [tags=...]`, or `error:
//! MESSAGE` for a line that adds nothing.

use wire::statsd::{lines, read_line, Update};

fn render(packet: &[u8]) -> Vec<String> {
    lines(packet)
        .map(|raw| match read_line(&raw) {
            Ok(line) => {
                let update = match line.update {
                    Update::Init => "init".to_string(),
                    Update::GaugeSet(v) => format!("set {v}"),
                    Update::GaugeAdd(v) => format!("add {v}"),
                    Update::Count(n) => format!("count {n}"),
                    Update::Sample { value, times } => format!("sample {value} x{times}"),
                    Update::Member(m) => format!("member {}", String::from_utf8_lossy(m)),
                };
                let mut out = format!(
                    "{} {} {update}",
                    String::from_utf8_lossy(line.name),
                    line.metric_type.as_str()
                );
                if line.excess {
                    out.push_str(" excess");
                }
                if let Some(tags) = line.tags {
                    out.push_str(&format!(" tags={}", String::from_utf8_lossy(tags)));
                }
                out
            }
            Err(error) => format!("error: {error}"),
        })
        .collect()
}

fn check(input: &[u8], expected: &[&str]) {
    assert_eq!(
        render(input),
        expected,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn every_type() {
    check(b"a:1|g", &["a gauge set 1"]);
    check(b"a:1|c", &["a counter count 1"]);
    check(b"a:1|C", &["a counter count 1"]);
    check(b"a:1|m", &["a meter count 1"]);
    check(b"a:1.5|ms", &["a timer sample 1.5 x1"]);
    check(b"a:-1.5|h", &["a histogram sample -1.5 x1"]);
    check(b"a:v|s", &["a set member v"]);
    check(b"a:v|d", &["a dictionary member v"]);
}

#[test]
fn gauges_set_or_move() {
    check(
        b"g:+3|g\ng:-3|g\ng:3|g",
        &["g gauge add 3", "g gauge add -3", "g gauge set 3"],
    );
    check(b"g:+1|g|@0.5", &["g gauge add 2"]);
    check(b"g:1e3|g", &["g gauge set 1000"]);
    check(b"g:12abc|g", &["g gauge set 12 excess"]);
    check(b"g:abc|g", &["g gauge set 0 excess"]);
    check(b"g:|g", &["error: gauge with an empty value is ignored"]);
    check(b"g:zinit|g", &["g gauge init"]);
}

#[test]
fn sampling_rates() {
    check(b"c:1|c|@0.1", &["c counter count 10"]);
    check(b"c:1|c@0.1", &["c counter count 10"]);
    check(b"c:3|c|@0.4", &["c counter count 8"]);
    check(b"c:1|c|@0", &["c counter count 1000"]);
    check(b"c:1|c|@5", &["c counter count 1"]);
    check(b"c:1|c|@x", &["c counter count 1000"]);
    check(b"c:1|c|@", &["c counter count 1"]);
    check(b"t:1|ms|@0.25", &["t timer sample 1 x4"]);
    check(b"t:1|ms|@0.001", &["t timer sample 1 x100"]);
    check(b"c:2.7|c", &["c counter count 2 excess"]);
}

#[test]
fn missing_fields() {
    check(b"a", &["a meter count 1"]);
    check(b"a:5", &["a meter count 5"]);
    check(b"a:5|", &["a meter count 5"]);
    check(b"a|c", &["a counter count 1"]);
    check(b"a:1|zz", &["error: unknown metric type 'zz'"]);
    check(b"a:1|gg", &["error: unknown metric type 'gg'"]);
    check(b"a:v|s|@0.5", &["a set member v"]);
}

#[test]
fn tags_and_extra_fields() {
    check(
        b"a:1|c|#k:v,units:ms",
        &["a counter count 1 tags=k:v,units:ms"],
    );
    check(b"a:1|c#k:v@0.5", &["a counter count 2 tags=k:v"]);
    check(b"a:1|c|x|y|#t|@0.5", &["a counter count 2 tags=t"]);
    check(b"a:1|c|#one|#two", &["a counter count 1 tags=two"]);
}

#[test]
fn several_lines_and_blanks() {
    check(
        b"  a : 1 | g \r\n\r\n\t b:2|c\n\n",
        &["a gauge set 1", "b counter count 2"],
    );
    check(b"a:1|c\0b:2|c", &["a counter count 1"]);
    check(b":1|c", &["1 counter count 1"]);
    check(b"|||\n=2|c", &["2 counter count 1"]);
    check(b"bad line here", &["bad line here meter count 1"]);
    check(b"", &[]);
    check(b"\n\n \r\n", &[]);
}
