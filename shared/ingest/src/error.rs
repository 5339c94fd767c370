use tollgate_domain::PortError;
use tollgate_validation::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The event cannot be handled, now or ever: retrying will not help.
    #[error("unusable event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("gave up after {0} attempts: other uploads kept taking the next version number")]
    Contended(u32),
    #[error("a validation task failed: {0}")]
    Task(String),
    /// The upload's bytes are no longer the ones a version was accepted from: what that version
    /// still lacks cannot be made from them.
    #[error("{0}")]
    SourceChanged(String),
}

impl IngestError {
    /// Whether Lambda (or the caller) should deliver the event again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::BadEvent(_) | Self::SourceChanged(_) => false,
            Self::Port(e) => e.is_worth_redelivery(),
            Self::Validation(_) | Self::Contended(_) | Self::Task(_) => true,
        }
    }
}
