//! The ingest function's binary, run as Lambda runs it: its environment, and a Runtime API on
//! 127.0.0.1 (`tollgate_aws_tests::runtime`) that hands it the SQS batch S3 wrote and takes its
//! answer. Needs the local AWS stand-in (`bash scripts/test.sh` starts it).

use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::{Stack, sample};
use tollgate_domain::DatasetName;
use tollgate_domain::ports::Catalog;

const INGEST: &str = env!("CARGO_BIN_EXE_ingest");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_versions_an_upload_from_its_sqs_batch() {
    let stack = Stack::new().await;
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;

    let ingest = invoke(
        INGEST.as_ref(),
        &stack.function_env(),
        serde_json::to_value(&batch).unwrap(),
    )
    .await;

    assert_eq!(
        response(&ingest)["batchItemFailures"],
        serde_json::json!([]),
        "{ingest:?}"
    );
    let wine = DatasetName::parse("wine").unwrap();
    assert!(
        stack.catalog().version(&wine, 1).await.unwrap().is_some(),
        "the ingest function made wine v1"
    );
    ingest.quick_init("ingest");
}

#[tokio::test]
async fn a_function_without_its_settings_refuses_to_start_naming_the_variable() {
    let stack = Stack::new().await;
    let env: Vec<_> = stack
        .function_env()
        .into_iter()
        .filter(|(k, _)| *k != "TOLLGATE_TABLE")
        .collect();

    let invocation = invoke(INGEST.as_ref(), &env, serde_json::json!({})).await;

    let (code, output) = invocation.exited.expect("it exits");
    assert_ne!(code, Some(0));
    assert!(
        output.contains("the environment variable TOLLGATE_TABLE is not set"),
        "{output}"
    );
    assert!(invocation.init.is_none(), "it never asked for an event");
}
