//! ProcessingBackend on SageMaker Processing: the ingest of an upload too big for its function.
//!
//! A job becomes one `CreateProcessingJob`: the processing image (`process`, the ingest's own
//! code) on `instances` instances of the stack's instance type, each volume sized for its share
//! of the upload; two inputs, the upload's files as a `ManifestFile` shared out object by object
//! (`ShardedByS3Key`) under `/opt/ml/processing/input/data`, and the job's settings given whole
//! to every instance under `/opt/ml/processing/input/settings`; one output, each instance's
//! `/opt/ml/processing/output/<host>/` uploaded at the end to the job's output prefix. Its end
//! is not polled: SageMaker sends "SageMaker Processing Job State Change" to EventBridge, and a
//! rule hands it to the ingest function ([`SageMakerProcessing::claim`] keeps this deployment's
//! jobs only, named as the ingest handler knows them).

use async_trait::async_trait;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::create_processing_job::builders::CreateProcessingJobFluentBuilder;
use aws_sdk_sagemaker::types::{
    AppSpecification, ProcessingClusterConfig, ProcessingInput, ProcessingInstanceType,
    ProcessingJobStatus, ProcessingOutput, ProcessingOutputConfig, ProcessingResources,
    ProcessingS3DataDistributionType, ProcessingS3DataType, ProcessingS3Input,
    ProcessingS3InputMode, ProcessingS3Output, ProcessingS3UploadMode, ProcessingStoppingCondition,
    Tag,
};
use tollgate_domain::ports::ProcessingBackend;
use tollgate_domain::{JobStatus, PortError, ProcessingJob, ProcessingStateChange};

use crate::AwsConfig;
use crate::error::{code, port_error};

/// The container's root, as SageMaker mounts it.
const ROOT: &str = "/opt/ml";

/// What every processing job of a deployment shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingSettings {
    /// The role the job runs as: reads the upload and the settings, writes the output.
    pub role_arn: String,
    /// The processing image (`infra/processing/Dockerfile`).
    pub image: String,
    pub instance_type: String,
    /// KMS key for the output and the volumes; S3-managed keys when `None`.
    pub kms_key: Option<String>,
    /// Put before every job name, as for training jobs
    /// ([`crate::sagemaker::TrainingSettings::job_prefix`]).
    pub job_prefix: String,
}

#[derive(Debug, Clone)]
pub struct SageMakerProcessing {
    client: Client,
    settings: ProcessingSettings,
}

/// Each instance's volume: the most its share of the upload may hold, three times over (the
/// files, their Parquet copy, temporary files), and 10 GB for the image and the system, within
/// SageMaker's 1..=16384.
pub fn volume_gb(share_bytes: u64) -> i32 {
    let gb = share_bytes.saturating_mul(3).div_ceil(1 << 30) + 10;
    gb.clamp(1, 16_384) as i32
}

impl SageMakerProcessing {
    pub fn new(config: &AwsConfig, settings: ProcessingSettings) -> Self {
        Self {
            client: Client::new(&config.sdk),
            settings,
        }
    }

    /// The name of `job` in SageMaker.
    pub fn sagemaker_name(&self, job: &str) -> String {
        format!("{}{job}", self.settings.job_prefix)
    }

    /// A state change of one of this deployment's jobs, named as the ingest handler knows it;
    /// `None` for another deployment's (or anyone's) job.
    pub fn claim(&self, mut change: ProcessingStateChange) -> Option<ProcessingStateChange> {
        change.processing_job_name = change
            .processing_job_name
            .strip_prefix(&self.settings.job_prefix)?
            .to_owned();
        Some(change)
    }

    /// The CreateProcessingJob request for `job`.
    pub fn request(
        &self,
        job: &ProcessingJob,
    ) -> Result<CreateProcessingJobFluentBuilder, PortError> {
        let name = self.sagemaker_name(&job.name);
        if name.len() > 63 {
            return Err(PortError::Invalid(format!(
                "processing job name {name:?} is over SageMaker's 63 characters"
            )));
        }
        let s3 = |o: &tollgate_domain::ObjectRef| format!("s3://{}/{}", o.bucket, o.key);
        let input = |name: &str, uri: String, data_type, distribution| {
            ProcessingInput::builder()
                .input_name(name)
                .s3_input(
                    ProcessingS3Input::builder()
                        .s3_uri(uri)
                        .local_path(format!("{ROOT}/processing/input/{name}"))
                        .s3_data_type(data_type)
                        .s3_input_mode(ProcessingS3InputMode::File)
                        .s3_data_distribution_type(distribution)
                        .build(),
                )
                .build()
        };
        let data = input(
            "data",
            s3(&job.manifest),
            ProcessingS3DataType::ManifestFile,
            ProcessingS3DataDistributionType::Shardedbys3Key,
        );
        let settings = input(
            "settings",
            s3(&job.settings),
            ProcessingS3DataType::S3Prefix,
            ProcessingS3DataDistributionType::Fullyreplicated,
        );
        let output = ProcessingOutput::builder()
            .output_name("shards")
            .s3_output(
                ProcessingS3Output::builder()
                    .s3_uri(s3(&job.output))
                    .local_path(format!("{ROOT}/processing/output"))
                    .s3_upload_mode(ProcessingS3UploadMode::EndOfJob)
                    .build(),
            )
            .build();
        let cluster = ProcessingClusterConfig::builder()
            .instance_count(job.instances.max(1) as i32)
            .instance_type(ProcessingInstanceType::from(
                self.settings.instance_type.as_str(),
            ))
            .volume_size_in_gb(volume_gb(job.share_bytes))
            .set_volume_kms_key_id(self.settings.kms_key.clone())
            .build();
        let runtime = job.max_runtime.as_secs().clamp(1, i32::MAX as u64) as i32;
        Ok(self
            .client
            .create_processing_job()
            .processing_job_name(name)
            .role_arn(&self.settings.role_arn)
            .app_specification(
                AppSpecification::builder()
                    .image_uri(&self.settings.image)
                    .container_entrypoint("process")
                    .container_arguments("--root")
                    .container_arguments(ROOT)
                    .build(),
            )
            .processing_inputs(data)
            .processing_inputs(settings)
            .processing_output_config(
                ProcessingOutputConfig::builder()
                    .outputs(output)
                    .set_kms_key_id(self.settings.kms_key.clone())
                    .build(),
            )
            .processing_resources(
                ProcessingResources::builder()
                    .cluster_config(cluster)
                    .build(),
            )
            .stopping_condition(
                ProcessingStoppingCondition::builder()
                    .max_runtime_in_seconds(runtime)
                    .build(),
            )
            .tags(Tag::builder().key("tollgate:job").value(&job.name).build()))
    }
}

fn status(s: &ProcessingJobStatus) -> Result<JobStatus, PortError> {
    Ok(match s {
        ProcessingJobStatus::InProgress => JobStatus::InProgress,
        ProcessingJobStatus::Completed => JobStatus::Completed,
        ProcessingJobStatus::Failed => JobStatus::Failed,
        ProcessingJobStatus::Stopping => JobStatus::Stopping,
        ProcessingJobStatus::Stopped => JobStatus::Stopped,
        other => {
            return Err(PortError::Invalid(format!(
                "SageMaker reports an unknown processing job status {other:?}"
            )));
        }
    })
}

#[async_trait]
impl ProcessingBackend for SageMakerProcessing {
    async fn start(&self, job: &ProcessingJob) -> Result<bool, PortError> {
        let request = self.request(job)?;
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if code(&e) == Some("ResourceInUse") => Ok(false),
            Err(e) => Err(port_error(
                format!("starting processing job {}", job.name),
                e,
            )),
        }
    }

    async fn describe(&self, job: &str) -> Result<JobStatus, PortError> {
        let name = self.sagemaker_name(job);
        match self
            .client
            .describe_processing_job()
            .processing_job_name(&name)
            .send()
            .await
        {
            Ok(out) => out
                .processing_job_status()
                .ok_or_else(|| PortError::Invalid(format!("processing job {name} has no status")))
                .and_then(status),
            Err(e) => {
                let err = port_error(format!("describing processing job {name}"), e);
                if crate::sagemaker::not_found(&err) {
                    Err(PortError::NotFound(format!("processing job {name}")))
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tollgate_domain::{BlobKey, BucketName, ObjectRef};

    use super::*;

    fn backend() -> SageMakerProcessing {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        SageMakerProcessing::new(
            &AwsConfig {
                sdk,
                endpoint: None,
            },
            ProcessingSettings {
                role_arn: "arn:aws:iam::123456789012:role/processing".into(),
                image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/t-processing:1".into(),
                instance_type: "ml.m5.2xlarge".into(),
                kms_key: Some("arn:aws:kms:eu-west-1:123456789012:key/k".into()),
                job_prefix: "dev-".into(),
            },
        )
    }

    fn object(key: &str) -> ObjectRef {
        ObjectRef::new(
            BucketName::parse("data").unwrap(),
            BlobKey::parse(key).unwrap(),
        )
    }

    #[test]
    fn an_upload_becomes_a_sharded_create_processing_job_request() {
        let backend = backend();
        let job = ProcessingJob {
            name: "tollgate-ingest-0123".into(),
            manifest: object("processing/tollgate-ingest-0123/inputs.manifest"),
            settings: object("processing/tollgate-ingest-0123/job.json"),
            output: object("processing/tollgate-ingest-0123/output"),
            instances: 4,
            share_bytes: 10 << 30,
            max_runtime: Duration::from_secs(3600),
        };
        let request = backend.request(&job).unwrap();
        let input = request.as_input();
        assert_eq!(
            input.get_processing_job_name().as_deref(),
            Some("dev-tollgate-ingest-0123")
        );
        assert_eq!(
            input.get_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/processing")
        );
        let app = input.get_app_specification().as_ref().unwrap();
        assert_eq!(app.image_uri(), Some(backend.settings.image.as_str()));
        assert_eq!(app.container_entrypoint(), ["process"]);
        assert_eq!(app.container_arguments(), ["--root", "/opt/ml"]);
        let inputs = input.get_processing_inputs().as_ref().unwrap();
        assert_eq!(inputs.len(), 2);
        let data = inputs[0].s3_input().unwrap();
        assert_eq!(inputs[0].input_name(), Some("data"));
        assert_eq!(
            data.s3_uri(),
            Some("s3://data/processing/tollgate-ingest-0123/inputs.manifest")
        );
        assert_eq!(data.local_path(), Some("/opt/ml/processing/input/data"));
        assert_eq!(
            data.s3_data_type(),
            Some(&ProcessingS3DataType::ManifestFile)
        );
        assert_eq!(
            data.s3_data_distribution_type(),
            Some(&ProcessingS3DataDistributionType::Shardedbys3Key)
        );
        assert_eq!(data.s3_input_mode(), Some(&ProcessingS3InputMode::File));
        let settings = inputs[1].s3_input().unwrap();
        assert_eq!(inputs[1].input_name(), Some("settings"));
        assert_eq!(
            settings.s3_uri(),
            Some("s3://data/processing/tollgate-ingest-0123/job.json")
        );
        assert_eq!(
            settings.local_path(),
            Some("/opt/ml/processing/input/settings")
        );
        assert_eq!(
            settings.s3_data_distribution_type(),
            Some(&ProcessingS3DataDistributionType::Fullyreplicated)
        );
        let outputs = input.get_processing_output_config().as_ref().unwrap();
        assert_eq!(outputs.kms_key_id(), backend.settings.kms_key.as_deref());
        let out = outputs.outputs()[0].s3_output().unwrap();
        assert_eq!(
            out.s3_uri(),
            Some("s3://data/processing/tollgate-ingest-0123/output")
        );
        assert_eq!(out.local_path(), Some("/opt/ml/processing/output"));
        assert_eq!(
            out.s3_upload_mode(),
            Some(&ProcessingS3UploadMode::EndOfJob)
        );
        let cluster = input
            .get_processing_resources()
            .as_ref()
            .and_then(|r| r.cluster_config())
            .unwrap();
        assert_eq!(cluster.instance_count(), Some(4));
        assert_eq!(
            cluster.instance_type(),
            Some(&ProcessingInstanceType::from("ml.m5.2xlarge"))
        );
        // A 10 GiB share, three times over, and 10 GB for the system.
        assert_eq!(cluster.volume_size_in_gb(), Some(40));
        assert_eq!(
            cluster.volume_kms_key_id(),
            backend.settings.kms_key.as_deref()
        );
        assert_eq!(
            input
                .get_stopping_condition()
                .as_ref()
                .map(|s| s.max_runtime_in_seconds()),
            Some(Some(3600))
        );
        let tags = input.get_tags().as_ref().unwrap();
        assert_eq!(tags[0].key(), Some("tollgate:job"));
        assert_eq!(tags[0].value(), Some("tollgate-ingest-0123"));
    }

    #[test]
    fn only_the_deployments_own_jobs_are_claimed() {
        let backend = backend();
        let change = |name: &str| ProcessingStateChange {
            processing_job_name: name.into(),
            processing_job_status: JobStatus::Completed,
            failure_reason: None,
            exit_message: None,
        };
        let ours = backend.claim(change("dev-tollgate-ingest-0123")).unwrap();
        assert_eq!(ours.processing_job_name, "tollgate-ingest-0123");
        assert!(backend.claim(change("prod-tollgate-ingest-0123")).is_none());
    }

    #[test]
    fn a_volume_holds_a_share_three_times_over() {
        assert_eq!(volume_gb(0), 10);
        assert_eq!(volume_gb(16 << 30), 58);
        assert_eq!(volume_gb(u64::MAX / 2), 16_384);
    }
}
