//! A stack of Tollgate's resources in the stand-in, made for one test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use serde_json::Value;
use tollgate_aws::AwsConfig;
use tollgate_domain::BucketName;
use tollgate_lambda::Common;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The stand-in's endpoint. The tests refuse to run against anything but a loopback address:
/// they create and delete resources.
pub fn endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need the local AWS stand-in. Run them with \
             `bash scripts/test.sh`, or start it yourself: eval \"$(bash localstack/start.sh)\""
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL={endpoint} is not a local stand-in; these tests only run against one"
    );
    endpoint
}

/// One test's resources: a stack named `<prefix>` created from `infra/template.yaml` in the
/// stand-in's CloudFormation when `TOLLGATE_STANDIN_TEMPLATE` names infra/check.sh's output
/// directory (as `scripts/test.sh` sets it), else the same resources made one by one by
/// `localstack/provision.py`; plus a queue that receives every event on the bus.
#[derive(Debug, Clone)]
pub struct Stack {
    pub aws: AwsConfig,
    pub bucket: String,
    pub table: String,
    pub bus: String,
    pub ingest_queue: String,
    pub events_queue: String,
    /// Where the template's notice rules deliver in the alerts topic's stead (only on the
    /// template's own stack: `provision.py` makes no notice rules).
    pub alerts_queue: Option<String>,
    pub work_dir: PathBuf,
    _work: std::sync::Arc<tempfile::TempDir>,
}

impl Stack {
    pub async fn new() -> Self {
        // The handlers' logs, shown with a failing test's output (`RUST_LOG` to change the level).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with_test_writer()
            .try_init();
        let endpoint = endpoint();
        let prefix = format!(
            "t{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 0xfff_ffff_ffff
        );
        let python = std::env::var("TOLLGATE_STANDIN_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut command = Command::new(&python);
        let script = match std::env::var_os("TOLLGATE_STANDIN_TEMPLATE") {
            // The stack as infra/template.yaml makes it (translated by infra/check.sh).
            Some(dir) => {
                let dir = PathBuf::from(dir);
                command
                    .arg(root().join("infra/standin_stack.py"))
                    .arg("--template")
                    .arg(dir.join("translated-dev.json"))
                    .arg("--params")
                    .arg(dir.join("samconfig.json"))
                    .args(["--stack", &prefix, "--observe"]);
                "infra/standin_stack.py"
            }
            // Without the translated template (cargo test run by hand): the same resources,
            // made one by one.
            None => {
                command
                    .arg(root().join("localstack/provision.py"))
                    .args(["--prefix", &prefix]);
                "localstack/provision.py"
            }
        };
        let out = command
            .args(["--endpoint", &endpoint])
            .output()
            .unwrap_or_else(|e| panic!("running {python} {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
        let work = tempfile::tempdir().unwrap();
        Self {
            aws: tollgate_aws::sdk_config(Some(&endpoint)).await,
            bucket: names["bucket"].as_str().unwrap().to_owned(),
            table: names["table"].as_str().unwrap().to_owned(),
            bus: names["bus"].as_str().unwrap().to_owned(),
            ingest_queue: names["ingest_queue_url"].as_str().unwrap().to_owned(),
            events_queue: names["events_queue_url"].as_str().unwrap().to_owned(),
            alerts_queue: names["alerts_queue_url"].as_str().map(str::to_owned),
            work_dir: work.path().to_owned(),
            _work: std::sync::Arc::new(work),
        }
    }

    /// The settings a function of this stack is started with, as the template sets them.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint()),
            ("TOLLGATE_BUCKET", self.bucket.clone()),
            ("TOLLGATE_TABLE", self.table.clone()),
            ("TOLLGATE_EVENT_BUS", self.bus.clone()),
            ("TOLLGATE_WORK_DIR", self.work_dir.display().to_string()),
            (
                "TOLLGATE_SAGEMAKER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/tollgate-training".into(),
            ),
        ]
    }

    pub fn common(&self) -> Common {
        Common {
            bucket: self.bucket.clone(),
            table: self.table.clone(),
            bus: self.bus.clone(),
            work_dir: self.work_dir.clone(),
            kms_key: None,
        }
    }

    pub fn bucket_name(&self) -> BucketName {
        BucketName::parse(&self.bucket).unwrap()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.aws.sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws.sdk)
    }

    pub fn sagemaker(&self) -> aws_sdk_sagemaker::Client {
        aws_sdk_sagemaker::Client::new(&self.aws.sdk)
    }

    pub fn catalog(&self) -> tollgate_aws::DynamoCatalog {
        tollgate_aws::DynamoCatalog::new(&self.aws, &self.table)
    }

    pub fn blobs(&self) -> tollgate_aws::S3BlobStore {
        tollgate_aws::S3BlobStore::new(&self.aws, &self.work_dir)
    }

    /// The object at `key` of the stack's bucket, if there is one.
    pub async fn object(&self, key: &str) -> Option<bytes::Bytes> {
        let out = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.unwrap().into_bytes())
    }

    /// The object an `s3://bucket/key` URI of the stack's bucket names.
    pub async fn object_at(&self, uri: &str) -> bytes::Bytes {
        let key = uri
            .strip_prefix(&format!("s3://{}/", self.bucket))
            .unwrap_or_else(|| panic!("{uri} is not in the stack's bucket"));
        self.object(key)
            .await
            .unwrap_or_else(|| panic!("{uri} does not exist"))
    }

    /// Uploads `file` to `key`, as `aws s3 cp` would.
    pub async fn upload(
        &self,
        file: &Path,
        key: &str,
    ) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
        self.s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(
                aws_sdk_s3::primitives::ByteStream::from_path(file)
                    .await
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
    }

    /// The messages `queue` has now (waiting up to a second for one), deleted from it.
    async fn take(&self, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs()
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            self.sqs()
                .delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        out.messages.unwrap_or_default()
    }

    /// Waits for `count` messages of `queue` and returns them as Lambda's SQS event.
    pub async fn receive(&self, queue: &str, count: usize) -> SqsEvent {
        let mut records = Vec::new();
        for _ in 0..50 {
            for m in self.take(queue).await {
                // S3 sends one when a notification is configured; the ingest function skips it.
                if m.body().is_some_and(|b| b.contains("\"s3:TestEvent\"")) {
                    continue;
                }
                let body = self.as_s3_sends_it(m.body().unwrap_or_default()).await;
                let arn = format!(
                    "arn:aws:sqs:us-east-1:123456789012:{}",
                    queue.rsplit('/').next().unwrap()
                );
                records.push(tollgate_relay::lambda_sqs_record(&m, body, &arn));
            }
            if records.len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            records.len() >= count,
            "expected {count} messages on {queue}, got {}",
            records.len()
        );
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    /// An S3 notification as S3 sends it, with the uploader a real one names (see
    /// [`tollgate_relay::as_s3_sends_it`]).
    async fn as_s3_sends_it(&self, body: &str) -> String {
        tollgate_relay::as_s3_sends_it(
            &self.s3(),
            &self.bucket,
            body,
            Some("AWS:AIDAEXAMPLEUPLOADER"),
        )
        .await
    }

    /// The Tollgate events published on the bus since the last call (the stack's rule copies
    /// them to its events queue), as EventBridge delivered them.
    pub async fn published(&self, at_least: usize) -> Vec<Value> {
        let batch = self.receive(&self.events_queue, at_least).await;
        batch
            .records
            .iter()
            .map(|r| serde_json::from_str(r.body.as_deref().unwrap()).unwrap())
            .collect()
    }

    /// The notices the alerts topic got since the last look, as its subscribers read them,
    /// waiting for at least `at_least`; `None` on a stack without the template's rules. The
    /// stand-in's queue receives the rule's name and the event it matched, and the rule's input
    /// transformer is applied here, from the template (see [`transform`]).
    pub async fn notices(&self, at_least: usize) -> Option<Vec<String>> {
        let queue = self.alerts_queue.as_ref()?;
        let template = translated_template().expect("the template's rules made the queue");
        let mut notices = Vec::new();
        for _ in 0..50 {
            for m in self.take(queue).await {
                let matched: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                let rule = matched["rule"].as_str().unwrap();
                let transformer =
                    &template["Resources"][rule]["Properties"]["Targets"][0]["InputTransformer"];
                notices.push(transform(transformer, &matched["event"]));
            }
            if notices.len() >= at_least {
                break;
            }
        }
        assert!(
            notices.len() >= at_least,
            "expected {at_least} notices, got {notices:?}"
        );
        Some(notices)
    }

    /// The first event of `detail_type` published since the last look, waiting for it.
    pub async fn published_event(&self, detail_type: &str) -> Value {
        let mut seen = Vec::new();
        for _ in 0..10 {
            let events = self.published(1).await;
            if let Some(e) = events.iter().find(|e| e["detail-type"] == detail_type) {
                return e.clone();
            }
            seen.extend(events);
        }
        panic!("no {detail_type} was published; these were: {seen:#?}")
    }
}

/// infra/check.sh's translation of the template for `dev`, when the tests run on it.
pub fn translated_template() -> Option<Value> {
    let dir = PathBuf::from(std::env::var_os("TOLLGATE_STANDIN_TEMPLATE")?);
    let text = std::fs::read_to_string(dir.join("translated-dev.json")).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

/// What EventBridge sends a target for `event` through an input `transformer` whose template
/// is a string: each `<name>` replaced by the value at its path (`$.detail.reasons[0]`),
/// strings escaped as JSON; the template's text. A path that finds nothing fails the test: on
/// AWS the placeholder would go out empty.
pub fn transform(transformer: &Value, event: &Value) -> String {
    let mut template = transformer["InputTemplate"].as_str().unwrap().to_owned();
    for (name, path) in transformer["InputPathsMap"].as_object().unwrap() {
        let path = path.as_str().unwrap();
        let mut at = event;
        for step in path.strip_prefix("$.").unwrap().split('.') {
            let (key, index) = match step.split_once('[') {
                Some((key, i)) => (key, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
                None => (step, None),
            };
            at = &at[key];
            if let Some(i) = index {
                at = &at[i];
            }
        }
        let value = match at {
            Value::String(s) => {
                let quoted = serde_json::to_string(s).unwrap();
                quoted[1..quoted.len() - 1].to_owned()
            }
            Value::Number(n) => n.to_string(),
            other => panic!("{path} finds {other} in {event}"),
        };
        template = template.replace(&format!("<{name}>"), &value);
    }
    serde_json::from_str(&template).unwrap_or_else(|e| panic!("{template}: {e}"))
}

/// A sample data file of the repository.
pub fn sample(name: &str) -> PathBuf {
    root().join("samples/wine").join(name)
}
