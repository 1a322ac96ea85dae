//! The status page at `/`: one HTML document (the frame is `page.html`,
//! built into the binary), refreshed by the browser every 10 s, with no
//! script and no external resource. Each exporting instance's
//! self-monitoring charts of the last hour are drawn here as inline SVG
//! polylines.

use std::fmt::Write as _;

use rrd::{Host, Store};

use super::{ExporterReport, StatusReport, StreamingReport};

const FRAME: &str = include_str!("page.html");

/// How far back the plots go, in seconds.
pub const PLOT_SECONDS: i64 = 3600;
const PLOT_W: f64 = 360.0;
const PLOT_H: f64 = 110.0;
/// Most points drawn per line (an hour at 1 s is averaged down).
const MAX_POINTS: usize = 360;
const COLOURS: [&str; 6] = [
    "#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6",
];

/// The self-monitoring charts plotted per instance, with their captions.
pub const PLOTTED: [(&str, &str); 3] = [
    ("metrics", "metrics"),
    ("bytes", "bytes"),
    ("ops", "operations"),
];

/// The page for `report`, with plots from `store`.
pub fn render(report: &StatusReport, store: &Store, version: &str) -> String {
    let mut c = String::new();
    let host = store.localhost();
    let _ = writeln!(c, "<h2>Exporting instances</h2>");
    if report.exporters.is_empty() {
        let _ = writeln!(
            c,
            "<p class=\"muted\" id=\"no-exporters\">No exporting instance is running: enable one in exporting.conf.</p>"
        );
    }
    for e in &report.exporters {
        exporter(&mut c, e, host, report.now);
    }
    streaming(&mut c, &report.streaming);
    let _ = writeln!(c, "<h2>Collectors and plugins</h2>");
    let _ = writeln!(
        c,
        "<table id=\"collectors\"><tr><th>name</th><th>type</th><th>state</th><th>details</th></tr>"
    );
    for col in &report.collectors {
        let _ = writeln!(
            c,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
            esc(&col.name),
            col.kind,
            state_badge(&col.state)
        );
    }
    for p in &report.plugins {
        let mut details = format!(
            "runs {}, charts {}, dimensions {}, collections {}",
            p.runs, p.charts, p.dimensions, p.collections
        );
        if let Some(pid) = p.pid {
            let _ = write!(details, ", pid {pid}");
        }
        if !p.detail.is_empty() {
            let _ = write!(details, "; {}", p.detail);
        }
        let _ = writeln!(
            c,
            "<tr class=\"plugin\"><td>{}</td><td>plugin</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            state_badge(p.state),
            esc(&details)
        );
    }
    let _ = writeln!(c, "</table>");
    let _ = writeln!(c, "<h2>Hosts</h2>");
    let _ = writeln!(
        c,
        "<table id=\"hosts\"><tr><th>hostname</th><th>charts</th><th></th></tr>"
    );
    for h in &report.hosts {
        let _ = writeln!(
            c,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&h.hostname),
            h.charts,
            if h.localhost { "this agent" } else { "child" }
        );
    }
    let _ = writeln!(
        c,
        "</table>\n<p class=\"muted\">The same data as JSON: <a href=\"/api/v1/exporters\">/api/v1/exporters</a>.</p>"
    );
    let title = format!("backhaul on {}", esc(&report.hostname));
    let subtitle = format!(
        "{} &middot; {} UTC &middot; refreshes every 10 s",
        esc(version),
        httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(report.now.max(0) as u64)
        )
        .trim_end_matches(" GMT")
    );
    FRAME
        .replace("{{TITLE}}", &title)
        .replace("{{SUBTITLE}}", &subtitle)
        .replace("{{CONTENT}}", &c)
}

/// The streaming section, when this agent streams to a parent or accepts
/// children.
fn streaming(c: &mut String, report: &StreamingReport) {
    if report.sender.is_none() && report.receiver.is_none() {
        return;
    }
    let _ = writeln!(c, "<h2>Streaming</h2>");
    if let Some(s) = &report.sender {
        let _ = writeln!(
            c,
            "<section class=\"exporter\" id=\"stream-sender\" data-state=\"{}\">\n<h3>to a parent {}</h3>",
            s.state,
            state_badge(s.state)
        );
        let facts = [
            ("destination", s.destination.clone()),
            ("parent", s.parent.clone().unwrap_or_else(|| "-".into())),
            ("connections", s.connections.to_string()),
            ("refused", s.refused.to_string()),
            ("connect failures", s.connect_failures.to_string()),
            ("buffer overflows", s.overflows.to_string()),
            ("charts sent", s.charts_sent.to_string()),
            ("rounds sent", s.rounds_sent.to_string()),
            ("host variables sent", s.host_variables_sent.to_string()),
            ("chart variables sent", s.chart_variables_sent.to_string()),
            ("replication requests", s.replay_requests.to_string()),
            ("points replicated", s.replayed_points.to_string()),
            ("bytes sent", s.bytes_sent.to_string()),
        ];
        fact_list(c, &facts);
        let _ = writeln!(c, "</section>");
    }
    if let Some(r) = &report.receiver {
        let state = if r.children_connected > 0 {
            "connected"
        } else {
            "connecting"
        };
        let _ = writeln!(
            c,
            "<section class=\"exporter\" id=\"stream-receiver\" data-state=\"{state}\">\n<h3>from children {}</h3>",
            state_badge(state)
        );
        let facts = [
            ("children connected", r.children_connected.to_string()),
            ("connections accepted", r.accepted.to_string()),
            ("refused", r.refused.to_string()),
            ("disconnections", r.disconnected.to_string()),
            ("orphan hosts removed", r.hosts_removed.to_string()),
            ("points replicated", r.replicated_points.to_string()),
        ];
        fact_list(c, &facts);
        let _ = writeln!(c, "</section>");
    }
}

fn fact_list(c: &mut String, facts: &[(&str, String)]) {
    let _ = write!(c, "<dl class=\"facts\">");
    for (name, value) in facts {
        let _ = write!(c, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(value));
    }
    let _ = writeln!(c, "</dl>");
}

fn state_badge(state: &str) -> String {
    format!("<span class=\"state state-{0}\">{0}</span>", esc(state))
}

fn exporter(c: &mut String, e: &ExporterReport, host: &Host, now_s: i64) {
    let _ = writeln!(
        c,
        "<section class=\"exporter\" id=\"exporter-{name}\" data-state=\"{state}\">\n<h3>{name} {badge}</h3>",
        name = esc(&e.name),
        state = e.state,
        badge = state_badge(e.state)
    );
    let peer = e
        .connected_to
        .map_or_else(|| "&mdash;".to_string(), |p| esc(&p.to_string()));
    let error = match &e.last_error {
        Some(err) => format!(
            "<span class=\"error\">{}</span> <span class=\"muted\">({} s ago)</span>",
            esc(&err.text),
            err.age_seconds
        ),
        None => "none".to_string(),
    };
    let _ = writeln!(
        c,
        "<dl class=\"facts\">\
<dt>connector</dt><dd class=\"connector\">{}</dd>\
<dt>destination</dt><dd class=\"destination\">{}</dd>\
<dt>connected to</dt><dd class=\"peer\">{}</dd>\
<dt>lag</dt><dd class=\"lag\">{} s</dd>\
<dt>ring</dt><dd class=\"ring\">{} of {} batches, {} metrics, {} bytes</dd>\
<dt>sent</dt><dd class=\"sent\">{} metrics, {} bytes</dd>\
<dt>failed</dt><dd class=\"failed\">{} failures, {} reconnects</dd>\
<dt>dropped</dt><dd class=\"dropped\">{} lost, {} rejected</dd>\
<dt>last error</dt><dd class=\"last-error\">{}</dd>\
</dl>",
        esc(&e.connector_type),
        esc(&e.destination),
        peer,
        e.lag_seconds,
        e.ring.batches,
        e.ring.capacity,
        e.ring.buffered_metrics,
        e.ring.buffered_bytes,
        e.sent_metrics,
        e.sent_bytes,
        e.failures,
        e.reconnects,
        e.lost_metrics,
        e.rejected_metrics,
        error
    );
    let _ = writeln!(c, "<div class=\"plots\">");
    for (suffix, caption) in PLOTTED {
        let id = format!("netdata.exporting_{}_{suffix}", e.name);
        plot(c, host, &id, caption, now_s);
    }
    let _ = writeln!(c, "</div>\n</section>");
}

/// One chart's last hour as an SVG figure: a polyline per dimension, on a
/// scale from 0 (or the lowest value, if negative) to the highest.
fn plot(c: &mut String, host: &Host, chart_id: &str, caption: &str, now_s: i64) {
    let mut lines: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    let mut units = String::new();
    if let Some(chart) = host.chart_by_id(chart_id) {
        let state = chart.read();
        units = state.def().units.clone();
        let before = state.last_entry_t().unwrap_or(now_s);
        for (i, d) in state.dimensions().iter().enumerate() {
            let points = state.points(i, before - PLOT_SECONDS, before);
            let points = thin(points.iter().map(|p| (p.time, p.value)).collect());
            lines.push((d.name().to_string(), points));
        }
    }
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (_, pts) in &lines {
        for &(_, v) in pts {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if hi - lo <= 0.0 {
        hi = lo + 1.0;
    }
    let t0 = now_s - PLOT_SECONDS;
    let x = |t: i64| ((t - t0) as f64 / PLOT_SECONDS as f64 * PLOT_W).clamp(0.0, PLOT_W);
    let y = |v: f64| PLOT_H - (v - lo) / (hi - lo) * (PLOT_H - 12.0);
    let _ = writeln!(
        c,
        "<figure><figcaption>{} <span class=\"muted\">({}; last hour)</span></figcaption>\
<svg class=\"plot\" data-chart=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" viewBox=\"0 0 {PLOT_W} {PLOT_H}\" role=\"img\" aria-label=\"{}\">\
<text x=\"2\" y=\"10\">{}</text>",
        esc(caption),
        esc(&units),
        esc(chart_id),
        esc(chart_id),
        number(hi)
    );
    for (k, (_, pts)) in lines.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let mut attr = String::new();
        for &(t, v) in pts {
            let _ = write!(attr, "{:.1},{:.1} ", x(t), y(v));
        }
        let _ = write!(
            c,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            COLOURS[k % COLOURS.len()],
            attr.trim_end()
        );
    }
    let _ = writeln!(
        c,
        "<text x=\"2\" y=\"{:.0}\">-1 h</text><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">now</text></svg>",
        PLOT_H - 2.0,
        PLOT_W - 2.0,
        PLOT_H - 2.0
    );
    let _ = write!(c, "<div class=\"legend\">");
    for (k, (name, pts)) in lines.iter().enumerate() {
        let last = pts.last().map_or_else(|| "-".to_string(), |p| number(p.1));
        let _ = write!(
            c,
            "<span><i style=\"background:{}\"></i>{} {}</span>",
            COLOURS[k % COLOURS.len()],
            esc(name),
            last
        );
    }
    let _ = writeln!(c, "</div></figure>");
}

/// At most [`MAX_POINTS`] points: runs of consecutive points averaged.
fn thin(points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let per = points.len().div_ceil(MAX_POINTS);
    points
        .chunks(per)
        .map(|run| {
            let sum: f64 = run.iter().map(|p| p.1).sum();
            (run[run.len() - 1].0, sum / run.len() as f64)
        })
        .collect()
}

fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Text escaped for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_thinning() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let pts: Vec<(i64, f64)> = (0..3600).map(|t| (t, 1.0)).collect();
        let thinned = thin(pts);
        assert!(thinned.len() <= MAX_POINTS);
        assert_eq!(thinned.last().unwrap().0, 3599);
        assert_eq!(number(1500.0), "1.5k");
        assert_eq!(number(3.0), "3");
    }
}
