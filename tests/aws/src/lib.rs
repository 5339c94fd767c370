//! Helpers for testing Tollgate on its AWS adapters against the local AWS stand-in that
//! `scripts/test.sh` starts (`localstack/start.sh`): a [`standin::Stack`] of resources made for
//! one test, the Lambda Runtime API ([`runtime::invoke`]) that runs a function's binary as
//! Lambda runs it, and a webhook receiver ([`webhook::receiver`]). The tests of this package
//! (`tests/aws/`) and each function crate's own test of its binary use them.

pub mod runtime;
pub mod standin;
pub mod webhook;

/// An EventBridge event as a rule delivers it to a function.
pub fn envelope(detail_type: &str, source: &str, detail: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "2f0e8a54-0a33-4b61-8a2f-7a3c6f9f3a10",
        "detail-type": detail_type, "source": source, "account": "123456789012",
        "time": "2026-12-02T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": detail
    })
}

pub use tollgate_domain::conformance::Unreachable;
