//! A pipeline file (`pipelines/<name>.toml`): what to train on which dataset, how to search, within
//! which budgets, on which backend, and (for the gates that follow) what a candidate must pass.
//! Parsed and checked here; a bad file is refused with the line and the reason.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::deploy::{DeployKind, DeploySettings};
use crate::search::{ParamSpec, SearchSpace};
use crate::{DatasetName, DomainError};

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classification,
    Regression,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classification => "classification",
            Self::Regression => "regression",
        }
    }
}

/// The model families the bundled trainer knows (a custom image may know others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    LogisticRegression,
    DecisionTree,
    RandomForest,
    LinearRegression,
    ElasticNet,
    /// Gradient-boosted trees (perpetual): classification and regression.
    GradientBoosting,
}

impl ModelFamily {
    pub const ALL: [ModelFamily; 6] = [
        Self::LogisticRegression,
        Self::DecisionTree,
        Self::RandomForest,
        Self::LinearRegression,
        Self::ElasticNet,
        Self::GradientBoosting,
    ];

    /// Whether it gives class probabilities (a forest gives its trees' vote shares).
    pub fn gives_probabilities(self) -> bool {
        matches!(
            self,
            Self::LogisticRegression | Self::RandomForest | Self::GradientBoosting
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogisticRegression => "logistic_regression",
            Self::DecisionTree => "decision_tree",
            Self::RandomForest => "random_forest",
            Self::LinearRegression => "linear_regression",
            Self::ElasticNet => "elastic_net",
            Self::GradientBoosting => "gradient_boosting",
        }
    }

    /// The tasks a family can do.
    pub fn supports(self, task: Task) -> bool {
        match self {
            Self::LogisticRegression | Self::RandomForest | Self::DecisionTree => {
                task == Task::Classification
            }
            Self::LinearRegression | Self::ElasticNet => task == Task::Regression,
            Self::GradientBoosting => true,
        }
    }
}

/// How the rows of each class weigh in a classifier's fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row weighs 1.
    #[default]
    None,
    /// A row of class c weighs n / (k * n_c), as scikit-learn's `class_weight="balanced"`: each
    /// class weighs as much as any other in total, so a rare class is not ignored.
    Balanced,
}

impl ClassWeight {
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Balanced => "balanced",
        }
    }
}

impl ModelFamily {
    /// Whether the family weighs rows in its fit (linfa's logistic regression and its forest's
    /// bootstrap take no weights).
    pub fn takes_class_weights(self) -> bool {
        matches!(self, Self::GradientBoosting | Self::DecisionTree)
    }
}

/// The metric a run optimizes, reported by the trainer on the validation channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    LogLoss,
    F1Macro,
    Rmse,
    Mae,
    R2,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Self::Accuracy,
        Self::LogLoss,
        Self::F1Macro,
        Self::Rmse,
        Self::Mae,
        Self::R2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::LogLoss => "log_loss",
            Self::F1Macro => "f1_macro",
            Self::Rmse => "rmse",
            Self::Mae => "mae",
            Self::R2 => "r2",
        }
    }

    pub fn task(self) -> Task {
        match self {
            Self::Accuracy | Self::LogLoss | Self::F1Macro => Task::Classification,
            Self::Rmse | Self::Mae | Self::R2 => Task::Regression,
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Self::Accuracy | Self::F1Macro | Self::R2)
    }

    /// The value as an objective to minimize.
    pub fn objective(self, value: f64) -> f64 {
        if self.higher_is_better() {
            -value
        } else {
            value
        }
    }

    /// The default for a task.
    pub fn default_for(task: Task) -> Self {
        match task {
            Task::Classification => Self::Accuracy,
            Task::Regression => Self::Rmse,
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(Task, ModelFamily, Metric);

/// A length of time written as `30s`, `20m`, `2h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period(pub Duration);

impl Period {
    pub fn parse(text: &str) -> Result<Self, String> {
        let span: jiff::Span = text.trim().parse().map_err(|e| {
            format!("{text:?} is not a duration such as \"30m\", \"2h\" or \"7d\": {e}")
        })?;
        let signed = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|e| format!("{text:?}: {e}"))?;
        let duration = Duration::try_from(signed).map_err(|_| format!("{text:?} is negative"))?;
        if duration.is_zero() {
            return Err(format!("{text:?} is zero"));
        }
        Ok(Self(duration))
    }

    pub fn seconds(self) -> u64 {
        self.0.as_secs()
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.as_secs();
        match s {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Period {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::string("A length of time: `30s`, `20m`, `2h` or `7d`.")
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Period {}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    Grid,
    Random,
    Tpe,
    /// Asynchronous successive halving: many configurations on a small budget, the best on more.
    Halving,
}

/// What a halving search gives more of at each rung; the trainer understands both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HalvingResource {
    /// The share of the training rows a trial trains on.
    DataFraction,
    /// The optimizer's iteration limit (logistic and elastic-net), or trees of a forest.
    MaxIterations,
}

impl HalvingResource {
    /// The hyperparameter the trainer reads.
    pub fn param(self) -> &'static str {
        match self {
            Self::DataFraction => "data_fraction",
            Self::MaxIterations => "max_iterations",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Halving {
    pub resource: HalvingResource,
    /// The resource of the first rung.
    pub min: f64,
    /// The resource of the last rung.
    pub max: f64,
    /// Each rung keeps the best 1/eta and gives them eta times the resource.
    #[serde(default = "default_eta")]
    pub eta: u32,
    /// What proposes new configurations for the first rung.
    #[serde(default = "default_halving_sampler")]
    pub sampler: StrategyName,
}

fn default_eta() -> u32 {
    3
}

fn default_halving_sampler() -> StrategyName {
    StrategyName::Random
}

/// One stage of a staged search: `trials` trials; a stage after the first searches a space narrowed
/// around the `top` best trials of the stage before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub trials: u32,
    #[serde(default = "default_top")]
    pub top: u32,
}

fn default_top() -> u32 {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub strategy: StrategyName,
    #[serde(default)]
    pub seed: u64,
    /// Points per continuous range of a grid.
    #[serde(default = "default_grid_levels")]
    pub grid_levels: u32,
    pub space: SearchSpace,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halving: Option<Halving>,
    /// Coarse, then fine: absent means one stage of `budget.max_trials`.
    #[serde(default, rename = "stage", skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

fn default_grid_levels() -> u32 {
    3
}

/// A budget summed over every run of the pipeline that starts in the same calendar period (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PeriodBudget {
    pub every: CalendarPeriod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_trials: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CalendarPeriod {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// Every trial started counts, whether it completes, fails or is retried.
    pub max_trials: u32,
    #[serde(default = "default_parallel")]
    pub max_parallel: u32,
    /// From the start of the run; running jobs are given no more than what is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wall_time: Option<Period>,
    /// The most a run may spend; each job reserves its worst case (price × count × max runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodBudget>,
}

fn default_parallel() -> u32 {
    2
}

/// How an accepted version is split. Each row's part depends only on the seed and its position,
/// so the split of a dataset version is frozen: every run with the same split gets the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub train: f64,
    pub validation: f64,
    pub test: f64,
    #[serde(default)]
    pub seed: u64,
}

impl Default for Split {
    fn default() -> Self {
        Self {
            train: 0.7,
            validation: 0.15,
            test: 0.15,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The `trainer` binary as a subprocess (the embedded default).
    #[default]
    Local,
    /// SageMaker training jobs.
    Sagemaker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Backend {
    #[serde(default)]
    pub kind: BackendKind,
    /// The longest one training job may run; it is stopped then.
    #[serde(default = "default_max_runtime")]
    pub max_runtime: Period,
    /// SageMaker: the training image (the trainer's, or one that follows the same contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    #[serde(default = "default_instance_count")]
    pub instance_count: u32,
    /// Managed spot training.
    #[serde(default)]
    pub spot: bool,
    /// With spot: how long to wait for capacity plus training; at least `max_runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait: Option<Period>,
    /// `s3://bucket/prefix` where a job checkpoints, so a spot interruption resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_s3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size_gb: Option<u32>,
    /// Overrides the price table (USD per instance-hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_hour: Option<f64>,
    /// Local backend: a training program of your own (program and arguments) to run in place of
    /// the bundled trainer, under the same container contract: the job's folder is laid out as
    /// `/opt/ml` is, and the program finds it in `SM_MODEL_DIR`, `SM_CHANNEL_<NAME>`,
    /// `SM_OUTPUT_DATA_DIR` as SageMaker's training toolkit sets them, `SM_HPS` (every value a
    /// string, as in `hyperparameters.json`; the toolkit decodes JSON values) and the root in
    /// `TOLLGATE_ML_ROOT`, so a script checked on a laptop runs unchanged in its image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

fn default_max_runtime() -> Period {
    Period(Duration::from_secs(3600))
}

fn default_instance_type() -> String {
    "ml.m5.large".to_owned()
}

fn default_instance_count() -> u32 {
    1
}

impl Default for Backend {
    fn default() -> Self {
        Self {
            kind: BackendKind::Local,
            max_runtime: default_max_runtime(),
            image: None,
            instance_type: default_instance_type(),
            instance_count: 1,
            spot: false,
            max_wait: None,
            checkpoint_s3: None,
            volume_size_gb: None,
            price_per_hour: None,
            command: None,
        }
    }
}

/// On-demand prices of SageMaker training instances, USD per hour (us-east-1, 2026). A budget
/// reserves these; spot is billed lower, so a spot run spends at most what it reserved.
pub const SAGEMAKER_PRICES: &[(&str, f64)] = &[
    ("ml.m5.large", 0.115),
    ("ml.m5.xlarge", 0.23),
    ("ml.m5.2xlarge", 0.461),
    ("ml.m5.4xlarge", 0.922),
    ("ml.c5.xlarge", 0.204),
    ("ml.c5.2xlarge", 0.408),
    ("ml.c5.4xlarge", 0.816),
    ("ml.g4dn.xlarge", 0.736),
    ("ml.g4dn.2xlarge", 0.94),
    ("ml.g5.xlarge", 1.408),
    ("ml.g5.2xlarge", 1.515),
    ("ml.g5.4xlarge", 2.03),
    ("ml.g5.12xlarge", 7.09),
    ("ml.p3.2xlarge", 3.825),
    ("ml.p4d.24xlarge", 37.688),
];

impl Backend {
    /// USD per hour for the whole job (every instance); 0 on the local backend.
    pub fn price_per_hour(&self) -> Option<f64> {
        match self.kind {
            BackendKind::Local => Some(0.0),
            BackendKind::Sagemaker => self
                .price_per_hour
                .or_else(|| {
                    SAGEMAKER_PRICES
                        .iter()
                        .find(|(t, _)| *t == self.instance_type)
                        .map(|(_, p)| *p)
                })
                .map(|p| p * f64::from(self.instance_count)),
        }
    }

    /// The most a job of `runtime` can cost.
    pub fn worst_case_cost(&self, runtime: Duration) -> f64 {
        self.price_per_hour().unwrap_or(0.0) * runtime.as_secs_f64() / 3600.0
    }
}

/// Checks a candidate must pass (used by the model tests).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Metric name to the least (or, for losses, the most) it may be on the test split.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, f64>,
    /// Against production on the primary metric: the least absolute improvement (0: no worse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_improvement: Option<f64>,
    /// The least relative improvement, as a fraction of production's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_relative_improvement: Option<f64>,
    #[serde(default, rename = "slice", skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceGate>,
    /// The largest PSI between the candidate's and production's scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prediction_psi: Option<f64>,
    #[serde(default, rename = "invariance", skip_serializing_if = "Vec::is_empty")]
    pub invariances: Vec<InvarianceGate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<FairnessGate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SliceGate {
    pub column: String,
    /// Numeric columns: bin edges; absent means the column's categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<Vec<f64>>,
    pub metric: String,
    pub threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvarianceGate {
    pub feature: String,
    /// Each value is moved by up to ± this much.
    pub delta: f64,
    /// The largest share of predictions allowed to change.
    pub max_flip_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FairnessGate {
    pub column: String,
    pub metric: String,
    pub max_gap: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// Candidates whose tests pass go to staging without a human.
    #[serde(default = "yes")]
    pub auto_staging: bool,
    /// Distinct approvers (not the author) production needs.
    #[serde(default = "one")]
    pub approvals: u32,
    /// How long an approval counts.
    #[serde(default = "default_approval_validity")]
    pub approval_valid_for: Period,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn default_approval_validity() -> Period {
    Period(Duration::from_secs(7 * 86_400))
}

impl Promotion {
    /// The policy with at least `approvals` approvals for production: an environment's floor
    /// (`TOLLGATE_MIN_APPROVALS`, 2 in prod) over what the pipeline file says.
    pub fn at_least(mut self, approvals: u32) -> Self {
        self.approvals = self.approvals.max(approvals);
        self
    }
}

impl Default for Promotion {
    fn default() -> Self {
        Self {
            auto_staging: true,
            approvals: 1,
            approval_valid_for: default_approval_validity(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// Input drift: PSI of a numeric feature against the training profile.
    #[serde(default = "default_psi")]
    pub max_input_psi: f64,
    /// Prediction drift: PSI of captured scores against the test predictions.
    #[serde(default = "default_psi")]
    pub max_prediction_psi: f64,
    /// Fewest captured rows before drift is judged.
    #[serde(default = "default_min_rows")]
    pub min_rows: u64,
    /// After a retraining starts, none other starts for this long.
    #[serde(default = "default_cooldown")]
    pub cooldown: Period,
    #[serde(default = "yes")]
    pub retrain: bool,
    /// Only traffic captured this recently is judged (older capture files are left out).
    #[serde(default = "default_window")]
    pub window: Period,
}

fn default_window() -> Period {
    Period(Duration::from_secs(7 * 86_400))
}

fn default_psi() -> f64 {
    0.2
}

fn default_min_rows() -> u64 {
    100
}

fn default_cooldown() -> Period {
    Period(Duration::from_secs(86_400))
}

impl Default for Monitor {
    fn default() -> Self {
        Self {
            max_input_psi: default_psi(),
            max_prediction_psi: default_psi(),
            min_rows: default_min_rows(),
            cooldown: default_cooldown(),
            retrain: true,
            window: default_window(),
        }
    }
}

/// A pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub name: String,
    pub dataset: DatasetName,
    pub target: String,
    /// The input columns; empty means every column but the target and `exclude`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub task: Task,
    pub model: ModelFamily,
    /// The primary metric on the validation split; absent means accuracy or RMSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Classification: `balanced` weighs each class equally in the fit (for a rare class).
    #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
    pub class_weight: ClassWeight,
    /// Whether an accepted version of the dataset starts a run.
    #[serde(default = "yes")]
    pub on_upload: bool,
    pub search: Search,
    pub budget: Budgets,
    #[serde(default)]
    pub split: Split,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub gates: Gates,
    #[serde(default)]
    pub promotion: Promotion,
    #[serde(default)]
    pub monitor: Monitor,
    /// Where production is served on AWS (`tollgate up` serves it on a laptop in any case).
    #[serde(default, skip_serializing_if = "DeploySettings::is_none")]
    pub deploy: DeploySettings,
    /// Runs on a timer as well (retraining on the latest version), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// `[schedule]`: a run every `every` (`1h`, `7d`), on the latest accepted version. Firings fall
/// on multiples of `every` since the Unix epoch, so a restart or a second delivery never fires
/// the same one twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub every: Period,
}

/// The shortest period a schedule may have: a run is minutes of work at least.
pub const MIN_SCHEDULE: Duration = Duration::from_secs(15 * 60);

const DAY: u64 = 86_400;

/// The most a pipeline may ask for. A file past one is refused when it is applied, naming the
/// limit: a budget that large is a slip of the keyboard (`max_wall_time = "3000000d"`), and a
/// grid that large would not fit in memory, so neither may reach the tune step.
pub mod limits {
    use std::time::Duration;

    pub const MAX_TRIALS: u32 = 10_000;
    pub const MAX_PARALLEL: u32 = 100;
    /// A year: a run's wall time, a schedule's period.
    pub const MAX_PERIOD: Duration = Duration::from_secs(366 * super::DAY);
    /// SageMaker's own ceiling on a training job's runtime, and on its wait for spot capacity.
    pub const MAX_JOB_RUNTIME: Duration = Duration::from_secs(28 * super::DAY);
    pub const MAX_INSTANCE_COUNT: u32 = 100;
    /// Points of a grid search: every combination is listed before the first trial.
    pub const MAX_GRID_POINTS: u64 = 100_000;
    pub const MAX_HYPERPARAMETERS: usize = 100;
}

impl Schedule {
    /// The latest firing at or before `now`: `now` rounded down to a multiple of `every`.
    pub fn last_firing(&self, now: jiff::Timestamp) -> jiff::Timestamp {
        let every = self.every.seconds().max(1) as i64;
        let at = now.as_second() - now.as_second().rem_euclid(every);
        jiff::Timestamp::from_second(at).unwrap_or(now)
    }

    /// The firing a pipeline applied at `applied_at` owes at `now`: the latest one, if it came
    /// after the pipeline was applied (applying a schedule does not fire it at once). Asked
    /// again within the same period, the answer is the same firing.
    pub fn due(
        &self,
        applied_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Option<jiff::Timestamp> {
        Some(self.last_firing(now)).filter(|at| *at > applied_at)
    }
}

const FILE: &str = "pipeline";

impl Pipeline {
    pub fn metric(&self) -> Metric {
        self.metric.unwrap_or(Metric::default_for(self.task))
    }

    /// Parses and checks a pipeline file; errors name the line and the reason.
    pub fn from_toml(text: &str) -> Result<Self, DomainError> {
        let pipeline: Pipeline =
            toml::from_str(text).map_err(|e| DomainError::from_toml(FILE, text, &e))?;
        pipeline.check(text)?;
        Ok(pipeline)
    }

    /// The serving image of `[deploy]`: its own, else the one the model was trained in.
    pub fn serving_image(&self) -> Option<&str> {
        self.deploy.image.as_deref().or(match self.backend.kind {
            BackendKind::Sagemaker => self.backend.image.as_deref(),
            BackendKind::Local => None,
        })
    }

    fn check_deploy(&self) -> Result<(), (&'static str, String)> {
        if self.deploy.kind == DeployKind::None {
            return Ok(());
        }
        self.deploy.check()?;
        if self.serving_image().is_none() {
            return Err((
                "kind",
                "\"sagemaker-endpoint\" needs an image: set [deploy] image, or train on \
                 [backend] kind = \"sagemaker\" with an image (the trainer serves too)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a pipeline always serializes to TOML")
    }

    fn check(&self, text: &str) -> Result<(), DomainError> {
        // The line of the first `key =` (or a table header) that mentions `needle`.
        let at = |needle: &str| {
            text.lines()
                .scan(0usize, |offset, line| {
                    let start = *offset;
                    *offset += line.len() + 1;
                    Some((start, line))
                })
                .find(|(_, line)| {
                    let l = line.trim_start();
                    !l.starts_with('#') && l.contains(needle)
                })
                .map(|(start, _)| start)
                .unwrap_or(0)
        };
        let fail = |needle: &str, reason: String| {
            Err(DomainError::in_file(FILE, text, at(needle), reason))
        };

        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || self.name.len() > 40
        {
            return fail(
                "name",
                format!(
                    "the name {:?} must be 1 to 40 letters, digits, '-' or '_'",
                    self.name
                ),
            );
        }
        if self.target.is_empty() {
            return fail("target", "the target column must be named".into());
        }
        if self.features.contains(&self.target) {
            return fail(
                "features",
                format!("the target {:?} cannot also be a feature", self.target),
            );
        }
        if !self.model.supports(self.task) {
            return fail(
                "model",
                format!("{} does not do {}", self.model.as_str(), self.task.as_str()),
            );
        }
        if self.class_weight == ClassWeight::Balanced
            && (self.task != Task::Classification || !self.model.takes_class_weights())
        {
            return fail(
                "class_weight",
                format!(
                    "balanced applies to classification with gradient_boosting or \
                     decision_tree, and this is {} with {}",
                    self.task.as_str(),
                    self.model.as_str()
                ),
            );
        }
        if let Some(m) = self.metric
            && m.task() != self.task
        {
            return fail(
                "metric",
                format!("{} is not a metric of this task", m.as_str()),
            );
        }
        if let Err(e) = self.search.space.check() {
            let name = match &e {
                DomainError::Invalid { value, .. } => value.clone(),
                _ => String::new(),
            };
            return fail(&format!("{name} "), e.to_string());
        }
        let s = &self.split;
        let parts = [s.train, s.validation, s.test];
        if parts.iter().any(|p| !(0.0..1.0).contains(p))
            || s.train <= 0.0
            || s.test <= 0.0
            || s.validation <= 0.0
        {
            return fail(
                "[split]",
                "train, validation and test are each a fraction above 0 and below 1".into(),
            );
        }
        if ((s.train + s.validation + s.test) - 1.0).abs() > 1e-9 {
            return fail(
                "[split]",
                format!(
                    "train + validation + test must be 1, got {}",
                    s.train + s.validation + s.test
                ),
            );
        }
        if let Some(schedule) = &self.schedule
            && schedule.every.0 < MIN_SCHEDULE
        {
            return fail(
                "every",
                format!(
                    "a schedule of every {} is too often: at least every {}",
                    schedule.every,
                    Period(MIN_SCHEDULE)
                ),
            );
        }
        if let Err((key, reason)) = self.check_deploy() {
            // The key inside `[deploy]`: `instance_type` is also a `[backend]` key.
            let section = text.find("[deploy]").unwrap_or(0);
            let offset = section + text[section..].find(key).unwrap_or(0);
            return Err(DomainError::in_file(
                FILE,
                text,
                offset,
                format!("[deploy] {key}: {reason}"),
            ));
        }
        if let Err((field, reason)) = self.within_limits() {
            return fail(field, reason);
        }
        let b = &self.budget;
        if b.max_trials == 0 {
            return fail("max_trials", "max_trials must be at least 1".into());
        }
        if b.max_parallel == 0 {
            return fail("max_parallel", "max_parallel must be at least 1".into());
        }
        if let Some(c) = b.max_cost_usd
            && !(c > 0.0 && c.is_finite())
        {
            return fail("max_cost_usd", "max_cost_usd must be above 0".into());
        }
        if (b.max_cost_usd.is_some() || b.period.as_ref().is_some_and(|p| p.max_cost_usd.is_some()))
            && self.backend.price_per_hour().is_none()
        {
            return fail(
                "instance_type",
                format!(
                    "no price is known for {:?}: set price_per_hour to budget its cost",
                    self.backend.instance_type
                ),
            );
        }
        match self.search.strategy {
            StrategyName::Halving => {
                let Some(h) = &self.search.halving else {
                    return fail(
                        "strategy",
                        "strategy \"halving\" needs a [search.halving] table (resource, min, max)"
                            .into(),
                    );
                };
                if !(h.min > 0.0 && h.min < h.max) {
                    return fail(
                        "[search.halving]",
                        format!("halving needs 0 < min < max, got {} and {}", h.min, h.max),
                    );
                }
                if h.resource == HalvingResource::DataFraction && h.max > 1.0 {
                    return fail("[search.halving]", "a data_fraction is at most 1".into());
                }
                if h.eta < 2 {
                    return fail("eta", "eta must be at least 2".into());
                }
                if matches!(h.sampler, StrategyName::Halving | StrategyName::Grid) {
                    return fail(
                        "sampler",
                        "a halving sampler is \"random\" or \"tpe\"".into(),
                    );
                }
                if self.search.space.0.contains_key(h.resource.param()) {
                    return fail(
                        h.resource.param(),
                        format!(
                            "{} is the halving resource and cannot also be searched",
                            h.resource.param()
                        ),
                    );
                }
            }
            _ if self.search.halving.is_some() => {
                return fail(
                    "[search.halving]",
                    "[search.halving] applies only to strategy = \"halving\"".into(),
                );
            }
            _ => {}
        }
        if !self.search.stages.is_empty() {
            if self.search.strategy == StrategyName::Halving {
                return fail(
                    "[[search.stage]]",
                    "stages and halving do not combine".into(),
                );
            }
            let total: u32 = self.search.stages.iter().map(|s| s.trials).sum();
            if self
                .search
                .stages
                .iter()
                .any(|s| s.trials == 0 || s.top == 0)
            {
                return fail(
                    "[[search.stage]]",
                    "each stage has at least one trial and top of at least one".into(),
                );
            }
            if total > b.max_trials {
                return fail(
                    "[[search.stage]]",
                    format!(
                        "the stages ask for {total} trials, above max_trials = {}",
                        b.max_trials
                    ),
                );
            }
            if !self
                .search
                .space
                .0
                .values()
                .any(|s| !matches!(s, ParamSpec::Choice { values } if values.len() == 1))
            {
                return fail(
                    "[[search.stage]]",
                    "a fine stage needs a range to narrow".into(),
                );
            }
        }
        let backend = &self.backend;
        if let Some(command) = &backend.command {
            if backend.kind != BackendKind::Local {
                return fail(
                    "command",
                    "a command runs on the local backend only; on SageMaker the image's `train` \
                     entry point runs"
                        .into(),
                );
            }
            if command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                return fail(
                    "command",
                    "give the program to run and its arguments, such as \
                     [\"python3\", \"train.py\"]"
                        .into(),
                );
            }
        }
        if backend.kind == BackendKind::Sagemaker {
            if backend.image.is_none() {
                return fail("[backend]", "the sagemaker backend needs an image".into());
            }
            if !backend.instance_type.starts_with("ml.") {
                return fail(
                    "instance_type",
                    format!(
                        "{:?} is not a SageMaker instance type (ml.*)",
                        backend.instance_type
                    ),
                );
            }
            if backend.instance_count == 0 {
                return fail("instance_count", "instance_count must be at least 1".into());
            }
            if let Some(w) = backend.max_wait
                && w < backend.max_runtime
            {
                return fail(
                    "max_wait",
                    format!("max_wait {w} is below max_runtime {}", backend.max_runtime),
                );
            }
            if backend.max_wait.is_some() && !backend.spot {
                return fail("max_wait", "max_wait applies only with spot = true".into());
            }
            if let Some(c) = &backend.checkpoint_s3
                && !c.starts_with("s3://")
            {
                return fail("checkpoint_s3", format!("{c:?} is not an s3:// location"));
            }
        }
        if self.promotion.approvals == 0 {
            return fail("approvals", "production needs at least one approval".into());
        }
        Ok(())
    }

    /// The columns the model reads, given the dataset's columns in order.
    pub fn feature_columns(&self, columns: &[String]) -> Result<Vec<String>, String> {
        if !columns.contains(&self.target) {
            return Err(format!(
                "the dataset has no target column {:?}",
                self.target
            ));
        }
        if self.features.is_empty() {
            return Ok(columns
                .iter()
                .filter(|c| **c != self.target && !self.exclude.contains(c))
                .cloned()
                .collect());
        }
        if let Some(missing) = self.features.iter().find(|f| !columns.contains(f)) {
            return Err(format!("the dataset has no feature column {missing:?}"));
        }
        Ok(self.features.clone())
    }

    /// The points a grid search of this space would list: every combination of each range's
    /// `grid_levels` points (fewer for a narrow int range) and each choice's values.
    pub fn grid_points(&self) -> u64 {
        let levels = u64::from(self.search.grid_levels.max(2));
        self.search.space.0.values().fold(1u64, |n, spec| {
            let points = match spec {
                ParamSpec::Uniform { .. } | ParamSpec::LogUniform { .. } => levels,
                ParamSpec::Int { low, high, .. } => {
                    levels.min(high.abs_diff(*low).saturating_add(1))
                }
                ParamSpec::Choice { values } => values.len() as u64,
            };
            n.saturating_mul(points.max(1))
        })
    }

    /// Whether what the pipeline asks for is within [`limits`]: the field at fault and why not.
    pub fn within_limits(&self) -> Result<(), (&'static str, String)> {
        use limits::*;
        let b = &self.budget;
        let over = |field: &'static str, asked: String, limit: String| {
            Err((
                field,
                format!("{field} = {asked} is above the limit of {limit}"),
            ))
        };
        if b.max_trials > MAX_TRIALS {
            return over(
                "max_trials",
                b.max_trials.to_string(),
                MAX_TRIALS.to_string(),
            );
        }
        if b.max_parallel > MAX_PARALLEL {
            return over(
                "max_parallel",
                b.max_parallel.to_string(),
                MAX_PARALLEL.to_string(),
            );
        }
        if let Some(w) = b.max_wall_time
            && w.0 > MAX_PERIOD
        {
            return over(
                "max_wall_time",
                format!("\"{w}\""),
                Period(MAX_PERIOD).to_string(),
            );
        }
        if let Some(s) = &self.schedule
            && s.every.0 > MAX_PERIOD
        {
            return over(
                "every",
                format!("\"{}\"", s.every),
                Period(MAX_PERIOD).to_string(),
            );
        }
        let backend = &self.backend;
        if backend.max_runtime.0 > MAX_JOB_RUNTIME {
            return over(
                "max_runtime",
                format!("\"{}\"", backend.max_runtime),
                format!("{} (SageMaker's)", Period(MAX_JOB_RUNTIME)),
            );
        }
        if let Some(w) = backend.max_wait
            && w.0 > MAX_JOB_RUNTIME
        {
            return over(
                "max_wait",
                format!("\"{w}\""),
                format!("{} (SageMaker's)", Period(MAX_JOB_RUNTIME)),
            );
        }
        if backend.instance_count > MAX_INSTANCE_COUNT {
            return over(
                "instance_count",
                backend.instance_count.to_string(),
                MAX_INSTANCE_COUNT.to_string(),
            );
        }
        if self.search.space.0.len() > MAX_HYPERPARAMETERS {
            return Err((
                "[search.space]",
                format!(
                    "the space searches {} hyperparameters, above the limit of {MAX_HYPERPARAMETERS}",
                    self.search.space.0.len()
                ),
            ));
        }
        if self.search.strategy == StrategyName::Grid && self.grid_points() > MAX_GRID_POINTS {
            return Err((
                "strategy",
                format!(
                    "a grid of this space has {} points (grid_levels = {} per range), above the \
                     limit of {MAX_GRID_POINTS}: search fewer ranges, lower grid_levels, or use \
                     strategy = \"random\" or \"tpe\"",
                    self.grid_points(),
                    self.search.grid_levels
                ),
            ));
        }
        Ok(())
    }

    /// The trials of each stage: the declared stages, or one stage of the whole budget.
    pub fn stage_trials(&self) -> Vec<u32> {
        if self.search.stages.is_empty() {
            vec![self.budget.max_trials]
        } else {
            self.search.stages.iter().map(|s| s.trials).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "wine-quality"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"

[search]
strategy = "tpe"
seed = 7

[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 1.0 }

[budget]
max_trials = 20
max_parallel = 2
max_wall_time = "20m"

[backend]
kind = "sagemaker"
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tollgate-trainer:0.1"
instance_type = "ml.g5.xlarge"
spot = true
max_runtime = "1h"
max_wait = "2h"
"#;

    #[test]
    fn a_pipeline_reads_with_defaults_and_round_trips() {
        let p = Pipeline::from_toml(GOOD).unwrap();
        assert_eq!(p.metric(), Metric::Accuracy);
        assert_eq!(p.split, Split::default());
        assert_eq!(p.budget.max_wall_time.unwrap().seconds(), 1200);
        assert_eq!(p.backend.price_per_hour(), Some(1.408));
        assert_eq!(p.promotion.approvals, 1);
        assert_eq!(Pipeline::from_toml(&p.to_toml()).unwrap(), p);
    }

    fn refusal(text: &str) -> String {
        Pipeline::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_reason() {
        let e = refusal(&GOOD.replace("\"logistic_regression\"", "\"svm\""));
        assert!(e.contains("line 6") && e.contains("svm"), "{e}");
        let e =
            refusal(&GOOD.replace("model = \"logistic_regression\"", "model = \"elastic_net\""));
        assert!(
            e.contains("line 6") && e.contains("does not do classification"),
            "{e}"
        );
        let e = refusal(&GOOD.replace("high = 1.0", "high = -1.0"));
        assert!(e.contains("line 13") && e.contains("alpha"), "{e}");
        let e = refusal(&GOOD.replace("max_wait = \"2h\"", "max_wait = \"30m\""));
        assert!(
            e.contains("line 26") && e.contains("below max_runtime"),
            "{e}"
        );
        let e = refusal(&GOOD.replace("\"20m\"", "\"soon\""));
        assert!(e.contains("line 18") && e.contains("soon"), "{e}");
        let e = refusal(&format!(
            "{GOOD}\n[split]\ntrain = 0.8\nvalidation = 0.1\ntest = 0.2\n"
        ));
        assert!(e.contains("must be 1"), "{e}");
        let e = refusal(&GOOD.replace("strategy = \"tpe\"", "strategy = \"halving\""));
        assert!(
            e.contains("line 9") && e.contains("[search.halving]"),
            "{e}"
        );
    }

    #[test]
    fn a_schedule_fires_on_multiples_of_its_period_and_not_too_often() {
        let p = Pipeline::from_toml(&format!("{GOOD}\n[schedule]\nevery = \"1d\"\n")).unwrap();
        let schedule = p.schedule.expect("the schedule is read");
        let now: jiff::Timestamp = "2026-12-03T17:45:12Z".parse().unwrap();
        assert_eq!(
            schedule.last_firing(now).to_string(),
            "2026-12-03T00:00:00Z"
        );
        let later: jiff::Timestamp = "2026-12-03T23:59:59Z".parse().unwrap();
        assert_eq!(
            schedule.last_firing(later),
            schedule.last_firing(now),
            "one firing per period, whenever it is asked"
        );
        let applied: jiff::Timestamp = "2026-12-03T09:00:00Z".parse().unwrap();
        assert_eq!(schedule.due(applied, now), None, "not at once on applying");
        let tomorrow: jiff::Timestamp = "2026-12-04T08:00:00Z".parse().unwrap();
        assert_eq!(
            schedule.due(applied, tomorrow).map(|t| t.to_string()),
            Some("2026-12-04T00:00:00Z".to_owned()),
            "the first midnight after applying"
        );
        let e = refusal(&format!("{GOOD}\n[schedule]\nevery = \"1m\"\n"));
        assert!(e.contains("too often") && e.contains("15m"), "{e}");
        let e = refusal(&format!("{GOOD}\n[schedule]\ncron = \"* * * * *\"\n"));
        assert!(e.contains("cron"), "{e}");
    }

    #[test]
    fn what_no_run_could_do_is_refused_at_apply_naming_the_limit_and_the_line() {
        let e = refusal(&GOOD.replace("\"20m\"", "\"3000000d\""));
        assert!(
            e.contains("line 18")
                && e.contains("max_wall_time = \"3000000d\" is above the limit of 366d"),
            "{e}"
        );
        let e = refusal(&GOOD.replace("max_trials = 20", "max_trials = 4000000000"));
        assert!(
            e.contains("max_trials = 4000000000 is above the limit of 10000"),
            "{e}"
        );
        let e = refusal(&GOOD.replace("max_parallel = 2", "max_parallel = 5000"));
        assert!(e.contains("max_parallel"), "{e}");
        let e = refusal(&GOOD.replace("max_runtime = \"1h\"", "max_runtime = \"90d\""));
        assert!(e.contains("28d (SageMaker's)"), "{e}");
        let e = refusal(&GOOD.replace("spot = true", "spot = true\ninstance_count = 100000"));
        assert!(e.contains("instance_count = 100000"), "{e}");
        // Twenty ranges of five points: 5^20 combinations, listed before the first trial.
        let ranges: String = (0..20)
            .map(|i| format!("p{i} = {{ type = \"uniform\", low = 0.0, high = 1.0 }}\n"))
            .collect();
        let grid = GOOD
            .replace("strategy = \"tpe\"", "strategy = \"grid\"\ngrid_levels = 5")
            .replace(
                "alpha = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n",
                &ranges,
            );
        let e = refusal(&grid);
        assert!(
            e.contains("line 9") && e.contains("95367431640625 points"),
            "{e}"
        );
        // The same space searched at random is fine: nothing is listed up front.
        Pipeline::from_toml(&grid.replace("strategy = \"grid\"", "strategy = \"random\"")).unwrap();
    }

    #[test]
    fn an_unknown_instance_type_needs_a_price_to_budget_cost() {
        let text = GOOD
            .replace("ml.g5.xlarge", "ml.x9.huge")
            .replace("max_parallel = 2", "max_parallel = 2\nmax_cost_usd = 5.0");
        assert!(refusal(&text).contains("price_per_hour"));
        let priced = text.replace("spot = true", "spot = true\nprice_per_hour = 2.0");
        let p = Pipeline::from_toml(&priced).unwrap();
        assert_eq!(p.backend.worst_case_cost(Duration::from_secs(1800)), 1.0);
    }

    #[test]
    fn a_deploy_section_is_read_with_defaults_and_refused_at_its_own_line() {
        let p = Pipeline::from_toml(GOOD).unwrap();
        assert!(p.deploy.is_none());
        assert!(!p.to_toml().contains("[deploy]"), "absent stays absent");

        let text = format!("{GOOD}\n[deploy]\nkind = \"sagemaker-endpoint\"\ninstance_count = 2\n");
        let p = Pipeline::from_toml(&text).unwrap();
        assert_eq!(p.deploy.kind, DeployKind::SagemakerEndpoint);
        assert_eq!(p.deploy.canary_percent, 10);
        assert_eq!(p.deploy.bake.seconds(), 600);
        // The trainer image serves as well as it trains.
        assert_eq!(p.serving_image(), p.backend.image.as_deref());
        assert_eq!(Pipeline::from_toml(&p.to_toml()).unwrap(), p);

        // `instance_type` is a [backend] key too: the error points at [deploy]'s.
        let bad = text.replace("instance_count = 2", "instance_type = \"m5.large\"");
        let e = refusal(&bad);
        let line = bad.lines().position(|l| l.contains("m5.large\"")).unwrap() + 1;
        assert!(
            e.contains(&format!("line {line}")) && e.contains("[deploy]"),
            "{e}"
        );
        assert!(
            refusal(&text.replace("instance_count = 2", "canary_percent = 0"))
                .contains("canary_percent")
        );
        assert!(
            refusal(&text.replace("kind = \"sagemaker-endpoint\"", "kind = \"ecs\""))
                .contains("ecs")
        );

        // Trained locally, an endpoint needs an image of its own.
        let local = text.replace("kind = \"sagemaker\"\n", "kind = \"local\"\n");
        assert!(
            refusal(&local).contains("needs an image"),
            "{}",
            refusal(&local)
        );
        let own = local.replace("instance_count = 2", "image = \"my/serving:1\"");
        assert_eq!(
            Pipeline::from_toml(&own).unwrap().serving_image(),
            Some("my/serving:1")
        );
    }

    #[test]
    fn features_default_to_every_other_column() {
        let p = Pipeline::from_toml(GOOD).unwrap();
        let cols: Vec<String> = ["a", "quality", "b"].map(String::from).to_vec();
        assert_eq!(p.feature_columns(&cols).unwrap(), ["a", "b"]);
        assert!(
            p.feature_columns(&cols[..1])
                .unwrap_err()
                .contains("quality")
        );
    }
}
