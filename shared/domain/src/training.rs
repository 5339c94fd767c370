//! Tuning runs, their trials as training jobs, and the candidate model versions they register.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::pipeline::{Backend, Pipeline};
use crate::{BucketName, ContentHash, DatasetName, Hyperparameters, ObjectRef, UserId};

/// A pipeline as the catalog keeps it: numbered, with its file's text and hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredPipeline {
    pub version: u32,
    pub pipeline: Pipeline,
    /// The file as applied, byte for byte; `hash` is its SHA-256.
    pub text: String,
    pub hash: ContentHash,
    pub applied_by: UserId,
    pub applied_at: Timestamp,
}

/// Someone who caused a model version, and how. None of them may approve it: the four-eyes
/// rule asks for eyes that had no hand in what they judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contributor {
    pub user: UserId,
    /// What they did, as a sentence's predicate: "uploaded wine v3 (its training data)".
    pub role: String,
}

/// Everyone who caused a run started by `trigger` of `pipeline` on `version`, requested by
/// `requested_by`: who asked for it (a person's request, or the upload that started it), who
/// uploaded the data it trains on, and for a run no person asked for (a schedule, the monitor),
/// who applied the pipeline that started it. One entry per person, their roles joined.
pub fn contributors(
    trigger: &Trigger,
    requested_by: &UserId,
    pipeline: &StoredPipeline,
    version: &crate::DatasetVersion,
) -> Vec<Contributor> {
    let mut all: Vec<Contributor> = Vec::new();
    let mut add = |user: &UserId, role: String| match all.iter_mut().find(|c| c.user == *user) {
        Some(c) if !c.role.contains(&role) => c.role = format!("{} and {role}", c.role),
        Some(_) => {}
        None => all.push(Contributor {
            user: user.clone(),
            role,
        }),
    };
    let applied = format!(
        "applied pipeline {} v{}",
        pipeline.pipeline.name, pipeline.version
    );
    match trigger {
        Trigger::Request { .. } => add(requested_by, "requested its run".into()),
        Trigger::Schedule { .. } => add(
            &pipeline.applied_by,
            format!("{applied} (whose schedule started its run)"),
        ),
        Trigger::Monitor { .. } => add(
            &pipeline.applied_by,
            format!("{applied} (whose drift monitoring started its run)"),
        ),
        Trigger::Upload { .. } => {}
    }
    add(
        &version.uploaded_by,
        format!(
            "uploaded {} v{} (its training data)",
            version.dataset, version.version
        ),
    );
    all
}

/// A person's request for a run as the application (the API, the CLI) records it in the audit
/// trail before the request's event goes out. The tune step starts a requested run only when
/// it finds this record and takes the requester from it: a `RunRequested` event on the bus is
/// something anyone allowed to publish there could have written, the catalog is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub request_id: String,
    pub pipeline: String,
    pub dataset_version: Option<u32>,
    pub requested_by: UserId,
}

impl RunRequest {
    pub const ACTION: &'static str = "run.requested";

    /// The audit subject of request `request_id`.
    pub fn subject(request_id: &str) -> String {
        format!("request/{request_id}")
    }

    /// The record to append, made at `at`.
    pub fn record(&self, at: Timestamp) -> crate::AuditEvent {
        crate::AuditEvent::new(
            at,
            self.requested_by.clone(),
            Self::ACTION,
            Self::subject(&self.request_id),
        )
        .details(serde_json::json!({
            "pipeline": self.pipeline,
            "dataset_version": self.dataset_version,
        }))
    }

    /// The first record of request `request_id` among `events` (the audit of its subject).
    pub fn recorded(request_id: &str, events: &[crate::AuditEvent]) -> Option<Self> {
        let event = crate::AuditEvent::first(events, &Self::subject(request_id), Self::ACTION)?;
        Some(Self {
            request_id: request_id.to_owned(),
            pipeline: event.details["pipeline"].as_str()?.to_owned(),
            dataset_version: event.details["dataset_version"]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok()),
            requested_by: event.actor.clone(),
        })
    }

    /// The event that asks the tune step to start it.
    pub fn event(&self) -> crate::Event {
        crate::Event::RunRequested {
            pipeline: self.pipeline.clone(),
            dataset_version: self.dataset_version,
            requested_by: self.requested_by.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// A version of the pipeline's dataset was accepted.
    Upload { dataset_version: u32 },
    /// Someone asked (the CLI, the API); `request_id` makes a retried request start one run.
    Request { request_id: String },
    /// A schedule fired at `at`.
    Schedule { at: Timestamp },
    /// The monitor found drift past the pipeline's thresholds.
    Monitor { report: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Ended with a candidate registered.
    Succeeded,
    /// Ended without a candidate: every trial failed, or a budget allowed none.
    Failed {
        reason: String,
    },
}

impl Trigger {
    /// `upload`, `request`, `schedule` or `monitor`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Upload { .. } => "upload",
            Self::Request { .. } => "request",
            Self::Schedule { .. } => "schedule",
            Self::Monitor { .. } => "monitor",
        }
    }
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Recorded, its job not yet confirmed started: a retry starts it (job names are idempotent).
    Pending,
    Running,
    Completed,
    Failed,
    /// Stopped early: the wall-time budget ran out.
    Stopped,
}

impl TrialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrialRecord {
    pub id: u32,
    pub job_name: String,
    pub params: Hyperparameters,
    pub status: TrialStatus,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The primary metric as a value to minimize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Where the job wrote its model (`s3://...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The runtime the job was given (at most the backend's, at most what the wall time left).
    pub max_runtime_secs: u64,
    /// What the budget holds for the job until it ends: its worst case.
    pub reserved_usd: f64,
    /// What it cost once ended (billable time × price).
    #[serde(default)]
    pub cost_usd: f64,
}

impl TrialRecord {
    /// Reserved while active, charged once ended.
    pub fn spend(&self) -> f64 {
        if self.status.is_active() {
            self.reserved_usd
        } else {
            self.cost_usd
        }
    }
}

/// The frozen split of a dataset version a run trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitFiles {
    pub train: ObjectRef,
    pub validation: ObjectRef,
    pub test: ObjectRef,
    /// SHA-256 of the test file: the models of every run on this split are tested on these bytes.
    pub test_hash: ContentHash,
    /// The test rows without the run's target: what its training jobs get as their `test`
    /// channel, to predict. The labelled `test` stays with the evaluator, so no job can write
    /// the answers into its own predictions. (A run from before there was one gives its jobs no
    /// test channel.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_features: Option<ObjectRef>,
    pub rows: [u64; 3],
    pub features: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CandidateRef {
    pub model: String,
    pub version: u32,
}

/// A tuning run: the study's whole state, one document written with optimistic concurrency
/// (`revision`), so every handler step reads it, decides, and writes it back conditionally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    pub id: String,
    pub pipeline: StoredPipeline,
    pub dataset: DatasetName,
    pub dataset_version: u32,
    pub content_hash: ContentHash,
    pub split: SplitFiles,
    pub trigger: Trigger,
    pub requested_by: UserId,
    /// Who caused it ([`contributors`]); its model version keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Contributor>,
    pub status: RunStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// No job runs past this (the wall-time budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// The most the run may spend and trials it may start, after the period's budget.
    pub max_trials: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    pub trials: Vec<TrialRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_trial: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateRef>,
    /// Whether the run's end went out: `ModelCandidateRegistered`, or `RunFailed` (a retry
    /// publishes it otherwise).
    #[serde(default)]
    pub announced: bool,
    /// Why the run stopped proposing, and other things a reader should know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub revision: u64,
}

impl Run {
    /// A place as [`Run::place`] writes it, as its parts (created ms, id); `Invalid` otherwise.
    pub fn parse_place(place: &str) -> Result<(i64, &str), crate::PortError> {
        place
            .split_once('#')
            .filter(|(ms, id)| ms.len() == 15 && !id.is_empty())
            .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id)))
            .ok_or_else(|| {
                crate::PortError::Invalid(format!("{place:?} is not a cursor of the runs list"))
            })
    }

    /// The run's place in the newest-first lists, `<created ms:015>#<id>`: what the catalogs
    /// sort and page the lists by.
    pub fn place(&self) -> String {
        format!(
            "{:015}#{}",
            self.created_at.as_millisecond().max(0),
            self.id
        )
    }

    pub fn spend(&self) -> f64 {
        self.trials.iter().map(TrialRecord::spend).sum()
    }

    pub fn trial_by_job(&self, job_name: &str) -> Option<&TrialRecord> {
        self.trials.iter().find(|t| t.job_name == job_name)
    }

    /// The job name of trial `id`: `<run id>-t<id>`, within SageMaker's 63 characters.
    pub fn job_name(run_id: &str, trial: u32) -> String {
        format!("{run_id}-t{trial:03}")
    }

    /// The run a job belongs to, from its name.
    pub fn id_of_job(job_name: &str) -> Option<&str> {
        let (run, trial) = job_name.rsplit_once("-t")?;
        trial.parse::<u32>().ok().map(|_| run)
    }
}

/// Where a model version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ModelStage {
    Candidate,
    Staging,
    Production,
    Archived,
    Rejected,
}

impl ModelStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Candidate => "candidate",
            Self::Staging => "staging",
            Self::Production => "production",
            Self::Archived => "archived",
            Self::Rejected => "rejected",
        }
    }
}

/// A registered model version and its lineage: from it back to the exact bytes it learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelVersion {
    /// The pipeline's name.
    pub model: String,
    pub version: u32,
    pub stage: ModelStage,
    pub task: crate::pipeline::Task,
    pub family: crate::pipeline::ModelFamily,
    pub run_id: String,
    pub trial: u32,
    pub job_name: String,
    pub hyperparameters: Hyperparameters,
    pub metrics: BTreeMap<String, f64>,
    pub primary_metric: String,
    pub artifact: String,
    pub dataset: DatasetName,
    pub dataset_version: u32,
    pub content_hash: ContentHash,
    pub split: SplitFiles,
    pub pipeline_version: u32,
    pub pipeline_hash: ContentHash,
    /// The trainer that made it: `tollgate-trainer <version>`, or the image.
    pub trainer: String,
    /// Who started the run (the uploader, or who asked): they cannot approve it.
    pub author: UserId,
    /// Everyone who caused it (the run's [`contributors`]): none of them can approve it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Contributor>,
    pub created_at: Timestamp,
    /// Approvals given while in staging, at most one per approver (expired ones stay).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<crate::promotion::Approval>,
    /// What its model tests concluded, once they have run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<crate::promotion::TestVerdict>,
    /// The model tests' report (`models/<name>/v<N>/test-report.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_report: Option<ObjectRef>,
    /// Changes with every stage transition (optimistic concurrency).
    pub revision: u64,
}

/// A training job to start: the same description for the local and the SageMaker backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingJob {
    /// Unique; starting a job whose name exists already starts nothing.
    pub name: String,
    /// As SageMaker passes them: every value a string.
    pub hyperparameters: BTreeMap<String, String>,
    /// `train`, `validation`, `test`: each one object.
    pub channels: BTreeMap<String, ObjectRef>,
    /// The job's outputs go under `<output_prefix><name>/`.
    pub output_bucket: BucketName,
    pub output_prefix: String,
    pub backend: Backend,
    pub max_runtime: Duration,
    /// The metrics the job's log reports, as `<channel>:<metric>` names.
    pub metric_names: Vec<String>,
}

/// A processing job: the ingest of an upload too big for its function, run by the same code
/// (`tollgate process`) on SageMaker Processing instances, or as local subprocesses. Its inputs
/// are a manifest of the upload's files (SageMaker's `ManifestFile`, shared out among the
/// instances object by object as `ShardedByS3Key` does) and the job's settings; each instance
/// writes its shard's summary and rows under `output/<host>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingJob {
    /// At most 63 characters, `[a-zA-Z0-9-]`; one name per upload.
    pub name: String,
    /// The files, as a SageMaker manifest: `[{"prefix": "s3://bucket/folder/"}, "name", ...]`.
    pub manifest: ObjectRef,
    /// The job's settings (`job.json`), given to every instance whole.
    pub settings: ObjectRef,
    /// Where the instances' outputs go (a prefix ending in `/`).
    pub output: ObjectRef,
    pub instances: u32,
    /// The most one instance's share of the files may hold (its largest files): what its
    /// volume must hold, with their rows.
    pub share_bytes: u64,
    pub max_runtime: Duration,
}

/// The detail of a "SageMaker Processing Job State Change" event, the fields Tollgate reads.
/// The local backend emits the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessingStateChange {
    pub processing_job_name: String,
    pub processing_job_status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// What the container wrote to `/opt/ml/output/message` as it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_message: Option<String>,
}

impl ProcessingStateChange {
    pub fn is_final(&self) -> bool {
        matches!(
            self.processing_job_status,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
        )
    }
}

/// A training job's status, spelled as SageMaker spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelArtifacts {
    pub s3_model_artifacts: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricData {
    pub metric_name: String,
    pub value: f64,
}

/// The detail of a "SageMaker Training Job State Change" event, the fields Tollgate reads (the
/// real event carries more, which are ignored). The local backend emits the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobStateChange {
    pub training_job_name: String,
    pub training_job_status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_artifacts: Option<ModelArtifacts>,
    #[serde(default)]
    pub final_metric_data_list: Vec<MetricData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable_time_in_seconds: Option<u64>,
}

impl JobStateChange {
    pub fn is_final(&self) -> bool {
        matches!(
            self.training_job_status,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
        )
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.final_metric_data_list
            .iter()
            .find(|m| m.metric_name == name)
            .map(|m| m.value)
    }
}
