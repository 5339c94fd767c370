//! The events handlers exchange. On AWS each is an EventBridge event whose `detail-type` is
//! [`Event::detail_type`] and whose `detail` is the variant's fields; in the embedded default the
//! same JSON goes through the in-process bus.

use serde::{Deserialize, Serialize};

use crate::training::{JobStateChange, ProcessingStateChange};
use crate::{ContentHash, DatasetName, ObjectRef, UserId};

/// The `source` of every Tollgate event on an EventBridge bus.
pub const EVENT_SOURCE: &str = "tollgate";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail-type", content = "detail")]
pub enum Event {
    /// A dataset version passed the data gate: pipelines listening to the dataset start a run.
    #[serde(rename = "DatasetVersionAccepted")]
    DatasetVersionAccepted {
        dataset: DatasetName,
        version: u32,
        content_hash: ContentHash,
        data: ObjectRef,
        rows: u64,
        uploaded_by: UserId,
        drifted_columns: Vec<String>,
    },
    /// An upload failed the data gate and is in quarantine with its report.
    #[serde(rename = "DatasetUploadRejected")]
    DatasetUploadRejected {
        dataset: DatasetName,
        content_hash: ContentHash,
        quarantined: ObjectRef,
        report: ObjectRef,
        reasons: Vec<String>,
        uploaded_by: UserId,
    },
    /// Someone (the API, the CLI, a schedule) asks a pipeline to run on its dataset's latest
    /// version, or on `dataset_version`.
    #[serde(rename = "RunRequested")]
    RunRequested {
        pipeline: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset_version: Option<u32>,
        requested_by: UserId,
        /// The same id twice starts one run.
        request_id: String,
    },
    /// A training job ended (or changed state): what SageMaker sends to EventBridge, and what the
    /// local backend emits when its subprocess exits.
    #[serde(rename = "SageMaker Training Job State Change")]
    TrainingJobStateChange(JobStateChange),
    /// A processing job ended (or changed state): what SageMaker sends to EventBridge, and what
    /// the local backend emits when its subprocesses exit. The ingest of an upload too big for
    /// its function finishes on it.
    #[serde(rename = "SageMaker Processing Job State Change")]
    ProcessingJobStateChange(ProcessingStateChange),
    /// A run's best trial is a new model version, stage `candidate`: the model tests start.
    #[serde(rename = "ModelCandidateRegistered")]
    ModelCandidateRegistered {
        model: String,
        version: u32,
        run_id: String,
        artifact: String,
        dataset: DatasetName,
        dataset_version: u32,
        content_hash: ContentHash,
        author: UserId,
    },
    /// A candidate's model tests ran: its report says which checks passed.
    #[serde(rename = "ModelTested")]
    ModelTested {
        model: String,
        version: u32,
        passed: bool,
        report: ObjectRef,
    },
    /// A model version changed stage (staged, approved into production, archived, rejected,
    /// rolled back).
    #[serde(rename = "ModelStageChanged")]
    ModelStageChanged {
        model: String,
        version: u32,
        from: crate::ModelStage,
        to: crate::ModelStage,
        actor: UserId,
    },
    /// A model's endpoint deployment changed status: started, in service, failed or rolled
    /// back by its alarms.
    #[serde(rename = "DeploymentChanged")]
    DeploymentChanged {
        model: String,
        version: u32,
        endpoint: String,
        status: crate::deploy::DeploymentStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A run ended without a candidate: every trial failed, or its budget (trials, cost, wall
    /// time, the period's allowance) left none to run. Published once per run.
    #[serde(rename = "RunFailed")]
    RunFailed {
        pipeline: String,
        run_id: String,
        reason: String,
        requested_by: UserId,
    },
    /// The monitor found the traffic of a model in production past its pipeline's
    /// thresholds. Published when a retraining run starts, else at most once per cooldown.
    #[serde(rename = "DriftDetected")]
    DriftDetected {
        model: String,
        version: u32,
        /// The features (and `prediction`) past their thresholds.
        features: Vec<String>,
        /// The monitor's report (`s3://.../monitoring/<model>/<time>.json`).
        report: String,
        /// What the check did: the retraining run it started, or why none.
        outcome: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retraining_run: Option<String>,
    },
}

impl Event {
    /// Every `detail-type` Tollgate's events have: a reader told one it does not know is
    /// looking at a newer publisher, not at a malformed event.
    pub const DETAIL_TYPES: &'static [&'static str] = &[
        "DatasetVersionAccepted",
        "DatasetUploadRejected",
        "RunRequested",
        "SageMaker Training Job State Change",
        "SageMaker Processing Job State Change",
        "ModelCandidateRegistered",
        "ModelTested",
        "ModelStageChanged",
        "DeploymentChanged",
        "RunFailed",
        "DriftDetected",
    ];

    pub fn detail_type(&self) -> &'static str {
        match self {
            Self::DatasetVersionAccepted { .. } => "DatasetVersionAccepted",
            Self::DatasetUploadRejected { .. } => "DatasetUploadRejected",
            Self::RunRequested { .. } => "RunRequested",
            Self::TrainingJobStateChange(_) => "SageMaker Training Job State Change",
            Self::ProcessingJobStateChange(_) => "SageMaker Processing Job State Change",
            Self::ModelCandidateRegistered { .. } => "ModelCandidateRegistered",
            Self::ModelTested { .. } => "ModelTested",
            Self::ModelStageChanged { .. } => "ModelStageChanged",
            Self::DeploymentChanged { .. } => "DeploymentChanged",
            Self::RunFailed { .. } => "RunFailed",
            Self::DriftDetected { .. } => "DriftDetected",
        }
    }

    /// A key that is the same for two deliveries of the same fact, for consumers' idempotency.
    pub fn dedup_key(&self) -> String {
        match self {
            Self::DatasetVersionAccepted {
                dataset, version, ..
            } => {
                format!("dataset-accepted/{dataset}/v{version}")
            }
            Self::DatasetUploadRejected {
                dataset,
                content_hash,
                ..
            } => format!("dataset-rejected/{dataset}/{content_hash}"),
            Self::RunRequested {
                pipeline,
                request_id,
                ..
            } => format!("run-requested/{pipeline}/{request_id}"),
            Self::TrainingJobStateChange(change) => format!(
                "training-job/{}/{:?}",
                change.training_job_name, change.training_job_status
            ),
            Self::ProcessingJobStateChange(change) => format!(
                "processing-job/{}/{:?}",
                change.processing_job_name, change.processing_job_status
            ),
            Self::ModelCandidateRegistered { model, version, .. } => {
                format!("model-candidate/{model}/v{version}")
            }
            Self::ModelTested { model, version, .. } => format!("model-tested/{model}/v{version}"),
            Self::ModelStageChanged {
                model,
                version,
                from,
                to,
                ..
            } => format!(
                "model-stage/{model}/v{version}/{}-{}",
                from.as_str(),
                to.as_str()
            ),
            Self::DeploymentChanged {
                model,
                version,
                status,
                ..
            } => format!("deployment/{model}/v{version}/{}", status.as_str()),
            Self::RunFailed { run_id, .. } => format!("run-failed/{run_id}"),
            Self::DriftDetected { model, report, .. } => format!("drift/{model}/{report}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_detail_type_is_an_event_and_every_event_is_listed() {
        for name in Event::DETAIL_TYPES {
            let err = serde_json::from_value::<Event>(
                serde_json::json!({"detail-type": name, "detail": {}}),
            )
            .unwrap_err()
            .to_string();
            assert!(!err.contains("unknown variant"), "{name}: {err}");
        }
        let err = serde_json::from_value::<Event>(
            serde_json::json!({"detail-type": "Nothing", "detail": {}}),
        )
        .unwrap_err()
        .to_string();
        // serde lists the variants it expected: exactly the list.
        for name in Event::DETAIL_TYPES {
            assert!(
                err.contains(&format!("`{name}`")),
                "{name} missing from {err}"
            );
        }
        assert_eq!(
            err.matches('`').count() / 2,
            Event::DETAIL_TYPES.len() + 1,
            "{err}"
        );
    }
}
