//! The audit trail: one immutable event per decision.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::UserId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: UserId,
    /// What happened: `dataset.version.accepted`, `dataset.upload.rejected`, `contract.applied`...
    pub action: String,
    /// What it happened to: `dataset/iris/v3`, `contract/iris/v2`...
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub details: serde_json::Value,
}
