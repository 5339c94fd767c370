//! `tollgate`: the command line of Tollgate, and its embedded runtime. Every command runs the same
//! handlers the Lambda functions run, in this process, on a data dir of files and SQLite.

mod cli;
mod commands;
mod embedded;
mod output;
mod progress;
mod remote;
mod serving;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

/// mimalloc, as polars recommends: a streamed 100M-row upload peaked at 785 MB of anonymous memory
/// with it, 1,301 MB with glibc's malloc (BENCHMARKS.md, "The data gate at scale").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 done (accepted, duplicate), 1 refused (rejected), 2 misuse, 3 failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Refused,
}

/// An error of use (bad arguments, unknown names): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A request the rules refused, or that lost to other writes: exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct RefusedError(pub String);

/// What a use case's error means on the command line: a name or a document at fault is a
/// misuse (2), a refusal is 1, a failure 3. `context` (a file's path) prefixes a document's.
pub fn app_error(e: tollgate_app::AppError, context: Option<&str>) -> anyhow::Error {
    use tollgate_app::AppError;
    let prefixed = |m: String| match context {
        Some(c) => format!("{c}: {m}"),
        None => m,
    };
    match e {
        AppError::NotFound(m) => UsageError(m).into(),
        AppError::Invalid { message, .. } => UsageError(prefixed(message)).into(),
        AppError::Refused(m) | AppError::Conflict(m) => RefusedError(m).into(),
        e @ (AppError::Unavailable(_) | AppError::Internal(_)) => anyhow::Error::new(e),
    }
}

/// As [`app_error`], with what to run to see what exists when the thing asked for is not there.
pub fn not_found(e: tollgate_app::AppError, hint: &str) -> anyhow::Error {
    match e {
        tollgate_app::AppError::NotFound(m) => UsageError(format!("{m} ({hint})")).into(),
        e => app_error(e, None),
    }
}

/// A command whose output is piped to a reader that stops early (`tollgate audit | head`) ends
/// quietly, with the status a shell reports for a process SIGPIPE ended (141), as other
/// command-line tools do, instead of a panic's message: Rust ignores SIGPIPE, so the next print
/// to the closed pipe panics, and that one panic is taken for what it is. Any other panic is
/// reported as before. (Not for `tollgate up`, a server, whose prints are few.)
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let cli::Command::Train { root } = &cli.command {
        // A training job is its own process with its own contract (stdout carries the metric
        // lines), started by the embedded backend.
        return tollgate_trainer::train_job(root);
    }
    if let cli::Command::Process { root } = &cli.command {
        return tollgate_ingest::instance_main(root);
    }
    if !matches!(cli.command, cli::Command::Up { .. }) {
        quiet_on_closed_pipe();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(1),
        Err(e) if e.downcast_ref::<RefusedError>().is_some() => {
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}
