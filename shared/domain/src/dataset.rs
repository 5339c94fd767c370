//! Datasets, their versions, and the record every upload leaves behind.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{BlobKey, BucketName, ContentHash, DatasetName, UserId};

/// Where an object is: the bucket, the key, and the store's own version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectRef {
    pub bucket: BucketName,
    pub key: BlobKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl ObjectRef {
    pub fn new(bucket: BucketName, key: BlobKey) -> Self {
        Self {
            bucket,
            key,
            version_id: None,
            etag: None,
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, "?versionId={v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dataset {
    pub name: DatasetName,
    pub created_at: Timestamp,
    pub created_by: UserId,
    /// The newest accepted version, if any.
    pub latest_version: Option<u32>,
    /// The contract in force, if any.
    pub contract_version: Option<u32>,
}

/// One column of a version's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchemaColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub dtype: crate::ColumnType,
    pub nullable: bool,
}

/// An accepted version of a dataset: immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetVersion {
    pub dataset: DatasetName,
    pub version: u32,
    pub content_hash: ContentHash,
    /// The upload this version came from.
    pub source: ObjectRef,
    /// The folder (`datasets/<name>/v<N>/`) holding `data.parquet`, the original upload,
    /// `profile.json` and `report.json`.
    pub location: ObjectRef,
    pub rows: u64,
    pub bytes: u64,
    pub format: String,
    pub schema: Vec<SchemaColumn>,
    pub contract_version: u32,
    pub parent_version: Option<u32>,
    pub uploaded_by: UserId,
    pub created_at: Timestamp,
    /// Columns whose drift against the parent passed a threshold.
    #[serde(default)]
    pub drifted_columns: Vec<String>,
    /// The Parquet files the data is in, when it is in several (`data/part-00000.parquet`...,
    /// in row order: written by the instances of a processing job); 0 for one `data.parquet`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl DatasetVersion {
    /// The one file of a version's data; for data in parts, see [`Self::data_keys`].
    pub fn data_key(&self) -> String {
        format!("{}/data.parquet", self.location.key)
    }
    /// Every file of the version's data, in row order.
    pub fn data_keys(&self) -> Vec<String> {
        match self.parts {
            0 => vec![self.data_key()],
            n => (0..n).map(|i| self.part_key(i)).collect(),
        }
    }
    /// The `i`th of the version's data files, when its data is in parts.
    pub fn part_key(&self, i: u32) -> String {
        format!("{}/data/part-{i:05}.parquet", self.location.key)
    }
    /// The summaries of the version's columns, when its ingest kept them (a processed upload,
    /// or one past a million rows): the next version's drift is measured against them without
    /// reading the data.
    pub fn summary_key(&self) -> String {
        format!("{}/summary.msgpack", self.location.key)
    }
    pub fn profile_key(&self) -> String {
        format!("{}/profile.json", self.location.key)
    }
    pub fn report_key(&self) -> String {
        format!("{}/report.json", self.location.key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    Accepted,
    Duplicate,
    Rejected,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one upload event. Keyed by the event's idempotency key, so a second delivery
/// of the same event finds it and changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRecord {
    /// `bucket/key#version-or-etag`: the idempotency key of the S3 event.
    pub upload_key: String,
    pub dataset: DatasetName,
    pub status: UploadStatus,
    /// The version created (accepted) or matched (duplicate).
    pub version: Option<u32>,
    pub content_hash: ContentHash,
    pub source: ObjectRef,
    /// Where the upload is kept: the version folder, or `quarantine/...` when rejected.
    pub kept_at: ObjectRef,
    /// Where the validation report is.
    pub report: ObjectRef,
    pub rows: Option<u64>,
    pub bytes: u64,
    pub reasons: Vec<String>,
    pub uploaded_by: UserId,
    pub created_at: Timestamp,
    /// Set once every artifact is written and the event published; a retry finishes the rest.
    pub finalized: bool,
}

/// The answer of the ingest handler for one upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadOutcome {
    pub record: UploadRecord,
    pub report: crate::ValidationReport,
}

/// Who put an upload's bytes when the principal that stored them is not that person: a file
/// PUT to an upload URL the local server made is stored by the server, on the grant of whoever
/// asked for the URL. The server records the receipt as it stores the bytes; ingest names its
/// person as the uploader (and so as a contributor to every model trained on the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    /// `<bucket>/<key>#<etag>`: the upload, as its record is keyed.
    pub upload_key: String,
    pub uploaded_by: UserId,
}

impl UploadReceipt {
    pub const ACTION: &'static str = "dataset.upload.received";

    /// The audit subject of the receipt of `upload_key`.
    pub fn subject(upload_key: &str) -> String {
        format!("upload/{upload_key}")
    }

    pub fn record(&self, at: Timestamp) -> crate::AuditEvent {
        crate::AuditEvent::new(
            at,
            self.uploaded_by.clone(),
            Self::ACTION,
            Self::subject(&self.upload_key),
        )
    }

    /// Who the first receipt of `upload_key` among `events` names.
    pub fn recorded(upload_key: &str, events: &[crate::AuditEvent]) -> Option<UserId> {
        crate::AuditEvent::first(events, &Self::subject(upload_key), Self::ACTION)
            .map(|e| e.actor.clone())
    }
}
