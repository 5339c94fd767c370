//! The data gate on AWS, end to end: an upload through the S3 API, its notification read from
//! the SQS queue S3 sent it to, the ingest function on Lambda's SQS batch, and what it left in
//! DynamoDB, S3 and on the bus.

use aws_lambda_events::sqs::SqsEvent;
use serde_json::Value;
use tollgate_domain::ports::Catalog;
use tollgate_domain::{DatasetName, UploadStatus};

use tollgate_aws_tests::standin::{Stack, root, sample};

/// Uploads a sample, hands its notification to the ingest function, and returns the batch.
pub async fn ingest_sample(stack: &Stack, file: &str, key: &str) -> SqsEvent {
    stack.upload(&sample(file), key).await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    let response = function.batch(batch.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    batch
}

#[tokio::test]
async fn an_upload_through_s3_becomes_a_version_through_the_queue_and_the_function() {
    let stack = Stack::new().await;
    let file = sample("wine-2009-a.csv");
    let put = stack.upload(&file, "incoming/wine/wine-2009-a.csv").await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let notification: Value =
        serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        notification["Records"][0]["eventName"], "ObjectCreated:Put",
        "S3 wrote its notification to the queue: {notification:#}"
    );

    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    let response = function.batch(batch.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let catalog = stack.catalog();
    let wine = DatasetName::parse("wine").unwrap();
    let version = catalog.version(&wine, 1).await.unwrap().expect("wine v1");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(version.bytes, bytes.len() as u64);
    assert_eq!(
        version.source.version_id.as_deref(),
        put.version_id(),
        "the version records the exact object version it came from"
    );
    assert!(
        catalog.contract(&wine, None).await.unwrap().is_some(),
        "v1 founds the contract"
    );

    let parquet = stack
        .object("datasets/wine/v1/data.parquet")
        .await
        .expect("data.parquet");
    assert!(
        parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"),
        "a Parquet file"
    );
    assert_eq!(
        stack
            .object("datasets/wine/v1/original/wine-2009-a.csv")
            .await
            .unwrap(),
        bytes,
        "the upload is kept byte for byte"
    );
    for file in ["profile.json", "report.json"] {
        assert!(
            stack
                .object(&format!("datasets/wine/v1/{file}"))
                .await
                .is_some(),
            "{file}"
        );
    }
    let published = stack.published(1).await;
    let accepted: Vec<&Value> = published
        .iter()
        .filter(|e| e["detail-type"] == "DatasetVersionAccepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{published:#?}");
    assert_eq!(accepted[0]["source"], "tollgate");
    assert_eq!(accepted[0]["detail"]["version"], 1);
    assert_eq!(
        accepted[0]["detail"]["content_hash"],
        version.content_hash.as_str()
    );

    // The same message delivered again: nothing new.
    let again = function.batch(batch).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(catalog.versions(&wine).await.unwrap().len(), 1);
    assert_eq!(catalog.uploads(&wine).await.unwrap().len(), 1);
    let audit = catalog.audit(Some("dataset/wine/")).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "dataset.version.accepted")
            .count(),
        1
    );
    assert!(
        stack
            .object("incoming/wine/wine-2009-a.csv")
            .await
            .is_some(),
        "the incoming object is never deleted"
    );
}

#[tokio::test]
async fn a_bad_upload_is_quarantined_with_its_report_and_announced() {
    let stack = Stack::new().await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    stack
        .upload(
            &root().join("tests/corpus/ragged_rows.csv"),
            "incoming/credit/batch-7.csv",
        )
        .await;
    let response = function
        .batch(stack.receive(&stack.ingest_queue, 1).await)
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a rejection is not a failure"
    );

    let catalog = stack.catalog();
    let credit = DatasetName::parse("credit").unwrap();
    let uploads = catalog.uploads(&credit).await.unwrap();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(upload.status, UploadStatus::Rejected);
    assert!(
        upload.reasons.iter().any(|r| r.contains("row")),
        "{:?}",
        upload.reasons
    );
    assert!(
        upload
            .kept_at
            .key
            .as_str()
            .starts_with("quarantine/credit/")
    );
    let report = stack
        .object(upload.report.key.as_str())
        .await
        .expect("the report");
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["status"], "rejected");
    assert!(
        stack.object(upload.kept_at.key.as_str()).await.is_some()
            || !stack
                .blobs()
                .client()
                .list_objects_v2()
                .bucket(&stack.bucket)
                .prefix(upload.kept_at.key.as_str())
                .send()
                .await
                .unwrap()
                .contents()
                .is_empty(),
        "the upload is kept in quarantine"
    );
    assert!(catalog.versions(&credit).await.unwrap().is_empty());
    let rejected = stack.published_event("DatasetUploadRejected").await;
    assert_eq!(rejected["detail"]["dataset"], "credit");
    // And people are told, through the stack's rule to the alerts topic.
    if let Some(notices) = stack.notices(1).await {
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].starts_with("An upload of credit by ")
                && notices[0].contains("was rejected and quarantined: ")
                && notices[0].contains("row"),
            "{notices:?}"
        );
    }
}

#[tokio::test]
async fn an_unusable_notification_is_dropped_and_a_retryable_failure_is_delivered_again() {
    let stack = Stack::new().await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    // Not a dataset folder: a retry cannot help, so it is logged and not retried.
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/Not A Dataset/x.csv")
        .await;
    let response = function
        .batch(stack.receive(&stack.ingest_queue, 1).await)
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // A catalog that is not there (a deployment mistake or an outage) fails the message, so
    // SQS keeps it and delivers it again.
    let mut broken = stack.common();
    broken.table = format!("{}-missing", stack.table);
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &broken).unwrap();
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let id = batch.records[0].message_id.clone().unwrap();
    let response = function.batch(batch).await;
    assert_eq!(
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect::<Vec<_>>(),
        vec![id]
    );
}

#[tokio::test]
async fn an_s3_notification_delivered_directly_is_ingested_too() {
    let stack = Stack::new().await;
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    // What S3 would hand a function subscribed to it directly: the notification itself.
    let notification: Value =
        serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    let answer = function
        .handle(lambda_runtime::LambdaEvent::new(
            notification,
            lambda_runtime::Context::default(),
        ))
        .await
        .unwrap();
    assert_eq!(answer[0]["record"]["status"], "accepted", "{answer:#}");
    assert_eq!(answer[0]["record"]["version"], 1);
}

/// PUTs `file` to an upload URL made for `by` (with its signed headers, as a client does) and
/// returns S3's notification of it, as stored by `principal`.
async fn put_through_url(stack: &Stack, file: &str, by: &str, principal: &str) -> Value {
    use tollgate_domain::ports::BlobStore;
    let key = tollgate_domain::BlobKey::parse(&format!("incoming/wine/{file}")).unwrap();
    let by = tollgate_domain::UserId::parse(by).unwrap();
    let put = stack
        .blobs()
        .presign_put(
            &stack.bucket_name(),
            &key,
            std::time::Duration::from_secs(300),
            &by,
        )
        .await
        .unwrap();
    let python = std::env::var("TOLLGATE_STANDIN_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, json, urllib.request\n\
                  h = json.loads(sys.argv[2]); h['Content-Type'] = 'text/csv'\n\
                  body = open(sys.argv[3], 'rb').read()\n\
                  r = urllib.request.Request(sys.argv[1], data=body, method='PUT', headers=h)\n\
                  print(urllib.request.urlopen(r).status)";
    let out = std::process::Command::new(python)
        .args([
            "-c",
            script,
            &put.url,
            &serde_json::to_string(&put.headers).unwrap(),
            sample(file).to_str().unwrap(),
        ])
        .output()
        .expect("python runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let mut notification: Value =
        serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    // What S3 names as the principal of a PUT to a presigned URL: its signer.
    notification["Records"][0]["userIdentity"]["principalId"] = Value::from(principal);
    notification
}

#[tokio::test]
async fn an_upload_through_an_api_url_is_uploaded_by_whom_the_url_was_for() {
    let stack = Stack::new().await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common())
        .unwrap()
        .with_upload_signer("AWS:AROAAPIFUNCTIONROLE:");
    let deliver = |notification: Value| {
        function.handle(lambda_runtime::LambdaEvent::new(
            notification,
            lambda_runtime::Context::default(),
        ))
    };

    // Stored by the API function's role, on a URL made for Bob: Bob uploaded it.
    let signed = put_through_url(
        &stack,
        "wine-2009-a.csv",
        "Bob@Example.com",
        "AWS:AROAAPIFUNCTIONROLE:tollgate-dev-api",
    )
    .await;
    let answer = deliver(signed).await.unwrap();
    assert_eq!(
        answer[0]["record"]["uploaded_by"], "bob@example.com",
        "{answer:#}"
    );

    // Stored by someone else, whatever the metadata says: they uploaded it.
    let other = put_through_url(
        &stack,
        "wine-2009-b.csv",
        "bob@example.com",
        "AWS:AROAMALLORYSROLE:Mallory@Example.com",
    )
    .await;
    let answer = deliver(other).await.unwrap();
    assert_eq!(
        answer[0]["record"]["uploaded_by"], "mallory@example.com",
        "{answer:#}"
    );
    let wine = DatasetName::parse("wine").unwrap();
    let v2 = stack
        .catalog()
        .version(&wine, 2)
        .await
        .unwrap()
        .expect("wine v2");
    assert_eq!(v2.uploaded_by.as_str(), "mallory@example.com");
}

/// A batch folder through S3, as Spark writes one: parts, then `_SUCCESS`. Each object's
/// notification reaches the function through the queue (in whatever order SQS gives them); the
/// marker's makes one version of all the parts, the parts' own change nothing, and a part
/// written after the marker is its own rejected upload.
#[tokio::test]
async fn a_folder_of_parts_becomes_one_version_and_a_late_part_is_rejected() {
    let stack = Stack::new().await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    let text = std::fs::read_to_string(sample("wine-2009-a.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Vec::new();
    for (i, chunk) in rows.chunks(300).enumerate() {
        let path = dir.path().join(format!("part-{i:05}.csv"));
        std::fs::write(&path, format!("{header}\n{}\n", chunk.join("\n"))).unwrap();
        stack
            .upload(&path, &format!("incoming/wine/2026-12-04/part-{i:05}.csv"))
            .await;
        parts.push(path);
    }
    let marker = dir.path().join("_SUCCESS");
    std::fs::write(&marker, "").unwrap();
    // S3's LastModified counts whole seconds in a HEAD: the marker is written in a later one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    stack
        .upload(&marker, "incoming/wine/2026-12-04/_SUCCESS")
        .await;
    let batch = stack.receive(&stack.ingest_queue, parts.len() + 1).await;
    let response = function.batch(batch).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let catalog = stack.catalog();
    let wine = DatasetName::parse("wine").unwrap();
    let versions = catalog.versions(&wine).await.unwrap();
    assert_eq!(versions.len(), 1, "one version of the folder");
    assert_eq!(versions[0].rows, rows.len() as u64);
    assert_eq!(
        versions[0].source.key.as_str(),
        "incoming/wine/2026-12-04/_SUCCESS"
    );
    for (i, path) in parts.iter().enumerate() {
        assert_eq!(
            stack
                .object(&format!("datasets/wine/v1/original/part-{i:05}.csv"))
                .await
                .expect("each part is kept with the version"),
            std::fs::read(path).unwrap()
        );
    }
    let report: Value = serde_json::from_slice(
        &stack
            .object("datasets/wine/v1/report.json")
            .await
            .expect("the report"),
    )
    .unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), parts.len());

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    stack
        .upload(&parts[0], "incoming/wine/2026-12-04/part-late.csv")
        .await;
    let response = function
        .batch(stack.receive(&stack.ingest_queue, 1).await)
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let uploads = catalog.uploads(&wine).await.unwrap();
    let late = uploads
        .iter()
        .find(|u| u.source.key.as_str().ends_with("part-late.csv"))
        .expect("the late part is an upload of its own");
    assert_eq!(late.status, UploadStatus::Rejected);
    assert!(
        late.reasons
            .iter()
            .any(|r| r.contains("became v1 without it")),
        "{:?}",
        late.reasons
    );
    assert!(stack.object(late.kept_at.key.as_str()).await.is_some());
    assert_eq!(catalog.versions(&wine).await.unwrap().len(), 1);
}
