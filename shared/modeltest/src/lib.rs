//! The model tests: a candidate's predictions on the test split, scored against the truth
//! (metrics), and the pipeline's gates judged on them beside the production model's (gates, a
//! [`TestReport`] with every check's value, threshold and verdict).
//!
//! Every metric is defined as scikit-learn 1.7 defines it, `zero_division=0` where a ratio can
//! be 0/0, so a number here means what a data scientist expects it to mean;
//! `tests/fixtures/make.py` writes the cases that hold the two to 1e-9. A metric that does not
//! exist for valid inputs (a log loss without probabilities, a ROC AUC for a class that is never
//! true) is `None`; inputs that cannot be scored at all are a [`MetricError`].
//!
//! Pure and light: no IO, no dataframes; the evaluate stage hands over plain slices.

mod classification;
mod error;
mod gates;
mod regression;

pub use classification::{ClassMetrics, ClassificationMetrics, classification};
pub use error::MetricError;
pub use gates::{
    Check, Column, Inputs, Scores, TestReport, Truth, higher_is_better, metrics, prediction_psi,
    test,
};
pub use regression::{RegressionMetrics, regression};
