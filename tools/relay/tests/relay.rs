//! The relay's binary on a stack in the stand-in, as a person runs it: an `aws s3 cp`-style upload
//! becomes a version, the version starts the pipeline's run, its trials train here, the candidate
//! is tested and the team's webhook is told it waits for approval; stopped, the relay leaves the
//! stack as it found it. Needs the local AWS stand-in
//! (`bash scripts/test.sh` starts it).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tollgate_aws_tests::standin::{Stack, endpoint, sample};
use tollgate_aws_tests::webhook::receiver;
use tollgate_domain::ports::Catalog;
use tollgate_domain::{DatasetName, RunStatus, UserId};

const RELAY: &str = env!("CARGO_BIN_EXE_tollgate-relay");

const PIPELINE: &str = r#"name = "wine-quality"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
metric = "accuracy"

[search]
strategy = "random"
seed = 3
[search.space]
alpha = { type = "log_uniform", low = 1e-3, high = 1.0 }

[budget]
max_trials = 2
max_parallel = 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_to_the_stacks_bucket_is_versioned_trained_and_tested_by_the_relay() {
    let stack = Stack::new().await;
    let keys = tempfile::tempdir().unwrap();
    let (hook, told) = receiver(200).await;

    let mut relay = tokio::process::Command::new(RELAY)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("TOLLGATE_BUCKET", &stack.bucket)
        .env("TOLLGATE_TABLE", &stack.table)
        .env("TOLLGATE_EVENT_BUS", &stack.bus)
        .env("TOLLGATE_INGEST_QUEUE", &stack.ingest_queue)
        .env("TOLLGATE_WEBHOOK_URL", &hook)
        .env_remove("TOLLGATE_SAGEMAKER_ROLE_ARN")
        .args(["--monitor-every", "0", "--api-port", "0", "--data-dir"])
        .arg(keys.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the relay starts");
    let mut lines = BufReader::new(relay.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        said.push(line);
        if said.last().unwrap().contains("Ctrl-C stops them.") {
            break;
        }
    }
    let started = said.join("\n");
    assert!(started.contains("Ctrl-C stops them."), "{started}");
    // What it reads, said at its start: the ingest queue and a rule per function.
    let rule = format!("{}-relay-tune", stack.bucket);
    assert!(started.contains(&rule), "{started}");
    assert!(started.contains("notify   ← bus"), "{started}");
    // The API function, served where API Gateway would: a pipeline applied through it, as
    // `tollgate --api URL pipeline apply` does, by someone holding a token of the key's.
    let api = started
        .lines()
        .find(|l| l.trim_start().starts_with("api "))
        .unwrap_or_default()
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(|w| w.trim_end_matches([',', ')']))
        .unwrap_or_else(|| panic!("no API address said: {started}"))
        .to_owned();
    let tokens = tollgate_api::LocalTokens::of_dir(keys.path()).unwrap();
    let ana = tokens.issue(
        &UserId::parse("ana").unwrap(),
        &["editors".to_owned()],
        jiff::Timestamp::now(),
        Duration::from_secs(600),
    );
    let applied = post(&format!("{api}/api/v1/pipelines"), &ana, PIPELINE).await;
    assert!(applied.starts_with("HTTP/1.1 20"), "{applied}");
    let anonymous = post(&format!("{api}/api/v1/pipelines"), "forged", PIPELINE).await;
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    let rest = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    });

    // As `aws s3 cp` would: the relay sees the stack's S3 notification and nothing else.
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;

    let catalog = stack.catalog();
    let wine = DatasetName::parse("wine").unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let tested = loop {
        assert!(
            Instant::now() < deadline,
            "no tested candidate within 4 minutes; runs: {:?}",
            catalog.runs(None).await.unwrap()
        );
        if let Some(model) = catalog
            .model_version("wine-quality", 1)
            .await
            .unwrap()
            .filter(|m| m.test.is_some())
        {
            break model;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(catalog.version(&wine, 1).await.unwrap().is_some());
    let runs = catalog.runs(Some("wine-quality")).await.unwrap();
    assert_eq!(runs.len(), 1, "one version, one run: {runs:?}");
    assert_eq!(runs[0].status, RunStatus::Succeeded, "{:?}", runs[0]);
    assert_eq!(runs[0].trials.len(), 2);
    assert_eq!(tested.dataset_version, 1);
    // The candidate passed and waits for approval: the notify function told the webhook.
    let deadline = Instant::now() + Duration::from_secs(30);
    let asked = loop {
        let got = told.lock().unwrap().clone();
        if let Some(r) = got.iter().find(|r| r.body.contains("\"approval.needed\"")) {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "no approval asked for: {got:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        asked
            .body
            .contains("wine-quality v1 passed its model tests and waits for approval"),
        "{asked:?}"
    );

    // Stopped as Ctrl-C stops it: its rules and queues are gone.
    let pid = relay.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), relay.wait())
        .await
        .expect("the relay stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let said = rest.await.unwrap().join("\n");
    assert!(
        said.contains("evaluate ← ModelCandidateRegistered"),
        "{said}"
    );
    assert!(said.contains("rules and queues are deleted"), "{said}");
    let events = aws_sdk_eventbridge::Client::new(&stack.aws.sdk);
    let rules = events
        .list_rules()
        .event_bus_name(&stack.bus)
        .name_prefix(&rule)
        .send()
        .await
        .unwrap();
    assert!(rules.rules().is_empty(), "{:?}", rules.rules());
    let queues = stack
        .sqs()
        .list_queues()
        .queue_name_prefix(format!("{}-relay", stack.bucket))
        .send()
        .await
        .unwrap();
    assert!(queues.queue_urls().is_empty(), "{:?}", queues.queue_urls());
}

/// A POST of a TOML body with a bearer token; the whole answer, status line first.
async fn post(url: &str, token: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}
