//! The tune function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_an_unknown_pipeline_is_answered_not_retried() {
    let stack = Stack::new().await;
    let unknown =
        serde_json::json!({"pipeline": "nope", "requested_by": "dana", "request_id": "r"});

    let tune = invoke(
        env!("CARGO_BIN_EXE_tune").as_ref(),
        &stack.function_env(),
        envelope("RunRequested", "tollgate", unknown),
    )
    .await;

    assert!(
        response(&tune)["discarded"]
            .as_str()
            .unwrap()
            .contains("no pipeline"),
        "a request that can never succeed is answered, not retried: {tune:?}"
    );
    tune.quick_init("tune");
}
