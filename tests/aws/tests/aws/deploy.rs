//! The deploy function on SageMaker hosting, against the stand-in: an approval creates the
//! model, the endpoint config (with data capture) and the endpoint, and puts the rollback alarm;
//! the endpoint's state change settles it; duplicate events change nothing; the next approval
//! prepares the new release and asks for a blue/green update.
//!
//! moto creates an endpoint `InService` at once and has no UpdateEndpoint: the update's request
//! is checked field by field as the adapter builds it, and its send is seen refused by the
//! stand-in with nothing recorded, so the next event retries it. What SageMaker does during the
//! update (traffic shifting, the alarm's rollback) only a real account shows; the decisions the
//! handler takes on each outcome are tested in `tollgate_domain::deploy`.

use std::sync::Arc;

use aws_sdk_sagemaker::types::{CaptureMode, TrafficRoutingConfigType};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tollgate_aws::{EventBridgeBus, HostingSettings, SageMakerHosting};
use tollgate_domain::deploy::DeploymentStatus;
use tollgate_domain::ports::{Catalog, Hosting, Ports, Release, SystemClock};
use tollgate_domain::promotion::Request;
use tollgate_domain::{AuditEvent, Pipeline, UserId};
use tollgate_fn_deploy::Function;
use tollgate_promote::Promote;

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::standin::Stack;

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tollgate-trainer:0.1";
const ROLE: &str = "arn:aws:iam::123456789012:role/tollgate-sagemaker";

fn settings(stack: &Stack, prefix: &str) -> HostingSettings {
    HostingSettings {
        role_arn: ROLE.into(),
        prefix: prefix.into(),
        data_bucket: stack.bucket.clone(),
        kms_key: None,
    }
}

/// `model`'s pipeline applied again with a `[deploy]` section.
async fn with_deploy(stack: &Stack, model: &str) -> Pipeline {
    let catalog = stack.catalog();
    let mut stored = catalog.pipeline(model, None).await.unwrap().unwrap();
    let text = format!(
        "{}\n[deploy]\nkind = \"sagemaker-endpoint\"\ninstance_type = \"ml.m5.large\"\n\
         instance_count = 2\nimage = \"{IMAGE}\"\ncanary_percent = 25\nbake = \"5m\"\n\
         capture_percent = 50\n",
        stored.text
    );
    stored.pipeline = Pipeline::from_toml(&text).unwrap();
    stored.text = text;
    let applied = AuditEvent::new(
        jiff::Timestamp::now(),
        UserId::parse("alice").unwrap(),
        "pipeline.applied",
        format!("pipeline/{model}"),
    );
    catalog
        .put_pipeline(stored.clone(), Some(stored.version), applied)
        .await
        .unwrap();
    stored.pipeline
}

async fn approve(stack: &Stack, model: &str, version: u32) {
    let promote = Promote::new(&Ports {
        blobs: Arc::new(stack.blobs()),
        catalog: Arc::new(stack.catalog()),
        bus: Arc::new(EventBridgeBus::new(&stack.aws, &stack.bus)),
        clock: Arc::new(SystemClock),
        data_bucket: stack.bucket_name(),
    });
    let request = Request::Approve {
        version,
        comment: None,
    };
    let outcome = promote
        .request(model, &request, &UserId::parse("bob").unwrap())
        .await
        .unwrap();
    assert!(
        matches!(outcome, tollgate_promote::Outcome::Done(_)),
        "{outcome:?}"
    );
}

async fn handle(function: &Function, event: Value) -> Value {
    let event = serde_json::from_value(event).unwrap();
    function
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap()
}

fn stage_changed(model: &str, version: u32, from: &str, to: &str) -> Value {
    envelope(
        "ModelStageChanged",
        "tollgate",
        serde_json::json!({"model": model, "version": version, "from": from, "to": to, "actor": "bob"}),
    )
}

fn endpoint_changed(endpoint: &str, status: &str) -> Value {
    envelope(
        "SageMaker Endpoint State Change",
        "aws.sagemaker",
        serde_json::json!({"EndpointName": endpoint, "EndpointStatus": status, "Tags": {}}),
    )
}

#[tokio::test]
async fn an_approval_deploys_to_an_endpoint_with_capture_and_the_next_one_updates_it_blue_green() {
    let stack = Stack::new().await;
    let model = "served";
    let prefix = format!("{}-", &stack.bucket[..6.min(stack.bucket.len())]);
    tollgate_domain::conformance::staged(&stack.catalog(), &stack.bucket_name(), model, 2).await;
    let pipeline = with_deploy(&stack, model).await;
    let function = Function::new(&stack.aws, &stack.common(), settings(&stack, &prefix)).unwrap();
    let hosting = SageMakerHosting::new(&stack.aws, settings(&stack, &prefix));
    let endpoint = hosting.endpoint_name(model);
    let catalog = stack.catalog();

    // A change outside production is not the deploy function's.
    let staged = handle(&function, stage_changed(model, 1, "candidate", "staging")).await;
    assert!(
        staged["nothing"].is_string() || staged["ignored"].is_string(),
        "{staged}"
    );
    assert!(catalog.deployment(model).await.unwrap().is_none());

    // Bob approves v1: the endpoint is created on v1's config.
    approve(&stack, model, 1).await;
    let started = handle(&function, stage_changed(model, 1, "staging", "production")).await;
    assert_eq!(started["status"], "deploying", "{started}");
    assert_eq!(started["endpoint"], endpoint.as_str());
    let v1 = catalog.model_version(model, 1).await.unwrap().unwrap();
    let release = |version: u32, artifact: &str| Release {
        model: model.into(),
        version,
        image: IMAGE.into(),
        artifact: artifact.into(),
        settings: pipeline.deploy.clone(),
    };
    let config_v1 = hosting.config_name(&release(1, &v1.artifact));

    let sagemaker = stack.sagemaker();
    let described = sagemaker
        .describe_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await
        .unwrap();
    assert_eq!(described.endpoint_config_name(), Some(config_v1.as_str()));
    let config = sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(&config_v1)
        .send()
        .await
        .unwrap();
    let variant = &config.production_variants()[0];
    assert_eq!(variant.variant_name(), Some("AllTraffic"));
    assert_eq!(variant.model_name(), Some(config_v1.as_str()));
    assert_eq!(variant.initial_instance_count(), Some(2));
    assert_eq!(
        variant.instance_type().map(|t| t.as_str()),
        Some("ml.m5.large")
    );
    let capture = config.data_capture_config().expect("data capture is on");
    assert_eq!(capture.enable_capture(), Some(true));
    assert_eq!(capture.initial_sampling_percentage(), Some(50));
    assert_eq!(
        capture.destination_s3_uri(),
        Some(format!("s3://{}/capture/{model}", stack.bucket).as_str())
    );
    let modes: Vec<&CaptureMode> = capture
        .capture_options()
        .iter()
        .filter_map(|o| o.capture_mode())
        .collect();
    assert_eq!(modes, [&CaptureMode::Input, &CaptureMode::Output]);
    let served = sagemaker
        .describe_model()
        .model_name(&config_v1)
        .send()
        .await
        .unwrap();
    assert_eq!(served.execution_role_arn(), Some(ROLE));
    let container = served.primary_container().unwrap();
    assert_eq!(container.image(), Some(IMAGE));
    assert_eq!(container.model_data_url(), Some(v1.artifact.as_str()));

    let alarm = format!("{endpoint}-5xx");
    let alarms = aws_sdk_cloudwatch::Client::new(&stack.aws.sdk)
        .describe_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .unwrap();
    let put = &alarms.metric_alarms()[0];
    assert_eq!(put.metric_name(), Some("Invocation5XXErrors"));
    assert_eq!(put.namespace(), Some("AWS/SageMaker"));
    let dimensions: Vec<(&str, &str)> = put
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap_or(""), d.value().unwrap_or("")))
        .collect();
    assert_eq!(
        dimensions,
        [
            ("EndpointName", endpoint.as_str()),
            ("VariantName", "AllTraffic")
        ]
    );

    let record = catalog.deployment(model).await.unwrap().unwrap();
    assert_eq!(
        (record.version, record.status, record.config.as_str()),
        (1, DeploymentStatus::Deploying, config_v1.as_str())
    );
    assert_eq!(record.actor.as_str(), "bob", "who put v1 in production");

    // The same approval delivered again: the endpoint is changing or serves v1 already.
    let again = handle(&function, stage_changed(model, 1, "staging", "production")).await;
    assert!(
        again["status"] == "in_service" || again["waiting"].is_string(),
        "{again}"
    );

    // SageMaker says the endpoint is in service: recorded once, audited, announced.
    let settled = handle(&function, endpoint_changed(&endpoint, "IN_SERVICE")).await;
    let settled = if settled["nothing"].is_string() {
        again // the duplicate above settled it already
    } else {
        settled
    };
    assert_eq!(settled["status"], "in_service", "{settled}");
    let duplicate = handle(&function, endpoint_changed(&endpoint, "IN_SERVICE")).await;
    assert!(duplicate["nothing"].is_string(), "{duplicate}");
    let record = catalog.deployment(model).await.unwrap().unwrap();
    assert_eq!(record.status, DeploymentStatus::InService);
    let trail: Vec<String> = catalog
        .audit(Some(&format!("model/{model}/v1")))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("deployment."))
        .collect();
    assert_eq!(trail, ["deployment.started", "deployment.succeeded"]);
    let announced = stack.published_event("DeploymentChanged").await;
    assert_eq!(
        announced["detail"]["endpoint"],
        endpoint.as_str(),
        "{announced:#}"
    );

    // Another deployment's endpoint is not this one's business.
    let stranger = handle(&function, endpoint_changed("someone-elses", "IN_SERVICE")).await;
    assert!(stranger["nothing"].is_string(), "{stranger}");

    // Bob approves v2: its model and config are made, then a blue/green update is asked for.
    approve(&stack, model, 2).await;
    let v2 = catalog.model_version(model, 2).await.unwrap().unwrap();
    let config_v2 = hosting.config_name(&release(2, &v2.artifact));
    assert_ne!(config_v1, config_v2);
    let update = hosting.update_request(&release(2, &v2.artifact));
    let input = update.as_input();
    assert_eq!(
        input.get_endpoint_name().as_deref(),
        Some(endpoint.as_str())
    );
    assert_eq!(
        input.get_endpoint_config_name().as_deref(),
        Some(config_v2.as_str())
    );
    let deployment = input.get_deployment_config().as_ref().unwrap();
    let blue_green = deployment.blue_green_update_policy().unwrap();
    let routing = blue_green.traffic_routing_configuration().unwrap();
    assert_eq!(routing.r#type(), Some(&TrafficRoutingConfigType::Canary));
    let canary = routing.canary_size().unwrap();
    assert_eq!(canary.value(), Some(25));
    assert_eq!(routing.wait_interval_in_seconds(), Some(300));
    assert_eq!(blue_green.termination_wait_in_seconds(), Some(300));
    let alarms: Vec<&str> = deployment
        .auto_rollback_configuration()
        .unwrap()
        .alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert_eq!(alarms, [format!("{endpoint}-5xx")]);

    let asked = function
        .handle(LambdaEvent::new(
            serde_json::from_value(stage_changed(model, 2, "staging", "production")).unwrap(),
            Context::default(),
        ))
        .await;
    sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(&config_v2)
        .send()
        .await
        .expect("v2's config was made before the update");
    match asked {
        // A stand-in that updates endpoints: v2 is deploying.
        Ok(answer) => assert_eq!(answer["status"], "deploying", "{answer}"),
        // moto has no UpdateEndpoint (it answers 500): the error is returned, so EventBridge
        // delivers the event again, and nothing is recorded meanwhile.
        Err(e) => {
            assert!(e.to_string().contains("updating endpoint"), "{e}");
            let record = catalog.deployment(model).await.unwrap().unwrap();
            assert_eq!(
                (record.version, record.status),
                (1, DeploymentStatus::InService),
                "a refused update records nothing"
            );
        }
    }
}
