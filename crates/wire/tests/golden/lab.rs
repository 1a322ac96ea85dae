//! The netdata 1.37 lab run behind the `netdata_*.txt` fixtures, shared by the
//! golden tests: its host labels and a check that each fixture line is a
//! line netdata really sent.
//!
//! The fixtures are lines copied verbatim from
//! `shared/reference/netdata-1.37/samples/{graphite,opentsdb,json}_sample.txt`
//! (netdata with `exporting.conf.lab` and `netdata.conf.lab`).

#![allow(dead_code)] // each golden test uses a part

use wire::sanitize::{sanitize_label_key, sanitize_label_value};

/// `[host labels]` of `netdata.conf.lab`, as written there.
pub const CONFIGURED_HOST_LABELS: &[(&str, &str)] =
    &[("env", "lab"), ("team name", "rust port;semi~tilde")];

/// The automatic labels netdata sent although `send automatic labels = no`.
pub const AUTOMATIC_LABELS_SENT: &[(&str, &str)] = &[
    ("_is_ephemeral", "false"),
    ("_has_unstable_connection", "false"),
];

/// Labels as the label store keeps them: `configured` through netdata's ingest
/// rules, then `stored` as they are.
pub fn label_store(configured: &[(&str, &str)], stored: &[(&str, &str)]) -> Vec<(String, String)> {
    configured
        .iter()
        .filter_map(|(key, value)| Some((sanitize_label_key(key)?, sanitize_label_value(value))))
        .chain(
            stored
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string())),
        )
        .collect()
}

/// The lines of a fixture, each with its `\n`.
pub fn fixture_lines(text: &str) -> Vec<String> {
    text.lines().map(|line| format!("{line}\n")).collect()
}

/// Checks that every fixture line is a line of netdata's sample, when the
/// reference samples are beside the repository (`../shared/reference`).
pub fn assert_lines_come_from_sample(lines: &[String], sample: &str) {
    let path = format!(
        "{}/../../../shared/reference/netdata-1.37/samples/{sample}",
        env!("CARGO_MANIFEST_DIR")
    );
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{path} not found: fixtures not cross-checked");
        return;
    };
    let sample_lines: std::collections::HashSet<&str> = text.lines().collect();
    for line in lines {
        let line = line.trim_end_matches('\n');
        assert!(sample_lines.contains(line), "not in {sample}: {line}");
    }
}
