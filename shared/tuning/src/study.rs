//! A study: trials handed out within a budget, results taken back.

use tollgate_domain::Hyperparameters;

use crate::{Proposal, Strategy};

/// Limits on a study. Every trial started counts, whether it completes, fails or is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_trials: u32,
    pub max_parallel: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    Running,
    Completed { objective: f64 },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// 0, 1, 2... in the order trials were asked for.
    pub id: u32,
    pub params: Hyperparameters,
    pub state: TrialState,
}

/// What a training job reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The objective to minimize.
    Completed {
        objective: f64,
    },
    Failed {
        reason: String,
    },
}

/// The answer to [`Study::ask`].
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    /// Start this trial.
    Run(Trial),
    /// As many trials as allowed at once are running: ask again when one ends.
    Wait,
    /// No trial is left to start: the budget is spent, or the strategy has proposed all it has.
    Exhausted,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    #[error("no trial {0} in this study")]
    UnknownTrial(u32),
    #[error("a budget needs at least one trial and one parallel job, got {0:?}")]
    EmptyBudget(Budget),
}

#[derive(Debug)]
pub struct Study {
    strategy: Box<dyn Strategy>,
    budget: Budget,
    trials: Vec<Trial>,
    exhausted: bool,
}

impl Study {
    pub fn new(strategy: Box<dyn Strategy>, budget: Budget) -> Result<Self, StudyError> {
        Self::resume(strategy, budget, Vec::new())
    }

    /// A study rebuilt from its trials as the catalog keeps them (ids 0, 1, 2... in order).
    pub fn resume(
        strategy: Box<dyn Strategy>,
        budget: Budget,
        trials: Vec<Trial>,
    ) -> Result<Self, StudyError> {
        if budget.max_trials == 0 || budget.max_parallel == 0 {
            return Err(StudyError::EmptyBudget(budget));
        }
        Ok(Self {
            strategy,
            budget,
            trials,
            exhausted: false,
        })
    }

    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    pub fn running(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .count()
    }

    /// The next trial to start, if the budget allows one now.
    pub fn ask(&mut self) -> Ask {
        if self.exhausted || self.trials.len() >= self.budget.max_trials as usize {
            return Ask::Exhausted;
        }
        if self.running() >= self.budget.max_parallel as usize {
            return Ask::Wait;
        }
        let id = self.trials.len() as u32;
        let proposal = if self.strategy.adaptive() {
            match self.settled_proposal() {
                Some(proposal) => proposal,
                None => return Ask::Wait,
            }
        } else {
            self.strategy.next(&self.trials)
        };
        match proposal {
            Proposal::Run(params) => {
                let trial = Trial {
                    id,
                    params,
                    state: TrialState::Running,
                };
                self.trials.push(trial.clone());
                Ask::Run(trial)
            }
            Proposal::Wait if self.running() > 0 => Ask::Wait,
            Proposal::Wait | Proposal::Done => {
                self.exhausted = true;
                Ask::Exhausted
            }
        }
    }

    /// The proposal for the next trial, made from results that do not depend on the order in
    /// which parallel jobs happened to end, so the same pipeline proposes the same trials in
    /// any process, however its jobs are scheduled; `None` when it must wait for a result.
    ///
    /// With `p` parallel jobs, trial `k` is proposed seeing the outcomes of trials `0..k+1-p`
    /// and the rest as running (whatever they are by now), and waits until those have ended.
    /// When the strategy cannot propose from that (halving waiting for a rung), the next
    /// trial's outcome is shown too, and so on: each step is decided by outcomes alone.
    /// With one job at a time this is every outcome, as before.
    fn settled_proposal(&self) -> Option<Proposal> {
        let next = self.trials.len();
        let mut known = (next + 1).saturating_sub(self.budget.max_parallel as usize);
        loop {
            if self.trials[..known]
                .iter()
                .any(|t| t.state == TrialState::Running)
            {
                return None;
            }
            let view: Vec<Trial> = self
                .trials
                .iter()
                .enumerate()
                .map(|(i, t)| match i < known {
                    true => t.clone(),
                    false => Trial {
                        state: TrialState::Running,
                        ..t.clone()
                    },
                })
                .collect();
            match self.strategy.next(&view) {
                Proposal::Wait if known < next => known += 1,
                proposal => return Some(proposal),
            }
        }
    }

    /// Records a trial's outcome. `Ok(false)` when the trial had already ended: a duplicate or
    /// late report changes nothing. An objective that is not a finite number fails the trial.
    pub fn tell(&mut self, id: u32, outcome: Outcome) -> Result<bool, StudyError> {
        let trial = self
            .trials
            .get_mut(id as usize)
            .ok_or(StudyError::UnknownTrial(id))?;
        if trial.state != TrialState::Running {
            return Ok(false);
        }
        trial.state = match outcome {
            Outcome::Completed { objective } if objective.is_finite() => {
                TrialState::Completed { objective }
            }
            Outcome::Completed { objective } => TrialState::Failed {
                reason: format!("the objective {objective} is not a finite number"),
            },
            Outcome::Failed { reason } => TrialState::Failed { reason },
        };
        Ok(true)
    }

    /// The completed trial with the lowest objective among those of the highest fidelity (the
    /// earliest among equals).
    pub fn best(&self) -> Option<&Trial> {
        let done = || {
            self.trials.iter().filter_map(|t| match t.state {
                TrialState::Completed { objective } => Some((t, objective)),
                _ => None,
            })
        };
        let top = done()
            .map(|(t, _)| self.strategy.fidelity(&t.params))
            .fold(f64::NEG_INFINITY, f64::max);
        done()
            .filter(|(t, _)| self.strategy.fidelity(&t.params) >= top)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
    }

    /// Whether nothing more will happen: none running, and the budget spent or the strategy out
    /// of proposals (known once `ask` has said `Exhausted`).
    pub fn is_done(&self) -> bool {
        self.running() == 0
            && (self.exhausted || self.trials.len() >= self.budget.max_trials as usize)
    }
}
