//! One instance of an ingest's SageMaker Processing job, as the processing image runs it:
//! `process --root /opt/ml`. It reads its share of the upload (`tollgate_ingest::run_instance`)
//! and exits 0; on failure it writes the reason to `output/message`, where SageMaker takes the
//! job's exit message from, and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut root =
        PathBuf::from(std::env::var("TOLLGATE_ML_ROOT").unwrap_or_else(|_| "/opt/ml".to_owned()));
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--root", Some(dir)) => root = PathBuf::from(dir),
            _ => {
                eprintln!("usage: process [--root DIR]   (default /opt/ml, or TOLLGATE_ML_ROOT)");
                return ExitCode::from(2);
            }
        }
    }
    tollgate_ingest::instance_main(&root)
}
