//! One step of a run, decided without IO: given the run as stored and what just happened, change
//! the run and say what to do once the change is written.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use tollgate_domain::pipeline::{BackendKind, Task};
use tollgate_domain::training::{CandidateRef, JobStateChange, JobStatus};
use tollgate_domain::{
    BucketName, Event, ModelStage, ModelVersion, Run, RunStatus, TrainingJob, TrialRecord,
    TrialStatus,
};
use tollgate_tuning::{Ask, Budget, Study, Trial, TrialState, for_pipeline};

/// What the step learned since the run was stored.
#[derive(Debug, Default)]
pub(crate) struct Inputs<'a> {
    pub change: Option<&'a JobStateChange>,
    /// Jobs the backend confirmed started.
    pub started: Vec<String>,
    /// Jobs the backend refused, with why.
    pub start_failures: Vec<(String, String)>,
    /// Whether `ModelCandidateRegistered` has gone out.
    pub announced: bool,
}

/// What to do once the run is written.
#[derive(Debug, Default)]
pub(crate) struct Actions {
    pub start: Vec<TrainingJob>,
    pub stop: Vec<String>,
    pub register: Option<ModelVersion>,
    pub announce: Option<Event>,
}

/// Where the step runs: its time, the model's next version, the data bucket, the trainer's name.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub now: Timestamp,
    pub next_model_version: u32,
    pub bucket: &'a BucketName,
    pub trainer: &'a str,
}

/// The metrics the trainer reports for a task, as `<channel>:<metric>`.
pub fn metric_names(task: Task) -> Vec<String> {
    let metrics: &[&str] = match task {
        Task::Classification => &["accuracy", "f1_macro", "log_loss"],
        Task::Regression => &["rmse", "mae", "r2"],
    };
    ["train", "validation", "test"]
        .iter()
        .flat_map(|c| metrics.iter().map(move |m| format!("{c}:{m}")))
        .collect()
}

fn note(run: &mut Run, text: String) {
    if !run.notes.contains(&text) {
        run.notes.push(text);
    }
}

/// Records a job's end on its trial; `false` when the trial had already ended (a duplicate or
/// late event).
fn record(run: &mut Run, change: &JobStateChange, now: Timestamp) -> bool {
    let metric = run.pipeline.pipeline.metric();
    let price = run
        .pipeline
        .pipeline
        .backend
        .price_per_hour()
        .unwrap_or(0.0);
    let Some(trial) = run
        .trials
        .iter_mut()
        .find(|t| t.job_name == change.training_job_name)
    else {
        return false;
    };
    if !trial.status.is_active() || !change.is_final() {
        return false;
    }
    trial.ended_at = Some(now);
    trial.cost_usd = change.billable_time_in_seconds.unwrap_or(0) as f64 * price / 3600.0;
    trial.metrics = change
        .final_metric_data_list
        .iter()
        .map(|m| (m.metric_name.clone(), m.value))
        .collect();
    let objective_name = format!("validation:{}", metric.as_str());
    match change.training_job_status {
        JobStatus::Completed => match trial.metrics.get(&objective_name) {
            Some(v) if v.is_finite() => {
                trial.status = TrialStatus::Completed;
                trial.objective = Some(metric.objective(*v));
                trial.artifact = change
                    .model_artifacts
                    .as_ref()
                    .map(|a| a.s3_model_artifacts.clone());
            }
            _ => {
                trial.status = TrialStatus::Failed;
                trial.failure = Some(format!(
                    "the job completed but reported no finite {objective_name}"
                ));
            }
        },
        JobStatus::Stopped => {
            trial.status = TrialStatus::Stopped;
            trial.failure = change.failure_reason.clone();
        }
        _ => {
            trial.status = TrialStatus::Failed;
            trial.failure = Some(
                change
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "the job failed without a reason".into()),
            );
        }
    }
    true
}

fn study_trial(t: &TrialRecord) -> Trial {
    Trial {
        id: t.id,
        params: t.params.clone(),
        state: match (t.status, t.objective) {
            (TrialStatus::Pending | TrialStatus::Running, _) => TrialState::Running,
            (TrialStatus::Completed, Some(objective)) => TrialState::Completed { objective },
            _ => TrialState::Failed {
                reason: t.failure.clone().unwrap_or_default(),
            },
        },
    }
}

fn job(run: &Run, trial: &TrialRecord, bucket: &BucketName) -> TrainingJob {
    let p = &run.pipeline.pipeline;
    let mut hyperparameters: BTreeMap<String, String> = trial
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.to_job_string()))
        .collect();
    let features = serde_json::to_string(&run.split.features).expect("column names always encode");
    for (k, v) in [
        ("model", p.model.as_str().to_owned()),
        ("task", p.task.as_str().to_owned()),
        ("target", p.target.clone()),
        ("features", features),
        ("metric", p.metric().as_str().to_owned()),
        (
            "seed",
            p.search.seed.wrapping_add(u64::from(trial.id)).to_string(),
        ),
    ] {
        hyperparameters.insert(k.to_owned(), v);
    }
    if !p.class_weight.is_none() {
        hyperparameters.insert(
            "class_weight".to_owned(),
            p.class_weight.as_str().to_owned(),
        );
    }
    TrainingJob {
        name: trial.job_name.clone(),
        hyperparameters,
        // The test rows go without their labels, which stay with the evaluator.
        channels: [
            ("train", Some(&run.split.train)),
            ("validation", Some(&run.split.validation)),
            ("test", run.split.test_features.as_ref()),
        ]
        .into_iter()
        .filter_map(|(channel, object)| Some((channel.to_owned(), object?.clone())))
        .collect(),
        output_bucket: bucket.clone(),
        output_prefix: format!("runs/{}/", run.id),
        backend: p.backend.clone(),
        max_runtime: Duration::from_secs(trial.max_runtime_secs),
        metric_names: metric_names(p.task),
    }
}

/// Decides one step. The run is changed in place; the actions follow once it is written.
pub(crate) fn decide(run: &mut Run, inputs: &Inputs<'_>, ctx: &Context<'_>) -> Actions {
    let mut actions = Actions::default();
    if run.status != RunStatus::Running {
        // Ended: a late event changes nothing, but an unannounced end (the candidate, or the
        // failure) is announced.
        if inputs.announced {
            run.announced = true;
        }
        if !run.announced {
            actions.announce = ending(run);
        }
        return actions;
    }
    for t in run.trials.iter_mut() {
        if t.status == TrialStatus::Pending && inputs.started.contains(&t.job_name) {
            t.status = TrialStatus::Running;
        }
        if let Some((_, reason)) = inputs
            .start_failures
            .iter()
            .find(|(name, _)| *name == t.job_name)
            .filter(|_| t.status.is_active())
        {
            t.status = TrialStatus::Failed;
            t.failure = Some(format!("the job did not start: {reason}"));
            t.ended_at = Some(ctx.now);
        }
    }
    if let Some(change) = inputs.change {
        record(run, change, ctx.now);
    }

    let pipeline = run.pipeline.pipeline.clone();
    let budget = Budget {
        max_trials: run.max_trials.max(1),
        max_parallel: pipeline.budget.max_parallel,
    };
    let trials: Vec<Trial> = run.trials.iter().map(study_trial).collect();
    let mut study = Study::resume(
        for_pipeline(&pipeline.search, budget.max_trials),
        budget,
        trials,
    )
    .expect("a checked pipeline has a budget of at least one trial and one job");

    let remaining = run
        .deadline
        .map(|d| Duration::try_from(d.duration_since(ctx.now)).unwrap_or(Duration::ZERO));
    let mut stopped_asking = run.max_trials == 0;
    if remaining.is_some_and(|r| r.as_secs() < 1) {
        stopped_asking = true;
        // Pending jobs are not started now; any started one was given no runtime past the
        // deadline, and is stopped.
        for t in run
            .trials
            .iter_mut()
            .filter(|t| t.status == TrialStatus::Pending)
        {
            t.status = TrialStatus::Stopped;
            t.failure = Some("not started: the wall-time budget ran out".into());
            t.ended_at = Some(ctx.now);
        }
        let running: Vec<String> = run
            .trials
            .iter()
            .filter(|t| t.status.is_active())
            .map(|t| t.job_name.clone())
            .collect();
        if let Some(wall) = pipeline.budget.max_wall_time {
            note(
                run,
                format!("the wall-time budget of {wall} ran out; no trial starts after it"),
            );
        }
        actions.stop = running;
    } else if run.max_trials > 0 {
        let runtime = remaining.map_or(pipeline.backend.max_runtime.0, |r| {
            r.min(pipeline.backend.max_runtime.0)
        });
        let reserve = pipeline.backend.worst_case_cost(runtime);
        loop {
            if let Some(max) = run.max_cost_usd
                && run.spend() + reserve > max + 1e-9
            {
                if run.trials.iter().all(|t| !t.status.is_active()) {
                    note(
                        run,
                        format!(
                            "the cost budget of ${max:.2} leaves too little for another job (${reserve:.2} at worst)"
                        ),
                    );
                }
                stopped_asking = true;
                break;
            }
            match study.ask() {
                Ask::Run(trial) => run.trials.push(TrialRecord {
                    id: trial.id,
                    job_name: Run::job_name(&run.id, trial.id),
                    params: trial.params,
                    status: TrialStatus::Pending,
                    metrics: BTreeMap::new(),
                    objective: None,
                    failure: None,
                    artifact: None,
                    started_at: ctx.now,
                    ended_at: None,
                    max_runtime_secs: runtime.as_secs(),
                    reserved_usd: reserve,
                    cost_usd: 0.0,
                }),
                Ask::Wait => break,
                Ask::Exhausted => {
                    stopped_asking = true;
                    break;
                }
            }
        }
    }
    actions.start = run
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Pending)
        .map(|t| job(run, t, ctx.bucket))
        .collect();

    if stopped_asking && run.trials.iter().all(|t| !t.status.is_active()) {
        finish(run, &study, ctx, &mut actions);
    }
    actions
}

fn finish(run: &mut Run, study: &Study, ctx: &Context<'_>, actions: &mut Actions) {
    let best = study
        .best()
        .and_then(|b| run.trials.iter().find(|t| t.id == b.id))
        .cloned();
    let Some(best) = best else {
        let reasons: Vec<String> = run
            .trials
            .iter()
            .filter_map(|t| t.failure.as_ref().map(|f| format!("trial {}: {f}", t.id)))
            .take(3)
            .collect();
        run.status = RunStatus::Failed {
            reason: if run.trials.is_empty() {
                run.notes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "no trial could start".into())
            } else {
                format!("no trial completed ({})", reasons.join("; "))
            },
        };
        actions.announce = ending(run);
        return;
    };
    let p = &run.pipeline.pipeline;
    let trainer = match (p.backend.kind, &p.backend.image) {
        (BackendKind::Sagemaker, Some(image)) => image.clone(),
        _ => ctx.trainer.to_owned(),
    };
    let model = ModelVersion {
        model: p.name.clone(),
        version: ctx.next_model_version,
        stage: ModelStage::Candidate,
        task: p.task,
        family: p.model,
        run_id: run.id.clone(),
        trial: best.id,
        job_name: best.job_name.clone(),
        hyperparameters: best.params.clone(),
        metrics: best.metrics.clone(),
        primary_metric: p.metric().as_str().to_owned(),
        artifact: best.artifact.clone().unwrap_or_default(),
        dataset: run.dataset.clone(),
        dataset_version: run.dataset_version,
        content_hash: run.content_hash.clone(),
        split: run.split.clone(),
        pipeline_version: run.pipeline.version,
        pipeline_hash: run.pipeline.hash.clone(),
        trainer,
        author: run.requested_by.clone(),
        contributors: run.contributors.clone(),
        created_at: ctx.now,
        approvals: Vec::new(),
        test: None,
        test_report: None,
        revision: 0,
    };
    run.status = RunStatus::Succeeded;
    run.best_trial = Some(best.id);
    let candidate = CandidateRef {
        model: model.model.clone(),
        version: model.version,
    };
    actions.announce = Some(announcement(run, &candidate));
    run.candidate = Some(candidate);
    actions.register = Some(model);
}

/// What an ended run announces: its candidate, or its failure.
fn ending(run: &Run) -> Option<Event> {
    match (&run.status, &run.candidate) {
        (_, Some(candidate)) => Some(announcement(run, candidate)),
        (RunStatus::Failed { reason }, None) => Some(Event::RunFailed {
            pipeline: run.pipeline.pipeline.name.clone(),
            run_id: run.id.clone(),
            reason: reason.clone(),
            requested_by: run.requested_by.clone(),
        }),
        _ => None,
    }
}

fn announcement(run: &Run, candidate: &CandidateRef) -> Event {
    let artifact = run
        .best_trial
        .and_then(|b| run.trials.iter().find(|t| t.id == b))
        .and_then(|t| t.artifact.clone())
        .unwrap_or_default();
    Event::ModelCandidateRegistered {
        model: candidate.model.clone(),
        version: candidate.version,
        run_id: run.id.clone(),
        artifact,
        dataset: run.dataset.clone(),
        dataset_version: run.dataset_version,
        content_hash: run.content_hash.clone(),
        author: run.requested_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use tollgate_domain::training::{MetricData, ModelArtifacts, SplitFiles, StoredPipeline};
    use tollgate_domain::{BlobKey, ContentHash, DatasetName, ObjectRef, Pipeline, UserId};

    use super::*;

    /// The instant every test run starts at.
    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    const PIPELINE: &str = r#"
name = "p"
dataset = "d"
target = "y"
task = "regression"
model = "elastic_net"
[search]
strategy = "random"
[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 1.0 }
[budget]
max_trials = 6
max_parallel = 2
"#;

    fn run(extra: &str, backend: &str) -> Run {
        let text = format!("{PIPELINE}{extra}\n[backend]\n{backend}\n");
        let pipeline = Pipeline::from_toml(&text).unwrap();
        let hash = ContentHash::parse(&"ab".repeat(32)).unwrap();
        let bucket = BucketName::parse("data").unwrap();
        let object = |k: &str| ObjectRef::new(bucket.clone(), BlobKey::parse(k).unwrap());
        let now = t0();
        Run {
            id: "p-00000000".into(),
            deadline: pipeline
                .budget
                .max_wall_time
                .map(|w| now + SignedDuration::from_secs(w.seconds() as i64)),
            max_trials: pipeline.budget.max_trials,
            max_cost_usd: pipeline.budget.max_cost_usd,
            pipeline: StoredPipeline {
                version: 1,
                pipeline,
                text,
                hash: hash.clone(),
                applied_by: UserId::parse("ana").unwrap(),
                applied_at: now,
            },
            dataset: DatasetName::parse("d").unwrap(),
            dataset_version: 1,
            content_hash: hash.clone(),
            split: SplitFiles {
                train: object("s/train.parquet"),
                validation: object("s/validation.parquet"),
                test: object("s/test.parquet"),
                test_hash: hash,
                test_features: Some(object("s/test-features/x.parquet")),
                rows: [7, 2, 1],
                features: vec!["x".into()],
            },
            trigger: tollgate_domain::Trigger::Request {
                request_id: "r".into(),
            },
            requested_by: UserId::parse("ana").unwrap(),
            contributors: Vec::new(),
            status: RunStatus::Running,
            created_at: now,
            updated_at: now,
            trials: Vec::new(),
            best_trial: None,
            candidate: None,
            announced: false,
            notes: Vec::new(),
            revision: 0,
        }
    }

    fn ctx(at: Timestamp) -> (BucketName, Timestamp) {
        (BucketName::parse("data").unwrap(), at)
    }

    fn step(run: &mut Run, inputs: &Inputs<'_>, at: Timestamp) -> Actions {
        let (bucket, now) = ctx(at);
        decide(
            run,
            inputs,
            &Context {
                now,
                next_model_version: 1,
                bucket: &bucket,
                trainer: "tollgate-trainer test",
            },
        )
    }

    fn ended(job: &str, status: JobStatus, rmse: Option<f64>, secs: u64) -> JobStateChange {
        JobStateChange {
            training_job_name: job.into(),
            training_job_status: status,
            failure_reason: (status != JobStatus::Completed).then(|| "boom".into()),
            model_artifacts: Some(ModelArtifacts {
                s3_model_artifacts: format!("s3://data/runs/{job}/model/"),
            }),
            final_metric_data_list: rmse
                .map(|v| MetricData {
                    metric_name: "validation:rmse".into(),
                    value: v,
                })
                .into_iter()
                .collect(),
            billable_time_in_seconds: Some(secs),
        }
    }

    /// Drives a run to its end: every started job ends with `outcome(trial)`.
    fn drive(run: &mut Run, outcome: impl Fn(u32) -> (JobStatus, Option<f64>)) -> Vec<Actions> {
        let now = run.created_at;
        let mut log = vec![step(run, &Inputs::default(), now)];
        for _ in 0..100 {
            let started: Vec<String> = log
                .last()
                .unwrap()
                .start
                .iter()
                .map(|j| j.name.clone())
                .collect();
            if !started.is_empty() {
                let inputs = Inputs {
                    started,
                    ..Inputs::default()
                };
                log.push(step(run, &inputs, now));
                continue;
            }
            let Some(t) = run
                .trials
                .iter()
                .find(|t| t.status == TrialStatus::Running)
                .cloned()
            else {
                break;
            };
            let (status, rmse) = outcome(t.id);
            let change = ended(&t.job_name, status, rmse, 60);
            log.push(step(
                run,
                &Inputs {
                    change: Some(&change),
                    ..Inputs::default()
                },
                now,
            ));
        }
        log
    }

    #[test]
    fn a_run_starts_at_most_max_parallel_and_registers_the_best() {
        let mut r = run("", "kind = \"local\"");
        let first = step(&mut r, &Inputs::default(), t0());
        assert_eq!(first.start.len(), 2, "max_parallel = 2");
        assert!(
            first
                .start
                .iter()
                .all(|j| j.hyperparameters["target"] == "y")
        );
        let mut r = run("", "kind = \"local\"");
        let log = drive(&mut r, |id| {
            (JobStatus::Completed, Some(10.0 - f64::from(id)))
        });
        assert_eq!(r.trials.len(), 6);
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!(r.best_trial, Some(5), "the lowest rmse");
        let registered: Vec<&ModelVersion> =
            log.iter().filter_map(|a| a.register.as_ref()).collect();
        assert_eq!(registered.len(), 1);
        assert_eq!(registered[0].trial, 5);
        assert_eq!(registered[0].content_hash, r.content_hash);
    }

    #[test]
    fn failed_trials_count_and_do_not_stall_the_run() {
        let mut r = run("", "kind = \"local\"");
        drive(&mut r, |id| {
            if id % 2 == 0 {
                (JobStatus::Failed, None)
            } else {
                (JobStatus::Completed, Some(f64::from(id)))
            }
        });
        assert_eq!(r.trials.len(), 6, "failures count against max_trials");
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!(r.best_trial, Some(1));
        assert!(r.trials[0].failure.as_deref() == Some("boom"));
        // A completed job that reports no objective fails its trial, readably.
        let mut r = run("", "kind = \"local\"");
        drive(&mut r, |_| (JobStatus::Completed, None));
        let RunStatus::Failed { reason } = &r.status else {
            panic!("{:?}", r.status)
        };
        assert!(reason.contains("validation:rmse"), "{reason}");
    }

    #[test]
    fn a_duplicate_or_late_event_changes_nothing() {
        let mut r = run("", "kind = \"local\"");
        drive(&mut r, |id| (JobStatus::Completed, Some(f64::from(id))));
        let done = r.clone();
        let late = ended(&r.trials[0].job_name, JobStatus::Failed, None, 999);
        let actions = step(
            &mut r,
            &Inputs {
                change: Some(&late),
                ..Inputs::default()
            },
            t0(),
        );
        assert!(actions.register.is_none() && actions.start.is_empty());
        // Only the announcement, which the run has not yet recorded as sent.
        assert!(actions.announce.is_some());
        assert_eq!(r, done);
    }

    #[test]
    fn the_cost_budget_reserves_each_jobs_worst_case() {
        // ml.m5.large at $0.115/h, 1 h max runtime: $0.115 reserved per job; $0.30 allows 2.
        let mut r = run(
            "max_cost_usd = 0.30",
            "kind = \"sagemaker\"\nimage = \"trainer:1\"\ninstance_type = \"ml.m5.large\"\nmax_runtime = \"1h\"",
        );
        let first = step(&mut r, &Inputs::default(), t0());
        assert_eq!(first.start.len(), 2);
        // Each ends after 60 s: $0.0019 charged, so the rest of the budget opens up again.
        drive(&mut r, |id| (JobStatus::Completed, Some(f64::from(id))));
        assert!(r.spend() <= 0.30, "spent {}", r.spend());
        assert_eq!(r.trials.len(), 6);
        // With $0.20, one job at a time fits, never two.
        let mut r = run(
            "max_cost_usd = 0.20",
            "kind = \"sagemaker\"\nimage = \"trainer:1\"\ninstance_type = \"ml.m5.large\"\nmax_runtime = \"1h\"",
        );
        assert_eq!(step(&mut r, &Inputs::default(), t0()).start.len(), 1);
        // With $0.10, none.
        let mut r = run(
            "max_cost_usd = 0.10",
            "kind = \"sagemaker\"\nimage = \"trainer:1\"\ninstance_type = \"ml.m5.large\"\nmax_runtime = \"1h\"",
        );
        let none = step(&mut r, &Inputs::default(), t0());
        assert!(none.start.is_empty());
        let RunStatus::Failed { reason } = &r.status else {
            panic!("{:?}", r.status)
        };
        assert!(reason.contains("cost budget"), "{reason}");
        // The failure is announced, with its reason, until the run records it as sent.
        let Some(Event::RunFailed {
            run_id,
            reason: told,
            ..
        }) = none.announce
        else {
            panic!("{:?}", none.announce)
        };
        assert_eq!((&run_id, &told), (&r.id, reason));
        let again = step(&mut r, &Inputs::default(), t0());
        assert!(matches!(again.announce, Some(Event::RunFailed { .. })));
        let sent = Inputs {
            announced: true,
            ..Inputs::default()
        };
        step(&mut r, &sent, t0());
        assert!(r.announced);
        assert!(step(&mut r, &Inputs::default(), t0()).announce.is_none());
    }

    #[test]
    fn jobs_never_run_past_the_wall_time_and_are_stopped_at_it() {
        let mut r = run(
            "max_wall_time = \"30m\"",
            "kind = \"local\"\nmax_runtime = \"1h\"",
        );
        let start = r.created_at;
        let first = step(&mut r, &Inputs::default(), start);
        assert!(first.start.iter().all(|j| j.max_runtime.as_secs() == 1800));
        let started: Vec<String> = first.start.iter().map(|j| j.name.clone()).collect();
        step(
            &mut r,
            &Inputs {
                started: started.clone(),
                ..Inputs::default()
            },
            start,
        );
        // Twenty minutes in, a job ends: the next one gets the ten minutes left.
        let change = ended(&started[0], JobStatus::Completed, Some(1.0), 1200);
        let at = start + SignedDuration::from_mins(20);
        let next = step(
            &mut r,
            &Inputs {
                change: Some(&change),
                ..Inputs::default()
            },
            at,
        );
        assert_eq!(next.start.len(), 1);
        assert_eq!(next.start[0].max_runtime.as_secs(), 600);
        // Past the deadline: nothing starts, the running jobs are stopped.
        let late = step(
            &mut r,
            &Inputs::default(),
            start + SignedDuration::from_mins(31),
        );
        assert!(late.start.is_empty());
        assert_eq!(
            late.stop.len(),
            1,
            "the one running; the pending one never starts"
        );
        assert_eq!(r.trials[2].status, TrialStatus::Stopped);
        assert!(r.notes.iter().any(|n| n.contains("wall-time")));
    }
}
