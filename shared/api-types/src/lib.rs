//! What goes over `/api/v1`: every request and response body, shared by the server
//! (`tollgate-api`), the CLI's remote mode and the console. The catalog's entities travel as
//! the domain defines them; this crate adds the envelopes and the views that gather several.
//!
//! Nothing here needs a runtime: it compiles for `wasm32-unknown-unknown`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
pub use tollgate_domain::model_test::{Check, TestReport};
pub use tollgate_domain::monitoring::{Drift, MonitorReport};
pub use tollgate_domain::pipeline::{Metric, ModelFamily, Task};
pub use tollgate_domain::ports::{MAX_PAGE, Page, PageRequest, StoredContract};
pub use tollgate_domain::promotion::StageChange;
pub use tollgate_domain::report::Severity;
pub use tollgate_domain::search::Hyperparameters;
pub use tollgate_domain::training::CandidateRef;
pub use tollgate_domain::training::Contributor;
pub use tollgate_domain::{
    AuditEvent, ColumnContract, ColumnDrift, ColumnProfile, Contract, Dataset, DatasetName,
    DatasetProfile, DatasetVersion, DriftAction, DriftReport, DriftThresholds, Finding, ModelStage,
    ModelVersion, ParamValue, Run, RunStatus, StoredPipeline, TrialRecord, UploadRecord,
    UploadStatus, UserId, ValidationReport,
};
pub use tollgate_domain::{ContentHash, TestVerdict};

/// The items a page holds when the request does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// The body of every answer that is not a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, for programs: `unauthenticated`, `forbidden`, `not_found`, `invalid`, `refused`,
    /// `conflict`, `unavailable`, `internal`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The request's field (or query parameter) at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// Who the caller is, as the server sees them: `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user: String,
    pub groups: Vec<String>,
}

/// `POST /api/v1/uploads`: where to PUT a file for a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRequest {
    pub dataset: String,
    /// The file's name (no folders): the object is `incoming/<dataset>/<file>`.
    pub file: String,
}

/// Where to send the bytes: `PUT` them to `url` before `expires_at`; the upload is ingested
/// as any file landing under `incoming/` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTicket {
    pub method: String,
    pub url: String,
    /// Headers to send with the PUT as they are: they are signed into the URL (S3's names the
    /// uploader, `x-amz-meta-tollgate-uploaded-by`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    pub key: String,
    pub expires_at: Timestamp,
}

/// What applying a contract or a pipeline did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Applied {
    pub name: String,
    pub version: u32,
    /// `false` when the text is the version already in force.
    pub changed: bool,
}

/// `POST /api/v1/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRequest {
    pub pipeline: String,
    /// The dataset version to train on; the latest accepted one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_version: Option<u32>,
    /// The caller's id for this request (1 to 64 of `A-Z a-z 0-9 - _ .`): sent again, it asks
    /// for the same run, not a second one. The server picks one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A run asked for: the tune step starts it when the event arrives (at once on a laptop, within
/// seconds on AWS); `request_id` finds it (`GET /runs?request_id=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunAccepted {
    pub pipeline: String,
    pub request_id: String,
}

/// A run in a list: what it is and how far it got, without its trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSummary {
    pub id: String,
    pub pipeline: String,
    pub dataset: String,
    pub dataset_version: u32,
    pub status: RunStatus,
    /// `request`, `upload`, `schedule` or `monitor`.
    pub trigger: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub trials: usize,
    pub trials_ended: usize,
    pub max_trials: u32,
    pub spend_usd: f64,
    /// The model version the run registered, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateRef>,
}

/// The body of approve, reject and roll back. A rejection needs its comment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The body of a rollback: why, and the version in production it replaces as the caller saw
/// it. Naming it makes the request safe to repeat: once that version is rolled back, the same
/// request answers what it did instead of rolling back one version further.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
}

/// The body of a promotion: the stage to go to (`staging` or `production`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromoteRequest {
    pub to: ModelStage,
}

/// What a decision changed; empty when it was recorded without moving a stage (an approval
/// that is not yet the last one needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decided {
    pub model: String,
    pub changes: Vec<StageChange>,
    /// The request had landed already (a repeat, as after a lost answer, or a rollback someone
    /// else made of the same version): `changes` are the ones made then, and nothing changed
    /// now.
    #[serde(default)]
    pub repeated: bool,
}

/// One approval, with when it stops counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalView {
    pub approver: String,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    pub counts: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Where a version stands on its way to production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalStatus {
    pub required: u32,
    pub approvals: Vec<ApprovalView>,
    /// How many more distinct approvers production needs.
    pub still_needed: u32,
    /// Whether the caller may approve it now, and why not when not.
    pub caller_may_approve: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_refusal: Option<String>,
}

/// `GET /api/v1/models/{name}/versions/{v}`: the evidence an approver reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelVersionDetail {
    pub version: ModelVersion,
    /// The model test report as the evaluator wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_report: Option<serde_json::Value>,
    /// The version in production now, and its report, to compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<ProductionSide>,
    pub approval: ApprovalStatus,
    /// The model's stage history, oldest first.
    pub history: Vec<StageChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductionSide {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_report: Option<serde_json::Value>,
}

/// `GET /api/v1/approvals`: a version waiting in staging for approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Waiting {
    pub model: String,
    pub version: u32,
    pub author: String,
    pub created_at: Timestamp,
    pub approval: ApprovalStatus,
}

/// `GET /api/v1/datasets/{name}/versions/{v}`: a version and its validation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionDetail {
    pub version: DatasetVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ValidationReport>,
}

/// `GET /api/v1/datasets`: a dataset with what its uploads came to and its latest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetSummary {
    pub dataset: Dataset,
    /// Uploads accepted as versions, refused by the data gate, and dropped as duplicates.
    pub accepted: usize,
    pub rejected: usize,
    pub duplicates: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<DatasetVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_upload_at: Option<Timestamp>,
}

/// `GET /api/v1/models`: a model's latest version and what is in staging and production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelSummary {
    pub latest: ModelVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_version: Option<u32>,
    pub staging_versions: Vec<u32>,
}

/// `GET /api/v1/models/{name}/versions/{v}/lineage`: where a model version comes from, as a
/// graph from the uploaded bytes to the stage it is in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lineage {
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
}

/// One thing in a lineage: an upload, a dataset version, a contract, a pipeline version, a
/// run, a trial, the model version, an approval, a stage change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageNode {
    /// Unique in the graph: `dataset:wine/v2`, `run:<id>`, `model:wine-quality/v3`...
    pub id: String,
    /// `upload`, `dataset_version`, `contract`, `pipeline`, `run`, `trial`, `model_version`,
    /// `approval`, `stage`.
    pub kind: String,
    /// What a person reads: `wine v2 (1,599 rows)`.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// Who made it happen, when someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The facts a reviewer checks: hashes, object keys, hyperparameters.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// `from` led to `to`: `accepted as`, `checked against`, `trained on`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageEdge {
    pub from: String,
    pub to: String,
    pub relation: String,
}

/// `POST /api/v1/local/sign-in`: who signs in to a `tollgate up` on this machine, as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInRequest {
    pub user: String,
    /// `editors`, `approvers`, or none (read only).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A token for the `Authorization: Bearer` header, good until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    pub token: String,
    pub user: String,
    pub groups: Vec<String>,
    pub expires_at: Timestamp,
}
