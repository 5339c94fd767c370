//! The notify function: an event people act on (a version waiting for approval, promoted,
//! rolled back or rejected; failed model tests; a failed run; drift; a rejected upload; a failed
//! deployment), delivered by the stack's rule, becomes a message to the webhook
//! ([`tollgate_notify`]): the JSON Slack's and Teams' incoming webhooks take, signed with
//! HMAC-SHA256 when a secret is set, tried [`tollgate_notify::ATTEMPTS`] times with backoff.
//!
//! A message that still does not get through is logged and written to the audit trail
//! (`notification.failed`), and the invocation succeeds: a dead receiver never stops the
//! pipeline, and EventBridge does not send the event again to be refused again. Only a failure
//! to write that record is returned, for EventBridge's retry. (A duplicate delivery of an event
//! may be told twice: the receiver sees the same subject and text.)
//!
//! # Environment
//!
//! `TOLLGATE_TABLE` (the audit trail); `TOLLGATE_WEBHOOK_SECRET_ARN`, the Secrets Manager secret
//! holding `{"url": "https://…", "secret": "…"}` (read once at start; the signing secret is
//! optional), or else `TOLLGATE_WEBHOOK_URL` and optionally `TOLLGATE_WEBHOOK_SECRET`; and
//! `TOLLGATE_CONSOLE_URL`, the console the messages link to.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};
use tollgate_aws::{AwsConfig, DynamoCatalog, SecretsManagerSecret};
use tollgate_domain::ports::Catalog;
use tollgate_lambda::env::{optional, required};
use tollgate_lambda::{ConfigError, Error, Incoming, LambdaEvent, incoming};
use tollgate_notify::{Webhook, of_event};

#[derive(Debug, Clone)]
pub struct Function {
    webhook: Webhook,
    console: Option<String>,
    catalog: DynamoCatalog,
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let aws = tollgate_aws::sdk_config(None).await;
        let table = required("TOLLGATE_TABLE", "the catalog's DynamoDB table")?;
        let webhook = match optional("TOLLGATE_WEBHOOK_SECRET_ARN") {
            Some(arn) => {
                let invalid = |reason: String| ConfigError::Invalid {
                    name: "TOLLGATE_WEBHOOK_SECRET_ARN",
                    value: arn.clone(),
                    reason,
                };
                let value = SecretsManagerSecret::new(&aws, &arn)
                    .read()
                    .await
                    .map_err(|e| invalid(e.to_string()))?;
                Webhook::from_secret(&value).map_err(|e| invalid(e.to_string()))?
            }
            None => Webhook::from_env()
                .map_err(|e| ConfigError::Invalid {
                    name: "TOLLGATE_WEBHOOK_URL",
                    value: optional("TOLLGATE_WEBHOOK_URL").unwrap_or_default(),
                    reason: e.to_string(),
                })?
                .ok_or(ConfigError::Missing {
                    name: "TOLLGATE_WEBHOOK_SECRET_ARN",
                    what: "the Secrets Manager secret that holds the webhook (or set \
                           TOLLGATE_WEBHOOK_URL)",
                })?,
        };
        Ok(Self::new(
            &aws,
            &table,
            webhook,
            optional("TOLLGATE_CONSOLE_URL"),
        ))
    }

    pub fn new(aws: &AwsConfig, table: &str, webhook: Webhook, console: Option<String>) -> Self {
        Self {
            webhook,
            console,
            catalog: DynamoCatalog::new(aws, table),
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, Error> {
        let Incoming::Event(event) = incoming(event.payload)? else {
            return Ok(json!({ "ignored": "not a Tollgate event" }));
        };
        let Some(message) = of_event(&event, self.console.as_deref()) else {
            return Ok(json!({ "ignored": format!("nobody acts on {}", event.detail_type()) }));
        };
        match self.webhook.deliver(&message).await {
            Ok(tries) => {
                tracing::info!(
                    kind = message.kind,
                    subject = message.subject,
                    tries,
                    "sent"
                );
                Ok(json!({ "sent": message.kind, "subject": message.subject, "tries": tries }))
            }
            Err(reason) => {
                tracing::error!(
                    kind = message.kind,
                    subject = message.subject,
                    to = self.webhook.shown(),
                    "not delivered after {} tries: {reason}",
                    tollgate_notify::ATTEMPTS
                );
                let record = self
                    .webhook
                    .failure(&message, &reason, jiff::Timestamp::now());
                self.catalog.append_audit(record).await?;
                Ok(json!({ "failed": message.kind, "subject": message.subject, "reason": reason }))
            }
        }
    }
}
