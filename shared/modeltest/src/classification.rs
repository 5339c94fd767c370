//! Classification metrics, as scikit-learn 1.7 computes them with `zero_division=0`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::MetricError;

/// Smallest and largest probability the log loss takes, as scikit-learn clips them
/// (`np.finfo(np.float64).eps`): a certain wrong answer costs `-ln(EPSILON)` ≈ 36.04, not infinity.
const EPSILON: f64 = f64::EPSILON;

/// Metrics of class predictions, with the probabilities behind them when there are any.
///
/// Averages are over the classes found in the truth or the predictions (scikit-learn's
/// `labels=None`); a class that only the probability columns name takes no part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    /// F1 averaged with each class weighted by its support.
    pub f1_weighted: f64,
    /// `None` without probabilities, or with fewer than two classes.
    pub log_loss: Option<f64>,
    /// `None` without probabilities, or where scikit-learn leaves it undefined: a class (the
    /// positive one, for two classes) that is always or never true, or, for more than two
    /// classes, a row that does not sum to one.
    pub roc_auc: Option<f64>,
    pub per_class: BTreeMap<String, ClassMetrics>,
    pub n: u64,
}

/// One class against the rest. A ratio whose denominator is zero is 0 (precision of a class
/// never predicted, recall of a class never true).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many samples truly are of this class.
    pub support: u64,
}

impl ClassificationMetrics {
    /// The names [`get`](Self::get) knows. `precision`, `recall` and `f1` are the macro averages.
    pub const NAMES: &[&str] = &[
        "accuracy",
        "precision",
        "recall",
        "f1",
        "f1_macro",
        "f1_weighted",
        "log_loss",
        "roc_auc",
    ];

    /// A metric by the name a gate uses; `None` for a name not in [`NAMES`](Self::NAMES) or a
    /// metric that is undefined here.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "accuracy" => Some(self.accuracy),
            "precision" => Some(self.precision_macro),
            "recall" => Some(self.recall_macro),
            "f1" | "f1_macro" => Some(self.f1_macro),
            "f1_weighted" => Some(self.f1_weighted),
            "log_loss" => self.log_loss,
            "roc_auc" => self.roc_auc,
            _ => None,
        }
    }
}

/// Scores predicted labels against the truth, and, when given, the predicted probabilities: the
/// class names in column order and one row per sample.
///
/// Every input is checked before anything is computed: equal lengths, at least one sample, and
/// for probabilities distinct class names, one row per sample of one finite value in [0, 1] per
/// class, and every true label among the classes. Rows need not sum to one; the log loss uses
/// them as they are, as scikit-learn 1.7 does (it warns, no longer renormalises).
pub fn classification(
    truth: &[String],
    predicted: &[String],
    probabilities: Option<(&[String], &[Vec<f64>])>,
) -> Result<ClassificationMetrics, MetricError> {
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
    let scores = probabilities
        .map(|(classes, rows)| Scores::new(truth, classes, rows))
        .transpose()?;

    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut correct = 0u64;
    for (t, p) in truth.iter().zip(predicted) {
        counts.entry(t).or_default().truth += 1;
        counts.entry(p).or_default().predicted += 1;
        if t == p {
            counts.entry(t).or_default().hits += 1;
            correct += 1;
        }
    }
    let n = truth.len() as u64;
    let per_class: BTreeMap<String, ClassMetrics> = counts
        .into_iter()
        .map(|(class, c)| {
            let metrics = ClassMetrics {
                precision: ratio(c.hits, c.predicted),
                recall: ratio(c.hits, c.truth),
                // 2·tp / (2·tp + fp + fn), as scikit-learn computes it: no 0/0 from P + R = 0.
                f1: ratio(2 * c.hits, c.truth + c.predicted),
                support: c.truth,
            };
            (class.to_owned(), metrics)
        })
        .collect();
    let macro_mean = |f: fn(&ClassMetrics) -> f64| {
        per_class.values().map(f).sum::<f64>() / per_class.len() as f64
    };

    Ok(ClassificationMetrics {
        accuracy: ratio(correct, n),
        precision_macro: macro_mean(|c| c.precision),
        recall_macro: macro_mean(|c| c.recall),
        f1_macro: macro_mean(|c| c.f1),
        f1_weighted: per_class
            .values()
            .map(|c| c.f1 * c.support as f64)
            .sum::<f64>()
            / n as f64,
        log_loss: scores.as_ref().and_then(Scores::log_loss),
        roc_auc: scores.as_ref().and_then(Scores::roc_auc),
        per_class,
        n,
    })
}

#[derive(Debug, Default)]
struct Counts {
    hits: u64,
    truth: u64,
    predicted: u64,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Checked probabilities, each sample's true class as a column index.
#[derive(Debug)]
struct Scores<'a> {
    rows: &'a [Vec<f64>],
    classes: usize,
    /// The true class's probability column; `None` for a class the model never saw (a rare class
    /// missing from the training rows), to which it gave probability 0.
    truth: Vec<Option<usize>>,
}

impl<'a> Scores<'a> {
    fn new(
        truth: &[String],
        classes: &[String],
        rows: &'a [Vec<f64>],
    ) -> Result<Self, MetricError> {
        let mut column = HashMap::with_capacity(classes.len());
        for (i, class) in classes.iter().enumerate() {
            if column.insert(class.as_str(), i).is_some() {
                return Err(MetricError::DuplicateClass {
                    class: class.clone(),
                });
            }
        }
        if rows.len() != truth.len() {
            return Err(MetricError::LengthMismatch {
                other: "probability rows",
                truth: truth.len(),
                got: rows.len(),
            });
        }
        for (row, values) in rows.iter().enumerate() {
            if values.len() != classes.len() {
                return Err(MetricError::RowWidth {
                    row,
                    got: values.len(),
                    expected: classes.len(),
                });
            }
            for &value in values {
                if !value.is_finite() {
                    return Err(MetricError::NonFinite {
                        what: "probability",
                        row,
                        value,
                    });
                }
                if !(0.0..=1.0).contains(&value) {
                    return Err(MetricError::NotAProbability { row, value });
                }
            }
        }
        let truth = truth
            .iter()
            .map(|label| column.get(label.as_str()).copied())
            .collect();
        Ok(Self {
            rows,
            classes: classes.len(),
            truth,
        })
    }

    /// Mean of `-ln p`, `p` the probability of the true class clipped to [ε, 1 − ε].
    fn log_loss(&self) -> Option<f64> {
        if self.classes < 2 {
            return None;
        }
        let total: f64 = self
            .rows
            .iter()
            .zip(&self.truth)
            .map(|(row, &t)| {
                let p = t.map_or(0.0, |t| row[t]);
                -p.clamp(EPSILON, 1.0 - EPSILON).ln()
            })
            .sum();
        Some(total / self.rows.len() as f64)
    }

    /// Two classes: the AUC of the second. More: the mean of each class's AUC against the rest.
    fn roc_auc(&self) -> Option<f64> {
        match self.classes {
            0 | 1 => None,
            2 => self.one_vs_rest_auc(1),
            k => {
                // scikit-learn refuses multiclass scores that are not probabilities, with
                // `np.allclose(1, row_sum)`.
                let probabilities = self.rows.iter().all(|row| {
                    let sum: f64 = row.iter().sum();
                    (1.0 - sum).abs() <= 1e-8 + 1e-5 * sum.abs()
                });
                if !probabilities {
                    return None;
                }
                let mut total = 0.0;
                for class in 0..k {
                    total += self.one_vs_rest_auc(class)?;
                }
                Some(total / k as f64)
            }
        }
    }

    fn one_vs_rest_auc(&self, class: usize) -> Option<f64> {
        binary_auc(
            self.rows
                .iter()
                .zip(&self.truth)
                .map(|(row, &t)| (row[class], t == Some(class)))
                .collect(),
        )
    }
}

/// Area under the ROC curve of `(score, positive)` samples; `None` unless both kinds occur.
///
/// The trapezoid over distinct thresholds, as scikit-learn's `roc_curve` and `auc`: a positive
/// and a negative with the same score count half. Kept in integer counts until the one division,
/// so it is exact but for that rounding.
fn binary_auc(mut samples: Vec<(f64, bool)>) -> Option<f64> {
    let positives = samples.iter().filter(|(_, positive)| *positive).count() as u64;
    let negatives = samples.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    samples.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    // Twice the area, in units of one positive by one negative.
    let mut twice_area = 0u128;
    for tied in samples.chunk_by(|a, b| a.0 == b.0) {
        let (tp_before, fp_before) = (tp, fp);
        for &(_, positive) in tied {
            if positive {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        twice_area += u128::from(fp - fp_before) * u128::from(tp + tp_before);
    }
    Some(twice_area as f64 / (2.0 * positives as f64 * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
    }

    #[test]
    fn perfect_predictions_score_one_on_every_label_metric() {
        let t = labels("a b b c");
        let m = classification(&t, &t, None).unwrap();
        for name in ["accuracy", "precision", "recall", "f1", "f1_weighted"] {
            assert_eq!(m.get(name), Some(1.0), "{name}");
        }
        assert_eq!(m.per_class["b"].support, 2);
        assert_eq!(m.n, 4);
    }

    #[test]
    fn a_class_never_predicted_has_zero_precision_and_drags_the_macro_average() {
        let m = classification(&labels("a a b b"), &labels("a a a a"), None).unwrap();
        close(m.accuracy, 0.5);
        let a = &m.per_class["a"];
        close(a.precision, 0.5);
        close(a.recall, 1.0);
        close(a.f1, 2.0 / 3.0);
        let b = &m.per_class["b"];
        assert_eq!((b.precision, b.recall, b.f1), (0.0, 0.0, 0.0));
        close(m.precision_macro, 0.25);
        close(m.recall_macro, 0.5);
        close(m.f1_macro, 1.0 / 3.0);
        close(m.f1_weighted, 1.0 / 3.0);
    }

    #[test]
    fn a_label_only_ever_predicted_joins_the_macro_average_but_not_the_weighted_one() {
        let m = classification(&labels("a a b b"), &labels("a c b b"), None).unwrap();
        assert_eq!(
            m.per_class["c"],
            ClassMetrics {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
                support: 0
            }
        );
        close(m.precision_macro, 2.0 / 3.0);
        close(m.recall_macro, 0.5);
        close(m.f1_macro, (2.0 / 3.0 + 1.0) / 3.0);
        close(m.f1_weighted, (2.0 / 3.0 * 2.0 + 2.0) / 4.0);
    }

    #[test]
    fn without_probabilities_log_loss_and_roc_auc_are_undefined() {
        let m = classification(&labels("a b"), &labels("a b"), None).unwrap();
        assert_eq!((m.log_loss, m.roc_auc), (None, None));
        assert_eq!(m.get("log_loss"), None);
    }

    #[test]
    fn log_loss_is_the_mean_negative_log_of_the_true_class_probability() {
        let classes = labels("a b");
        let rows = vec![vec![0.8, 0.2], vec![0.4, 0.6]];
        let t = labels("a b");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        close(m.log_loss.unwrap(), -(0.8f64.ln() + 0.6f64.ln()) / 2.0);
    }

    #[test]
    fn log_loss_clips_a_certain_answer_to_epsilon_rather_than_infinity() {
        let classes = labels("a b");
        let wrong = vec![vec![0.0, 1.0]];
        let m = classification(&labels("a"), &labels("b"), Some((&classes, &wrong))).unwrap();
        assert_eq!(m.log_loss, Some(-f64::EPSILON.ln()));
        let right = vec![vec![1.0, 0.0]];
        let m = classification(&labels("a"), &labels("a"), Some((&classes, &right))).unwrap();
        assert_eq!(m.log_loss, Some(-(1.0 - f64::EPSILON).ln()));
    }

    #[test]
    fn log_loss_takes_rows_that_do_not_sum_to_one_as_they_are() {
        let classes = labels("a b");
        let rows = vec![vec![0.4, 0.4]];
        let m = classification(&labels("a"), &labels("a"), Some((&classes, &rows))).unwrap();
        close(m.log_loss.unwrap(), -0.4f64.ln());
    }

    #[test]
    fn binary_roc_auc_counts_a_tie_between_a_positive_and_a_negative_as_half() {
        let classes = labels("n p");
        let rows: Vec<Vec<f64>> = [0.1, 0.5, 0.5, 0.9]
            .iter()
            .map(|&s| vec![1.0 - s, s])
            .collect();
        let t = labels("n p n p");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        // Pairs (positive, negative): (0.5, 0.1) 1, (0.5, 0.5) ½, (0.9, 0.1) 1, (0.9, 0.5) 1.
        close(m.roc_auc.unwrap(), 3.5 / 4.0);
    }

    #[test]
    fn binary_roc_auc_ranks_by_the_second_column_in_the_order_given() {
        // Rows that do not sum to one make the two columns disagree: by column "no", the one "no"
        // sample ranks last.
        let classes = labels("yes no");
        let rows = vec![vec![0.9, 0.3], vec![0.2, 0.1]];
        let t = labels("yes no");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        assert_eq!(m.roc_auc, Some(0.0));
    }

    #[test]
    fn binary_roc_auc_is_undefined_when_the_truth_holds_one_class() {
        let classes = labels("n p");
        let rows = vec![vec![0.3, 0.7], vec![0.6, 0.4]];
        let t = labels("p p");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        assert_eq!(m.roc_auc, None);
        assert!(m.log_loss.is_some());
    }

    #[test]
    fn multiclass_roc_auc_is_the_mean_of_each_class_against_the_rest() {
        let classes = labels("a b c");
        let rows = vec![
            vec![0.6, 0.3, 0.1],
            vec![0.2, 0.5, 0.3],
            vec![0.3, 0.3, 0.4],
            vec![0.2, 0.6, 0.2],
        ];
        let t = labels("a b c a");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        // a: 2.5 of 4 pairs; b: 2 of 3; c: 3 of 3.
        close(m.roc_auc.unwrap(), (2.5 / 4.0 + 2.0 / 3.0 + 1.0) / 3.0);
    }

    #[test]
    fn multiclass_roc_auc_is_undefined_when_a_class_is_never_true() {
        let classes = labels("a b c");
        let rows = vec![vec![0.6, 0.3, 0.1], vec![0.2, 0.5, 0.3]];
        let t = labels("a b");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        assert_eq!(m.roc_auc, None);
        assert!(m.log_loss.is_some());
    }

    #[test]
    fn multiclass_roc_auc_is_undefined_when_rows_do_not_sum_to_one() {
        let classes = labels("a b c");
        let rows = vec![
            vec![0.5, 0.3, 0.1],
            vec![0.2, 0.5, 0.3],
            vec![0.1, 0.1, 0.8],
        ];
        let t = labels("a b c");
        let m = classification(&t, &t, Some((&classes, &rows))).unwrap();
        assert_eq!(m.roc_auc, None);
    }

    #[test]
    fn one_class_has_no_log_loss_or_roc_auc() {
        let classes = labels("a");
        let rows = vec![vec![1.0]];
        let m = classification(&labels("a"), &labels("a"), Some((&classes, &rows))).unwrap();
        assert_eq!((m.log_loss, m.roc_auc), (None, None));
    }

    #[test]
    fn lengths_that_differ_are_refused_with_both_lengths() {
        let err = classification(&labels("a b"), &labels("a"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "lengths differ: 2 truth values, 1 predictions"
        );
        let classes = labels("a b");
        let rows = vec![vec![0.5, 0.5]];
        let err = classification(&labels("a b"), &labels("a b"), Some((&classes, &rows)));
        assert_eq!(
            err.unwrap_err().to_string(),
            "lengths differ: 2 truth values, 1 probability rows"
        );
    }

    #[test]
    fn no_samples_is_an_error_not_a_nan() {
        assert_eq!(classification(&[], &[], None), Err(MetricError::Empty));
    }

    #[test]
    fn a_bad_probability_row_is_named() {
        let classes = labels("a b");
        let t = labels("a b");
        let score = |rows: Vec<Vec<f64>>| {
            classification(&t, &t, Some((&classes, &rows)))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            score(vec![vec![0.5, 0.5], vec![1.0]]),
            "probability row 1 has 1 values for 2 classes"
        );
        assert_eq!(
            score(vec![vec![0.5, 0.5], vec![f64::NAN, 0.5]]),
            "probability row 1 holds NaN, not a finite number"
        );
        assert_eq!(
            score(vec![vec![1.5, -0.5], vec![0.5, 0.5]]),
            "probability row 0 holds 1.5, outside [0, 1]"
        );
    }

    #[test]
    fn a_true_class_the_model_never_saw_has_probability_zero_not_an_error() {
        // A rare class can be missing from the training rows and still be in the test split:
        // the model gave it no probability, so its rows cost the log loss of probability 0.
        let classes = labels("a b");
        let rows = vec![vec![0.5, 0.5], vec![0.5, 0.5]];
        let scores = classification(&labels("a z"), &labels("a b"), Some((&classes, &rows)))
            .expect("scored");
        let expected = (-(0.5f64.ln()) - EPSILON.ln()) / 2.0;
        assert!(
            (scores.log_loss.unwrap() - expected).abs() < 1e-9,
            "{scores:?}"
        );
    }

    #[test]
    fn a_class_named_twice_is_refused() {
        let classes = labels("a b a");
        let rows = vec![vec![0.2, 0.3, 0.5]];
        let err = classification(&labels("a"), &labels("a"), Some((&classes, &rows)));
        assert_eq!(
            err,
            Err(MetricError::DuplicateClass {
                class: "a".to_owned()
            })
        );
    }

    #[test]
    fn every_listed_name_resolves_and_others_do_not() {
        let classes = labels("a b");
        let rows = vec![vec![0.7, 0.3], vec![0.4, 0.6]];
        let t = labels("a b");
        let m = classification(&t, &labels("a a"), Some((&classes, &rows))).unwrap();
        for name in ClassificationMetrics::NAMES {
            assert!(m.get(name).is_some(), "{name}");
        }
        assert_eq!(m.get("f1"), Some(m.f1_macro));
        assert_eq!(m.get("precision"), Some(m.precision_macro));
        assert_eq!(m.get("rmse"), None);
    }

    #[test]
    fn metrics_survive_a_json_round_trip_with_undefined_ones_as_null() {
        let m = classification(&labels("a b"), &labels("a a"), None).unwrap();
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["log_loss"], serde_json::Value::Null);
        assert_eq!(json["per_class"]["a"]["support"], 1);
        assert_eq!(
            serde_json::from_value::<ClassificationMetrics>(json).unwrap(),
            m
        );
    }
}
