//! The stack's functions on this machine, as Lambda runs them: the local equivalent of Lambda,
//! so that the whole AWS path (S3, the queues, EventBridge, DynamoDB) can be watched on a laptop,
//! against the stand-in or an account.
//!
//! What Lambda would be handed, the relay reads and hands to the same `Function`s the Lambda
//! binaries run (`functions/*`):
//!
//! - the **ingest queue**'s S3 notifications, in batches of up to ten, to the ingest function;
//!   the messages it reports as failures stay on the queue and come back, as with Lambda's
//!   event source mapping;
//! - the **stack's bus**: for each function a rule with the pattern of its rule in the template
//!   and a queue as its target, made when the relay starts and deleted when it stops (a relay
//!   killed leaves them; the next start takes them over). A retryable failure leaves the event
//!   on its queue to come back after the visibility timeout; after [`MAX_RECEIVES`] deliveries
//!   it is dropped and said, as the template's retry policy gives up;
//! - the **schedules** (EventBridge Scheduler's, which the stand-in accepts and never fires):
//!   the ingest sweep and the pipelines' schedules every 15 minutes, the monitor as often as
//!   asked.
//!
//! Trials run either here, as `trainer` subprocesses reading from and writing to the stack's
//! bucket and reporting on its bus ([`Trainer::Local`], what the stand-in needs: its SageMaker
//! runs no job), or as SageMaker training jobs whose state changes come from the default bus.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tollgate_aws::{AwsConfig, TrainingSettings};
use tollgate_domain::events::EVENT_SOURCE;
use tollgate_lambda::Common;

/// Deliveries of one event before it is dropped (the template's `MaximumRetryAttempts`, 20).
pub const MAX_RECEIVES: i32 = 21;

/// How long a message being handled is hidden from the next receive.
const VISIBILITY: Duration = Duration::from_secs(60);

/// The SageMaker detail-type of a training job's end, which the local trainer publishes too.
const JOB_STATE_CHANGE: &str = "SageMaker Training Job State Change";

/// Where trials run.
#[derive(Debug, Clone)]
pub enum Trainer {
    /// `trainer train` subprocesses on this machine, `parallel` at once.
    Local { program: PathBuf, parallel: usize },
    /// SageMaker training jobs (an account's; the stand-in runs none).
    SageMaker(TrainingSettings),
}

/// What the relay works on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: Common,
    /// The queue S3 sends `incoming/` notifications to: its name or URL.
    pub ingest_queue: String,
    pub trainer: Trainer,
    /// How often the monitor checks production (zero: never).
    pub monitor_every: Duration,
    /// SageMaker hosting for `[deploy]` sections; none leaves the deploy function out.
    pub hosting: Option<tollgate_aws::HostingSettings>,
    /// The webhook people's notices go to (`TOLLGATE_WEBHOOK_URL`); none leaves the notify
    /// function out.
    pub webhook: Option<tollgate_notify::Webhook>,
    /// Long polls (10 s), as on AWS. A stand-in that serves one request at a time (moto
    /// here) would hold every other call behind them: there, short polls half a second apart.
    pub long_poll: bool,
}

/// The functions a message can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Tune,
    Evaluate,
    Deploy,
    Notify,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Tune => "tune",
            Self::Evaluate => "evaluate",
            Self::Deploy => "deploy",
            Self::Notify => "notify",
        }
    }
}

/// One of the relay's rules: on `bus`, `pattern`'s events to a queue read for `target`.
#[derive(Debug, Clone)]
struct Tap {
    target: Target,
    bus: String,
    rule: String,
    queue_url: String,
}

/// The relay: the functions, and the queues it reads for them.
#[derive(Debug)]
pub struct Relay {
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    s3: aws_sdk_s3::Client,
    bucket: String,
    ingest_queue: String,
    ingest_queue_arn: String,
    taps: Vec<Tap>,
    monitor_every: Duration,
    long_poll: bool,
    ingest: tollgate_fn_ingest::Function,
    tune: tollgate_fn_tune::Function,
    evaluate: tollgate_fn_evaluate::Function,
    monitor: tollgate_fn_monitor::Function,
    deploy: Option<tollgate_fn_deploy::Function>,
    notify: Option<tollgate_fn_notify::Function>,
    /// The local trainer's job folders, removed with the relay.
    _jobs: Option<tempfile::TempDir>,
}

impl Relay {
    /// Builds the functions and makes the relay's rules and queues on the stack.
    pub async fn start(aws: &AwsConfig, settings: Settings) -> anyhow::Result<Self> {
        let common = &settings.common;
        let ports = common.ports(aws)?;
        let (tune, jobs) = match &settings.trainer {
            Trainer::Local { program, parallel } => {
                let jobs = tempfile::Builder::new()
                    .prefix("tollgate-relay-jobs-")
                    .tempdir()
                    .context("creating a folder for training jobs")?;
                let backend = tollgate_local::SubprocessBackend::new(
                    ports.blobs.clone(),
                    ports.bus.clone(),
                    program.clone(),
                    jobs.path().to_owned(),
                    *parallel,
                );
                let tune = tollgate_tune::Tune::new(
                    &ports,
                    Arc::new(backend),
                    tollgate_tune::TuneConfig {
                        work_dir: common.work_dir.clone(),
                        trainer: program.display().to_string(),
                    },
                );
                (tune, Some(jobs))
            }
            Trainer::SageMaker(training) => {
                let tune = tollgate_fn_tune::Settings {
                    common: common.clone(),
                    training: training.clone(),
                }
                .tune(aws)?;
                (tune, None)
            }
        };
        let sqs = aws_sdk_sqs::Client::new(&aws.sdk);
        let ingest_queue = queue_url(&sqs, &settings.ingest_queue).await?;
        let ingest_queue_arn = queue_arn(&sqs, &ingest_queue).await?;
        let mut relay = Self {
            events: aws_sdk_eventbridge::Client::new(&aws.sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&aws.sdk)
                    .force_path_style(true)
                    .build(),
            ),
            sqs,
            bucket: common.bucket.clone(),
            ingest_queue,
            ingest_queue_arn,
            taps: Vec::new(),
            monitor_every: settings.monitor_every,
            long_poll: settings.long_poll,
            ingest: tollgate_fn_ingest::Function::new(aws, common)?,
            tune: match &settings.trainer {
                Trainer::Local { .. } => tollgate_fn_tune::Function::on(tune.clone()),
                Trainer::SageMaker(training) => tollgate_fn_tune::Function::new(
                    aws,
                    &tollgate_fn_tune::Settings {
                        common: common.clone(),
                        training: training.clone(),
                    },
                )?,
            },
            evaluate: tollgate_fn_evaluate::Function::new(aws, common)?,
            monitor: tollgate_fn_monitor::Function::on(tollgate_monitor::Monitor::new(
                &ports, tune,
            )),
            deploy: match &settings.hosting {
                Some(hosting) => Some(tollgate_fn_deploy::Function::new(
                    aws,
                    common,
                    hosting.clone(),
                )?),
                None => None,
            },
            notify: settings.webhook.clone().map(|webhook| {
                tollgate_fn_notify::Function::new(
                    aws,
                    &common.table,
                    webhook,
                    tollgate_lambda::env::optional("TOLLGATE_CONSOLE_URL"),
                )
            }),
            _jobs: jobs,
        };
        for (target, bus, pattern) in routes(&settings) {
            let tap = relay.tap(target, &bus, &pattern).await?;
            relay.taps.push(tap);
        }
        Ok(relay)
    }

    /// What the relay reads, one line each, for its start.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "ingest   ← {} (S3 notifications of s3://{}/incoming/)",
            self.ingest_queue, self.bucket
        )];
        for tap in &self.taps {
            lines.push(format!(
                "{:<8} ← bus {} through rule {} and queue {}",
                tap.target.name(),
                tap.bus,
                tap.rule,
                tap.queue_url
            ));
        }
        lines.push("ingest   ← the sweep, every 15m".into());
        lines.push("tune     ← the pipelines' schedules, every 15m".into());
        lines.push(if self.monitor_every.is_zero() {
            "monitor  ← never (--monitor-every 0)".into()
        } else {
            format!(
                "monitor  ← every {}",
                jiff::SignedDuration::try_from(self.monitor_every)
                    .map(|d| format!("{d:#}"))
                    .unwrap_or_default()
            )
        });
        if self.deploy.is_none() {
            lines.push(
                "deploy   off: no SageMaker role for endpoints (TOLLGATE_SAGEMAKER_ROLE_ARN)"
                    .into(),
            );
        }
        if self.notify.is_none() {
            lines.push("notify   off: no webhook (TOLLGATE_WEBHOOK_URL)".into());
        }
        lines
    }

    /// Makes (or takes over) the rule on `bus` that sends `pattern`'s events to a queue of its own.
    async fn tap(&self, target: Target, bus: &str, pattern: &Value) -> anyhow::Result<Tap> {
        let name = tap_name(&self.bucket, target, bus);
        let created = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY.as_secs().to_string(),
            )
            .send()
            .await
            .with_context(|| format!("creating the queue {name}"))?;
        let queue_url = created.queue_url().unwrap_or_default().to_owned();
        let queue_arn = queue_arn(&self.sqs, &queue_url).await?;
        let rule_arn = self
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .description("tollgate-relay: this bus's events to a function run on a laptop")
            .send()
            .await
            .with_context(|| format!("making the rule {name} on the bus {bus}"))?
            .rule_arn()
            .unwrap_or_default()
            .to_owned();
        // EventBridge may send to the queue for this rule only.
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        });
        self.sqs
            .set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .with_context(|| format!("letting the rule {name} send to its queue"))?;
        self.events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("relay")
                    .arn(queue_arn)
                    .build()
                    .context("a rule target")?,
            )
            .send()
            .await
            .with_context(|| format!("pointing the rule {name} at its queue"))?;
        Ok(Tap {
            target,
            bus: bus.to_owned(),
            rule: name,
            queue_url,
        })
    }

    /// Deletes the relay's rules and queues: the stack is left as the relay found it.
    pub async fn stop(&self) -> anyhow::Result<()> {
        for tap in &self.taps {
            self.events
                .remove_targets()
                .rule(&tap.rule)
                .event_bus_name(&tap.bus)
                .ids("relay")
                .send()
                .await
                .with_context(|| format!("removing the target of the rule {}", tap.rule))?;
            self.events
                .delete_rule()
                .name(&tap.rule)
                .event_bus_name(&tap.bus)
                .send()
                .await
                .with_context(|| format!("deleting the rule {}", tap.rule))?;
            self.sqs
                .delete_queue()
                .queue_url(&tap.queue_url)
                .send()
                .await
                .with_context(|| format!("deleting the queue {}", tap.queue_url))?;
        }
        Ok(())
    }

    /// Reads every queue and fires the schedules until `stop` resolves; then lets the events
    /// in hand finish (nothing new is received), and deletes the relay's rules and queues.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let mut readers = tokio::task::JoinSet::new();
        readers.spawn(forever(
            self.clone(),
            stopped.clone(),
            "the ingest queue",
            |r| async move { r.ingest_batch().await },
        ));
        for i in 0..self.taps.len() {
            readers.spawn(forever(
                self.clone(),
                stopped.clone(),
                "a rule's queue",
                move |r| async move { r.tap_batch(&r.taps[i]).await },
            ));
        }
        let mut timers = tokio::task::JoinSet::new();
        timers.spawn(every(self.clone(), Duration::from_secs(15 * 60), |r| {
            Box::pin(async move { r.schedule("ingest", json!({})).await })
        }));
        timers.spawn(every(self.clone(), Duration::from_secs(15 * 60), |r| {
            Box::pin(async move { r.schedule("tune", json!({"due": "pipelines"})).await })
        }));
        if !self.monitor_every.is_zero() {
            timers.spawn(every(self.clone(), self.monitor_every, |r| {
                Box::pin(async move { r.schedule("monitor", json!({})).await })
            }));
        }
        stop.await;
        eprintln!("tollgate-relay: stopping; the events in hand are finished first");
        timers.abort_all();
        let _ = stopping.send(true);
        while readers.join_next().await.is_some() {}
        self.stop().await
    }

    /// One receive of the ingest queue, handed to the ingest function as Lambda's SQS event; the
    /// messages it does not report as failures are deleted. The number of messages.
    pub async fn ingest_batch(&self) -> anyhow::Result<usize> {
        let messages = self.receive(&self.ingest_queue).await?;
        if messages.is_empty() {
            return Ok(0);
        }
        let mut records = Vec::new();
        for m in &messages {
            let body =
                as_s3_sends_it(&self.s3, &self.bucket, m.body().unwrap_or_default(), None).await;
            records.push(lambda_sqs_record(m, body, &self.ingest_queue_arn));
        }
        let batch: SqsEvent = serde_json::from_value(json!({ "Records": records }))
            .context("the queue's messages as Lambda's SQS event")?;
        let response = self.ingest.batch(batch).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for m in &messages {
            if failed.contains(&m.message_id().unwrap_or_default()) {
                tracing::warn!(
                    message = m.message_id(),
                    "ingest failed; the queue will deliver it again"
                );
            } else {
                self.delete(&self.ingest_queue, m).await?;
            }
        }
        Ok(messages.len())
    }

    /// One receive of a rule's queue: each event to its function, as EventBridge invokes it.
    async fn tap_batch(&self, tap: &Tap) -> anyhow::Result<usize> {
        let messages = self.receive(&tap.queue_url).await?;
        for m in &messages {
            let body = m.body().unwrap_or_default();
            let envelope: EventBridgeEvent<Value> = match serde_json::from_str(body) {
                Ok(envelope) => envelope,
                Err(e) => {
                    tracing::error!(queue = tap.rule, "not an EventBridge event ({e}): dropped");
                    self.delete(&tap.queue_url, m).await?;
                    continue;
                }
            };
            let what = envelope.detail_type.clone();
            match self.invoke(tap.target, envelope).await {
                Ok(answer) => {
                    say(tap.target.name(), &what, &answer);
                    self.delete(&tap.queue_url, m).await?;
                }
                Err(e) if receives(m) >= MAX_RECEIVES => {
                    eprintln!(
                        "{} ✗ {what}: {e}; dropped after {MAX_RECEIVES} deliveries",
                        tap.target.name()
                    );
                    self.delete(&tap.queue_url, m).await?;
                }
                Err(e) => eprintln!(
                    "{} ✗ {what}: {e}; delivered again in {}s",
                    tap.target.name(),
                    VISIBILITY.as_secs()
                ),
            }
        }
        Ok(messages.len())
    }

    /// `event` to `target`'s function, as Lambda hands it.
    async fn invoke(
        &self,
        target: Target,
        event: EventBridgeEvent<Value>,
    ) -> Result<Value, tollgate_lambda::Error> {
        let event = LambdaEvent::new(event, Context::default());
        match target {
            Target::Tune => self.tune.handle(event).await,
            Target::Evaluate => self.evaluate.handle(event).await,
            Target::Deploy => match &self.deploy {
                Some(deploy) => deploy.handle(event).await,
                None => Ok(json!({ "ignored": "deploy is off" })),
            },
            Target::Notify => match &self.notify {
                Some(notify) => notify.handle(event).await,
                None => Ok(json!({ "ignored": "notify is off" })),
            },
        }
    }

    /// A schedule's firing now, to `function`, with `detail` (the template's schedule input).
    pub async fn schedule(&self, function: &str, detail: Value) -> anyhow::Result<usize> {
        let envelope: EventBridgeEvent<Value> = serde_json::from_value(json!({
            "version": "0", "id": uuid_like(), "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "time": jiff::Timestamp::now().to_string(),
            "resources": [], "detail": detail,
        }))
        .context("a schedule's event")?;
        let answer = match function {
            "ingest" => {
                let event = LambdaEvent::new(serde_json::to_value(&envelope)?, Context::default());
                self.ingest.handle(event).await
            }
            "tune" => self.invoke(Target::Tune, envelope).await,
            _ => {
                self.monitor
                    .handle(LambdaEvent::new(envelope, Context::default()))
                    .await
            }
        };
        match answer {
            Ok(answer) => say(function, "Scheduled Event", &answer),
            Err(e) => eprintln!("{function} ✗ Scheduled Event: {e}"),
        }
        Ok(1)
    }

    async fn receive(&self, queue: &str) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(if self.long_poll { 10 } else { 0 })
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .with_context(|| format!("receiving from {queue}"))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() && !self.long_poll {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(messages)
    }

    async fn delete(&self, queue: &str, m: &aws_sdk_sqs::types::Message) -> anyhow::Result<()> {
        self.sqs
            .delete_message()
            .queue_url(queue)
            .receipt_handle(m.receipt_handle().unwrap_or_default())
            .send()
            .await
            .with_context(|| format!("deleting a handled message from {queue}"))?;
        Ok(())
    }
}

/// The rules the relay makes: each function's rule of the template (`infra/template.yaml`),
/// on the bus it names. With the local trainer, a job's end is published on the stack's bus by
/// the trainer's process, not by SageMaker on the default bus.
fn routes(settings: &Settings) -> Vec<(Target, String, Value)> {
    let bus = settings.common.bus.clone();
    let ours = |types: &[&str]| json!({ "source": [EVENT_SOURCE], "detail-type": types });
    let mut routes = Vec::new();
    match &settings.trainer {
        Trainer::Local { .. } => routes.push((
            Target::Tune,
            bus.clone(),
            ours(&["DatasetVersionAccepted", "RunRequested", JOB_STATE_CHANGE]),
        )),
        Trainer::SageMaker(training) => {
            routes.push((
                Target::Tune,
                bus.clone(),
                ours(&["DatasetVersionAccepted", "RunRequested"]),
            ));
            routes.push((
                Target::Tune,
                "default".into(),
                json!({
                    "source": ["aws.sagemaker"], "detail-type": [JOB_STATE_CHANGE],
                    "detail": {"TrainingJobName": [{"prefix": training.job_prefix}]},
                }),
            ));
        }
    }
    routes.push((
        Target::Evaluate,
        bus.clone(),
        ours(&["ModelCandidateRegistered"]),
    ));
    if settings.webhook.is_some() {
        routes.push((
            Target::Notify,
            bus.clone(),
            ours(&[
                "ModelStageChanged",
                "ModelTested",
                "RunFailed",
                "DriftDetected",
                "DatasetUploadRejected",
                "DeploymentChanged",
            ]),
        ));
    }
    if let Some(hosting) = &settings.hosting {
        routes.push((Target::Deploy, bus, ours(&["ModelStageChanged"])));
        routes.push((
            Target::Deploy,
            "default".into(),
            json!({
                "source": ["aws.sagemaker"],
                "detail-type": [tollgate_lambda::ENDPOINT_STATE_CHANGE],
                "detail": {"EndpointName": [{"prefix": hosting.prefix}]},
            }),
        ));
    }
    routes
}

/// A rule's and its queue's name: the stack's (its bucket's), the function's, and which bus.
fn tap_name(bucket: &str, target: Target, bus: &str) -> String {
    let clean: String = bucket
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    let on = if bus == "default" { "-aws" } else { "" };
    format!("{clean}-relay-{}{on}", target.name())
}

/// A queue's URL from its name or URL.
async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_owned());
    }
    Ok(sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .with_context(|| {
            format!(
                "finding the queue {queue}: is the stand-in running and provisioned \
                 (eval \"$(bash localstack/start.sh)\"), or --ingest-queue the stack's?"
            )
        })?
        .queue_url()
        .unwrap_or_default()
        .to_owned())
}

/// A queue's ARN.
async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the queue {url}"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .with_context(|| format!("the queue {url} has no ARN"))
}

/// How often the message has been received, this time included.
fn receives(m: &aws_sdk_sqs::types::Message) -> i32 {
    m.attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A message of the queue `queue_arn` as Lambda's SQS event carries it.
pub fn lambda_sqs_record(m: &aws_sdk_sqs::types::Message, body: String, queue_arn: &str) -> Value {
    json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(':').nth(3).unwrap_or_default(),
    })
}

/// An id for a schedule's event, as Scheduler's execution ids are unique.
fn uuid_like() -> String {
    format!(
        "relay-{}",
        jiff::Timestamp::now().as_nanosecond().unsigned_abs()
    )
}

/// A function's answer, one line (nothing for what it ignored).
fn say(function: &str, what: &str, answer: &Value) {
    if answer.get("ignored").is_some() {
        tracing::debug!(function, what, %answer, "ignored");
        return;
    }
    if let Some(why) = answer.get("discarded") {
        eprintln!("{function} ✗ {what}: refused, not retried: {why}");
        return;
    }
    println!("{function} ← {what}: {answer}");
}

/// `step` again and again until `stopped` says so, pausing after a failure (the stand-in or
/// the network away).
async fn forever<F, Fut>(
    relay: Arc<Relay>,
    stopped: tokio::sync::watch::Receiver<bool>,
    what: &'static str,
    step: F,
) where
    F: Fn(Arc<Relay>) -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    while !*stopped.borrow() {
        if let Err(e) = step(relay.clone()).await {
            eprintln!("error: reading {what}: {e:#}; trying again in 5s");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
}

type Step = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send>>;

/// `step` every `period`, the first after one period (as a schedule's first firing is).
async fn every(relay: Arc<Relay>, period: Duration, step: impl Fn(Arc<Relay>) -> Step) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = step(relay.clone()).await {
            eprintln!("error: a schedule's firing: {e:#}");
        }
    }
}

/// An S3 notification as S3 sends it. The stand-in's (moto's) leaves out what every real one
/// carries: the uploader (`userIdentity`), `requestParameters`, `responseElements`, and, in a
/// versioned bucket, the object's `versionId` and `sequencer`. They are put back (the version
/// read from the object itself; the uploader `principal`, or none: it is then recorded as
/// `unknown`), so the function reads the event it gets on AWS. A notification that has them,
/// and any other message, passes as it is.
pub async fn as_s3_sends_it(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    body: &str,
    principal: Option<&str>,
) -> String {
    let Ok(mut event) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let Some(records) = event["Records"].as_array_mut() else {
        return body.to_owned();
    };
    for record in records.iter_mut().filter(|r| r["eventSource"] == "aws:s3") {
        let fields = record.as_object_mut().expect("a record is an object");
        fields
            .entry("userIdentity")
            .or_insert_with(|| match principal {
                Some(p) => json!({ "principalId": p }),
                None => json!({}),
            });
        fields
            .entry("requestParameters")
            .or_insert(json!({"sourceIPAddress": "127.0.0.1"}));
        fields.entry("responseElements").or_insert(json!({}));
        let object = &mut record["s3"]["object"];
        if object.get("versionId").is_none() {
            let raw = object["key"].as_str().unwrap_or_default().replace('+', " ");
            let key = percent_encoding::percent_decode_str(&raw)
                .decode_utf8_lossy()
                .into_owned();
            let head = s3.head_object().bucket(bucket).key(&key).send().await;
            if let Some(version) = head.ok().and_then(|h| h.version_id().map(str::to_owned)) {
                object["versionId"] = Value::from(version);
            }
            object["sequencer"] = Value::from("0055AED6DCD90281E5");
        }
    }
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_is_named_for_the_stack_the_function_and_the_bus() {
        assert_eq!(
            tap_name("tollgate-data", Target::Tune, "tollgate-bus"),
            "tollgate-data-relay-tune"
        );
        assert_eq!(
            tap_name("my.bucket", Target::Deploy, "default"),
            "my-bucket-relay-deploy-aws"
        );
    }
}
