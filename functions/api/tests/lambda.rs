//! The API function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use serde_json::Value;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_token_is_refused_with_401() {
    let stack = Stack::new().await;
    let mut anonymous: Value = serde_json::from_str(include_str!(
        "../../../tests/aws/fixtures/apigw-approve.json"
    ))
    .unwrap();
    anonymous["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");

    let api = invoke(
        env!("CARGO_BIN_EXE_api").as_ref(),
        &stack.function_env(),
        anonymous,
    )
    .await;

    assert_eq!(response(&api)["statusCode"], 401, "{api:?}");
    api.quick_init("api");
}
