//! The events handlers exchange. On AWS each is an EventBridge event whose `detail-type` is
//! [`Event::detail_type`] and whose `detail` is the variant's fields; in the embedded default the
//! same JSON goes through the in-process bus.

use serde::{Deserialize, Serialize};

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
}

impl Event {
    pub fn detail_type(&self) -> &'static str {
        match self {
            Self::DatasetVersionAccepted { .. } => "DatasetVersionAccepted",
            Self::DatasetUploadRejected { .. } => "DatasetUploadRejected",
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
        }
    }
}
