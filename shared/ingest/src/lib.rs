//! The ingest handler: the first gate of the flow. An S3 `ObjectCreated` event for
//! `incoming/<dataset>/<file>` comes in; the upload is hashed, parsed, checked against the
//! dataset's contract, profiled and compared with the previous version; it leaves as a new
//! dataset version (`datasets/<name>/v<N>/`, `DatasetVersionAccepted`), as a duplicate of an
//! existing version, or in quarantine with its report (`DatasetUploadRejected`).
//!
//! A batch folder, `incoming/<dataset>/<batch>/`, becomes one version when its marker
//! (`_SUCCESS` or `_manifest.json`) arrives; a file written to it after the marker is its own
//! rejected upload.
//!
//! Idempotent: the event's bucket, key and version (or ETag) key an upload record, so a second
//! delivery, or the same event handled by several processes at once, yields one outcome. Nothing
//! is deleted: the incoming object stays, and a copy goes with the version or to quarantine.

mod batch;
mod error;
mod event;
mod handler;

pub use error::IngestError;
pub use event::{Arrival, MANIFEST_MARKER, SUCCESS_MARKER, UploadRef, uploads_in};
pub use handler::{
    Ingest, JOB_PREFIX, JobSettings, Processing, Stage, instance_main, job_name, run_instance,
};
