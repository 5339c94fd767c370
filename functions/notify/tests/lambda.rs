//! The notify function's binary, run as Lambda runs it against a Runtime API on 127.0.0.1
//! (`tollgate_aws_tests::runtime`), posting to a receiver on 127.0.0.1. Needs the local AWS
//! stand-in (`bash scripts/test.sh`): a delivery that fails is written to the stack's table.

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::{invoke, response};
use tollgate_aws_tests::standin::Stack;
use tollgate_aws_tests::webhook::{Received, receiver};
use tollgate_domain::ports::Catalog;
use tollgate_notify::Webhook;

/// Whether `received` carries the signature of its timestamp and body under `secret`.
fn signed_with(received: &Received, secret: &[u8]) -> bool {
    let Some(timestamp) = received
        .header("x-tollgate-timestamp")
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return false;
    };
    received.header("x-tollgate-signature")
        == Some(Webhook::signature(secret, timestamp, &received.body).as_str())
}

fn staged(version: u32) -> serde_json::Value {
    envelope(
        "ModelStageChanged",
        "tollgate",
        serde_json::json!({
            "model": "wine", "version": version, "from": "candidate", "to": "staging",
            "actor": "tollgate"
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_waiting_for_approval_is_told_signed_and_a_dead_receiver_is_recorded() {
    let stack = Stack::new().await;
    let (url, received) = receiver(200).await;
    let mut env = stack.function_env();
    env.extend([
        ("TOLLGATE_WEBHOOK_URL", url.clone()),
        ("TOLLGATE_WEBHOOK_SECRET", "shh".to_owned()),
        ("TOLLGATE_CONSOLE_URL", "https://console.example".to_owned()),
        ("TOLLGATE_WEBHOOK_BACKOFF_MS", "10".to_owned()),
    ]);
    let notify = invoke(env!("CARGO_BIN_EXE_notify").as_ref(), &env, staged(3)).await;
    assert_eq!(response(&notify)["sent"], "approval.needed", "{notify:?}");
    notify.quick_init("notify");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:#?}");
    let message: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(
        message["text"],
        "wine v3 passed its model tests and waits for approval \
         https://console.example/models/wine/versions/3"
    );
    assert!(
        signed_with(&got[0], b"shh"),
        "signed with the secret over the timestamp and the body: {got:#?}"
    );

    // An event nobody acts on is not sent.
    let archived = envelope(
        "ModelStageChanged",
        "tollgate",
        serde_json::json!({
            "model": "wine", "version": 1, "from": "production", "to": "archived", "actor": "bo"
        }),
    );
    let notify = invoke(env!("CARGO_BIN_EXE_notify").as_ref(), &env, archived).await;
    assert!(response(&notify)["ignored"].is_string(), "{notify:?}");
    assert_eq!(received.lock().unwrap().len(), 1);

    // A receiver that fails: every try is made, the invocation succeeds (EventBridge does not
    // send it again), and the failure is in the audit trail, without the URL's path.
    let (broken, tries) = receiver(503).await;
    env.retain(|(k, _)| *k != "TOLLGATE_WEBHOOK_URL");
    env.push(("TOLLGATE_WEBHOOK_URL", broken));
    let notify = invoke(env!("CARGO_BIN_EXE_notify").as_ref(), &env, staged(4)).await;
    assert_eq!(response(&notify)["failed"], "approval.needed", "{notify:?}");
    assert_eq!(
        tries.lock().unwrap().len(),
        tollgate_notify::ATTEMPTS as usize
    );
    let trail = stack.catalog().audit(Some("model/wine/v4")).await.unwrap();
    let failed = trail
        .iter()
        .find(|e| e.action == "notification.failed")
        .unwrap_or_else(|| panic!("no failure recorded: {trail:#?}"));
    assert_eq!(failed.details["kind"], "approval.needed");
    assert!(!failed.details["to"].as_str().unwrap().contains("/hooks/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_the_webhook_is_read_from_its_secret_and_a_bad_secret_stops_the_start() {
    let stack = Stack::new().await;
    let (url, received) = receiver(200).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.aws.sdk);
    let stored = |name: String, value: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let arn = stored(
        format!("{}-webhook", stack.table),
        serde_json::json!({"url": url, "secret": "from-the-secret"}).to_string(),
    )
    .await;
    let mut env = stack.function_env();
    env.push(("TOLLGATE_WEBHOOK_SECRET_ARN", arn));
    let notify = invoke(env!("CARGO_BIN_EXE_notify").as_ref(), &env, staged(5)).await;
    assert_eq!(response(&notify)["sent"], "approval.needed", "{notify:?}");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(signed_with(&got[0], b"from-the-secret"), "{got:#?}");

    // A secret without a URL: the function does not start, and says which setting and why.
    let arn = stored(
        format!("{}-broken", stack.table),
        serde_json::json!({"secret": "x"}).to_string(),
    )
    .await;
    let mut env = stack.function_env();
    env.push(("TOLLGATE_WEBHOOK_SECRET_ARN", arn));
    let notify = invoke(env!("CARGO_BIN_EXE_notify").as_ref(), &env, staged(6)).await;
    let said = format!("{notify:?}");
    assert!(
        said.contains("TOLLGATE_WEBHOOK_SECRET_ARN") && said.contains("no \\\"url\\\""),
        "{said}"
    );
}
