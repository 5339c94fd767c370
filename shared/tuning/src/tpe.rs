//! The tree-structured Parzen estimator (Bergstra et al. 2011), univariate, as Optuna's
//! `TPESampler` does it by default: after `startup_trials` random trials, the completed trials are
//! split into the best `min(ceil(0.1 n), 25)` ("below") and the rest; for each parameter a Parzen
//! estimator of each group is built (truncated normals on the parameter's range, log ranges in log
//! space, with a prior component over the whole range), `candidates` values are drawn from the
//! "below" one, and the value with the largest `log l(x) - log g(x)` is proposed.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use statrs::function::erf::{erf, erf_inv};
use tollgate_domain::{Hyperparameters, ParamSpec, ParamValue, SearchSpace};

use crate::random::{rng, sample_space};
use crate::{Observation, Strategy};

#[derive(Debug, Clone, PartialEq)]
pub struct TpeConfig {
    /// Trials drawn at random before the model is used.
    pub startup_trials: usize,
    /// Values drawn from the "below" estimator per parameter and proposal.
    pub candidates: usize,
    /// Weight of the prior component (a wide normal over the whole range).
    pub prior_weight: f64,
}

impl Default for TpeConfig {
    /// Optuna's defaults.
    fn default() -> Self {
        Self {
            startup_trials: 10,
            candidates: 24,
            prior_weight: 1.0,
        }
    }
}

#[derive(Debug)]
pub struct Tpe {
    space: SearchSpace,
    config: TpeConfig,
    seed: u64,
}

impl Tpe {
    pub fn new(space: &SearchSpace, config: TpeConfig, seed: u64) -> Self {
        Self {
            space: space.clone(),
            config,
            seed,
        }
    }
}

/// Optuna's weights by age: all ones up to 25 trials, then older trials ramp down from 1/n.
fn age_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            let lo = 1.0 / n as f64;
            if ramp == 1 {
                lo
            } else {
                lo + (1.0 - lo) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

fn log_sum_exp(xs: impl Iterator<Item = f64>) -> f64 {
    let xs: Vec<f64> = xs.collect();
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// A mixture of normals truncated to `[lo, hi]`.
#[derive(Debug)]
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    weights: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    fn new(points: &[f64], weights: &[f64], lo: f64, hi: f64, prior_weight: f64) -> Self {
        // The points and the prior's centre, sorted: each kernel's bandwidth is the larger gap to
        // its neighbours, the range's ends counting as neighbours of all but the outermost two.
        let mut mus = points.to_vec();
        mus.push(0.5 * (lo + hi));
        let k = mus.len();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|a, b| mus[*a].total_cmp(&mus[*b]));
        let mut with_ends = vec![lo];
        with_ends.extend(order.iter().map(|i| mus[*i]));
        with_ends.push(hi);
        let mut sorted_sigmas: Vec<f64> = (0..k)
            .map(|i| (with_ends[i + 1] - with_ends[i]).max(with_ends[i + 2] - with_ends[i + 1]))
            .collect();
        if k >= 2 {
            sorted_sigmas[0] = with_ends[2] - with_ends[1];
            sorted_sigmas[k - 1] = with_ends[k] - with_ends[k - 1];
        }
        let max_sigma = hi - lo;
        let min_sigma = max_sigma / (1.0 + k as f64).min(100.0);
        let mut sigmas = vec![0.0; k];
        for (rank, &i) in order.iter().enumerate() {
            sigmas[i] = sorted_sigmas[rank].clamp(min_sigma, max_sigma);
        }
        // The prior is a normal over the whole range.
        sigmas[k - 1] = max_sigma;
        let mut ws = weights.to_vec();
        ws.push(prior_weight);
        let total: f64 = ws.iter().sum();
        ws.iter_mut().for_each(|w| *w /= total);
        Self {
            mus,
            sigmas,
            weights: ws,
            lo,
            hi,
        }
    }

    fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        let u: f64 = rng.random();
        let mut k = 0;
        let mut acc = 0.0;
        for (i, w) in self.weights.iter().enumerate() {
            acc += w;
            k = i;
            if u < acc {
                break;
            }
        }
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        let a = normal_cdf((self.lo - mu) / sigma);
        let b = normal_cdf((self.hi - mu) / sigma);
        let p = a + (b - a) * rng.random::<f64>();
        let p = p.clamp(1e-12, 1.0 - 1e-12);
        (mu + sigma * std::f64::consts::SQRT_2 * erf_inv(2.0 * p - 1.0)).clamp(self.lo, self.hi)
    }

    fn log_pdf(&self, x: f64) -> f64 {
        let terms = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .zip(&self.weights)
            .map(|((mu, sigma), w)| {
                let z = (x - mu) / sigma;
                let mass = (normal_cdf((self.hi - mu) / sigma)
                    - normal_cdf((self.lo - mu) / sigma))
                .max(1e-300);
                w.ln()
                    - 0.5 * z * z
                    - (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln()
                    - mass.ln()
            });
        log_sum_exp(terms)
    }
}

/// A numeric range in the space TPE models it in (log ranges in log space, integers widened by
/// half a step each side), and the way back.
fn internal_range(spec: &ParamSpec) -> Option<(f64, f64)> {
    match spec {
        ParamSpec::Uniform { low, high } => Some((*low, *high)),
        ParamSpec::LogUniform { low, high } => Some((low.ln(), high.ln())),
        ParamSpec::Int {
            low,
            high,
            log: false,
        } => Some((*low as f64 - 0.5, *high as f64 + 0.5)),
        ParamSpec::Int {
            low,
            high,
            log: true,
        } => Some(((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln())),
        ParamSpec::Choice { .. } => None,
    }
}

fn to_internal(spec: &ParamSpec, value: &ParamValue) -> Option<f64> {
    let x = value.as_f64()?;
    Some(match spec {
        ParamSpec::LogUniform { .. } | ParamSpec::Int { log: true, .. } => x.ln(),
        _ => x,
    })
}

fn from_internal(spec: &ParamSpec, x: f64) -> ParamValue {
    match spec {
        ParamSpec::Uniform { low, high } => ParamValue::Float(x.clamp(*low, *high)),
        ParamSpec::LogUniform { low, high } => ParamValue::Float(x.exp().clamp(*low, *high)),
        ParamSpec::Int { low, high, log } => {
            let v = if *log { x.exp() } else { x };
            ParamValue::Int((v.round() as i64).clamp(*low, *high))
        }
        ParamSpec::Choice { .. } => unreachable!("choices are not numeric"),
    }
}

impl Tpe {
    fn numeric(
        &self,
        name: &str,
        spec: &ParamSpec,
        groups: [&[(&Observation<'_>, f64)]; 2],
        rng: &mut Xoshiro256PlusPlus,
    ) -> ParamValue {
        let (lo, hi) = internal_range(spec).expect("a numeric range");
        let [below, above] = groups.map(|group| {
            let (points, weights): (Vec<f64>, Vec<f64>) = group
                .iter()
                .filter_map(|(o, w)| Some((to_internal(spec, o.params.get(name)?)?, *w)))
                .unzip();
            Parzen::new(&points, &weights, lo, hi, self.config.prior_weight)
        });
        let best = (0..self.config.candidates.max(1))
            .map(|_| below.sample(rng))
            .map(|x| (x, below.log_pdf(x) - above.log_pdf(x)))
            .fold((f64::NAN, f64::NEG_INFINITY), |best, c| {
                if c.1 > best.1 { c } else { best }
            });
        let x = if best.0.is_nan() {
            below.sample(rng)
        } else {
            best.0
        };
        from_internal(spec, x)
    }

    fn choice(
        &self,
        name: &str,
        values: &[ParamValue],
        groups: [&[(&Observation<'_>, f64)]; 2],
        rng: &mut Xoshiro256PlusPlus,
    ) -> ParamValue {
        let k = values.len();
        let [below, above] = groups.map(|group| {
            let mut p = vec![self.config.prior_weight / k as f64; k];
            for (o, w) in group {
                if let Some(i) = o
                    .params
                    .get(name)
                    .and_then(|v| values.iter().position(|c| c == v))
                {
                    p[i] += w;
                }
            }
            let total: f64 = p.iter().sum();
            p.iter().map(|x| x / total).collect::<Vec<f64>>()
        });
        let mut best = (0usize, f64::NEG_INFINITY);
        for _ in 0..self.config.candidates.max(1) {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut c = k - 1;
            for (i, p) in below.iter().enumerate() {
                acc += p;
                if u < acc {
                    c = i;
                    break;
                }
            }
            let score = below[c].ln() - above[c].ln();
            if score > best.1 {
                best = (c, score);
            }
        }
        values[best.0].clone()
    }
}

impl Strategy for Tpe {
    fn propose(&self, trial: u32, completed: &[Observation<'_>]) -> Option<Hyperparameters> {
        let mut rng = rng(self.seed, trial);
        let finite: Vec<&Observation<'_>> = completed
            .iter()
            .filter(|o| o.objective.is_finite())
            .collect();
        if finite.len() < self.config.startup_trials.max(1) {
            return Some(sample_space(&self.space, &mut rng));
        }
        // Split by objective; keep each group in trial order so older trials weigh less.
        let n = finite.len();
        let n_below = ((0.1 * n as f64).ceil() as usize).clamp(1, 25);
        let mut ranked: Vec<usize> = (0..n).collect();
        ranked.sort_by(|a, b| finite[*a].objective.total_cmp(&finite[*b].objective));
        let mut is_below = vec![false; n];
        ranked[..n_below].iter().for_each(|i| is_below[*i] = true);
        let group = |below: bool| -> Vec<&Observation<'_>> {
            (0..n)
                .filter(|i| is_below[*i] == below)
                .map(|i| finite[i])
                .collect()
        };
        let (below, above) = (group(true), group(false));
        let below: Vec<(&Observation<'_>, f64)> = below
            .iter()
            .copied()
            .zip(age_weights(below.len()))
            .collect();
        let above: Vec<(&Observation<'_>, f64)> = above
            .iter()
            .copied()
            .zip(age_weights(above.len()))
            .collect();
        Some(
            self.space
                .0
                .iter()
                .map(|(name, spec)| {
                    let groups = [below.as_slice(), above.as_slice()];
                    let value = match spec {
                        ParamSpec::Choice { values } => self.choice(name, values, groups, &mut rng),
                        _ => self.numeric(name, spec, groups, &mut rng),
                    };
                    (name.clone(), value)
                })
                .collect(),
        )
    }
}
