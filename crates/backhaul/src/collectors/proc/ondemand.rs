//! [`OnDemand`]: netdata's `yes` / `no` / `auto` switch of one chart. Under
//! `auto` a chart is created the first time its values are not all zero,
//! and stays from then on (netdata latches `auto` to `yes`). netdata's
//! per-chart keys (`[plugin:proc:/proc/meminfo] system swap = no`) are not
//! read yet: every chart has netdata's default.

/// A chart's switch, as netdata's `config_get_boolean_ondemand` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDemand {
    Yes,
    Auto,
}

impl OnDemand {
    /// Whether the chart is collected this round, given whether any of its
    /// values is non-zero. `Auto` turns into `Yes` the first time it is.
    pub(crate) fn wants(&mut self, nonzero: bool) -> bool {
        match *self {
            OnDemand::Yes => true,
            OnDemand::Auto if nonzero => {
                *self = OnDemand::Yes;
                true
            }
            OnDemand::Auto => false,
        }
    }
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
        assert!(OnDemand::Yes.wants(false));
        assert!(any_nonzero(&[None, Some(0), Some(3)]));
        assert!(!any_nonzero(&[None, Some(0)]));
    }
}
