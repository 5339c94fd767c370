//! Hosting on SageMaker real-time endpoints: one endpoint per model, serving its production
//! version with the `trainer` image's `serve` entry point (SageMaker's inference contract).
//!
//! A release (a model version under its pipeline's `[deploy]` settings) becomes a SageMaker model
//! and an endpoint config named after it, `<prefix><model>-v<version>-<digest>`, the digest
//! covering the image, the artifact and the settings: a name is never reused for other content,
//! so creating either again is a no-op. The config captures inputs and outputs
//! (`capture/<model>/` in the data bucket, which the monitor reads). A new endpoint is created on
//! it; an existing one is updated blue/green: a canary share of capacity first, the rest after
//! the bake, the old fleet kept until then, and SageMaker rolls back by itself if one of the
//! rollback alarms fires meanwhile. Without alarms of the pipeline's, the release puts one on
//! the endpoint's 5xx errors.
//!
//! Nothing here waits: SageMaker sends "SageMaker Endpoint State Change" to EventBridge when the
//! endpoint settles, and the deploy function takes the next step then.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::create_endpoint_config::builders::CreateEndpointConfigFluentBuilder;
use aws_sdk_sagemaker::operation::create_model::builders::CreateModelFluentBuilder;
use aws_sdk_sagemaker::operation::update_endpoint::builders::UpdateEndpointFluentBuilder;
use aws_sdk_sagemaker::types::{
    Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType,
    CaptureContentTypeHeader, CaptureMode, CaptureOption, ContainerDefinition, DataCaptureConfig,
    DeploymentConfig, ProductionVariant, ProductionVariantInstanceType, Tag, TrafficRoutingConfig,
    TrafficRoutingConfigType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tollgate_domain::PortError;
use tollgate_domain::deploy::{Endpoint, EndpointStatus, short_digest};
use tollgate_domain::ports::{Hosting, Release};

use crate::AwsConfig;
use crate::error::port_error;

/// The one variant of every config: alarms name it, and blue/green swaps what is behind it.
pub const VARIANT: &str = "AllTraffic";

/// SageMaker's longest name of a model, config or endpoint.
const MAX_NAME: usize = 63;

/// What every endpoint of a deployment shares: set once per stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostingSettings {
    /// The role SageMaker assumes to pull the image, read the artifact and write the capture.
    pub role_arn: String,
    /// Put before every endpoint, config and model name (the stack's job prefix).
    pub prefix: String,
    /// Where data capture writes (`s3://<bucket>/capture/<model>/`).
    pub data_bucket: String,
    /// KMS key for the captured data and the instances' volumes; AWS-managed when `None`.
    pub kms_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SageMakerHosting {
    client: Client,
    alarms: Alarms,
    settings: HostingSettings,
}

/// CloudWatch, for the rollback alarm.
#[derive(Debug, Clone)]
struct Alarms {
    client: aws_sdk_cloudwatch::Client,
}

impl SageMakerHosting {
    pub fn new(config: &AwsConfig, settings: HostingSettings) -> Self {
        Self {
            client: Client::new(&config.sdk),
            alarms: Alarms {
                client: aws_sdk_cloudwatch::Client::new(&config.sdk),
            },
            settings,
        }
    }

    /// The alarm the release puts on the endpoint when its pipeline names none.
    pub fn default_alarm(&self, endpoint: &str) -> String {
        format!("{endpoint}-5xx")
    }

    /// The alarms that roll a deployment of `release` back.
    pub fn rollback_alarms(&self, release: &Release) -> Vec<String> {
        if release.settings.rollback_alarms.is_empty() {
            vec![self.default_alarm(&self.endpoint_name(&release.model))]
        } else {
            release.settings.rollback_alarms.clone()
        }
    }

    /// The CreateModel request of `release`.
    pub fn model_request(&self, release: &Release) -> CreateModelFluentBuilder {
        self.client
            .create_model()
            .model_name(self.config_name(release))
            .execution_role_arn(&self.settings.role_arn)
            .primary_container(
                ContainerDefinition::builder()
                    .image(&release.image)
                    .model_data_url(&release.artifact)
                    .environment("TOLLGATE_MODEL", &release.model)
                    .environment("TOLLGATE_MODEL_VERSION", release.version.to_string())
                    .build(),
            )
            .set_tags(Some(tags(release)))
    }

    /// Creates the model of `release`, unless it exists (its name says what it holds).
    async fn create_model(&self, release: &Release) -> Result<(), PortError> {
        let what = format!("creating model {}", self.config_name(release));
        created(self.model_request(release).send().await, what)
    }

    /// The CreateEndpointConfig request of `release`: one variant, data capture of inputs and
    /// outputs under `capture/<model>/`.
    pub fn config_request(&self, release: &Release) -> CreateEndpointConfigFluentBuilder {
        let settings = &release.settings;
        self.client
            .create_endpoint_config()
            .endpoint_config_name(self.config_name(release))
            .production_variants(
                ProductionVariant::builder()
                    .variant_name(VARIANT)
                    .model_name(self.config_name(release))
                    .instance_type(ProductionVariantInstanceType::from(
                        settings.instance_type.as_str(),
                    ))
                    .initial_instance_count(settings.instance_count as i32)
                    .initial_variant_weight(1.0)
                    .build(),
            )
            .data_capture_config(
                DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(settings.capture_percent as i32)
                    .destination_s3_uri(format!(
                        "s3://{}/capture/{}",
                        self.settings.data_bucket, release.model
                    ))
                    .set_kms_key_id(self.settings.kms_key.clone())
                    .capture_options(
                        CaptureOption::builder()
                            .capture_mode(CaptureMode::Input)
                            .build(),
                    )
                    .capture_options(
                        CaptureOption::builder()
                            .capture_mode(CaptureMode::Output)
                            .build(),
                    )
                    .capture_content_type_header(
                        CaptureContentTypeHeader::builder()
                            .csv_content_types("text/csv")
                            .json_content_types("application/jsonlines")
                            .json_content_types("application/json")
                            .build(),
                    )
                    .build(),
            )
            .set_kms_key_id(self.settings.kms_key.clone())
            .set_tags(Some(tags(release)))
    }

    /// Creates the endpoint config of `release`, unless it exists.
    async fn create_config(&self, release: &Release) -> Result<(), PortError> {
        let what = format!("creating endpoint config {}", self.config_name(release));
        created(self.config_request(release).send().await, what)
    }

    /// The UpdateEndpoint request of `release`: blue/green, a canary of `canary_percent` of
    /// the capacity (all at once at 100), `bake` between shifts and before the old fleet
    /// goes, rolled back by SageMaker when one of the rollback alarms fires.
    pub fn update_request(&self, release: &Release) -> UpdateEndpointFluentBuilder {
        let settings = &release.settings;
        let bake = settings.bake.seconds().clamp(0, 3600) as i32;
        let routing = if settings.canary_percent >= 100 {
            TrafficRoutingConfig::builder()
                .r#type(TrafficRoutingConfigType::AllAtOnce)
                .wait_interval_in_seconds(bake)
        } else {
            TrafficRoutingConfig::builder()
                .r#type(TrafficRoutingConfigType::Canary)
                .canary_size(
                    CapacitySize::builder()
                        .r#type(CapacitySizeType::CapacityPercent)
                        .value(settings.canary_percent as i32)
                        .build(),
                )
                .wait_interval_in_seconds(bake)
        };
        let mut rollback = AutoRollbackConfig::builder();
        for alarm in self.rollback_alarms(release) {
            rollback = rollback.alarms(Alarm::builder().alarm_name(alarm).build());
        }
        self.client
            .update_endpoint()
            .endpoint_name(self.endpoint_name(&release.model))
            .endpoint_config_name(self.config_name(release))
            .deployment_config(
                DeploymentConfig::builder()
                    .blue_green_update_policy(
                        BlueGreenUpdatePolicy::builder()
                            .traffic_routing_configuration(routing.build())
                            .termination_wait_in_seconds(bake)
                            // Two shifts and their bakes, and room for the instances to start.
                            .maximum_execution_timeout_in_seconds((2 * bake + 1800).min(28_800))
                            .build(),
                    )
                    .auto_rollback_configuration(rollback.build())
                    .build(),
            )
    }

    async fn send_update(&self, release: &Release) -> Result<(), PortError> {
        let endpoint = self.endpoint_name(&release.model);
        changed(
            self.update_request(release).send().await,
            &endpoint,
            "updating",
        )
    }

    /// Puts the 5xx alarm on the endpoint of `release` (PutMetricAlarm replaces it with the
    /// same definition when it exists).
    async fn ensure_alarm(&self, release: &Release) -> Result<(), PortError> {
        if !release.settings.rollback_alarms.is_empty() {
            return Ok(());
        }
        let endpoint = self.endpoint_name(&release.model);
        let name = self.default_alarm(&endpoint);
        self.alarms
            .client
            .put_metric_alarm()
            .alarm_name(&name)
            .alarm_description(format!(
                "Tollgate: rolls a deployment of model {} back when its endpoint answers a 5xx",
                release.model
            ))
            .namespace("AWS/SageMaker")
            .metric_name("Invocation5XXErrors")
            .dimensions(
                Dimension::builder()
                    .name("EndpointName")
                    .value(&endpoint)
                    .build(),
            )
            .dimensions(
                Dimension::builder()
                    .name("VariantName")
                    .value(VARIANT)
                    .build(),
            )
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .treat_missing_data("notBreaching")
            .send()
            .await
            .map_err(|e| port_error(format!("putting alarm {name}"), e))?;
        Ok(())
    }
}

fn tags(release: &Release) -> Vec<Tag> {
    vec![
        Tag::builder()
            .key("tollgate:model")
            .value(&release.model)
            .build(),
        Tag::builder()
            .key("tollgate:version")
            .value(release.version.to_string())
            .build(),
    ]
}

/// A SageMaker name: letters, digits and `-` (a model name's `_` becomes `-`).
fn sagemaker_name(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

type SdkError<E> =
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>;

/// Whether SageMaker's message says one of `words` (it answers ValidationException for an
/// existing name and for a busy endpoint alike, and tells them apart only in words).
fn says<E: ProvideErrorMetadata>(err: &SdkError<E>, words: &[&str]) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::message)
        .is_some_and(|m| words.iter().any(|w| m.contains(w)))
}

/// A create that found its name taken is done: names say what they hold.
fn created<O, E>(sent: Result<O, SdkError<E>>, what: String) -> Result<(), PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e) if says(&e, &["already exist"]) => Ok(()),
        Err(e) => Err(port_error(what, e)),
    }
}

/// A change of an endpoint: one SageMaker refused because the endpoint is changing, or exists,
/// already is a `Conflict` (decide again on a fresh look); `doing` names the change.
fn changed<O, E>(sent: Result<O, SdkError<E>>, endpoint: &str, doing: &str) -> Result<(), PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e) if says(&e, &["in-progress", "in progress", "already exist"]) => {
            Err(PortError::Conflict(format!(
                "{doing} endpoint {endpoint}: it is changing or exists already"
            )))
        }
        Err(e) => Err(port_error(format!("{doing} endpoint {endpoint}"), e)),
    }
}

#[async_trait]
impl Hosting for SageMakerHosting {
    fn endpoint_name(&self, model: &str) -> String {
        sagemaker_name(&format!("{}{model}", self.settings.prefix))
    }

    fn config_name(&self, release: &Release) -> String {
        let identity = serde_json::json!({
            "image": release.image,
            "artifact": release.artifact,
            "settings": release.settings,
            "role": self.settings.role_arn,
            "kms": self.settings.kms_key,
        });
        let suffix = format!(
            "-v{}-{}",
            release.version,
            short_digest(&identity.to_string())
        );
        let mut base = self.endpoint_name(&release.model);
        base.truncate(MAX_NAME - suffix.len());
        format!("{}{suffix}", base.trim_end_matches('-'))
    }

    async fn describe(&self, endpoint: &str) -> Result<Option<Endpoint>, PortError> {
        match self
            .client
            .describe_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Endpoint {
                name: endpoint.to_owned(),
                status: EndpointStatus::parse(out.endpoint_status().map_or("", |s| s.as_str())),
                config: out.endpoint_config_name().unwrap_or_default().to_owned(),
                failure: out.failure_reason().map(str::to_owned),
            })),
            Err(e) if says(&e, &["Could not find"]) => Ok(None),
            Err(e) => Err(port_error(format!("describing endpoint {endpoint}"), e)),
        }
    }

    async fn prepare(&self, release: &Release) -> Result<(), PortError> {
        self.create_model(release).await?;
        self.create_config(release).await?;
        self.ensure_alarm(release).await
    }

    async fn create(&self, release: &Release) -> Result<(), PortError> {
        let endpoint = self.endpoint_name(&release.model);
        let sent = self
            .client
            .create_endpoint()
            .endpoint_name(&endpoint)
            .endpoint_config_name(self.config_name(release))
            .set_tags(Some(tags(release)))
            .send()
            .await;
        changed(sent, &endpoint, "creating")
    }

    async fn update(&self, release: &Release) -> Result<(), PortError> {
        self.send_update(release).await
    }
}
