//! The tune use case over the ports.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use tollgate_domain::pipeline::CalendarPeriod;
use tollgate_domain::ports::{BlobStore, Catalog, Clock, EventBus, Ports, TrainingBackend};
use tollgate_domain::training::{JobStateChange, RunRequest, contributors};
use tollgate_domain::{
    AuditEvent, BucketName, DatasetName, DatasetVersion, Event, PortError, Run, RunStatus,
    StoredPipeline, Trigger, UserId,
};

use crate::step::{Context, Inputs, decide};
use crate::{TuneError, split};

/// How many times a step is decided again when other steps of the same run keep winning.
const MAX_ATTEMPTS: u32 = 16;

#[derive(Debug, Clone)]
pub struct TuneConfig {
    /// Where temporary files go (on Lambda, `/tmp`).
    pub work_dir: PathBuf,
    /// The trainer the local backend runs, for lineage: `tollgate-trainer 0.1.0`.
    pub trainer: String,
}

#[derive(Debug, Clone)]
pub struct Tune {
    blobs: Arc<dyn BlobStore>,
    catalog: Arc<dyn Catalog>,
    bus: Arc<dyn EventBus>,
    backend: Arc<dyn TrainingBackend>,
    clock: Arc<dyn Clock>,
    /// Where splits and job outputs are written.
    data_bucket: BucketName,
    config: TuneConfig,
}

impl Tune {
    /// The tune step on `ports`, its jobs run by `backend`.
    pub fn new(ports: &Ports, backend: Arc<dyn TrainingBackend>, config: TuneConfig) -> Self {
        Self {
            blobs: ports.blobs.clone(),
            catalog: ports.catalog.clone(),
            bus: ports.bus.clone(),
            backend,
            clock: ports.clock.clone(),
            data_bucket: ports.data_bucket.clone(),
            config,
        }
    }

    /// Handles one event; returns the runs it started or advanced. Events of other kinds, and
    /// job events of no run, are ignored.
    pub async fn handle(&self, event: &Event) -> Result<Vec<Run>, TuneError> {
        match event {
            Event::DatasetVersionAccepted {
                dataset,
                version,
                uploaded_by,
                ..
            } => self.version_accepted(dataset, *version, uploaded_by).await,
            Event::RunRequested {
                pipeline,
                dataset_version,
                requested_by,
                request_id,
            } => Ok(vec![
                self.request(pipeline, *dataset_version, requested_by, request_id)
                    .await?,
            ]),
            Event::TrainingJobStateChange(change) => {
                Ok(self.job_changed(change).await?.into_iter().collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Starts a run of every pipeline that listens to the dataset.
    pub async fn version_accepted(
        &self,
        dataset: &DatasetName,
        version: u32,
        uploaded_by: &UserId,
    ) -> Result<Vec<Run>, TuneError> {
        let Some(accepted) = self.catalog.version(dataset, version).await? else {
            return Err(TuneError::Refused(format!(
                "{dataset} has no accepted version {version}"
            )));
        };
        // Each pipeline on its own: one that cannot start (refused, or its store busy) does not
        // keep the others from starting. A delivery retried for a busy store starts only what
        // did not start, since a run's id is its trigger's.
        let mut runs = Vec::new();
        let mut retry = None;
        for pipeline in self.catalog.pipelines().await? {
            if pipeline.pipeline.dataset == *dataset && pipeline.pipeline.on_upload {
                let name = pipeline.pipeline.name.clone();
                let trigger = Trigger::Upload {
                    dataset_version: version,
                };
                match self
                    .start(pipeline, &accepted, trigger, uploaded_by.clone())
                    .await
                {
                    Ok(run) => runs.push(run),
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(pipeline = name, "starting its run failed: {e}");
                        retry = Some(e);
                    }
                    Err(e) => tracing::error!(pipeline = name, "its run cannot start: {e}"),
                }
            }
        }
        match retry {
            Some(e) => Err(e),
            None => Ok(runs),
        }
    }

    /// Starts the run a person asked for, as the application recorded the request (pipeline,
    /// version, requester): the event's own fields are believed only when they agree with the
    /// record, and a request without one starts nothing. A second delivery of the same request
    /// returns the first one's run.
    pub async fn request(
        &self,
        pipeline: &str,
        dataset_version: Option<u32>,
        requested_by: &UserId,
        request_id: &str,
    ) -> Result<Run, TuneError> {
        let events = self
            .catalog
            .audit(Some(&RunRequest::subject(request_id)))
            .await?;
        let claimed = RunRequest {
            request_id: request_id.to_owned(),
            pipeline: pipeline.to_owned(),
            dataset_version,
            requested_by: requested_by.clone(),
        };
        match RunRequest::recorded(request_id, &events) {
            Some(recorded) if recorded == claimed => {}
            Some(recorded) => {
                return Err(TuneError::Refused(format!(
                    "run request {request_id} says {requested_by} asked for {pipeline} \
                     (version {dataset_version:?}), but {} asked for {} (version {:?}): \
                     the event does not match the request it names, so no run started",
                    recorded.requested_by, recorded.pipeline, recorded.dataset_version
                )));
            }
            None => {
                return Err(TuneError::Refused(format!(
                    "run request {request_id} (naming {requested_by} as its requester) was not \
                     made through Tollgate's API or CLI, which record every request: no run \
                     started"
                )));
            }
        }
        let trigger = Trigger::Request {
            request_id: request_id.to_owned(),
        };
        self.start_named(pipeline, dataset_version, trigger, requested_by)
            .await
    }

    /// The firings of pipelines' `[schedule]`s owed at `now`: each pipeline's latest firing
    /// since it was applied, by pipeline name. Asked again within a period, the same firings;
    /// [`Tune::scheduled`] starts each at most once.
    pub async fn due_firings(&self, now: Timestamp) -> Result<Vec<(String, Timestamp)>, TuneError> {
        Ok(self
            .catalog
            .pipelines()
            .await?
            .into_iter()
            .filter_map(|stored| {
                let at = stored
                    .pipeline
                    .schedule
                    .as_ref()?
                    .due(stored.applied_at, now)?;
                Some((stored.pipeline.name, at))
            })
            .collect())
    }

    /// Starts the scheduled run of `pipeline` due at `at` (scheduled retraining) on the latest
    /// version; the same firing delivered twice starts one run.
    pub async fn scheduled(&self, pipeline: &str, at: Timestamp) -> Result<Run, TuneError> {
        let schedule = UserId::parse("schedule").expect("a valid user name");
        self.start_named(pipeline, None, Trigger::Schedule { at }, &schedule)
            .await
    }

    /// Starts the retraining the monitor asks for after `report` found drift, on the latest
    /// version; one run per report.
    pub async fn retrain(&self, pipeline: &str, report: &str) -> Result<Run, TuneError> {
        let monitor = UserId::parse("monitor").expect("a valid user name");
        let trigger = Trigger::Monitor {
            report: report.to_owned(),
        };
        self.start_named(pipeline, None, trigger, &monitor).await
    }

    async fn start_named(
        &self,
        pipeline: &str,
        dataset_version: Option<u32>,
        trigger: Trigger,
        requested_by: &UserId,
    ) -> Result<Run, TuneError> {
        let stored = self
            .catalog
            .pipeline(pipeline, None)
            .await?
            .ok_or_else(|| {
                TuneError::Refused(format!(
                    "no pipeline {pipeline:?}: apply it first (tollgate pipeline apply FILE)"
                ))
            })?;
        let dataset = stored.pipeline.dataset.clone();
        let version = match dataset_version {
            Some(v) => v,
            None => self
                .catalog
                .dataset(&dataset)
                .await?
                .and_then(|d| d.latest_version)
                .ok_or_else(|| {
                    TuneError::Refused(format!(
                        "{dataset} has no accepted version yet: upload one first"
                    ))
                })?,
        };
        let accepted = self
            .catalog
            .version(&dataset, version)
            .await?
            .ok_or_else(|| {
                TuneError::Refused(format!("{dataset} has no accepted version {version}"))
            })?;
        self.start(stored, &accepted, trigger, requested_by.clone())
            .await
    }

    /// Records a job's end on its run and takes the run's next step.
    pub async fn job_changed(&self, change: &JobStateChange) -> Result<Option<Run>, TuneError> {
        let Some(run_id) = Run::id_of_job(&change.training_job_name) else {
            tracing::info!(
                job = change.training_job_name,
                "not a Tollgate job; ignored"
            );
            return Ok(None);
        };
        if self.catalog.run(run_id).await?.is_none() {
            tracing::info!(job = change.training_job_name, "no run {run_id}; ignored");
            return Ok(None);
        }
        self.advance(run_id, Some(change)).await.map(Some)
    }

    async fn start(
        &self,
        stored: StoredPipeline,
        version: &DatasetVersion,
        trigger: Trigger,
        requested_by: UserId,
    ) -> Result<Run, TuneError> {
        let id = run_id(&stored.pipeline.name, &trigger, version);
        if self.catalog.run(&id).await?.is_some() {
            return self.advance(&id, None).await;
        }
        let p = &stored.pipeline;
        let split = split::freeze(
            self.blobs.as_ref(),
            &self.data_bucket,
            version,
            &p.split,
            &self.config.work_dir,
        )
        .await?;
        let test_features = split::test_features(
            self.blobs.as_ref(),
            &split,
            &p.target,
            &self.config.work_dir,
        )
        .await?;
        let now = self.clock.now();
        let columns: Vec<String> = version.schema.iter().map(|c| c.name.clone()).collect();
        let features = p.feature_columns(&columns);
        let (max_trials, max_cost, period_note) = self.period_allowance(&stored, now, None).await?;
        let mut run = Run {
            id: id.clone(),
            pipeline: stored.clone(),
            dataset: version.dataset.clone(),
            dataset_version: version.version,
            content_hash: version.content_hash.clone(),
            split: tollgate_domain::training::SplitFiles {
                features: features.clone().unwrap_or_default(),
                test_features: Some(test_features),
                ..split
            },
            contributors: contributors(&trigger, &requested_by, &stored, version),
            trigger,
            requested_by: requested_by.clone(),
            status: RunStatus::Running,
            created_at: now,
            updated_at: now,
            // Out of range only past the limits, which fail the run below.
            deadline: p.budget.max_wall_time.and_then(|w| {
                now.checked_add(SignedDuration::from_secs(w.seconds() as i64))
                    .ok()
            }),
            max_trials,
            max_cost_usd: max_cost,
            trials: Vec::new(),
            best_trial: None,
            candidate: None,
            announced: false,
            notes: period_note.into_iter().collect(),
            revision: 0,
        };
        if let Err(reason) = features {
            run.status = RunStatus::Failed { reason };
        }
        // Applying refuses a pipeline past the limits; one stored before they held fails here,
        // saying why, instead of reaching a strategy that could not list its grid.
        if let Err((_, reason)) = p.within_limits() {
            run.status = RunStatus::Failed {
                reason: format!("pipeline {} v{}: {reason}", p.name, stored.version),
            };
        }
        let audit = AuditEvent::new(now, requested_by, "run.started", format!("run/{id}"))
            .to(run.status.as_str())
            .details(serde_json::json!({
                "pipeline": p.name,
                "pipeline_version": stored.version,
                "dataset": version.dataset,
                "dataset_version": version.version,
                "content_hash": version.content_hash,
            }));
        if self.catalog.create_run(&run, audit).await? {
            self.hold_to_period_budget(&id).await?;
        }
        self.advance(&id, None).await
    }

    /// Shrinks a new run's allowance to what the period's budget leaves after every other run
    /// of the period, read again now that this one is stored: two runs that started at once
    /// each read the budget before the other was there, but whichever is stored second sees
    /// the first here (every read is consistent), so together they never hold more than the
    /// budget. Allowances only shrink, and no trial has started yet.
    async fn hold_to_period_budget(&self, id: &str) -> Result<(), TuneError> {
        for _ in 0..8 {
            let Some(mut run) = self.catalog.run(id).await? else {
                return Ok(());
            };
            if run.pipeline.pipeline.budget.period.is_none() {
                return Ok(());
            }
            let (max_trials, max_cost, note) = self
                .period_allowance(&run.pipeline, run.created_at, Some(id))
                .await?;
            let cost_shrinks = match (max_cost, run.max_cost_usd) {
                (Some(allowed), Some(held)) => allowed < held,
                (Some(_), None) => true,
                _ => false,
            };
            if max_trials >= run.max_trials && !cost_shrinks {
                return Ok(());
            }
            run.max_trials = run.max_trials.min(max_trials);
            if cost_shrinks {
                run.max_cost_usd = max_cost;
            }
            run.notes.extend(note);
            run.revision += 1;
            match self.catalog.save_run(&run).await {
                Ok(()) => return Ok(()),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TuneError::Contended(id.to_owned(), 8))
    }

    /// What the period's budget leaves for a new run: trials, dollars, and a note when it cuts.
    /// `exclude`: a run not to count (the one being held to the budget).
    async fn period_allowance(
        &self,
        stored: &StoredPipeline,
        now: Timestamp,
        exclude: Option<&str>,
    ) -> Result<(u32, Option<f64>, Option<String>), TuneError> {
        let budget = &stored.pipeline.budget;
        let Some(period) = &budget.period else {
            return Ok((budget.max_trials, budget.max_cost_usd, None));
        };
        let since = period_start(period.every, now);
        let earlier: Vec<Run> = self
            .catalog
            .runs(Some(&stored.pipeline.name))
            .await?
            .into_iter()
            .filter(|r| r.created_at >= since && Some(r.id.as_str()) != exclude)
            .collect();
        // A run still going holds what it was allowed (it may yet start every trial and spend
        // every dollar of it); an ended one, what it used.
        let running = |r: &Run| r.status == RunStatus::Running;
        let trials: u32 = earlier
            .iter()
            .map(|r| {
                let started = r.trials.len() as u32;
                if running(r) {
                    started.max(r.max_trials)
                } else {
                    started
                }
            })
            .sum();
        let spent: f64 = earlier
            .iter()
            .map(|r| match (running(r), r.max_cost_usd) {
                (true, Some(allowed)) => allowed.max(r.spend()),
                _ => r.spend(),
            })
            .sum();
        let mut max_trials = budget.max_trials;
        let mut max_cost = budget.max_cost_usd;
        let mut note = None;
        if let Some(cap) = period.max_trials {
            let left = cap.saturating_sub(trials);
            if left < max_trials {
                max_trials = left;
                note = Some(format!(
                    "this {:?}'s budget of {cap} trials had {left} left",
                    period.every
                ));
            }
        }
        if let Some(cap) = period.max_cost_usd {
            let left = (cap - spent).max(0.0);
            if max_cost.is_none_or(|c| left < c) {
                max_cost = Some(left);
                note = Some(format!(
                    "this {:?}'s budget of ${cap:.2} had ${left:.2} left",
                    period.every
                ));
            }
        }
        Ok((max_trials, max_cost, note.map(|n| n.to_lowercase())))
    }

    /// Takes the run's next step: decide, write conditionally, act; again until nothing changes.
    pub async fn advance(
        &self,
        id: &str,
        change: Option<&JobStateChange>,
    ) -> Result<Run, TuneError> {
        let mut inputs = Inputs {
            change,
            ..Inputs::default()
        };
        let mut attempts = 0;
        loop {
            let stored = self
                .catalog
                .run(id)
                .await?
                .ok_or_else(|| TuneError::Refused(format!("no run {id}")))?;
            let mut run = stored.clone();
            let ctx_next = self
                .catalog
                .model_versions(&run.pipeline.pipeline.name)
                .await?
                .last()
                .map_or(1, |m| m.version + 1);
            let ctx = Context {
                now: self.clock.now(),
                next_model_version: ctx_next,
                bucket: &self.data_bucket,
                trainer: &self.config.trainer,
            };
            let actions = decide(&mut run, &inputs, &ctx);
            if run != stored {
                run.revision = stored.revision + 1;
                run.updated_at = ctx.now;
                let written = match &actions.register {
                    Some(model) => {
                        let audit = AuditEvent::new(
                            ctx.now,
                            model.author.clone(),
                            "model.candidate.registered",
                            format!("model/{}/v{}", model.model, model.version),
                        )
                        .to("candidate")
                        .details(serde_json::json!({
                            "run": run.id,
                            "trial": model.trial,
                            "dataset": model.dataset,
                            "dataset_version": model.dataset_version,
                            "content_hash": model.content_hash,
                            model.primary_metric.clone(): model.metrics.get(&format!("validation:{}", model.primary_metric)),
                        }));
                        self.catalog.register_model(&run, model, audit).await
                    }
                    None => self.catalog.save_run(&run).await,
                };
                match written {
                    Ok(()) => {}
                    Err(PortError::Conflict(why)) => {
                        attempts += 1;
                        if attempts >= MAX_ATTEMPTS {
                            return Err(TuneError::Contended(id.to_owned(), attempts));
                        }
                        tracing::debug!(run = id, "step lost a race ({why}); deciding again");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // Written: act, then feed what happened into the next decision.
            inputs = Inputs::default();
            for name in &actions.stop {
                match self.backend.stop(name).await {
                    Ok(()) | Err(PortError::NotFound(_)) => {}
                    Err(e) => tracing::warn!(job = name, "stopping: {e}"),
                }
            }
            for job in &actions.start {
                match self.backend.start(job).await {
                    Ok(_) => inputs.started.push(job.name.clone()),
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    Err(e) => inputs
                        .start_failures
                        .push((job.name.clone(), e.to_string())),
                }
            }
            if let Some(event) = &actions.announce {
                self.bus.publish(event).await?;
                inputs.announced = true;
            }
            if inputs.started.is_empty() && inputs.start_failures.is_empty() && !inputs.announced {
                return Ok(run);
            }
        }
    }
}

/// A run's id: the pipeline's name and a digest of what started it, so a second delivery of the
/// same trigger names the same run. With `-t000` it stays within SageMaker's 63 characters.
fn run_id(pipeline: &str, trigger: &Trigger, version: &DatasetVersion) -> String {
    let what = match trigger {
        Trigger::Upload { dataset_version } => {
            format!("upload/{}/v{dataset_version}", version.dataset)
        }
        Trigger::Request { request_id } => format!("request/{request_id}"),
        Trigger::Schedule { at } => format!("schedule/{at}"),
        Trigger::Monitor { report } => format!("monitor/{report}"),
    };
    let digest = Sha256::digest(format!("{pipeline}\n{what}").as_bytes());
    format!("{pipeline}-{}", hex::encode(&digest[..4]))
}

/// The start of the calendar period (UTC) that holds `now`.
fn period_start(every: CalendarPeriod, now: Timestamp) -> Timestamp {
    let date = now.to_zoned(TimeZone::UTC).date();
    let first = match every {
        CalendarPeriod::Day => date,
        CalendarPeriod::Week => date
            .checked_sub(jiff::Span::new().days(i64::from(date.weekday().to_monday_zero_offset())))
            .expect("a date within range"),
        CalendarPeriod::Month => date.first_of_month(),
    };
    first
        .to_zoned(TimeZone::UTC)
        .expect("midnight UTC exists")
        .timestamp()
}
