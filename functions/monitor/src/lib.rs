//! The monitor function: on its schedule (an EventBridge rule), the drift of every production
//! model's captured traffic against its training split ([`Monitor`]); past a pipeline's
//! thresholds it starts one retraining run per cooldown, on SageMaker like any run. A schedule
//! may name one model (`{"model": NAME}` as its detail); a rule's `{}` checks them all.
//!
//! # Environment
//!
//! The tune function's (it starts the retraining runs): `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`,
//! `TOLLGATE_EVENT_BUS`, `TOLLGATE_SAGEMAKER_ROLE_ARN`, and optionally `TOLLGATE_KMS_KEY`,
//! `TOLLGATE_TRAINING_VOLUME_GB`, `TOLLGATE_WORK_DIR`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use tollgate_aws::AwsConfig;
use tollgate_fn_tune::Settings;
use tollgate_lambda::{ConfigError, Error, Incoming, LambdaEvent, answer, incoming};
use tollgate_monitor::{Monitor, MonitorError};

#[derive(Debug, Clone)]
pub struct Function {
    monitor: Monitor,
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = tollgate_aws::sdk_config(None).await;
        Self::new(&aws, &settings)
    }

    pub fn new(aws: &AwsConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let common = &settings.common;
        Ok(Self {
            monitor: Monitor::new(&common.ports(aws)?, settings.tune(aws)?),
        })
    }

    /// The function on `monitor` as built elsewhere (the relay's, retraining on its local
    /// trainer).
    pub fn on(monitor: Monitor) -> Self {
        Self { monitor }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, Error> {
        match incoming(event.payload)? {
            Incoming::Scheduled { detail, .. } => {
                let result = match detail["model"].as_str() {
                    Some(model) => self.monitor.check(model).await.map(|r| vec![r]),
                    None => self.monitor.check_all().await,
                };
                answer("schedule", result, MonitorError::is_retryable)
            }
            Incoming::Event(_) | Incoming::EndpointChanged { .. } | Incoming::Ignored { .. } => {
                Ok(serde_json::json!({ "ignored": "the monitor runs on its schedule" }))
            }
        }
    }
}
