//! The job's configuration, from SageMaker's `hyperparameters.json`: a JSON object whose values
//! are all strings. Parsed once into typed values, with every default resolved, so a bad value
//! fails before any data is read and names the key and the value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::TrainError;

// The vocabulary the pipeline file writes into `hyperparameters.json` and the trainer reads:
// one definition, in the domain.
pub use tollgate_domain::pipeline::{ClassWeight, Metric, ModelFamily as Family, Task};

/// The task a family does when the configuration does not say.
fn default_task(family: Family) -> Task {
    match family {
        Family::GradientBoosting => Task::Classification,
        Family::LinearRegression | Family::ElasticNet => Task::Regression,
        _ => Task::Classification,
    }
}

/// The hyperparameters of a family's own that it reads.
fn own_keys(family: Family) -> &'static [&'static str] {
    match family {
        Family::LogisticRegression => &["alpha", "max_iterations", "gradient_tolerance"],
        Family::DecisionTree => &[
            "max_depth",
            "min_weight_split",
            "min_weight_leaf",
            "split_quality",
        ],
        Family::RandomForest => &[
            "n_trees",
            "max_iterations",
            "max_depth",
            "min_weight_split",
            "min_weight_leaf",
            "split_quality",
            "bootstrap_proportion",
            "feature_proportion",
        ],
        Family::LinearRegression => &["fit_intercept"],
        Family::ElasticNet => &["alpha", "l1_ratio", "max_iterations", "tolerance"],
        Family::GradientBoosting => &["budget", "max_bin", "max_iterations"],
    }
}

/// How a tree measures the quality of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitQuality {
    Gini,
    Entropy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// The L2 penalty.
    pub alpha: f64,
    pub max_iterations: u64,
    pub gradient_tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    pub max_depth: Option<usize>,
    pub min_weight_split: f32,
    pub min_weight_leaf: f32,
    pub split_quality: SplitQuality,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    pub n_trees: usize,
    #[serde(flatten)]
    pub tree: TreeParams,
    /// The share of the training rows each tree draws (with replacement).
    pub bootstrap_proportion: f64,
    /// The share of the encoded columns each tree sees; `None` until the data is known, then
    /// sqrt(p)/p.
    pub feature_proportion: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams {
    /// perpetual's one knob: more budget, more and finer boosting rounds (0.5 to 2 is typical).
    pub budget: f32,
    /// Bins per feature for the split search.
    pub max_bin: u16,
    /// A cap on boosting rounds per booster (a halving search's resource); the budget may stop
    /// the fit sooner.
    pub max_iterations: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearParams {
    pub fit_intercept: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticNetParams {
    /// The penalty.
    pub alpha: f64,
    /// The share of the penalty on the L1 norm: 1 is the lasso, 0 ridge.
    pub l1_ratio: f64,
    pub max_iterations: u32,
    pub tolerance: f64,
}

/// The model family and its own hyperparameters, defaults resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum FamilyParams {
    LogisticRegression(LogisticParams),
    DecisionTree(TreeParams),
    RandomForest(ForestParams),
    LinearRegression(LinearParams),
    ElasticNet(ElasticNetParams),
    GradientBoosting(BoostingParams),
}

impl FamilyParams {
    pub fn family(&self) -> Family {
        match self {
            Self::LogisticRegression(_) => Family::LogisticRegression,
            Self::DecisionTree(_) => Family::DecisionTree,
            Self::RandomForest(_) => Family::RandomForest,
            Self::LinearRegression(_) => Family::LinearRegression,
            Self::ElasticNet(_) => Family::ElasticNet,
            Self::GradientBoosting(_) => Family::GradientBoosting,
        }
    }
}

/// Every value the fit depends on, parsed: what `model.json` records under `hyperparameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyperparameters {
    pub metric: Metric,
    pub seed: u64,
    /// The share of the training rows to train on (a seeded subset), for successive halving.
    pub data_fraction: f64,
    pub class_weight: ClassWeight,
    pub family: FamilyParams,
}

/// How `hyperparameters` reads in `model.json`: one flat object.
#[derive(Serialize, Deserialize)]
struct Flat<P> {
    metric: Metric,
    seed: u64,
    data_fraction: f64,
    #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
    class_weight: ClassWeight,
    #[serde(flatten)]
    params: P,
}

impl Hyperparameters {
    pub(crate) fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        fn flat<P: Serialize>(
            h: &Hyperparameters,
            params: &P,
        ) -> serde_json::Result<serde_json::Value> {
            serde_json::to_value(Flat {
                metric: h.metric,
                seed: h.seed,
                data_fraction: h.data_fraction,
                class_weight: h.class_weight,
                params,
            })
        }
        match &self.family {
            FamilyParams::LogisticRegression(p) => flat(self, p),
            FamilyParams::DecisionTree(p) => flat(self, p),
            FamilyParams::RandomForest(p) => flat(self, p),
            FamilyParams::LinearRegression(p) => flat(self, p),
            FamilyParams::ElasticNet(p) => flat(self, p),
            FamilyParams::GradientBoosting(p) => flat(self, p),
        }
    }

    pub(crate) fn from_json(family: Family, value: serde_json::Value) -> serde_json::Result<Self> {
        fn read<P: serde::de::DeserializeOwned>(
            value: serde_json::Value,
            wrap: fn(P) -> FamilyParams,
        ) -> serde_json::Result<Hyperparameters> {
            let flat: Flat<P> = serde_json::from_value(value)?;
            Ok(Hyperparameters {
                metric: flat.metric,
                seed: flat.seed,
                data_fraction: flat.data_fraction,
                class_weight: flat.class_weight,
                family: wrap(flat.params),
            })
        }
        match family {
            Family::LogisticRegression => read(value, FamilyParams::LogisticRegression),
            Family::DecisionTree => read(value, FamilyParams::DecisionTree),
            Family::RandomForest => read(value, FamilyParams::RandomForest),
            Family::LinearRegression => read(value, FamilyParams::LinearRegression),
            Family::ElasticNet => read(value, FamilyParams::ElasticNet),
            Family::GradientBoosting => read(value, FamilyParams::GradientBoosting),
        }
    }
}

/// A training job's configuration. The keys of `hyperparameters.json`, with their defaults:
///
/// - `model`: `logistic_regression`, `decision_tree`, `random_forest`, `linear_regression`,
///   `elastic_net` or `gradient_boosting`; `task`: `classification` or `regression` (the
///   family's; gradient_boosting does both, classification by default); `target`: the column
///   to predict; `features`: a JSON array of column names, or names separated by commas (every
///   column but the target);
/// - `metric`: `accuracy`, `log_loss` or `f1_macro`; `rmse`, `mae` or `r2` (accuracy, rmse);
///   `seed` (0); `data_fraction`, the share of the training rows to train on, in (0, 1] (1);
///   `class_weight`, `none` or `balanced`, for classifiers that weigh rows (gradient_boosting,
///   decision_tree) (none);
/// - logistic_regression: `alpha`, the L2 penalty (1); `max_iterations` (100);
///   `gradient_tolerance` (1e-4);
/// - decision_tree: `max_depth` (none); `min_weight_split` (2); `min_weight_leaf` (1);
///   `split_quality`, `gini` or `entropy` (gini);
/// - random_forest: `n_trees`, or `max_iterations` for a halving search (100); the tree's keys;
///   `bootstrap_proportion` (0.7); `feature_proportion` (sqrt(p)/p of the p encoded columns);
/// - linear_regression: `fit_intercept` (true);
/// - elastic_net: `alpha`, the penalty (1); `l1_ratio` (0.5); `max_iterations` (1000);
///   `tolerance` (1e-4);
/// - gradient_boosting: `budget` (0.5); `max_bin` (256); `max_iterations`, a cap on boosting
///   rounds per booster (100).
///
/// An empty value, `none` or `null` counts as absent. A key that starts with `_`, or that
/// another family reads, is ignored; any other key is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub task: Task,
    /// The column to predict.
    pub target: String,
    /// The input columns, in order; `None` means every column but the target.
    pub features: Option<Vec<String>>,
    pub hyperparameters: Hyperparameters,
    /// Keys that another family reads and this one does not: accepted, and said on stderr.
    pub ignored: Vec<String>,
}

/// The keys every family reads.
const COMMON_KEYS: [&str; 8] = [
    "model",
    "task",
    "target",
    "features",
    "metric",
    "seed",
    "data_fraction",
    "class_weight",
];

impl Config {
    /// Reads `hyperparameters.json`.
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let fail = |reason: String| TrainError::Hyperparameters {
            path: path.to_owned(),
            reason,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
        let object: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| fail(format!("not a JSON object of strings: {e}")))?;
        let mut values = BTreeMap::new();
        for (key, value) in object {
            // SageMaker passes strings; numbers and booleans written by hand are taken as text.
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(fail(format!(
                        "hyperparameter {key} is {other}; every value must be a string"
                    )));
                }
            };
            values.insert(key, text);
        }
        Self::from_strings(&values)
    }

    /// Parses hyperparameters as SageMaker passes them: every value a string.
    pub fn from_strings(values: &BTreeMap<String, String>) -> Result<Self, TrainError> {
        let mut r = Reader::new(values);
        let family = parse_family(r.required("model")?)?;
        let task = match r.text("task") {
            None => default_task(family),
            Some("classification") => Task::Classification,
            Some("regression") => Task::Regression,
            Some(other) => {
                return Err(TrainError::hyperparameter(
                    "task",
                    format!("{other:?} is not a task (classification or regression)"),
                ));
            }
        };
        check_family_task(family, task)?;
        let target = r.required("target")?.to_owned();
        let features = r.text("features").map(parse_features).transpose()?;
        let metric = match r.text("metric") {
            None => Metric::default_for(task),
            Some(text) => parse_metric(text, task, family)?,
        };
        let seed = r.whole("seed")?.unwrap_or(0);
        let data_fraction = r.float("data_fraction", 1.0)?;
        in_range(
            "data_fraction",
            data_fraction,
            data_fraction > 0.0 && data_fraction <= 1.0,
            "in (0, 1]",
        )?;
        let class_weight = r.one_of(
            "class_weight",
            &[
                ("none", ClassWeight::None),
                ("balanced", ClassWeight::Balanced),
            ],
        )?;
        if class_weight == ClassWeight::Balanced {
            let refused = match (task, family) {
                (Task::Regression, _) => Some("class weights apply to classification"),
                (_, f) if f.takes_class_weights() => None,
                _ => Some(
                    "it does not weigh rows (linfa's logistic regression and forest bootstrap \
                     take no weights); use gradient_boosting or decision_tree",
                ),
            };
            if let Some(reason) = refused {
                return Err(TrainError::hyperparameter(
                    "class_weight",
                    format!("balanced is not available for {family}: {reason}"),
                ));
            }
        }
        let params = family_params(family, &mut r)?;
        let ignored = r.leftovers(family)?;
        Ok(Self {
            task,
            target,
            features,
            hyperparameters: Hyperparameters {
                metric,
                seed,
                data_fraction,
                class_weight,
                family: params,
            },
            ignored,
        })
    }

    pub fn family(&self) -> Family {
        self.hyperparameters.family.family()
    }
}

fn parse_family(text: &str) -> Result<Family, TrainError> {
    Family::ALL
        .into_iter()
        .find(|f| f.as_str() == text)
        .ok_or_else(|| {
            let known: Vec<_> = Family::ALL.iter().map(|f| f.as_str()).collect();
            TrainError::hyperparameter(
                "model",
                format!(
                    "{text:?} is not a model the trainer knows ({})",
                    known.join(", ")
                ),
            )
        })
}

fn check_family_task(family: Family, task: Task) -> Result<(), TrainError> {
    let reason = match (family, task) {
        (Family::LogisticRegression, Task::Regression) => {
            "logistic_regression is a classifier; use linear_regression or elastic_net"
        }
        (Family::DecisionTree | Family::RandomForest, Task::Regression) => {
            "linfa-trees 0.8 grows classification trees only; use gradient_boosting, \
             linear_regression or elastic_net for regression"
        }
        (Family::LinearRegression | Family::ElasticNet, Task::Classification) => {
            "a regression model cannot classify; use gradient_boosting, logistic_regression, \
             decision_tree or random_forest"
        }
        _ => return Ok(()),
    };
    Err(TrainError::hyperparameter(
        "task",
        format!("{family} cannot do {task}: {reason}"),
    ))
}

/// A JSON array of names (`["a","b"]`), or names separated by commas (`a,b`).
fn parse_features(text: &str) -> Result<Vec<String>, TrainError> {
    let names: Vec<String> = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| {
            TrainError::hyperparameter(
                "features",
                format!("{text:?} is not a JSON array of column names: {e}"),
            )
        })?
    } else {
        text.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if names.is_empty() {
        return Err(TrainError::hyperparameter("features", "names no column"));
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(TrainError::hyperparameter(
            "features",
            format!("names {twice} twice"),
        ));
    }
    Ok(names)
}

fn parse_metric(text: &str, task: Task, family: Family) -> Result<Metric, TrainError> {
    let metric = Metric::ALL
        .into_iter()
        .find(|m| m.as_str() == text)
        .ok_or_else(|| {
            let known: Vec<_> = Metric::ALL.iter().map(|m| m.as_str()).collect();
            TrainError::hyperparameter(
                "metric",
                format!("{text:?} is not a metric ({})", known.join(", ")),
            )
        })?;
    if metric.task() != task {
        return Err(TrainError::hyperparameter(
            "metric",
            format!(
                "{metric} is a {} metric and the task is {task}",
                metric.task()
            ),
        ));
    }
    if metric == Metric::LogLoss && !family.gives_probabilities() {
        return Err(TrainError::hyperparameter(
            "metric",
            format!("log_loss needs class probabilities, which {family} does not give"),
        ));
    }
    Ok(metric)
}

fn family_params(family: Family, r: &mut Reader<'_>) -> Result<FamilyParams, TrainError> {
    Ok(match family {
        Family::LogisticRegression => {
            let alpha = r.float("alpha", 1.0)?;
            in_range("alpha", alpha, alpha >= 0.0, "at least 0")?;
            let max_iterations = r.count("max_iterations", 100)?;
            let gradient_tolerance = r.float("gradient_tolerance", 1e-4)?;
            in_range(
                "gradient_tolerance",
                gradient_tolerance,
                gradient_tolerance > 0.0,
                "above 0",
            )?;
            FamilyParams::LogisticRegression(LogisticParams {
                alpha,
                max_iterations,
                gradient_tolerance,
            })
        }
        Family::DecisionTree => FamilyParams::DecisionTree(tree_params(r)?),
        Family::GradientBoosting => {
            let budget = r.float("budget", 0.5)?;
            in_range(
                "budget",
                budget,
                budget > 0.0 && budget <= 10.0,
                "in (0, 10]",
            )?;
            let max_bin = r.whole("max_bin")?.unwrap_or(256);
            in_range(
                "max_bin",
                max_bin as f64,
                (2..=u16::MAX as u64).contains(&max_bin),
                "at least 2",
            )?;
            // scikit-learn's HistGradientBoosting stops at 100 rounds as well; perpetual's own
            // cap (1000) made a trial on 300 rows take a minute.
            let max_iterations = r.count("max_iterations", 100)?;
            FamilyParams::GradientBoosting(BoostingParams {
                budget: budget as f32,
                max_bin: max_bin as u16,
                max_iterations: to_usize("max_iterations", max_iterations)?,
            })
        }
        Family::RandomForest => {
            let n_trees = match (r.whole("n_trees")?, r.whole("max_iterations")?) {
                (Some(_), Some(_)) => {
                    return Err(TrainError::hyperparameter(
                        "max_iterations",
                        "random_forest takes its number of trees from n_trees or from \
                         max_iterations, not both",
                    ));
                }
                (Some(n), None) | (None, Some(n)) => n,
                (None, None) => 100,
            };
            in_range("n_trees", n_trees as f64, n_trees >= 1, "at least 1")?;
            let tree = tree_params(r)?;
            let bootstrap_proportion = r.float("bootstrap_proportion", 0.7)?;
            in_range(
                "bootstrap_proportion",
                bootstrap_proportion,
                proportion(bootstrap_proportion),
                "in (0, 1]",
            )?;
            let feature_proportion = r.optional_float("feature_proportion")?;
            if let Some(p) = feature_proportion {
                in_range("feature_proportion", p, proportion(p), "in (0, 1]")?;
            }
            FamilyParams::RandomForest(ForestParams {
                n_trees: to_usize("n_trees", n_trees)?,
                tree,
                bootstrap_proportion,
                feature_proportion,
            })
        }
        Family::LinearRegression => FamilyParams::LinearRegression(LinearParams {
            fit_intercept: r.bool("fit_intercept", true)?,
        }),
        Family::ElasticNet => {
            let alpha = r.float("alpha", 1.0)?;
            in_range("alpha", alpha, alpha >= 0.0, "at least 0")?;
            let l1_ratio = r.float("l1_ratio", 0.5)?;
            in_range(
                "l1_ratio",
                l1_ratio,
                (0.0..=1.0).contains(&l1_ratio),
                "in [0, 1]",
            )?;
            let max_iterations = r.count("max_iterations", 1000)?;
            let tolerance = r.float("tolerance", 1e-4)?;
            in_range("tolerance", tolerance, tolerance > 0.0, "above 0")?;
            FamilyParams::ElasticNet(ElasticNetParams {
                alpha,
                l1_ratio,
                max_iterations: u32::try_from(max_iterations).map_err(|_| {
                    TrainError::hyperparameter(
                        "max_iterations",
                        format!("{max_iterations} is more than {}", u32::MAX),
                    )
                })?,
                tolerance,
            })
        }
    })
}

fn tree_params(r: &mut Reader<'_>) -> Result<TreeParams, TrainError> {
    let max_depth = r.whole("max_depth")?;
    if let Some(d) = max_depth {
        in_range("max_depth", d as f64, d >= 1, "at least 1")?;
    }
    let min_weight_split = r.float("min_weight_split", 2.0)?;
    in_range(
        "min_weight_split",
        min_weight_split,
        min_weight_split >= 0.0,
        "at least 0",
    )?;
    let min_weight_leaf = r.float("min_weight_leaf", 1.0)?;
    in_range(
        "min_weight_leaf",
        min_weight_leaf,
        min_weight_leaf >= 0.0,
        "at least 0",
    )?;
    let split_quality = r.one_of(
        "split_quality",
        &[
            ("gini", SplitQuality::Gini),
            ("entropy", SplitQuality::Entropy),
        ],
    )?;
    Ok(TreeParams {
        max_depth: max_depth.map(|d| to_usize("max_depth", d)).transpose()?,
        min_weight_split: min_weight_split as f32,
        min_weight_leaf: min_weight_leaf as f32,
        split_quality,
    })
}

fn proportion(p: f64) -> bool {
    p > 0.0 && p <= 1.0
}

fn in_range(key: &str, value: f64, ok: bool, expected: &str) -> Result<(), TrainError> {
    if ok {
        Ok(())
    } else {
        Err(TrainError::hyperparameter(
            key,
            format!("{value} must be {expected}"),
        ))
    }
}

fn to_usize(key: &str, value: u64) -> Result<usize, TrainError> {
    usize::try_from(value)
        .map_err(|_| TrainError::hyperparameter(key, format!("{value} is too large")))
}

/// Reads string values by key and remembers which keys were read, so that what is left over can
/// be refused.
struct Reader<'a> {
    values: &'a BTreeMap<String, String>,
    read: BTreeSet<&'static str>,
}

impl<'a> Reader<'a> {
    fn new(values: &'a BTreeMap<String, String>) -> Self {
        Self {
            values,
            read: BTreeSet::new(),
        }
    }

    /// The trimmed value; an empty value, `none` or `null` counts as absent.
    fn text(&mut self, key: &'static str) -> Option<&'a str> {
        self.read.insert(key);
        let text = self.values.get(key)?.trim();
        let absent = text.is_empty()
            || text.eq_ignore_ascii_case("none")
            || text.eq_ignore_ascii_case("null");
        (!absent).then_some(text)
    }

    fn required(&mut self, key: &'static str) -> Result<&'a str, TrainError> {
        self.text(key)
            .ok_or_else(|| TrainError::hyperparameter(key, "missing, and it is required"))
    }

    fn optional_float(&mut self, key: &'static str) -> Result<Option<f64>, TrainError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(TrainError::hyperparameter(
                key,
                format!("{text:?} is not a number"),
            )),
        }
    }

    fn float(&mut self, key: &'static str, default: f64) -> Result<f64, TrainError> {
        Ok(self.optional_float(key)?.unwrap_or(default))
    }

    /// A whole number; `27.0` is taken as 27, since a search may hand integers over as floats.
    fn whole(&mut self, key: &'static str) -> Result<Option<u64>, TrainError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        if let Ok(v) = text.parse::<u64>() {
            return Ok(Some(v));
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => {
                Ok(Some(v as u64))
            }
            _ => Err(TrainError::hyperparameter(
                key,
                format!("{text:?} is not a whole number of at least 0"),
            )),
        }
    }

    /// One of the named values; absent, the first.
    fn one_of<T: Copy>(
        &mut self,
        key: &'static str,
        values: &[(&str, T)],
    ) -> Result<T, TrainError> {
        let Some(text) = self.text(key) else {
            return Ok(values[0].1);
        };
        values
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
                TrainError::hyperparameter(key, format!("{text:?} is not {}", names.join(" or ")))
            })
    }

    /// A whole number of at least 1.
    fn count(&mut self, key: &'static str, default: u64) -> Result<u64, TrainError> {
        let n = self.whole(key)?.unwrap_or(default);
        in_range(key, n as f64, n >= 1, "at least 1")?;
        Ok(n)
    }

    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, TrainError> {
        match self.text(key) {
            None => Ok(default),
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            Some(t) => Err(TrainError::hyperparameter(
                key,
                format!("{t:?} is not true or false"),
            )),
        }
    }

    /// Refuses a key no family reads; returns the keys another family reads, or that start with
    /// `_` (SageMaker's tuner adds `_tuning_objective_metric`), which are ignored.
    fn leftovers(&self, family: Family) -> Result<Vec<String>, TrainError> {
        let mut ignored = Vec::new();
        for key in self.values.keys() {
            if self.read.contains(key.as_str()) || key.starts_with('_') {
                continue;
            }
            let known = COMMON_KEYS.contains(&key.as_str())
                || Family::ALL
                    .iter()
                    .any(|f| own_keys(*f).contains(&key.as_str()));
            if !known {
                return Err(TrainError::UnknownHyperparameter {
                    key: key.clone(),
                    family,
                });
            }
            ignored.push(key.clone());
        }
        Ok(ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, TrainError> {
        let values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_strings(&values)
    }

    #[test]
    fn string_values_are_parsed_and_defaults_resolved() {
        let config = parse(&[
            ("model", "logistic_regression"),
            ("target", "quality"),
            ("features", "[\"a\", \"b\"]"),
            ("alpha", "0.01"),
            ("max_iterations", "50.0"),
            ("seed", "7"),
            ("data_fraction", "0.33"),
        ])
        .unwrap();
        assert_eq!(config.task, Task::Classification);
        assert_eq!(config.features, Some(vec!["a".into(), "b".into()]));
        let h = &config.hyperparameters;
        assert_eq!(
            (h.metric, h.seed, h.data_fraction),
            (Metric::Accuracy, 7, 0.33)
        );
        assert_eq!(
            h.family,
            FamilyParams::LogisticRegression(LogisticParams {
                alpha: 0.01,
                max_iterations: 50,
                gradient_tolerance: 1e-4,
            })
        );
    }

    #[test]
    fn features_may_be_separated_by_commas() {
        let config = parse(&[
            ("model", "elastic_net"),
            ("target", "y"),
            ("features", "a, b,c"),
        ])
        .unwrap();
        assert_eq!(config.features.unwrap(), ["a", "b", "c"]);
        assert_eq!(config.task, Task::Regression);
        assert_eq!(config.hyperparameters.metric, Metric::Rmse);
    }

    #[test]
    fn a_value_that_does_not_parse_names_the_key_and_the_value() {
        let e = parse(&[("model", "elastic_net"), ("target", "y"), ("alpha", "abc")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "hyperparameter alpha: \"abc\" is not a number"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_and_another_familys_key_is_ignored() {
        let e = parse(&[("model", "decision_tree"), ("target", "y"), ("depth", "3")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown hyperparameter depth for model decision_tree"
        );
        let config = parse(&[
            ("model", "decision_tree"),
            ("target", "y"),
            ("alpha", "3"),
            ("_tuning_objective_metric", "validation:accuracy"),
        ])
        .unwrap();
        assert_eq!(config.ignored, ["alpha"]);
    }

    #[test]
    fn a_tree_cannot_regress() {
        let e = parse(&[
            ("model", "decision_tree"),
            ("task", "regression"),
            ("target", "y"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("hyperparameter task: decision_tree cannot do regression")
        );
    }

    #[test]
    fn a_forest_takes_max_iterations_as_its_number_of_trees() {
        let config = parse(&[
            ("model", "random_forest"),
            ("target", "y"),
            ("max_iterations", "9"),
        ])
        .unwrap();
        let FamilyParams::RandomForest(p) = config.hyperparameters.family else {
            panic!("not a forest");
        };
        assert_eq!(p.n_trees, 9);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for (key, value) in [
            ("data_fraction", "0"),
            ("data_fraction", "1.5"),
            ("alpha", "-1"),
        ] {
            let e = parse(&[
                ("model", "logistic_regression"),
                ("target", "y"),
                (key, value),
            ])
            .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("hyperparameter {key}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn log_loss_needs_probabilities() {
        let e = parse(&[
            ("model", "decision_tree"),
            ("target", "y"),
            ("metric", "log_loss"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("decision_tree does not give"), "{e}");
        let e = parse(&[
            ("model", "logistic_regression"),
            ("target", "y"),
            ("metric", "r2"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("r2 is a regression metric"), "{e}");
    }

    #[test]
    fn hyperparameters_round_trip_through_json() {
        let config = parse(&[
            ("model", "random_forest"),
            ("target", "y"),
            ("max_depth", "4"),
        ])
        .unwrap();
        let h = config.hyperparameters;
        let json = h.to_json().unwrap();
        assert_eq!(json["max_depth"], 4);
        assert_eq!(json["n_trees"], 100);
        assert_eq!(
            Hyperparameters::from_json(Family::RandomForest, json).unwrap(),
            h
        );
    }
}
