//! `GET /metrics`: the text is read by a strict parser of the OpenMetrics exposition format
//! (what Prometheus scrapes), not searched for substrings, and its numbers move as the
//! requests made here say they should.

use crate::support::{answer, get, peer, post, sample};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use result_aggregation_server::app::App;
use result_aggregation_server::config::{Config, Location};
use result_aggregation_server::metrics::Metrics;
use result_aggregation_server::report::MAX_BODY_BYTES;
use result_aggregation_server::storage::Store;
use result_aggregation_server::throttle::Throttle;
use std::collections::BTreeMap;

/// A sample's labels, sorted by name.
pub type Labels = Vec<(String, String)>;

/// A sample's name and its labels, e.g. `("ras_reports_refused_total",
/// [("reason", "throttled")])`.
pub type Series = (String, Labels);

/// Every sample of an exposition, checked against the format's rules.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: BTreeMap<Series, f64>,
    /// Family name -> type.
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    /// The value of `name` with exactly these labels; panics when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        *self
            .samples
            .get(&(name.to_owned(), labels.clone()))
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:#?}", self.samples))
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A number as the format writes it: decimal or exponent notation, `+Inf`, `-Inf`, `NaN`.
fn number(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
            && text.chars().any(|c| c.is_ascii_digit()) =>
        {
            text.parse()
                .map_err(|_| format!("'{text}' is not a number"))
        }
        _ => Err(format!("'{text}' is not a number")),
    }
}

/// `{a="x",b="y\"z"}` -> the pairs, unescaped; the rest of the line after the `}`.
fn labels(text: &str) -> Result<(Labels, &str), String> {
    let mut rest = text.strip_prefix('{').ok_or("labels must start with {")?;
    let mut pairs = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((pairs, after));
        }
        let (name, after) = rest.split_once("=\"").ok_or("a label needs =\"")?;
        if !is_label_name(name) {
            return Err(format!("'{name}' is not a label name"));
        }
        if pairs.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} twice"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((at, '"')) => break at,
                Some((_, '\n')) | None => return Err("unterminated label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        pairs.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The suffixes a sample of a family of `kind` may add to the family's name.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" | "gaugehistogram" => {
            &["_bucket", "_count", "_sum", "_created", "_gcount", "_gsum"]
        }
        "summary" => &["", "_count", "_sum", "_created"],
        "info" => &["_info"],
        _ => &[""],
    }
}

/// Reads an OpenMetrics text exposition, refusing anything the format does not allow:
/// unknown line kinds, a family described twice or interleaved with another, a sample whose
/// name does not belong to its family, bad names, labels, escapes or numbers, a missing or
/// misplaced `# EOF`, negative counters, and histograms whose buckets are not cumulative or
/// do not end at `+Inf` with `_count`.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the exposition must end with '# EOF' and a newline")?;
    let mut exposition = Exposition::default();
    let mut current: Option<String> = None;
    let mut finished: Vec<String> = Vec::new();
    for (number_of_line, line) in body.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {line}", number_of_line + 1);
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (keyword, family) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let rest = words.next();
            if !is_metric_name(family) {
                return Err(at(format!("'{family}' is not a metric name")));
            }
            if current.as_deref() != Some(family) {
                if finished.iter().any(|f| f == family) {
                    return Err(at(format!("{family} is described twice")));
                }
                if let Some(previous) = current.replace(family.to_owned()) {
                    finished.push(previous);
                }
            }
            match (keyword, rest) {
                ("HELP", Some(_)) => {}
                ("TYPE", Some(kind)) => {
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "stateset",
                        "info",
                        "summary",
                        "unknown",
                    ];
                    if !known.contains(&kind) {
                        return Err(at(format!("unknown type {kind}")));
                    }
                    if exposition
                        .types
                        .insert(family.to_owned(), kind.to_owned())
                        .is_some()
                    {
                        return Err(at("a second TYPE".into()));
                    }
                }
                ("UNIT", Some(unit)) if family.ends_with(&format!("_{unit}")) => {}
                _ => return Err(at("not a HELP, TYPE or UNIT line".into())),
            }
            continue;
        }
        let family = current
            .as_deref()
            .ok_or_else(|| at("a sample before any TYPE".into()))?;
        let kind = exposition
            .types
            .get(family)
            .map_or("unknown", String::as_str);
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name)
            || !suffixes(kind)
                .iter()
                .any(|suffix| name == format!("{family}{suffix}"))
        {
            return Err(at(format!("{name} is not a sample of the {kind} {family}")));
        }
        let (mut pairs, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("one space before the value".into()))?;
        let mut fields = rest.split(' ');
        let value = number(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(timestamp) = fields.next() {
            number(timestamp).map_err(at)?;
        }
        if fields.next().is_some() {
            return Err(at("more than a value and a timestamp".into()));
        }
        if kind == "counter" && value < 0.0 {
            return Err(at("a counter below zero".into()));
        }
        pairs.sort();
        if exposition
            .samples
            .insert((name.to_owned(), pairs), value)
            .is_some()
        {
            return Err(at("the same series twice".into()));
        }
    }
    check_histograms(&exposition)?;
    Ok(exposition)
}

/// Each histogram series: buckets non-decreasing in `le` order, the last at `+Inf`, equal to
/// `_count`, and a `_sum`.
fn check_histograms(exposition: &Exposition) -> Result<(), String> {
    for (family, _) in exposition.types.iter().filter(|(_, k)| *k == "histogram") {
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), value) in &exposition.samples {
            if *name == format!("{family}_bucket") {
                let le = labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .ok_or(format!("{name} without le"))?;
                let others: Vec<_> = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
                series
                    .entry(others)
                    .or_default()
                    .push((number(&le.1)?, *value));
            }
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{labels:?}: buckets are not cumulative"));
            }
            let last = buckets.last().expect("at least one bucket");
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{labels:?}: no +Inf bucket"));
            }
            let count = exposition
                .samples
                .get(&(format!("{family}_count"), labels.clone()));
            if count != Some(&last.1) {
                return Err(format!("{family}{labels:?}: _count is not the +Inf bucket"));
            }
            if !exposition
                .samples
                .contains_key(&(format!("{family}_sum"), labels.clone()))
            {
                return Err(format!("{family}{labels:?}: no _sum"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_parser_refuses_what_the_format_does_not_allow() {
    let good = "# TYPE a counter\n# HELP a An a.\na_total{x=\"1\\\"\"} 2\n\
                # TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3.5\n# EOF\n";
    let parsed = parse(good).unwrap();
    assert_eq!(parsed.value("a_total", &[("x", "1\"")]), 2.0);
    for bad in [
        good.trim_end_matches("# EOF\n"),
        &good.replace("a_total", "b_total"),
        &good.replace("a_total{x", "a_total{1x"),
        &good.replace(" 2\n#", " two\n#"),
        &good.replace("h_count 2", "h_count 3"),
        &good.replace("h_bucket{le=\"1.0\"} 1", "h_bucket{le=\"1.0\"} 3"),
        &good.replace("\\\"\"}", "\\q\"}"),
        &good.replace("# TYPE a counter", "# TYPE a thing"),
        &format!("{}a_total 1\n# EOF\n", good.trim_end_matches("# EOF\n")),
        &good.replace("# HELP a An a.", "# HELP a An a.\nstray line"),
    ] {
        assert!(parse(bad).is_err(), "accepted:\n{bad}");
    }
}

async fn scrape(app: &App) -> (String, Exposition) {
    let response = app.handle(get("/metrics"), peer("127.0.0.1")).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (content_type, parsed)
}

#[tokio::test]
async fn metrics_parse_and_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        db: Location::File(dir.path().join("ras.db")),
        rate_limit: Some("4/hour".parse().unwrap()),
        ..Config::in_memory()
    };
    let metrics = Metrics::new();
    let store = Store::open_with_metrics(&config.db, metrics.clone()).unwrap();
    let throttle = Throttle::start(&config, &metrics).await.unwrap();
    let app = App::with_metrics(&config, store, throttle, metrics);

    let (content_type, before) = scrape(&app).await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert_eq!(before.value("ras_reports_accepted_total", &[]), 0.0);
    assert_eq!(
        before.value("ras_throttle_backend", &[("backend", "memory")]),
        1.0
    );
    assert_eq!(
        before.value("ras_throttle_backend", &[("backend", "redis")]),
        0.0
    );
    assert!(before.value("ras_database_size_bytes", &[("file", "main")]) > 0.0);

    let from = |ip| peer(ip);
    let good = sample(None, None, None).to_string();
    for _ in 0..2 {
        let a = answer(
            app.handle(post("/installation_data/", good.clone()), from("192.0.2.1"))
                .await,
        )
        .await;
        assert_eq!(a.status, 200);
    }
    let bad = answer(
        app.handle(post("/installation_data/", "{nope"), from("192.0.2.1"))
            .await,
    )
    .await;
    assert_eq!(bad.status, 400);
    let huge = Request::post("/installation_data/")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(vec![b' '; MAX_BODY_BYTES + 1])))
        .unwrap();
    assert_eq!(app.handle(huge, from("192.0.2.1")).await.status(), 413);
    // The fifth submission from this address is over 4/hour.
    let over = answer(
        app.handle(post("/installation_data/", good.clone()), from("192.0.2.1"))
            .await,
    )
    .await;
    assert_eq!(over.status, 429);
    let page = app.handle(get("/view/"), from("192.0.2.9")).await;
    assert_eq!(page.status(), 200);

    let (_, after) = scrape(&app).await;
    assert_eq!(after.value("ras_reports_accepted_total", &[]), 2.0);
    assert_eq!(
        after.value("ras_reports_refused_total", &[("reason", "bad_input")]),
        1.0
    );
    assert_eq!(
        after.value("ras_reports_refused_total", &[("reason", "too_large")]),
        1.0
    );
    assert_eq!(
        after.value("ras_reports_refused_total", &[("reason", "throttled")]),
        1.0
    );
    let submits = [("route", "submit")];
    assert_eq!(
        after.value("ras_request_duration_seconds_count", &submits),
        5.0
    );
    assert_eq!(
        after.value(
            "ras_request_duration_seconds_count",
            &[("route", "dashboard")]
        ),
        1.0
    );
    // The first scrape is counted by the time of the second.
    assert_eq!(
        after.value(
            "ras_request_duration_seconds_count",
            &[("route", "metrics")]
        ),
        1.0
    );
    assert_eq!(after.value("ras_writer_batch_size_sum", &[]), 2.0);
    assert!(after.value("ras_writer_commit_seconds_count", &[]) >= 1.0);
    assert_eq!(after.value("ras_redis_errors_total", &[]), 0.0);
    app.store.close();
}

#[tokio::test]
async fn metrics_off_is_not_served() {
    let config = Config {
        metrics: false,
        ..Config::in_memory()
    };
    let app = App::new(
        &config,
        crate::support::memory_store(),
        Throttle::from_limit(None),
    );
    let response = answer(app.handle(get("/metrics"), peer("127.0.0.1")).await).await;
    assert_eq!(response.status, 404);
}

/// Whatever the method: `--metrics off` makes `/metrics` an unknown path, not a 405.
#[tokio::test]
async fn metrics_off_is_not_served_to_any_method() {
    let config = Config {
        metrics: false,
        ..Config::in_memory()
    };
    let app = App::new(
        &config,
        crate::support::memory_store(),
        Throttle::from_limit(None),
    );
    let request = post("/metrics", "");
    let response = answer(app.handle(request, peer("127.0.0.1")).await).await;
    assert_eq!(response.status, 404);
}
