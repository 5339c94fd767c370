//! Uniform random search, and the sampling every strategy shares.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tollgate_domain::{Hyperparameters, ParamSpec, ParamValue, SearchSpace};

use crate::{Observation, Strategy};

/// A generator for one proposal: fixed by the study's seed and the trial number, so any trial
/// can be proposed again, in any process. (Xoshiro256++ is a fixed algorithm; `seed_from_u64`
/// spreads the seed with SplitMix64.)
pub(crate) fn rng(seed: u64, trial: u32) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(
        seed ^ (u64::from(trial) << 32 | u64::from(trial)).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// Every parameter of a space, drawn at random.
pub(crate) fn sample_space(space: &SearchSpace, rng: &mut Xoshiro256PlusPlus) -> Hyperparameters {
    space
        .0
        .iter()
        .map(|(name, spec)| (name.clone(), sample(spec, rng)))
        .collect()
}

/// One value drawn uniformly from a range (log-uniformly for log ranges).
pub(crate) fn sample(spec: &ParamSpec, rng: &mut Xoshiro256PlusPlus) -> ParamValue {
    match spec {
        ParamSpec::Uniform { low, high } => ParamValue::Float(rng.random_range(*low..*high)),
        ParamSpec::LogUniform { low, high } => ParamValue::Float(
            rng.random_range(low.ln()..high.ln())
                .exp()
                .clamp(*low, *high),
        ),
        ParamSpec::Int {
            low,
            high,
            log: false,
        } => ParamValue::Int(rng.random_range(*low..=*high)),
        ParamSpec::Int {
            low,
            high,
            log: true,
        } => {
            let x = rng
                .random_range((*low as f64 - 0.5).ln()..(*high as f64 + 0.5).ln())
                .exp();
            ParamValue::Int((x.round() as i64).clamp(*low, *high))
        }
        ParamSpec::Choice { values } => values[rng.random_range(0..values.len())].clone(),
    }
}

#[derive(Debug)]
pub struct Random {
    space: SearchSpace,
    seed: u64,
}

impl Random {
    pub fn new(space: &SearchSpace, seed: u64) -> Self {
        Self {
            space: space.clone(),
            seed,
        }
    }
}

impl Strategy for Random {
    fn adaptive(&self) -> bool {
        false
    }

    fn propose(&self, trial: u32, _completed: &[Observation<'_>]) -> Option<Hyperparameters> {
        Some(sample_space(&self.space, &mut rng(self.seed, trial)))
    }
}
