//! `tollgate models`, `model show`, `approve`, `reject`, `rollback`, `lineage`.

use serde_json::{Value, json};
use tollgate_app::AppError;
use tollgate_domain::ports::{BlobStore, Catalog};
use tollgate_domain::promotion::{Request, StageChange};
use tollgate_domain::{ModelStage, ModelVersion};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

async fn version(env: &Embedded, name: &str, v: Option<u32>) -> anyhow::Result<ModelVersion> {
    let versions = env.catalog.model_versions(name).await?;
    let found = match v {
        Some(v) => versions.into_iter().find(|m| m.version == v),
        None => versions.into_iter().last(),
    };
    found.ok_or_else(|| {
        UsageError(match v {
            Some(v) => format!("model {name} has no version {v} (tollgate models lists them)"),
            None => format!("there is no model {name:?} (tollgate models lists them)"),
        })
        .into()
    })
}

/// The model tests' report of a version, as written by the evaluate handler.
async fn report(env: &Embedded, m: &ModelVersion) -> anyhow::Result<Value> {
    Ok(match &m.test_report {
        Some(r) => serde_json::from_slice(&env.blobs.get(&r.bucket, &r.key).await?)?,
        None => Value::Null,
    })
}

pub async fn list(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let mut rows = Vec::new();
    for latest in env.catalog.models().await? {
        let state = env
            .catalog
            .model_state(&latest.model)
            .await?
            .unwrap_or_default();
        rows.push(json!({
            "model": latest.model,
            "latest_version": latest.version,
            "latest_stage": latest.stage.as_str(),
            "production_version": state.in_production().map(|p| p.version),
            "staging_versions": state.versions.iter().filter(|v| v.stage == ModelStage::Staging).map(|v| v.version).collect::<Vec<_>>(),
            "dataset": latest.dataset,
            "dataset_version": latest.dataset_version,
        }));
    }
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
    let m = version(env, name, v).await?;
    let report = report(env, &m).await?;
    let history = env.catalog.model_history(name).await?;
    let value = version_json(&m, &report, &history);
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
        Ok(decided) => Ok(decided.changes),
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
    decided: Result<Vec<StageChange>, String>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (outcome, value) = match &decided {
        Ok(changes) => (
            Outcome::Done,
            json!({ "status": "done", "model": name, "changes": changes }),
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
        Ok(changes) if changes.is_empty() => println!("Recorded (no stage changed yet)."),
        Ok(changes) => {
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

/// `tollgate monitor`: every model in production checked; retraining runs taken to their end.
pub async fn monitor(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let reports = env.monitor().check_all().await?;
    let started: Vec<String> = reports
        .iter()
        .filter_map(|r| r.retraining_run.clone())
        .collect();
    let mut watched = Vec::new();
    for id in &started {
        if let Some(run) = env.catalog.run(id).await? {
            watched.push(run);
        }
    }
    let progress = super::runs::bar(!json && !watched.is_empty());
    let runs = env
        .settle(watched, |r| super::runs::show_progress(&progress, r))
        .await;
    progress.finish_and_clear();
    let runs: Vec<_> = runs?
        .into_iter()
        .filter(|r| started.contains(&r.id))
        .collect();
    if json {
        let value = json!({
            "reports": reports,
            "runs": runs.iter().map(super::runs::run_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(Outcome::Done);
    }
    if reports.is_empty() {
        println!("No models to monitor yet.");
    }
    for r in &reports {
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
    for run in &runs {
        println!();
        print!(
            "{}{}",
            super::runs::run_text(run),
            super::runs::candidate_text(env, run).await?
        );
    }
    Ok(Outcome::Done)
}
