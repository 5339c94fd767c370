//! The strategies and the study, as the tune handler uses them.

use std::collections::BTreeMap;

use tollgate_domain::{ParamSpec, ParamValue, SearchSpace};
use tollgate_tuning::{Ask, Budget, Outcome, StrategyKind, Study, TpeConfig, TrialState, strategy};

fn branin_space() -> SearchSpace {
    SearchSpace(BTreeMap::from([
        (
            "x1".to_owned(),
            ParamSpec::Uniform {
                low: -5.0,
                high: 10.0,
            },
        ),
        (
            "x2".to_owned(),
            ParamSpec::Uniform {
                low: 0.0,
                high: 15.0,
            },
        ),
    ]))
}

/// Branin-Hoo; its minimum is 0.397887.
fn branin(p: &tollgate_domain::Hyperparameters) -> f64 {
    use std::f64::consts::PI;
    let (x1, x2) = (p["x1"].as_f64().unwrap(), p["x2"].as_f64().unwrap());
    let (b, c) = (5.1 / (4.0 * PI * PI), 5.0 / PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - 1.0 / (8.0 * PI)) * x1.cos() + 10.0
}

fn budget(max_trials: u32, max_parallel: u32) -> Budget {
    Budget {
        max_trials,
        max_parallel,
    }
}

/// Runs a study to its end, one trial at a time; returns the best objective.
fn run(
    kind: &StrategyKind,
    space: &SearchSpace,
    seed: u64,
    trials: u32,
    f: impl Fn(&tollgate_domain::Hyperparameters) -> f64,
) -> (f64, Study) {
    let mut study = Study::new(strategy(kind, space, seed), budget(trials, 1)).unwrap();
    while let Ask::Run(trial) = study.ask() {
        let objective = f(&trial.params);
        study
            .tell(trial.id, Outcome::Completed { objective })
            .unwrap();
    }
    let best = match study.best().unwrap().state {
        TrialState::Completed { objective } => objective,
        _ => unreachable!(),
    };
    (best, study)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[test]
fn the_same_seed_proposes_the_same_trials() {
    for kind in [
        StrategyKind::Random,
        StrategyKind::Tpe(TpeConfig::default()),
        StrategyKind::Grid { levels: 4 },
    ] {
        let (_, a) = run(&kind, &branin_space(), 11, 30, branin);
        let (_, b) = run(&kind, &branin_space(), 11, 30, branin);
        let (_, c) = run(&kind, &branin_space(), 12, 30, branin);
        assert_eq!(a.trials(), b.trials(), "{kind:?}");
        assert_ne!(
            a.trials(),
            c.trials(),
            "{kind:?}: another seed, other trials"
        );
    }
}

#[test]
fn a_study_rebuilt_from_its_trials_proposes_what_it_would_have() {
    let kind = StrategyKind::Tpe(TpeConfig::default());
    let (_, whole) = run(&kind, &branin_space(), 5, 25, branin);
    // Stop after 20, rebuild from the stored trials (as the tune handler does on each event).
    let (_, first) = run(&kind, &branin_space(), 5, 20, branin);
    let mut resumed = Study::resume(
        strategy(&kind, &branin_space(), 5),
        budget(25, 1),
        first.trials().to_vec(),
    )
    .unwrap();
    while let Ask::Run(trial) = resumed.ask() {
        resumed
            .tell(
                trial.id,
                Outcome::Completed {
                    objective: branin(&trial.params),
                },
            )
            .unwrap();
    }
    assert_eq!(resumed.trials(), whole.trials());
}

#[test]
fn the_budget_counts_failed_trials_and_caps_parallel_jobs() {
    let mut study = Study::new(
        strategy(&StrategyKind::Random, &branin_space(), 1),
        budget(10, 3),
    )
    .unwrap();
    let mut started = Vec::new();
    loop {
        match study.ask() {
            Ask::Run(t) => {
                assert!(study.running() <= 3, "never more than 3 at once");
                started.push(t.id);
            }
            Ask::Wait => {
                // Finish the oldest running trial; every third one fails.
                let id = study
                    .trials()
                    .iter()
                    .find(|t| t.state == TrialState::Running)
                    .unwrap()
                    .id;
                let outcome = if id % 3 == 0 {
                    Outcome::Failed {
                        reason: "out of memory".into(),
                    }
                } else {
                    Outcome::Completed {
                        objective: f64::from(id),
                    }
                };
                assert!(study.tell(id, outcome).unwrap());
            }
            Ask::Exhausted => break,
        }
    }
    assert_eq!(started.len(), 10, "failed trials count against the budget");
    while let Some(id) = study
        .trials()
        .iter()
        .find(|t| t.state == TrialState::Running)
        .map(|t| t.id)
    {
        let outcome = if id % 3 == 0 {
            Outcome::Failed {
                reason: "out of memory".into(),
            }
        } else {
            Outcome::Completed { objective: 100.0 }
        };
        study.tell(id, outcome).unwrap();
    }
    assert!(study.is_done());
    assert_eq!(
        study.best().unwrap().id,
        1,
        "the lowest objective among completed trials"
    );
    let failed = study
        .trials()
        .iter()
        .filter(|t| matches!(t.state, TrialState::Failed { .. }))
        .count();
    assert_eq!(
        failed, 4,
        "trials 0, 3, 6, 9 failed and are recorded with their reason"
    );
}

#[test]
fn a_duplicate_or_late_report_changes_nothing() {
    let mut study = Study::new(
        strategy(&StrategyKind::Random, &branin_space(), 1),
        budget(2, 2),
    )
    .unwrap();
    let Ask::Run(t) = study.ask() else { panic!() };
    assert!(
        study
            .tell(t.id, Outcome::Completed { objective: 1.0 })
            .unwrap()
    );
    assert!(
        !study
            .tell(t.id, Outcome::Completed { objective: 0.5 })
            .unwrap()
    );
    assert!(
        !study
            .tell(
                t.id,
                Outcome::Failed {
                    reason: "late".into()
                }
            )
            .unwrap()
    );
    assert_eq!(
        study.trials()[0].state,
        TrialState::Completed { objective: 1.0 }
    );
    assert!(
        study
            .tell(99, Outcome::Completed { objective: 0.0 })
            .is_err()
    );
    let Ask::Run(u) = study.ask() else { panic!() };
    study
        .tell(
            u.id,
            Outcome::Completed {
                objective: f64::NAN,
            },
        )
        .unwrap();
    assert!(
        matches!(study.trials()[1].state, TrialState::Failed { .. }),
        "NaN is a failure"
    );
}

#[test]
fn a_grid_covers_every_point_once_then_is_exhausted() {
    let space = SearchSpace(BTreeMap::from([
        (
            "lr".to_owned(),
            ParamSpec::LogUniform {
                low: 1e-3,
                high: 1e-1,
            },
        ),
        (
            "depth".to_owned(),
            ParamSpec::Int {
                low: 2,
                high: 4,
                log: false,
            },
        ),
        (
            "kernel".to_owned(),
            ParamSpec::Choice {
                values: vec![ParamValue::Text("a".into()), ParamValue::Text("b".into())],
            },
        ),
    ]));
    let mut study = Study::new(
        strategy(&StrategyKind::Grid { levels: 3 }, &space, 3),
        budget(100, 1),
    )
    .unwrap();
    let mut seen = Vec::new();
    while let Ask::Run(t) = study.ask() {
        seen.push(t.params.clone());
        study
            .tell(t.id, Outcome::Completed { objective: 0.0 })
            .unwrap();
    }
    assert_eq!(seen.len(), 3 * 3 * 2);
    seen.dedup();
    assert_eq!(seen.len(), 18, "no point twice");
    assert!(study.is_done());
    let lrs: Vec<f64> = seen.iter().map(|p| p["lr"].as_f64().unwrap()).collect();
    assert!(
        lrs.iter().any(|x| (x - 0.01).abs() < 1e-12),
        "log levels: 0.001, 0.01, 0.1"
    );
}

#[test]
fn proposals_stay_inside_their_ranges() {
    let space = SearchSpace(BTreeMap::from([
        (
            "a".to_owned(),
            ParamSpec::LogUniform {
                low: 1e-5,
                high: 1.0,
            },
        ),
        (
            "b".to_owned(),
            ParamSpec::Int {
                low: 1,
                high: 1000,
                log: true,
            },
        ),
        (
            "c".to_owned(),
            ParamSpec::Int {
                low: -3,
                high: 3,
                log: false,
            },
        ),
        (
            "d".to_owned(),
            ParamSpec::Choice {
                values: vec![ParamValue::Bool(true), ParamValue::Bool(false)],
            },
        ),
    ]));
    for kind in [
        StrategyKind::Random,
        StrategyKind::Tpe(TpeConfig::default()),
    ] {
        let (_, study) = run(&kind, &space, 9, 60, |p| {
            p["a"].as_f64().unwrap() + p["c"].as_f64().unwrap().abs()
        });
        for t in study.trials() {
            let a = t.params["a"].as_f64().unwrap();
            assert!((1e-5..=1.0).contains(&a), "{a}");
            assert!(
                matches!(t.params["b"], ParamValue::Int(1..=1000)),
                "{:?}",
                t.params["b"]
            );
            assert!(
                matches!(t.params["c"], ParamValue::Int(-3..=3)),
                "{:?}",
                t.params["c"]
            );
            assert!(matches!(t.params["d"], ParamValue::Bool(_)));
        }
    }
}

#[test]
fn tpe_finds_better_branin_values_than_random_search() {
    // 15 seeds, 100 trials each: the median best value (regret against 0.397887). How it stands
    // against Optuna's TPE is the tuning benchmark's question, not this test's.
    let median_best = |kind: &StrategyKind| {
        median(
            (0..15)
                .map(|seed| run(kind, &branin_space(), seed, 100, branin).0)
                .collect(),
        )
    };
    let random = median_best(&StrategyKind::Random);
    let tpe = median_best(&StrategyKind::Tpe(TpeConfig::default()));
    let (tpe_regret, random_regret) = (tpe - 0.397_887, random - 0.397_887);
    assert!(
        tpe_regret < 0.5 * random_regret,
        "TPE's median regret {tpe_regret:.4} should be under half of random's {random_regret:.4}"
    );
}

/// Runs a study with `parallel` jobs, finishing the oldest running trial whenever it must wait.
fn run_parallel(
    study: &mut Study,
    f: impl Fn(&tollgate_domain::Hyperparameters) -> f64,
) -> Vec<u32> {
    run_parallel_ending(study, f, Ending::OldestFirst)
}

/// Which running job ends when the study must wait.
#[derive(Clone, Copy)]
enum Ending {
    OldestFirst,
    NewestFirst,
}

fn run_parallel_ending(
    study: &mut Study,
    f: impl Fn(&tollgate_domain::Hyperparameters) -> f64,
    ending: Ending,
) -> Vec<u32> {
    let mut order = Vec::new();
    loop {
        match study.ask() {
            Ask::Run(t) => order.push(t.id),
            Ask::Wait => {
                let mut running = study
                    .trials()
                    .iter()
                    .filter(|t| t.state == TrialState::Running);
                let t = match ending {
                    Ending::OldestFirst => running.next(),
                    Ending::NewestFirst => running.next_back(),
                }
                .unwrap()
                .clone();
                let objective = f(&t.params);
                study.tell(t.id, Outcome::Completed { objective }).unwrap();
            }
            Ask::Exhausted => {
                let running: Vec<_> = study
                    .trials()
                    .iter()
                    .filter(|t| t.state == TrialState::Running)
                    .cloned()
                    .collect();
                if running.is_empty() {
                    return order;
                }
                for t in running {
                    let objective = f(&t.params);
                    study.tell(t.id, Outcome::Completed { objective }).unwrap();
                }
            }
        }
    }
}

/// Branin seen through a budget: the less data, the noisier the value (as a model's loss).
fn branin_at_fraction(p: &tollgate_domain::Hyperparameters) -> f64 {
    let fraction = p["data_fraction"].as_f64().unwrap();
    let noise = ((p["x1"].as_f64().unwrap() * 7.3).sin() * 3.0) * (1.0 - fraction);
    branin(p) + noise
}

#[test]
fn halving_promotes_the_best_of_each_rung_within_the_budget() {
    let make = || {
        tollgate_tuning::Halving::new(
            strategy(&StrategyKind::Random, &branin_space(), 4),
            "data_fraction",
            (1.0 / 9.0, 1.0),
            3,
            false,
            39,
        )
    };
    assert_eq!(make().rungs().len(), 3);
    // 27 configurations: 27 + 9 + 3 = 39 trials; 28 would need 40.
    assert_eq!(make().base_configs(), 27);
    let mut study = Study::new(Box::new(make()), budget(39, 3)).unwrap();
    run_parallel(&mut study, branin_at_fraction);
    let trials = study.trials();
    assert!(trials.len() <= 39, "{} trials", trials.len());
    let at = |f: f64| -> Vec<&tollgate_tuning::Trial> {
        trials
            .iter()
            .filter(|t| (t.params["data_fraction"].as_f64().unwrap() - f).abs() < 1e-9)
            .collect()
    };
    let (first, last) = (at(1.0 / 9.0), at(1.0));
    assert_eq!(first.len(), 27);
    assert!(
        !last.is_empty() && last.len() <= 3,
        "{} on the last rung",
        last.len()
    );
    // Every configuration on the last rung was among the best third of the first.
    let objective = |t: &tollgate_tuning::Trial| match t.state {
        TrialState::Completed { objective } => objective,
        _ => f64::INFINITY,
    };
    let mut ranked: Vec<f64> = first.iter().map(|t| objective(t)).collect();
    ranked.sort_by(f64::total_cmp);
    // ASHA promotes from what has completed so far, so allow the best half, not just a third.
    let cut = ranked[13];
    for t in &last {
        let twin = first
            .iter()
            .find(|f| f.params["x1"] == t.params["x1"] && f.params["x2"] == t.params["x2"])
            .expect("a promoted configuration started on the first rung");
        assert!(objective(twin) <= cut, "a poor configuration was promoted");
    }
    // The best trial is one that ran on all the data.
    assert_eq!(
        study.best().unwrap().params["data_fraction"].as_f64(),
        Some(1.0)
    );
    // Reproducible.
    let mut again = Study::new(Box::new(make()), budget(39, 3)).unwrap();
    run_parallel(&mut again, branin_at_fraction);
    assert_eq!(again.trials(), study.trials());
}

#[test]
fn a_fine_stage_waits_for_the_coarse_one_and_searches_around_its_best() {
    let staged = || {
        tollgate_tuning::Staged::new(
            &branin_space(),
            StrategyKind::Random,
            vec![(12, 3), (8, 3)],
            9,
        )
    };
    let mut study = Study::new(Box::new(staged()), budget(20, 4)).unwrap();
    // With the coarse stage's trials still running, the fine stage does not start.
    let mut started = 0;
    while let Ask::Run(_) = study.ask() {
        started += 1;
        if started == 4 {
            break;
        }
    }
    run_parallel(&mut study, branin);
    let trials = study.trials();
    assert_eq!(trials.len(), 20);
    let coarse = &trials[..12];
    let mut best: Vec<&tollgate_tuning::Trial> = coarse.iter().collect();
    let objective = |t: &tollgate_tuning::Trial| match t.state {
        TrialState::Completed { objective } => objective,
        _ => f64::INFINITY,
    };
    best.sort_by(|a, b| objective(a).total_cmp(&objective(b)));
    let top: Vec<&tollgate_domain::Hyperparameters> = best[..3].iter().map(|t| &t.params).collect();
    let fine_space = tollgate_tuning::narrow(&branin_space(), &top);
    for t in &trials[12..] {
        for (name, spec) in &fine_space.0 {
            let (ParamSpec::Uniform { low, high }, Some(v)) = (spec, t.params[name].as_f64())
            else {
                panic!("{name}: a uniform range");
            };
            assert!(
                (*low..=*high).contains(&v),
                "{name} = {v} outside [{low}, {high}]"
            );
        }
    }
    // The narrowed space is smaller than the original.
    let width = |s: &SearchSpace| match &s.0["x1"] {
        ParamSpec::Uniform { low, high } => high - low,
        _ => unreachable!(),
    };
    assert!(width(&fine_space) < width(&branin_space()));
}

/// Parallel jobs end in whatever order the machines finish them: an adaptive strategy must
/// propose the same trials whichever order that is, or a run cannot be reproduced.
#[test]
fn adaptive_strategies_propose_the_same_trials_whatever_order_parallel_jobs_end_in() {
    let tpe = StrategyKind::Tpe(TpeConfig {
        startup_trials: 4,
        ..TpeConfig::default()
    });
    let halving = || {
        Box::new(tollgate_tuning::Halving::new(
            strategy(&StrategyKind::Random, &branin_space(), 4),
            "data_fraction",
            (1.0 / 9.0, 1.0),
            3,
            false,
            39,
        )) as Box<dyn tollgate_tuning::Strategy>
    };
    type Make = Box<dyn Fn() -> Box<dyn tollgate_tuning::Strategy>>;
    let cases: Vec<(&str, Make, u32)> = vec![
        (
            "tpe",
            Box::new(move || strategy(&tpe, &branin_space(), 11)),
            24,
        ),
        ("halving", Box::new(halving), 39),
    ];
    for (name, make, trials) in cases {
        for parallel in [2, 3, 5] {
            let mut oldest = Study::new(make(), budget(trials, parallel)).unwrap();
            run_parallel_ending(&mut oldest, branin_at_fraction_or_not, Ending::OldestFirst);
            let mut newest = Study::new(make(), budget(trials, parallel)).unwrap();
            run_parallel_ending(&mut newest, branin_at_fraction_or_not, Ending::NewestFirst);
            assert_eq!(
                oldest.trials(),
                newest.trials(),
                "{name} with {parallel} parallel jobs"
            );
            assert_eq!(
                oldest.trials().len(),
                trials as usize,
                "{name}: the budget is used"
            );
        }
    }
}

/// Branin, through a budget when the trial has one.
fn branin_at_fraction_or_not(p: &tollgate_domain::Hyperparameters) -> f64 {
    match p.get("data_fraction") {
        Some(_) => branin_at_fraction(p),
        None => branin(p),
    }
}
