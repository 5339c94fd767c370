//! What the pages show, computed from what the API answers: no HTTP, no DOM, so it is tested
//! with plain unit tests on any machine.

use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

use tollgate_api_types::{
    DriftReport, DriftThresholds, ErrorBody, ModelStage, ParamValue, StageChange, TestReport,
};

/// Why a request did not give what the page wanted, told apart as a person needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No valid sign-in (401).
    NotSignedIn(String),
    /// Signed in, but not in the group the action needs (403).
    Forbidden(String),
    NotFound(String),
    /// A rule said no (the author approving, a rejection without a comment...): the reason.
    Refused(String),
    /// The request was malformed: the field and why.
    Invalid {
        message: String,
        field: Option<String>,
    },
    /// Someone else changed it meanwhile.
    Conflict(String),
    /// The server or the network did not answer.
    Network(String),
    Internal(String),
}

impl Failure {
    /// The failure an answer with `status` and `body` (the API's [`ErrorBody`]) means.
    pub fn from_answer(status: u16, body: &str) -> Self {
        let (code, message, field) = match serde_json::from_str::<ErrorBody>(body) {
            Ok(b) => (b.error.code, b.error.message, b.error.field),
            Err(_) => (
                String::new(),
                format!("the server answered {status}: {}", body.trim()),
                None,
            ),
        };
        match (status, code.as_str()) {
            (401, _) | (_, "unauthenticated") => Self::NotSignedIn(message),
            (403, _) | (_, "forbidden") => Self::Forbidden(message),
            (404, _) | (_, "not_found") => Self::NotFound(message),
            (409, "conflict") => Self::Conflict(message),
            (409, _) | (_, "refused") => Self::Refused(message),
            (400 | 422, _) | (_, "invalid") => Self::Invalid { message, field },
            (502..=504, _) | (_, "unavailable") => Self::Network(message),
            _ => Self::Internal(message),
        }
    }

    /// What kind of failure, as the heading of the message.
    pub fn title(&self) -> &'static str {
        match self {
            Self::NotSignedIn(_) => "Not signed in",
            Self::Forbidden(_) => "Not allowed",
            Self::NotFound(_) => "Not found",
            Self::Refused(_) => "Refused by a rule",
            Self::Invalid { .. } => "Not a valid request",
            Self::Conflict(_) => "Changed meanwhile",
            Self::Network(_) => "The server did not answer",
            Self::Internal(_) => "Something went wrong on the server",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Invalid {
                message,
                field: Some(field),
            } => format!("{field}: {message}"),
            Self::NotSignedIn(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Refused(m)
            | Self::Invalid { message: m, .. }
            | Self::Conflict(m)
            | Self::Network(m)
            | Self::Internal(m) => m.clone(),
        }
    }

    /// What the person can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::NotSignedIn(_) => "Sign in, then try again.",
            Self::Forbidden(_) => "Ask for the group it names, or sign in as someone who has it.",
            Self::NotFound(_) => "Check the address, or go back to the list.",
            Self::Refused(_) => "Nothing was changed.",
            Self::Invalid { .. } => "Correct it and try again.",
            Self::Conflict(_) => "Reload the page to see the current state, then decide again.",
            Self::Network(_) => "Check that the server is running, then reload the page.",
            Self::Internal(_) => "Reload the page; if it persists, the server's log says more.",
        }
    }
}

/// A path segment, percent-encoded (everything but `A-Z a-z 0-9 - . _ ~`).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `2026-12-03 08:04:16 UTC`.
pub fn absolute(at: Timestamp) -> String {
    // Written out rather than with `strftime`, whose formatter is tens of KB of wasm.
    let t = jiff::tz::TimeZone::UTC.to_datetime(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`, `in 6 days` (for a time to come).
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second() - at.as_second();
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    let text = match amount {
        0..45 => return "just now".into(),
        45..5_400 => format!("{} min", amount.div_ceil(60).max(1)),
        5_400..172_800 => format!("{} h", (amount + 1_800) / 3_600),
        _ => format!("{} days", (amount + 43_200) / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `at` to the second before it, as the pages show it (a clock's reading: 08:04:16.9 is
/// 08:04:16).
pub fn to_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// A metric's value as the pages show it: four significant decimals, or `—` when missing.
pub fn metric(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => {
            let text = format!("{v:.4}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        Some(v) => v.to_string(),
        None => "—".into(),
    }
}

/// A span of time as a person reads it: `45 s`, `12 min 5 s`, `3 h 20 min`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
    }
}

/// The model test report in the answer's JSON, or why it cannot be read.
pub fn report(json: &Value) -> Result<TestReport, String> {
    serde_json::from_value(json.clone())
        .map_err(|e| format!("the test report could not be read: {e}"))
}

/// One line of the side-by-side comparison: a check or a metric, the candidate's against
/// production's.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub name: String,
    /// The check's kind, or `metric`.
    pub kind: String,
    pub candidate: Option<f64>,
    pub production: Option<f64>,
    /// `>= 0.8` for a check; empty for a metric.
    pub rule: String,
    /// The candidate's verdict on a check; `None` for a metric.
    pub passed: Option<bool>,
}

impl Compared {
    /// Whether the two sides differ (a value only one side has, or values apart by more than
    /// rounding).
    pub fn differs(&self) -> bool {
        match (self.candidate, self.production) {
            (Some(a), Some(b)) => (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0),
            (None, None) => false,
            _ => true,
        }
    }
}

/// The candidate's checks and metrics beside production's, both measured on the same test rows
/// (the report's `production_metrics`): a threshold check's production value is production's
/// value of that metric; other checks compare with production already (improvement) or have
/// no production side. `differences_only` leaves out the lines where both agree.
pub fn compare(candidate: &TestReport, differences_only: bool) -> Vec<Compared> {
    let theirs = candidate.production_metrics.as_ref();
    let mut rows: Vec<Compared> = candidate
        .checks
        .iter()
        .map(|c| Compared {
            name: c.name.clone(),
            kind: c.kind.clone(),
            candidate: c.value,
            production: match c.kind.as_str() {
                "threshold" => theirs.and_then(|m| m.get(&c.name).copied()),
                _ => None,
            },
            rule: format!("{} {}", c.comparison, metric(Some(c.threshold))),
            passed: Some(c.passed),
        })
        .collect();
    rows.extend(candidate.metrics.iter().map(|(name, value)| Compared {
        name: name.clone(),
        kind: "metric".into(),
        candidate: Some(*value),
        production: theirs.and_then(|m| m.get(name).copied()),
        rule: String::new(),
        passed: None,
    }));
    if differences_only {
        rows.retain(Compared::differs);
    }
    rows
}

/// A time typed into a `datetime-local` box (`2026-12-03T09:30`, seconds optional), read as
/// UTC as the pages show times; a full timestamp (`...Z`) is taken as it is.
pub fn utc_input(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    // `datetime-local` writes no zone, and no seconds when they are 0. Made a UTC timestamp
    // and read by the one timestamp parser (jiff's civil parser would add to the wasm).
    let seconds = if text.len() == "2026-12-03T09:30".len() {
        ":00"
    } else {
        ""
    };
    format!("{text}{seconds}Z").parse().ok()
}

/// The console page of a lineage node, by its id (`dataset:wine/v2`, `run:<id>`,
/// `trial:<run>/<n>`, `model:wine-quality/v3`, `contract:wine/v1`), when it has one.
pub fn lineage_href(id: &str) -> Option<String> {
    let (kind, rest) = id.split_once(':')?;
    let versioned = |rest: &str| -> Option<(String, u32)> {
        let (name, version) = rest.rsplit_once("/v")?;
        Some((encode_segment(name), version.parse().ok()?))
    };
    match kind {
        "dataset" => versioned(rest).map(|(n, v)| format!("/datasets/{n}/versions/{v}")),
        "contract" => versioned(rest).map(|(n, _)| format!("/datasets/{n}")),
        "model" => versioned(rest).map(|(n, v)| format!("/models/{n}/versions/{v}")),
        "run" => Some(format!("/runs/{}", encode_segment(rest))),
        "trial" => {
            let (run, _) = rest.rsplit_once('/')?;
            Some(format!("/runs/{}", encode_segment(run)))
        }
        _ => None,
    }
}

/// The version that was in production at `at`, by the stage history (oldest first).
pub fn in_production_at(history: &[StageChange], at: Timestamp) -> Option<u32> {
    let mut current = None;
    for change in history.iter().take_while(|c| c.at <= at) {
        if change.to == ModelStage::Production {
            current = Some(change.version);
        } else if change.from == ModelStage::Production && current == Some(change.version) {
            current = None;
        }
    }
    current
}

/// Spans of production in the history: each version with when it went in and, unless it is
/// still there, when it left; oldest first.
pub fn production_spans(history: &[StageChange]) -> Vec<(u32, Timestamp, Option<Timestamp>)> {
    let mut spans: Vec<(u32, Timestamp, Option<Timestamp>)> = Vec::new();
    for change in history {
        if change.to == ModelStage::Production {
            spans.push((change.version, change.at, None));
        } else if change.from == ModelStage::Production
            && let Some(open) = spans
                .iter_mut()
                .rev()
                .find(|s| s.0 == change.version && s.2.is_none())
        {
            open.2 = Some(change.at);
        }
    }
    spans
}

/// One statistic of a column's drift, with the contract's threshold for it when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistic {
    pub name: String,
    pub value: f64,
    pub threshold: Option<f64>,
    pub exceeded: bool,
}

/// A column's drift against the version before, as the dataset version page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDriftRow {
    pub column: String,
    pub kind: String,
    pub statistics: Vec<Statistic>,
    /// The largest ratio of a statistic to its threshold: past 1, the column drifted.
    pub severity: f64,
}

impl ColumnDriftRow {
    pub fn drifted(&self) -> bool {
        self.statistics.iter().any(|s| s.exceeded)
    }
}

/// The drift report's columns, the most severe first: drifted ones lead, ordered by how far
/// past a threshold they went; columns with no threshold at all come last.
pub fn drift_rows(report: &DriftReport, thresholds: &DriftThresholds) -> Vec<ColumnDriftRow> {
    let mut rows: Vec<ColumnDriftRow> = report
        .columns
        .iter()
        .map(|(column, drift)| {
            let statistics: Vec<Statistic> = drift
                .statistics
                .iter()
                .map(|(name, &value)| Statistic {
                    name: name.clone(),
                    value,
                    threshold: thresholds.for_statistic(name),
                    exceeded: drift.exceeded.contains(name),
                })
                .collect();
            let severity = statistics
                .iter()
                .filter_map(|s| Some(s.value / s.threshold.filter(|t| *t > 0.0)?))
                .filter(|r| r.is_finite())
                .fold(0.0, f64::max);
            ColumnDriftRow {
                column: column.clone(),
                kind: drift.kind.clone(),
                statistics,
                severity,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.drifted()
            .cmp(&a.drifted())
            .then(b.severity.total_cmp(&a.severity))
            .then(a.column.cmp(&b.column))
    });
    rows
}

/// A trial's value of `metric` on the validation rows (`validation:<metric>`, as the trainer
/// reports it; the bare name when that is all there is).
pub fn validation_metric(metrics: &BTreeMap<String, f64>, metric: &str) -> Option<f64> {
    metrics
        .get(&format!("validation:{metric}"))
        .or_else(|| metrics.get(metric))
        .copied()
}

/// A hyperparameter against the metric, over a run's trials: numbers as they are, text and
/// booleans at the index of their value in `categories`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Empty for a numeric hyperparameter.
    pub categories: Vec<String>,
}

/// One series per hyperparameter, in name order, from each trial's values and its metric (a
/// trial without the metric is left out).
pub fn param_series(trials: &[(&BTreeMap<String, ParamValue>, Option<f64>)]) -> Vec<ParamSeries> {
    let mut series: BTreeMap<String, ParamSeries> = BTreeMap::new();
    for (params, metric) in trials {
        let Some(y) = metric.filter(|m| m.is_finite()) else {
            continue;
        };
        for (name, value) in params.iter() {
            let s = series.entry(name.clone()).or_insert_with(|| ParamSeries {
                name: name.clone(),
                points: Vec::new(),
                categories: Vec::new(),
            });
            let x = match value {
                ParamValue::Int(i) => *i as f64,
                ParamValue::Float(f) => *f,
                ParamValue::Bool(_) | ParamValue::Text(_) => {
                    let text = value.to_job_string();
                    let at = match s.categories.iter().position(|c| *c == text) {
                        Some(at) => at,
                        None => {
                            s.categories.push(text);
                            s.categories.len() - 1
                        }
                    };
                    at as f64
                }
            };
            s.points.push((x, y));
        }
    }
    series.into_values().collect()
}

/// The best objective so far (lower is better) after each trial that has one, in trial order:
/// the curve of a tuning run.
pub fn best_so_far(objectives: &[(u32, Option<f64>)]) -> Vec<(u32, f64)> {
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for &(trial, objective) in objectives {
        if let Some(o) = objective.filter(|o| o.is_finite()) {
            best = best.min(o);
            out.push((trial, best));
        }
    }
    out
}

/// How a trials table is sorted: by trial number, or best objective first (trials without
/// one last).
pub fn trial_order(rows: &mut [(u32, Option<f64>)], by_objective: bool) {
    if by_objective {
        rows.sort_by(|a, b| match (a.1, b.1) {
            (Some(x), Some(y)) => x.total_cmp(&y).then(a.0.cmp(&b.0)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.0.cmp(&b.0),
        });
    } else {
        rows.sort_by_key(|r| r.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn an_error_answer_says_which_kind_of_failure_it_is() {
        let body = |code: &str| json!({ "error": { "code": code, "message": "why" } }).to_string();
        assert_eq!(
            Failure::from_answer(409, &body("refused")),
            Failure::Refused("why".into())
        );
        assert_eq!(
            Failure::from_answer(409, &body("conflict")),
            Failure::Conflict("why".into())
        );
        assert_eq!(
            Failure::from_answer(403, &body("forbidden")).title(),
            "Not allowed"
        );
        assert!(matches!(
            Failure::from_answer(401, &body("unauthenticated")),
            Failure::NotSignedIn(_)
        ));
        let invalid = Failure::from_answer(
            400,
            &json!({ "error": { "code": "invalid", "message": "is required", "field": "comment" } })
                .to_string(),
        );
        assert_eq!(invalid.message(), "comment: is required");
        // A proxy's page, not the API's body, still reads as a sentence.
        let gateway = Failure::from_answer(502, "<html>Bad Gateway</html>");
        assert!(matches!(gateway, Failure::Network(ref m) if m.contains("502")));
    }

    #[test]
    fn times_read_as_absolute_and_relative() {
        let now = at("2026-12-03T10:00:00Z");
        assert_eq!(
            absolute(at("2026-12-03T08:04:16.5Z")),
            "2026-12-03 08:04:16 UTC"
        );
        assert_eq!(
            to_second(at("2026-12-03T08:04:16.9Z")),
            at("2026-12-03T08:04:16Z")
        );
        assert_eq!(relative(at("2026-12-03T09:59:50Z"), now), "just now");
        assert_eq!(relative(at("2026-12-03T09:55:00Z"), now), "5 min ago");
        assert_eq!(relative(at("2026-12-03T07:00:00Z"), now), "3 h ago");
        assert_eq!(relative(at("2026-11-30T10:00:00Z"), now), "3 days ago");
        assert_eq!(relative(at("2026-12-09T10:00:00Z"), now), "in 6 days");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("wine-quality"), "wine-quality");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    fn sample(accuracy: f64, passed: bool) -> TestReport {
        report(&json!({
            "passed": passed,
            "checks": [
                { "kind": "threshold", "name": "accuracy", "value": accuracy,
                  "comparison": ">=", "threshold": 0.5, "passed": passed },
                { "kind": "invariance", "name": "flip rate", "value": null,
                  "comparison": "<=", "threshold": 0.1, "passed": false }
            ],
            "metrics": { "accuracy": accuracy, "f1": 0.4 },
            "production_metrics": { "accuracy": 0.6, "f1": 0.4 }
        }))
        .unwrap()
    }

    #[test]
    fn a_report_that_is_not_one_says_so() {
        let err = report(&json!({ "passed": "yes" })).unwrap_err();
        assert!(
            err.starts_with("the test report could not be read"),
            "{err}"
        );
    }

    #[test]
    fn a_report_is_compared_with_production_line_by_line() {
        let candidate = sample(0.7, true);
        let rows = compare(&candidate, false);
        assert_eq!(rows.len(), 4, "{rows:#?}");
        assert_eq!(rows[0].name, "accuracy");
        assert_eq!(
            (rows[0].candidate, rows[0].production),
            (Some(0.7), Some(0.6))
        );
        assert_eq!(rows[0].rule, ">= 0.5");
        assert_eq!(
            rows[1].candidate, None,
            "a check that could not be measured"
        );
        // Metrics come from the same test rows: production_metrics.
        let f1 = rows.iter().find(|r| r.name == "f1").unwrap();
        assert_eq!((f1.candidate, f1.production), (Some(0.4), Some(0.4)));
        let differences = compare(&candidate, true);
        assert_eq!(
            differences
                .iter()
                .map(|r| (r.kind.as_str(), r.name.as_str()))
                .collect::<Vec<_>>(),
            [("threshold", "accuracy"), ("metric", "accuracy")],
            "equal lines and lines neither side measured are left out"
        );
        // Without production every line stands alone.
        let mut alone = candidate.clone();
        alone.production_metrics = None;
        assert!(
            compare(&alone, false)
                .iter()
                .all(|r| r.production.is_none())
        );
    }

    fn change(version: u32, from: ModelStage, to: ModelStage, when: &str) -> StageChange {
        StageChange {
            version,
            from,
            to,
            at: at(when),
            actor: tollgate_api_types::UserId::parse("ana").unwrap(),
        }
    }

    #[test]
    fn the_history_answers_what_was_in_production_at_a_time() {
        use ModelStage::*;
        let history = [
            change(1, Candidate, Staging, "2026-12-01T00:00:00Z"),
            change(1, Staging, Production, "2026-12-01T01:00:00Z"),
            change(2, Staging, Production, "2026-12-02T00:00:00Z"),
            change(1, Production, Archived, "2026-12-02T00:00:00Z"),
            change(2, Production, Archived, "2026-12-03T00:00:00Z"),
            change(1, Archived, Production, "2026-12-03T00:00:00Z"),
        ];
        assert_eq!(in_production_at(&history, at("2026-12-01T00:30:00Z")), None);
        assert_eq!(
            in_production_at(&history, at("2026-12-01T12:00:00Z")),
            Some(1)
        );
        assert_eq!(
            in_production_at(&history, at("2026-12-02T12:00:00Z")),
            Some(2)
        );
        assert_eq!(
            in_production_at(&history, at("2026-12-03T12:00:00Z")),
            Some(1),
            "rolled back"
        );
        let spans = production_spans(&history);
        assert_eq!(spans.len(), 3);
        assert_eq!(
            spans[0],
            (
                1,
                at("2026-12-01T01:00:00Z"),
                Some(at("2026-12-02T00:00:00Z"))
            )
        );
        assert_eq!(
            spans[2],
            (1, at("2026-12-03T00:00:00Z"), None),
            "still there"
        );
    }

    #[test]
    fn durations_read_in_the_largest_units_that_fit() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(725), "12 min 5 s");
        assert_eq!(duration(12_000), "3 h 20 min");
        assert_eq!(duration(-3), "0 s");
    }

    #[test]
    fn metrics_read_with_four_decimals_at_most() {
        assert_eq!(metric(Some(0.700_00)), "0.7");
        assert_eq!(metric(Some(0.123_456)), "0.1235");
        assert_eq!(metric(None), "—");
    }

    #[test]
    fn a_run_curve_keeps_the_best_so_far_and_skips_trials_without_an_objective() {
        let trials = [
            (0, Some(0.5)),
            (1, None),
            (2, Some(0.7)),
            (3, Some(0.3)),
            (4, Some(f64::NAN)),
        ];
        assert_eq!(best_so_far(&trials), [(0, 0.5), (2, 0.5), (3, 0.3)]);
        let mut rows = trials.to_vec();
        trial_order(&mut rows, true);
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            [3, 0, 2, 4, 1]
        );
        trial_order(&mut rows, false);
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn drift_lists_the_drifted_columns_first_the_worst_on_top() {
        use tollgate_api_types::ColumnDrift;
        let column = |stats: &[(&str, f64)], exceeded: &[&str]| ColumnDrift {
            kind: "numeric".into(),
            statistics: stats.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            exceeded: exceeded.iter().map(|s| s.to_string()).collect(),
            error_bounds: Default::default(),
        };
        let report = DriftReport {
            baseline_version: 1,
            columns: [
                (
                    "calm".to_string(),
                    column(&[("ks", 0.05), ("psi", 0.01)], &[]),
                ),
                (
                    "far".to_string(),
                    column(&[("ks", 0.5), ("psi", 0.9)], &["ks", "psi"]),
                ),
                (
                    "near".to_string(),
                    column(&[("ks", 0.12), ("ks_pvalue", 0.01)], &["ks"]),
                ),
            ]
            .into_iter()
            .collect(),
        };
        let rows = drift_rows(&report, &DriftThresholds::default());
        let order: Vec<&str> = rows.iter().map(|r| r.column.as_str()).collect();
        assert_eq!(order, ["far", "near", "calm"]);
        // ks 0.5 against 0.1 is the worst ratio of `far` (psi 0.9 against 0.2 is 4.5).
        assert!((rows[0].severity - 5.0).abs() < 1e-9);
        let pvalue = rows[1]
            .statistics
            .iter()
            .find(|s| s.name == "ks_pvalue")
            .unwrap();
        assert_eq!(pvalue.threshold, None);
        assert!(rows[1].drifted() && !rows[2].drifted());
    }

    #[test]
    fn each_hyperparameter_is_a_series_against_the_metric() {
        let trial = |depth: i64, kind: &str| {
            BTreeMap::from([
                ("max_depth".to_string(), ParamValue::Int(depth)),
                ("kind".to_string(), ParamValue::Text(kind.into())),
            ])
        };
        let (a, b, c) = (trial(3, "gini"), trial(8, "entropy"), trial(5, "gini"));
        let series = param_series(&[(&a, Some(0.7)), (&b, None), (&c, Some(0.8))]);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].name, "kind");
        assert_eq!(series[0].categories, ["gini"]);
        assert_eq!(series[0].points, [(0.0, 0.7), (0.0, 0.8)]);
        assert_eq!(series[1].points, [(3.0, 0.7), (5.0, 0.8)]);
        assert!(series[1].categories.is_empty());
        let metrics = BTreeMap::from([
            ("train:accuracy".to_string(), 0.9),
            ("validation:accuracy".to_string(), 0.7),
        ]);
        assert_eq!(validation_metric(&metrics, "accuracy"), Some(0.7));
        assert_eq!(validation_metric(&metrics, "f1_macro"), None);
    }

    #[test]
    fn a_time_typed_in_is_read_as_utc() {
        assert_eq!(
            utc_input("2026-12-03T09:30"),
            Some(at("2026-12-03T09:30:00Z"))
        );
        assert_eq!(
            utc_input("2026-12-03T09:30:15"),
            Some(at("2026-12-03T09:30:15Z"))
        );
        assert_eq!(
            utc_input("2026-12-03T09:30:15Z"),
            Some(at("2026-12-03T09:30:15Z"))
        );
        assert_eq!(utc_input(""), None);
        assert_eq!(utc_input("yesterday"), None);
    }

    #[test]
    fn lineage_nodes_link_to_their_pages() {
        assert_eq!(
            lineage_href("dataset:wine/v2").as_deref(),
            Some("/datasets/wine/versions/2")
        );
        assert_eq!(
            lineage_href("contract:wine/v1").as_deref(),
            Some("/datasets/wine")
        );
        assert_eq!(
            lineage_href("model:wine-quality/v3").as_deref(),
            Some("/models/wine-quality/versions/3")
        );
        assert_eq!(lineage_href("run:r-1").as_deref(), Some("/runs/r-1"));
        assert_eq!(lineage_href("trial:r-1/4").as_deref(), Some("/runs/r-1"));
        assert_eq!(
            lineage_href("upload:tollgate-data/incoming/wine/a.csv"),
            None
        );
        assert_eq!(lineage_href("model:wine-quality/vx"), None);
    }
}
