//! How SDK errors become port errors: what a retry may cure (throttling, timeouts, a 5xx) is
//! `Unavailable`, a missing object is `NotFound`, the rest is `Other` (a missing table, denied
//! access: configuration a retry will not mend). The SDK error is kept as the source.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tollgate_domain::PortError;

/// An SDK error, with what Tollgate was doing when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {detail}")]
pub struct AwsError {
    pub context: String,
    /// The service's code and message, or the transport's failure.
    pub detail: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Error codes services answer with when the same call may succeed later.
const TRANSIENT: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

const MISSING: &[&str] = &["NoSuchKey", "NotFound", "NoSuchVersion"];

/// The service's error code, if the call got as far as an answer.
pub(crate) fn code<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// A port error for `err`, met while doing `context`.
pub(crate) fn port_error<E>(context: impl Into<String>, err: SdkError<E, Response>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = context.into();
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = code(&err).map(str::to_owned);
    let detail = match (&code, err.as_service_error().and_then(|e| e.message())) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => {
            code.as_deref().is_some_and(|c| TRANSIENT.contains(&c))
                || status.is_some_and(|s| s == 429 || s >= 500)
        }
        _ => false,
    };
    let missing = code.as_deref().is_some_and(|c| MISSING.contains(&c))
        || (status == Some(404) && code.is_none());
    let wrapped = AwsError {
        context: context.clone(),
        detail: detail.clone(),
        source: Box::new(err),
    };
    if missing {
        PortError::NotFound(format!("{context}: {detail}"))
    } else if transient {
        PortError::unavailable(format!("{context}: {detail}"), wrapped)
    } else {
        PortError::other(format!("{context}: {detail}"), wrapped)
    }
}

/// A request Tollgate could not even build (a missing required field): a bug, not a retry.
pub(crate) fn build_error(
    context: &str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> PortError {
    PortError::other(format!("building the request for {context}"), err)
}
