use tollgate_domain::PortError;
use tollgate_validation::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The request cannot be served, now or ever (no such pipeline, no accepted version).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("gave up on run {0} after {1} attempts: other steps kept changing it")]
    Contended(String, u32),
}

impl TuneError {
    /// Whether Lambda (or the caller) should deliver the event again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Refused(_) => false,
            Self::Port(e) => e.is_worth_redelivery(),
            Self::Validation(_) | Self::Contended(..) => true,
        }
    }
}
