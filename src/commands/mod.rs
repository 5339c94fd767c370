//! One module per command.

mod audit;
mod contract;
mod datasets;
mod demo;
mod events;
mod upload;

use crate::Outcome;
use crate::cli::{Cli, Command, ContractCommand, DatasetCommand, EventCommand};
use crate::embedded::Embedded;

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let env = Embedded::open(&cli.global.data_dir, cli.global.user.as_deref())?;
    match cli.command {
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
        Command::Demo => demo::run(&env).await,
    }
}

/// Parses a dataset name given on the command line, as an error of use when it is invalid.
pub fn dataset_name(raw: &str) -> anyhow::Result<tollgate_domain::DatasetName> {
    tollgate_domain::DatasetName::parse(raw).map_err(|e| crate::UsageError(e.to_string()).into())
}
