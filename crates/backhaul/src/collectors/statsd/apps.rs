//! `statsd.d/*.conf`: netdata's synthetic charts. Each file holds `[app]`
//! sections (`name`, `metrics` pattern, `private charts`, `gaps when not
//! collected`, `memory mode`, `history`), an optional `[dictionary]` of
//! dimension names, and chart sections (`name`, `title`, `family`,
//! `context`, `units`, `priority`, `type`, and `dimension = [pattern]
//! METRIC [NAME [VALUE TYPE [MULTIPLIER [DIVISOR [OPTIONS]]]]]`), as
//! netdata 1.37 reads them:
//!
//! * Files are `*.conf` of `[directories] config`/statsd.d, then of `stock
//!   config`/statsd.d for names the user folder does not have; `include
//!   FILE` reads another file (relative to the current one).
//! * A chart is `APPNAME.SECTION`; its title defaults to "Statsd chart", its
//!   family to "overview", its units to "value", its context to its id, its
//!   type to line, its priority to 90000. Its module is the file's name
//!   when the file is a stock one, else `synthetic_chart`.
//! * A metric whose name matches an app's `metrics` takes the app's
//!   `private charts` (default no) and `gaps when not collected`, and is
//!   linked to every dimension naming it. A `pattern` dimension adds a
//!   dimension per matching metric, named by the dictionary (the name plus
//!   the part the `*` matched, or the metric's name) or by that text.
//! * Value types: `events` (samples received, incremental), `last` (the
//!   value the private chart would get), and for timers and histograms
//!   `min`, `max`, `sum`, `average`, `median`, `stddev`, `percentile`.
//!   Gauges, timers and histograms are divided by the decimal detail;
//!   counters, meters and dictionaries are incremental.
//! * A chart appears once one of its dimensions is linked. The same metric
//!   twice in a chart gets ids `METRIC_TYPE` (different value types) or
//!   `METRIC_TYPEn` (the same one), counted as netdata counts them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rrd::{Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host};
use wire::pluginsd::WordArray;
use wire::simple_pattern::SimplePattern;
use wire::statsd::MetricType;

use super::metrics::{HistogramLast, PRIVATE_CHART_PRIORITY, STATSD_PLUGIN};

/// What a synthetic chart's dimension may read from a metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricValues {
    pub events: i64,
    pub last: i64,
    pub histogram: Option<HistogramLast>,
}

/// What an app decides for a metric its `metrics` pattern matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppClaim {
    /// The app's `private charts`.
    pub private_charts: bool,
    /// The app's `gaps when not collected`.
    pub gaps: bool,
    /// A chart of the app has a dimension for the metric.
    pub used: bool,
}

/// Which value of a metric a dimension shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueType {
    Events,
    Last,
    Average,
    Sum,
    Min,
    Max,
    Percentile,
    Median,
    Stddev,
}

impl ValueType {
    fn parse(word: &str) -> Option<ValueType> {
        Some(match word {
            "" | "last" => ValueType::Last,
            "events" => ValueType::Events,
            "min" => ValueType::Min,
            "max" => ValueType::Max,
            "sum" => ValueType::Sum,
            "average" => ValueType::Average,
            "median" => ValueType::Median,
            "stddev" => ValueType::Stddev,
            "percentile" => ValueType::Percentile,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            ValueType::Events => "events",
            ValueType::Last => "last",
            ValueType::Min => "min",
            ValueType::Max => "max",
            ValueType::Sum => "sum",
            ValueType::Average => "average",
            ValueType::Median => "median",
            ValueType::Stddev => "stddev",
            ValueType::Percentile => "percentile",
        }
    }
}

#[derive(Clone, Debug)]
struct Dim {
    metric: String,
    name: String,
    multiplier: i64,
    divisor: i64,
    hidden: bool,
    value_type: ValueType,
    /// Set for `pattern` dimensions: the pattern and its text.
    pattern: Option<SimplePattern>,
    /// Set once a metric is linked: its type, and the algorithm and divisor
    /// the link chose.
    link: Option<(MetricType, Algorithm, i64)>,
    rd: Option<DimIndex>,
    /// The dimension in the store was defined after the link (an unlinked
    /// one is redefined when its metric arrives, as netdata does).
    rd_linked: bool,
}

#[derive(Debug)]
struct AppChart {
    id: String,
    name: String,
    title: String,
    family: String,
    context: String,
    units: String,
    module: String,
    priority: i64,
    chart_type: ChartType,
    dims: Vec<Dim>,
    linked: usize,
    chart: Option<Arc<Chart>>,
}

#[derive(Debug)]
struct App {
    name: String,
    metrics: SimplePattern,
    private_charts: bool,
    gaps: bool,
    dictionary: Option<HashMap<String, String>>,
    charts: Vec<AppChart>,
}

/// Every app read from the statsd.d folders.
#[derive(Debug, Default)]
pub struct AppCharts {
    /// Newest first, as netdata keeps them.
    apps: Vec<App>,
}

fn fix_id(s: &str) -> String {
    rrd::def::fix_chart_name(s)
}

/// The part of `subject` a one-`*` pattern word matched (netdata's
/// `simple_pattern_matches_extract`); empty when the word has no `*`.
fn extract_wildcard(pattern: &SimplePattern, subject: &str) -> String {
    for word in pattern.as_str().split_whitespace() {
        let word = word.trim_matches(|c| c == '\'' || c == '"');
        let Some((prefix, suffix)) = word.split_once('*') else {
            continue;
        };
        if subject.len() >= prefix.len() + suffix.len()
            && subject.starts_with(prefix)
            && subject.ends_with(suffix.trim_end_matches('*'))
        {
            let end = subject.len() - suffix.trim_end_matches('*').len();
            return subject[prefix.len()..end].to_string();
        }
    }
    String::new()
}

struct Reader<'a> {
    apps: &'a mut Vec<App>,
    stock_dir: PathBuf,
    depth: usize,
}

#[derive(Clone, Copy)]
enum Section {
    None,
    App,
    Dictionary,
    Chart,
}

impl Reader<'_> {
    fn read_file(&mut self, path: &Path, mut section: Section) -> Section {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "statsd: cannot read a statsd.d file");
                return section;
            }
        };
        let file = path.display().to_string();
        let stock = path.starts_with(&self.stock_dir);
        for (number, line) in text.lines().enumerate() {
            let line_no = number + 1;
            let s = line.trim();
            if s.is_empty() || s.starts_with('#') {
                continue;
            }
            if let Some(rest) = s.strip_prefix("include") {
                let target = rest.trim();
                if target.is_empty() {
                    tracing::warn!(%file, line = line_no, "statsd: include without a file name; ignored");
                    continue;
                }
                let target = if target.starts_with('/') {
                    PathBuf::from(target)
                } else {
                    path.parent().unwrap_or(Path::new("/")).join(target)
                };
                if self.depth >= 16 {
                    tracing::warn!(%file, line = line_no, "statsd: includes nested too deep; ignored");
                    continue;
                }
                self.depth += 1;
                section = self.read_file(&target, section);
                self.depth -= 1;
                continue;
            }
            if s.starts_with('[') && s.ends_with(']') {
                let name = &s[1..s.len() - 1];
                section = if name == "app" {
                    self.apps.insert(
                        0,
                        App {
                            name: "unnamed".into(),
                            metrics: SimplePattern::new(""),
                            private_charts: false,
                            gaps: false,
                            dictionary: None,
                            charts: Vec::new(),
                        },
                    );
                    Section::App
                } else if let Some(app) = self
                    .apps
                    .first_mut()
                    .filter(|_| !matches!(section, Section::None))
                {
                    if name == "dictionary" {
                        app.dictionary.get_or_insert_with(HashMap::new);
                        Section::Dictionary
                    } else {
                        let id = fix_id(name);
                        app.charts.insert(
                            0,
                            AppChart {
                                name: id.clone(),
                                title: "Statsd chart".into(),
                                family: "overview".into(),
                                context: id.clone(),
                                units: "value".into(),
                                module: if stock {
                                    path.file_name()
                                        .map(|f| f.to_string_lossy().into_owned())
                                        .unwrap_or_default()
                                } else {
                                    "synthetic_chart".into()
                                },
                                priority: PRIVATE_CHART_PRIORITY,
                                chart_type: ChartType::Line,
                                dims: Vec::new(),
                                linked: 0,
                                chart: None,
                                id,
                            },
                        );
                        Section::Chart
                    }
                } else {
                    tracing::warn!(%file, line = line_no, section = name, "statsd: section outside an [app]; ignored");
                    Section::None
                };
                continue;
            }
            let Some(app) = self
                .apps
                .first_mut()
                .filter(|_| !matches!(section, Section::None))
            else {
                tracing::warn!(%file, line = line_no, "statsd: line outside every section; ignored");
                continue;
            };
            let Some((key, value)) = s.split_once('=') else {
                tracing::warn!(%file, line = line_no, "statsd: line without '='; ignored");
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let yes = |v: &str| v == "yes" || v == "on";
            match section {
                Section::None => {}
                Section::Dictionary => {
                    if let Some(dict) = &mut app.dictionary {
                        dict.insert(key.to_string(), value.to_string());
                    }
                }
                Section::App => match key {
                    "name" => app.name = fix_id(value),
                    "metrics" => app.metrics = SimplePattern::new(value),
                    "private charts" => app.private_charts = yes(value),
                    "gaps when not collected" => app.gaps |= yes(value),
                    "memory mode" | "history" => {}
                    _ => {
                        tracing::warn!(%file, line = line_no, key, "statsd: unknown [app] key; ignored")
                    }
                },
                Section::Chart => {
                    let dictionary = app.dictionary.as_ref();
                    let Some(chart) = app.charts.first_mut() else {
                        continue;
                    };
                    match key {
                        "name" => chart.name = fix_id(value),
                        "title" => chart.title = value.to_string(),
                        "family" => chart.family = value.to_string(),
                        "context" => chart.context = fix_id(value),
                        "units" => chart.units = value.to_string(),
                        "priority" => chart.priority = value.parse().unwrap_or(0),
                        "type" => chart.chart_type = ChartType::parse_lenient(value),
                        "dimension" => match parse_dimension(value, dictionary) {
                            Some(dim) => chart.dims.push(dim),
                            None => {
                                tracing::warn!(%file, line = line_no, "statsd: dimension without a metric; ignored")
                            }
                        },
                        _ => {
                            tracing::warn!(%file, line = line_no, key, chart = %chart.id, "statsd: unknown chart key; ignored")
                        }
                    }
                }
            }
        }
        section
    }
}

fn parse_dimension(value: &str, dictionary: Option<&HashMap<String, String>>) -> Option<Dim> {
    let words = WordArray::split(value.as_bytes());
    let word = |i: usize| {
        words
            .get(i)
            .map(|w| String::from_utf8_lossy(w).into_owned())
    };
    let mut i = 0;
    let mut metric = word(i)?;
    i += 1;
    let pattern = metric == "pattern";
    if pattern {
        metric = word(i)?;
        i += 1;
    }
    let mut name = word(i);
    let value_type = word(i + 1).unwrap_or_default();
    let number = |w: Option<String>| {
        w.and_then(|w| {
            wire::statsd::parse_int_prefix(w.as_bytes())
                .0
                .checked_add(0)
        })
        .filter(|n| *n != 0)
        .unwrap_or(1)
    };
    let multiplier = number(word(i + 2));
    let divisor = number(word(i + 3));
    let options = word(i + 4).unwrap_or_default();
    if !pattern {
        if let Some(dict) = dictionary {
            name = match name.filter(|n| !n.is_empty()) {
                Some(n) => Some(dict.get(&n).cloned().unwrap_or(n)),
                None => dict.get(&metric).cloned(),
            };
        }
        if name.as_deref().is_none_or(str::is_empty) {
            name = Some(metric.clone());
        }
    }
    Some(Dim {
        pattern: pattern.then(|| SimplePattern::new(&metric)),
        metric,
        name: name.unwrap_or_default(),
        multiplier,
        divisor,
        hidden: options.contains("hidden"),
        value_type: ValueType::parse(&value_type).unwrap_or_else(|| {
            tracing::warn!(
                value_type,
                "statsd: unknown dimension value type; using 'last'"
            );
            ValueType::Last
        }),
        link: None,
        rd: None,
        rd_linked: false,
    })
}

/// The `*.conf` files below `dir` (subfolders up to three levels below
/// `base`), as paths relative to `base`.
fn conf_files_below(base: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if depth < 3 {
                conf_files_below(base, &path, depth + 1, out);
            } else {
                tracing::warn!(folder = %path.display(), "statsd: statsd.d folders nested deeper than 3 levels are not read");
            }
        } else if path.extension().is_some_and(|e| e == "conf") && path.is_file() {
            if let Ok(relative) = path.strip_prefix(base) {
                out.push(relative.to_path_buf());
            }
        }
    }
}

impl AppCharts {
    /// Reads `statsd.d/*.conf` (and the `*.conf` of its subfolders, three
    /// levels deep, as netdata does) from the user folder, then the stock
    /// folder for the paths the user has not overridden.
    pub fn load(user_dir: &Path, stock_dir: &Path) -> AppCharts {
        let mut apps = Vec::new();
        let list = |dir: &Path| -> Vec<PathBuf> {
            let base = dir.join("statsd.d");
            let mut files = Vec::new();
            conf_files_below(&base, &base, 0, &mut files);
            files.sort();
            files
        };
        let user = list(user_dir);
        let stock: Vec<PathBuf> = list(stock_dir)
            .into_iter()
            .filter(|relative| !user.contains(relative))
            .collect();
        let user: Vec<PathBuf> = user
            .into_iter()
            .map(|relative| user_dir.join("statsd.d").join(relative))
            .collect();
        let stock: Vec<PathBuf> = stock
            .into_iter()
            .map(|relative| stock_dir.join("statsd.d").join(relative))
            .collect();
        let mut reader = Reader {
            apps: &mut apps,
            stock_dir: stock_dir.to_path_buf(),
            depth: 0,
        };
        for file in user.iter().chain(&stock) {
            reader.read_file(file, Section::None);
        }
        if !apps.is_empty() {
            tracing::info!(
                apps = apps.len(),
                "statsd: synthetic chart apps loaded from statsd.d"
            );
        }
        AppCharts { apps }
    }

    /// Reads the apps of one file (a stock one when it is under
    /// `stock_dir`).
    pub fn from_file(path: &Path, stock_dir: &Path) -> AppCharts {
        let mut apps = Vec::new();
        Reader {
            apps: &mut apps,
            stock_dir: stock_dir.to_path_buf(),
            depth: 0,
        }
        .read_file(path, Section::None);
        AppCharts { apps }
    }

    /// For a new metric: applies every app whose `metrics` match its name
    /// (the last one decides its options) and links it to the dimensions
    /// that name it; `None` when no app matches.
    pub fn claim(&mut self, t: MetricType, name: &str, decimal_detail: i64) -> Option<AppClaim> {
        let mut claim: Option<AppClaim> = None;
        for app in &mut self.apps {
            if !app.metrics.matches(name) {
                continue;
            }
            let mut used = claim.is_some_and(|c| c.used);
            for chart in &mut app.charts {
                let mut i = 0;
                while i < chart.dims.len() {
                    if let Some(pattern) = &chart.dims[i].pattern {
                        if pattern.matches(name) {
                            let wildcarded = format!(
                                "{}{}",
                                chart.dims[i].name,
                                extract_wildcard(pattern, name)
                            );
                            let final_name = app
                                .dictionary
                                .as_ref()
                                .and_then(|d| {
                                    (!wildcarded.is_empty())
                                        .then(|| d.get(&wildcarded))
                                        .flatten()
                                        .or_else(|| d.get(name))
                                })
                                .cloned()
                                .unwrap_or(wildcarded);
                            let template = &chart.dims[i];
                            let dim = Dim {
                                metric: name.to_string(),
                                name: final_name,
                                pattern: None,
                                link: None,
                                rd: None,
                                rd_linked: false,
                                ..template.clone()
                            };
                            chart.dims.push(dim);
                        }
                    } else if chart.dims[i].link.is_none() && chart.dims[i].metric == name {
                        let dim = &mut chart.dims[i];
                        let (algorithm, divisor) = match (dim.value_type, t) {
                            (ValueType::Events, _) => (Algorithm::Incremental, dim.divisor),
                            (_, MetricType::Timer | MetricType::Histogram) => (
                                Algorithm::Absolute,
                                dim.divisor.saturating_mul(decimal_detail),
                            ),
                            (value_type, _) => {
                                if value_type != ValueType::Last {
                                    tracing::warn!(
                                        dimension = %dim.name,
                                        chart = %chart.id,
                                        metric = name,
                                        value_type = value_type.as_str(),
                                        "statsd: unsupported value type for this metric type; using 'last'"
                                    );
                                }
                                match t {
                                    MetricType::Gauge => (
                                        Algorithm::Absolute,
                                        dim.divisor.saturating_mul(decimal_detail),
                                    ),
                                    MetricType::Set => (Algorithm::Absolute, dim.divisor),
                                    _ => (Algorithm::Incremental, dim.divisor),
                                }
                            }
                        };
                        dim.link = Some((t, algorithm, divisor));
                        chart.linked += 1;
                        used = true;
                    }
                    i += 1;
                }
            }
            claim = Some(AppClaim {
                private_charts: app.private_charts,
                gaps: app.gaps,
                used,
            });
        }
        claim
    }

    /// Completes every synthetic chart that has a linked dimension, reading
    /// each linked metric's values through `values`.
    pub fn update(
        &mut self,
        host: &Host,
        now_ut: u64,
        update_every: u32,
        values: &dyn Fn(MetricType, &str) -> Option<MetricValues>,
    ) {
        for app in &mut self.apps {
            for chart in app.charts.iter_mut().filter(|c| c.linked > 0) {
                let handle = chart.chart.get_or_insert_with(|| {
                    let mut def = ChartDef::new(app.name.clone(), chart.id.clone())
                        .name(chart.name.clone())
                        .family(chart.family.clone())
                        .context(chart.context.clone())
                        .title(chart.title.clone())
                        .units(chart.units.clone())
                        .priority(chart.priority)
                        .chart_type(chart.chart_type)
                        .update_every(update_every);
                    def.plugin = STATSD_PLUGIN.to_string();
                    def.module = chart.module.clone();
                    host.create_chart(def)
                });
                let mut writer = handle.write();
                let ids = dimension_ids(&chart.dims);
                for (dim, id) in chart.dims.iter_mut().zip(ids) {
                    if dim.pattern.is_some() {
                        continue;
                    }
                    let (algorithm, divisor) = match dim.link {
                        Some((_, algorithm, divisor)) => (algorithm, divisor),
                        None => (Algorithm::Absolute, dim.divisor),
                    };
                    if dim.rd.is_none() || (dim.link.is_some() && !dim.rd_linked) {
                        dim.rd = Some(
                            writer.add_dimension(
                                DimensionDef::new(id)
                                    .name(dim.name.clone())
                                    .algorithm(algorithm)
                                    .multiplier(dim.multiplier)
                                    .divisor(divisor)
                                    .hidden(dim.hidden),
                            ),
                        );
                        dim.rd_linked = dim.link.is_some();
                    }
                    let Some(rd) = dim.rd else {
                        continue;
                    };
                    let Some((t, _, _)) = dim.link else {
                        continue;
                    };
                    let Some(v) = values(t, &dim.metric) else {
                        continue;
                    };
                    let h = v.histogram.unwrap_or_default();
                    let value = match dim.value_type {
                        ValueType::Events => v.events,
                        ValueType::Last | ValueType::Average => v.last,
                        ValueType::Sum => h.sum,
                        ValueType::Min => h.min,
                        ValueType::Max => h.max,
                        ValueType::Median => h.median,
                        ValueType::Percentile => h.percentile,
                        ValueType::Stddev => h.stddev,
                    };
                    writer.set(rd, value);
                }
                let _ = writer.done(now_ut);
            }
        }
    }
}

/// The dimension ids of a chart's dimensions, as netdata makes them: the
/// metric's name, or with the value type (and its position) when the same
/// metric appears more than once. netdata's count skips the chart's last
/// dimension; so does this.
fn dimension_ids(dims: &[Dim]) -> Vec<String> {
    let counted = &dims[..dims.len().saturating_sub(1)];
    dims.iter()
        .enumerate()
        .map(|(i, dim)| {
            let same_metric = counted.iter().filter(|d| d.metric == dim.metric).count();
            if same_metric <= 1 {
                return dim.metric.clone();
            }
            let same_type: Vec<usize> = counted
                .iter()
                .enumerate()
                .filter(|(_, d)| d.metric == dim.metric && d.value_type == dim.value_type)
                .map(|(j, _)| j)
                .collect();
            if same_type.len() > 1 {
                let position = same_type.iter().position(|&j| j == i).map_or(0, |p| p + 1);
                format!("{}_{}{position}", dim.metric, dim.value_type.as_str())
            } else {
                format!("{}_{}", dim.metric, dim.value_type.as_str())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("backhaul-statsd-apps-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("user/statsd.d")).expect("mkdir");
        std::fs::create_dir_all(dir.join("stock/statsd.d")).expect("mkdir");
        dir
    }

    const APP: &str = "[app]\n  name = myapp\n  metrics = myapp.*\n  private charts = yes\n\
        [dictionary]\n  m1 = Metric One\n\
        [mychart]\n  title = My chart\n  family = fam\n  units = things\n  type = area\n\
        \x20 dimension = myapp.m1 m1 last 1 1\n  dimension = myapp.t t average 1 1\n\
        \x20 dimension = myapp.t '' max 2 1\n  dimension = pattern 'myapp.p.*' 'p_' last 1 1\n";

    #[test]
    fn subfolders_are_read_and_overridden_by_relative_path() {
        let dir = tempdir("subfolders");
        let stock = dir.join("stock/statsd.d");
        let user = dir.join("user/statsd.d");
        std::fs::create_dir_all(stock.join("team/a")).unwrap();
        std::fs::create_dir_all(user.join("team")).unwrap();
        std::fs::create_dir_all(user.join("1/2/3/4")).unwrap();
        write(
            &stock.join("team/a"),
            "deep.conf",
            "[app]\n name = deep\n metrics = d\n",
        );
        write(
            &stock.join("team"),
            "t.conf",
            "[app]\n name = stockteam\n metrics = s\n",
        );
        write(
            &user.join("team"),
            "t.conf",
            "[app]\n name = userteam\n metrics = u\n",
        );
        write(
            &user.join("1/2/3"),
            "three.conf",
            "[app]\n name = three\n metrics = x\n",
        );
        write(
            &user.join("1/2/3/4"),
            "four.conf",
            "[app]\n name = four\n metrics = y\n",
        );
        write(
            &user.join("team"),
            "notes.txt",
            "[app]\n name = txt\n metrics = z\n",
        );
        let apps = AppCharts::load(&dir.join("user"), &dir.join("stock"));
        let mut names: Vec<&str> = apps.apps.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["deep", "three", "userteam"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn files_sections_and_override() {
        let dir = tempdir("load");
        write(&dir.join("stock/statsd.d"), "a.conf", APP);
        write(
            &dir.join("stock/statsd.d"),
            "b.conf",
            "[app]\n name = stockonly\n metrics = x\n",
        );
        write(
            &dir.join("user/statsd.d"),
            "b.conf",
            "[app]\n name = mine\n metrics = y\n",
        );
        let apps = AppCharts::load(&dir.join("user"), &dir.join("stock"));
        let names: Vec<&str> = apps.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["myapp", "mine"],
            "newest first; the user's b.conf wins"
        );
        let chart = &apps.apps[0].charts[0];
        assert_eq!(
            (
                chart.id.as_str(),
                chart.title.as_str(),
                chart.module.as_str(),
                chart.chart_type
            ),
            ("mychart", "My chart", "a.conf", ChartType::Area)
        );
        assert_eq!(chart.dims[0].name, "Metric One");
        assert_eq!(chart.dims[2].name, "myapp.t");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn linked_metrics_feed_the_chart() {
        let dir = tempdir("link");
        let path = write(&dir.join("user/statsd.d"), "app.conf", APP);
        let mut apps = AppCharts::from_file(&path, &dir.join("stock"));
        let host = Host::new("t", 10);
        assert_eq!(apps.claim(MetricType::Gauge, "other", 1000), None);
        let claim = apps
            .claim(MetricType::Gauge, "myapp.m1", 1000)
            .expect("claimed");
        assert_eq!(
            claim,
            AppClaim {
                private_charts: true,
                gaps: false,
                used: true
            }
        );
        apps.claim(MetricType::Timer, "myapp.t", 1000);
        apps.claim(MetricType::Counter, "myapp.p.x", 1000);
        let values = |t: MetricType, name: &str| -> Option<MetricValues> {
            Some(match (t, name) {
                (MetricType::Gauge, "myapp.m1") => MetricValues {
                    events: 1,
                    last: 5000,
                    histogram: None,
                },
                (MetricType::Timer, "myapp.t") => MetricValues {
                    events: 2,
                    last: 7000,
                    histogram: Some(HistogramLast {
                        max: 9000,
                        ..HistogramLast::default()
                    }),
                },
                (MetricType::Counter, "myapp.p.x") => MetricValues {
                    events: 1,
                    last: 3,
                    histogram: None,
                },
                _ => return None,
            })
        };
        apps.update(&host, 100_000_000, 1, &values);
        let chart = host.chart_by_id("myapp.mychart").expect("synthetic chart");
        let state = chart.read();
        let dims: Vec<(String, String, i64, i64, Option<i64>)> = state
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.id().to_string(),
                    d.name().to_string(),
                    d.def().multiplier,
                    d.def().divisor,
                    d.last_collected().map(|(v, _)| v),
                )
            })
            .collect();
        assert_eq!(
            dims,
            [
                ("myapp.m1".into(), "Metric One".into(), 1, 1000, Some(5000)),
                ("myapp.t_average".into(), "t".into(), 1, 1000, Some(7000)),
                ("myapp.t_max".into(), "myapp.t".into(), 2, 1000, Some(9000)),
                ("myapp.p.x".into(), "p_x".into(), 1, 1, Some(3)),
            ]
        );
        assert_eq!(state.def().family, "fam");
        assert_eq!(state.def().module, "synthetic_chart");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
