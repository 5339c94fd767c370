//! The commands that have a route, run against a server (`tollgate --api URL`): the same
//! arguments, output and exit codes as on a data dir, the work done by the server as the
//! caller the token names.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tollgate_api_types::RunAccepted;
use tollgate_api_types::{
    Applied, AuditEvent, Dataset, DatasetVersion, Decided, DecisionRequest, ModelVersion,
    ModelVersionDetail, Page, PromoteRequest, RollbackRequest, Run, RunRequest, RunSummary,
    StoredContract, UploadRecord, UploadRequest, UploadTicket, VersionDetail,
};
use tollgate_domain::{RunStatus, UploadStatus};

use crate::cli::{
    Command, ContractCommand, DatasetCommand, ModelCommand, PipelineCommand, RunCommand,
};
use crate::remote::{Remote, encode};
use crate::{Outcome, RefusedError, UsageError};

/// How long a command waits for the server to finish what it asked (an ingest, a run).
const WAIT_AT_MOST: Duration = Duration::from_secs(6 * 3600);

pub async fn run(command: Command, remote: &Remote) -> anyhow::Result<Outcome> {
    match command {
        Command::Upload {
            file,
            dataset,
            json,
        } => upload(remote, &file, &dataset, json).await,
        Command::Contract {
            command: ContractCommand::Apply { file, json },
        } => {
            let applied: Applied = remote
                .call(
                    hyper::Method::POST,
                    "/contracts",
                    Some(("application/toml", read(&file)?)),
                )
                .await?;
            super::contract::render_applied(&applied, json)
        }
        Command::Pipeline {
            command: PipelineCommand::Apply { file, json },
        } => {
            let applied = apply_pipeline(remote, &file).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "pipeline": applied.name,
                        "version": applied.version,
                        "changed": applied.changed,
                    }))?
                );
            } else if applied.changed {
                println!(
                    "Applied pipeline {} as version {}.",
                    applied.name, applied.version
                );
            } else {
                println!(
                    "Pipeline {} is unchanged (version {}).",
                    applied.name, applied.version
                );
            }
            Ok(Outcome::Done)
        }
        Command::Run {
            command: None,
            pipeline: Some(pipeline),
            dataset_version,
            json,
        } => request_run(remote, &pipeline, dataset_version, json).await,
        Command::Run {
            command: Some(RunCommand::Show { id, json }),
            ..
        } => {
            let run: Run = remote.get(&format!("/runs/{}", encode(&id))).await?;
            print_run(&run, json)
        }
        Command::Runs { json } => {
            let runs: Vec<RunSummary> = remote.all("/runs").await?;
            super::runs::render_list(&runs, json)
        }
        Command::Audit { subject, json } => {
            let path = match &subject {
                Some(s) => format!("/audit?subject={}", encode(s)),
                None => "/audit".to_owned(),
            };
            let mut events: Vec<AuditEvent> = remote.all(&path).await?;
            events.reverse();
            super::audit::render(&events, json)
        }
        Command::Approve {
            model,
            version,
            comment,
            json,
        } => {
            let path = format!("/models/{}/versions/{version}/approve", encode(&model));
            decide(remote, &model, &path, &DecisionRequest { comment }, json).await
        }
        Command::Reject {
            model,
            version,
            comment,
            json,
        } => {
            let path = format!("/models/{}/versions/{version}/reject", encode(&model));
            decide(
                remote,
                &model,
                &path,
                &DecisionRequest {
                    comment: Some(comment),
                },
                json,
            )
            .await
        }
        Command::Promote {
            model,
            version,
            to,
            json,
        } => {
            let path = format!("/models/{}/versions/{version}/promote", encode(&model));
            decide(remote, &model, &path, &PromoteRequest { to }, json).await
        }
        Command::Rollback {
            model,
            comment,
            json,
        } => {
            let versions: Vec<ModelVersion> = remote
                .all(&format!("/models/{}/versions", encode(&model)))
                .await?;
            let from = versions
                .iter()
                .find(|v| v.stage == tollgate_domain::ModelStage::Production)
                .map(|v| v.version);
            let path = format!("/models/{}/rollback", encode(&model));
            decide(
                remote,
                &model,
                &path,
                &RollbackRequest { comment, from },
                json,
            )
            .await
        }
        Command::Datasets { json } => {
            super::datasets::render_list(&remote.all("/datasets").await?, json)
        }
        Command::Dataset {
            command:
                DatasetCommand::Show {
                    name,
                    version,
                    json,
                },
        } => show_dataset(remote, &name, version, json).await,
        Command::Contract {
            command: ContractCommand::Show { name, version },
        } => {
            let path = format!(
                "/datasets/{}/contract{}",
                encode(&name),
                version_query(version)
            );
            let stored = remote.get(&path).await.map_err(|e| {
                match (e.downcast::<UsageError>(), version) {
                    (Ok(UsageError(m)), None) => {
                        UsageError(format!("{m}: {}", super::contract::FOUNDING)).into()
                    }
                    (Ok(e), Some(_)) => e.into(),
                    (Err(e), _) => e,
                }
            })?;
            super::contract::render_show(&name, &stored)
        }
        Command::Pipelines { json } => {
            super::pipeline::render_list(&remote.all("/pipelines").await?, json)
        }
        Command::Pipeline {
            command: PipelineCommand::Show(shown),
        } => {
            let path = format!(
                "/pipelines/{}{}",
                encode(&shown.name),
                version_query(shown.version)
            );
            super::pipeline::render_show(&remote.get(&path).await?, shown.json)
        }
        Command::Models { json } => super::models::render_list(&remote.all("/models").await?, json),
        Command::Model {
            command: ModelCommand::Show(shown),
        } => show_model(remote, &shown.name, shown.version, shown.json, false).await,
        Command::Lineage {
            model,
            version,
            json,
        } => show_model(remote, &model, Some(version), json, true).await,
        other => Err(UsageError(format!(
            "{} has no route through --api: it works on the data dir (without --api) only",
            command_name(&other)
        ))
        .into()),
    }
}

/// `?version=N` when a version is asked for.
fn version_query(version: Option<u32>) -> String {
    version.map(|v| format!("?version={v}")).unwrap_or_default()
}

async fn show_dataset(
    remote: &Remote,
    name: &str,
    version: Option<u32>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let base = format!("/datasets/{}", encode(name));
    let dataset: Dataset = remote.get(&base).await?;
    if let Some(v) = version {
        let detail: VersionDetail = remote.get(&format!("{base}/versions/{v}")).await?;
        return super::datasets::render_version(&detail, None, json);
    }
    let versions: Vec<DatasetVersion> = remote.all(&format!("{base}/versions")).await?;
    let uploads: Vec<UploadRecord> = remote.all(&format!("{base}/uploads")).await?;
    let contract: Option<StoredContract> = match dataset.contract_version {
        Some(_) => Some(remote.get(&format!("{base}/contract")).await?),
        None => None,
    };
    super::datasets::render_dataset(&dataset, &versions, &uploads, contract.as_ref(), json)
}

/// A model version (the latest when `version` is `None`) with its evidence.
async fn show_model(
    remote: &Remote,
    name: &str,
    version: Option<u32>,
    json: bool,
    lineage: bool,
) -> anyhow::Result<Outcome> {
    let base = format!("/models/{}/versions", encode(name));
    let version = match version {
        Some(v) => v,
        None => {
            let versions: Vec<ModelVersion> = remote.all(&base).await?;
            versions.last().map(|m| m.version).ok_or_else(|| {
                UsageError(format!(
                    "there is no model {name:?} (tollgate models lists them)"
                ))
            })?
        }
    };
    let detail: ModelVersionDetail = remote.get(&format!("{base}/{version}")).await?;
    super::models::render_show(&detail, json, lineage)
}

fn command_name(command: &Command) -> String {
    let debug = format!("{command:?}");
    let name = debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_lowercase();
    format!("tollgate {name}")
}

fn read(file: &Path) -> anyhow::Result<Bytes> {
    std::fs::read(file)
        .map(Bytes::from)
        .map_err(|e| UsageError(format!("reading {}: {e}", file.display())).into())
}

async fn apply_pipeline(remote: &Remote, file: &Path) -> anyhow::Result<Applied> {
    remote
        .call(
            hyper::Method::POST,
            "/pipelines",
            Some(("application/toml", read(file)?)),
        )
        .await
        .map_err(|e| match e.downcast::<UsageError>() {
            Ok(UsageError(m)) => UsageError(format!("{}: {m}", file.display())).into(),
            Err(e) => e,
        })
}

/// Asks the API for a decision and prints it as the data dir's `decide` does.
async fn decide(
    remote: &Remote,
    model: &str,
    path: &str,
    body: &impl serde::Serialize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let decided = match remote.post_json::<Decided>(path, body).await {
        Ok(decided) => Ok(decided),
        Err(e) => match e.downcast::<RefusedError>() {
            Ok(RefusedError(reason)) => Err(reason),
            Err(e) => return Err(e),
        },
    };
    super::models::render_decision(model, decided, json)
}

/// Asks for a run and follows it to its end, as `tollgate run` does on a data dir.
async fn request_run(
    remote: &Remote,
    pipeline: &str,
    dataset_version: Option<u32>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let name = if pipeline.ends_with(".toml") || Path::new(pipeline).is_file() {
        let applied = apply_pipeline(remote, Path::new(pipeline)).await?;
        if applied.changed && !json {
            eprintln!(
                "Applied {pipeline} as pipeline {} version {}.",
                applied.name, applied.version
            );
        }
        applied.name
    } else {
        pipeline.to_owned()
    };
    let accepted: RunAccepted = remote
        .post_json(
            "/runs",
            &RunRequest {
                pipeline: name,
                dataset_version,
                // This command's own id: were the request sent again, it would be one run.
                request_id: Some(uuid::Uuid::now_v7().to_string()),
            },
        )
        .await?;
    let progress = super::runs::bar(!json);
    let started = std::time::Instant::now();
    let query = format!("/runs?request_id={}&limit=1", encode(&accepted.request_id));
    let run = loop {
        let page: Page<RunSummary> = remote.get(&query).await?;
        if let Some(summary) = page.items.first() {
            let run: Run = remote
                .get(&format!("/runs/{}", encode(&summary.id)))
                .await?;
            super::runs::show_progress(&progress, &run);
            if run.status != RunStatus::Running {
                break run;
            }
        }
        if started.elapsed() > WAIT_AT_MOST {
            progress.finish_and_clear();
            anyhow::bail!(
                "the run of request {} has not ended after {} h: see tollgate runs",
                accepted.request_id,
                WAIT_AT_MOST.as_secs() / 3600
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    progress.finish_and_clear();
    print_run(&run, json)
}

/// A run and its candidate; exit 1 when it failed.
fn print_run(run: &Run, json: bool) -> anyhow::Result<Outcome> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&super::runs::run_json(run))?
        );
    } else {
        print!("{}", super::runs::run_text(run));
        if let Some(c) = &run.candidate {
            println!(
                "Candidate: {} v{} (see it with tollgate model show {} --version {} on the server's data dir).",
                c.model, c.version, c.model, c.version
            );
        }
    }
    Ok(match run.status {
        RunStatus::Succeeded | RunStatus::Running => Outcome::Done,
        RunStatus::Failed { .. } => Outcome::Refused,
    })
}

/// Uploads through a URL the API hands out, then waits for the server to ingest it.
async fn upload(
    remote: &Remote,
    file: &Path,
    dataset: &str,
    json: bool,
) -> anyhow::Result<Outcome> {
    if file.is_dir() {
        return Err(UsageError(format!(
            "{} is a folder: through the API, upload its files to \
             s3://<data bucket>/incoming/{dataset}/<batch>/ (aws s3 cp --recursive), then an \
             empty _SUCCESS there, last; or upload it without --api on the data dir",
            file.display()
        ))
        .into());
    }
    if !file.is_file() {
        return Err(UsageError(format!("{} is not a file", file.display())).into());
    }
    let name = file
        .file_name()
        .map(|n| tollgate_domain::names::sanitize_file_name(&n.to_string_lossy()))
        .unwrap_or_default();
    let ticket: UploadTicket = remote
        .post_json(
            "/uploads",
            &UploadRequest {
                dataset: dataset.to_owned(),
                file: name,
            },
        )
        .await?;
    let bar = crate::progress::spinner(!json, &format!("uploading {}", file.display()));
    let sent = jiff::Timestamp::now();
    let etag = remote
        .put_url(&ticket.url, &ticket.headers, read(file)?)
        .await?;
    bar.set_message("waiting for the data gate");
    let since = sent - jiff::SignedDuration::from_secs(60);
    let path = format!("/datasets/{}/uploads", encode(dataset));
    let started = std::time::Instant::now();
    let record = loop {
        // The dataset exists once its first upload is recorded.
        let records: Vec<UploadRecord> = match remote.all(&path).await {
            Ok(r) => r,
            Err(e) if e.downcast_ref::<UsageError>().is_some() => Vec::new(),
            Err(e) => return Err(e),
        };
        if let Some(r) = records.into_iter().rev().find(|r| {
            r.source.key.as_str() == ticket.key
                && match &etag {
                    // This very object, as its notification named it.
                    Some(tag) => r.source.etag.as_deref() == Some(tag.as_str()),
                    None => r.created_at >= since,
                }
        }) {
            break r;
        }
        if started.elapsed() > WAIT_AT_MOST {
            bar.finish_and_clear();
            anyhow::bail!(
                "{} was uploaded but not ingested yet: see tollgate datasets",
                ticket.key
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        match record.status {
            UploadStatus::Accepted => println!(
                "accepted: {} v{} ({} rows)",
                record.dataset,
                record.version.unwrap_or_default(),
                record.rows.unwrap_or_default()
            ),
            UploadStatus::Duplicate => println!(
                "duplicate: the same bytes as {} v{}",
                record.dataset,
                record.version.unwrap_or_default()
            ),
            UploadStatus::Rejected => {
                println!(
                    "rejected: {} (quarantined with its report {})",
                    record.dataset, record.report.key
                );
                for reason in &record.reasons {
                    println!("  - {reason}");
                }
            }
        }
    }
    Ok(match record.status {
        UploadStatus::Rejected => Outcome::Refused,
        UploadStatus::Accepted | UploadStatus::Duplicate => Outcome::Done,
    })
}
