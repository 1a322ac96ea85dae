//! netdata's `yes` / `no` / `auto` switch of one chart ([`OnDemand`], the
//! configuration's [`ChartSwitch`]) and how a collector looks its switches
//! up ([`ChartSwitches`]). Under `auto` a chart is created the first time
//! its values are not all zero, and stays from then on (netdata latches
//! `auto` to `yes`).

pub(crate) use crate::config::ChartSwitch as OnDemand;
use crate::config::ChartSwitch;

/// The per-chart switches of `[plugin:proc:MODULE]`: the value of `key`
/// in `module`'s section, or `None` when not set.
pub type ChartSwitches<'a> = &'a dyn Fn(&str, &str) -> Option<ChartSwitch>;

/// No switch set anywhere: netdata's defaults.
pub fn no_chart_switches(_module: &str, _key: &str) -> Option<ChartSwitch> {
    None
}

impl ChartSwitch {
    /// Whether the chart is collected this round, given whether any of its
    /// values is non-zero. `Auto` turns into `Yes` the first time it is.
    pub(crate) fn wants(&mut self, nonzero: bool) -> bool {
        match *self {
            ChartSwitch::Yes => true,
            ChartSwitch::No => false,
            ChartSwitch::Auto if nonzero => {
                *self = ChartSwitch::Yes;
                true
            }
            ChartSwitch::Auto => false,
        }
    }
}

/// A switch netdata reads with `config_get_boolean_ondemand`: `default`
/// unless set.
pub(crate) fn on_demand(
    switches: ChartSwitches<'_>,
    module: &str,
    key: &str,
    default: OnDemand,
) -> OnDemand {
    switches(module, key).unwrap_or(default)
}

/// A switch netdata reads with `config_get_boolean` (default yes): only
/// `no` turns it off (`auto` is yes there).
pub(crate) fn enabled(switches: ChartSwitches<'_>, module: &str, key: &str) -> bool {
    switches(module, key) != Some(ChartSwitch::No)
}

/// Whether any of `values` is collected and non-zero.
pub(crate) fn any_nonzero(values: &[Option<i64>]) -> bool {
    values.iter().any(|v| v.is_some_and(|v| v != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_latches_on_the_first_nonzero_round() {
        let mut s = OnDemand::Auto;
        assert!(!s.wants(false));
        assert!(s.wants(true));
        assert!(s.wants(false));
        assert_eq!(s, OnDemand::Yes);
        assert!(!OnDemand::No.wants(true));
        assert!(OnDemand::Yes.wants(false));
        assert!(any_nonzero(&[None, Some(0), Some(3)]));
        assert!(!any_nonzero(&[None, Some(0)]));
    }

    #[test]
    fn lookups_fall_back_to_netdata_defaults() {
        let set = |module: &str, key: &str| match (module, key) {
            ("m", "off") => Some(ChartSwitch::No),
            ("m", "auto") => Some(ChartSwitch::Auto),
            _ => None,
        };
        assert!(!enabled(&set, "m", "off"));
        assert!(enabled(&set, "m", "auto"));
        assert!(enabled(&set, "m", "unset"));
        assert_eq!(
            on_demand(&set, "m", "unset", OnDemand::Auto),
            OnDemand::Auto
        );
        assert_eq!(on_demand(&set, "m", "off", OnDemand::Auto), OnDemand::No);
        assert!(enabled(&no_chart_switches, "m", "off"));
    }
}
