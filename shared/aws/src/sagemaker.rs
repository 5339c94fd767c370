//! TrainingBackend on SageMaker, and the optional mirror of promotions into the SageMaker Model
//! Registry.
//!
//! A trial becomes one `CreateTrainingJob` built from the pipeline's `[backend]`: the image, the
//! instance type (GPU types included) and count, managed spot with its max wait, the max runtime,
//! a checkpoint folder per job, the hyperparameters as strings, the frozen split's files as
//! channels, the output path, and one metric definition per metric the trainer prints
//! (`validation:accuracy=0.75;`). Its end is not polled: SageMaker sends "SageMaker Training Job
//! State Change" to EventBridge, whose `detail` is the [`JobStateChange`] the local backend emits
//! too, and a rule hands it to the tune function.
//!
//! SageMaker's job names are one namespace per account and region, and every state change goes
//! to the account's default bus: a deployment's jobs carry its [`TrainingSettings::job_prefix`],
//! and [`SageMakerBackend::claim`] keeps the events of its own jobs only (their names given back
//! without the prefix, as the runs know them).
//!
//! [`JobStateChange`]: tollgate_domain::JobStateChange

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, Channel, CheckpointConfig, DataSource, InferenceSpecification,
    MetricDefinition, ModelApprovalStatus, ModelPackageContainerDefinition, OutputDataConfig,
    ResourceConfig, S3DataDistribution, S3DataSource, S3DataType, StoppingCondition, Tag,
    TrainingInputMode, TrainingInstanceType, TrainingJobStatus,
};
use tollgate_domain::pipeline::BackendKind;
use tollgate_domain::ports::{ModelRegistry, TrainingBackend};
use tollgate_domain::{
    JobStateChange, JobStatus, ModelStage, ModelVersion, PortError, Run, TrainingJob,
};

use crate::AwsConfig;
use crate::error::{code, port_error};

/// What every training job of a deployment shares: set once per stack, not per pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSettings {
    /// The role SageMaker assumes to read the channels and write the outputs.
    pub role_arn: String,
    /// KMS key for the job's outputs and volumes; S3-managed keys when `None`.
    pub kms_key: Option<String>,
    /// The volume of each instance when the pipeline names none.
    pub default_volume_gb: u32,
    /// Put before every job name, so two deployments in one account (dev and prod, say) never
    /// take one another's jobs: at most [`MAX_JOB_PREFIX`] characters of `a-z A-Z 0-9 -`.
    pub job_prefix: String,
}

/// Room a job name leaves: SageMaker allows 63 characters, and a run's job names take 54.
pub const MAX_JOB_PREFIX: usize = 9;

impl TrainingSettings {
    /// Checks the job prefix.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.job_prefix;
        if p.len() > MAX_JOB_PREFIX || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!(
                "job prefix {p:?}: at most {MAX_JOB_PREFIX} of a-z, A-Z, 0-9 and -"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SageMakerBackend {
    client: Client,
    settings: TrainingSettings,
}

impl SageMakerBackend {
    pub fn new(config: &AwsConfig, settings: TrainingSettings) -> Self {
        Self {
            client: Client::new(&config.sdk),
            settings,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The name of `job` in SageMaker.
    pub fn sagemaker_name(&self, job: &str) -> String {
        format!("{}{job}", self.settings.job_prefix)
    }

    /// A state change of one of this deployment's jobs, named as its run knows it; `None` for
    /// another deployment's (or anyone's) job.
    pub fn claim(&self, mut change: JobStateChange) -> Option<JobStateChange> {
        let name = change
            .training_job_name
            .strip_prefix(&self.settings.job_prefix)?
            .to_owned();
        Run::id_of_job(&name)?;
        change.training_job_name = name;
        Some(change)
    }
}

/// The regex a SageMaker metric definition finds `name`'s value with, in the lines the trainer
/// prints (`validation:accuracy=0.812500;`).
pub fn metric_regex(name: &str) -> String {
    let mut escaped = String::new();
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() && !matches!(c, ':' | '_' | '-') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("{escaped}=(-?[0-9.eE+-]+);")
}

/// The content type of a channel's file, from its extension.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".parquet") {
        "application/x-parquet"
    } else if key.ends_with(".jsonl") {
        "application/jsonlines"
    } else {
        "text/csv"
    }
}

fn status(s: &TrainingJobStatus) -> Result<JobStatus, PortError> {
    Ok(match s {
        TrainingJobStatus::InProgress => JobStatus::InProgress,
        TrainingJobStatus::Completed => JobStatus::Completed,
        TrainingJobStatus::Failed => JobStatus::Failed,
        TrainingJobStatus::Stopping => JobStatus::Stopping,
        TrainingJobStatus::Stopped => JobStatus::Stopped,
        other => {
            return Err(PortError::Invalid(format!(
                "SageMaker reports an unknown training job status {other:?}"
            )));
        }
    })
}

/// SageMaker says "not found" with a ValidationException ("Requested resource not found", "Could
/// not find training job"), or a ResourceNotFound.
pub(crate) fn not_found(err: &PortError) -> bool {
    let PortError::Other { context, .. } = err else {
        return matches!(err, PortError::NotFound(_));
    };
    let context = context.to_lowercase();
    [
        "not found",
        "could not find",
        "does not exist",
        "resourcenotfound",
    ]
    .iter()
    .any(|m| context.contains(m))
}

impl SageMakerBackend {
    /// The CreateTrainingJob request for `job`.
    pub fn request(
        &self,
        job: &TrainingJob,
    ) -> Result<
        aws_sdk_sagemaker::operation::create_training_job::builders::CreateTrainingJobFluentBuilder,
        PortError,
    > {
        let backend = &job.backend;
        if backend.kind != BackendKind::Sagemaker {
            return Err(PortError::Invalid(format!(
                "job {}: its pipeline trains on the local backend, which does not run on AWS; set \
                 [backend] kind = \"sagemaker\" with an image and an instance_type",
                job.name
            )));
        }
        let image = backend.image.as_deref().ok_or_else(|| {
            PortError::Invalid(format!("job {}: [backend] names no image", job.name))
        })?;
        let name = self.sagemaker_name(&job.name);
        if name.len() > 63 {
            return Err(PortError::Invalid(format!(
                "training job name {name:?} is over SageMaker's 63 characters"
            )));
        }
        let runtime = job.max_runtime.as_secs().clamp(1, i32::MAX as u64) as i32;
        let mut stopping = StoppingCondition::builder().max_runtime_in_seconds(runtime);
        if backend.spot {
            // SageMaker wants the wait to cover the runtime: capacity wait plus training.
            let wait = backend
                .max_wait
                .map_or(runtime as u64, |w| w.seconds())
                .max(runtime as u64)
                .min(i32::MAX as u64) as i32;
            stopping = stopping.max_wait_time_in_seconds(wait);
        }
        let mut request = self
            .client
            .create_training_job()
            .training_job_name(&name)
            .role_arn(&self.settings.role_arn)
            .set_hyper_parameters(Some(
                job.hyperparameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            ))
            .algorithm_specification(
                AlgorithmSpecification::builder()
                    .training_image(image)
                    .training_input_mode(TrainingInputMode::File)
                    .set_metric_definitions(Some(
                        job.metric_names
                            .iter()
                            .map(|name| {
                                MetricDefinition::builder()
                                    .name(name)
                                    .regex(metric_regex(name))
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            )
            .output_data_config(
                OutputDataConfig::builder()
                    .s3_output_path(format!(
                        "s3://{}/{}",
                        job.output_bucket,
                        job.output_prefix.trim_end_matches('/')
                    ))
                    .set_kms_key_id(self.settings.kms_key.clone())
                    .build(),
            )
            .resource_config(
                ResourceConfig::builder()
                    .instance_type(TrainingInstanceType::from(backend.instance_type.as_str()))
                    .instance_count(backend.instance_count.max(1) as i32)
                    .volume_size_in_gb(
                        backend
                            .volume_size_gb
                            .unwrap_or(self.settings.default_volume_gb)
                            .max(1) as i32,
                    )
                    .set_volume_kms_key_id(self.settings.kms_key.clone())
                    .build(),
            )
            .stopping_condition(stopping.build())
            .enable_managed_spot_training(backend.spot)
            .tags(Tag::builder().key("tollgate:job").value(&job.name).build());
        if let Some(run) = Run::id_of_job(&job.name) {
            request = request.tags(Tag::builder().key("tollgate:run").value(run).build());
        }
        for (channel, object) in &job.channels {
            request = request.input_data_config(
                Channel::builder()
                    .channel_name(channel)
                    .content_type(content_type(object.key.as_str()))
                    .input_mode(TrainingInputMode::File)
                    .data_source(
                        DataSource::builder()
                            .s3_data_source(
                                S3DataSource::builder()
                                    .s3_data_type(S3DataType::S3Prefix)
                                    .s3_uri(format!("s3://{}/{}", object.bucket, object.key))
                                    .s3_data_distribution_type(S3DataDistribution::FullyReplicated)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(checkpoints) = &backend.checkpoint_s3 {
            // One folder per job: trials must not resume from one another's checkpoints.
            request = request.checkpoint_config(
                CheckpointConfig::builder()
                    .s3_uri(format!("{}/{name}", checkpoints.trim_end_matches('/')))
                    .build(),
            );
        }
        Ok(request)
    }
}

#[async_trait]
impl TrainingBackend for SageMakerBackend {
    async fn start(&self, job: &TrainingJob) -> Result<bool, PortError> {
        let request = self.request(job)?;
        // A retried start finds its job: SageMaker refuses a second job of one name anyway, but
        // not every stand-in does.
        match self.describe(&job.name).await {
            Ok(_) => return Ok(false),
            Err(PortError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let duplicate = code(&e) == Some("ResourceInUse")
                    || e.as_service_error()
                        .and_then(|s| {
                            aws_smithy_types::error::metadata::ProvideErrorMetadata::message(s)
                        })
                        .is_some_and(|m| {
                            m.contains("must be unique") || m.contains("already exists")
                        });
                if duplicate {
                    Ok(false)
                } else if code(&e) == Some("ResourceLimitExceeded") {
                    // A quota of instances: the same start may succeed once other jobs end.
                    Err(PortError::unavailable(
                        format!("starting training job {}: instance quota reached", job.name),
                        e,
                    ))
                } else {
                    Err(port_error(format!("starting training job {}", job.name), e))
                }
            }
        }
    }

    async fn describe(&self, job: &str) -> Result<JobStatus, PortError> {
        let name = self.sagemaker_name(job);
        let out = self
            .client
            .describe_training_job()
            .training_job_name(&name)
            .send()
            .await
            .map_err(|e| port_error(format!("describing training job {name}"), e))
            .map_err(|e| {
                if not_found(&e) {
                    PortError::NotFound(format!("training job {name}"))
                } else {
                    e
                }
            })?;
        status(
            out.training_job_status()
                .ok_or_else(|| PortError::Invalid(format!("training job {name} has no status")))?,
        )
    }

    async fn stop(&self, job: &str) -> Result<(), PortError> {
        let name = self.sagemaker_name(job);
        match self
            .client
            .stop_training_job()
            .training_job_name(&name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = port_error(format!("stopping training job {name}"), e);
                if not_found(&err) {
                    Err(PortError::NotFound(format!("training job {name}")))
                } else {
                    Err(err)
                }
            }
        }
    }
}

/// Mirrors model versions into SageMaker model package groups, one group per model
/// (`<prefix><model>`), one package per version, its approval status following the stage:
/// production is `Approved`, archived and rejected are `Rejected`, the rest
/// `PendingManualApproval`.
#[derive(Debug, Clone)]
pub struct SageMakerRegistry {
    client: Client,
    group_prefix: String,
    /// The inference image a package names; the training image when `None`.
    inference_image: Option<String>,
}

impl SageMakerRegistry {
    pub fn new(config: &AwsConfig, group_prefix: impl Into<String>) -> Self {
        Self {
            client: Client::new(&config.sdk),
            group_prefix: group_prefix.into(),
            inference_image: None,
        }
    }

    pub fn with_inference_image(mut self, image: impl Into<String>) -> Self {
        self.inference_image = Some(image.into());
        self
    }

    /// The group of `model`: SageMaker names allow letters, digits and `-` only.
    pub fn group(&self, model: &str) -> String {
        let name: String = format!("{}{model}", self.group_prefix)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        name.chars().take(63).collect()
    }

    fn description(version: &ModelVersion) -> String {
        format!("Tollgate model {} v{}", version.model, version.version)
    }

    async fn ensure_group(&self, group: &str, model: &str) -> Result<(), PortError> {
        let described = self
            .client
            .describe_model_package_group()
            .model_package_group_name(group)
            .send()
            .await;
        if described.is_ok() {
            return Ok(());
        }
        match self
            .client
            .create_model_package_group()
            .model_package_group_name(group)
            .model_package_group_description(format!("Tollgate model {model}"))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| {
                        aws_smithy_types::error::metadata::ProvideErrorMetadata::message(s)
                    })
                    .is_some_and(|m| m.contains("already exists")) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error(
                format!("creating model package group {group}"),
                e,
            )),
        }
    }

    /// The ARN and approval status of the package mirroring `version`, if there is one.
    async fn find(
        &self,
        group: &str,
        version: &ModelVersion,
    ) -> Result<Option<(String, Option<ModelApprovalStatus>)>, PortError> {
        let wanted = Self::description(version);
        let mut pages = self
            .client
            .list_model_packages()
            .model_package_group_name(group)
            // Without it, only unversioned packages are listed; a group's are versioned.
            .model_package_type(aws_sdk_sagemaker::types::ModelPackageType::Versioned)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| port_error(format!("listing model packages of {group}"), e))?;
            for summary in page.model_package_summary_list() {
                if summary.model_package_description() == Some(wanted.as_str()) {
                    return Ok(summary
                        .model_package_arn()
                        .map(|arn| (arn.to_owned(), summary.model_approval_status().cloned())));
                }
            }
        }
        Ok(None)
    }
}

/// The approval status a stage reads as in the registry.
pub fn approval_status(stage: ModelStage) -> ModelApprovalStatus {
    match stage {
        ModelStage::Production => ModelApprovalStatus::Approved,
        ModelStage::Archived | ModelStage::Rejected => ModelApprovalStatus::Rejected,
        ModelStage::Candidate | ModelStage::Staging => ModelApprovalStatus::PendingManualApproval,
    }
}

#[async_trait]
impl ModelRegistry for SageMakerRegistry {
    async fn mirror(&self, version: &ModelVersion) -> Result<(), PortError> {
        let group = self.group(&version.model);
        self.ensure_group(&group, &version.model).await?;
        let wanted = approval_status(version.stage);
        let note = format!("Tollgate stage {}", version.stage.as_str());
        match self.find(&group, version).await? {
            Some((_, Some(current))) if current == wanted => Ok(()),
            Some((arn, _)) => {
                self.client
                    .update_model_package()
                    .model_package_arn(&arn)
                    .model_approval_status(wanted)
                    .approval_description(note)
                    .send()
                    .await
                    .map_err(|e| port_error(format!("updating model package {arn}"), e))?;
                Ok(())
            }
            None => {
                let image = self
                    .inference_image
                    .clone()
                    .unwrap_or_else(|| version.trainer.clone());
                let metadata = HashMap::from([
                    ("tollgate:model".to_owned(), version.model.clone()),
                    ("tollgate:version".to_owned(), version.version.to_string()),
                    ("tollgate:run".to_owned(), version.run_id.clone()),
                    (
                        "tollgate:dataset".to_owned(),
                        format!("{} v{}", version.dataset, version.dataset_version),
                    ),
                    (
                        "tollgate:content_hash".to_owned(),
                        version.content_hash.to_string(),
                    ),
                ]);
                self.client
                    .create_model_package()
                    .model_package_group_name(&group)
                    .model_package_description(Self::description(version))
                    .model_approval_status(wanted)
                    .set_customer_metadata_properties(Some(metadata))
                    .inference_specification(
                        InferenceSpecification::builder()
                            .containers(
                                ModelPackageContainerDefinition::builder()
                                    .image(image)
                                    .model_data_url(&version.artifact)
                                    .build(),
                            )
                            .supported_content_types("text/csv")
                            .supported_response_mime_types("text/csv")
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        port_error(
                            format!(
                                "registering {} v{} in {group}",
                                version.model, version.version
                            ),
                            e,
                        )
                    })?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use tollgate_domain::pipeline::{Backend, Period};
    use tollgate_domain::{BlobKey, BucketName, ObjectRef};

    use super::*;

    fn backend() -> SageMakerBackend {
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("eu-west-1"))
            .build();
        SageMakerBackend::new(
            &AwsConfig {
                sdk,
                endpoint: None,
            },
            TrainingSettings {
                role_arn: "arn:aws:iam::123456789012:role/training".into(),
                kms_key: Some("alias/tollgate".into()),
                default_volume_gb: 30,
                job_prefix: "tg-prod-".into(),
            },
        )
    }

    fn job(backend: Backend) -> TrainingJob {
        let bucket = BucketName::parse("data").unwrap();
        let channel = |name: &str| {
            ObjectRef::new(
                bucket.clone(),
                BlobKey::parse(&format!("datasets/wine/v1/splits/s1/{name}.parquet")).unwrap(),
            )
        };
        TrainingJob {
            name: "wine-gpu-1a2b3c4d-t002".into(),
            hyperparameters: BTreeMap::from([
                ("alpha".into(), "0.01".into()),
                ("target".into(), "quality".into()),
            ]),
            channels: ["train", "validation", "test"]
                .into_iter()
                .map(|c| (c.to_owned(), channel(c)))
                .collect(),
            output_bucket: bucket,
            output_prefix: "runs/wine-gpu-1a2b3c4d/".into(),
            backend,
            max_runtime: Duration::from_secs(1800),
            metric_names: vec!["validation:accuracy".into(), "test:log_loss".into()],
        }
    }

    fn gpu_spot() -> Backend {
        Backend {
            kind: BackendKind::Sagemaker,
            image: Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:1".into()),
            instance_type: "ml.g5.2xlarge".into(),
            instance_count: 2,
            spot: true,
            max_wait: Some(Period(Duration::from_secs(7200))),
            checkpoint_s3: Some("s3://data/checkpoints/".into()),
            volume_size_gb: None,
            ..Backend::default()
        }
    }

    #[test]
    fn a_trial_becomes_a_create_training_job_request_from_the_pipelines_backend() {
        let request = backend().request(&job(gpu_spot())).unwrap();
        let input = request.as_input();
        assert_eq!(
            input.get_training_job_name().as_deref(),
            Some("tg-prod-wine-gpu-1a2b3c4d-t002"),
            "the deployment's prefix keeps its jobs apart"
        );
        assert_eq!(
            input.get_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/training")
        );
        let hyper = input.get_hyper_parameters().as_ref().unwrap();
        assert_eq!(hyper["alpha"], "0.01", "hyperparameters go as strings");
        let algorithm = input.get_algorithm_specification().as_ref().unwrap();
        assert_eq!(
            algorithm.training_image(),
            Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:1")
        );
        let definitions: Vec<(&str, &str)> = algorithm
            .metric_definitions()
            .iter()
            .map(|m| (m.name().unwrap(), m.regex().unwrap()))
            .collect();
        assert_eq!(
            definitions,
            [
                (
                    "validation:accuracy",
                    "validation:accuracy=(-?[0-9.eE+-]+);"
                ),
                ("test:log_loss", "test:log_loss=(-?[0-9.eE+-]+);"),
            ]
        );
        let resources = input.get_resource_config().as_ref().unwrap();
        assert_eq!(resources.instance_type().unwrap().as_str(), "ml.g5.2xlarge");
        assert_eq!(resources.instance_count(), Some(2));
        assert_eq!(resources.volume_size_in_gb(), Some(30));
        assert_eq!(resources.volume_kms_key_id(), Some("alias/tollgate"));
        assert_eq!(input.get_enable_managed_spot_training(), &Some(true));
        let stopping = input.get_stopping_condition().as_ref().unwrap();
        assert_eq!(stopping.max_runtime_in_seconds(), Some(1800));
        assert_eq!(stopping.max_wait_time_in_seconds(), Some(7200));
        assert_eq!(
            input.get_checkpoint_config().as_ref().unwrap().s3_uri(),
            Some("s3://data/checkpoints/tg-prod-wine-gpu-1a2b3c4d-t002")
        );
        let output = input.get_output_data_config().as_ref().unwrap();
        assert_eq!(
            output.s3_output_path(),
            Some("s3://data/runs/wine-gpu-1a2b3c4d")
        );
        assert_eq!(output.kms_key_id(), Some("alias/tollgate"));
        let channels: Vec<(&str, &str)> = input
            .get_input_data_config()
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c.channel_name().unwrap(),
                    c.data_source()
                        .unwrap()
                        .s3_data_source()
                        .unwrap()
                        .s3_uri()
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(
            channels,
            [
                ("test", "s3://data/datasets/wine/v1/splits/s1/test.parquet"),
                (
                    "train",
                    "s3://data/datasets/wine/v1/splits/s1/train.parquet"
                ),
                (
                    "validation",
                    "s3://data/datasets/wine/v1/splits/s1/validation.parquet"
                ),
            ]
        );
        let tags: Vec<(&str, &str)> = input
            .get_tags()
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert!(
            tags.contains(&("tollgate:run", "wine-gpu-1a2b3c4d")),
            "{tags:?}"
        );
    }

    #[test]
    fn spot_waits_at_least_as_long_as_it_may_run_and_on_demand_sets_no_wait() {
        let mut short_wait = gpu_spot();
        short_wait.max_wait = Some(Period(Duration::from_secs(60)));
        let request = backend().request(&job(short_wait)).unwrap();
        let stopping = request.as_input().get_stopping_condition().clone().unwrap();
        assert_eq!(stopping.max_wait_time_in_seconds(), Some(1800));

        let on_demand = Backend {
            spot: false,
            checkpoint_s3: None,
            ..gpu_spot()
        };
        let request = backend().request(&job(on_demand)).unwrap();
        let input = request.as_input();
        assert_eq!(
            input
                .get_stopping_condition()
                .as_ref()
                .unwrap()
                .max_wait_time_in_seconds(),
            None
        );
        assert!(input.get_checkpoint_config().is_none());
    }

    #[test]
    fn only_the_deployments_own_jobs_are_claimed_named_as_their_runs_know_them() {
        let change = |name: &str| JobStateChange {
            training_job_name: name.into(),
            training_job_status: JobStatus::Completed,
            failure_reason: None,
            model_artifacts: None,
            final_metric_data_list: Vec::new(),
            billable_time_in_seconds: Some(60),
        };
        let backend = backend();
        let ours = backend
            .claim(change("tg-prod-wine-gpu-1a2b3c4d-t002"))
            .unwrap();
        assert_eq!(ours.training_job_name, "wine-gpu-1a2b3c4d-t002");
        assert!(
            backend
                .claim(change("tg-dev-wine-gpu-1a2b3c4d-t002"))
                .is_none()
        );
        assert!(backend.claim(change("someone-elses-job")).is_none());
    }

    #[test]
    fn a_job_prefix_leaves_room_for_the_job_names() {
        let mut settings = backend().settings;
        assert!(settings.check().is_ok());
        settings.job_prefix = "much-too-long-".into();
        assert!(settings.check().is_err());
        settings.job_prefix = "a b".into();
        assert!(settings.check().is_err());
    }

    #[test]
    fn a_local_pipeline_is_refused_on_aws_saying_what_to_change() {
        let err = backend().request(&job(Backend::default())).unwrap_err();
        assert!(err.to_string().contains("kind = \"sagemaker\""), "{err}");
    }

    #[test]
    fn a_metric_regex_matches_the_trainer_line_and_escapes_dots() {
        assert_eq!(
            metric_regex("validation:accuracy"),
            "validation:accuracy=(-?[0-9.eE+-]+);"
        );
        assert_eq!(metric_regex("a.b"), "a\\.b=(-?[0-9.eE+-]+);");
    }

    #[test]
    fn stages_read_as_approval_statuses() {
        assert_eq!(
            approval_status(ModelStage::Production),
            ModelApprovalStatus::Approved
        );
        assert_eq!(
            approval_status(ModelStage::Archived),
            ModelApprovalStatus::Rejected
        );
        assert_eq!(
            approval_status(ModelStage::Staging),
            ModelApprovalStatus::PendingManualApproval
        );
    }
}
