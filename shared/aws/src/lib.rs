//! Tollgate's AWS adapters: the domain's ports on S3 ([`S3BlobStore`]), DynamoDB
//! ([`DynamoCatalog`]), SageMaker ([`SageMakerBackend`], [`SageMakerProcessing`],
//! [`SageMakerRegistry`], [`SageMakerHosting`]) and EventBridge
//! ([`EventBridgeBus`]); and a secret's value ([`SecretsManagerSecret`]). The Lambda functions wire these to the same handlers the embedded default
//! wires to files and SQLite; every adapter passes the conformance suite its embedded twin passes.
//!
//! One function, [`sdk_config`], builds the SDK configuration for all of them, so one setting
//! (`AWS_ENDPOINT_URL`, or `TOLLGATE_AWS_ENDPOINT`) points every client at a local stand-in.
//! Each adapter is behind a feature of its name, so a function compiles only the SDKs it calls.

mod config;
mod error;

#[cfg(feature = "dynamodb")]
pub mod catalog;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(feature = "hosting")]
pub mod hosting;
#[cfg(feature = "sagemaker")]
pub mod processing;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "sagemaker")]
pub mod sagemaker;
#[cfg(feature = "secrets")]
pub mod secrets;

pub use config::{AwsConfig, endpoint_override, sdk_config};
pub use error::AwsError;

#[cfg(feature = "dynamodb")]
pub use catalog::DynamoCatalog;
#[cfg(feature = "eventbridge")]
pub use eventbridge::EventBridgeBus;
#[cfg(feature = "hosting")]
pub use hosting::{HostingSettings, SageMakerHosting};
#[cfg(feature = "sagemaker")]
pub use processing::{ProcessingSettings, SageMakerProcessing};
#[cfg(feature = "s3")]
pub use s3::S3BlobStore;
#[cfg(feature = "sagemaker")]
pub use sagemaker::{SageMakerBackend, SageMakerRegistry, TrainingSettings};
#[cfg(feature = "secrets")]
pub use secrets::SecretsManagerSecret;
