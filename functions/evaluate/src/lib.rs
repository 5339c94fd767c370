//! The evaluate function: on `ModelCandidateRegistered` it runs the candidate's model tests
//! against the model in production ([`Evaluate`]), records the verdict, publishes `ModelTested`
//! and stages a passing candidate when the pipeline's policy says so. A model trained on
//! SageMaker is read from its `model.tar.gz`.
//!
//! # Environment
//!
//! `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`, `TOLLGATE_EVENT_BUS`, `TOLLGATE_WORK_DIR` (see
//! `tollgate-lambda`), and `TOLLGATE_KMS_KEY` for the reports written (default: SSE-S3).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use tollgate_aws::AwsConfig;
use tollgate_evaluate::{Evaluate, EvaluateError};
use tollgate_lambda::{Common, ConfigError, Error, Incoming, LambdaEvent, answer, incoming};

#[derive(Debug, Clone)]
pub struct Function {
    evaluate: Evaluate,
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let common = Common::from_env()?;
        let aws = tollgate_aws::sdk_config(None).await;
        Self::new(&aws, &common)
    }

    pub fn new(aws: &AwsConfig, common: &Common) -> Result<Self, ConfigError> {
        Ok(Self {
            evaluate: Evaluate::new(&common.ports(aws)?),
        })
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, Error> {
        match incoming(event.payload)? {
            Incoming::Event(event) => {
                let what = event.dedup_key();
                let result = self.evaluate.handle(&event).await.map(|tested| {
                    tested.map(|v| {
                        serde_json::json!({
                            "model": v.model, "version": v.version,
                            "stage": v.stage.as_str(), "test": v.test,
                        })
                    })
                });
                answer(&what, result, EvaluateError::is_retryable)
            }
            Incoming::Scheduled { .. }
            | Incoming::EndpointChanged { .. }
            | Incoming::Ignored { .. } => Ok(serde_json::json!({ "ignored": "not a candidate" })),
        }
    }
}
