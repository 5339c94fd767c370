//! What the monitor reports on a model in production: drift of its inputs and predictions
//! against what it was trained and tested on, and what it did about it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One drift measure against its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drift {
    /// A feature's name, or `prediction`.
    pub name: String,
    pub psi: f64,
    pub threshold: f64,
    pub drifted: bool,
}

/// What one check of a model in production found (`monitoring/<model>/<time>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitorReport {
    pub model: String,
    /// The version in production, if any.
    pub version: Option<u32>,
    pub at: Timestamp,
    pub captured_files: usize,
    pub captured_rows: u64,
    pub drift: Vec<Drift>,
    pub drifted: bool,
    /// The retraining run started, if any.
    pub retraining_run: Option<String>,
    /// Drift called for retraining, but no accepted version of the dataset is newer than the one
    /// the model in production was trained on: someone has to upload new data.
    #[serde(default)]
    pub new_data_needed: bool,
    pub notes: Vec<String>,
    /// Where this report is stored.
    pub report: Option<String>,
    /// People were told of this drift (`DriftDetected` published): at a retraining, and
    /// otherwise once per cooldown for the version in production.
    #[serde(default)]
    pub told: bool,
}

impl MonitorReport {
    /// The features (and `prediction`) past their thresholds.
    pub fn drifted_features(&self) -> Vec<&str> {
        self.drift
            .iter()
            .filter(|d| d.drifted)
            .map(|d| d.name.as_str())
            .collect()
    }

    /// What the check did about drift: the retraining run it started, or why none.
    pub fn retraining_outcome(&self) -> String {
        match (&self.retraining_run, self.new_data_needed) {
            (Some(run), _) => format!("retraining run {run} started"),
            (None, true) => "no retraining: new data is needed".to_owned(),
            (None, false) => "no retraining started".to_owned(),
        }
    }
}
