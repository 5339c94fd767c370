//! The monitor function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`). Needs the local AWS stand-in (`bash scripts/test.sh`).

use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_check_with_nothing_in_production_reports_nothing() {
    let stack = Stack::new().await;
    let schedule = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-02T06:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/tollgate-monitor"],
        "detail": {}
    });

    let monitor = invoke(
        env!("CARGO_BIN_EXE_monitor").as_ref(),
        &stack.function_env(),
        schedule,
    )
    .await;

    assert_eq!(
        response(&monitor),
        &serde_json::json!([]),
        "no model in production yet: {monitor:?}"
    );
    monitor.quick_init("monitor");
}
