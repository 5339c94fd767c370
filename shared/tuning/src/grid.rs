//! Grid search: the product of a few levels per range, in a seeded random order so that a budget
//! smaller than the grid still spreads over it.

use rand::RngExt;
use tollgate_domain::{Hyperparameters, ParamSpec, ParamValue, SearchSpace};

use crate::{Observation, Strategy};

#[derive(Debug)]
pub struct Grid {
    points: Vec<Hyperparameters>,
}

fn levels_of(spec: &ParamSpec, levels: u32) -> Vec<ParamValue> {
    let k = levels.max(2) as usize;
    let spaced = |lo: f64, hi: f64| (0..k).map(move |i| lo + (hi - lo) * i as f64 / (k - 1) as f64);
    match spec {
        ParamSpec::Uniform { low, high } => spaced(*low, *high).map(ParamValue::Float).collect(),
        ParamSpec::LogUniform { low, high } => spaced(low.ln(), high.ln())
            .map(|x| ParamValue::Float(x.exp().clamp(*low, *high)))
            .collect(),
        ParamSpec::Int { low, high, log } => {
            let (lo, hi) = if *log {
                ((*low as f64).ln(), (*high as f64).ln())
            } else {
                (*low as f64, *high as f64)
            };
            let mut ints: Vec<i64> = spaced(lo, hi)
                .map(|x| if *log { x.exp() } else { x })
                .map(|x| (x.round() as i64).clamp(*low, *high))
                .collect();
            ints.dedup();
            ints.into_iter().map(ParamValue::Int).collect()
        }
        ParamSpec::Choice { values } => values.clone(),
    }
}

impl Grid {
    pub fn new(space: &SearchSpace, levels: u32, seed: u64) -> Self {
        let mut points: Vec<Hyperparameters> = vec![Hyperparameters::new()];
        for (name, spec) in &space.0 {
            let values = levels_of(spec, levels);
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.insert(name.clone(), v.clone());
                        q
                    })
                })
                .collect();
        }
        // Fisher-Yates with the seeded generator: trial i runs point i.
        let mut rng = crate::random::rng(seed, u32::MAX);
        for i in (1..points.len()).rev() {
            let j = rng.random_range(0..=i);
            points.swap(i, j);
        }
        Self { points }
    }

    /// How many points the grid has.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl Strategy for Grid {
    fn adaptive(&self) -> bool {
        false
    }

    fn propose(&self, trial: u32, _completed: &[Observation<'_>]) -> Option<Hyperparameters> {
        self.points.get(trial as usize).cloned()
    }
}
