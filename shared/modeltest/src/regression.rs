//! Regression metrics, as scikit-learn 1.7 computes them.

use serde::{Deserialize, Serialize};

use crate::MetricError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub rmse: f64,
    pub mae: f64,
    /// `1 − SS_res / SS_tot`. With a constant truth (SS_tot = 0) it is 1 for exact predictions
    /// and 0 otherwise, as scikit-learn's `force_finite`; that includes a single sample, where
    /// scikit-learn returns NaN instead.
    pub r2: f64,
    pub n: u64,
}

impl RegressionMetrics {
    /// The names [`get`](Self::get) knows.
    pub const NAMES: &[&str] = &["rmse", "mae", "r2"];

    /// A metric by the name a gate uses; `None` for a name not in [`NAMES`](Self::NAMES).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "rmse" => Some(self.rmse),
            "mae" => Some(self.mae),
            "r2" => Some(self.r2),
            _ => None,
        }
    }
}

/// Scores predicted values against the truth: equal lengths, at least one sample, all finite.
pub fn regression(truth: &[f64], predicted: &[f64]) -> Result<RegressionMetrics, MetricError> {
    if truth.len() != predicted.len() {
        return Err(MetricError::LengthMismatch {
            other: "predictions",
            truth: truth.len(),
            got: predicted.len(),
        });
    }
    if truth.is_empty() {
        return Err(MetricError::Empty);
    }
    for (what, values) in [("truth", truth), ("prediction", predicted)] {
        if let Some((row, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MetricError::NonFinite { what, row, value });
        }
    }

    let n = truth.len() as f64;
    let residuals = || truth.iter().zip(predicted).map(|(t, p)| t - p);
    let ss_res: f64 = residuals().map(|r| r * r).sum();
    let abs_sum: f64 = residuals().map(f64::abs).sum();
    // A constant truth has SS_tot = 0 exactly, whatever rounding its mean picks up.
    let ss_tot = if truth.iter().all(|&t| t == truth[0]) {
        0.0
    } else {
        let mean = truth.iter().sum::<f64>() / n;
        truth.iter().map(|t| (t - mean) * (t - mean)).sum()
    };
    let r2 = if ss_res == 0.0 {
        1.0
    } else if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    };
    Ok(RegressionMetrics {
        rmse: (ss_res / n).sqrt(),
        mae: abs_sum / n,
        r2,
        n: truth.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
    }

    #[test]
    fn errors_are_averaged_as_squares_and_as_absolutes() {
        let m = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]).unwrap();
        close(m.rmse, (4.0f64 / 3.0).sqrt());
        close(m.mae, 2.0 / 3.0);
        // SS_res 4 against SS_tot 2.
        close(m.r2, -1.0);
        assert_eq!(m.n, 3);
    }

    #[test]
    fn predicting_the_mean_scores_an_r2_of_zero() {
        let m = regression(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0]).unwrap();
        close(m.r2, 0.0);
    }

    #[test]
    fn exact_predictions_score_an_r2_of_one_and_no_error() {
        let truth = [0.5, -2.0, 7.25];
        let m = regression(&truth, &truth).unwrap();
        assert_eq!((m.rmse, m.mae, m.r2), (0.0, 0.0, 1.0));
    }

    #[test]
    fn a_constant_truth_scores_one_when_exact_and_zero_otherwise() {
        // A mean of 0.1 three times rounds away from 0.1: SS_tot must still be 0.
        let truth = [0.1, 0.1, 0.1];
        assert_eq!(regression(&truth, &truth).unwrap().r2, 1.0);
        assert_eq!(regression(&truth, &[0.1, 0.1, 0.2]).unwrap().r2, 0.0);
        assert_eq!(regression(&[4.0], &[3.0]).unwrap().r2, 0.0);
    }

    #[test]
    fn bad_inputs_are_refused_and_named() {
        let err = regression(&[1.0, 2.0], &[1.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "lengths differ: 2 truth values, 1 predictions"
        );
        assert_eq!(regression(&[], &[]), Err(MetricError::Empty));
        let err = regression(&[1.0, 2.0], &[1.0, f64::INFINITY]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prediction row 1 holds inf, not a finite number"
        );
        let err = regression(&[f64::NAN], &[1.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "truth row 0 holds NaN, not a finite number"
        );
    }

    #[test]
    fn every_listed_name_resolves_and_others_do_not() {
        let m = regression(&[1.0, 2.0], &[1.5, 2.0]).unwrap();
        let values: Vec<_> = RegressionMetrics::NAMES
            .iter()
            .map(|name| m.get(name))
            .collect();
        assert_eq!(values, [Some(m.rmse), Some(m.mae), Some(m.r2)]);
        assert_eq!(m.get("accuracy"), None);
    }
}
