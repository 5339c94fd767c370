//! The gates of a pipeline (`[gates]`), judged on a candidate's test-split predictions, beside the
//! production model's on the same rows when there is one. Every check lands in the report with its
//! value, threshold and verdict; the candidate passes when every check does.

use std::collections::BTreeMap;

use tollgate_domain::pipeline::{Gates, SliceGate};

use crate::{MetricError, classification, regression};

/// What the truth is, row by row, on the test split.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Classes(Vec<String>),
    Values(Vec<f64>),
}

/// What a model predicted on the test split, row by row.
#[derive(Debug, Clone, PartialEq)]
pub enum Scores {
    Classes {
        labels: Vec<String>,
        /// The probability columns' classes, when the model gives probabilities.
        classes: Vec<String>,
        probabilities: Option<Vec<Vec<f64>>>,
    },
    Values(Vec<f64>),
}

/// A column of the test split, for slices and fairness groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Text(Vec<Option<String>>),
    Number(Vec<Option<f64>>),
}

/// What the gates look at.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub truth: &'a Truth,
    pub candidate: &'a Scores,
    /// The production model's predictions on the same rows; `None` when nothing is in production.
    pub production: Option<&'a Scores>,
    /// The pipeline's metric: the one production is compared on.
    pub primary_metric: &'a str,
    pub columns: &'a BTreeMap<String, Column>,
    /// For each `[[gates.invariance]]`, in order: the candidate's predictions on the test rows
    /// with that feature perturbed.
    pub perturbed: &'a [Scores],
}

pub use tollgate_domain::model_test::{Check, TestReport};

/// Whether a larger value of the metric is better.
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(metric, "log_loss" | "rmse" | "mae")
}

fn compare(value: Option<f64>, at_least: bool, threshold: f64) -> bool {
    value.is_some_and(|v| {
        // A tie is within rounding of the threshold: a retrain on the same data passes.
        let slack = 1e-12 * threshold.abs().max(1.0);
        if at_least {
            v >= threshold - slack
        } else {
            v <= threshold + slack
        }
    })
}

fn check(kind: &str, name: String, value: Option<f64>, at_least: bool, threshold: f64) -> Check {
    Check {
        kind: kind.to_owned(),
        name,
        value,
        comparison: if at_least { ">=" } else { "<=" }.to_owned(),
        threshold,
        passed: compare(value, at_least, threshold),
        detail: String::new(),
    }
}

/// Every metric of `scores` against `truth`, on the rows `keep` selects (all when `None`).
pub fn metrics(
    truth: &Truth,
    scores: &Scores,
    keep: Option<&[bool]>,
) -> Result<BTreeMap<String, f64>, MetricError> {
    let pick = |i: usize| keep.is_none_or(|k| k[i]);
    match (truth, scores) {
        (
            Truth::Classes(t),
            Scores::Classes {
                labels,
                classes,
                probabilities,
            },
        ) => {
            let rows: Vec<usize> = (0..t.len()).filter(|i| pick(*i)).collect();
            let truth: Vec<String> = rows.iter().map(|i| t[*i].clone()).collect();
            let predicted: Vec<String> = rows
                .iter()
                .map(|i| labels.get(*i).cloned().unwrap_or_default())
                .collect();
            let probabilities: Option<Vec<Vec<f64>>> = probabilities
                .as_ref()
                .map(|p| rows.iter().map(|i| p[*i].clone()).collect());
            let m = classification(
                &truth,
                &predicted,
                probabilities
                    .as_ref()
                    .map(|p| (classes.as_slice(), p.as_slice())),
            )?;
            Ok(crate::ClassificationMetrics::NAMES
                .iter()
                .filter_map(|n| Some(((*n).to_owned(), m.get(n)?)))
                .collect())
        }
        (Truth::Values(t), Scores::Values(v)) => {
            let rows: Vec<usize> = (0..t.len()).filter(|i| pick(*i)).collect();
            let truth: Vec<f64> = rows.iter().map(|i| t[*i]).collect();
            let predicted: Vec<f64> = rows
                .iter()
                .map(|i| v.get(*i).copied().unwrap_or(f64::NAN))
                .collect();
            let m = regression(&truth, &predicted)?;
            Ok(crate::RegressionMetrics::NAMES
                .iter()
                .filter_map(|n| Some(((*n).to_owned(), m.get(n)?)))
                .collect())
        }
        _ => Err(MetricError::Mismatch(
            "the predictions are not of the truth's kind (labels against numbers)".into(),
        )),
    }
}

/// Population stability index of two distributions given as shares over the same bins; shares
/// are floored at 1e-4 so an empty bin does not make it infinite.
fn psi_of_shares(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(1e-4), a.max(1e-4));
            (a - e) * (a / e).ln()
        })
        .sum()
}

fn shares(counts: &[usize]) -> Vec<f64> {
    let total: usize = counts.iter().sum();
    counts
        .iter()
        .map(|c| *c as f64 / total.max(1) as f64)
        .collect()
}

/// The PSI of the candidate's scores against production's: predicted labels over the classes,
/// or numbers over production's deciles (as the data gate computes it).
pub fn prediction_psi(production: &Scores, candidate: &Scores) -> Option<f64> {
    match (production, candidate) {
        (Scores::Classes { labels: p, .. }, Scores::Classes { labels: c, .. }) => {
            let mut levels: Vec<&String> = p.iter().chain(c).collect();
            levels.sort();
            levels.dedup();
            let count = |labels: &[String]| -> Vec<usize> {
                levels
                    .iter()
                    .map(|l| labels.iter().filter(|x| x == l).count())
                    .collect()
            };
            Some(psi_of_shares(&shares(&count(p)), &shares(&count(c))))
        }
        (Scores::Values(p), Scores::Values(c)) => {
            // The same PSI the data gate reports: over the expected values' deciles.
            let sorted = |v: &[f64]| {
                let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                s.sort_by(f64::total_cmp);
                s
            };
            let (expected, actual) = (sorted(p), sorted(c));
            (!expected.is_empty() && !actual.is_empty())
                .then(|| tollgate_stats::psi(&expected, &actual))
        }
        _ => None,
    }
}

/// The groups of a column: each group's name and which rows are in it.
fn groups(column: &Column, bins: Option<&[f64]>) -> Vec<(String, Vec<bool>)> {
    match (column, bins) {
        (Column::Number(values), Some(edges)) => {
            let mut edges = edges.to_vec();
            edges.sort_by(f64::total_cmp);
            (0..=edges.len())
                .map(|b| {
                    let lo = if b == 0 {
                        f64::NEG_INFINITY
                    } else {
                        edges[b - 1]
                    };
                    let hi = edges.get(b).copied().unwrap_or(f64::INFINITY);
                    let rows = values
                        .iter()
                        .map(|v| v.is_some_and(|v| v >= lo && v < hi))
                        .collect();
                    (format!("[{lo}, {hi})"), rows)
                })
                .collect()
        }
        _ => {
            let text: Vec<Option<String>> = match column {
                Column::Text(t) => t.clone(),
                Column::Number(n) => n.iter().map(|v| v.map(|v| v.to_string())).collect(),
            };
            let mut levels: Vec<String> = text.iter().flatten().cloned().collect();
            levels.sort();
            levels.dedup();
            levels
                .into_iter()
                .map(|l| {
                    let rows = text
                        .iter()
                        .map(|v| v.as_deref() == Some(l.as_str()))
                        .collect();
                    (l, rows)
                })
                .collect()
        }
    }
}

fn slice_checks(gate: &SliceGate, inputs: &Inputs<'_>) -> Result<Vec<Check>, MetricError> {
    let at_least = higher_is_better(&gate.metric);
    let Some(column) = inputs.columns.get(&gate.column) else {
        let mut c = check(
            "slice",
            format!("{} by {}", gate.metric, gate.column),
            None,
            at_least,
            gate.threshold,
        );
        c.detail = format!("the test split has no column {:?}", gate.column);
        return Ok(vec![c]);
    };
    let mut out = Vec::new();
    for (group, rows) in groups(column, gate.bins.as_deref()) {
        let n = rows.iter().filter(|r| **r).count();
        if n == 0 {
            continue;
        }
        let value = metrics(inputs.truth, inputs.candidate, Some(&rows))?
            .get(&gate.metric)
            .copied();
        let mut c = check(
            "slice",
            format!("{} where {} = {group}", gate.metric, gate.column),
            value,
            at_least,
            gate.threshold,
        );
        c.detail = format!("{n} rows");
        out.push(c);
    }
    Ok(out)
}

/// Runs every gate. With no production model, only the checks that need none are run, and the
/// report says so.
pub fn test(gates: &Gates, inputs: &Inputs<'_>) -> Result<TestReport, MetricError> {
    let candidate = metrics(inputs.truth, inputs.candidate, None)?;
    let production = inputs
        .production
        .map(|p| metrics(inputs.truth, p, None))
        .transpose()?;
    let mut checks = Vec::new();
    let mut notes = Vec::new();

    for (metric, threshold) in &gates.thresholds {
        checks.push(check(
            "threshold",
            metric.clone(),
            candidate.get(metric).copied(),
            higher_is_better(metric),
            *threshold,
        ));
    }

    let primary = inputs.primary_metric;
    let sign = if higher_is_better(primary) { 1.0 } else { -1.0 };
    match &production {
        None => {
            notes.push("no model is in production: thresholds, slices and fairness only".to_owned())
        }
        Some(prod) => {
            let (c, p) = (candidate.get(primary), prod.get(primary));
            let improvement = c.zip(p).map(|(c, p)| sign * (c - p));
            let mut ch = check(
                "improvement",
                format!("{primary} against production"),
                improvement,
                true,
                gates.min_improvement.unwrap_or(0.0),
            );
            ch.detail = format!(
                "candidate {}, production {}",
                c.map_or("-".into(), |v| format!("{v:.4}")),
                p.map_or("-".into(), |v| format!("{v:.4}"))
            );
            checks.push(ch);
            if let Some(min) = gates.min_relative_improvement {
                let relative = c
                    .zip(p)
                    .filter(|(_, p)| **p != 0.0)
                    .map(|(c, p)| sign * (c - p) / p.abs());
                checks.push(check(
                    "relative_improvement",
                    format!("{primary} against production, relative"),
                    relative,
                    true,
                    min,
                ));
            }
            if let (Some(max), Some(p)) = (gates.max_prediction_psi, inputs.production) {
                checks.push(check(
                    "prediction_drift",
                    "PSI of the predictions against production's".into(),
                    prediction_psi(p, inputs.candidate),
                    false,
                    max,
                ));
            }
        }
    }

    for gate in &gates.slices {
        checks.extend(slice_checks(gate, inputs)?);
    }

    for (i, gate) in gates.invariances.iter().enumerate() {
        let name = format!("{} moved by up to ±{}", gate.feature, gate.delta);
        let rate = match (inputs.candidate, inputs.perturbed.get(i)) {
            (Scores::Classes { labels, .. }, Some(Scores::Classes { labels: moved, .. })) => {
                let flips = labels.iter().zip(moved).filter(|(a, b)| a != b).count();
                Some(flips as f64 / labels.len().max(1) as f64)
            }
            _ => None,
        };
        let mut c = check("invariance", name, rate, false, gate.max_flip_rate);
        if rate.is_none() {
            c.detail = "not measured: it needs class predictions of the perturbed rows, from a model Tollgate can load".into();
        }
        checks.push(c);
    }

    if let Some(gate) = &gates.fairness {
        let mut by_group = Vec::new();
        if let Some(column) = inputs.columns.get(&gate.column) {
            for (group, rows) in groups(column, None) {
                if let Some(v) =
                    metrics(inputs.truth, inputs.candidate, Some(&rows))?.get(&gate.metric)
                {
                    by_group.push((group, *v));
                }
            }
        }
        let gap = (by_group.len() >= 2).then(|| {
            let hi = by_group
                .iter()
                .map(|g| g.1)
                .fold(f64::NEG_INFINITY, f64::max);
            let lo = by_group.iter().map(|g| g.1).fold(f64::INFINITY, f64::min);
            hi - lo
        });
        let mut c = check(
            "fairness",
            format!("largest {} gap across {}", gate.metric, gate.column),
            gap,
            false,
            gate.max_gap,
        );
        c.detail = by_group
            .iter()
            .map(|(g, v)| format!("{g}: {v:.4}"))
            .collect::<Vec<_>>()
            .join(", ");
        checks.push(c);
    }

    Ok(TestReport {
        passed: checks.iter().all(|c| c.passed),
        checks,
        metrics: candidate,
        production_metrics: production,
        notes,
        rows_without_target: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| (*x).to_owned()).collect()
    }

    fn scores(xs: &[&str]) -> Scores {
        Scores::Classes {
            labels: labels(xs),
            classes: Vec::new(),
            probabilities: None,
        }
    }

    fn gates(text: &str) -> Gates {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn thresholds_and_improvement_over_production() {
        let truth = Truth::Classes(labels(&["a", "a", "b", "b"]));
        let candidate = scores(&["a", "a", "b", "a"]); // 0.75
        let production = scores(&["a", "b", "b", "a"]); // 0.5
        let columns = BTreeMap::new();
        let inputs = Inputs {
            truth: &truth,
            candidate: &candidate,
            production: Some(&production),
            primary_metric: "accuracy",
            columns: &columns,
            perturbed: &[],
        };
        let g = gates("min_improvement = 0.2\n[thresholds]\naccuracy = 0.7\n");
        let report = test(&g, &inputs).unwrap();
        assert!(report.passed, "{report:#?}");
        assert_eq!(report.checks[1].value, Some(0.25));
        // Production on the same rows as itself: no worse, so a retrain on the same data passes.
        let same = Inputs {
            candidate: &production,
            ..inputs
        };
        assert!(test(&Gates::default(), &same).unwrap().passed);
        let worse = Inputs {
            candidate: &production,
            production: Some(&candidate),
            ..inputs
        };
        let report = test(&Gates::default(), &worse).unwrap();
        assert!(!report.passed);
        assert_eq!(report.checks[0].kind, "improvement");
    }

    #[test]
    fn without_production_only_thresholds_count_and_the_report_says_so() {
        let truth = Truth::Values(vec![1.0, 2.0, 3.0]);
        let candidate = Scores::Values(vec![1.0, 2.0, 4.0]);
        let columns = BTreeMap::new();
        let inputs = Inputs {
            truth: &truth,
            candidate: &candidate,
            production: None,
            primary_metric: "rmse",
            columns: &columns,
            perturbed: &[],
        };
        let report = test(&gates("[thresholds]\nrmse = 0.5\n"), &inputs).unwrap();
        assert!(!report.passed, "rmse 0.577 is above 0.5");
        assert!(report.notes[0].contains("no model is in production"));
    }

    #[test]
    fn slices_fairness_and_invariance() {
        let truth = Truth::Classes(labels(&["a", "a", "b", "b", "a", "b"]));
        let candidate = scores(&["a", "a", "b", "b", "b", "a"]);
        let columns = BTreeMap::from([
            (
                "colour".to_owned(),
                Column::Text(
                    ["red", "red", "red", "red", "white", "white"]
                        .iter()
                        .map(|s| Some((*s).to_owned()))
                        .collect(),
                ),
            ),
            (
                "ph".to_owned(),
                Column::Number(vec![
                    Some(3.0),
                    Some(3.1),
                    Some(3.5),
                    Some(3.6),
                    Some(3.2),
                    Some(3.9),
                ]),
            ),
        ]);
        let perturbed = [scores(&["a", "a", "b", "a", "b", "a"])];
        let inputs = Inputs {
            truth: &truth,
            candidate: &candidate,
            production: None,
            primary_metric: "accuracy",
            columns: &columns,
            perturbed: &perturbed,
        };
        let g = gates(
            "[[slice]]\ncolumn = \"colour\"\nmetric = \"accuracy\"\nthreshold = 0.5\n\
             [[slice]]\ncolumn = \"ph\"\nbins = [3.4]\nmetric = \"accuracy\"\nthreshold = 0.5\n\
             [[invariance]]\nfeature = \"ph\"\ndelta = 0.1\nmax_flip_rate = 0.1\n\
             [fairness]\ncolumn = \"colour\"\nmetric = \"accuracy\"\nmax_gap = 0.5\n",
        );
        let report = test(&g, &inputs).unwrap();
        let by = |name: &str| report.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(by("accuracy where colour = red").value, Some(1.0));
        assert!(!by("accuracy where colour = white").passed, "0 of 2 right");
        assert_eq!(by("accuracy where ph = [-inf, 3.4)").value, Some(2.0 / 3.0));
        let flips = by("ph moved by up to ±0.1");
        assert!((flips.value.unwrap() - 1.0 / 6.0).abs() < 1e-12 && !flips.passed);
        let fairness = by("largest accuracy gap across colour");
        assert_eq!(fairness.value, Some(1.0));
        assert!(!fairness.passed);
        assert!(!report.passed);
    }

    #[test]
    fn prediction_drift_is_zero_for_the_same_predictions() {
        let p = Scores::Values((0..100).map(f64::from).collect());
        assert!(prediction_psi(&p, &p).unwrap().abs() < 1e-12);
        let shifted = Scores::Values((50..150).map(f64::from).collect());
        assert!(prediction_psi(&p, &shifted).unwrap() > 1.0);
    }
}
