//! Metrics of a channel's predictions, and how they are reported: `<channel>:<metric>=<value>;`
//! lines on stdout (for SageMaker's metric definitions) and a flat JSON map.

use std::collections::BTreeMap;

use ndarray::Array2;

use crate::config::Metric;

/// Probabilities are clipped to [EPSILON, 1 - EPSILON] before the log.
const EPSILON: f64 = 1e-15;

/// One metric measured on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub channel: String,
    pub metric: Metric,
    pub value: f64,
}

impl Score {
    /// `validation:accuracy`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.channel, self.metric)
    }

    /// `validation:accuracy=0.812500;`, the line a SageMaker metric definition such as
    /// `validation:accuracy=(-?[0-9.]+);` matches.
    pub fn line(&self) -> String {
        format!("{}={:.6};", self.name(), self.value)
    }
}

/// The flat map written to `metrics.json`: `{"validation:accuracy": 0.8125, ...}`.
pub fn to_map(scores: &[Score]) -> BTreeMap<String, f64> {
    scores.iter().map(|s| (s.name(), s.value)).collect()
}

/// Accuracy, macro F1 and, with probabilities (one column per class), log loss.
pub fn classification(
    truth: &[String],
    predicted: &[String],
    probabilities: Option<(&Array2<f64>, &[String])>,
) -> Vec<(Metric, f64)> {
    let mut scores = vec![
        (Metric::Accuracy, accuracy(truth, predicted)),
        (Metric::F1Macro, f1_macro(truth, predicted)),
    ];
    if let Some((p, classes)) = probabilities {
        scores.push((Metric::LogLoss, log_loss(truth, p, classes)));
    }
    scores
}

/// RMSE, MAE and R².
pub fn regression(truth: &[f64], predicted: &[f64]) -> Vec<(Metric, f64)> {
    let n = truth.len().max(1) as f64;
    let errors = || truth.iter().zip(predicted).map(|(t, p)| t - p);
    let ss_res: f64 = errors().map(|e| e * e).sum();
    let mae = errors().map(f64::abs).sum::<f64>() / n;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    // A constant truth: R² is 1 for a perfect prediction, else 0 (as scikit-learn does).
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    vec![
        (Metric::Rmse, (ss_res / n).sqrt()),
        (Metric::Mae, mae),
        (Metric::R2, r2),
    ]
}

fn accuracy(truth: &[String], predicted: &[String]) -> f64 {
    let right = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    right as f64 / truth.len().max(1) as f64
}

/// The unweighted mean of each label's F1, over every label in the truth or the predictions; a
/// label with no true and no predicted positive scores 0, as in scikit-learn.
fn f1_macro(truth: &[String], predicted: &[String]) -> f64 {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (t, p) in truth.iter().zip(predicted) {
        if t == p {
            counts.entry(t).or_default().0 += 1;
        } else {
            counts.entry(p).or_default().1 += 1;
            counts.entry(t).or_default().2 += 1;
        }
    }
    let f1s: Vec<f64> = counts
        .values()
        .map(|&(tp, fp, fn_)| {
            let denominator = 2 * tp + fp + fn_;
            if denominator == 0 {
                0.0
            } else {
                2.0 * tp as f64 / denominator as f64
            }
        })
        .collect();
    f1s.iter().sum::<f64>() / f1s.len().max(1) as f64
}

/// Mean negative log of the probability given to the true class; a class the model never saw
/// gets probability 0 (clipped).
fn log_loss(truth: &[String], probabilities: &Array2<f64>, classes: &[String]) -> f64 {
    let total: f64 = truth
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = classes
                .iter()
                .position(|c| c == t)
                .map_or(0.0, |c| probabilities[[i, c]]);
            -p.clamp(EPSILON, 1.0 - EPSILON).ln()
        })
        .sum();
    total / truth.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_score_prints_as_a_metric_line() {
        let s = Score {
            channel: "validation".into(),
            metric: Metric::Accuracy,
            value: 0.8125,
        };
        assert_eq!(s.line(), "validation:accuracy=0.812500;");
    }

    #[test]
    fn classification_metrics_match_scikit_learn() {
        let truth = strings(&["a", "a", "b", "c"]);
        let predicted = strings(&["a", "b", "b", "b"]);
        let p = ndarray::array![
            [0.8, 0.2, 0.0],
            [0.4, 0.6, 0.0],
            [0.1, 0.9, 0.0],
            [0.5, 0.5, 0.0]
        ];
        let scores = classification(&truth, &predicted, Some((&p, &strings(&["a", "b", "c"]))));
        // sklearn: accuracy 0.5, f1_macro (2/3 + 1/2 + 0) / 3, log_loss with the c row clipped.
        assert_eq!(scores[0], (Metric::Accuracy, 0.5));
        assert!((scores[1].1 - 7.0 / 18.0).abs() < 1e-12);
        let expected = (-(0.8f64.ln()) - 0.4f64.ln() - 0.9f64.ln() - 1e-15f64.ln()) / 4.0;
        assert!((scores[2].1 - expected).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let scores = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert!((scores[0].1 - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((scores[1].1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((scores[2].1 - (1.0 - 4.0 / 2.0)).abs() < 1e-12);
    }
}
