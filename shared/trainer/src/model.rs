//! The trained model as a later process sees it: `model.json` loaded back, predicting on a frame
//! with the same preprocessing the training rows had.

use std::path::Path;

use ndarray::Array2;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::config::{Family, Hyperparameters, Task};
use crate::data::{self, Preprocessing, Values};
use crate::metrics::{self, Score};
use crate::models::{Fitted, Output};

/// The `format_version` this trainer writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The linfa release the models are fitted with (checked against Cargo.lock by a test).
pub const LINFA_VERSION: &str = "0.8.1";

/// How many rows the model was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Training {
    /// Rows in the train channel.
    pub rows: usize,
    /// Rows fitted on: fewer when `data_fraction` is below 1 or rows have no target.
    pub rows_used: usize,
    /// Rows of the train channel left out because their target is missing.
    #[serde(default)]
    pub rows_without_target: usize,
    /// Columns of the encoded matrix.
    pub columns: usize,
}

/// A trained model: its preprocessing and its fitted linfa estimator.
#[derive(Debug, Clone)]
pub struct Model {
    family: Family,
    task: Task,
    target: String,
    preprocessing: Preprocessing,
    classes: Option<Vec<String>>,
    hyperparameters: Hyperparameters,
    training: Training,
    trainer: String,
    fitted: Fitted,
}

/// What a model predicts for each row.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    Classes {
        /// The model's classes, sorted; the columns of `probabilities`.
        classes: Vec<String>,
        labels: Vec<String>,
        /// Per row and class; logistic regression's probabilities, a forest's vote shares,
        /// `None` for a single tree.
        probabilities: Option<Array2<f64>>,
    },
    Values(Vec<f64>),
}

impl Predictions {
    pub fn len(&self) -> usize {
        match self {
            Self::Classes { labels, .. } => labels.len(),
            Self::Values(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The predictions of the rows where `keep` is true, in order.
    pub fn select(&self, keep: &[bool]) -> Self {
        let rows: Vec<usize> = (0..self.len()).filter(|i| keep[*i]).collect();
        match self {
            Self::Classes {
                classes,
                labels,
                probabilities,
            } => Self::Classes {
                classes: classes.clone(),
                labels: rows.iter().map(|i| labels[*i].clone()).collect(),
                probabilities: probabilities
                    .as_ref()
                    .map(|p| p.select(ndarray::Axis(0), &rows)),
            },
            Self::Values(values) => Self::Values(rows.iter().map(|i| values[*i]).collect()),
        }
    }

    /// `row,prediction` and, with probabilities, a `p_<class>` column per class; `row` is the
    /// 0-based row of the input.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("row,prediction");
        match self {
            Self::Classes {
                classes,
                labels,
                probabilities,
            } => {
                if probabilities.is_some() {
                    for class in classes {
                        out.push(',');
                        out.push_str(&csv_field(&format!("p_{class}")));
                    }
                }
                out.push('\n');
                for (i, label) in labels.iter().enumerate() {
                    out.push_str(&format!("{i},{}", csv_field(label)));
                    if let Some(p) = probabilities {
                        for v in p.row(i) {
                            out.push_str(&format!(",{v}"));
                        }
                    }
                    out.push('\n');
                }
            }
            Self::Values(values) => {
                out.push('\n');
                for (i, v) in values.iter().enumerate() {
                    out.push_str(&format!("{i},{v}\n"));
                }
            }
        }
        out
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A model's predictions for a frame, and its metrics against the frame's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub predictions: Predictions,
    /// Accuracy, macro F1 and (with probabilities) log loss; or RMSE, MAE and R², over the rows
    /// that have a target.
    pub scores: Vec<Score>,
    /// Rows predicted but not scored: their target is missing.
    pub rows_without_target: usize,
}

/// `model.json` as it is written.
#[derive(Serialize, Deserialize)]
struct Document {
    format_version: u32,
    family: Family,
    task: Task,
    target: String,
    features: Vec<String>,
    preprocessing: Preprocessing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<String>>,
    hyperparameters: serde_json::Value,
    training: Training,
    trainer: String,
    linfa: String,
    model: serde_json::Value,
}

impl Model {
    pub(crate) fn new(
        task: Task,
        target: String,
        preprocessing: Preprocessing,
        classes: Option<Vec<String>>,
        hyperparameters: Hyperparameters,
        training: Training,
        fitted: Fitted,
    ) -> Self {
        Self {
            family: hyperparameters.family.family(),
            task,
            target,
            preprocessing,
            classes,
            hyperparameters,
            training,
            trainer: format!("tollgate-trainer {}", env!("CARGO_PKG_VERSION")),
            fitted,
        }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn task(&self) -> Task {
        self.task
    }

    /// The column the model predicts.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The input columns, in order.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.preprocessing.features.iter().map(|f| f.name.as_str())
    }

    pub fn preprocessing(&self) -> &Preprocessing {
        &self.preprocessing
    }

    /// The classes, sorted, for a classifier.
    pub fn classes(&self) -> Option<&[String]> {
        self.classes.as_deref()
    }

    pub fn hyperparameters(&self) -> &Hyperparameters {
        &self.hyperparameters
    }

    pub fn training(&self) -> Training {
        self.training
    }

    /// `tollgate-trainer <version>`.
    pub fn trainer(&self) -> &str {
        &self.trainer
    }

    /// Predicts a row for each row of `frame`, which holds the features by name (other columns,
    /// the target among them, are ignored).
    pub fn predict(&self, frame: &DataFrame) -> Result<Predictions, TrainError> {
        self.predict_within(frame, "the input")
    }

    /// As [`Model::predict`], naming the frame as channel `channel` in errors.
    pub fn predict_channel(
        &self,
        frame: &DataFrame,
        channel: &str,
    ) -> Result<Predictions, TrainError> {
        self.predict_within(frame, &format!("channel {channel}"))
    }

    /// Predicts the rows of `frame` and measures the predictions against its target column.
    /// `channel` names the frame in the scores (`test:accuracy`) and in errors.
    pub fn evaluate(&self, frame: &DataFrame, channel: &str) -> Result<Evaluation, TrainError> {
        let within = format!("channel {channel}");
        let predictions = self.predict_within(frame, &within)?;
        // Every row is predicted (`row` stays the row of the input); the rows without a target
        // are left out of the scores, and counted.
        let (frame, keep) = data::with_target(frame, &self.target, &within)?;
        let rows_without_target = keep.iter().filter(|k| !**k).count();
        let scored = match rows_without_target {
            0 => predictions.clone(),
            _ => predictions.select(&keep),
        };
        let frame = &frame;
        let measured = match &scored {
            Predictions::Classes {
                classes,
                labels,
                probabilities,
            } => {
                let truth = data::labels(frame, &self.target, &within)?;
                let probabilities = probabilities.as_ref().map(|p| (p, classes.as_slice()));
                metrics::classification(&truth, labels, probabilities)
            }
            Predictions::Values(values) => {
                if values.iter().any(|v| !v.is_finite()) {
                    return Err(TrainError::NonFinite {
                        family: self.family,
                        channel: channel.to_owned(),
                    });
                }
                let truth = data::values(frame, &self.target, &within)?;
                metrics::regression(&truth, values)
            }
        };
        let scores = measured
            .into_iter()
            .map(|(metric, value)| Score {
                channel: channel.to_owned(),
                metric,
                value,
            })
            .collect();
        Ok(Evaluation {
            predictions,
            scores,
            rows_without_target,
        })
    }

    /// As [`Model::predict`], naming the frame as `within` in errors (`channel validation`).
    fn predict_within(&self, frame: &DataFrame, within: &str) -> Result<Predictions, TrainError> {
        let x = self.preprocessing.transform(frame, within)?;
        Ok(self.predict_matrix(&x))
    }

    /// Predicts `rows` rows given as one [`Values`] per feature, in feature order (what a
    /// serving request holds, without a frame in between).
    pub fn predict_values(&self, rows: usize, columns: &[Values]) -> Predictions {
        self.predict_matrix(&self.preprocessing.encode(rows, columns))
    }

    fn predict_matrix(&self, x: &Array2<f64>) -> Predictions {
        let classes = self.classes.as_deref().unwrap_or_default();
        match self.fitted.predict(x, classes.len()) {
            Output::Classes {
                index,
                probabilities,
            } => Predictions::Classes {
                classes: classes.to_vec(),
                labels: index.into_iter().map(|i| classes[i].clone()).collect(),
                probabilities,
            },
            Output::Values(values) => Predictions::Values(values),
        }
    }

    /// The text of `model.json`.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let document = Document {
            format_version: FORMAT_VERSION,
            family: self.family,
            task: self.task,
            target: self.target.clone(),
            features: self.features().map(str::to_owned).collect(),
            preprocessing: self.preprocessing.clone(),
            classes: self.classes.clone(),
            hyperparameters: self.hyperparameters.to_json()?,
            training: self.training,
            trainer: self.trainer.clone(),
            linfa: format!("linfa {LINFA_VERSION}"),
            model: self.fitted.to_json()?,
        };
        serde_json::to_string_pretty(&document)
    }

    /// Loads a `model.json` this trainer wrote.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::io("reading the model", path, e))?;
        Self::parse(&text).map_err(|reason| TrainError::ModelFile {
            path: path.to_owned(),
            reason,
        })
    }

    /// Reads a model from the text of a `model.json`; the error says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let version: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match version.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "format_version {v}; this trainer reads version {FORMAT_VERSION}"
                ));
            }
            None => return Err("no format_version: not a Tollgate model".into()),
        }
        let d: Document = serde_json::from_value(version).map_err(|e| e.to_string())?;
        let names: Vec<&str> = d
            .preprocessing
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        if names != d.features {
            return Err("features and preprocessing name different columns".into());
        }
        let hyperparameters = Hyperparameters::from_json(d.family, d.hyperparameters)
            .map_err(|e| format!("hyperparameters: {e}"))?;
        let classes = d.classes.as_ref().map_or(0, Vec::len);
        if (d.task == Task::Classification) != (classes > 1) {
            return Err(format!("a {} model with {classes} classes", d.task));
        }
        let fitted =
            Fitted::from_json(d.family, classes, d.model).map_err(|e| format!("model: {e}"))?;
        Ok(Self {
            family: d.family,
            task: d.task,
            target: d.target,
            preprocessing: d.preprocessing,
            classes: d.classes,
            hyperparameters,
            training: d.training,
            trainer: d.trainer,
            fitted,
        })
    }
}
