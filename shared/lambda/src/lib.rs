//! What every Tollgate Lambda function shares, so that each `main.rs` only wires: settings read
//! once from the environment (a missing one named at start, not at the first event), JSON logs
//! for CloudWatch, the EventBridge envelope turned into the domain's [`Event`], and the one rule
//! for errors: a retryable one is returned, so Lambda (or SQS) delivers the event again; any
//! other is logged with the event and answered, since delivering it again cannot help.
//!
//! [`Event`]: tollgate_domain::Event

pub mod env;
mod events;

pub use env::{Common, ConfigError};
pub use events::{ENDPOINT_STATE_CHANGE, Incoming, incoming};

use serde::Serialize;
use serde_json::Value;

pub use lambda_runtime::{Error, LambdaEvent, run, service_fn};

/// JSON lines on stdout, which CloudWatch Logs indexes; the level from `AWS_LAMBDA_LOG_LEVEL`
/// (Lambda's log settings) or `RUST_LOG`, INFO by default.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .init();
}

/// The function's answer to one event. `Ok` becomes the response; a retryable error is returned
/// so the event is delivered again; any other is logged and answered `{"discarded": why}`.
pub fn answer<T: Serialize, E: std::fmt::Display>(
    what: &str,
    result: Result<T, E>,
    retryable: impl FnOnce(&E) -> bool,
) -> Result<Value, Error> {
    match result {
        Ok(value) => Ok(serde_json::to_value(value)?),
        Err(e) if retryable(&e) => {
            tracing::warn!(event = what, error = %e, "failed; the event will be delivered again");
            Err(e.to_string().into())
        }
        Err(e) => {
            tracing::error!(event = what, error = %e, "refused; not retried");
            Ok(serde_json::json!({ "discarded": e.to_string() }))
        }
    }
}
