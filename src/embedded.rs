//! The embedded default: the ports on a data dir (`buckets/<bucket>/...`, `catalog.sqlite`) and
//! the handlers wired to them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use tokio::sync::mpsc;
use tollgate_domain::ports::{Catalog, EventBus, ProcessingBackend, SystemClock, TrainingBackend};
use tollgate_domain::training::{JobStateChange, JobStatus};
use tollgate_domain::{BucketName, Event, PortError, Run, RunStatus, UserId};
use tollgate_domain::{UploadOutcome, training::ProcessingStateChange};
use tollgate_evaluate::Evaluate;
use tollgate_ingest::{Ingest, Processing, Stage};
use tollgate_local::{
    DataDir, FsBlobStore, InProcessBus, SqliteCatalog, SubprocessBackend, SubprocessProcessing,
};
use tollgate_tune::{Tune, TuneConfig};

use tollgate_notify::{self as notify, Webhook};

/// How many published events may wait for the handlers: far more than a laptop's runs publish
/// at once, and a bound on memory however long `tollgate up` runs.
const EVENTS_IN_FLIGHT: usize = 4096;

#[derive(Debug, Clone)]
pub struct Embedded {
    pub data_dir: PathBuf,
    pub blobs: Arc<FsBlobStore>,
    pub catalog: Arc<SqliteCatalog>,
    pub bus: InProcessBus,
    pub bucket: BucketName,
    pub user: UserId,
    backend: Arc<SubprocessBackend>,
    /// Where uploads too big for one process are read: `tollgate process` subprocesses.
    processing: Arc<SubprocessProcessing>,
    /// The training jobs' folders: a temporary directory of this process's alone (0700, a
    /// random name), removed when the process is done with it.
    _jobs: Arc<tempfile::TempDir>,
    /// The processing jobs' folders, the same but in the data bucket's scratch folder: an
    /// instance's share of the upload is linked there and its Parquet linked back, not copied
    /// (the system's `/tmp` may be another disk, or memory).
    _processing_jobs: Arc<tempfile::TempDir>,
    /// The events published on the bus and not yet handled, for [`Embedded::settle`] and
    /// [`Embedded::dispatch`] to hand to the handlers.
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<Event>>>,
    /// Where the events people act on are sent (`TOLLGATE_WEBHOOK_URL`), and the deliveries
    /// under way.
    notifier: Option<Arc<Notifier>>,
}

/// The webhook, the console's address for links, and the deliveries not yet done.
#[derive(Debug)]
struct Notifier {
    webhook: Webhook,
    console: Option<String>,
    sending: std::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Embedded {
    pub fn open(data_dir: &Path, user: Option<&str>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
        let DataDir {
            blobs,
            catalog,
            bucket,
        } = DataDir::open(data_dir).context("opening the catalog")?;
        let user = match user {
            Some(u) => UserId::parse(u).map_err(|e| crate::UsageError(e.to_string()))?,
            None => UserId::parse(&login_name())
                .unwrap_or_else(|_| UserId::parse("local-user").expect("a valid user name")),
        };
        let bus = InProcessBus::new();
        let (sender, receiver) = mpsc::channel(EVENTS_IN_FLIGHT);
        bus.subscribe(Arc::new(move |event| {
            // A full queue refuses the event rather than grow: the publisher's step fails as
            // it would when EventBridge is unreachable, and is retried. A closed one (the
            // runtime is going away) drops it: the catalog is the record.
            let sent = match sender.try_send(event) {
                Err(mpsc::error::TrySendError::Full(_)) => Err(PortError::unavailable(
                    "publishing on the local bus",
                    format!("the queue is full: {EVENTS_IN_FLIGHT} events wait to be handled"),
                )),
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            };
            Box::pin(async move { sent })
        }));
        let jobs = tempfile::Builder::new()
            .prefix("tollgate-jobs-")
            .tempdir()
            .context("creating a folder for training jobs")?;
        let backend = Arc::new(SubprocessBackend::new(
            blobs.clone(),
            Arc::new(bus.clone()),
            trainer_path()?,
            jobs.path().to_owned(),
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ));
        let mut processing_jobs = tempfile::Builder::new();
        processing_jobs.prefix("tollgate-processing-");
        let processing_jobs = blobs
            .scratch_dir(&bucket)
            .and_then(|scratch| processing_jobs.tempdir_in(scratch))
            .or_else(|_| processing_jobs.tempdir())
            .context("creating a folder for processing jobs")?;
        let processing = Arc::new(SubprocessProcessing::new(
            blobs.clone(),
            Arc::new(bus.clone()),
            std::env::current_exe().context("finding this executable")?,
            processing_jobs.path().to_owned(),
        ));
        let notifier = Webhook::from_env()
            .map_err(|e| crate::UsageError(e.to_string()))?
            .map(|webhook| {
                Arc::new(Notifier {
                    webhook,
                    console: console_url(data_dir),
                    sending: std::sync::Mutex::default(),
                })
            });
        Ok(Self {
            data_dir: data_dir.to_owned(),
            blobs,
            catalog,
            bus,
            bucket,
            user,
            backend,
            processing,
            _jobs: Arc::new(jobs),
            _processing_jobs: Arc::new(processing_jobs),
            events: Arc::new(tokio::sync::Mutex::new(receiver)),
            notifier,
        })
    }

    /// Sends what `message` says, if there is a webhook, without waiting for it: a delivery
    /// that fails after its retries is logged and written to the audit trail.
    pub fn notify(&self, message: Option<notify::Message>) {
        let (Some(notifier), Some(message)) = (self.notifier.clone(), message) else {
            return;
        };
        let catalog = self.catalog.clone();
        let mut sending = notifier.sending.lock().expect("notifier lock");
        // Deliveries that are done are let go of, so a server's set stays small.
        while sending.try_join_next().is_some() {}
        let webhook = notifier.webhook.clone();
        sending.spawn(async move {
            match webhook.deliver(&message).await {
                Ok(tries) => tracing::info!(kind = message.kind, tries, "notification sent"),
                Err(reason) => {
                    eprintln!(
                        "warning: the {} notification about {} did not reach {} after {} \
                         tries: {reason}",
                        message.kind,
                        message.subject,
                        webhook.shown(),
                        notify::ATTEMPTS
                    );
                    let event = webhook.failure(&message, &reason, jiff::Timestamp::now());
                    if let Err(e) = catalog.append_audit(event).await {
                        tracing::error!("recording a failed notification: {e}");
                    }
                }
            }
        });
    }

    /// This data dir as the server at `console` runs it: messages link to it.
    pub fn serving_console_at(&self, console: &str) -> Self {
        let mut env = self.clone();
        env.notifier = self.notifier.as_ref().map(|n| {
            Arc::new(Notifier {
                webhook: n.webhook.clone(),
                console: std::env::var("TOLLGATE_CONSOLE_URL")
                    .ok()
                    .filter(|u| !u.trim().is_empty())
                    .or_else(|| Some(console.to_owned())),
                sending: std::sync::Mutex::default(),
            })
        });
        env
    }

    /// The console's address for a message's link.
    pub fn console_link_base(&self) -> Option<&str> {
        self.notifier.as_ref().and_then(|n| n.console.as_deref())
    }

    /// Before a command's process ends: the events it published and no handler took are
    /// turned into messages, and the deliveries under way are waited for (at most a minute).
    pub async fn notify_published(&self) {
        let Some(notifier) = self.notifier.clone() else {
            return;
        };
        if let Ok(mut events) = self.events.try_lock() {
            while let Ok(event) = events.try_recv() {
                self.notify(notify::of_event(&event, notifier.console.as_deref()));
            }
        }
        let mut sending = std::mem::take(&mut *notifier.sending.lock().expect("notifier lock"));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while sending.join_next().await.is_some() {}
        })
        .await;
    }

    /// The ports of this data dir, as the application layer and the API take them.
    pub fn ports(&self) -> tollgate_app::Ports {
        tollgate_app::Ports {
            blobs: self.blobs.clone(),
            catalog: self.catalog.clone(),
            bus: Arc::new(self.bus.clone()),
            clock: Arc::new(SystemClock),
            data_bucket: self.bucket.clone(),
        }
    }

    /// The use cases and queries on this data dir.
    pub fn app(&self) -> tollgate_app::App {
        tollgate_app::App::new(self.ports())
    }

    pub fn tune(&self) -> Tune {
        Tune::new(
            &self.ports(),
            self.backend.clone(),
            TuneConfig {
                work_dir: std::env::temp_dir(),
                trainer: format!("tollgate-trainer {}", env!("CARGO_PKG_VERSION")),
            },
        )
    }

    pub fn monitor(&self) -> tollgate_monitor::Monitor {
        tollgate_monitor::Monitor::new(&self.ports(), self.tune())
    }

    pub fn evaluate(&self) -> Evaluate {
        Evaluate::new(&self.ports())
    }

    /// Hands published events to the handlers until every run started or advanced meanwhile
    /// has ended (`watched` adds runs started before). `on_run` sees each run as it changes.
    pub async fn settle(
        &self,
        watched: Vec<Run>,
        mut on_run: impl FnMut(&Run),
    ) -> anyhow::Result<Vec<Run>> {
        let tune = self.tune();
        let mut runs: std::collections::BTreeMap<String, Run> =
            watched.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut events = self.events.lock().await;
        loop {
            let running = runs.values().any(|r| r.status == RunStatus::Running);
            let event = if running {
                match tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await {
                    Ok(event) => event,
                    Err(_) => {
                        self.fail_lost_jobs(&runs).await?;
                        continue;
                    }
                }
            } else {
                events.try_recv().ok()
            };
            let Some(event) = event else {
                break;
            };
            self.notify(notify::of_event(&event, self.console_link_base()));
            self.ingest_processed(&event)
                .await
                .with_context(|| format!("handling {}", event.detail_type()))?;
            // A candidate's model tests run as soon as it is registered.
            self.evaluate()
                .handle(&event)
                .await
                .with_context(|| format!("handling {}", event.detail_type()))?;
            for run in tune
                .handle(&event)
                .await
                .with_context(|| format!("handling {}", event.detail_type()))?
            {
                on_run(&run);
                runs.insert(run.id.clone(), run);
            }
        }
        Ok(runs.into_values().collect())
    }

    /// Hands every published event to the handlers as it arrives, as EventBridge would, for as
    /// long as the process runs: `tollgate up`'s runtime. Each event is handled and dropped (the
    /// catalog is the record), so memory stays flat however long it runs. A failure worth a
    /// retry is tried again, backing off; others are logged, and the event's effects can be
    /// had again by the command that caused it (handlers are idempotent).
    pub async fn dispatch(&self) {
        const ATTEMPTS: u32 = 4;
        let mut events = self.events.lock().await;
        while let Some(event) = events.recv().await {
            for attempt in 1..=ATTEMPTS {
                match self.deliver(&event).await {
                    Ok(()) => break,
                    Err((true, e)) if attempt < ATTEMPTS => {
                        tracing::warn!(event = event.detail_type(), attempt, "{e:#}; trying again");
                        tokio::time::sleep(std::time::Duration::from_secs(1 << attempt)).await;
                    }
                    Err((_, e)) => {
                        tracing::error!(event = event.detail_type(), "{e:#}");
                        eprintln!("error: handling {}: {e:#}", event.detail_type());
                        break;
                    }
                }
            }
        }
    }

    /// One event to the handlers that take it; the error says whether a retry may help.
    async fn deliver(&self, event: &Event) -> Result<(), (bool, anyhow::Error)> {
        self.notify(notify::of_event(event, self.console_link_base()));
        self.ingest_processed(event)
            .await
            .map_err(|e| (e.is_retryable(), anyhow::Error::new(e)))?;
        self.evaluate()
            .handle(event)
            .await
            .map_err(|e| (e.is_retryable(), anyhow::Error::new(e)))?;
        for run in self
            .tune()
            .handle(event)
            .await
            .map_err(|e| (e.is_retryable(), anyhow::Error::new(e)))?
        {
            tracing::info!(run = %run.id, status = run.status.as_str(), "run advanced");
        }
        Ok(())
    }

    /// Fails the trials of running runs whose jobs no process runs any more (their process
    /// ended): at a server's start, nothing else would ever end them.
    pub async fn fail_jobs_of_ended_processes(&self) -> anyhow::Result<()> {
        let running = self
            .catalog
            .runs(None)
            .await?
            .into_iter()
            .filter(|r| r.status == RunStatus::Running)
            .map(|r| (r.id.clone(), r))
            .collect();
        self.fail_lost_jobs(&running).await
    }

    /// Jobs of a run that this process does not know (started by a process that has ended) will
    /// never report: they are failed, with the same event a lost SageMaker job would give.
    async fn fail_lost_jobs(
        &self,
        runs: &std::collections::BTreeMap<String, Run>,
    ) -> anyhow::Result<()> {
        for run in runs.values() {
            let Some(current) = self.catalog.run(&run.id).await? else {
                continue;
            };
            for trial in current.trials.iter().filter(|t| t.status.is_active()) {
                if let Err(PortError::NotFound(_)) = self.backend.describe(&trial.job_name).await {
                    let change = JobStateChange {
                        training_job_name: trial.job_name.clone(),
                        training_job_status: JobStatus::Failed,
                        failure_reason: Some(
                            "the local job was lost: the process that started it has ended".into(),
                        ),
                        model_artifacts: None,
                        final_metric_data_list: Vec::new(),
                        billable_time_in_seconds: None,
                    };
                    self.bus
                        .publish(&Event::TrainingJobStateChange(change))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The ingest handler; uploads of `TOLLGATE_PROCESS_ABOVE_BYTES` or more (default 8 GiB)
    /// are read by `TOLLGATE_PROCESS_INSTANCES` subprocesses (default: one per core), as
    /// SageMaker Processing reads them on AWS.
    pub fn ingest(&self) -> Ingest {
        let instances = std::env::var("TOLLGATE_PROCESS_INSTANCES")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u32));
        // Work files on the data dir's disk: the version's Parquet is linked into the bucket.
        let work_dir = self
            .blobs
            .scratch_dir(&self.bucket)
            .unwrap_or_else(|_| std::env::temp_dir());
        Ingest::new(&self.ports(), work_dir).with_processing(Processing {
            backend: self.processing.clone(),
            above_bytes: process_above_bytes(),
            instances,
            max_runtime: std::time::Duration::from_secs(24 * 3600),
        })
    }

    /// Finishes the upload a processing job read, when `event` is its end.
    async fn ingest_processed(
        &self,
        event: &Event,
    ) -> Result<Vec<UploadOutcome>, tollgate_ingest::IngestError> {
        match event {
            Event::ProcessingJobStateChange(change) => self.ingest().processed(change).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Runs the ingest handler on `event`, its stages told to `on_stage`. An upload it hands to
    /// a processing job is waited for and finished here: the job's subprocesses are this
    /// process's and would end with it.
    pub async fn ingest_to_the_end(
        &self,
        event: &S3Event,
        on_stage: impl Fn(&Stage) + Send + Sync + 'static,
    ) -> anyhow::Result<Vec<UploadOutcome>> {
        let job = Arc::new(std::sync::Mutex::new(None));
        let dispatched = job.clone();
        let ingest = self.ingest().with_progress(move |stage| {
            if let Stage::Processing { job, .. } = &stage {
                *dispatched.lock().expect("job lock") = Some(job.clone());
            }
            on_stage(&stage);
        });
        let outcomes = ingest.handle(event).await.context("ingesting the upload")?;
        let job = job.lock().expect("job lock").take();
        match (outcomes.is_empty(), job) {
            (true, Some(job)) => self.await_processed(&ingest, &job).await,
            _ => Ok(outcomes),
        }
    }

    /// Waits for the end of processing job `job` and finishes its upload with `ingest`; the
    /// other events published meanwhile are published again, for [`Embedded::settle`].
    async fn await_processed(
        &self,
        ingest: &Ingest,
        job: &str,
    ) -> anyhow::Result<Vec<UploadOutcome>> {
        // A job this process did not start (an earlier one did, for the same upload) ends there.
        if let Err(PortError::NotFound(_)) = self.processing.describe(job).await {
            anyhow::bail!(
                "processing job {job} has this upload, and another tollgate process started it: \
                 its end finishes the upload there (see `tollgate dataset show`)"
            );
        }
        let mut deferred = Vec::new();
        let change: ProcessingStateChange = {
            let mut events = self.events.lock().await;
            loop {
                let event = events.recv().await.ok_or_else(|| {
                    anyhow::anyhow!("the event queue closed before processing job {job} ended")
                })?;
                match event {
                    Event::ProcessingJobStateChange(change)
                        if change.processing_job_name == job =>
                    {
                        break change;
                    }
                    other => deferred.push(other),
                }
            }
        };
        for event in deferred {
            self.bus.publish(&event).await?;
        }
        ingest
            .processed(&change)
            .await
            .with_context(|| format!("finishing the upload processing job {job} read"))
    }

    /// The file behind an object of the embedded bucket.
    pub fn path_of(&self, object: &tollgate_domain::ObjectRef) -> PathBuf {
        self.blobs.path_of(&object.bucket, &object.key)
    }
}

/// `TOLLGATE_PROCESS_ABOVE_BYTES`: the size from which an upload goes to a processing job.
fn process_above_bytes() -> u64 {
    const DEFAULT: u64 = 8 << 30;
    match std::env::var("TOLLGATE_PROCESS_ABOVE_BYTES") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!(
                "warning: TOLLGATE_PROCESS_ABOVE_BYTES={v:?} is not a number of bytes; using {DEFAULT}"
            );
            DEFAULT
        }),
        Err(_) => DEFAULT,
    }
}

/// Where the console is, for the links in messages: `TOLLGATE_CONSOLE_URL`, else the address
/// of the `tollgate up` serving this data dir (its lock file says it), else none.
fn console_url(data_dir: &Path) -> Option<String> {
    if let Some(url) = std::env::var("TOLLGATE_CONSOLE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url.trim().trim_end_matches('/').to_owned());
    }
    let lock = std::fs::read_to_string(data_dir.join("up.lock")).ok()?;
    lock.split_whitespace()
        .find(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(str::to_owned)
}

/// What runs a training job as `<it> train --root DIR`: `TOLLGATE_TRAINER` (a `trainer` binary,
/// or your own that follows the same contract), else this executable (`tollgate train`).
fn trainer_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TOLLGATE_TRAINER") {
        return Ok(PathBuf::from(path));
    }
    std::env::current_exe().context("finding this executable")
}

/// Who runs this process, as `id -un` says; then `$USER` (or its Windows and POSIX cousins)
/// where the system has no name for the user (a container's bare uid).
fn login_name() -> String {
    whoami::username()
        .ok()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "local-user".to_owned())
}
