//! The Lambda Runtime API, served on 127.0.0.1 for one invocation: a function's binary started
//! with its environment asks it for an event, gets the one it holds, and posts its answer. The
//! time from starting the process to its first request for an event is its cold init.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;

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

/// The answer of an invocation that responded; panics with the invocation otherwise.
pub fn response(invocation: &Invocation) -> &Value {
    match &invocation.answer {
        Some((kind, body)) if kind == "response" => body,
        _ => panic!("no response: {invocation:?}"),
    }
}

impl Invocation {
    /// Its cold init, checked to be short: the clients are built without a network call
    /// (credentials and endpoints resolve on the first request), so init takes milliseconds
    /// even in a debug build.
    pub fn quick_init(&self, name: &str) -> Duration {
        let init = self.init.expect("it asked for an event");
        println!("{name}: cold init {init:?} (debug build)");
        assert!(
            init < Duration::from_secs(2),
            "{name} took {init:?} to ask for an event"
        );
        init
    }
}
