//! What a parent asks a child for with `REPLAY_CHART`.
//!
//! With replication agreed, a netdata 1.37 child sends a chart's
//! definition, ends it with `CHART_DEFINITION_END first last wall_clock`,
//! and then waits: it streams the chart's live values only after a
//! `REPLAY_CHART id true after before` (`true`: start streaming after this
//! step). The parent asks for what it lacks, at most `seconds to
//! replicate` back and `seconds per replication step` at a time; each step
//! the child answers with `RBEGIN` ... `REND`, and a `REND` that does not
//! start streaming makes the parent ask for the next step. `true 0 0` asks
//! for nothing and starts streaming (what a parent without replication
//! sends). A step answers the points whose time `t` is
//! `after < t <= before` (a point's time is the end of its interval), so
//! the next step starts at the previous `before`, and a parent holding its
//! chart up to `t` asks from `after = t`.

use std::io::Write as _;

/// The replication keys of stream.conf, resolved for one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationPolicy {
    /// `enable replication`.
    pub enabled: bool,
    /// `seconds to replicate`.
    pub seconds_to_replicate: u32,
    /// `seconds per replication step` (at least 1).
    pub seconds_per_step: u32,
}

/// One `REPLAY_CHART` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Whether the child streams the chart live after this step.
    pub start_streaming: bool,
    /// The points asked for are after this second (0 with `before` 0:
    /// nothing).
    pub after: i64,
    /// ... up to this second, included.
    pub before: i64,
}

impl ReplayRequest {
    /// Start streaming, ask for nothing.
    pub const NOTHING: ReplayRequest = ReplayRequest {
        start_streaming: true,
        after: 0,
        before: 0,
    };

    /// Appends the `REPLAY_CHART` line for `chart_id` (quoted as netdata
    /// quotes it; a chart id holds no `"`).
    pub fn write_line(&self, chart_id: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"REPLAY_CHART \"");
        out.extend_from_slice(chart_id);
        let _ = writeln!(
            out,
            "\" \"{}\" {} {}",
            if self.start_streaming {
                "true"
            } else {
                "false"
            },
            self.after,
            self.before
        );
    }
}

impl ReplicationPolicy {
    /// The first request, after `CHART_DEFINITION_END child_first
    /// child_last wall_clock`; `parent_last` is the newest point this
    /// parent holds of the chart.
    pub fn first_request(
        &self,
        child_first: i64,
        child_last: i64,
        wall_clock: i64,
        parent_last: Option<i64>,
    ) -> ReplayRequest {
        if !self.enabled || self.seconds_to_replicate == 0 || child_first <= 0 || child_last <= 0 {
            return ReplayRequest::NOTHING;
        }
        let mut after =
            child_first.max(wall_clock.min(child_last) - i64::from(self.seconds_to_replicate));
        if let Some(parent_last) = parent_last {
            after = after.max(parent_last);
        }
        self.step_from(after, child_last)
    }

    /// The request after a `REND` that did not start streaming: the step
    /// after `before`, up to the child's `child_last`.
    pub fn next_request(&self, before: i64, child_last: i64) -> ReplayRequest {
        self.step_from(before, child_last)
    }

    fn step_from(&self, after: i64, child_last: i64) -> ReplayRequest {
        if after >= child_last {
            return ReplayRequest::NOTHING;
        }
        let before = after
            .saturating_add(i64::from(self.seconds_per_step.max(1)))
            .min(child_last);
        ReplayRequest {
            start_streaming: before >= child_last,
            after,
            before,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ReplicationPolicy = ReplicationPolicy {
        enabled: true,
        seconds_to_replicate: 86_400,
        seconds_per_step: 600,
    };

    #[test]
    fn a_new_chart_asks_for_what_the_child_has_as_the_captured_parent() {
        let request = POLICY.first_request(1796014273, 1796014274, 1796014274, None);
        let mut line = Vec::new();
        request.write_line(b"netdata.server_cpu", &mut line);
        assert_eq!(
            line,
            b"REPLAY_CHART \"netdata.server_cpu\" \"true\" 1796014273 1796014274\n"
        );
    }

    #[test]
    fn a_gap_is_asked_for_in_steps_until_streaming_starts() {
        let parent_last = 10_000;
        let child_last = 11_500;
        let first = POLICY.first_request(1_000, child_last, child_last, Some(parent_last));
        assert_eq!(
            first,
            ReplayRequest {
                start_streaming: false,
                after: 10_000,
                before: 10_600
            }
        );
        let second = POLICY.next_request(first.before, child_last);
        assert_eq!(
            (second.after, second.before, second.start_streaming),
            (10_600, 11_200, false)
        );
        let third = POLICY.next_request(second.before, child_last);
        assert_eq!(
            (third.after, third.before, third.start_streaming),
            (11_200, 11_500, true)
        );
        assert_eq!(POLICY.next_request(11_500, 11_500), ReplayRequest::NOTHING);
    }

    #[test]
    fn limits_and_switches() {
        let short = ReplicationPolicy {
            seconds_to_replicate: 60,
            ..POLICY
        };
        assert_eq!(short.first_request(1, 1000, 1000, None).after, 940);
        let off = ReplicationPolicy {
            enabled: false,
            ..POLICY
        };
        assert_eq!(
            off.first_request(1, 1000, 1000, None),
            ReplayRequest::NOTHING
        );
        assert_eq!(
            POLICY.first_request(0, 0, 1000, None),
            ReplayRequest::NOTHING
        );
        assert_eq!(
            POLICY.first_request(1, 1000, 1000, Some(1000)),
            ReplayRequest::NOTHING,
            "the parent has everything"
        );
    }
}
