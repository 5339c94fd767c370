//! The functions' Lambda mains, run as Lambda runs them: the binary with its environment, and a
//! Runtime API on 127.0.0.1 that hands it one event and takes its answer. The time from starting
//! the process to its first request for an event is its cold init.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;

use crate::standin::{Stack, binary, endpoint, root, sample};
use crate::tuning::envelope;

#[derive(Default)]
struct Shared {
    event: Option<Value>,
    asked: Option<Instant>,
    answer: Option<(String, Value)>,
}

type Api = Arc<Mutex<Shared>>;

async fn next(State(api): State<Api>) -> (StatusCode, HeaderMap, String) {
    let event = {
        let mut shared = api.lock().unwrap();
        shared.asked.get_or_insert_with(Instant::now);
        shared.event.take()
    };
    let Some(event) = event else {
        // One event per process: the next request waits until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 900_000;
    for (name, value) in [
        (
            "lambda-runtime-aws-request-id",
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned(),
        ),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:tollgate".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700".to_owned(),
        ),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    (StatusCode::OK, headers, event.to_string())
}

async fn answered(api: Api, kind: &str, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.lock().unwrap().answer = Some((kind.to_owned(), value));
    StatusCode::ACCEPTED
}

/// What one invocation of a function's binary gave.
#[derive(Debug)]
pub struct Invocation {
    /// From starting the process to its first request for an event.
    pub init: Option<Duration>,
    /// `response` or `error`, and the body.
    pub answer: Option<(String, Value)>,
    /// When the process ended before answering: its exit and its output.
    pub exited: Option<(Option<i32>, String)>,
}

/// Starts `bootstrap` with `env` against a Runtime API holding `event`; returns once it answered
/// (or exited), and stops it.
pub async fn invoke(bootstrap: &Path, env: &[(&str, String)], event: Value) -> Invocation {
    let api: Api = Arc::new(Mutex::new(Shared {
        event: Some(event),
        ..Shared::default()
    }));
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(
                |State(api): State<Api>, UrlPath(_id): UrlPath<String>, body: String| {
                    answered(api, "response", body)
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |State(api): State<Api>, UrlPath(_id): UrlPath<String>, body: String| {
                    answered(api, "error", body)
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(api): State<Api>, body: String| answered(api, "init-error", body)),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let logs = tempfile::NamedTempFile::new().unwrap();
    let mut command = tokio::process::Command::new(bootstrap);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "tollgate-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/tollgate-test")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/02/[$LATEST]0123456789",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(logs.reopen().unwrap())
        .stderr(logs.reopen().unwrap())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let mut exited = None;
    for _ in 0..1200 {
        if api.lock().unwrap().answer.is_some() {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some((
                status.code(),
                std::fs::read_to_string(logs.path()).unwrap_or_default(),
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    server.abort();
    let shared = api.lock().unwrap();
    Invocation {
        init: shared.asked.map(|at| at - started),
        answer: shared.answer.clone(),
        exited,
    }
}

fn settings(stack: &Stack) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("TOLLGATE_BUCKET", stack.bucket.clone()),
        ("TOLLGATE_TABLE", stack.table.clone()),
        ("TOLLGATE_EVENT_BUS", stack.bus.clone()),
        ("TOLLGATE_WORK_DIR", stack.work_dir.display().to_string()),
        (
            "TOLLGATE_SAGEMAKER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/tollgate-training".into(),
        ),
    ]
}

fn response(invocation: &Invocation) -> &Value {
    match &invocation.answer {
        Some((kind, body)) if kind == "response" => body,
        _ => panic!("no response: {invocation:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_starts_and_answers_an_event_through_the_runtime_api() {
    let stack = Stack::new().await;
    let env = settings(&stack);

    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let ingest = invoke(
        &binary("ingest"),
        &env,
        serde_json::to_value(&batch).unwrap(),
    )
    .await;
    assert_eq!(
        response(&ingest)["batchItemFailures"],
        serde_json::json!([]),
        "{ingest:?}"
    );
    let wine = tollgate_domain::DatasetName::parse("wine").unwrap();
    assert!(
        tollgate_domain::ports::Catalog::version(&stack.catalog(), &wine, 1)
            .await
            .unwrap()
            .is_some(),
        "the ingest function made wine v1"
    );

    let unknown =
        serde_json::json!({"pipeline": "nope", "requested_by": "dana", "request_id": "r"});
    let tune = invoke(
        &binary("tune"),
        &env,
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

    let candidate = serde_json::json!({
        "model": "nope", "version": 1, "run_id": "r", "artifact": "s3://b/k/model/",
        "dataset": "wine", "dataset_version": 1, "content_hash": "ab".repeat(32), "author": "dana"
    });
    let evaluate = invoke(
        &binary("evaluate"),
        &env,
        envelope("ModelCandidateRegistered", "tollgate", candidate),
    )
    .await;
    assert!(response(&evaluate)["discarded"].is_string(), "{evaluate:?}");

    let mut anonymous: Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-approve.json")).unwrap();
    anonymous["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let promote = invoke(&binary("promote"), &env, anonymous).await;
    assert_eq!(response(&promote)["statusCode"], 401, "{promote:?}");

    let schedule = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-02T06:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/tollgate-monitor"],
        "detail": {}
    });
    let monitor = invoke(&binary("monitor"), &env, schedule).await;
    assert_eq!(
        response(&monitor),
        &serde_json::json!([]),
        "no model in production yet: {monitor:?}"
    );

    for (name, invocation) in [
        ("ingest", &ingest),
        ("tune", &tune),
        ("evaluate", &evaluate),
        ("promote", &promote),
        ("monitor", &monitor),
    ] {
        let init = invocation.init.expect("it asked for an event");
        println!("{name}: cold init {init:?} (debug build)");
        // The clients are built without a network call: credentials and endpoints resolve on
        // the first request, so init is a matter of milliseconds even unoptimized.
        assert!(
            init < Duration::from_secs(2),
            "{name} took {init:?} to ask for an event"
        );
    }
}

#[tokio::test]
async fn a_function_without_its_settings_refuses_to_start_naming_the_variable() {
    let stack = Stack::new().await;
    let env: Vec<_> = settings(&stack)
        .into_iter()
        .filter(|(k, _)| *k != "TOLLGATE_TABLE")
        .collect();
    let invocation = invoke(&binary("ingest"), &env, serde_json::json!({})).await;
    let (code, output) = invocation.exited.expect("it exits");
    assert_ne!(code, Some(0));
    assert!(
        output.contains("the environment variable TOLLGATE_TABLE is not set"),
        "{output}"
    );
    assert!(invocation.init.is_none(), "it never asked for an event");
}

/// The packaged functions (`bash scripts/package.sh`): each zip's size and each bootstrap's
/// cold init, the median of `TOLLGATE_INIT_RUNS` starts, written to `TOLLGATE_PACKAGE_REPORT`.
#[tokio::test]
#[ignore = "run by scripts/package.sh on the release bootstraps"]
async fn cold_init_of_the_packaged_functions() {
    let dir = std::env::var("TOLLGATE_BOOTSTRAP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("target/lambda"));
    let runs: usize = std::env::var("TOLLGATE_INIT_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let env = vec![
        ("TOLLGATE_BUCKET", "tollgate-data".to_owned()),
        ("TOLLGATE_TABLE", "tollgate-catalog".to_owned()),
        ("TOLLGATE_EVENT_BUS", "tollgate-bus".to_owned()),
        (
            "TOLLGATE_SAGEMAKER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/tollgate-training".into(),
        ),
        // Never called: the event is answered before any request would go out.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
    ];
    let mut report = serde_json::Map::new();
    for name in ["ingest", "tune", "evaluate", "promote", "monitor"] {
        let bootstrap = dir.join(name).join("bootstrap");
        let zip = dir.join(name).join("bootstrap.zip");
        assert!(
            bootstrap.exists(),
            "{} is missing: run scripts/package.sh",
            bootstrap.display()
        );
        let mut inits = Vec::new();
        for _ in 0..runs {
            // An event each function ignores at once: only the start is measured.
            let ignored = envelope("Nothing", "someone.else", serde_json::json!({}));
            let invocation = invoke(&bootstrap, &env, ignored).await;
            inits.push(
                invocation
                    .init
                    .expect("it asked for an event")
                    .as_secs_f64()
                    * 1000.0,
            );
        }
        inits.sort_by(f64::total_cmp);
        let median = inits[inits.len() / 2];
        let size = std::fs::metadata(&zip).map(|m| m.len()).unwrap_or_default();
        println!(
            "{name}: zip {:.1} MB, cold init median {median:.1} ms ({runs} starts)",
            size as f64 / 1e6
        );
        report.insert(
            name.to_owned(),
            serde_json::json!({"zip_bytes": size, "init_ms_median": median, "init_ms": inits}),
        );
    }
    if let Ok(out) = std::env::var("TOLLGATE_PACKAGE_REPORT") {
        std::fs::write(
            out,
            serde_json::to_vec_pretty(&Value::Object(report)).unwrap(),
        )
        .unwrap();
    }
}
