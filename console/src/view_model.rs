//! What the pages show, computed from what the API answers: no HTTP, no DOM, so it is tested
//! with plain unit tests on any machine.

use jiff::{Timestamp, Unit};
use serde_json::Value;
use tollgate_api_types::{ErrorBody, ModelStage, StageChange, TestReport};

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
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
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

/// Rounds `at` to the second, as the pages show it.
pub fn to_second(at: Timestamp) -> Timestamp {
    at.round(Unit::Second).unwrap_or(at)
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

/// A linear map from a data range onto pixels, for the SVG charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    low: f64,
    high: f64,
    from: f64,
    to: f64,
}

impl Scale {
    /// Maps `[low, high]` (widened when empty) onto `[from, to]`.
    pub fn new(low: f64, high: f64, from: f64, to: f64) -> Self {
        let (low, high) = if (high - low).abs() < f64::EPSILON {
            (low - 0.5, high + 0.5)
        } else {
            (low, high)
        };
        Self {
            low,
            high,
            from,
            to,
        }
    }

    /// The range of `values` (finite ones), mapped onto `[from, to]`.
    pub fn fit(values: impl IntoIterator<Item = f64>, from: f64, to: f64) -> Self {
        let (low, high) = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if low > high {
            return Self::new(0.0, 1.0, from, to);
        }
        Self::new(low, high, from, to)
    }

    pub fn at(&self, value: f64) -> f64 {
        self.from + (value - self.low) / (self.high - self.low) * (self.to - self.from)
    }
}

/// A metric across a model's versions, as SVG polyline points in a `width` x `height` box
/// (higher values drawn higher), in version order.
pub fn polyline(points: &[(u32, f64)], width: f64, height: f64, margin: f64) -> String {
    let x = Scale::fit(
        points.iter().map(|p| f64::from(p.0)),
        margin,
        width - margin,
    );
    let y = Scale::fit(points.iter().map(|p| p.1), height - margin, margin);
    points
        .iter()
        .map(|(v, m)| format!("{:.1},{:.1}", x.at(f64::from(*v)), y.at(*m)))
        .collect::<Vec<_>>()
        .join(" ")
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
    fn charts_map_values_into_their_box_higher_is_higher() {
        let s = Scale::new(0.0, 10.0, 100.0, 0.0);
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(10.0), 0.0);
        // One value, or none, still draws inside the box.
        assert_eq!(Scale::fit([3.0], 0.0, 10.0).at(3.0), 5.0);
        assert_eq!(Scale::fit([], 0.0, 10.0).at(0.5), 5.0);
        assert_eq!(
            polyline(&[(1, 0.5), (2, 0.7)], 120.0, 60.0, 10.0),
            "10.0,50.0 110.0,10.0"
        );
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
}
