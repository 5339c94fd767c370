//! `trainer [train] [--root DIR]`: one training job under the SageMaker container contract
//! (SageMaker runs the image as `<entrypoint> train`). See the library's documentation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Trains one model under the SageMaker training container contract"
)]
struct Cli {
    /// SageMaker passes `train`; it is the only command.
    #[arg(value_parser = ["train"])]
    command: Option<String>,
    /// The container root holding input/, model/ and output/.
    #[arg(long, env = "TOLLGATE_ML_ROOT", default_value = "/opt/ml")]
    root: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tollgate_trainer::train_job(&cli.root)
}
