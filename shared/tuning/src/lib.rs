//! Hyperparameter search for the tune handler: strategies that propose trials (grid, random,
//! TPE), seeded so a run can be replayed, and a [`Study`] that hands them out within a budget of
//! trials and parallel jobs and takes their results back. Failed trials count against the budget
//! and never stall the study; a result reported twice, or for a trial already settled, changes
//! nothing.
//!
//! No IO and no clock: the tune handler turns events into `ask` and `tell`.

mod grid;
mod random;
mod study;
mod tpe;

pub use grid::Grid;
pub use random::Random;
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
