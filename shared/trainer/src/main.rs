//! `trainer [train|serve] [--root DIR]`: one training job, or serving its model, under the
//! SageMaker container contracts (SageMaker runs the image as `<entrypoint> train` for a
//! training job and `<entrypoint> serve` for an endpoint). See the library's documentation.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Trains one model, or serves one, under SageMaker's container contracts"
)]
struct Cli {
    /// `train` (the default) or `serve`, as SageMaker passes them.
    #[arg(value_parser = ["train", "serve"])]
    command: Option<String>,
    /// The container root holding input/, model/ and output/.
    #[arg(long, env = "TOLLGATE_ML_ROOT", default_value = "/opt/ml")]
    root: PathBuf,
    /// `serve`: the address to listen on (all of the container's, as SageMaker expects).
    #[arg(long, default_value = "0.0.0.0")]
    host: IpAddr,
    /// `serve`: the port (SageMaker sets SAGEMAKER_BIND_TO_PORT when it is not 8080).
    #[arg(long, env = "SAGEMAKER_BIND_TO_PORT", default_value_t = tollgate_trainer::serve::PORT)]
    port: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.as_deref() {
        Some("serve") => {
            match tollgate_trainer::serve::serve(&cli.root, SocketAddr::new(cli.host, cli.port)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("trainer serve: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => tollgate_trainer::train_job(&cli.root),
    }
}
