//! The deploy function: brings each model's production version into service on its SageMaker
//! endpoint ([`Deploy`]), blue/green. EventBridge rules hand it `ModelStageChanged` from
//! Tollgate's bus (an approval or a rollback changed production) and SageMaker's "SageMaker
//! Endpoint State Change" for this deployment's endpoints (a deployment settled, failed or was
//! rolled back by an alarm). Each event is one step; nothing waits.
//!
//! # Environment
//!
//! `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`, `TOLLGATE_EVENT_BUS` as every function (see
//! `tollgate-lambda`), and:
//!
//! | variable | |
//! | --- | --- |
//! | `TOLLGATE_SAGEMAKER_ROLE_ARN` | the role endpoints run as: pulls the image, reads the model, writes the capture (required) |
//! | `TOLLGATE_KMS_KEY` | a KMS key for captured data and the instances' volumes (default: AWS-managed) |
//! | `TOLLGATE_JOB_PREFIX` | put before every endpoint, config and model name (the stack's prefix) |

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use tollgate_aws::{AwsConfig, HostingSettings, SageMakerHosting};
use tollgate_deploy::{Deploy, DeployError, Outcome};
use tollgate_lambda::{Common, ConfigError, Error, Incoming, LambdaEvent, answer, env, incoming};

#[derive(Debug, Clone)]
pub struct Function {
    deploy: Deploy,
}

/// The hosting settings of a stack, from the environment.
pub fn hosting_settings(common: &Common) -> Result<HostingSettings, ConfigError> {
    Ok(HostingSettings {
        role_arn: env::required(
            "TOLLGATE_SAGEMAKER_ROLE_ARN",
            "the IAM role SageMaker endpoints run as",
        )?,
        prefix: env::optional("TOLLGATE_JOB_PREFIX").unwrap_or_default(),
        data_bucket: common.bucket.clone(),
        kms_key: common.kms_key.clone(),
    })
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let common = Common::from_env()?;
        let settings = hosting_settings(&common)?;
        let aws = tollgate_aws::sdk_config(None).await;
        Self::new(&aws, &common, settings)
    }

    pub fn new(
        aws: &AwsConfig,
        common: &Common,
        settings: HostingSettings,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            deploy: Deploy::new(
                &common.ports(aws)?,
                Arc::new(SageMakerHosting::new(aws, settings)),
            ),
        })
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, Error> {
        match incoming(event.payload)? {
            Incoming::Event(event) => {
                let what = event.dedup_key();
                let result = self
                    .deploy
                    .handle(&event)
                    .await
                    .map(|o| o.map_or_else(|| serde_json::json!({ "ignored": what }), summary));
                answer(&what, result, DeployError::is_retryable)
            }
            Incoming::EndpointChanged { endpoint } => {
                let result = self.deploy.endpoint_changed(&endpoint).await.map(summary);
                answer(&endpoint, result, DeployError::is_retryable)
            }
            Incoming::Scheduled { .. } | Incoming::Ignored { .. } => {
                Ok(serde_json::json!({ "ignored": "not a change of production or of an endpoint" }))
            }
        }
    }
}

/// The answer: what the step did.
fn summary(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Started(d) | Outcome::InService(d) | Outcome::Failed(d) => serde_json::json!({
            "model": d.model, "version": d.version, "endpoint": d.endpoint,
            "status": d.status.as_str(), "reason": d.reason,
        }),
        Outcome::Waiting(why) => serde_json::json!({ "waiting": why }),
        Outcome::Nothing(why) => serde_json::json!({ "nothing": why }),
    }
}
