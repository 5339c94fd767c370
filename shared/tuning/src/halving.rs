//! Asynchronous successive halving (ASHA, Li et al. 2020), bounded by a trial budget: new
//! configurations start on the smallest resource; whenever the best 1/eta of a rung's completed
//! trials include one not yet promoted, it runs again on eta times the resource. Poor
//! configurations stop at the first rung; no rung waits for another to fill.

use tollgate_domain::{Hyperparameters, ParamValue};

use crate::{Observation, Proposal, Strategy, Trial, TrialState, completed};

#[derive(Debug)]
pub struct Halving {
    sampler: Box<dyn Strategy>,
    /// The hyperparameter the trainer reads as its resource.
    param: String,
    rungs: Vec<f64>,
    integer: bool,
    eta: u32,
    /// How many configurations start on the first rung, so every promotion fits in the budget.
    base_configs: u32,
}

impl Halving {
    /// Rungs `max`, `max/eta`, `max/eta²`... down to the last one at or above `min`.
    pub fn new(
        sampler: Box<dyn Strategy>,
        param: &str,
        (min, max): (f64, f64),
        eta: u32,
        integer: bool,
        max_trials: u32,
    ) -> Self {
        let eta = eta.max(2);
        // From the top: `max`, `max/eta`, ... down to the last rung at or above `min`.
        let steps = ((max / min).ln() / f64::from(eta).ln() + 1e-9)
            .floor()
            .max(0.0) as i32;
        let mut rungs: Vec<f64> = (0..=steps)
            .rev()
            .map(|k| max / f64::from(eta).powi(k))
            .collect();
        if integer {
            rungs = rungs.iter().map(|r| r.round().max(1.0)).collect();
            rungs.dedup();
        }
        // The most configurations whose full ladder of promotions fits in `max_trials`.
        let ladder = |n: u32| -> u32 { (0..rungs.len() as u32).map(|k| n / eta.pow(k)).sum() };
        let mut base_configs = 1;
        while ladder(base_configs + 1) <= max_trials {
            base_configs += 1;
        }
        Self {
            sampler,
            param: param.to_owned(),
            rungs,
            integer,
            eta,
            base_configs,
        }
    }

    pub fn rungs(&self) -> &[f64] {
        &self.rungs
    }

    pub fn base_configs(&self) -> u32 {
        self.base_configs
    }

    fn resource(&self, rung: usize) -> ParamValue {
        if self.integer {
            ParamValue::Int(self.rungs[rung] as i64)
        } else {
            ParamValue::Float(self.rungs[rung])
        }
    }

    fn rung_of(&self, params: &Hyperparameters) -> usize {
        let r = params
            .get(&self.param)
            .and_then(ParamValue::as_f64)
            .unwrap_or(0.0);
        self.rungs
            .iter()
            .position(|x| (x - r).abs() <= 1e-9 * x.abs().max(1.0))
            .unwrap_or(0)
    }

    /// A configuration: its hyperparameters without the resource.
    fn config(&self, params: &Hyperparameters) -> Hyperparameters {
        let mut c = params.clone();
        c.remove(&self.param);
        c
    }
}

impl Strategy for Halving {
    fn propose(&self, trial: u32, completed: &[Observation<'_>]) -> Option<Hyperparameters> {
        let mut params = self.sampler.propose(trial, completed)?;
        params.insert(self.param.clone(), self.resource(0));
        Some(params)
    }

    fn next(&self, trials: &[Trial]) -> Proposal {
        for rung in (0..self.rungs.len() - 1).rev() {
            let mut done: Vec<(&Trial, f64)> = trials
                .iter()
                .filter(|t| self.rung_of(&t.params) == rung)
                .filter_map(|t| match t.state {
                    TrialState::Completed { objective } => Some((t, objective)),
                    _ => None,
                })
                .collect();
            done.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
            let promotable = done.len() / self.eta as usize;
            for (trial, _) in &done[..promotable] {
                let config = self.config(&trial.params);
                let promoted = trials.iter().any(|t| {
                    self.rung_of(&t.params) == rung + 1 && self.config(&t.params) == config
                });
                if !promoted {
                    let mut params = config;
                    params.insert(self.param.clone(), self.resource(rung + 1));
                    return Proposal::Run(params);
                }
            }
        }
        let first_rung: Vec<&Trial> = trials
            .iter()
            .filter(|t| self.rung_of(&t.params) == 0)
            .collect();
        let started = first_rung.len() as u32;
        if started < self.base_configs {
            let owned: Vec<Trial> = first_rung.into_iter().cloned().collect();
            let observed = completed(&owned);
            return match self.propose(started, &observed) {
                Some(params) => Proposal::Run(params),
                None => Proposal::Done,
            };
        }
        if trials.iter().any(|t| t.state == TrialState::Running) {
            Proposal::Wait
        } else {
            Proposal::Done
        }
    }

    fn fidelity(&self, params: &Hyperparameters) -> f64 {
        self.rung_of(params) as f64
    }
}
