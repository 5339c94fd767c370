//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate: datasets validated and versioned, models tuned, tested and promoted through gates.",
    long_about = "Tollgate runs its pipeline here, in one process, on a data dir of files and SQLite \
                  (the embedded default), with the same handlers its AWS functions run."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Where the embedded default keeps its buckets and catalog.
    #[arg(
        long,
        global = true,
        env = "TOLLGATE_DATA_DIR",
        default_value = ".tollgate"
    )]
    pub data_dir: PathBuf,
    /// Who is acting, as recorded in the catalog and the audit trail [default: your login name].
    #[arg(long = "as", global = true, env = "TOLLGATE_USER", value_name = "USER")]
    pub user: Option<String>,
    /// Run the command through a Tollgate API (`tollgate up`, or a stack's) instead of on the
    /// data dir, as the user of the token in TOLLGATE_TOKEN.
    #[arg(long, global = true, env = "TOLLGATE_API", value_name = "URL")]
    pub api: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload a dataset file (CSV, CSV.gz, JSON Lines, Parquet) and run it through the data gate;
    /// or a folder of them (Spark's or a warehouse's `part-*` export) as one version.
    Upload {
        /// The file to upload, or a folder whose files (names starting with `_` or `.` aside)
        /// become one version: they go to `incoming/<dataset>/<folder>-<time>/`, then its
        /// `_manifest.json`.
        file: PathBuf,
        /// The dataset it is a version of.
        #[arg(long)]
        dataset: String,
        /// Print one JSON object instead of the readable report.
        #[arg(long)]
        json: bool,
    },
    /// List datasets.
    Datasets {
        #[arg(long)]
        json: bool,
    },
    /// Show one dataset: its versions and uploads, or one version in detail.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
    /// Show or replace a dataset's contract.
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// Show the audit trail.
    Audit {
        /// Only events whose subject starts with this (e.g. `dataset/wine`).
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run the ingest handler on an S3 event notification (a JSON file, or - for stdin), as the
    /// Lambda function would: for replaying events and testing.
    Ingest {
        event: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the event JSON a handler would receive, for an object of the embedded bucket.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// Write, apply or show pipeline files (what to train on which dataset, and how);
    /// `tollgate pipelines` lists them.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// List applied pipelines.
    Pipelines {
        #[arg(long)]
        json: bool,
    },
    /// Run a pipeline on its dataset's latest accepted version: tune, then register the best
    /// trial as a candidate model. `tollgate run show ID` shows a run.
    #[command(args_conflicts_with_subcommands = true)]
    Run {
        #[command(subcommand)]
        command: Option<RunCommand>,
        /// The pipeline's name, or the path of its file (applied first if it changed).
        pipeline: Option<String>,
        /// Train on this version rather than the latest.
        #[arg(long)]
        dataset_version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// List tuning runs, newest first.
    Runs {
        #[arg(long)]
        json: bool,
    },
    /// List models: the latest version, and what is in staging and in production.
    Models {
        #[arg(long)]
        json: bool,
    },
    /// Show a model version: stage, lineage, metrics, its model tests, approvals, stage history.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Approve a model version in staging for production (as `--as USER`; not its author).
    Approve {
        model: String,
        version: u32,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reject a candidate or a version in staging, saying why.
    Reject {
        model: String,
        version: u32,
        #[arg(long)]
        comment: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a version to staging or production, if its tests and approvals allow it.
    Promote {
        model: String,
        version: u32,
        #[arg(long, value_parser = parse_stage)]
        to: tollgate_domain::ModelStage,
        #[arg(long)]
        json: bool,
    },
    /// Put the previous production version back in production.
    Rollback {
        model: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where a model version comes from: dataset version and hash, run, trial, hyperparameters,
    /// test report, approvals, stage history.
    Lineage {
        model: String,
        version: u32,
        #[arg(long)]
        json: bool,
    },
    /// Check the models in production against what they see (`capture/<model>/`): input and
    /// prediction drift; past the pipeline's thresholds, retrain on newer data (once per
    /// cooldown). A retraining run proceeds in the background; --wait watches it to its end.
    Monitor {
        #[arg(long)]
        json: bool,
        /// Wait for the retraining runs it starts, with their progress, and show their candidates.
        #[arg(long)]
        wait: bool,
        /// The background side of a check without --wait: the reports to this file, then the
        /// runs taken to their end.
        #[arg(long, hide = true, value_name = "FILE")]
        handoff: Option<PathBuf>,
    },
    /// Run the demo on the bundled sample data: uploads, reports, drift, a rejection.
    Demo,
    /// Serve this data dir as a running system: the HTTP API on 127.0.0.1, files dropped into
    /// the bucket's incoming/<dataset>/ ingested, runs advanced, the monitor on a timer.
    Up {
        /// The port to listen on (0: any free one).
        #[arg(long, default_value_t = 8321)]
        port: u16,
        /// The address to listen on. Anything but loopback exposes the API to the network.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// How often the monitor checks the models in production (e.g. 30m, 1h; 0 never).
        #[arg(long, default_value = "1h", value_parser = parse_period)]
        monitor_every: std::time::Duration,
        /// The console's build (trunk's dist folder) to serve at /; scripts/demo.sh builds it.
        #[arg(long, env = "TOLLGATE_CONSOLE")]
        console: Option<std::path::PathBuf>,
    },
    /// Print a token that this data dir's `tollgate up` accepts, for the user --as names.
    Token {
        /// A group to sign in with: `editors` (upload, apply, run), `approvers` (approve,
        /// reject, promote, roll back). Repeat for several.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// How long the token is good for (e.g. 12h, 7d).
        #[arg(long, default_value = "12h", value_parser = parse_period)]
        valid_for: std::time::Duration,
    },
    /// One training job under the SageMaker training container contract, as the `trainer`
    /// binary runs it: the embedded default's jobs run `tollgate train --root DIR`, so a laptop
    /// needs this one binary.
    #[command(hide = true)]
    Train {
        /// The container root holding input/, model/ and output/.
        #[arg(long, env = "TOLLGATE_ML_ROOT", default_value = "/opt/ml")]
        root: PathBuf,
    },
    /// One instance of an ingest's processing job under the SageMaker processing container
    /// contract: its share of an upload too big for the ingest function (or for `tollgate
    /// upload`'s process), summarised into a shard. SageMaker Processing runs it in the image;
    /// the embedded default runs `tollgate process --root DIR` as subprocesses.
    #[command(hide = true)]
    Process {
        /// The container root holding config/ and processing/.
        #[arg(long, env = "TOLLGATE_ML_ROOT", default_value = "/opt/ml")]
        root: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    Show(Shown),
}

/// What `model show` and `pipeline show` take: a name, and a version other than the latest.
#[derive(Debug, Args)]
pub struct Shown {
    pub name: String,
    /// An earlier version [default: the latest].
    #[arg(long)]
    pub version: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

fn parse_stage(raw: &str) -> Result<tollgate_domain::ModelStage, String> {
    match raw {
        "staging" => Ok(tollgate_domain::ModelStage::Staging),
        "production" => Ok(tollgate_domain::ModelStage::Production),
        _ => Err(format!("{raw:?} is not staging or production")),
    }
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write a pipeline file with sensible defaults for a dataset's column.
    Init {
        /// The dataset to train on; its latest accepted version sets the defaults.
        #[arg(long)]
        dataset: String,
        /// The column to predict.
        #[arg(long)]
        target: String,
        /// Classification or regression [default: from the column's type and values].
        #[arg(long, value_parser = parse_task)]
        task: Option<tollgate_domain::Task>,
        /// Where to write it [default: pipelines/<dataset>-<target>.toml].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a pipeline file and store it as the pipeline's next version.
    Apply {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show an applied pipeline: the file as applied, who applied it and when.
    Show(Shown),
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// One run: its trials, the best, the candidate.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn parse_task(raw: &str) -> Result<tollgate_domain::Task, String> {
    match raw {
        "classification" => Ok(tollgate_domain::Task::Classification),
        "regression" => Ok(tollgate_domain::Task::Regression),
        _ => Err(format!("{raw:?} is not classification or regression")),
    }
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Versions, uploads and lineage of a dataset.
    Show {
        name: String,
        /// One version in detail: schema, profile, drift, lineage.
        #[arg(long)]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Print a dataset's contract as TOML (the one in force, or a given version).
    Show {
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Replace a dataset's contract with a TOML file; later uploads are checked against it.
    Apply {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// The S3 `ObjectCreated:Put` notification for an object of the embedded bucket.
    S3Put {
        /// The object's key, e.g. `incoming/wine/batch.csv`.
        #[arg(long)]
        key: String,
    },
}

/// A period as pipelines write them (`90s`, `30m`, `12h`, `7d`), or `0`.
fn parse_period(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    tollgate_domain::pipeline::Period::parse(text).map(|p| p.0)
}
