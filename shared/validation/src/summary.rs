//! A column's summary, built batch by batch and mergeable across shards: what profiles and drift
//! need, in memory that does not grow with the rows past a limit.
//!
//! Up to [`EXACT_LIMIT`] values a numeric column keeps every finite value (so quantiles, drift
//! and distinct counts are exact, and agree with numpy and scipy); past it, the values go into
//! a KLL quantile sketch (rank error [`quantile_rank_error`]), a HyperLogLog sketch for the
//! distinct count and a frequent-items sketch for the top values, all from Apache DataSketches.
//! Categorical columns count every category exactly up to [`CATEGORY_LIMIT`] distinct values
//! (chi-square and the other categorical statistics stay exact), then switch to the same
//! distinct-count and frequent-items sketches. Count, nulls, min, max, mean and variance are
//! exact at any size (the variance merged as Chan, Golub and LeVeque do).

use std::collections::HashMap;

use datasketches::common::SearchCriteria;
use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::kll::{KllFloat, KllSketch};
use serde::{Deserialize, Serialize};
use tollgate_domain::ColumnType;

use crate::profile::Values;
use crate::stats::Sum;

/// Finite values a numeric column keeps exactly (8 bytes each) before it sketches them.
pub const EXACT_LIMIT: u64 = 1_000_000;
/// Distinct categories a column counts exactly before it sketches them.
pub const CATEGORY_LIMIT: usize = 100_000;
/// KLL's k: about 0.2% rank error per sketch at 99% confidence, so that the KS and Wasserstein
/// statistics, which compare two sketches, stay within 0.5%.
pub const KLL_K: u16 = 1200;
/// HyperLogLog's log2 of the register count: about 0.8% relative standard error, 16 KB.
pub const HLL_LG_K: u8 = 14;
/// The frequent-items sketch's map size: counts within 3.5/1024 (0.34%) of the rows.
pub const TOP_MAP_SIZE: usize = 1024;

/// The rank error of a KLL sketch at [`KLL_K`]: a quantile's rank is within this share of the
/// values of the true one, with 99% confidence (DataSketches' empirical bound).
pub fn quantile_rank_error() -> f64 {
    2.296 / f64::from(KLL_K).powf(0.9723)
}

/// HyperLogLog's relative standard error at [`HLL_LG_K`].
pub fn distinct_relative_error() -> f64 {
    1.04 / f64::from(1u32 << HLL_LG_K).sqrt()
}

/// Count, min, max, mean and the sum of squared deviations of the finite values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Self {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// The moments of a slice of finite values, by two compensated passes.
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let n = values.len() as f64;
        let mut sum = Sum::default();
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in values {
            sum.add(x);
            min = min.min(x);
            max = max.max(x);
        }
        let mean = sum.value() / n;
        let mut sq = Sum::default();
        values.iter().for_each(|&x| sq.add((x - mean) * (x - mean)));
        Self {
            n: values.len() as u64,
            mean,
            m2: sq.value(),
            min,
            max,
        }
    }

    /// Chan et al.'s pairwise update: the moments of both sets of values together.
    pub fn merge(&mut self, other: &Self) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The sample standard deviation (n - 1), as pandas gives it.
    pub fn std(&self) -> Option<f64> {
        (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).sqrt())
    }
}

/// A numeric column's finite values: all of them, or sketches of them.
#[derive(Debug, Clone)]
pub enum Numbers {
    /// Unsorted until [`ColumnSummary::finish`] sorts them.
    Exact(Vec<f64>),
    Sketched(Box<NumberSketches>),
}

#[derive(Debug, Clone)]
pub struct NumberSketches {
    pub quantiles: KllSketch<KllFloat<f64>>,
    pub distinct: HllUnion,
    /// Keyed by the value's bits.
    pub top: FrequentItemsSketch<u64>,
}

/// A categorical column's values: every category's count, or sketches of them.
#[derive(Debug, Clone)]
pub enum Categories {
    Exact(HashMap<String, u64>),
    Sketched(Box<CategorySketches>),
}

#[derive(Debug, Clone)]
pub struct CategorySketches {
    pub distinct: HllUnion,
    pub top: FrequentItemsSketch<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "ShapeWire", into = "ShapeWire")]
pub enum Shape {
    Numeric(Numbers),
    Categorical(Categories),
}

/// A shape as a shard writes it: the sketches in DataSketches' own binary images, which any
/// DataSketches implementation reads.
#[derive(Serialize, Deserialize)]
enum ShapeWire {
    NumbersExact(Vec<f64>),
    NumbersSketched {
        quantiles: Vec<u8>,
        distinct: Vec<u8>,
        top: Vec<u8>,
    },
    CategoriesExact(HashMap<String, u64>),
    CategoriesSketched {
        distinct: Vec<u8>,
        top: Vec<u8>,
    },
}

impl From<Shape> for ShapeWire {
    fn from(shape: Shape) -> Self {
        match shape {
            Shape::Numeric(Numbers::Exact(v)) => Self::NumbersExact(v),
            Shape::Numeric(Numbers::Sketched(s)) => Self::NumbersSketched {
                quantiles: s.quantiles.serialize(),
                distinct: s.distinct.to_sketch(HllType::Hll8).serialize(),
                top: s.top.serialize(),
            },
            Shape::Categorical(Categories::Exact(m)) => Self::CategoriesExact(m),
            Shape::Categorical(Categories::Sketched(s)) => Self::CategoriesSketched {
                distinct: s.distinct.to_sketch(HllType::Hll8).serialize(),
                top: s.top.serialize(),
            },
        }
    }
}

fn hll_union(image: &[u8]) -> Result<HllUnion, String> {
    let sketch =
        HllSketch::deserialize(image).map_err(|e| format!("distinct-count sketch: {e}"))?;
    let mut union = HllUnion::new(HLL_LG_K).expect("lg_k is in range");
    union.update(&sketch);
    Ok(union)
}

impl TryFrom<ShapeWire> for Shape {
    type Error = String;

    fn try_from(wire: ShapeWire) -> Result<Self, String> {
        Ok(match wire {
            ShapeWire::NumbersExact(v) => Self::Numeric(Numbers::Exact(v)),
            ShapeWire::NumbersSketched {
                quantiles,
                distinct,
                top,
            } => Self::Numeric(Numbers::Sketched(Box::new(NumberSketches {
                quantiles: KllSketch::deserialize(&quantiles)
                    .map_err(|e| format!("quantile sketch: {e}"))?,
                distinct: hll_union(&distinct)?,
                top: FrequentItemsSketch::deserialize(&top)
                    .map_err(|e| format!("top-values sketch: {e}"))?,
            }))),
            ShapeWire::CategoriesExact(m) => Self::Categorical(Categories::Exact(m)),
            ShapeWire::CategoriesSketched { distinct, top } => {
                Self::Categorical(Categories::Sketched(Box::new(CategorySketches {
                    distinct: hll_union(&distinct)?,
                    top: FrequentItemsSketch::deserialize(&top)
                        .map_err(|e| format!("top-values sketch: {e}"))?,
                })))
            }
        })
    }
}

/// One column's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub name: String,
    pub dtype: ColumnType,
    pub rows: u64,
    pub nulls: u64,
    /// Non-null values that are NaN or infinite (numeric columns).
    pub non_finite: u64,
    /// Over the finite values (numeric columns).
    pub moments: Moments,
    pub shape: Shape,
}

/// `-0.0` and `0.0` are one value; so are all NaNs (never fed here).
fn value_key(x: f64) -> u64 {
    (x + 0.0).to_bits()
}

fn kll_value(x: f64) -> KllFloat<f64> {
    KllFloat::<f64>::new(x).expect("only finite values are sketched")
}

impl NumberSketches {
    fn new() -> Self {
        Self {
            quantiles: KllSketch::new(KLL_K).expect("k is in range"),
            distinct: HllUnion::new(HLL_LG_K).expect("lg_k is in range"),
            top: FrequentItemsSketch::new(TOP_MAP_SIZE).expect("a power of two"),
        }
    }

    /// Adds values; runs of equal values (sorted input) hash once.
    fn add(&mut self, values: &[f64]) {
        let mut runs = HllSketch::new(HLL_LG_K, HllType::Hll8).expect("lg_k is in range");
        let mut i = 0;
        while i < values.len() {
            let x = values[i];
            let mut j = i + 1;
            while j < values.len() && values[j] == x {
                j += 1;
            }
            for _ in i..j {
                self.quantiles.update(kll_value(x));
            }
            runs.update(value_key(x));
            self.top.update_with_count(value_key(x), (j - i) as u64);
            i = j;
        }
        self.distinct.update(&runs);
    }

    fn merge(&mut self, other: &Self) {
        self.quantiles
            .merge(&other.quantiles)
            .expect("sketches of one k merge");
        self.distinct
            .update(&other.distinct.to_sketch(HllType::Hll8));
        self.top.merge(&other.top);
    }
}

impl CategorySketches {
    fn new() -> Self {
        Self {
            distinct: HllUnion::new(HLL_LG_K).expect("lg_k is in range"),
            top: FrequentItemsSketch::new(TOP_MAP_SIZE).expect("a power of two"),
        }
    }

    fn add<'a>(&mut self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut batch = HllSketch::new(HLL_LG_K, HllType::Hll8).expect("lg_k is in range");
        for (value, count) in counts {
            batch.update(value);
            self.top.update_with_count_ref(value, count);
        }
        self.distinct.update(&batch);
    }

    fn merge(&mut self, other: &Self) {
        self.distinct
            .update(&other.distinct.to_sketch(HllType::Hll8));
        self.top.merge(&other.top);
    }
}

impl ColumnSummary {
    pub fn new(name: impl Into<String>, dtype: ColumnType) -> Self {
        let shape = if dtype.is_numeric() {
            Shape::Numeric(Numbers::Exact(Vec::new()))
        } else {
            Shape::Categorical(Categories::Exact(HashMap::new()))
        };
        Self {
            name: name.into(),
            dtype,
            rows: 0,
            nulls: 0,
            non_finite: 0,
            moments: Moments::default(),
            shape,
        }
    }

    /// The summary of one typed column (a whole upload, or one batch of it).
    pub fn of(col: &crate::TypedColumn) -> Self {
        let mut s = Self::new(col.name.clone(), col.dtype);
        s.add(col.series.len() as u64, col.nulls(), &Values::of(col));
        s.finish();
        s
    }

    /// Adds one batch of the column: its row count, its nulls and its values.
    pub fn add(&mut self, rows: u64, nulls: u64, values: &Values) {
        self.rows += rows;
        self.nulls += nulls;
        match (&mut self.shape, values) {
            (Shape::Numeric(numbers), Values::Numeric(v)) => {
                self.non_finite += rows - nulls - v.len() as u64;
                self.moments.merge(&Moments::of(v));
                match numbers {
                    Numbers::Exact(all) if all.len() + v.len() <= EXACT_LIMIT as usize => {
                        all.extend_from_slice(v);
                    }
                    Numbers::Exact(all) => {
                        let mut sketches = NumberSketches::new();
                        all.sort_unstable_by(f64::total_cmp);
                        sketches.add(all);
                        sketches.add(v);
                        *numbers = Numbers::Sketched(Box::new(sketches));
                    }
                    Numbers::Sketched(sketches) => sketches.add(v),
                }
            }
            (Shape::Categorical(categories), Values::Categorical(counts)) => match categories {
                Categories::Exact(all) => {
                    for (k, c) in counts {
                        *all.entry(k.clone()).or_insert(0) += c;
                    }
                    if all.len() > CATEGORY_LIMIT {
                        let mut sketches = CategorySketches::new();
                        sketches.add(all.iter().map(|(k, c)| (k.as_str(), *c)));
                        *categories = Categories::Sketched(Box::new(sketches));
                    }
                }
                Categories::Sketched(sketches) => {
                    sketches.add(counts.iter().map(|(k, c)| (k.as_str(), *c)));
                }
            },
            // A batch typed otherwise than the column (never, once typing fixed the column).
            _ => {}
        }
    }

    /// The summary of both sets of rows (two shards of one dataset).
    pub fn merge(&mut self, other: &Self) {
        self.rows += other.rows;
        self.nulls += other.nulls;
        self.non_finite += other.non_finite;
        self.moments.merge(&other.moments);
        match (&mut self.shape, &other.shape) {
            (Shape::Numeric(mine), Shape::Numeric(theirs)) => match (&mut *mine, theirs) {
                (Numbers::Exact(a), Numbers::Exact(b))
                    if a.len() + b.len() <= EXACT_LIMIT as usize =>
                {
                    a.extend_from_slice(b);
                }
                (_, _) => {
                    let mut merged = match std::mem::replace(mine, Numbers::Exact(Vec::new())) {
                        Numbers::Sketched(s) => *s,
                        Numbers::Exact(mut a) => {
                            let mut s = NumberSketches::new();
                            a.sort_unstable_by(f64::total_cmp);
                            s.add(&a);
                            s
                        }
                    };
                    match theirs {
                        Numbers::Sketched(s) => merged.merge(s),
                        Numbers::Exact(b) => {
                            let mut b = b.clone();
                            b.sort_unstable_by(f64::total_cmp);
                            merged.add(&b);
                        }
                    }
                    *mine = Numbers::Sketched(Box::new(merged));
                }
            },
            (Shape::Categorical(mine), Shape::Categorical(theirs)) => match (&mut *mine, theirs) {
                (Categories::Exact(a), Categories::Exact(b)) => {
                    for (k, c) in b {
                        *a.entry(k.clone()).or_insert(0) += c;
                    }
                    if a.len() > CATEGORY_LIMIT {
                        let mut s = CategorySketches::new();
                        s.add(a.iter().map(|(k, c)| (k.as_str(), *c)));
                        *mine = Categories::Sketched(Box::new(s));
                    }
                }
                (Categories::Sketched(a), Categories::Sketched(b)) => a.merge(b),
                (Categories::Sketched(a), Categories::Exact(b)) => {
                    a.add(b.iter().map(|(k, c)| (k.as_str(), *c)));
                }
                (Categories::Exact(a), Categories::Sketched(b)) => {
                    let mut s = (**b).clone();
                    s.add(a.iter().map(|(k, c)| (k.as_str(), *c)));
                    *mine = Categories::Sketched(Box::new(s));
                }
            },
            _ => {}
        }
    }

    /// Sorts the exact values: call once all batches are in.
    pub fn finish(&mut self) {
        if let Shape::Numeric(Numbers::Exact(v)) = &mut self.shape {
            v.sort_unstable_by(f64::total_cmp);
        }
    }

    /// Whether every figure of this summary is exact.
    pub fn is_exact(&self) -> bool {
        matches!(
            self.shape,
            Shape::Numeric(Numbers::Exact(_)) | Shape::Categorical(Categories::Exact(_))
        )
    }

    /// The finite values (numeric) or non-null values (categorical) summarised.
    pub fn count(&self) -> u64 {
        match &self.shape {
            Shape::Numeric(_) => self.moments.n,
            Shape::Categorical(_) => self.rows - self.nulls,
        }
    }

    /// The distinct values: exact, or HyperLogLog's estimate. After [`Self::finish`].
    pub fn distinct(&self) -> u64 {
        match &self.shape {
            Shape::Numeric(Numbers::Exact(v)) => {
                debug_assert!(v.is_sorted_by(|a, b| a <= b), "finish() sorts the values");
                (v.len() - v.windows(2).filter(|w| w[0] == w[1]).count()) as u64
            }
            Shape::Numeric(Numbers::Sketched(s)) => s.distinct.estimate().round() as u64,
            Shape::Categorical(Categories::Exact(m)) => m.len() as u64,
            Shape::Categorical(Categories::Sketched(s)) => s.distinct.estimate().round() as u64,
        }
    }

    /// The numeric distribution, exact or sketched; `None` for categorical or empty columns.
    pub fn distribution(&self) -> Option<Distribution<'_>> {
        match &self.shape {
            Shape::Numeric(Numbers::Exact(v)) if !v.is_empty() => Some(Distribution::Exact(v)),
            Shape::Numeric(Numbers::Sketched(s)) if !s.quantiles.is_empty() => {
                Some(Distribution::Sketched {
                    view: s.quantiles.sorted_view(),
                    min: self.moments.min,
                    max: self.moments.max,
                })
            }
            _ => None,
        }
    }

    /// The most frequent values, most frequent first, with the most their counts may be off by
    /// (0 when exact). After [`Self::finish`].
    pub fn top_numbers(&self, n: usize) -> (Vec<(f64, u64)>, u64) {
        match &self.shape {
            Shape::Numeric(Numbers::Exact(v)) => {
                let mut runs: Vec<(f64, u64)> = Vec::new();
                for &x in v {
                    match runs.last_mut() {
                        Some((last, c)) if *last == x => *c += 1,
                        _ => runs.push((x, 1)),
                    }
                }
                (crate::profile::most_frequent(runs, n, f64::total_cmp), 0)
            }
            Shape::Numeric(Numbers::Sketched(s)) => {
                let rows = s.top.frequent_items(ErrorType::NoFalsePositives);
                let counted = rows
                    .iter()
                    .map(|r| (f64::from_bits(*r.item()), r.estimate()))
                    .collect();
                (
                    crate::profile::most_frequent(counted, n, f64::total_cmp),
                    s.top.maximum_error(),
                )
            }
            Shape::Categorical(_) => (Vec::new(), 0),
        }
    }

    /// The most frequent categories, and the most their counts may be off by.
    pub fn top_categories(&self, n: usize) -> (Vec<(String, u64)>, u64) {
        match &self.shape {
            Shape::Categorical(Categories::Exact(m)) => {
                let all = m.iter().map(|(k, c)| (k.clone(), *c)).collect();
                (crate::profile::most_frequent(all, n, |a, b| a.cmp(b)), 0)
            }
            Shape::Categorical(Categories::Sketched(s)) => {
                let all = s
                    .top
                    .frequent_items(ErrorType::NoFalsePositives)
                    .iter()
                    .map(|r| (r.item().clone(), r.estimate()))
                    .collect();
                (
                    crate::profile::most_frequent(all, n, |a, b| a.cmp(b)),
                    s.top.maximum_error(),
                )
            }
            Shape::Numeric(_) => (Vec::new(), 0),
        }
    }
}

/// A numeric column's distribution: every value sorted, or a quantile sketch's view.
#[derive(Debug)]
pub enum Distribution<'a> {
    Exact(&'a [f64]),
    Sketched {
        view: datasketches::kll::SortedView<KllFloat<f64>>,
        min: f64,
        max: f64,
    },
}

impl Distribution<'_> {
    /// The bound on [`Self::rank`]'s error, as a share of the values.
    pub fn rank_error(&self) -> f64 {
        match self {
            Self::Exact(_) => 0.0,
            Self::Sketched { .. } => quantile_rank_error(),
        }
    }

    pub fn min(&self) -> f64 {
        match self {
            Self::Exact(v) => v[0],
            Self::Sketched { min, .. } => *min,
        }
    }

    pub fn max(&self) -> f64 {
        match self {
            Self::Exact(v) => v[v.len() - 1],
            Self::Sketched { max, .. } => *max,
        }
    }

    /// The share of values at most `x`.
    pub fn rank(&self, x: f64) -> f64 {
        match self {
            Self::Exact(v) => v.partition_point(|&y| y <= x) as f64 / v.len() as f64,
            Self::Sketched { view, min, max } => {
                if x < *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else {
                    view.rank(&kll_value(x), SearchCriteria::Inclusive)
                        .unwrap_or(0.0)
                }
            }
        }
    }

    /// The share of values below `x`.
    pub fn rank_below(&self, x: f64) -> f64 {
        match self {
            Self::Exact(v) => v.partition_point(|&y| y < x) as f64 / v.len() as f64,
            Self::Sketched { view, min, max } => {
                if x <= *min {
                    0.0
                } else if x > *max {
                    1.0
                } else {
                    view.rank(&kll_value(x), SearchCriteria::Exclusive)
                        .unwrap_or(0.0)
                }
            }
        }
    }

    /// The `q` quantile: numpy's linear interpolation when exact, the sketch's item otherwise.
    pub fn quantile(&self, q: f64) -> f64 {
        match self {
            Self::Exact(v) => crate::stats::quantile_sorted(v, q),
            Self::Sketched { view, min, max } => {
                if q <= 0.0 {
                    return *min;
                }
                if q >= 1.0 {
                    return *max;
                }
                view.quantile(q, SearchCriteria::Inclusive)
                    .ok()
                    .flatten()
                    .map_or(f64::NAN, KllFloat::into_inner)
            }
        }
    }

    /// Points at which both CDFs are compared: every `1/GRID` of each side's quantiles.
    fn grid_points(&self, other: &Self) -> Vec<f64> {
        let mut points: Vec<f64> = (0..=GRID)
            .flat_map(|i| {
                let q = i as f64 / GRID as f64;
                [self.quantile(q), other.quantile(q)]
            })
            .filter(|x| x.is_finite())
            .collect();
        points.sort_unstable_by(f64::total_cmp);
        points.dedup();
        points
    }
}

/// The quantile grid two sketched distributions are compared on: between two points each CDF
/// moves by at most `1/GRID`, which is the most the grid itself adds to the error.
const GRID: usize = 4000;

/// A statistic and the most it can be off by (0 when both sides are exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub bound: f64,
}

/// The two-sample KS statistic from two distributions, with its error bound. Exact sides give
/// scipy's value.
pub fn ks_statistic(a: &Distribution, b: &Distribution) -> Estimate {
    if let (Distribution::Exact(x), Distribution::Exact(y)) = (a, b) {
        return Estimate {
            value: crate::stats::ks_2samp(x, y).statistic,
            bound: 0.0,
        };
    }
    let value = a
        .grid_points(b)
        .iter()
        .map(|&x| (a.rank(x) - b.rank(x)).abs())
        .fold(0.0, f64::max);
    Estimate {
        value,
        bound: a.rank_error() + b.rank_error() + 1.0 / GRID as f64,
    }
}

/// The 1-Wasserstein distance (the area between the CDFs), with its error bound: the CDFs'
/// error times the range the values span.
pub fn wasserstein(a: &Distribution, b: &Distribution) -> Estimate {
    if let (Distribution::Exact(x), Distribution::Exact(y)) = (a, b) {
        return Estimate {
            value: crate::stats::wasserstein(x, y),
            bound: 0.0,
        };
    }
    let points = a.grid_points(b);
    let mut total = Sum::default();
    for w in points.windows(2) {
        total.add((a.rank(w[0]) - b.rank(w[0])).abs() * (w[1] - w[0]));
    }
    let span = a.max().max(b.max()) - a.min().min(b.min());
    Estimate {
        value: total.value(),
        bound: (a.rank_error() + b.rank_error() + 2.0 / GRID as f64) * span,
    }
}

/// PSI over the baseline's deciles (as [`crate::stats::psi`] defines it), with a bound on the
/// error of each bin's share (the statistic itself has no closed-form bound).
pub fn psi(baseline: &Distribution, current: &Distribution) -> Estimate {
    if let (Distribution::Exact(x), Distribution::Exact(y)) = (baseline, current) {
        return Estimate {
            value: crate::stats::psi(x, y),
            bound: 0.0,
        };
    }
    let mut edges: Vec<f64> = (1..10)
        .map(|k| baseline.quantile(k as f64 / 10.0))
        .collect();
    edges.dedup();
    let shares = |d: &Distribution| -> Vec<f64> {
        let mut previous = 0.0;
        edges
            .iter()
            .map(|&e| d.rank(e))
            .chain(std::iter::once(1.0))
            .map(|r| {
                let share = (r - previous).max(0.0);
                previous = r;
                share.max(1e-4)
            })
            .collect()
    };
    let (base, cur) = (shares(baseline), shares(current));
    let mut total = Sum::default();
    for (b, c) in base.iter().zip(&cur) {
        total.add((c - b) * (c / b).ln());
    }
    Estimate {
        value: total.value(),
        bound: 2.0 * (baseline.rank_error() + current.rank_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded stream of normals (splitmix64, Box-Muller), to need no dependency.
    fn normals(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next().max(1e-300), next());
                mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
            })
            .collect()
    }

    fn summarise(values: &[f64], batch: usize) -> ColumnSummary {
        let mut s = ColumnSummary::new("x", ColumnType::Float);
        for chunk in values.chunks(batch) {
            let mut sorted = chunk.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            s.add(chunk.len() as u64, 0, &Values::Numeric(sorted));
        }
        s.finish();
        s
    }

    const N: usize = 1_500_000;

    #[test]
    fn sketched_quantiles_ks_and_wasserstein_hold_their_stated_bounds() {
        let a = normals(1, N, 0.0, 1.0);
        let b = normals(2, N, 0.1, 1.2);
        let (sa, sb) = (summarise(&a, 100_000), summarise(&b, 100_000));
        assert!(!sa.is_exact() && !sb.is_exact(), "past the limit: sketched");
        let (da, db) = (sa.distribution().unwrap(), sb.distribution().unwrap());
        let (mut xa, mut xb) = (a.clone(), b.clone());
        xa.sort_unstable_by(f64::total_cmp);
        xb.sort_unstable_by(f64::total_cmp);
        let (ea, eb) = (Distribution::Exact(&xa), Distribution::Exact(&xb));

        for q in [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] {
            let rank = ea.rank(da.quantile(q));
            assert!(
                (rank - q).abs() <= quantile_rank_error(),
                "quantile {q}: true rank {rank}"
            );
        }
        let ks = ks_statistic(&da, &db);
        let exact = crate::stats::ks_2samp(&xa, &xb).statistic;
        assert!(ks.bound <= 0.005, "the stated KS bound is within 0.5%");
        assert!((ks.value - exact).abs() <= ks.bound, "{ks:?} vs {exact}");
        let w = wasserstein(&da, &db);
        let exact_w = crate::stats::wasserstein(&xa, &xb);
        assert!((w.value - exact_w).abs() <= w.bound, "{w:?} vs {exact_w}");
        let psi = psi(&da, &db);
        let exact_psi = crate::stats::psi(&xa, &xb);
        assert!(
            (psi.value - exact_psi).abs() < 0.01,
            "{psi:?} vs {exact_psi}"
        );
        // Exact on both sides is scipy's value with no bound.
        assert_eq!(ks_statistic(&ea, &eb).value, exact);
        assert_eq!(ks_statistic(&ea, &eb).bound, 0.0);
    }

    #[test]
    fn moments_are_exact_at_any_size_and_distinct_counts_within_their_error() {
        let a = normals(3, N, 5.0, 2.0);
        let s = summarise(&a, 70_000);
        let whole = Moments::of(&a);
        assert!((s.moments.mean - whole.mean).abs() < 1e-9);
        assert!((s.moments.std().unwrap() - whole.std().unwrap()).abs() < 1e-9);
        assert_eq!((s.moments.min, s.moments.max), (whole.min, whole.max));
        let distinct = s.distinct() as f64;
        assert!(
            (distinct - N as f64).abs() / N as f64 <= 3.0 * distinct_relative_error(),
            "{distinct}"
        );
    }

    /// A summary as another process reads it: written and read back in the shards' format.
    fn shipped(s: ColumnSummary) -> ColumnSummary {
        rmp_serde::from_slice(&rmp_serde::to_vec_named(&s).unwrap()).unwrap()
    }

    #[test]
    fn shards_merged_equal_the_whole_within_the_bounds() {
        let a = normals(4, N, 0.0, 1.0);
        let whole = summarise(&a, 100_000);
        // The first shard is past the exact limit (sketched), the others below it.
        let mut merged = shipped(summarise(&a[..3 * N / 4], 100_000));
        assert!(!merged.is_exact());
        merged.merge(&shipped(summarise(&a[3 * N / 4..7 * N / 8], 100_000)));
        merged.merge(&shipped(summarise(&a[7 * N / 8..], 100_000)));
        assert_eq!(merged.rows, whole.rows);
        assert_eq!(merged.moments.n, whole.moments.n);
        assert!((merged.moments.mean - whole.moments.mean).abs() < 1e-9);
        assert!((merged.moments.m2 - whole.moments.m2).abs() / whole.moments.m2 < 1e-9);
        let (dm, dw) = (
            merged.distribution().unwrap(),
            whole.distribution().unwrap(),
        );
        let ks = ks_statistic(&dm, &dw);
        assert!(ks.value <= ks.bound, "{ks:?}");
        let (dm_distinct, dw_distinct) = (merged.distinct() as f64, whole.distinct() as f64);
        assert!((dm_distinct - dw_distinct).abs() / dw_distinct < 3.0 * distinct_relative_error());
        // Against the exact values too: every quantile's rank within the stated error.
        let mut sorted = a.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let exact = Distribution::Exact(&sorted);
        for q in [0.01, 0.1, 0.5, 0.9, 0.99] {
            let rank = exact.rank(dm.quantile(q));
            assert!((rank - q).abs() <= quantile_rank_error(), "q {q}: {rank}");
        }
        let (top, error) = merged.top_numbers(3);
        assert!(
            top.iter().all(|(_, c)| *c <= 1 + error),
            "{top:?} ± {error}"
        );
    }

    #[test]
    fn small_shards_merge_exactly_and_many_categories_switch_to_sketches() {
        let mut a = summarise(&[3.0, 1.0, 2.0], 10);
        a.merge(&summarise(&[2.0, 5.0], 10));
        a.finish();
        assert!(a.is_exact());
        assert_eq!(a.distinct(), 4);
        assert_eq!(a.top_numbers(1).0, vec![(2.0, 2)]);

        let shipped_exact = shipped(a.clone());
        assert_eq!(shipped_exact.distinct(), 4);

        let mut c = ColumnSummary::new("k", ColumnType::String);
        let heavy = (0..CATEGORY_LIMIT + 10)
            .map(|i| (format!("v{i}"), 1))
            .chain([("common".to_owned(), 5_000)]);
        c.add(
            (CATEGORY_LIMIT + 5010) as u64,
            0,
            &Values::Categorical(heavy.collect()),
        );
        assert!(!c.is_exact());
        let (top, error) = c.top_categories(1);
        assert_eq!(top[0].0, "common");
        assert!(top[0].1.abs_diff(5_000) <= error, "{top:?} ± {error}");
        let c = shipped(c);
        let d = c.distinct() as f64;
        let truth = (CATEGORY_LIMIT + 11) as f64;
        assert!((d - truth).abs() / truth < 3.0 * distinct_relative_error());
    }
}
