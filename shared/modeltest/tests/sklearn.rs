//! Agreement with scikit-learn on every metric of the cases `fixtures/make.py` wrote: seeded
//! binary (tied scores; hard 0/1 and unnormalised rows), three-class (a class never predicted;
//! one never true; rows not summing to one), six-class (unsorted columns), labels only, and
//! regression (noisy, worse than the mean, constant truth, perfect).

use serde::Deserialize;
use tollgate_modeltest::{ClassificationMetrics, RegressionMetrics, classification, regression};

#[derive(Deserialize)]
struct Cases {
    sklearn: String,
    classification: Vec<ClassificationCase>,
    regression: Vec<RegressionCase>,
}

#[derive(Deserialize)]
struct ClassificationCase {
    name: String,
    truth: Vec<String>,
    predicted: Vec<String>,
    classes: Option<Vec<String>>,
    probabilities: Option<Vec<Vec<f64>>>,
    expected: ClassificationMetrics,
}

#[derive(Deserialize)]
struct RegressionCase {
    name: String,
    truth: Vec<f64>,
    predicted: Vec<f64>,
    expected: RegressionMetrics,
}

fn cases() -> Cases {
    serde_json::from_str(include_str!("fixtures/cases.json")).expect("cases.json parses")
}

/// Collects every disagreement, so one run shows them all.
#[derive(Default)]
struct Disagreements(Vec<String>);

impl Disagreements {
    /// Within 1e-9, absolute below 1 and relative above (a log loss of 36 is compared by its
    /// digits, an AUC of 0.8 by its decimals).
    fn value(&mut self, what: String, got: f64, want: f64) {
        if (got - want).abs() > 1e-9 * want.abs().max(1.0) {
            self.0
                .push(format!("{what}: got {got}, scikit-learn {want}"));
        }
    }

    fn optional(&mut self, what: String, got: Option<f64>, want: Option<f64>) {
        match (got, want) {
            (Some(g), Some(w)) => self.value(what, g, w),
            (None, None) => {}
            _ => self
                .0
                .push(format!("{what}: got {got:?}, scikit-learn {want:?}")),
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "disagreements:\n{}", self.0.join("\n"));
    }
}

#[test]
fn the_fixtures_come_from_scikit_learn_1_7() {
    assert!(cases().sklearn.starts_with("1.7."));
}

#[test]
fn classification_metrics_agree_with_scikit_learn() {
    let mut d = Disagreements::default();
    let cases = cases().classification;
    assert!(cases.len() >= 6);
    for case in &cases {
        let probabilities = case.classes.as_deref().zip(case.probabilities.as_deref());
        let got = classification(&case.truth, &case.predicted, probabilities)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let want = &case.expected;
        let name = &case.name;
        for (metric, g, w) in [
            ("accuracy", got.accuracy, want.accuracy),
            ("precision_macro", got.precision_macro, want.precision_macro),
            ("recall_macro", got.recall_macro, want.recall_macro),
            ("f1_macro", got.f1_macro, want.f1_macro),
            ("f1_weighted", got.f1_weighted, want.f1_weighted),
        ] {
            d.value(format!("{name} {metric}"), g, w);
        }
        d.optional(format!("{name} log_loss"), got.log_loss, want.log_loss);
        d.optional(format!("{name} roc_auc"), got.roc_auc, want.roc_auc);
        if got.n != want.n {
            d.0.push(format!("{name} n: got {}, scikit-learn {}", got.n, want.n));
        }
        let classes = |m: &ClassificationMetrics| m.per_class.keys().cloned().collect::<Vec<_>>();
        if classes(&got) != classes(want) {
            d.0.push(format!(
                "{name} classes: got {:?}, scikit-learn {:?}",
                classes(&got),
                classes(want)
            ));
            continue;
        }
        for (class, w) in &want.per_class {
            let g = &got.per_class[class];
            d.value(
                format!("{name} {class} precision"),
                g.precision,
                w.precision,
            );
            d.value(format!("{name} {class} recall"), g.recall, w.recall);
            d.value(format!("{name} {class} f1"), g.f1, w.f1);
            if g.support != w.support {
                d.0.push(format!(
                    "{name} {class} support: got {}, scikit-learn {}",
                    g.support, w.support
                ));
            }
        }
    }
    d.assert_none();
}

#[test]
fn regression_metrics_agree_with_scikit_learn() {
    let mut d = Disagreements::default();
    let cases = cases().regression;
    assert!(cases.len() >= 4);
    for case in &cases {
        let got = regression(&case.truth, &case.predicted)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let want = &case.expected;
        let name = &case.name;
        d.value(format!("{name} rmse"), got.rmse, want.rmse);
        d.value(format!("{name} mae"), got.mae, want.mae);
        d.value(format!("{name} r2"), got.r2, want.r2);
        if got.n != want.n {
            d.0.push(format!("{name} n: got {}, scikit-learn {}", got.n, want.n));
        }
    }
    d.assert_none();
}
