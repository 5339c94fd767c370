//! Tollgate's trainer: one training job, under the SageMaker training container contract. The
//! tune handler starts it, as a SageMaker training job or as the `trainer` binary in a
//! subprocess; the evaluate stage loads the model it writes with [`Model::load`] and predicts
//! with [`Model::predict`].
//!
//! Everything lives under one root, `/opt/ml` in a container:
//!
//! - in: `input/config/hyperparameters.json`, a JSON object whose values are all strings (see
//!   [`Config`]); `input/data/<channel>/` for the channels `train` and `validation` (required)
//!   and `test` (optional, and without the target column as Tollgate gives it: the job predicts
//!   those rows, their labels stay with the evaluator), each one or more `.parquet` or `.csv`
//!   files with a header, stacked in name order.
//! - out: `model/model.json` (see [`Model`]); `output/metrics.json` and
//!   `output/data/metrics.json`, a flat map such as `{"validation:accuracy": 0.8125}`;
//!   `output/data/predictions/<channel>.csv` for validation and test, `row,prediction` and a
//!   `p_<class>` column per class when the model gives probabilities.
//! - on failure: `output/failure`, one paragraph saying what and where, and a non-zero exit.
//!
//! Each metric also goes to stdout as `validation:accuracy=0.812500;`, one per line, for
//! SageMaker's metric definitions (`validation:r2=(-?[0-9.]+);`: R² can be negative); progress
//! goes to stderr. The `train` metrics are measured on the rows trained on.
//!
//! Preprocessing is fitted on the training rows only (see [`Preprocessing`]). A row whose target
//! is missing is left out of the fit and of the scores, and counted (`training` in `model.json`,
//! stderr): it is still predicted, so the `row` of a prediction is always the row of the
//! channel's data.
//!
//! A seed and the same input give the same model, in any process (linfa-trees is patched to
//! count classes in an ordered map: see `vendor/linfa-trees/PATCH.md`).

pub mod artifact;
mod config;
mod data;
mod error;
mod metrics;
mod model;
mod models;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::DataFrame;

pub use config::{
    BoostingParams, ClassWeight, Config, ElasticNetParams, Family, FamilyParams, ForestParams,
    Hyperparameters, LinearParams, LogisticParams, Metric, SplitQuality, Task, TreeParams,
};
pub use data::{
    Encoding, Feature, MAX_LEVELS, Preprocessing, Values, has_target, labels, numbers,
    read_channel, read_table, texts, values, with_target,
};
pub use error::TrainError;
pub use metrics::Score;
pub use model::{Evaluation, FORMAT_VERSION, LINFA_VERSION, Model, Predictions, Training};

/// The channels, in the order they are read and reported.
pub const TRAIN: &str = "train";
pub const VALIDATION: &str = "validation";
pub const TEST: &str = "test";

macro_rules! say {
    ($($arg:tt)*) => { eprintln!("trainer: {}", format_args!($($arg)*)) };
}

/// Where the container contract puts each file, under one root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn hyperparameters(&self) -> PathBuf {
        self.root.join("input/config/hyperparameters.json")
    }

    pub fn channel(&self, name: &str) -> PathBuf {
        self.root.join("input/data").join(name)
    }

    pub fn model(&self) -> PathBuf {
        self.root.join("model/model.json")
    }

    /// `output/metrics.json` and `output/data/metrics.json`, the same map.
    pub fn metrics(&self) -> [PathBuf; 2] {
        [
            self.root.join("output/metrics.json"),
            self.root.join("output/data/metrics.json"),
        ]
    }

    pub fn predictions(&self, channel: &str) -> PathBuf {
        self.root
            .join("output/data/predictions")
            .join(format!("{channel}.csv"))
    }

    pub fn failure(&self) -> PathBuf {
        self.root.join("output/failure")
    }
}

/// What a finished job produced.
#[derive(Debug)]
pub struct Outcome {
    pub model: Model,
    /// Every metric of every channel: train, validation, then test.
    pub scores: Vec<Score>,
}

impl Outcome {
    /// The configured metric on the validation channel: the run's objective.
    pub fn primary(&self) -> Option<&Score> {
        let metric = self.model.hyperparameters().metric;
        self.scores
            .iter()
            .find(|s| s.channel == VALIDATION && s.metric == metric)
    }
}

/// One training job as a container's process runs it: trains under `root`, prints each metric
/// line on stdout, and on failure writes `output/failure` and returns a non-zero exit. A panic
/// still leaves its reason where SageMaker looks for one. The `trainer` binary (`trainer train`)
/// and the `tollgate` CLI (`tollgate train`, the embedded default's jobs) both run this.
pub fn train_job(root: &Path) -> std::process::ExitCode {
    let failure_root = root.to_owned();
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = write_failure(&failure_root, &format!("internal error: {info}"));
        report(info);
    }));

    match run(root) {
        Ok(outcome) => {
            for score in &outcome.scores {
                println!("{}", score.line());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("trainer: failed: {error}");
            if let Err(e) = write_failure(root, &error) {
                eprintln!("trainer: could not write the failure: {e}");
            }
            std::process::ExitCode::from(error.exit_code())
        }
    }
}

/// Reads the configuration under `root`, then trains.
pub fn run(root: &Path) -> Result<Outcome, TrainError> {
    let layout = Layout::new(root);
    let config = Config::read(&layout.hyperparameters())?;
    train(&config, root)
}

/// Trains on the channels under `root` and writes the model, the metrics and the predictions.
pub fn train(config: &Config, root: &Path) -> Result<Outcome, TrainError> {
    let layout = Layout::new(root);
    // A failure left in this root by an earlier attempt would contradict this one.
    remove_stale(&layout.failure())?;
    let family = config.family();
    let h = &config.hyperparameters;
    say!(
        "{family} ({}) predicting {}, metric {}, seed {}",
        config.task,
        config.target,
        h.metric,
        h.seed
    );
    for key in &config.ignored {
        say!("ignoring hyperparameter {key}: {family} does not use it");
    }

    let channels = Channels::read(&layout, config)?;
    let within = format!("channel {TRAIN}");
    let (labelled, keep) = data::with_target(&channels.train, &config.target, &within)?;
    let without_target = keep.iter().filter(|k| !**k).count();
    if without_target > 0 {
        say!(
            "leaving out {without_target} of {} training rows: their target {} is missing",
            channels.train.height(),
            config.target
        );
    }
    if labelled.height() == 0 {
        return Err(TrainError::column(
            &within,
            &config.target,
            "no row has a target value",
        ));
    }
    let used = data::subset(&labelled, h.data_fraction, h.seed)?;
    say!(
        "training on {} of {} rows (data_fraction {})",
        used.height(),
        channels.train.height(),
        h.data_fraction
    );
    let rows = Training {
        rows: channels.train.height(),
        rows_used: used.height(),
        rows_without_target: without_target,
        columns: 0,
    };
    let model = fit(config, &channels.features, &used, rows)?;

    // What is measured is what ships: the model as model.json holds it, read back, since a
    // number does not always read back from JSON to the same bits.
    let model_path = layout.model();
    let json = model.to_json().map_err(|source| TrainError::Serialize {
        path: model_path.clone(),
        source,
    })?;
    let model = Model::parse(&json).map_err(|reason| TrainError::ModelFile {
        path: model_path.clone(),
        reason,
    })?;

    let mut scores = Vec::new();
    let evaluated = [
        (TRAIN, Some(&used)),
        (VALIDATION, Some(&channels.validation)),
        (TEST, channels.test.as_ref()),
    ];
    for (channel, frame) in evaluated {
        let Some(frame) = frame else { continue };
        if frame.column(&config.target).is_err() {
            // Features without their target (as Tollgate hands a job the test rows): what can
            // be done is predict them; who holds the labels scores the predictions.
            let predictions = model.predict_channel(frame, channel)?;
            let path = layout.predictions(channel);
            write_file(&path, predictions.to_csv().as_bytes())?;
            say!(
                "predicted {} rows of {channel} (no target to score)",
                frame.height()
            );
            continue;
        }
        let evaluation = model.evaluate(frame, channel)?;
        if evaluation.rows_without_target > 0 && channel != TRAIN {
            say!(
                "scored {} of {} rows of {channel}: the others have no target",
                frame.height() - evaluation.rows_without_target,
                frame.height()
            );
        }
        for s in &evaluation.scores {
            say!("{} = {:.6}", s.name(), s.value);
        }
        scores.extend(evaluation.scores);
        if channel != TRAIN {
            let path = layout.predictions(channel);
            write_file(&path, evaluation.predictions.to_csv().as_bytes())?;
            say!("wrote {}", path.display());
        }
    }

    write_file(&model_path, json.as_bytes())?;
    say!("wrote {}", model_path.display());
    let metrics = metrics::to_map(&scores);
    for path in layout.metrics() {
        let json =
            serde_json::to_string_pretty(&metrics).map_err(|source| TrainError::Serialize {
                path: path.clone(),
                source,
            })?;
        write_file(&path, json.as_bytes())?;
    }
    Ok(Outcome { model, scores })
}

/// The channels' data, and the features every channel has.
struct Channels {
    train: DataFrame,
    validation: DataFrame,
    test: Option<DataFrame>,
    features: Vec<String>,
}

impl Channels {
    fn read(layout: &Layout, config: &Config) -> Result<Self, TrainError> {
        let train = read(layout, TRAIN)?;
        let validation = read(layout, VALIDATION)?;
        let test = match layout.channel(TEST).exists() {
            true => Some(read(layout, TEST)?),
            false => None,
        };
        let features = choose_features(config, &train)?;
        require_columns(VALIDATION, &validation, &features, Some(&config.target))?;
        if let Some(test) = &test {
            // The target is optional here: a job is given the test rows without it.
            let target = test
                .column(&config.target)
                .is_ok()
                .then_some(&config.target);
            require_columns(TEST, test, &features, target.map(String::as_str))?;
        }
        say!("{} features: {}", features.len(), features.join(", "));
        Ok(Self {
            train,
            validation,
            test,
            features,
        })
    }
}

/// Fits the preprocessing and the model on the rows trained on; `training` counts them.
fn fit(
    config: &Config,
    features: &[String],
    used: &DataFrame,
    training: Training,
) -> Result<Model, TrainError> {
    let within = format!("channel {TRAIN}");
    let preprocessing = Preprocessing::fit(used, features, &within)?;
    let x = preprocessing.transform(used, &within)?;
    let (target, classes) = target(config, used, &within)?;

    let mut hyperparameters = config.hyperparameters.clone();
    if let FamilyParams::RandomForest(p) = &mut hyperparameters.family {
        let resolved = p
            .feature_proportion
            .unwrap_or_else(|| models::default_feature_proportion(x.ncols()));
        p.feature_proportion = Some(resolved);
    }
    let training = Training {
        columns: x.ncols(),
        ..training
    };
    let weights = match (&target, hyperparameters.class_weight) {
        (models::Target::Classes(y, k), ClassWeight::Balanced) => Some(balanced(y, *k)),
        _ => None,
    };

    let started = Instant::now();
    say!(
        "fitting {} on {} rows x {} columns",
        config.family(),
        x.nrows(),
        x.ncols()
    );
    let fitted = models::fit(
        &hyperparameters.family,
        hyperparameters.seed,
        x,
        target,
        weights,
    )?;
    say!("fitted in {:.2} s", started.elapsed().as_secs_f64());
    Ok(Model::new(
        config.task,
        config.target.clone(),
        preprocessing,
        classes,
        hyperparameters,
        training,
        fitted,
    ))
}

/// scikit-learn's balanced weights: a row of class c weighs n / (k * n_c).
fn balanced(classes: &[usize], k: usize) -> Vec<f64> {
    let mut counts = vec![0usize; k];
    for c in classes {
        counts[*c] += 1;
    }
    let n = classes.len() as f64;
    let share: Vec<f64> = counts
        .iter()
        .map(|c| n / (k as f64 * (*c).max(1) as f64))
        .collect();
    say!(
        "class weights (balanced): {}",
        share
            .iter()
            .map(|w| format!("{w:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    classes.iter().map(|c| share[*c]).collect()
}

/// The training rows' target: class indices and the sorted classes, or values.
fn target(
    config: &Config,
    used: &DataFrame,
    within: &str,
) -> Result<(models::Target, Option<Vec<String>>), TrainError> {
    if config.task == Task::Regression {
        let values = data::values(used, &config.target, within)?;
        return Ok((models::Target::Values(values), None));
    }
    let labels = data::labels(used, &config.target, within)?;
    let classes = data::classes(&labels);
    if classes.len() < 2 {
        return Err(TrainError::column(
            within,
            &config.target,
            format!(
                "only one class ({}) in the rows trained on; a classifier needs two",
                classes.join("")
            ),
        ));
    }
    say!("{} classes: {}", classes.len(), classes.join(", "));
    let index = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or_default())
        .collect();
    Ok((models::Target::Classes(index, classes.len()), Some(classes)))
}

/// Writes the reason a job failed to `output/failure`, one paragraph.
pub fn write_failure(root: &Path, reason: &dyn std::fmt::Display) -> Result<(), TrainError> {
    let path = Layout::new(root).failure();
    write_file(&path, format!("{reason}\n").as_bytes())
}

fn read(layout: &Layout, channel: &str) -> Result<DataFrame, TrainError> {
    let (frame, files) = data::read_channel(channel, &layout.channel(channel))?;
    say!(
        "channel {channel}: {} rows, {} columns from {} file(s)",
        frame.height(),
        frame.width(),
        files.len()
    );
    Ok(frame)
}

/// The configured features, or every column but the target.
fn choose_features(config: &Config, frame: &DataFrame) -> Result<Vec<String>, TrainError> {
    let columns: Vec<String> = frame
        .get_column_names()
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    let within = format!("channel {TRAIN}");
    if !columns.contains(&config.target) {
        return Err(TrainError::column(
            &within,
            &config.target,
            format!(
                "no such column, so it cannot be the target (the columns are {})",
                columns.join(", ")
            ),
        ));
    }
    let Some(features) = &config.features else {
        return Ok(columns
            .into_iter()
            .filter(|c| *c != config.target)
            .collect());
    };
    if features.contains(&config.target) {
        return Err(TrainError::hyperparameter(
            "features",
            format!("names the target {}", config.target),
        ));
    }
    if let Some(missing) = features.iter().find(|f| !columns.contains(f)) {
        return Err(TrainError::column(
            &within,
            missing,
            format!(
                "no such column, and features names it (the columns are {})",
                columns.join(", ")
            ),
        ));
    }
    Ok(features.clone())
}

fn require_columns(
    channel: &str,
    frame: &DataFrame,
    features: &[String],
    target: Option<&str>,
) -> Result<(), TrainError> {
    for name in features.iter().map(String::as_str).chain(target) {
        if frame.column(name).is_err() {
            return Err(TrainError::column(
                &format!("channel {channel}"),
                name,
                "no such column; the train channel has it",
            ));
        }
    }
    Ok(())
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::write("creating", dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| TrainError::write("writing", path, e))
}

fn remove_stale(path: &Path) -> Result<(), TrainError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(TrainError::write("removing the earlier", path, e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recorded_linfa_version_is_the_locked_one() {
        let lock = include_str!("../../../Cargo.lock");
        let locked = lock
            .split("[[package]]")
            .find(|p| p.contains("\nname = \"linfa\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'));
        assert_eq!(locked, Some(super::LINFA_VERSION));
    }
}
