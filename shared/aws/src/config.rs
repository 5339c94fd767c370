//! The SDK configuration every client is built from.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The variable that points every client at a stand-in; `AWS_ENDPOINT_URL`, which the SDK reads
/// too, works the same. Tollgate's own name wins when both are set.
pub const ENDPOINT_VARIABLE: &str = "TOLLGATE_AWS_ENDPOINT";

/// The endpoint override in the environment, if any: `TOLLGATE_AWS_ENDPOINT`, else
/// `AWS_ENDPOINT_URL`.
pub fn endpoint_override() -> Option<String> {
    [ENDPOINT_VARIABLE, "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
}

/// The SDK configuration and what the adapters need to know of it.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub sdk: SdkConfig,
    /// Set when clients talk to a stand-in rather than AWS: S3 then uses path-style addressing,
    /// since a stand-in on 127.0.0.1 has no per-bucket host names.
    pub endpoint: Option<String>,
}

/// Builds the SDK configuration from the environment (region, credentials: the Lambda role on
/// AWS), with `endpoint` (or else [`endpoint_override`]) as every service's endpoint.
pub async fn sdk_config(endpoint: Option<&str>) -> AwsConfig {
    let endpoint = endpoint.map(str::to_owned).or_else(endpoint_override);
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &endpoint {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    let sdk = if sdk.region().is_none() {
        // Without a region the SDK refuses every call; name the fix instead of failing later.
        tracing::warn!("no AWS region is configured (AWS_REGION); using us-east-1");
        sdk.into_builder()
            .region(Region::from_static("us-east-1"))
            .build()
    } else {
        sdk
    };
    AwsConfig { sdk, endpoint }
}
