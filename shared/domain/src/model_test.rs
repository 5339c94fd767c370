//! A model test report: each check the evaluator ran with its value, threshold and verdict,
//! and the metrics of the candidate and of production on the same test rows. The evaluator
//! writes it (`models/<name>/v<N>/test-report.json`); the API and the console read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One check: what was measured, against what, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// `threshold`, `improvement`, `relative_improvement`, `slice`, `prediction_drift`,
    /// `invariance`, `fairness`.
    pub kind: String,
    /// What it measured, for people: `accuracy`, `accuracy where colour = red`...
    pub name: String,
    /// `None` when it could not be measured (that fails the check).
    pub value: Option<f64>,
    /// `>=` or `<=`.
    pub comparison: String,
    pub threshold: f64,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The model tests' verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestReport {
    pub passed: bool,
    pub checks: Vec<Check>,
    /// The candidate's metrics on the test split.
    pub metrics: BTreeMap<String, f64>,
    /// Production's, on the same rows, when there is a production model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_metrics: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Test rows left out of every check because their target is missing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_without_target: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
