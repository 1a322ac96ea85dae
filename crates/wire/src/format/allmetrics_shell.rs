//! The shell form of `/api/v1/allmetrics` (`format=shell`, the default):
//! one `NAME="VALUE"` assignment per dimension, for `source`-ing from a
//! shell script, as netdata 1.37 writes it.
//!
//! ```text
//!
//! # chart: lab.weird_chart (name: lab.Weird_Name_with_space)
//! NETDATA_LAB_WEIRD_NAME_WITH_SPACE_DIM_NAME_WITH_SLASH="46"      # units
//! NETDATA_LAB_WEIRD_NAME_WITH_SPACE_VISIBLETOTAL="46"      # units
//! ```
//!
//! Names are `NETDATA_CHART_DIMENSION` with every byte outside
//! `[A-Za-z0-9]` turned into `_` and letters upper-cased, so a name is
//! always a valid shell variable name. Values are the dimension's newest
//! stored value rounded to a whole number (half away from zero), or empty
//! when there is none. The free text of the comments goes through
//! [`crate::sanitize::write_comment_text`].
//!
//! ```
//! use wire::format::allmetrics_shell::{write_chart_header, ShellChart};
//!
//! let mut buf = Vec::new();
//! write_chart_header(&mut buf, "lab.slow", "lab.slow");
//! let chart = ShellChart::new("lab.slow");
//! chart.write_dimension(&mut buf, "gauge", Some(44.5), "u");
//! chart.write_total(&mut buf, 45.0, "u");
//! assert_eq!(
//!     String::from_utf8_lossy(&buf),
//!     "\n# chart: lab.slow (name: lab.slow)\n\
//!      NETDATA_LAB_SLOW_GAUGE=\"45\"      # u\n\
//!      NETDATA_LAB_SLOW_VISIBLETOTAL=\"45\"      # u\n"
//! );
//! ```

use crate::number::write_collected_value;
use crate::sanitize::write_comment_text;

/// Appends `text` as a piece of a shell variable name: letters upper-cased,
/// digits kept, every other byte `_`.
pub fn write_shell_name(buf: &mut Vec<u8>, text: &str) {
    buf.extend(text.bytes().map(|byte| {
        if byte.is_ascii_alphanumeric() {
            byte.to_ascii_uppercase()
        } else {
            b'_'
        }
    }));
}

/// Appends a chart's header, after a blank line: `# chart: ID (name: NAME)`.
pub fn write_chart_header(buf: &mut Vec<u8>, id: &str, name: &str) {
    buf.extend_from_slice(b"\n# chart: ");
    write_comment_text(buf, id);
    buf.extend_from_slice(b" (name: ");
    write_comment_text(buf, name);
    buf.extend_from_slice(b")\n");
}

/// Appends the line that starts the (empty) alarms part:
/// `\n# NETDATA ALARMS RUNNING\n`.
pub fn write_alarms_header(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"\n# NETDATA ALARMS RUNNING\n");
}

/// `value` rounded as the shell form rounds it: to the nearest whole
/// number, halves away from zero.
pub fn round_value(value: f64) -> f64 {
    value.round()
}

/// A chart's variable-name head, `NETDATA_CHART_`, built once per chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellChart {
    head: Vec<u8>,
}

impl ShellChart {
    /// The head for a chart shown as `chart` (its name).
    pub fn new(chart: &str) -> ShellChart {
        let mut head = b"NETDATA_".to_vec();
        write_shell_name(&mut head, chart);
        head.push(b'_');
        ShellChart { head }
    }

    /// Appends `NETDATA_CHART_DIM="VALUE"      # UNITS`: the value rounded
    /// ([`round_value`]), or `""` for `None` or a value that is not finite.
    pub fn write_dimension(
        &self,
        buf: &mut Vec<u8>,
        dimension: &str,
        value: Option<f64>,
        units: &str,
    ) {
        buf.extend_from_slice(&self.head);
        write_shell_name(buf, dimension);
        self.write_value(buf, value, units);
    }

    /// Appends `NETDATA_CHART_VISIBLETOTAL="TOTAL"      # UNITS`.
    pub fn write_total(&self, buf: &mut Vec<u8>, total: f64, units: &str) {
        buf.extend_from_slice(&self.head);
        buf.extend_from_slice(b"VISIBLETOTAL");
        self.write_value(buf, Some(total), units);
    }

    fn write_value(&self, buf: &mut Vec<u8>, value: Option<f64>, units: &str) {
        buf.extend_from_slice(b"=\"");
        if let Some(value) = value.filter(|v| v.is_finite()) {
            write_whole(buf, round_value(value));
        }
        buf.extend_from_slice(b"\"      # ");
        write_comment_text(buf, units);
        buf.push(b'\n');
    }
}

/// Appends a whole number held in an `f64` as `%0.0f` prints it (every
/// digit, no exponent), without a minus sign for zero.
fn write_whole(buf: &mut Vec<u8>, value: f64) {
    if value == 0.0 {
        buf.push(b'0');
    } else if value.abs() < 9.0e18 {
        write_collected_value(buf, value as i64);
    } else {
        buf.extend_from_slice(format!("{value:.0}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(value: Option<f64>) -> String {
        let mut buf = Vec::new();
        ShellChart::new("c").write_dimension(&mut buf, "d", value, "u");
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn values_round_half_away_from_zero() {
        assert_eq!(line(Some(107.6666667)), "NETDATA_C_D=\"108\"      # u\n");
        assert_eq!(line(Some(2.5)), "NETDATA_C_D=\"3\"      # u\n");
        assert_eq!(line(Some(-2.5)), "NETDATA_C_D=\"-3\"      # u\n");
        assert_eq!(line(Some(-0.4)), "NETDATA_C_D=\"0\"      # u\n");
        assert_eq!(
            line(Some(123456789012345.0)),
            "NETDATA_C_D=\"123456789012345\"      # u\n"
        );
        assert_eq!(
            line(Some(1e20)),
            "NETDATA_C_D=\"100000000000000000000\"      # u\n"
        );
        assert_eq!(line(None), "NETDATA_C_D=\"\"      # u\n");
        assert_eq!(line(Some(f64::NAN)), "NETDATA_C_D=\"\"      # u\n");
    }

    #[test]
    fn names_are_shell_variables() {
        let mut buf = Vec::new();
        write_shell_name(&mut buf, "Dim-Upper;semi~tilde naïve");
        assert_eq!(buf, b"DIM_UPPER_SEMI_TILDE_NA__VE");
        buf.clear();
        write_chart_header(&mut buf, "a\nb", "c");
        assert_eq!(buf, b"\n# chart: a b (name: c)\n");
    }
}
