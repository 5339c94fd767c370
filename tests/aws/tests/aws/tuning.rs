//! A tuning run on the SageMaker adapter: the jobs are created in the stand-in (whose requests
//! are checked field by field), then each is "run" as SageMaker would run it: the `trainer` on
//! the job's channels and hyperparameters, its model and outputs packed into `model.tar.gz` and
//! `output.tar.gz` under the job's output path, and its end announced with a real "SageMaker
//! Training Job State Change" event. The candidate is then tested by the evaluate function.

use std::collections::BTreeSet;
use std::path::Path;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tollgate_aws::TrainingSettings;
use tollgate_domain::ports::Catalog;
use tollgate_domain::training::RunRequest;
use tollgate_domain::{
    AuditEvent, ContentHash, ModelStage, Pipeline, RunStatus, StoredPipeline, UserId,
};
use tollgate_fn_tune::Settings;

use crate::ingest::ingest_sample;
use tollgate_aws_tests::envelope;
use tollgate_aws_tests::standin::Stack;

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tollgate-trainer:0.1";

fn pipeline(bucket: &str) -> String {
    format!(
        r#"name = "wine-gpu"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
metric = "accuracy"
on_upload = false

[search]
strategy = "random"
seed = 7
[search.space]
alpha = {{ type = "log_uniform", low = 1e-4, high = 1.0 }}
max_iterations = {{ type = "int", low = 50, high = 200 }}

[budget]
max_trials = 3
max_parallel = 2

[backend]
kind = "sagemaker"
image = "{IMAGE}"
instance_type = "ml.g5.xlarge"
instance_count = 1
spot = true
max_wait = "2h"
max_runtime = "1h"
checkpoint_s3 = "s3://{bucket}/checkpoints"
"#
    )
}

/// The tune function's settings on `stack`.
fn settings(stack: &Stack) -> Settings {
    Settings {
        common: stack.common(),
        training: TrainingSettings {
            role_arn: "arn:aws:iam::123456789012:role/tollgate-training".into(),
            kms_key: None,
            default_volume_gb: 30,
            // The stand-in is shared by every test: each stack's jobs are its own.
            job_prefix: format!("{}-", &stack.bucket[..8]),
        },
    }
}

/// An EventBridge event as a function receives it.
pub fn event<T: serde::de::DeserializeOwned>(json: Value) -> LambdaEvent<T> {
    LambdaEvent::new(serde_json::from_value(json).unwrap(), Context::default())
}

async fn download(stack: &Stack, uri: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, stack.object_at(uri).await).unwrap();
}

/// `dir`'s files packed at the root of a gzipped tarball, as SageMaker packs `/opt/ml/model`.
fn tarball(dir: &Path) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    if dir.exists() {
        builder.append_dir_all(".", dir).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// Runs `job` as SageMaker would, and returns its state-change event (`Failed` when `fail`).
async fn run_job(stack: &Stack, job: &str, fail: bool) -> Value {
    let described = stack
        .sagemaker()
        .describe_training_job()
        .training_job_name(job)
        .send()
        .await
        .unwrap();
    let root = stack.work_dir.join(format!("opt-ml-{job}"));
    std::fs::create_dir_all(root.join("input/config")).unwrap();
    std::fs::write(
        root.join("input/config/hyperparameters.json"),
        serde_json::to_vec(&described.hyper_parameters().cloned().unwrap_or_default()).unwrap(),
    )
    .unwrap();
    for channel in described.input_data_config() {
        let uri = channel
            .data_source()
            .and_then(|d| d.s3_data_source())
            .map(|s| s.s3_uri().unwrap_or_default().to_owned())
            .unwrap();
        let file = uri.rsplit('/').next().unwrap();
        download(
            stack,
            &uri,
            &root
                .join("input/data")
                .join(channel.channel_name().unwrap())
                .join(file),
        )
        .await;
    }
    let output_path = described
        .output_data_config()
        .unwrap()
        .s3_output_path()
        .unwrap()
        .to_owned();
    let mut fixture: Value = serde_json::from_str(include_str!(
        "../../fixtures/sagemaker-training-job-state-change.json"
    ))
    .unwrap();
    let detail = &mut fixture["detail"];
    detail["TrainingJobName"] = Value::from(job);
    detail["OutputDataConfig"]["S3OutputPath"] = Value::from(output_path.clone());
    detail["HyperParameters"] = serde_json::to_value(described.hyper_parameters()).unwrap();
    if fail {
        detail["TrainingJobStatus"] = Value::from("Failed");
        detail["SecondaryStatus"] = Value::from("Failed");
        detail["FailureReason"] = Value::from("AlgorithmError: CUDA out of memory, exit code: 1");
        detail.as_object_mut().unwrap().remove("ModelArtifacts");
        return fixture;
    }
    // The trainer library, as the container's `trainer train` runs it (the binary's own contract
    // is tested in shared/trainer): its metric lines are what SageMaker reads from the log.
    let job_root = root.clone();
    let outcome = tokio::task::spawn_blocking(move || tollgate_trainer::run(&job_root))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the trainer failed: {e}"));
    let log: String = outcome
        .scores
        .iter()
        .map(|score| score.line() + "\n")
        .collect();
    // What the job's metric definitions (`<name>=(-?[0-9.eE+-]+);`) find in the log: each
    // metric's last value.
    let mut found = std::collections::BTreeMap::new();
    for line in log.lines() {
        let metric = line
            .trim()
            .strip_suffix(';')
            .and_then(|l| l.split_once('='));
        if let Some((name, Ok(value))) = metric.map(|(n, v)| (n, v.parse::<f64>()))
            && name.contains(':')
        {
            found.insert(name.to_owned(), value);
        }
    }
    let metrics: Vec<Value> = found
        .into_iter()
        .map(|(name, value)| {
            serde_json::json!({"MetricName": name, "Value": value, "Timestamp": 1764670441000u64})
        })
        .collect();
    assert!(
        !metrics.is_empty(),
        "the metric definitions find the trainer's lines: {log}"
    );
    let (bucket, prefix) = output_path
        .strip_prefix("s3://")
        .unwrap()
        .split_once('/')
        .unwrap();
    for (file, dir) in [
        ("model.tar.gz", root.join("model")),
        ("output.tar.gz", root.join("output/data")),
    ] {
        stack
            .s3()
            .put_object()
            .bucket(bucket)
            .key(format!("{prefix}/{job}/output/{file}"))
            .body(tarball(&dir).into())
            .send()
            .await
            .unwrap();
    }
    detail["FinalMetricDataList"] = Value::from(metrics);
    detail["ModelArtifacts"]["S3ModelArtifacts"] =
        Value::from(format!("{output_path}/{job}/output/model.tar.gz"));
    fixture
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tuning_run_trains_on_sagemaker_and_its_candidate_is_tested() {
    let stack = Stack::new().await;
    ingest_sample(&stack, "wine-2009-a.csv", "incoming/wine/wine-2009-a.csv").await;
    let catalog = stack.catalog();
    let text = pipeline(&stack.bucket);
    let alice = UserId::parse("alice").unwrap();
    catalog
        .put_pipeline(
            StoredPipeline {
                version: 0,
                pipeline: Pipeline::from_toml(&text).unwrap(),
                hash: ContentHash::parse(&"ab".repeat(32)).unwrap(),
                text,
                applied_by: alice.clone(),
                applied_at: jiff::Timestamp::now(),
            },
            None,
            AuditEvent::new(
                jiff::Timestamp::now(),
                alice,
                "pipeline.applied",
                "pipeline/wine-gpu",
            ),
        )
        .await
        .unwrap();

    let settings = settings(&stack);
    let prefix = settings.training.job_prefix.clone();
    let tune = tollgate_fn_tune::Function::new(&stack.aws, &settings).unwrap();
    // The API records a request before it publishes it; the tune step believes the record.
    let request = RunRequest {
        request_id: "req-1".into(),
        pipeline: "wine-gpu".into(),
        dataset_version: None,
        requested_by: UserId::parse("dana").unwrap(),
    };
    let forged = envelope(
        "RunRequested",
        "tollgate",
        serde_json::json!({"pipeline": "wine-gpu", "requested_by": "mallory", "request_id": "req-1"}),
    );
    catalog
        .append_audit(request.record(jiff::Timestamp::now()))
        .await
        .unwrap();
    let refused = tune.handle(event(forged)).await;
    assert!(
        format!("{refused:?}").contains("does not match the request it names"),
        "an event naming another requester than the record starts nothing: {refused:?}"
    );
    let requested = envelope(
        "RunRequested",
        "tollgate",
        serde_json::json!({"pipeline": "wine-gpu", "requested_by": "dana", "request_id": "req-1"}),
    );
    let answer = tune.handle(event(requested.clone())).await.unwrap();
    let run_id = answer[0]["run"].as_str().unwrap().to_owned();
    let run = catalog.run(&run_id).await.unwrap().unwrap();
    let who: Vec<(&str, &str)> = run
        .contributors
        .iter()
        .map(|c| (c.user.as_str(), c.role.as_str()))
        .collect();
    assert_eq!(who[0], ("dana", "requested its run"), "{who:?}");
    assert!(
        who[1].1.starts_with("uploaded wine v1"),
        "the uploader contributed: {who:?}"
    );
    // The same request delivered again is the same run, and starts nothing more.
    let again = tune.handle(event(requested)).await.unwrap();
    assert_eq!(again[0]["run"], run_id.as_str());

    // The first job, as SageMaker recorded the request.
    let first = format!("{run_id}-t000");
    let job = stack
        .sagemaker()
        .describe_training_job()
        .training_job_name(format!("{prefix}{first}"))
        .send()
        .await
        .unwrap();
    let algorithm = job.algorithm_specification().unwrap();
    assert_eq!(algorithm.training_image(), Some(IMAGE));
    // (moto replaces the metric definitions with its own; the adapter's unit tests check them.)
    let resources = job.resource_config().unwrap();
    assert_eq!(
        resources.instance_type().map(|t| t.as_str()),
        Some("ml.g5.xlarge")
    );
    assert_eq!(resources.instance_count(), Some(1));
    assert_eq!(resources.volume_size_in_gb(), Some(30));
    assert_eq!(job.enable_managed_spot_training(), Some(true));
    let stopping = job.stopping_condition().unwrap();
    assert_eq!(stopping.max_runtime_in_seconds(), Some(3600));
    assert_eq!(stopping.max_wait_time_in_seconds(), Some(7200));
    assert_eq!(
        job.checkpoint_config().and_then(|c| c.s3_uri()),
        Some(format!("s3://{}/checkpoints/{prefix}{first}", stack.bucket).as_str()),
        "each job checkpoints in a folder of its own"
    );
    assert_eq!(
        job.output_data_config().and_then(|o| o.s3_output_path()),
        Some(format!("s3://{}/runs/{run_id}", stack.bucket).as_str())
    );
    let hyper = job.hyper_parameters().unwrap();
    assert!(
        hyper.contains_key("alpha") && hyper.contains_key("max_iterations"),
        "{hyper:?}"
    );
    let channels: BTreeSet<&str> = job
        .input_data_config()
        .iter()
        .filter_map(|c| c.channel_name())
        .collect();
    assert_eq!(channels, BTreeSet::from(["test", "train", "validation"]));
    assert!(job.input_data_config().iter().all(|c| {
        c.data_source()
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri())
            .is_some_and(|u| {
                u.starts_with(&format!("s3://{}/datasets/wine/v1/splits/", stack.bucket))
            })
    }));

    // Run the jobs as they start, the first one failing; until the run ends.
    let mut done = BTreeSet::new();
    for _ in 0..10 {
        let run = catalog.run(&run_id).await.unwrap().unwrap();
        if run.status != RunStatus::Running {
            break;
        }
        let started: Vec<String> = run
            .trials
            .iter()
            .filter(|t| t.status.is_active())
            .map(|t| t.job_name.clone())
            .collect();
        for job in started {
            if done.insert(job.clone()) {
                let change = run_job(&stack, &format!("{prefix}{job}"), job == first).await;
                tune.handle(event(change.clone())).await.unwrap();
                // SageMaker may send an event twice: the second changes nothing.
                let twice = tune.handle(event(change)).await.unwrap();
                assert!(twice.is_array(), "{twice}");
            }
        }
    }
    let run = catalog.run(&run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{:#?}", run.notes);
    assert_eq!(run.trials.len(), 3);
    let failed = &run.trials[0];
    assert!(
        failed
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("CUDA out of memory"),
        "the failure reason is kept: {failed:?}"
    );
    assert!(
        run.trials
            .iter()
            .all(|t| t.cost_usd > 0.0 || t.failure.is_some()),
        "billable time is charged"
    );

    let candidate = catalog.model_version("wine-gpu", 1).await.unwrap().unwrap();
    assert_eq!(candidate.trainer, IMAGE, "the lineage names the image");
    assert!(
        candidate.artifact.ends_with("/output/model.tar.gz"),
        "{}",
        candidate.artifact
    );

    // A first evaluation stops right after recording its verdict: the bus is unreachable, as
    // if the process had stopped there. The candidate is tested but not staged, nor announced.
    let cut_short = tollgate_evaluate::Evaluate::new(&tollgate_domain::ports::Ports {
        bus: std::sync::Arc::new(tollgate_aws_tests::Unreachable),
        ..stack.common().ports(&stack.aws).unwrap()
    });
    assert!(cut_short.evaluate("wine-gpu", 1).await.is_err());
    let tested = catalog.model_version("wine-gpu", 1).await.unwrap().unwrap();
    assert_eq!(
        (tested.test.is_some(), tested.stage),
        (true, ModelStage::Candidate),
        "the window: a verdict, and nothing after it"
    );

    // The candidate was announced on the bus; the evaluate function tests it from there, and
    // finishes what the first evaluation left undone.
    let registered = stack.published_event("ModelCandidateRegistered").await;
    let evaluate = tollgate_fn_evaluate::Function::new(&stack.aws, &stack.common()).unwrap();
    let tested = evaluate.handle(event(registered)).await.unwrap();
    assert_eq!(tested["test"]["verdict"], "passed", "{tested}");
    let candidate = catalog.model_version("wine-gpu", 1).await.unwrap().unwrap();
    assert_eq!(candidate.stage, ModelStage::Staging);
    let report = candidate.test_report.expect("a report is recorded");
    let body = stack.object(report.key.as_str()).await.unwrap();
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        report["metrics"]["accuracy"].as_f64().unwrap() > 0.4,
        "{report:#}"
    );
}

/// The stack's schedule asks the tune function for the pipelines due: each pipeline whose
/// `[schedule]` owes a firing at the schedule's time starts its run, once per firing however
/// often it is asked; a pipeline that cannot run is answered, and holds up no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stacks_schedule_starts_each_due_pipeline_once_per_firing() {
    let stack = Stack::new().await;
    ingest_sample(&stack, "wine-2009-a.csv", "incoming/wine/wine-2009-a.csv").await;
    let catalog = stack.catalog();
    let alice = UserId::parse("alice").unwrap();
    let applied_at: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    for (name, dataset) in [("wine-daily", "wine"), ("nothing-yet", "absent")] {
        let text = pipeline(&stack.bucket)
            .replace("name = \"wine-gpu\"", &format!("name = \"{name}\""))
            .replace("dataset = \"wine\"", &format!("dataset = \"{dataset}\""))
            + "\n[schedule]\nevery = \"1d\"\n";
        catalog
            .put_pipeline(
                StoredPipeline {
                    version: 0,
                    pipeline: Pipeline::from_toml(&text).unwrap(),
                    hash: ContentHash::parse(&"cd".repeat(32)).unwrap(),
                    text,
                    applied_by: alice.clone(),
                    applied_at,
                },
                None,
                AuditEvent::new(
                    applied_at,
                    alice.clone(),
                    "pipeline.applied",
                    format!("pipeline/{name}"),
                ),
            )
            .await
            .unwrap();
    }
    let settings = settings(&stack);
    let tune = tollgate_fn_tune::Function::new(&stack.aws, &settings).unwrap();
    let at = |time: &str| {
        let mut scheduled = envelope(
            "Scheduled Event",
            "aws.scheduler",
            serde_json::json!({"due": "pipelines"}),
        );
        scheduled["time"] = time.into();
        event(scheduled)
    };

    // Within the day it was applied, no firing is owed yet.
    let before = tune.handle(at("2026-12-01T23:45:00Z")).await.unwrap();
    assert_eq!(before["started"], serde_json::json!([]), "{before}");

    // The next day's ticks owe midnight's firing: one run, the same one at every tick.
    let first = tune.handle(at("2026-12-02T00:15:00Z")).await.unwrap();
    let started = first["started"].as_array().unwrap();
    assert_eq!(started.len(), 1, "{first}");
    assert_eq!(started[0]["pipeline"], "wine-daily");
    assert_eq!(started[0]["firing"], "2026-12-02T00:00:00Z");
    let refused = first["refused"].as_array().unwrap();
    assert_eq!(refused[0]["pipeline"], "nothing-yet", "{first}");
    assert!(
        refused[0]["reason"].as_str().unwrap().contains("absent"),
        "{first}"
    );
    let again = tune.handle(at("2026-12-02T00:30:00Z")).await.unwrap();
    assert_eq!(again["started"][0]["run"], started[0]["run"], "{again}");
    let runs = catalog.runs(None).await.unwrap();
    assert_eq!(runs.len(), 1, "one run per firing: {runs:?}");

    // A schedule's event that asks for nothing known is answered, never retried.
    let mut unknown = envelope("Scheduled Event", "aws.scheduler", serde_json::json!({}));
    unknown["time"] = "2026-12-02T00:45:00Z".into();
    let answer = tune.handle(event(unknown)).await.unwrap();
    assert!(
        answer["discarded"]
            .as_str()
            .unwrap()
            .contains("\"due\": \"pipelines\""),
        "{answer}"
    );
}
