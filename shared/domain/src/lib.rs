//! Tollgate's domain: what a dataset, a version, a contract, a report and an audit event are,
//! the events the handlers exchange, and the ports (traits) the adapters implement.
//!
//! This crate sits under everything else in the flow and knows nothing of AWS, files or
//! runtimes: the embedded adapters (`tollgate-local`) and the AWS adapters implement its ports.

pub mod audit;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod contract;
pub mod dataset;
pub mod deploy;
pub mod error;
pub mod events;
pub mod model_test;
pub mod monitoring;
pub mod names;
#[cfg(feature = "openapi")]
mod openapi;
pub mod pipeline;
pub mod ports;
pub mod promotion;
pub mod report;
pub mod search;
pub mod training;

pub use audit::AuditEvent;
pub use contract::{ColumnContract, ColumnType, Contract, DriftAction, DriftThresholds};
pub use dataset::{
    Dataset, DatasetVersion, ObjectRef, UploadOutcome, UploadReceipt, UploadRecord, UploadStatus,
};
pub use error::{DomainError, PortError};
pub use events::Event;
pub use names::{BlobKey, BucketName, ContentHash, DatasetName, UserId};
pub use pipeline::{ModelFamily, Pipeline, Task};
// The promotion state; the decision API (`decide`, `Request`, `Decision`, `Transition`) is
// used as `promotion::...`, its names being too general for the crate root.
pub use promotion::{Approval, ModelState, StageChange, TestVerdict, VersionState};
pub use report::{
    ColumnDrift, ColumnProfile, DatasetProfile, DriftReport, Finding, UploadedFile,
    ValidationReport,
};
pub use search::{Hyperparameters, ParamSpec, ParamValue, SearchSpace};
pub use training::{
    JobStateChange, JobStatus, ModelStage, ModelVersion, ProcessingJob, ProcessingStateChange, Run,
    RunStatus, StoredPipeline, TrainingJob, TrialRecord, TrialStatus, Trigger,
};
