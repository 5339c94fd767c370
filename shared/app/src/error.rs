//! One error type for every use case, and what it means at each edge.

use tollgate_domain::{DomainError, PortError};
use tollgate_promote::{PromoteError, Refusal};

/// Why a use case did nothing. Each edge maps the kind once: an HTTP status
/// ([`AppError::status`]), a CLI exit code, a Lambda retry ([`AppError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What was named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed; `field` names the part at fault.
    #[error("{message}")]
    Invalid {
        message: String,
        field: Option<String>,
    },
    /// The rules say no (the author approving their own model, a run without data): asking
    /// again changes nothing until something else does.
    #[error("{0}")]
    Refused(String),
    /// Other writes kept winning: asking again may succeed.
    #[error("{0}")]
    Conflict(String),
    /// A store or service is unavailable for now: asking again may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of Tollgate or its stores: asking again will not help.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Invalid { .. } => 422,
            Self::Refused(_) | Self::Conflict(_) => 409,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// The error body's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid { .. } => "invalid",
            Self::Refused(_) => "refused",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Whether the same request may succeed if made again (a Lambda retry, a client's).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict(_) | Self::Unavailable(_))
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl From<PortError> for AppError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotFound(what) => Self::NotFound(format!("not found: {what}")),
            PortError::Invalid(why) => Self::Invalid {
                message: why,
                field: None,
            },
            PortError::Conflict(why) => Self::Conflict(format!("another change came first: {why}")),
            e @ PortError::Unavailable { .. } => Self::Unavailable(error_chain(&e)),
            e @ PortError::Other { .. } => Self::Internal(error_chain(&e)),
        }
    }
}

impl From<PromoteError> for AppError {
    fn from(e: PromoteError) -> Self {
        match e {
            PromoteError::Port(e) => e.into(),
            e @ PromoteError::Contended(_) => Self::Conflict(e.to_string()),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoSuchModel(_) => Self::NotFound(refusal.to_string()),
            refusal => Self::Refused(refusal.to_string()),
        }
    }
}

/// A TOML document that does not parse or check; the message names the line.
pub(crate) fn bad_document(field: &str, e: DomainError) -> AppError {
    AppError::invalid(field, e.to_string())
}

/// An error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
