//! `tollgate-relay`: the stack's functions on this machine, as Lambda runs them (see the
//! library). Stops on Ctrl-C or SIGTERM, deleting the rules and queues it made.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use tollgate_aws::{HostingSettings, TrainingSettings};
use tollgate_lambda::Common;
use tollgate_relay::{Relay, Settings, Trainer};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run a Tollgate stack's functions on this machine, as Lambda would",
    long_about = "Run a Tollgate stack's functions on this machine, as Lambda would: the ingest \
    queue's S3 notifications go to the ingest function; the stack's events to the tune, \
    evaluate and deploy functions (through a rule and a queue of its own for each, deleted when \
    it stops); the schedules fire the sweep, the pipelines' schedules and the monitor. Against \
    the stand-in (eval \"$(bash localstack/start.sh)\") the defaults name its resources; for a \
    deployed stack, pass its outputs (DataBucket, CatalogTable, EventBus) and its ingest queue. \
    On an account whose stack runs its functions in Lambda, both would handle each event."
)]
struct Cli {
    /// The data bucket.
    #[arg(long, env = "TOLLGATE_BUCKET", default_value = "tollgate-data")]
    bucket: String,
    /// The catalog's DynamoDB table.
    #[arg(long, env = "TOLLGATE_TABLE", default_value = "tollgate-catalog")]
    table: String,
    /// The stack's EventBridge bus.
    #[arg(long, env = "TOLLGATE_EVENT_BUS", default_value = "tollgate-bus")]
    bus: String,
    /// The queue S3 notifies of uploads under incoming/ (its name or URL).
    #[arg(long, env = "TOLLGATE_INGEST_QUEUE", default_value = "tollgate-ingest")]
    ingest_queue: String,
    /// Where trials run: `local` (trainer subprocesses here; the stand-in's SageMaker runs no
    /// job) or `sagemaker` (training jobs in the account, TOLLGATE_SAGEMAKER_ROLE_ARN's role).
    #[arg(long, value_enum, default_value_t = TrainerKind::Local)]
    trainer: TrainerKind,
    /// How often the monitor checks the models in production (e.g. 30m, 1h; 0 never).
    #[arg(long, default_value = "1h", value_parser = parse_period)]
    monitor_every: Duration,
    /// The API function's port on 127.0.0.1 (what API Gateway serves on AWS; 0: any free one).
    #[arg(long, default_value_t = 8322)]
    api_port: u16,
    /// Serve no API.
    #[arg(long)]
    no_api: bool,
    /// The data dir whose key signs the API's tokens: `tollgate --data-dir DIR token --as USER
    /// --group editors` prints one (as for `tollgate up`).
    #[arg(long, env = "TOLLGATE_DATA_DIR", default_value = ".tollgate")]
    data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TrainerKind {
    Local,
    Sagemaker,
}

fn parse_period(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    tollgate_domain::pipeline::Period::parse(text).map(|p| p.0)
}

/// The `trainer` binary: TOLLGATE_TRAINER, else the one built beside this one.
fn trainer_program() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TOLLGATE_TRAINER") {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .context("finding this executable")?
        .with_file_name("trainer");
    anyhow::ensure!(
        beside.exists(),
        "no trainer at {}: build it (cargo build -p tollgate-trainer), or set TOLLGATE_TRAINER",
        beside.display()
    );
    Ok(beside)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .compact()
        .init();
    let cli = Cli::parse();
    let common = Common {
        bucket: cli.bucket,
        table: cli.table,
        bus: cli.bus,
        work_dir: std::env::temp_dir(),
        kms_key: tollgate_lambda::env::optional("TOLLGATE_KMS_KEY"),
    };
    let role = tollgate_lambda::env::optional("TOLLGATE_SAGEMAKER_ROLE_ARN");
    let prefix = tollgate_lambda::env::optional("TOLLGATE_JOB_PREFIX").unwrap_or_default();
    let trainer = match cli.trainer {
        TrainerKind::Local => Trainer::Local {
            program: trainer_program()?,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
        },
        TrainerKind::Sagemaker => Trainer::SageMaker(TrainingSettings {
            role_arn: role.clone().context(
                "--trainer sagemaker needs TOLLGATE_SAGEMAKER_ROLE_ARN: the role training jobs \
                 run as (the stack's SageMakerRole output)",
            )?,
            kms_key: common.kms_key.clone(),
            default_volume_gb: 30,
            job_prefix: prefix.clone(),
        }),
    };
    let hosting = role.map(|role_arn| HostingSettings {
        role_arn,
        prefix,
        data_bucket: common.bucket.clone(),
        kms_key: common.kms_key.clone(),
    });
    let aws = tollgate_aws::sdk_config(None).await;
    let settings = Settings {
        common,
        ingest_queue: cli.ingest_queue,
        trainer,
        monitor_every: cli.monitor_every,
        hosting,
        webhook: tollgate_notify::Webhook::from_env()?,
        long_poll: tollgate_aws::endpoint_override().is_none(),
    };
    let api = match cli.no_api {
        true => None,
        false => Some(api(&aws, &settings.common, cli.api_port, &cli.data_dir).await?),
    };
    let relay = Arc::new(Relay::start(&aws, settings).await?);
    println!("tollgate-relay: the stack's functions run here, on what they would be handed:");
    for line in relay.describe() {
        println!("  {line}");
    }
    if let Some((address, _)) = &api {
        println!(
            "  api      ← http://{address} (the API function: tollgate --api http://{address}, \
             with TOLLGATE_TOKEN from tollgate --data-dir {} token --as USER --group editors)",
            std::path::absolute(&cli.data_dir)
                .unwrap_or(cli.data_dir.clone())
                .display()
        );
    }
    println!("Ready; Ctrl-C stops them.");
    relay.run(shutdown()).await?;
    if let Some((_, server)) = api {
        server.abort();
    }
    println!("tollgate-relay: stopped; its rules and queues are deleted");
    Ok(())
}

/// The API function's router, served on 127.0.0.1:`port` with the tokens `data_dir`'s key
/// signs in place of API Gateway's authorizer.
async fn api(
    aws: &tollgate_aws::AwsConfig,
    common: &Common,
    port: u16,
    data_dir: &std::path::Path,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let tokens = tollgate_api::LocalTokens::of_dir(data_dir).map_err(anyhow::Error::msg)?;
    let app = tollgate_fn_api::app_from_env(aws, common)?;
    let router = tollgate_api::Api::new(
        app,
        Arc::new(tollgate_api::BearerTokens(Arc::new(tokens))),
        tollgate_api::Uploads::Store,
    )
    .router();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} (--no-api: none)"))?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("error: the API stopped: {e}");
        }
    });
    Ok((address, server))
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
