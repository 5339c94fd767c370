//! Coarse, then fine: each stage after the first searches the space narrowed around the best
//! trials of the stage before it, once that stage has ended.

use tollgate_domain::{Hyperparameters, ParamSpec, ParamValue, SearchSpace};

use crate::{
    Observation, Proposal, Strategy, StrategyKind, Trial, TrialState, completed, strategy,
};

#[derive(Debug)]
pub struct Staged {
    space: SearchSpace,
    kind: StrategyKind,
    /// (trials, top) of each stage.
    stages: Vec<(u32, u32)>,
    seed: u64,
}

impl Staged {
    pub fn new(
        space: &SearchSpace,
        kind: StrategyKind,
        stages: Vec<(u32, u32)>,
        seed: u64,
    ) -> Self {
        Self {
            space: space.clone(),
            kind,
            stages,
            seed,
        }
    }

    /// The stage trial `n` belongs to, and the first trial of that stage.
    fn stage_of(&self, n: u32) -> Option<(usize, u32)> {
        let mut start = 0;
        for (s, (trials, _)) in self.stages.iter().enumerate() {
            if n < start + trials {
                return Some((s, start));
            }
            start += trials;
        }
        None
    }

    /// The space of stage `s`, given the trials of every stage before it.
    fn space_of(&self, stage: usize, trials: &[Trial]) -> SearchSpace {
        let mut space = self.space.clone();
        let mut start = 0;
        for s in 1..=stage {
            let (prev_trials, _) = self.stages[s - 1];
            let top = self.stages[s].1;
            let previous = &trials[start as usize..(start + prev_trials) as usize];
            start += prev_trials;
            let mut best: Vec<(&Trial, f64)> = previous
                .iter()
                .filter_map(|t| match t.state {
                    TrialState::Completed { objective } => Some((t, objective)),
                    _ => None,
                })
                .collect();
            best.sort_by(|a, b| a.1.total_cmp(&b.1));
            best.truncate(top as usize);
            let chosen: Vec<&Hyperparameters> = best.iter().map(|(t, _)| &t.params).collect();
            space = narrow(&space, &chosen);
        }
        space
    }
}

/// The space around `best`: each range shrunk to the span of the best values plus half that span
/// on each side (at least 5% of the range), within the old range; choices cut to those the best
/// used. With nothing to narrow around, the space is unchanged.
pub fn narrow(space: &SearchSpace, best: &[&Hyperparameters]) -> SearchSpace {
    if best.is_empty() {
        return space.clone();
    }
    let span = |values: Vec<f64>, low: f64, high: f64| -> (f64, f64) {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.5).max((high - low) * 0.05);
        ((lo - pad).max(low), (hi + pad).min(high))
    };
    SearchSpace(
        space
            .0
            .iter()
            .map(|(name, spec)| {
                let values: Vec<f64> = best
                    .iter()
                    .filter_map(|p| p.get(name).and_then(ParamValue::as_f64))
                    .collect();
                let narrowed = match spec {
                    _ if values.is_empty() && !matches!(spec, ParamSpec::Choice { .. }) => {
                        spec.clone()
                    }
                    ParamSpec::Uniform { low, high } => {
                        let (low, high) = span(values, *low, *high);
                        ParamSpec::Uniform { low, high }
                    }
                    ParamSpec::LogUniform { low, high } => {
                        let logs = values.iter().map(|v| v.ln()).collect();
                        let (l, h) = span(logs, low.ln(), high.ln());
                        ParamSpec::LogUniform {
                            low: l.exp().max(*low),
                            high: h.exp().min(*high),
                        }
                    }
                    ParamSpec::Int { low, high, log } => {
                        let (l, h) = span(values, *low as f64, *high as f64);
                        ParamSpec::Int {
                            low: (l.floor() as i64).max(*low),
                            high: (h.ceil() as i64).min(*high),
                            log: *log,
                        }
                    }
                    ParamSpec::Choice { values: all } => {
                        let used: Vec<ParamValue> = all
                            .iter()
                            .filter(|v| best.iter().any(|p| p.get(name) == Some(v)))
                            .cloned()
                            .collect();
                        ParamSpec::Choice {
                            values: if used.is_empty() { all.clone() } else { used },
                        }
                    }
                };
                (name.clone(), narrowed)
            })
            .collect(),
    )
}

impl Strategy for Staged {
    fn propose(&self, trial: u32, completed: &[Observation<'_>]) -> Option<Hyperparameters> {
        // Without the trials' order the stages cannot be told apart: only the first stage.
        let (stage, start) = self.stage_of(trial)?;
        (stage == 0).then(|| {
            strategy(&self.kind, &self.space, self.seed).propose(trial - start, completed)
        })?
    }

    fn next(&self, trials: &[Trial]) -> Proposal {
        let n = trials.len() as u32;
        let Some((stage, start)) = self.stage_of(n) else {
            return Proposal::Done;
        };
        if stage > 0
            && trials[..start as usize]
                .iter()
                .any(|t| t.state == TrialState::Running)
        {
            return Proposal::Wait;
        }
        let space = self.space_of(stage, trials);
        let inner = strategy(&self.kind, &space, self.seed.wrapping_add(stage as u64));
        let observed = completed(&trials[start as usize..]);
        match inner.propose(n - start, &observed) {
            Some(params) => Proposal::Run(params),
            None => Proposal::Done,
        }
    }
}
