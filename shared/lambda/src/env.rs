//! Settings from the environment, read once when the function starts. Every variable a function
//! reads is listed in its crate's documentation and in the README.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use tollgate_aws::s3::Encryption;
use tollgate_aws::{AwsConfig, DynamoCatalog, EventBridgeBus, S3BlobStore};
use tollgate_domain::ports::{Ports, SystemClock};

/// A setting that is missing or does not parse: the function refuses to start, naming it.
#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {name} is not set: it is {what}")]
    Missing {
        name: &'static str,
        what: &'static str,
    },
    #[error("the environment variable {name}={value:?} is refused: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// A `main` that returns this error prints its `Debug`: the sentence, as in the logs.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `name`'s value; `Missing` (saying what it is for) when unset or empty.
pub fn required(name: &'static str, what: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing { name, what })
}

/// `name`'s value, when set and not empty.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `name` parsed, or `default` when unset.
pub fn parsed<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

/// What every function needs: where the data is, the catalog, the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// `TOLLGATE_BUCKET`: the data bucket (uploads, versions, quarantine, models, reports).
    pub bucket: String,
    /// `TOLLGATE_TABLE`: the DynamoDB table of the catalog.
    pub table: String,
    /// `TOLLGATE_EVENT_BUS`: the EventBridge bus Tollgate's events go to.
    pub bus: String,
    /// `TOLLGATE_WORK_DIR`: where temporary files go (default `/tmp`, Lambda's writable disk).
    pub work_dir: PathBuf,
    /// `TOLLGATE_KMS_KEY`: the KMS key objects are encrypted with; SSE-S3 when unset.
    pub kms_key: Option<String>,
}

impl Common {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: required("TOLLGATE_BUCKET", "the data bucket's name")?,
            table: required("TOLLGATE_TABLE", "the catalog's DynamoDB table")?,
            bus: required("TOLLGATE_EVENT_BUS", "the EventBridge bus events go to")?,
            work_dir: optional("TOLLGATE_WORK_DIR")
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            kms_key: optional("TOLLGATE_KMS_KEY"),
        })
    }

    /// The ports every function works through, on this stack's bucket (S3), table
    /// (DynamoDB) and bus (EventBridge): the clients built once.
    pub fn ports(&self, aws: &AwsConfig) -> Result<Ports, ConfigError> {
        let encryption = self
            .kms_key
            .clone()
            .map_or(Encryption::S3Managed, Encryption::Kms);
        Ok(Ports {
            blobs: Arc::new(S3BlobStore::new(aws, &self.work_dir).with_encryption(encryption)),
            catalog: Arc::new(DynamoCatalog::new(aws, &self.table)),
            bus: Arc::new(EventBridgeBus::new(aws, &self.bus)),
            clock: Arc::new(SystemClock),
            data_bucket: self.data_bucket()?,
        })
    }

    /// The data bucket as the domain's name.
    pub fn data_bucket(&self) -> Result<tollgate_domain::BucketName, ConfigError> {
        tollgate_domain::BucketName::parse(&self.bucket).map_err(|e| ConfigError::Invalid {
            name: "TOLLGATE_BUCKET",
            value: self.bucket.clone(),
            reason: e.to_string(),
        })
    }
}
