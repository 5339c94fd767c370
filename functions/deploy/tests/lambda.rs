//! The deploy function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_an_unknown_model_and_another_stacks_endpoint_change_nothing() {
    let stack = Stack::new().await;
    let promoted = serde_json::json!({
        "model": "nope", "version": 1, "from": "staging", "to": "production", "actor": "dana"
    });
    let deploy = invoke(
        env!("CARGO_BIN_EXE_deploy").as_ref(),
        &stack.function_env(),
        envelope("ModelStageChanged", "tollgate", promoted),
    )
    .await;
    assert!(response(&deploy)["nothing"].is_string(), "{deploy:?}");
    deploy.quick_init("deploy");

    let endpoint = serde_json::json!({"EndpointName": "elsewhere", "EndpointStatus": "IN_SERVICE"});
    let deploy = invoke(
        env!("CARGO_BIN_EXE_deploy").as_ref(),
        &stack.function_env(),
        envelope("SageMaker Endpoint State Change", "aws.sagemaker", endpoint),
    )
    .await;
    assert!(response(&deploy)["nothing"].is_string(), "{deploy:?}");
}
