//! The model families: fitting a linfa estimator on the encoded matrix, predicting with it, and
//! its form in `model.json` (the fitted linfa value, through its own serde implementation).

use linfa::Dataset;
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_linear::{FittedLinearRegression, LinearRegression};
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use rand08::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::config::{BoostingParams, Family, FamilyParams, SplitQuality, TreeParams};

/// A fitted model. Classes are indices into the model's sorted class list.
#[derive(Debug, Clone)]
pub(crate) enum Fitted {
    BinaryLogistic(FittedLogisticRegression<f64, usize>),
    MultiLogistic(MultiFittedLogisticRegression<f64, usize>),
    Tree(DecisionTree<f64, usize>),
    Forest(Forest),
    Linear(FittedLinearRegression<f64>),
    ElasticNet(ElasticNet<f64>),
    Boosted(Boosted),
}

/// Gradient-boosted trees: one perpetual booster for a regression or two classes (the log-odds
/// of the second class), one per class for more (their log-odds, softmaxed, as perpetual's
/// `MultiOutputBooster` does, fitted here one by one so that a failure is not dropped).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Boosted {
    boosters: Vec<PerpetualBooster>,
}

impl std::fmt::Debug for Boosted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let trees: usize = self.boosters.iter().map(|b| b.trees.len()).sum();
        write!(
            f,
            "Boosted({} boosters, {trees} trees)",
            self.boosters.len()
        )
    }
}

/// A random forest's trees and the encoded columns each one sees. linfa-ensemble's
/// `EnsembleLearner` has no serde implementation, and its vote breaks ties in hash order; the
/// trainer keeps the parts and votes itself, ties going to the first class.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Forest {
    trees: Vec<DecisionTree<f64, usize>>,
    features: Vec<Vec<usize>>,
}

/// What a model is fitted to.
#[derive(Debug)]
pub(crate) enum Target {
    /// A class index per row, and how many classes there are.
    Classes(Vec<usize>, usize),
    Values(Vec<f64>),
}

/// What a model predicts.
pub(crate) enum Output {
    Classes {
        index: Vec<usize>,
        /// One column per class, when the family gives them.
        probabilities: Option<Array2<f64>>,
    },
    Values(Vec<f64>),
}

fn fit_error(family: Family) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> TrainError {
    move |source| TrainError::Fit { family, source }
}

/// Fits a family on the encoded rows. `weights`, one per row, weigh the rows in families that
/// take weights (the configuration refuses them elsewhere).
pub(crate) fn fit(
    params: &FamilyParams,
    seed: u64,
    x: Array2<f64>,
    target: Target,
    weights: Option<Vec<f64>>,
) -> Result<Fitted, TrainError> {
    let family = params.family();
    let failed = fit_error(family);
    match (params, target) {
        (FamilyParams::GradientBoosting(p), target) => {
            boost(p, seed, &x, &target, weights.as_deref()).map_err(failed)
        }
        (FamilyParams::LogisticRegression(p), Target::Classes(y, classes)) => {
            let data = Dataset::new(x, Array1::from(y));
            if classes == 2 {
                LogisticRegression::default()
                    .alpha(p.alpha)
                    .max_iterations(p.max_iterations)
                    .gradient_tolerance(p.gradient_tolerance)
                    .fit(&data)
                    .map(Fitted::BinaryLogistic)
                    .map_err(|e| failed(e.into()))
            } else {
                MultiLogisticRegression::default()
                    .alpha(p.alpha)
                    .max_iterations(p.max_iterations)
                    .gradient_tolerance(p.gradient_tolerance)
                    .fit(&data)
                    .map(Fitted::MultiLogistic)
                    .map_err(|e| failed(e.into()))
            }
        }
        (FamilyParams::DecisionTree(p), Target::Classes(y, _)) => {
            let mut data = Dataset::new(x, Array1::from(y));
            if let Some(w) = weights {
                data = data.with_weights(w.into_iter().map(|w| w as f32).collect());
            }
            tree_params(p)
                .fit(&data)
                .map(Fitted::Tree)
                .map_err(|e| failed(e.into()))
        }
        (FamilyParams::RandomForest(p), Target::Classes(y, _)) => {
            let width = x.ncols();
            let data = Dataset::new(x, Array1::from(y));
            let rng = rand08::rngs::SmallRng::seed_from_u64(seed);
            let forest =
                linfa_ensemble::RandomForestParams::new_fixed_rng(tree_params(&p.tree), rng)
                    .ensemble_size(p.n_trees)
                    .bootstrap_proportion(p.bootstrap_proportion)
                    .feature_proportion(
                        p.feature_proportion
                            .unwrap_or_else(|| default_feature_proportion(width)),
                    )
                    .fit(&data)
                    .map_err(|e| failed(e.into()))?;
            Ok(Fitted::Forest(Forest {
                trees: forest.models,
                features: forest.model_features,
            }))
        }
        (FamilyParams::LinearRegression(p), Target::Values(y)) => {
            let data = Dataset::new(x, Array1::from(y));
            LinearRegression::new()
                .with_intercept(p.fit_intercept)
                .fit(&data)
                .map(Fitted::Linear)
                .map_err(|e| failed(e.into()))
        }
        (FamilyParams::ElasticNet(p), Target::Values(y)) => {
            let data = Dataset::new(x, Array1::from(y));
            ElasticNet::params()
                .penalty(p.alpha)
                .l1_ratio(p.l1_ratio)
                .max_iterations(p.max_iterations)
                .tolerance(p.tolerance)
                .fit(&data)
                .map(Fitted::ElasticNet)
                .map_err(|e| failed(e.into()))
        }
        // The configuration pairs every family with its task before any data is read.
        _ => Err(failed(
            format!("{family} was given a target of the other task").into(),
        )),
    }
}

fn booster(p: &BoostingParams, seed: u64, objective: Objective) -> PerpetualBooster {
    PerpetualBooster::default()
        .set_objective(objective)
        .set_budget(p.budget)
        .set_max_bin(p.max_bin)
        .set_seed(seed)
        .set_iteration_limit(Some(p.max_iterations))
        .set_log_iterations(0)
        .set_num_threads(Some(1))
}

/// The matrix perpetual reads: column-major.
fn column_major(x: &Array2<f64>) -> Vec<f64> {
    x.t().iter().copied().collect()
}

fn boost(
    p: &BoostingParams,
    seed: u64,
    x: &Array2<f64>,
    target: &Target,
    weights: Option<&[f64]>,
) -> Result<Fitted, Box<dyn std::error::Error + Send + Sync>> {
    let data = column_major(x);
    let matrix = Matrix::new(&data, x.nrows(), x.ncols());
    let targets: Vec<(Objective, Vec<f64>)> = match target {
        Target::Values(y) => vec![(Objective::SquaredLoss, y.clone())],
        Target::Classes(y, 2) => vec![(
            Objective::LogLoss,
            y.iter().map(|c| (*c == 1) as u8 as f64).collect(),
        )],
        Target::Classes(y, classes) => (0..*classes)
            .map(|k| {
                let one: Vec<f64> = y.iter().map(|c| (*c == k) as u8 as f64).collect();
                (Objective::LogLoss, one)
            })
            .collect(),
    };
    let mut boosters = Vec::with_capacity(targets.len());
    for (objective, y) in targets {
        let mut b = booster(p, seed, objective);
        b.fit(&matrix, &y, weights, None)?;
        boosters.push(b);
    }
    Ok(Fitted::Boosted(Boosted { boosters }))
}

/// sqrt(p) of the p encoded columns, as a share.
pub(crate) fn default_feature_proportion(width: usize) -> f64 {
    let p = width.max(1) as f64;
    p.sqrt() / p
}

fn tree_params(p: &TreeParams) -> linfa_trees::DecisionTreeParams<f64, usize> {
    DecisionTree::params()
        .max_depth(p.max_depth)
        .min_weight_split(p.min_weight_split)
        .min_weight_leaf(p.min_weight_leaf)
        .split_quality(match p.split_quality {
            SplitQuality::Gini => linfa_trees::SplitQuality::Gini,
            SplitQuality::Entropy => linfa_trees::SplitQuality::Entropy,
        })
}

impl Fitted {
    pub(crate) fn predict(&self, x: &Array2<f64>, classes: usize) -> Output {
        match self {
            Self::BinaryLogistic(m) => {
                let index = m.predict(x).to_vec();
                // linfa gives the probability of its "positive" class, whichever index that is.
                let positive = m.predict_probabilities(x);
                let mut probabilities = Array2::zeros((x.nrows(), 2));
                let pos = m.labels().pos.class;
                for (i, p) in positive.iter().enumerate() {
                    probabilities[[i, pos]] = *p;
                    probabilities[[i, 1 - pos]] = 1.0 - p;
                }
                Output::Classes {
                    index,
                    probabilities: Some(probabilities),
                }
            }
            Self::MultiLogistic(m) => {
                let fitted = m.predict_probabilities(x);
                // Columns follow linfa's classes: every class seen in training, so all of them.
                let mut probabilities = Array2::zeros((x.nrows(), classes));
                for (column, class) in m.classes().iter().enumerate() {
                    probabilities
                        .column_mut(*class)
                        .assign(&fitted.column(column));
                }
                Output::Classes {
                    index: m.predict(x).to_vec(),
                    probabilities: Some(probabilities),
                }
            }
            Self::Tree(m) => Output::Classes {
                index: m.predict(x).to_vec(),
                probabilities: None,
            },
            Self::Forest(forest) => most_likely(forest.vote_shares(x, classes)),
            Self::Linear(m) => Output::Values(m.predict(x).to_vec()),
            Self::ElasticNet(m) => Output::Values(m.predict(x).to_vec()),
            Self::Boosted(m) => m.predict(x, classes),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Self::BinaryLogistic(m) => serde_json::to_value(m),
            Self::MultiLogistic(m) => serde_json::to_value(m),
            Self::Tree(m) => serde_json::to_value(m),
            Self::Forest(m) => serde_json::to_value(m),
            Self::Linear(m) => serde_json::to_value(m),
            Self::ElasticNet(m) => serde_json::to_value(m),
            Self::Boosted(m) => serde_json::to_value(m),
        }
    }

    /// Reads the fitted value back: its type follows from the family and, for logistic
    /// regression, the number of classes.
    pub(crate) fn from_json(
        family: Family,
        classes: usize,
        value: serde_json::Value,
    ) -> serde_json::Result<Self> {
        use serde_json::from_value;
        Ok(match family {
            Family::LogisticRegression if classes == 2 => Self::BinaryLogistic(from_value(value)?),
            Family::LogisticRegression => Self::MultiLogistic(from_value(value)?),
            Family::DecisionTree => Self::Tree(from_value(value)?),
            Family::RandomForest => Self::Forest(from_value(value)?),
            Family::LinearRegression => Self::Linear(from_value(value)?),
            Family::ElasticNet => Self::ElasticNet(from_value(value)?),
            Family::GradientBoosting => Self::Boosted(from_value(value)?),
        })
    }
}

impl Boosted {
    fn predict(&self, x: &Array2<f64>, classes: usize) -> Output {
        let data = column_major(x);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        let raw: Vec<Vec<f64>> = self
            .boosters
            .iter()
            .map(|b| b.predict(&matrix, false))
            .collect();
        if classes == 0 {
            return Output::Values(raw.into_iter().next().unwrap_or_default());
        }
        let mut probabilities = Array2::zeros((x.nrows(), classes));
        for i in 0..x.nrows() {
            if classes == 2 {
                let p = 1.0 / (1.0 + (-raw[0][i]).exp());
                probabilities[[i, 0]] = 1.0 - p;
                probabilities[[i, 1]] = p;
            } else {
                let top = raw.iter().map(|r| r[i]).fold(f64::NEG_INFINITY, f64::max);
                let exp: Vec<f64> = raw.iter().map(|r| (r[i] - top).exp()).collect();
                let sum: f64 = exp.iter().sum();
                for (k, e) in exp.into_iter().enumerate() {
                    probabilities[[i, k]] = e / sum;
                }
            }
        }
        most_likely(probabilities)
    }
}

impl Forest {
    /// The share of the trees voting for each class.
    fn vote_shares(&self, x: &Array2<f64>, classes: usize) -> Array2<f64> {
        let mut votes = Array2::<f64>::zeros((x.nrows(), classes));
        for (tree, features) in self.trees.iter().zip(&self.features) {
            let predicted = tree.predict(&x.select(Axis(1), features));
            for (i, class) in predicted.iter().enumerate() {
                votes[[i, *class]] += 1.0;
            }
        }
        votes / self.trees.len().max(1) as f64
    }
}

/// Each row's most likely class (the first on a tie), with the shares.
fn most_likely(probabilities: Array2<f64>) -> Output {
    let index = probabilities
        .rows()
        .into_iter()
        .map(|row| first_max(row.iter().copied()))
        .collect();
    Output::Classes {
        index,
        probabilities: Some(probabilities),
    }
}

/// The index of the largest value, the first one on a tie.
fn first_max(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
