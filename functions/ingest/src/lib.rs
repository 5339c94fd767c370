//! The ingest function: the data gate on AWS. S3 sends the `ObjectCreated` notifications of
//! `incoming/<dataset>/` to an SQS queue (with a dead-letter queue), which hands them to this
//! function in batches; each upload goes through the same [`Ingest`] handler as `tollgate upload`.
//! A direct S3 notification (or a replayed one, `tollgate event s3-put`) works too. On a
//! schedule (an EventBridge `Scheduled Event`) it sweeps: every upload committed but left
//! unfinished by a crash, and older than [`SWEEP_AFTER`], is finished as its redelivery would.
//!
//! A message whose upload failed for a reason a retry may cure (throttling, a lost race for the
//! version number) is reported as a batch item failure, so SQS delivers it again; one that can
//! never succeed (a key outside `incoming/<dataset>/`) is logged and dropped. A rejected upload is
//! not a failure: it is quarantined with its report, and its event published.
//!
//! # Environment
//!
//! | variable | |
//! | --- | --- |
//! | `TOLLGATE_BUCKET` | the data bucket (required) |
//! | `TOLLGATE_TABLE` | the catalog's table (required) |
//! | `TOLLGATE_EVENT_BUS` | the EventBridge bus (required) |
//! | `TOLLGATE_KMS_KEY` | a KMS key for the objects written (default: SSE-S3) |
//! | `TOLLGATE_WORK_DIR` | temporary files (default `/tmp`) |
//! | `TOLLGATE_UPLOAD_SIGNER` | the API function's principal, `AWS:<its role's RoleId>:`: a file PUT to an upload URL it made is uploaded by the person the URL was for (unset: the principal that stored it) |
//! | `TOLLGATE_PROCESSING_IMAGE` | the processing image (`infra/processing/Dockerfile`): uploads of `TOLLGATE_PROCESS_ABOVE_BYTES` or more go to a SageMaker Processing job (unset: every upload is read here) |
//! | `TOLLGATE_PROCESSING_ROLE_ARN` | the role processing jobs run as (required with an image) |
//! | `TOLLGATE_PROCESS_ABOVE_BYTES` | the size (all of an upload's files) from which it goes to a job (default 4 GiB: the function's 10 GB of `/tmp` holds the upload and its Parquet copy with room to spare) |
//! | `TOLLGATE_PROCESSING_INSTANCE_TYPE` | default `ml.m5.2xlarge` |
//! | `TOLLGATE_PROCESS_INSTANCES` | the instances a batch's files are shared among (default 4) |
//! | `TOLLGATE_PROCESSING_MAX_SECONDS` | a job's max runtime (default 86400) |
//! | `TOLLGATE_JOB_PREFIX` | put before every job's name, one per deployment in an account |
//! | `TOLLGATE_AWS_ENDPOINT` / `AWS_ENDPOINT_URL` | a stand-in's endpoint (tests only) |
//!
//! A "SageMaker Processing Job State Change" (from the account's default bus) finishes the
//! upload its job read ([`Ingest::processed`]); another deployment's jobs are ignored.

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;
use tollgate_aws::{AwsConfig, ProcessingSettings, SageMakerProcessing};
use tollgate_domain::ProcessingStateChange;
use tollgate_ingest::{Ingest, IngestError, Processing};
use tollgate_lambda::{Common, ConfigError, Error, LambdaEvent, answer, env};

/// How long an unfinished upload is left to the delivery that may still be at work on it (the
/// queue's visibility timeout is shorter).
pub const SWEEP_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Function {
    ingest: Ingest,
    /// Where uploads too big for the function go, when the stack has a processing image.
    processing: Option<SageMakerProcessing>,
}

impl Function {
    /// Reads the settings and builds the clients; fails naming a missing variable.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let common = Common::from_env()?;
        let aws = tollgate_aws::sdk_config(None).await;
        let mut function = Self::new(&aws, &common)?;
        if let Some(image) = env::optional("TOLLGATE_PROCESSING_IMAGE") {
            let settings = ProcessingSettings {
                role_arn: env::required(
                    "TOLLGATE_PROCESSING_ROLE_ARN",
                    "the IAM role SageMaker processing jobs run as",
                )?,
                image,
                instance_type: env::optional("TOLLGATE_PROCESSING_INSTANCE_TYPE")
                    .unwrap_or_else(|| "ml.m5.2xlarge".to_owned()),
                kms_key: common.kms_key.clone(),
                job_prefix: env::optional("TOLLGATE_JOB_PREFIX").unwrap_or_default(),
            };
            let processing = Processing {
                backend: Arc::new(SageMakerProcessing::new(&aws, settings.clone())),
                above_bytes: env::parsed("TOLLGATE_PROCESS_ABOVE_BYTES", 4u64 << 30)?,
                instances: env::parsed("TOLLGATE_PROCESS_INSTANCES", 4)?,
                max_runtime: std::time::Duration::from_secs(env::parsed(
                    "TOLLGATE_PROCESSING_MAX_SECONDS",
                    86_400,
                )?),
            };
            function =
                function.with_processing(SageMakerProcessing::new(&aws, settings), processing);
        }
        Ok(
            match tollgate_lambda::env::optional("TOLLGATE_UPLOAD_SIGNER") {
                Some(signer) => function.with_upload_signer(signer),
                None => function,
            },
        )
    }

    /// Uploads the principal `signer` stored were PUT to its upload URLs: by the person each
    /// object's metadata names (see [`Ingest::with_upload_signer`]).
    pub fn with_upload_signer(self, signer: impl Into<String>) -> Self {
        Self {
            ingest: self.ingest.with_upload_signer(signer),
            ..self
        }
    }

    /// Hands uploads of `processing.above_bytes` or more to SageMaker Processing jobs, and
    /// finishes them on the state changes `jobs` claims.
    pub fn with_processing(self, jobs: SageMakerProcessing, processing: Processing) -> Self {
        Self {
            ingest: self.ingest.with_processing(processing),
            processing: Some(jobs),
        }
    }

    pub fn new(aws: &AwsConfig, common: &Common) -> Result<Self, ConfigError> {
        let ingest = Ingest::new(&common.ports(aws)?, common.work_dir.clone());
        Ok(Self {
            ingest,
            processing: None,
        })
    }

    /// An SQS batch of S3 notifications, or one S3 notification.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        if event.payload["detail-type"] == "Scheduled Event" {
            // The sweep's schedule: finish what crashes left and no delivery came back for.
            return answer(
                "sweep",
                self.ingest
                    .sweep(SWEEP_AFTER)
                    .await
                    .map(|finished| serde_json::json!({ "finished": finished.len() })),
                IngestError::is_retryable,
            );
        }
        if event.payload["detail-type"] == "SageMaker Processing Job State Change" {
            let change: ProcessingStateChange =
                serde_json::from_value(event.payload["detail"].clone())?;
            let Some(ours) = self.processing.as_ref().and_then(|p| p.claim(change)) else {
                return Ok(serde_json::json!({ "ignored": "another deployment's job" }));
            };
            return answer(
                "processing job state change",
                self.ingest.processed(&ours).await.map(|outcomes| {
                    outcomes
                        .iter()
                        .map(|o| {
                            serde_json::json!({
                                "upload": o.record.upload_key,
                                "status": o.record.status,
                                "version": o.record.version,
                            })
                        })
                        .collect::<Vec<_>>()
                }),
                IngestError::is_retryable,
            );
        }
        let source = event.payload["Records"][0]["eventSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match source.as_str() {
            "aws:sqs" => {
                let batch: SqsEvent = serde_json::from_value(event.payload)?;
                Ok(serde_json::to_value(self.batch(batch).await)?)
            }
            "aws:s3" => {
                let notification: S3Event = serde_json::from_value(event.payload)?;
                answer(
                    "s3 notification",
                    self.ingest.handle(&notification).await,
                    IngestError::is_retryable,
                )
            }
            _ => answer(
                "unknown event",
                Err::<(), _>(IngestError::BadEvent(
                    "neither an SQS batch nor an S3 notification".into(),
                )),
                IngestError::is_retryable,
            ),
        }
    }

    /// Ingests each message's uploads in turn; the messages to deliver again are the batch's
    /// failures.
    pub async fn batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in batch.records {
            let id = message.message_id.clone().unwrap_or_default();
            let body = message.body.unwrap_or_default();
            // S3 sends a test message when the notification is configured.
            if serde_json::from_str::<Value>(&body).is_ok_and(|v| v["Event"] == "s3:TestEvent") {
                continue;
            }
            let result = match serde_json::from_str::<S3Event>(&body) {
                Ok(notification) => self.ingest.handle(&notification).await,
                Err(e) => Err(IngestError::BadEvent(format!(
                    "message {id} is not an S3 notification: {e}"
                ))),
            };
            match result {
                Ok(outcomes) => {
                    for outcome in outcomes {
                        tracing::info!(
                            message = id,
                            upload = outcome.record.upload_key,
                            status = %outcome.record.status,
                            version = outcome.record.version,
                            "ingested"
                        );
                    }
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(message = id, error = %e, "failed; SQS will deliver it again");
                    response.add_failure(id);
                }
                Err(e) => tracing::error!(message = id, error = %e, "refused; not retried"),
            }
        }
        response
    }
}
