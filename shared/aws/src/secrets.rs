//! A secret's value from Secrets Manager, read once when a function starts: the notify
//! function's webhook (its URL, which for Slack and Teams is itself a secret, and the signing
//! key), kept out of the function's configuration, where anyone who may read the function's
//! settings would see it.

use aws_sdk_secretsmanager::Client;
use tollgate_domain::PortError;

use crate::AwsConfig;
use crate::error::port_error;

#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: Client,
    id: String,
}

impl SecretsManagerSecret {
    /// The secret whose ARN (or name) is `id`.
    pub fn new(config: &AwsConfig, id: impl Into<String>) -> Self {
        Self {
            client: Client::new(&config.sdk),
            id: id.into(),
        }
    }

    /// Its current value, as text.
    pub async fn read(&self) -> Result<String, PortError> {
        let what = format!("reading the secret {}", self.id);
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.id)
            .send()
            .await
            .map_err(|e| port_error(&what, e))?;
        out.secret_string()
            .map(str::to_owned)
            .ok_or_else(|| PortError::Invalid(format!("{what}: it holds binary data, not text")))
    }
}
