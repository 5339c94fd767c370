//! Errors of the domain: a value that does not parse, and what a port can fail with.

use std::fmt;

/// A value refused by a constructor of the domain (a name, a key, a contract file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// A file a user writes (a contract, a pipeline) that does not parse or check.
    #[error("{file} file, line {line}: {reason}")]
    File {
        file: &'static str,
        line: usize,
        reason: String,
    },
}

impl DomainError {
    /// A refusal of `text` (a `file` such as "pipeline") at the byte `at`, reported by line.
    pub fn in_file(file: &'static str, text: &str, at: usize, reason: impl Into<String>) -> Self {
        Self::File {
            file,
            line: text[..at.min(text.len())].matches('\n').count() + 1,
            reason: reason.into(),
        }
    }

    /// A TOML error of `text`, at the line its span points to.
    pub fn from_toml(file: &'static str, text: &str, e: &toml::de::Error) -> Self {
        Self::in_file(
            file,
            text,
            e.span().map(|s| s.start).unwrap_or(0),
            e.message(),
        )
    }

    pub fn invalid(
        what: &'static str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// What a port (blob store, catalog, event bus) can fail with.
///
/// `Conflict` is the answer to a conditional write that lost: the caller re-reads and decides.
/// `Unavailable` is worth a retry now (a timeout, a throttle, a lock held too long); `Other` (a
/// store's fault nobody classified: access denied, a disk error) is not worth one now, but an
/// event whose handling met it is worth delivering again later ([`PortError::is_worth_redelivery`]),
/// since the event is all there is of that work and every handler is idempotent.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("refused: {0}")]
    Invalid(String),
    #[error("temporarily unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{context}")]
    Other {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl PortError {
    pub fn other(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Other {
            context: context.into(),
            source: source.into(),
        }
    }

    pub fn unavailable(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether trying the same call again may succeed: what a person's request answers (an
    /// HTTP 503 or 409, not a 500).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Conflict(_))
    }

    /// Whether an event whose handling failed so should be delivered again (by Lambda's retries,
    /// SQS, or the embedded dispatcher), up to the queue's limit and then its dead-letter queue:
    /// everything but what no later delivery can change (a missing object, an invalid request).
    /// The one rule every handler follows.
    pub fn is_worth_redelivery(&self) -> bool {
        !matches!(self, Self::NotFound(_) | Self::Invalid(_))
    }
}
