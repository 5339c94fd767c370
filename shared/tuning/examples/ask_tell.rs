//! Tollgate's strategies behind a JSON-lines ask/tell protocol, so the tuning benchmark
//! (`bench/tuning/run.sh`) scores them on the very objective functions Optuna sees.
//!
//! stdin, first line: `{"strategy": "random" | "tpe", "seed": 7, "trials": 50, "space": {...}}`
//! (the space as a pipeline file's `[search.space]`, in JSON). Then, for each trial, this prints
//! the hyperparameters as one JSON line and reads the objective (a number) as one line.

use std::io::{BufRead, Write};

use serde::Deserialize;
use tollgate_domain::SearchSpace;
use tollgate_tuning::{Ask, Budget, Outcome, StrategyKind, Study, TpeConfig, strategy};

#[derive(Deserialize)]
struct Setup {
    strategy: String,
    seed: u64,
    trials: u32,
    space: SearchSpace,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let setup: Setup = serde_json::from_str(&lines.next().ok_or("no setup line")??)?;
    setup.space.check()?;
    let kind = match setup.strategy.as_str() {
        "random" => StrategyKind::Random,
        "tpe" => StrategyKind::Tpe(TpeConfig::default()),
        other => return Err(format!("unknown strategy {other:?}").into()),
    };
    let budget = Budget {
        max_trials: setup.trials,
        max_parallel: 1,
    };
    let mut study = Study::new(strategy(&kind, &setup.space, setup.seed), budget)?;
    let mut out = std::io::stdout().lock();
    while let Ask::Run(trial) = study.ask() {
        writeln!(out, "{}", serde_json::to_string(&trial.params)?)?;
        out.flush()?;
        let objective: f64 = lines.next().ok_or("no objective line")??.trim().parse()?;
        study.tell(trial.id, Outcome::Completed { objective })?;
    }
    Ok(())
}
