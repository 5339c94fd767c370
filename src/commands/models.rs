//! `tollgate models`, `model show`, `approve`, `reject`, `rollback`, `lineage`.

use anyhow::Context as _;
use serde_json::{Value, json};
use tollgate_api_types::{Decided, ModelSummary, ModelVersionDetail};
use tollgate_app::AppError;
use tollgate_domain::ModelVersion;
use tollgate_domain::ports::Catalog;
use tollgate_domain::promotion::{Request, StageChange};

use crate::Outcome;
use crate::embedded::Embedded;

pub async fn list(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let app = env.app();
    let models = tollgate_app::every(|p| {
        let app = &app;
        async move { app.models(&p).await }
    })
    .await
    .map_err(|e| crate::app_error(e, None))?;
    render_list(&models, json)
}

/// The models, on the data dir or through the API.
pub fn render_list(models: &[ModelSummary], json: bool) -> anyhow::Result<Outcome> {
    let rows: Vec<Value> = models
        .iter()
        .map(|m| {
            let latest = &m.latest;
            json!({
                "model": latest.model,
                "latest_version": latest.version,
                "latest_stage": latest.stage.as_str(),
                "production_version": m.production_version,
                "staging_versions": m.staging_versions,
                "dataset": latest.dataset,
                "dataset_version": latest.dataset_version,
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Done);
    }
    if rows.is_empty() {
        println!("No models yet: a tuning run registers one (tollgate run PIPELINE).");
        return Ok(Outcome::Done);
    }
    println!(
        "{:<24} {:>7}  {:<11} {:>10}  {:<10} trained on",
        "model", "latest", "stage", "production", "staging"
    );
    for r in &rows {
        println!(
            "{:<24} {:>7}  {:<11} {:>10}  {:<10} {} v{}",
            r["model"].as_str().unwrap_or_default(),
            format!("v{}", r["latest_version"]),
            r["latest_stage"].as_str().unwrap_or_default(),
            r["production_version"]
                .as_u64()
                .map_or("-".to_owned(), |v| format!("v{v}")),
            r["staging_versions"]
                .as_array()
                .map(|a| a
                    .iter()
                    .map(|v| format!("v{v}"))
                    .collect::<Vec<_>>()
                    .join(","))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-".into()),
            r["dataset"].as_str().unwrap_or_default(),
            r["dataset_version"],
        );
    }
    Ok(Outcome::Done)
}

fn version_json(m: &ModelVersion, report: &Value, history: &[StageChange]) -> Value {
    json!({
        "model": m.model,
        "version": m.version,
        "stage": m.stage.as_str(),
        "author": m.author,
        "contributors": m.contributors,
        "created_at": m.created_at,
        "task": m.task,
        "family": m.family,
        "dataset": m.dataset,
        "dataset_version": m.dataset_version,
        "content_hash": m.content_hash,
        "split": m.split,
        "run_id": m.run_id,
        "trial": m.trial,
        "job": m.job_name,
        "hyperparameters": m.hyperparameters,
        "metrics": m.metrics,
        "primary_metric": m.primary_metric,
        "artifact": m.artifact,
        "trainer": m.trainer,
        "pipeline_version": m.pipeline_version,
        "pipeline_hash": m.pipeline_hash,
        "test": m.test,
        "test_report": report,
        "approvals": m.approvals,
        "stage_history": history.iter().filter(|c| c.version == m.version).collect::<Vec<_>>(),
    })
}

pub async fn show(
    env: &Embedded,
    name: &str,
    v: Option<u32>,
    json: bool,
    lineage: bool,
) -> anyhow::Result<Outcome> {
    let app = env.app();
    let found = app
        .find_model_version(name, v)
        .await
        .map_err(|e| crate::not_found(e, "tollgate models lists them"))?;
    let detail = app
        .model_version(name, found.version, &env.user)
        .await
        .map_err(|e| crate::app_error(e, None))?;
    render_show(&detail, json, lineage)
}

/// A model version with its evidence, on the data dir or through the API; with `lineage`,
/// every metric of the trial too.
pub fn render_show(
    detail: &ModelVersionDetail,
    json: bool,
    lineage: bool,
) -> anyhow::Result<Outcome> {
    let m = &detail.version;
    let report = detail.test_report.clone().unwrap_or(Value::Null);
    let history = &detail.history;
    let value = version_json(m, &report, history);
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(Outcome::Done);
    }
    println!("Model {} v{}: {}", m.model, m.version, m.stage.as_str());
    println!(
        "  trained on   {} v{} (sha256 {}), split test sha256 {}",
        m.dataset,
        m.dataset_version,
        m.content_hash.short(),
        m.split.test_hash.short()
    );
    println!(
        "  by           run {} trial {} ({}), pipeline v{} (sha256 {})",
        m.run_id,
        m.trial,
        m.trainer,
        m.pipeline_version,
        m.pipeline_hash.short()
    );
    println!("  author       {} at {}", m.author, m.created_at);
    // Who may not approve it, and why.
    for c in &m.contributors {
        println!("  contributor  {} {}", c.user, c.role);
    }
    let params: Vec<String> = m
        .hyperparameters
        .iter()
        .map(|(k, v)| format!("{k}={}", v.to_job_string()))
        .collect();
    println!("  hyperparams  {}", params.join(" "));
    println!("  artifact     {}", m.artifact);
    if lineage {
        for (k, v) in &m.metrics {
            println!("  {k:<28} {v:.4}");
        }
    }
    match (&m.test, report.get("checks")) {
        (Some(verdict), Some(Value::Array(checks))) => {
            println!("  model tests  {verdict}");
            for c in checks {
                println!(
                    "    {} {:<44} {:>10} {} {}",
                    if c["passed"] == true { "✔" } else { "✘" },
                    c["name"].as_str().unwrap_or_default(),
                    c["value"]
                        .as_f64()
                        .map_or("-".into(), |v| format!("{v:.4}")),
                    c["comparison"].as_str().unwrap_or_default(),
                    c["threshold"]
                        .as_f64()
                        .map_or(String::new(), |t| format!("{t:.4}"))
                );
            }
            if checks.is_empty() {
                println!("    (the pipeline sets no gates)");
            }
            for n in report["notes"].as_array().into_iter().flatten() {
                println!("    note: {}", n.as_str().unwrap_or_default());
            }
        }
        _ => println!("  model tests  not run yet"),
    }
    for a in &m.approvals {
        println!("  approved by  {} at {}", a.approver, a.at);
    }
    for c in history.iter().filter(|c| c.version == m.version) {
        println!(
            "  {}  {} → {} by {}",
            c.at.strftime("%Y-%m-%d %H:%M:%S"),
            c.from.as_str(),
            c.to.as_str(),
            c.actor
        );
    }
    Ok(Outcome::Done)
}

/// Runs a request as `actor`; exit 0 when done, 1 when refused with the reason.
pub async fn decide(
    env: &Embedded,
    name: &str,
    request: Request,
    actor: &tollgate_domain::UserId,
    json: bool,
) -> anyhow::Result<Outcome> {
    let decided = match env.app().decide(name, &request, actor).await {
        Ok(decided) => Ok(decided),
        Err(AppError::NotFound(reason)) => Err(format!("{reason} (tollgate models lists them)")),
        Err(AppError::Refused(reason)) => Err(reason),
        Err(e) => return Err(crate::app_error(e, None)),
    };
    render_decision(name, decided, json)
}

/// What a decision did (the stage changes), or why it was refused: on the data dir or through
/// the API, the same lines and exit code (0 done, 1 refused).
pub fn render_decision(
    name: &str,
    decided: Result<Decided, String>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (outcome, value) = match &decided {
        Ok(decided) => (
            Outcome::Done,
            json!({
                "status": "done", "model": name, "changes": decided.changes,
                "repeated": decided.repeated,
            }),
        ),
        Err(reason) => (
            Outcome::Refused,
            json!({ "status": "refused", "model": name, "reason": reason }),
        ),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(outcome);
    }
    match decided {
        Ok(Decided {
            changes,
            repeated: true,
            ..
        }) => {
            println!("Already done; nothing changed now. What was done then:");
            for c in &changes {
                println!(
                    "{name} v{}: {} → {} at {} UTC by {}",
                    c.version,
                    c.from.as_str(),
                    c.to.as_str(),
                    c.at.strftime("%Y-%m-%d %H:%M:%S"),
                    c.actor
                );
            }
        }
        Ok(Decided { changes, .. }) if changes.is_empty() => {
            println!("Recorded (no stage changed yet).");
        }
        Ok(Decided { changes, .. }) => {
            for c in &changes {
                println!(
                    "{name} v{}: {} → {}",
                    c.version,
                    c.from.as_str(),
                    c.to.as_str()
                );
            }
        }
        Err(reason) => println!("Refused: {reason}"),
    }
    Ok(outcome)
}

/// `tollgate monitor --wait`: every model in production checked; retraining runs taken to
/// their end here, with their progress.
pub async fn monitor(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let reports = env.monitor().check_all().await?;
    let watched = started_runs(env, &reports).await?;
    let progress = super::runs::bar(!json && !watched.is_empty());
    let runs = env
        .settle(watched.clone(), |r| {
            super::runs::show_progress(&progress, r)
        })
        .await;
    progress.finish_and_clear();
    let runs: Vec<_> = runs?
        .into_iter()
        .filter(|r| watched.iter().any(|w| w.id == r.id))
        .collect();
    show_monitoring(env, &reports, &runs, json, None).await
}

/// The runs the reports say were started.
async fn started_runs(
    env: &Embedded,
    reports: &[tollgate_domain::monitoring::MonitorReport],
) -> anyhow::Result<Vec<tollgate_domain::Run>> {
    let mut runs = Vec::new();
    for id in reports.iter().filter_map(|r| r.retraining_run.as_deref()) {
        if let Some(run) = env.catalog.run(id).await? {
            runs.push(run);
        }
    }
    Ok(runs)
}

/// What the background check hands the command that started it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Handoff {
    reports: Vec<tollgate_domain::monitoring::MonitorReport>,
    runs: Vec<tollgate_domain::Run>,
}

/// `tollgate monitor`: the check, and the retraining it starts, run by a process of their own
/// (the runs' trials are its children, and live as long as it does); this command shows the
/// reports as soon as the check is done and returns, leaving the runs to proceed.
pub async fn monitor_and_return(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    use std::os::unix::process::CommandExt;
    let logs = env.data_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let log = logs.join(format!("monitor-{stamp}.log"));
    let handoff = logs.join(format!("monitor-{stamp}.json"));
    let data_dir = std::path::absolute(&env.data_dir).context("the data dir's path")?;
    let output =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = std::process::Command::new(std::env::current_exe().context("this executable")?)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--as", env.user.as_str()])
        .arg("monitor")
        .arg("--handoff")
        .arg(&handoff)
        .env_remove("TOLLGATE_API")
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone().context("the log file")?)
        .stderr(output)
        // Its own process group: Ctrl-C in this terminal, once this command has returned, is
        // not for the runs.
        .process_group(0)
        .spawn()
        .context("starting the monitor's check")?;
    let handed: Handoff = loop {
        if let Ok(text) = std::fs::read_to_string(&handoff) {
            let _ = std::fs::remove_file(&handoff);
            break serde_json::from_str(&text).context("reading the check's reports")?;
        }
        if let Some(status) = child.try_wait().context("watching the monitor's check")? {
            // The reports are written before the process ends; none means the check failed.
            if let Ok(text) = std::fs::read_to_string(&handoff) {
                let _ = std::fs::remove_file(&handoff);
                break serde_json::from_str(&text).context("reading the check's reports")?;
            }
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            anyhow::bail!(
                "the monitor's check failed ({status}):\n{}",
                said.trim_end()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let background = (!handed.runs.is_empty()).then(|| (child.id(), log.clone()));
    if background.is_none() {
        // Nothing to take to an end: the process ends at once, and its log says nothing new.
        let _ = child.wait();
        let _ = std::fs::remove_file(&log);
    }
    show_monitoring(env, &handed.reports, &handed.runs, json, background).await
}

/// The background side of [`monitor_and_return`]: the check, its reports to `handoff` (written
/// whole, then renamed into place), then the runs it started taken to their end, their
/// progress and result in the log.
pub async fn monitor_in_background(
    env: &Embedded,
    handoff: &std::path::Path,
) -> anyhow::Result<Outcome> {
    let reports = env.monitor().check_all().await?;
    let watched = started_runs(env, &reports).await?;
    let handed = Handoff {
        reports,
        runs: watched.clone(),
    };
    let partial = handoff.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec(&handed)?)
        .and_then(|()| std::fs::rename(&partial, handoff))
        .with_context(|| format!("writing {}", handoff.display()))?;
    if watched.is_empty() {
        return Ok(Outcome::Done);
    }
    let runs = env
        .settle(watched.clone(), |r| {
            println!(
                "{} {}: {} trial(s) ended",
                jiff::Timestamp::now(),
                r.id,
                r.trials.iter().filter(|t| !t.status.is_active()).count()
            );
        })
        .await?;
    let ended: Vec<_> = runs
        .into_iter()
        .filter(|r| watched.iter().any(|w| w.id == r.id))
        .collect();
    show_ended(env, &ended).await
}

/// Each run, with what became of its candidate.
async fn show_ended(env: &Embedded, runs: &[tollgate_domain::Run]) -> anyhow::Result<Outcome> {
    for run in runs {
        println!();
        print!(
            "{}{}",
            super::runs::run_text(run),
            super::runs::candidate_text(env, run).await?
        );
    }
    Ok(Outcome::Done)
}

/// The monitor's reports and the runs they started: ended (`--wait`), or proceeding in the
/// process `background` names, with its log.
async fn show_monitoring(
    env: &Embedded,
    reports: &[tollgate_domain::monitoring::MonitorReport],
    runs: &[tollgate_domain::Run],
    json: bool,
    background: Option<(u32, std::path::PathBuf)>,
) -> anyhow::Result<Outcome> {
    if json {
        let mut value = json!({
            "reports": reports,
            "runs": runs.iter().map(super::runs::run_json).collect::<Vec<_>>(),
        });
        if let Some((pid, log)) = &background {
            value["background"] = json!({ "pid": pid, "log": log });
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(Outcome::Done);
    }
    if reports.is_empty() {
        println!("No models to monitor yet.");
    }
    for r in reports {
        println!(
            "{} {}: {} rows captured in {} file(s){}",
            r.model,
            r.version
                .map_or("(nothing in production)".to_owned(), |v| format!("v{v}")),
            r.captured_rows,
            r.captured_files,
            if r.drifted {
                ", DRIFT past the thresholds"
            } else {
                ""
            }
        );
        for d in &r.drift {
            println!(
                "  {} {:<24} psi {:.4} (threshold {})",
                if d.drifted { "⚠" } else { "✔" },
                d.name,
                d.psi,
                d.threshold
            );
        }
        for n in &r.notes {
            println!("  note: {n}");
        }
    }
    if let Some((pid, log)) = &background {
        for run in runs {
            println!(
                "\nRetraining run {} started on {} v{}; it proceeds in the background \
                 (process {pid}, log {}).\n  where it is: tollgate run show {}\n  to watch a \
                 check's runs to their end instead: tollgate monitor --wait",
                run.id,
                run.dataset,
                run.dataset_version,
                log.display(),
                run.id
            );
        }
        return Ok(Outcome::Done);
    }
    show_ended(env, runs).await
}
