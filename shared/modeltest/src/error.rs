//! Why a set of predictions cannot be scored. Rows are counted from 0, in input order.

/// Inputs the metrics refuse. A metric that is merely undefined for valid inputs (ROC AUC when a
/// class is never true) is `None` in the result, not an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("lengths differ: {truth} truth values, {got} {other}")]
    LengthMismatch {
        /// What was compared with the truth: `"predictions"` or `"probability rows"`.
        other: &'static str,
        truth: usize,
        got: usize,
    },
    #[error("no samples to score")]
    Empty,
    #[error("probability row {row} has {got} values for {expected} classes")]
    RowWidth {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("{what} row {row} holds {value}, not a finite number")]
    NonFinite {
        /// `"truth"`, `"prediction"` or `"probability"`.
        what: &'static str,
        row: usize,
        value: f64,
    },
    #[error("probability row {row} holds {value}, outside [0, 1]")]
    NotAProbability { row: usize, value: f64 },
    #[error("class {class:?} names two probability columns")]
    DuplicateClass { class: String },
    /// Predictions that cannot be compared with the truth at all.
    #[error("{0}")]
    Mismatch(String),
}
