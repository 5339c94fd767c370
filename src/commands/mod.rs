//! One module per command.

mod audit;
mod contract;
mod datasets;
mod demo;
mod events;
mod models;
pub mod pipeline;
mod remote;
pub mod runs;
mod token;
mod up;
mod upload;

use crate::Outcome;
use crate::cli::{
    Cli, Command, ContractCommand, DatasetCommand, EventCommand, ModelCommand, PipelineCommand,
    RunCommand,
};
use crate::embedded::Embedded;
use tollgate_domain::ports::Catalog;
use tollgate_domain::promotion::Request;

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // `up` and `token` are the server's side of a data dir: never through an API.
    let local_only = matches!(cli.command, Command::Up { .. } | Command::Token { .. });
    if let Some(url) = cli
        .global
        .api
        .as_deref()
        .filter(|u| !u.is_empty() && !local_only)
    {
        let remote = crate::remote::Remote::new(url, std::env::var("TOLLGATE_TOKEN").ok())?;
        return remote::run(cli.command, &remote).await;
    }
    let env = Embedded::open(&cli.global.data_dir, cli.global.user.as_deref())?;
    let outcome = match cli.command {
        Command::Upload {
            file,
            dataset,
            json,
        } => upload::run(&env, &file, &dataset, json).await,
        Command::Datasets { json } => datasets::list(&env, json).await,
        Command::Dataset {
            command:
                DatasetCommand::Show {
                    name,
                    version,
                    json,
                },
        } => datasets::show(&env, &name, version, json).await,
        Command::Contract { command } => match command {
            ContractCommand::Show { name, version } => contract::show(&env, &name, version).await,
            ContractCommand::Apply { file, json } => contract::apply(&env, &file, json).await,
        },
        Command::Audit { subject, json } => audit::run(&env, subject.as_deref(), json).await,
        Command::Ingest { event, json } => events::ingest(&env, &event, json).await,
        Command::Event {
            command: EventCommand::S3Put { key },
        } => events::s3_put(&env, &key).await,
        Command::Pipeline { command } => match command {
            PipelineCommand::Init {
                dataset,
                target,
                task,
                out,
            } => pipeline::init(&env, &dataset, &target, task, out).await,
            PipelineCommand::Apply { file, json } => pipeline::apply(&env, &file, json).await,
            PipelineCommand::Show(shown) => {
                pipeline::show(&env, &shown.name, shown.version, shown.json).await
            }
        },
        Command::Pipelines { json } => pipeline::list(&env, json).await,
        Command::Run {
            command: Some(RunCommand::Show { id, json }),
            ..
        } => runs::show(&env, &id, json).await,
        Command::Run {
            command: None,
            pipeline,
            dataset_version,
            json,
        } => {
            let pipeline = pipeline.ok_or_else(|| {
                crate::UsageError(
                    "name a pipeline (tollgate run PIPELINE), or show a run (tollgate run show ID)"
                        .into(),
                )
            })?;
            runs::run(&env, &pipeline, dataset_version, json).await
        }
        Command::Runs { json } => runs::list(&env, json).await,
        Command::Models { json } => models::list(&env, json).await,
        Command::Model {
            command: ModelCommand::Show(shown),
        } => models::show(&env, &shown.name, shown.version, shown.json, false).await,
        Command::Lineage {
            model,
            version,
            json,
        } => models::show(&env, &model, Some(version), json, true).await,
        Command::Approve {
            model,
            version,
            comment,
            json,
        } => {
            models::decide(
                &env,
                &model,
                Request::Approve { version, comment },
                &env.user,
                json,
            )
            .await
        }
        Command::Reject {
            model,
            version,
            comment,
            json,
        } => {
            models::decide(
                &env,
                &model,
                Request::Reject { version, comment },
                &env.user,
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
            models::decide(
                &env,
                &model,
                Request::Promote { version, to },
                &env.user,
                json,
            )
            .await
        }
        Command::Rollback {
            model,
            comment,
            json,
        } => {
            // Named, so that the retries of this one request never roll back twice.
            let from = env
                .catalog
                .model_state(&model)
                .await?
                .and_then(|s| s.in_production().map(|v| v.version));
            let request = Request::Rollback { comment, from };
            models::decide(&env, &model, request, &env.user, json).await
        }
        Command::Monitor {
            json,
            wait,
            handoff,
        } => match (wait, handoff) {
            (_, Some(handoff)) => models::monitor_in_background(&env, &handoff).await,
            (true, None) => models::monitor(&env, json).await,
            (false, None) => models::monitor_and_return(&env, json).await,
        },
        Command::Demo => demo::run(&env).await,
        Command::Up {
            port,
            host,
            monitor_every,
            console,
        } => up::run(&env, host, port, monitor_every, console).await,
        Command::Token { groups, valid_for } => token::run(&env, &groups, valid_for),
        Command::Train { .. } => unreachable!("main runs a training job before the runtime starts"),
        Command::Process { .. } => {
            unreachable!("main runs a processing instance before the runtime starts")
        }
    };
    // What this command published that people act on is sent before the process ends.
    env.notify_published().await;
    outcome
}

/// Parses a dataset name given on the command line, as an error of use when it is invalid.
pub fn dataset_name(raw: &str) -> anyhow::Result<tollgate_domain::DatasetName> {
    tollgate_domain::DatasetName::parse(raw).map_err(|e| crate::UsageError(e.to_string()).into())
}
