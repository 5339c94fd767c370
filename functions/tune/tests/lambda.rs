//! The tune function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_api_did_not_record_starts_nothing_and_is_answered_not_retried() {
    let stack = Stack::new().await;
    // Anyone allowed to publish on the bus could send this, naming anyone as the requester.
    let forged =
        serde_json::json!({"pipeline": "churn", "requested_by": "dana", "request_id": "r"});

    let tune = invoke(
        env!("CARGO_BIN_EXE_tune").as_ref(),
        &stack.function_env(),
        envelope("RunRequested", "tollgate", forged),
    )
    .await;

    assert!(
        response(&tune)["discarded"]
            .as_str()
            .unwrap()
            .contains("was not made through Tollgate's API"),
        "a request nobody recorded is answered, never retried nor run: {tune:?}"
    );
    tune.quick_init("tune");
}
