//! The tune function: each event is one bounded step of a tuning run ([`Tune`]). EventBridge
//! rules hand it `DatasetVersionAccepted` (a version starts the runs of the pipelines listening
//! to its dataset), `RunRequested`, SageMaker's "SageMaker Training Job State Change" (a trial's
//! end), and a schedule's event for scheduled retraining: `{"due": "pipelines"}` as its detail
//! (the stack's schedule: every pipeline whose `[schedule]` owes a firing starts its run) or
//! `{"pipeline": NAME}` (that pipeline's run).
//! Trials run as SageMaker training jobs ([`SageMakerBackend`]).
//!
//! # Environment
//!
//! `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`, `TOLLGATE_EVENT_BUS`, `TOLLGATE_WORK_DIR` as every
//! function (see `tollgate-lambda`), and:
//!
//! | variable | |
//! | --- | --- |
//! | `TOLLGATE_SAGEMAKER_ROLE_ARN` | the role training jobs run as (required) |
//! | `TOLLGATE_KMS_KEY` | a KMS key for objects, job outputs and volumes (default: AWS-managed) |
//! | `TOLLGATE_TRAINING_VOLUME_GB` | each instance's volume when a pipeline names none (default 30) |
//! | `TOLLGATE_JOB_PREFIX` | put before every training job's name: one per deployment in an account (at most 9 characters; default none) |

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use tollgate_aws::{AwsConfig, SageMakerBackend, TrainingSettings};
use tollgate_domain::Event;
use tollgate_lambda::{Common, ConfigError, Error, Incoming, LambdaEvent, answer, env, incoming};
use tollgate_tune::{Tune, TuneConfig, TuneError};

/// The settings of training on SageMaker, shared by the tune and monitor functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub common: Common,
    pub training: TrainingSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let common = Common::from_env()?;
        Ok(Self {
            training: TrainingSettings {
                role_arn: env::required(
                    "TOLLGATE_SAGEMAKER_ROLE_ARN",
                    "the IAM role SageMaker training jobs run as",
                )?,
                kms_key: common.kms_key.clone(),
                default_volume_gb: env::parsed("TOLLGATE_TRAINING_VOLUME_GB", 30)?,
                job_prefix: env::optional("TOLLGATE_JOB_PREFIX").unwrap_or_default(),
            },
            common,
        })
        .and_then(|s: Self| {
            s.training
                .check()
                .map_err(|reason| ConfigError::Invalid {
                    name: "TOLLGATE_JOB_PREFIX",
                    value: s.training.job_prefix.clone(),
                    reason,
                })
                .map(|()| s)
        })
    }

    /// The training backend: SageMaker, with this deployment's job prefix.
    pub fn backend(&self, aws: &AwsConfig) -> SageMakerBackend {
        SageMakerBackend::new(aws, self.training.clone())
    }

    /// The tune handler on S3, DynamoDB, EventBridge and SageMaker.
    pub fn tune(&self, aws: &AwsConfig) -> Result<Tune, ConfigError> {
        let common = &self.common;
        Ok(Tune::new(
            &common.ports(aws)?,
            Arc::new(self.backend(aws)),
            TuneConfig {
                work_dir: common.work_dir.clone(),
                // Lineage names the image a SageMaker job ran; this is for the local backend.
                trainer: "sagemaker".to_owned(),
            },
        ))
    }
}

#[derive(Debug, Clone)]
pub struct Function {
    tune: Tune,
    /// The SageMaker backend whose jobs this deployment claims; none when trials run elsewhere.
    backend: Option<SageMakerBackend>,
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = tollgate_aws::sdk_config(None).await;
        Self::new(&aws, &settings)
    }

    pub fn new(aws: &AwsConfig, settings: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            tune: settings.tune(aws)?,
            backend: Some(settings.backend(aws)),
        })
    }

    /// The function on `tune` as built elsewhere, on another training backend (the relay's
    /// local trainer, `tollgate-relay`): every job change that reaches it is its own.
    pub fn on(tune: Tune) -> Self {
        Self {
            tune,
            backend: None,
        }
    }

    /// Every pipeline whose `[schedule]` owes a firing at `at` (the schedule's time): each
    /// starts its run, once per firing however often it is asked. A pipeline that cannot start
    /// (no accepted version yet) is answered in the result, and does not hold up the others; a
    /// failure worth retrying fails the whole event, so that it comes again.
    async fn due_pipelines(&self, at: jiff::Timestamp) -> Result<serde_json::Value, TuneError> {
        let mut started = Vec::new();
        let mut refused = Vec::new();
        for (pipeline, firing) in self.tune.due_firings(at).await? {
            match self.tune.scheduled(&pipeline, firing).await {
                Ok(run) => started.push(serde_json::json!({
                    "pipeline": pipeline, "firing": firing.to_string(), "run": run.id,
                    "status": run.status.as_str(),
                })),
                Err(e) if !e.is_retryable() => refused.push(serde_json::json!({
                    "pipeline": pipeline, "firing": firing.to_string(), "reason": e.to_string(),
                })),
                Err(e) => return Err(e),
            }
        }
        Ok(serde_json::json!({ "started": started, "refused": refused }))
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, Error> {
        match incoming(event.payload)? {
            Incoming::Event(event) => {
                let event = match *event {
                    // Every job of the account reports on the default bus: only ours count.
                    Event::TrainingJobStateChange(change) => match &self.backend {
                        None => Event::TrainingJobStateChange(change),
                        Some(backend) => match backend.claim(change) {
                            Some(ours) => Event::TrainingJobStateChange(ours),
                            None => {
                                return Ok(
                                    serde_json::json!({ "ignored": "another deployment's job" }),
                                );
                            }
                        },
                    },
                    other => other,
                };
                let what = event.dedup_key();
                let result = self.tune.handle(&event).await.map(|runs| {
                    runs.iter()
                        .map(|r| {
                            serde_json::json!({
                                "run": r.id, "status": r.status.as_str(),
                                "trials": r.trials.len(), "candidate": r.candidate,
                            })
                        })
                        .collect::<Vec<_>>()
                });
                answer(&what, result, TuneError::is_retryable)
            }
            Incoming::Scheduled { at, detail } => {
                let result =
                    match (detail["pipeline"].as_str(), detail["due"].as_str()) {
                        (Some(pipeline), _) => self.tune.scheduled(pipeline, at).await.map(
                            |r| serde_json::json!({ "run": r.id, "status": r.status.as_str() }),
                        ),
                        (None, Some("pipelines")) => self.due_pipelines(at).await,
                        _ => Err(TuneError::Refused(
                            "a schedule's event must name a pipeline ({\"pipeline\": NAME}) or \
                         ask for the pipelines due ({\"due\": \"pipelines\"}) as its detail"
                                .into(),
                        )),
                    };
                answer("schedule", result, TuneError::is_retryable)
            }
            Incoming::EndpointChanged { endpoint } => {
                Ok(serde_json::json!({ "ignored": format!("endpoint {endpoint}") }))
            }
            Incoming::Ignored {
                source,
                detail_type,
            } => {
                tracing::info!(source, detail_type, "not an event of the tune function");
                Ok(serde_json::json!({ "ignored": detail_type }))
            }
        }
    }
}
