//! The audit trail: one immutable event per decision.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::UserId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl AuditEvent {
    pub fn new(
        at: Timestamp,
        actor: UserId,
        action: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            at,
            actor,
            action: action.into(),
            subject: subject.into(),
            from: None,
            to: None,
            comment: None,
            details: serde_json::Value::Null,
        }
    }

    /// The state before, when the event is a transition.
    pub fn from(mut self, state: impl Into<String>) -> Self {
        self.from = Some(state.into());
        self
    }

    /// The state after.
    pub fn to(mut self, state: impl Into<String>) -> Self {
        self.to = Some(state.into());
        self
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// The earliest event among `events` that did `action` to exactly `subject`: the record a
    /// later step looks up (a run request, an upload's receipt), however often it was written.
    pub fn first<'a>(events: &'a [AuditEvent], subject: &str, action: &str) -> Option<&'a Self> {
        events
            .iter()
            .filter(|e| e.subject == subject && e.action == action)
            .min_by_key(|e| e.at)
    }
}
