//! The evaluate function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_of_an_unknown_model_is_answered_not_retried() {
    let stack = Stack::new().await;
    let candidate = serde_json::json!({
        "model": "nope", "version": 1, "run_id": "r", "artifact": "s3://b/k/model/",
        "dataset": "wine", "dataset_version": 1, "content_hash": "ab".repeat(32), "author": "dana"
    });

    let evaluate = invoke(
        env!("CARGO_BIN_EXE_evaluate").as_ref(),
        &stack.function_env(),
        envelope("ModelCandidateRegistered", "tollgate", candidate),
    )
    .await;

    assert!(response(&evaluate)["discarded"].is_string(), "{evaluate:?}");
    evaluate.quick_init("evaluate");
}
