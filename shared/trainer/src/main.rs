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
    // A panic in a library still leaves a reason where SageMaker looks for one.
    let root = cli.root.clone();
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = tollgate_trainer::write_failure(&root, &format!("internal error: {info}"));
        report(info);
    }));

    match tollgate_trainer::run(&cli.root) {
        Ok(outcome) => {
            for score in &outcome.scores {
                println!("{}", score.line());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("trainer: failed: {error}");
            if let Err(e) = tollgate_trainer::write_failure(&cli.root, &error) {
                eprintln!("trainer: could not write the failure: {e}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}
