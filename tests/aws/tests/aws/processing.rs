//! An upload too big for the ingest function, on SageMaker Processing: the function creates the
//! job in the stand-in (whose request is checked field by field, as the stand-in keeps it), the
//! job is then "run" as SageMaker would run it (each instance's share of the manifest's objects
//! downloaded under its `/opt/ml`, the ingest's own instance code run on it, its output uploaded
//! to the job's output prefix), and its end is announced with a real "SageMaker Processing Job
//! State Change" event, which finishes the ingest.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_sagemaker::types::{
    ProcessingS3DataDistributionType, ProcessingS3DataType, ProcessingS3UploadMode,
};
use serde_json::Value;
use tollgate_aws::{ProcessingSettings, SageMakerProcessing};
use tollgate_domain::ports::Catalog;
use tollgate_domain::{DatasetName, UploadStatus};
use tollgate_ingest::Processing;

use crate::ingest::ingest_sample;
use crate::tuning::event;
use tollgate_aws_tests::envelope;
use tollgate_aws_tests::standin::{Stack, sample};

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tollgate-processing:0.1";
const ROLE: &str = "arn:aws:iam::123456789012:role/tollgate-processing";
const PREFIX: &str = "dev-";

/// The ingest function with a processing image: every batch goes to a job of two instances.
fn function(stack: &Stack) -> tollgate_fn_ingest::Function {
    let settings = ProcessingSettings {
        role_arn: ROLE.into(),
        image: IMAGE.into(),
        instance_type: "ml.m5.xlarge".into(),
        kms_key: None,
        job_prefix: PREFIX.into(),
    };
    let jobs = SageMakerProcessing::new(&stack.aws, settings);
    tollgate_fn_ingest::Function::new(&stack.aws, &stack.common())
        .unwrap()
        .with_processing(
            jobs.clone(),
            Processing {
                backend: Arc::new(jobs),
                above_bytes: 1,
                instances: 2,
                max_runtime: std::time::Duration::from_secs(3600),
            },
        )
}

/// The sample's header and rows.
fn sample_rows() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(sample("wine-2009-a.csv")).unwrap();
    let mut lines = text.lines().map(str::to_owned);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// Writes the sample's rows as three CSV files under `incoming/wine/<batch>/`, then its
/// `_SUCCESS`, and hands the notifications to the function: the rows written, and the
/// notifications.
async fn upload_batch(
    stack: &Stack,
    function: &tollgate_fn_ingest::Function,
    batch: &str,
) -> (usize, aws_lambda_events::sqs::SqsEvent) {
    let (header, rows) = sample_rows();
    let notifications =
        upload_rows(stack, function, &format!("wine/{batch}"), &header, &rows).await;
    (rows.len(), notifications)
}

/// Writes `rows` under `header` as three CSV files under `incoming/<folder>/`, then its
/// `_SUCCESS`, and hands the notifications to the function: the notifications.
async fn upload_rows(
    stack: &Stack,
    function: &tollgate_fn_ingest::Function,
    folder: &str,
    header: &str,
    rows: &[String],
) -> aws_lambda_events::sqs::SqsEvent {
    let dir = tempfile::tempdir().unwrap();
    let chunks: Vec<&[String]> = rows.chunks(rows.len().div_ceil(3)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let path = dir.path().join(format!("part-{i:05}.csv"));
        std::fs::write(&path, format!("{header}\n{}\n", chunk.join("\n"))).unwrap();
        stack
            .upload(&path, &format!("incoming/{folder}/part-{i:05}.csv"))
            .await;
    }
    let marker = dir.path().join("_SUCCESS");
    std::fs::write(&marker, "").unwrap();
    // S3's LastModified counts whole seconds in a HEAD: the marker is written in a later one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    stack
        .upload(&marker, &format!("incoming/{folder}/_SUCCESS"))
        .await;
    let notifications = stack.receive(&stack.ingest_queue, chunks.len() + 1).await;
    let response = function.batch(notifications.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    notifications
}

/// Runs the job as SageMaker would: each instance's share of the manifest's objects (shared out
/// one by one, so that a share is not a range of names), the settings, the instance code, the
/// output uploaded under the output prefix.
async fn run_as_sagemaker(
    stack: &Stack,
    described: &aws_sdk_sagemaker::operation::describe_processing_job::DescribeProcessingJobOutput,
) {
    let inputs = described.processing_inputs();
    let manifest_uri = inputs[0].s3_input().unwrap().s3_uri().unwrap();
    let settings_uri = inputs[1].s3_input().unwrap().s3_uri().unwrap();
    let output_uri = described.processing_output_config().unwrap().outputs()[0]
        .s3_output()
        .unwrap()
        .s3_uri()
        .unwrap();
    let manifest: Vec<Value> =
        serde_json::from_slice(&stack.object_at(manifest_uri).await).unwrap();
    let prefix = manifest[0]["prefix"].as_str().unwrap();
    let names: Vec<&str> = manifest[1..].iter().map(|n| n.as_str().unwrap()).collect();
    let hosts = ["algo-1", "algo-2"];
    let output_key = output_uri
        .strip_prefix(&format!("s3://{}/", stack.bucket))
        .unwrap();
    for (i, host) in hosts.iter().enumerate() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &Path, bytes: &[u8]| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        write(
            &root.path().join("config/resourceconfig.json"),
            serde_json::json!({ "current_host": host, "hosts": hosts })
                .to_string()
                .as_bytes(),
        );
        write(
            &root.path().join("processing/input/settings/job.json"),
            &stack.object_at(settings_uri).await,
        );
        for name in names.iter().skip(i).step_by(hosts.len()) {
            write(
                &root.path().join("processing/input/data").join(name),
                &stack.object_at(&format!("{prefix}{name}")).await,
            );
        }
        let line = tollgate_ingest::run_instance(root.path()).unwrap();
        assert!(line.starts_with(host), "{line}");
        let out = root.path().join("processing/output");
        for entry in std::fs::read_dir(out.join(host)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            stack
                .upload(&path, &format!("{output_key}/{host}/{name}"))
                .await;
        }
    }
}

/// The processing job of the folder `incoming/<folder>/`: its name in the ingest, its name in
/// SageMaker (the deployment's prefix first), and the request the stand-in keeps.
async fn job_of(
    stack: &Stack,
    folder: &str,
) -> (
    String,
    String,
    aws_sdk_sagemaker::operation::describe_processing_job::DescribeProcessingJobOutput,
) {
    let job = tollgate_ingest::job_name(&format!("{}/incoming/{folder}/", stack.bucket));
    let name = format!("{PREFIX}{job}");
    let described = stack
        .sagemaker()
        .describe_processing_job()
        .processing_job_name(&name)
        .send()
        .await
        .expect("the function created the processing job");
    (job, name, described)
}

/// The outcome of the upload of `key`, which must have one.
async fn upload_of(
    catalog: &impl Catalog,
    dataset: &DatasetName,
    key: &str,
) -> tollgate_domain::UploadRecord {
    let uploads = catalog.uploads(dataset).await.unwrap();
    let found = uploads.into_iter().find(|u| u.source.key.as_str() == key);
    found.unwrap_or_else(|| panic!("{key} has an outcome"))
}

fn state_change(name: &str, status: &str, reason: Option<&str>) -> Value {
    let mut detail = serde_json::json!({
        "ProcessingJobName": name,
        "ProcessingJobStatus": status,
        "ProcessingJobArn": format!("arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}"),
        "RoleArn": ROLE,
    });
    if let Some(reason) = reason {
        detail["FailureReason"] = reason.into();
    }
    envelope(
        "SageMaker Processing Job State Change",
        "aws.sagemaker",
        detail,
    )
}

#[tokio::test]
async fn a_batch_too_big_for_the_function_is_read_by_a_processing_job_and_finished_by_its_end() {
    let stack = Stack::new().await;
    let function = function(&stack);
    let (rows, notifications) = upload_batch(&stack, &function, "b1").await;
    let catalog = stack.catalog();
    let wine = DatasetName::parse("wine").unwrap();
    assert!(
        catalog.versions(&wine).await.unwrap().is_empty(),
        "not yet: a job reads it"
    );

    // The job, as the stand-in keeps its request.
    let (job, name, described) = job_of(&stack, "wine/b1").await;
    assert_eq!(described.role_arn(), Some(ROLE));
    let app = described.app_specification().unwrap();
    assert_eq!(app.image_uri(), Some(IMAGE));
    assert_eq!(app.container_entrypoint(), ["process"]);
    assert_eq!(app.container_arguments(), ["--root", "/opt/ml"]);
    let inputs = described.processing_inputs();
    assert_eq!(inputs.len(), 2);
    let data = inputs[0].s3_input().unwrap();
    assert_eq!(inputs[0].input_name(), Some("data"));
    assert_eq!(
        data.s3_uri(),
        Some(format!("s3://{}/processing/{job}/inputs.manifest", stack.bucket).as_str())
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
    let settings = inputs[1].s3_input().unwrap();
    assert_eq!(inputs[1].input_name(), Some("settings"));
    assert_eq!(
        settings.s3_uri(),
        Some(format!("s3://{}/processing/{job}/job.json", stack.bucket).as_str())
    );
    assert_eq!(
        settings.s3_data_distribution_type(),
        Some(&ProcessingS3DataDistributionType::Fullyreplicated)
    );
    let output = described.processing_output_config().unwrap().outputs()[0]
        .s3_output()
        .unwrap();
    assert_eq!(
        output.s3_uri(),
        Some(format!("s3://{}/processing/{job}/output", stack.bucket).as_str())
    );
    assert_eq!(output.local_path(), Some("/opt/ml/processing/output"));
    assert_eq!(
        output.s3_upload_mode(),
        Some(&ProcessingS3UploadMode::EndOfJob)
    );
    assert_eq!(
        described
            .stopping_condition()
            .and_then(|s| s.max_runtime_in_seconds()),
        Some(3600)
    );
    // The manifest lists exactly the batch's files, below its folder.
    let manifest: Vec<Value> = serde_json::from_slice(
        &stack
            .object(&format!("processing/{job}/inputs.manifest"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest[0]["prefix"],
        format!("s3://{}/incoming/wine/b1/", stack.bucket)
    );
    assert_eq!(
        manifest[1..],
        [
            Value::from("part-00000.csv"),
            "part-00001.csv".into(),
            "part-00002.csv".into()
        ]
    );

    run_as_sagemaker(&stack, &described).await;
    // The state change is lost; the folder's notifications delivered again find the job ended
    // (the stand-in's jobs end at once) and finish the upload.
    let response = function.batch(notifications).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(catalog.versions(&wine).await.unwrap().len(), 1);
    // The state change, late: the same outcome.
    let done = function
        .handle(event(state_change(&name, "Completed", None)))
        .await
        .unwrap();
    assert_eq!(done[0]["status"], "accepted", "{done}");
    let versions = catalog.versions(&wine).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].rows, rows as u64);
    assert_eq!(versions[0].parts, 2, "one Parquet part per instance");
    for i in 0..2 {
        assert!(
            stack
                .object(&format!("datasets/wine/v1/data/part-{i:05}.parquet"))
                .await
                .is_some()
        );
    }
    assert!(
        stack
            .object("datasets/wine/v1/summary.msgpack")
            .await
            .is_some()
    );
    for i in 0..3 {
        assert!(
            stack
                .object(&format!("datasets/wine/v1/original/part-{i:05}.csv"))
                .await
                .is_some(),
            "each file is kept with the version, by copy"
        );
    }
    // The profile is the one the function makes of the same rows as one file.
    ingest_sample(&stack, "wine-2009-a.csv", "incoming/whole/wine-2009-a.csv").await;
    let profile = |dataset: &str| {
        let stack = &stack;
        let key = format!("datasets/{dataset}/v1/profile.json");
        async move { serde_json::from_slice::<Value>(&stack.object(&key).await.unwrap()).unwrap() }
    };
    assert_eq!(profile("wine").await, profile("whole").await);

    // The state change delivered again: the same outcome, one version.
    let again = function
        .handle(event(state_change(&name, "Completed", None)))
        .await
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(catalog.versions(&wine).await.unwrap().len(), 1);
    // Another deployment's job is not this one's.
    let theirs = function
        .handle(event(state_change(
            &format!("prod-{job}"),
            "Completed",
            None,
        )))
        .await
        .unwrap();
    assert_eq!(theirs["ignored"], "another deployment's job");

    // A job that fails: the upload is rejected with the reason, its files kept in quarantine.
    upload_batch(&stack, &function, "b2").await;
    let job2 = tollgate_ingest::job_name(&format!("{}/incoming/wine/b2/", stack.bucket));
    // A second marker while the job has the folder is refused, saying which marker has it.
    let mut listed = Vec::new();
    for i in 0..3 {
        let name = format!("part-{i:05}.csv");
        let size = stack
            .object(&format!("incoming/wine/b2/{name}"))
            .await
            .unwrap()
            .len();
        listed.push(serde_json::json!({ "name": name, "size": size }));
    }
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        manifest.path(),
        serde_json::json!({ "files": listed }).to_string(),
    )
    .unwrap();
    stack
        .upload(manifest.path(), "incoming/wine/b2/_manifest.json")
        .await;
    let response = function
        .batch(stack.receive(&stack.ingest_queue, 1).await)
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let second = upload_of(&catalog, &wine, "incoming/wine/b2/_manifest.json").await;
    assert_eq!(second.status, UploadStatus::Rejected);
    assert!(
        second
            .reasons
            .iter()
            .any(|r| r.contains("is being ingested by its marker")),
        "{:?}",
        second.reasons
    );
    let failed = function
        .handle(event(state_change(
            &format!("{PREFIX}{job2}"),
            "Failed",
            Some("AlgorithmError: the instance ran out of disk"),
        )))
        .await
        .unwrap();
    assert_eq!(failed[0]["status"], "rejected", "{failed}");
    let uploads = catalog.uploads(&wine).await.unwrap();
    let rejected = uploads
        .iter()
        .find(|u| u.status == UploadStatus::Rejected && u.source.key.as_str().ends_with("_SUCCESS"))
        .unwrap();
    assert!(
        rejected
            .reasons
            .iter()
            .any(|r| r.contains("ended Failed: AlgorithmError: the instance ran out of disk")),
        "{:?}",
        rejected.reasons
    );
    assert!(
        stack
            .object(&format!("{}/part-00001.csv", rejected.kept_at.key))
            .await
            .is_some(),
        "the files are in quarantine"
    );
    assert_eq!(catalog.versions(&wine).await.unwrap().len(), 1);
}

/// Runs the job of the folder `incoming/<folder>/` as SageMaker would, then delivers its
/// "Completed" state change: the function's outcome.
async fn finish_job(stack: &Stack, function: &tollgate_fn_ingest::Function, folder: &str) -> Value {
    let (_, name, described) = job_of(stack, folder).await;
    run_as_sagemaker(stack, &described).await;
    function
        .handle(event(state_change(&name, "Completed", None)))
        .await
        .unwrap()
}

/// A column the contract declares unique, across two instances' shares: each instance keeps
/// its values as a sorted run in its output, the finishing step fetches the runs from S3 and
/// merges them, and a value in one share repeating one in the other is found, both rows named.
#[tokio::test]
async fn a_unique_column_is_checked_across_the_instances_shares() {
    let stack = Stack::new().await;
    let function = function(&stack);
    let (header, rows) = sample_rows();
    let header = format!("id,{header}");
    let with_ids = |from: usize| -> Vec<String> {
        let ids = rows.iter().enumerate();
        ids.map(|(i, r)| format!("{},{r}", from + i)).collect()
    };
    upload_rows(&stack, &function, "ids/b1", &header, &with_ids(0)).await;
    let first = finish_job(&stack, &function, "ids/b1").await;
    assert_eq!(first[0]["status"], "accepted", "{first}");
    let ids = DatasetName::parse("ids").unwrap();
    let catalog = stack.catalog();
    let stored = catalog.contract(&ids, None).await.unwrap();
    let contract = stored.expect("v1 made a contract").contract;
    let id = contract.columns.iter().find(|c| c.name == "id").unwrap();
    assert!(id.unique, "{id:?}");

    // The second file's first row (the second instance's share; the first file is the first
    // instance's) repeats the sixth row's id.
    let mut next = with_ids(rows.len());
    let second_file = rows.len().div_ceil(3);
    next[second_file] = format!("{},{}", rows.len() + 5, rows[second_file]);
    upload_rows(&stack, &function, "ids/b2", &header, &next).await;
    let second = finish_job(&stack, &function, "ids/b2").await;
    assert_eq!(second[0]["status"], "rejected", "{second}");
    let upload = upload_of(&catalog, &ids, "incoming/ids/b2/_SUCCESS").await;
    // Rows are numbered in the order of the instances' shares (README): the first instance's
    // two files, then the second's.
    let why = upload.reasons.join("\n");
    let row = rows.len() - second_file + 1;
    assert!(
        why.contains(&format!(
            "row {row}: \"{}\" repeats the value of row 6;",
            rows.len() + 5
        )) && why.contains("(in part-00001.csv, its row 1)"),
        "{why}"
    );
    assert_eq!(catalog.versions(&ids).await.unwrap().len(), 1);
}
