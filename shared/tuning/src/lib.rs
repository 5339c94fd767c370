//! Hyperparameter search for the tune handler: strategies that propose trials (grid, random,
//! TPE), seeded so a run can be replayed, and a [`Study`] that hands them out within a budget of
//! trials and parallel jobs and takes their results back. Failed trials count against the budget
//! and never stall the study; a result reported twice, or for a trial already settled, changes
//! nothing.
//!
//! No IO and no clock: the tune handler turns events into `ask` and `tell`.

mod grid;
mod halving;
mod random;
mod staged;
mod study;
mod tpe;

pub use grid::Grid;
pub use halving::Halving;
pub use random::Random;
pub use staged::{Staged, narrow};
pub use study::{Ask, Budget, Outcome, Study, StudyError, Trial, TrialState};
pub use tpe::{Tpe, TpeConfig};

use tollgate_domain::Hyperparameters;

/// A completed trial, as strategies see it: its hyperparameters and the objective (lower is
/// better).
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub params: &'a Hyperparameters,
    pub objective: f64,
}

/// Proposes trial number `trial`'s hyperparameters from the completed trials; `None` when it has
/// no more to propose (a grid that is done).
///
/// A proposal depends only on the seed, the trial number and the completed trials, never on what
/// the strategy proposed before: the tune handler rebuilds its study from the catalog on every
/// event, and a replay must propose the same trials.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    fn propose(&self, trial: u32, completed: &[Observation<'_>]) -> Option<Hyperparameters>;

    /// What to start next, seeing every trial so far, running ones too (halving promotes a
    /// configuration once; a fine stage waits for the coarse one to end). By default: propose
    /// trial `trials.len()` from the completed ones.
    fn next(&self, trials: &[Trial]) -> Proposal {
        match self.propose(trials.len() as u32, &completed(trials)) {
            Some(params) => Proposal::Run(params),
            None => Proposal::Done,
        }
    }

    /// Whether proposals depend on the results of earlier trials. When they do, the study shows
    /// a strategy only results that every process would see at the same trial number (see
    /// [`Study::ask`]); a strategy that ignores results (grid, random) says `false` and never
    /// waits for them.
    fn adaptive(&self) -> bool {
        true
    }

    /// How much of the resource a trial had: the best trial is the best of the highest fidelity
    /// (a halving run's last rung). The same for every trial by default.
    fn fidelity(&self, _params: &Hyperparameters) -> f64 {
        0.0
    }
}

/// What a strategy wants next.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    Run(Hyperparameters),
    /// Nothing until a running trial ends.
    Wait,
    /// Nothing more, ever.
    Done,
}

/// The completed trials as observations, in trial order.
pub fn completed(trials: &[Trial]) -> Vec<Observation<'_>> {
    trials
        .iter()
        .filter_map(|t| match t.state {
            TrialState::Completed { objective } => Some(Observation {
                params: &t.params,
                objective,
            }),
            _ => None,
        })
        .collect()
}

/// Which strategy a pipeline asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyKind {
    /// Every combination of `levels` points per continuous range (all choices), in a seeded
    /// random order.
    Grid {
        levels: u32,
    },
    Random,
    Tpe(TpeConfig),
}

/// The strategy a pipeline's `[search]` asks for, for a run of `max_trials`.
pub fn for_pipeline(
    search: &tollgate_domain::pipeline::Search,
    max_trials: u32,
) -> Box<dyn Strategy> {
    use tollgate_domain::pipeline::{HalvingResource, StrategyName};
    let kind = |name: StrategyName| match name {
        StrategyName::Grid => StrategyKind::Grid {
            levels: search.grid_levels,
        },
        StrategyName::Random | StrategyName::Halving => StrategyKind::Random,
        StrategyName::Tpe => StrategyKind::Tpe(TpeConfig::default()),
    };
    if let (StrategyName::Halving, Some(h)) = (search.strategy, &search.halving) {
        return Box::new(Halving::new(
            strategy(&kind(h.sampler), &search.space, search.seed),
            h.resource.param(),
            (h.min, h.max),
            h.eta,
            h.resource == HalvingResource::MaxIterations,
            max_trials,
        ));
    }
    if search.stages.len() > 1 {
        return Box::new(Staged::new(
            &search.space,
            kind(search.strategy),
            search.stages.iter().map(|s| (s.trials, s.top)).collect(),
            search.seed,
        ));
    }
    strategy(&kind(search.strategy), &search.space, search.seed)
}

/// Builds a strategy for a space, seeded.
pub fn strategy(
    kind: &StrategyKind,
    space: &tollgate_domain::SearchSpace,
    seed: u64,
) -> Box<dyn Strategy> {
    match kind {
        StrategyKind::Grid { levels } => Box::new(Grid::new(space, *levels, seed)),
        StrategyKind::Random => Box::new(Random::new(space, seed)),
        StrategyKind::Tpe(config) => Box::new(Tpe::new(space, config.clone(), seed)),
    }
}
