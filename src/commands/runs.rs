//! `tollgate run PIPELINE`, `tollgate runs`, `tollgate run show ID`.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tollgate_api_types::RunSummary;
use tollgate_domain::ports::Catalog;
use tollgate_domain::{Run, RunStatus, TrialRecord, TrialStatus};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

/// A progress bar of a run's trials on stderr; hidden with `--json` or off a terminal.
pub fn bar(enabled: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:24}] {pos}/{len} trials {msg} [{elapsed}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Shows a run's progress on the bar.
pub fn show_progress(bar: &ProgressBar, run: &Run) {
    let ended = run.trials.iter().filter(|t| !t.status.is_active()).count() as u64;
    let running = run.trials.iter().filter(|t| t.status.is_active()).count();
    bar.set_prefix(run.id.clone());
    bar.set_length(u64::from(run.max_trials).max(ended));
    bar.set_position(ended);
    let best = best_so_far(run)
        .map(|(t, v)| format!(", best {v:.4} (trial {})", t.id))
        .unwrap_or_default();
    bar.set_message(format!("({running} running{best})"));
}

fn best_so_far(run: &Run) -> Option<(&TrialRecord, f64)> {
    let metric = format!("validation:{}", run.pipeline.pipeline.metric().as_str());
    run.trials
        .iter()
        .filter(|t| t.status == TrialStatus::Completed)
        .filter_map(|t| Some((t, t.objective?, *t.metrics.get(&metric)?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _, v)| (t, v))
}

pub async fn run(
    env: &Embedded,
    pipeline: &str,
    dataset_version: Option<u32>,
    json: bool,
) -> anyhow::Result<Outcome> {
    // A path names a file to apply first; anything else is a pipeline's name.
    let name = if pipeline.ends_with(".toml") || Path::new(pipeline).is_file() {
        let (stored, changed) = super::pipeline::store(env, Path::new(pipeline)).await?;
        if changed && !json {
            eprintln!(
                "Applied {pipeline} as pipeline {} version {}.",
                stored.pipeline.name, stored.version
            );
        }
        stored.pipeline.name
    } else {
        pipeline.to_owned()
    };
    let asked = env
        .app()
        .record_run_request(&name, dataset_version, None, &env.user)
        .await
        .map_err(|e| crate::not_found(e, "apply it first: tollgate pipeline apply FILE"))?;
    let tune = env.tune();
    let started = match tune
        .request(
            &asked.pipeline,
            asked.dataset_version,
            &asked.requested_by,
            &asked.request_id,
        )
        .await
    {
        Ok(run) => run,
        Err(e @ tollgate_tune::TuneError::Refused(_)) => {
            return Err(UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let progress = bar(!json);
    show_progress(&progress, &started);
    let id = started.id.clone();
    let runs = env
        .settle(vec![started], |r| {
            if r.id == id {
                show_progress(&progress, r);
            }
        })
        .await;
    progress.finish_and_clear();
    let run = runs?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| anyhow::anyhow!("run {id} vanished"))?;
    report(env, &run, json).await
}

/// What became of a run's candidate: its model tests and its stage.
pub async fn candidate_text(env: &Embedded, run: &Run) -> anyhow::Result<String> {
    let Some(c) = &run.candidate else {
        return Ok(String::new());
    };
    let Some(model) = env.catalog.model_version(&c.model, c.version).await? else {
        return Ok(String::new());
    };
    let tested = test_report(env, &model).await;
    let mut scored = tested
        .as_ref()
        .and_then(|r| {
            let metric = run.pipeline.pipeline.metric().as_str();
            r.metrics.get(metric).map(|v| {
                format!("On the frozen test split (scored by the model tests): {metric} {v:.4}\n")
            })
        })
        .unwrap_or_default();
    if let Some(n) = tested.map(|r| r.rows_without_target).filter(|n| *n > 0) {
        scored.push_str(&format!(
            "Left out of the tests: {n} test {} without a {} value.\n",
            if n == 1 { "row" } else { "rows" },
            run.pipeline.pipeline.target
        ));
    }
    Ok(scored
        + &match &model.test {
            None => "Model tests: not run yet.\n".to_owned(),
            Some(tollgate_domain::TestVerdict::Passed) => format!(
                "Model tests: passed ({}); stage {}.\n",
                model
                    .test_report
                    .as_ref()
                    .map_or(String::new(), |r| env.path_of(r).display().to_string()),
                model.stage.as_str()
            ),
            Some(tollgate_domain::TestVerdict::Failed { reason }) => {
                format!("Model tests: {reason}; stage {}.\n", model.stage.as_str())
            }
        })
}

/// The candidate's test report: its metrics on the test split (the jobs never see the test
/// labels, so no trial reports them) and the rows it left out; `None` before the tests ran.
async fn test_report(
    env: &Embedded,
    model: &tollgate_domain::ModelVersion,
) -> Option<tollgate_modeltest::TestReport> {
    let report = model.test_report.as_ref()?;
    use tollgate_domain::ports::BlobStore;
    let bytes = env.blobs.get(&report.bucket, &report.key).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn report(env: &Embedded, run: &Run, json: bool) -> anyhow::Result<Outcome> {
    if json {
        let mut value = run_json(run);
        if let Some(c) = &run.candidate
            && let Some(model) = env.catalog.model_version(&c.model, c.version).await?
        {
            value["candidate"]["stage"] = json!(model.stage.as_str());
            value["candidate"]["test"] = json!(model.test);
            value["candidate"]["test_report"] = model
                .test_report
                .as_ref()
                .map_or(Value::Null, |r| crate::output::object_json(env, r));
            let tested = test_report(env, &model).await;
            value["candidate"]["test_metrics"] = json!(tested.as_ref().map(|r| &r.metrics));
            value["candidate"]["test_rows_without_target"] =
                json!(tested.as_ref().map(|r| r.rows_without_target));
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}{}", run_text(run), candidate_text(env, run).await?);
    }
    Ok(match run.status {
        RunStatus::Succeeded | RunStatus::Running => Outcome::Done,
        RunStatus::Failed { .. } => Outcome::Refused,
    })
}

pub async fn list(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let app = env.app();
    let filter = tollgate_app::RunFilter::default();
    let mut page = tollgate_domain::ports::PageRequest::first(tollgate_domain::ports::MAX_PAGE);
    let mut runs = Vec::new();
    loop {
        let got = app
            .runs(&filter, &page)
            .await
            .map_err(|e| crate::app_error(e, None))?;
        runs.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    render_list(&runs, json)
}

/// `tollgate runs`, from the runs newest first (the data dir's, or the API's).
pub fn render_list(runs: &[RunSummary], json: bool) -> anyhow::Result<Outcome> {
    if json {
        let rows: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "run_id": r.id,
                    "pipeline": r.pipeline,
                    "dataset": r.dataset,
                    "dataset_version": r.dataset_version,
                    "status": r.status.as_str(),
                    "reason": match &r.status {
                        RunStatus::Failed { reason } => Some(reason),
                        _ => None,
                    },
                    "trials": r.trials,
                    "candidate": r.candidate,
                    "created_at": r.created_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Done);
    }
    if runs.is_empty() {
        println!("No runs yet. Start one with: tollgate run PIPELINE");
        return Ok(Outcome::Done);
    }
    println!(
        "{:<34} {:<22} {:<16} {:<10} {:>6}  {:<20} started",
        "run", "pipeline", "dataset", "status", "trials", "candidate"
    );
    for r in runs {
        println!(
            "{:<34} {:<22} {:<16} {:<10} {:>6}  {:<20} {}",
            r.id,
            r.pipeline,
            format!("{} v{}", r.dataset, r.dataset_version),
            r.status.as_str(),
            r.trials,
            r.candidate
                .as_ref()
                .map(|c| format!("{} v{}", c.model, c.version))
                .unwrap_or_else(|| "-".into()),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        );
    }
    Ok(Outcome::Done)
}

pub async fn show(env: &Embedded, id: &str, json: bool) -> anyhow::Result<Outcome> {
    let run = env
        .catalog
        .run(id)
        .await?
        .ok_or_else(|| UsageError(format!("no run {id:?} (tollgate runs lists them)")))?;
    report(env, &run, json).await
}

fn trial_json(t: &TrialRecord) -> Value {
    json!({
        "id": t.id,
        "job": t.job_name,
        "status": t.status.as_str(),
        "hyperparameters": t.params,
        "metrics": t.metrics,
        "objective": t.objective,
        "failure": t.failure,
        "artifact": t.artifact,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "cost_usd": t.cost_usd,
    })
}

pub fn run_json(run: &Run) -> Value {
    let best = run
        .best_trial
        .and_then(|b| run.trials.iter().find(|t| t.id == b));
    json!({
        "run_id": run.id,
        "pipeline": run.pipeline.pipeline.name,
        "pipeline_version": run.pipeline.version,
        "pipeline_hash": run.pipeline.hash,
        "dataset": run.dataset,
        "dataset_version": run.dataset_version,
        "content_hash": run.content_hash,
        "status": run.status.as_str(),
        "reason": match &run.status { RunStatus::Failed { reason } => Some(reason), _ => None },
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "metric": run.pipeline.pipeline.metric().as_str(),
        "split": run.split,
        "max_trials": run.max_trials,
        "spent_usd": run.spend(),
        "trials": run.trials.iter().map(trial_json).collect::<Vec<_>>(),
        "best": best.map(trial_json),
        "candidate": run.candidate,
        "notes": run.notes,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    })
}

fn params_text(t: &TrialRecord) -> String {
    t.params
        .iter()
        .map(|(k, v)| match v.as_f64() {
            Some(f) if f.fract() != 0.0 && f.abs() < 1e-3 => format!("{k}={f:.3e}"),
            Some(f) if f.fract() != 0.0 => format!("{k}={f:.4}"),
            _ => format!("{k}={}", v.to_job_string()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run_text(run: &Run) -> String {
    use std::fmt::Write;
    let metric = run.pipeline.pipeline.metric().as_str();
    let key = format!("validation:{metric}");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Run {} of pipeline {} v{} on {} v{} ({} trials): {}",
        run.id,
        run.pipeline.pipeline.name,
        run.pipeline.version,
        run.dataset,
        run.dataset_version,
        run.trials.len(),
        run.status.as_str()
    );
    let _ = writeln!(
        out,
        "  split: {} train, {} validation, {} test rows (test sha256 {})",
        run.split.rows[0],
        run.split.rows[1],
        run.split.rows[2],
        run.split.test_hash.short()
    );
    let _ = writeln!(
        out,
        "  {:>5}  {:<9} {:>10}  hyperparameters",
        "trial", "status", metric
    );
    for t in &run.trials {
        let value = t
            .metrics
            .get(&key)
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
        let marker = if Some(t.id) == run.best_trial {
            "*"
        } else {
            " "
        };
        let _ = writeln!(
            out,
            "{marker} {:>5}  {:<9} {:>10}  {}",
            t.id,
            t.status.as_str(),
            value,
            params_text(t)
        );
        if let Some(f) = &t.failure {
            let _ = writeln!(out, "         {}", f.lines().next().unwrap_or_default());
        }
    }
    for n in &run.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    if let RunStatus::Failed { reason } = &run.status {
        let _ = writeln!(out, "  failed: {reason}");
    }
    if let Some(best) = run
        .best_trial
        .and_then(|b| run.trials.iter().find(|t| t.id == b))
    {
        let _ = writeln!(
            out,
            "Best: trial {} with {metric} {} ({})",
            best.id,
            best.metrics
                .get(&key)
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}")),
            params_text(best)
        );
    }
    if let Some(c) = &run.candidate {
        let _ = writeln!(out, "Candidate: model {} version {}", c.model, c.version);
    }
    out
}
