//! Column profiles and drift, from the values of each column extracted once.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rayon::prelude::*;
use tollgate_domain::report::{
    ColumnDrift, ColumnProfile, DriftReport, Estimated, Histogram, ValueCount,
};
use tollgate_domain::{ColumnType, DriftThresholds};

use crate::columns::TypedColumn;
use crate::stats;
use crate::summary::{self, Categories, ColumnSummary, Distribution, Moments, Shape};

const QUANTILES: [(&str, f64); 7] = [
    ("p01", 0.01),
    ("p05", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
];
const HISTOGRAM_BINS: usize = 20;
const TOP_VALUES: usize = 10;
/// Profiles cut long text values to this many characters.
const VALUE_CHARS: usize = 200;

/// A column's values, as drift and profiles need them.
#[derive(Debug, Clone)]
pub enum Values {
    /// Finite, non-null values, sorted.
    Numeric(Vec<f64>),
    /// Non-null values and how often each occurs.
    Categorical(HashMap<String, u64>),
}

impl Values {
    pub fn of(col: &TypedColumn) -> Self {
        if col.dtype.is_numeric()
            && let Ok(f) = col.series.cast(&DataType::Float64)
            && let Ok(f) = f.f64()
        {
            return Self::Numeric(sorted_finite(f));
        }
        // Count with keys borrowed from the column and a fast hasher; own the few distinct keys
        // at the end.
        let mut counts: foldhash::HashMap<&str, u64> = foldhash::HashMap::default();
        let text = col.series.cast(&DataType::String).ok();
        if let Some(s) = text.as_ref().and_then(|t| t.str().ok()) {
            for v in s.iter().flatten() {
                *counts.entry(v).or_insert(0) += 1;
            }
        }
        Self::Categorical(counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// The finite values of a column, sorted. Floats are sorted as integers whose order is theirs
/// (flip the sign bit of positives, every bit of negatives): the same order as `total_cmp`,
/// without a float comparison per step.
fn sorted_finite(f: &Float64Chunked) -> Vec<f64> {
    let key = |x: f64| {
        let bits = x.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        }
    };
    let unkey = |k: u64| f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k });
    let mut keys: Vec<u64> = f
        .iter()
        .flatten()
        .filter(|x| x.is_finite())
        .map(key)
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(unkey).collect()
}

fn clip(value: &str) -> String {
    if value.chars().count() <= VALUE_CHARS {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(VALUE_CHARS).collect::<String>())
    }
}

fn format_number(x: f64, dtype: ColumnType) -> String {
    if dtype == ColumnType::Integer && x.fract() == 0.0 && x.abs() < 9.0e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

pub fn profile(summary: &ColumnSummary) -> ColumnProfile {
    let mut p = ColumnProfile {
        name: summary.name.clone(),
        dtype: summary.dtype,
        count: summary.rows - summary.nulls,
        nulls: summary.nulls,
        distinct: summary.distinct(),
        min: None,
        max: None,
        mean: None,
        std: None,
        quantiles: BTreeMap::new(),
        histogram: None,
        top_values: Vec::new(),
        estimated: None,
    };
    let top_error = match &summary.shape {
        Shape::Numeric(_) => {
            let Some(d) = summary.distribution() else {
                return p;
            };
            // Exact values give numpy's figures (two compensated passes over all of them);
            // sketched ones, the moments merged batch by batch.
            let moments = match &d {
                Distribution::Exact(v) => Moments::of(v),
                Distribution::Sketched { .. } => summary.moments,
            };
            p.min = Some(moments.min);
            p.max = Some(moments.max);
            p.mean = Some(moments.mean);
            p.std = moments.std();
            p.quantiles = QUANTILES
                .iter()
                .map(|(k, q)| ((*k).to_owned(), d.quantile(*q)))
                .collect();
            p.histogram = Some(histogram(&d, moments.n));
            let (top, error) = summary.top_numbers(TOP_VALUES);
            p.top_values = top
                .into_iter()
                .map(|(x, count)| ValueCount {
                    value: format_number(x, summary.dtype),
                    count,
                })
                .collect();
            error
        }
        Shape::Categorical(_) => {
            let (top, error) = summary.top_categories(TOP_VALUES);
            p.top_values = top
                .into_iter()
                .map(|(v, count)| ValueCount {
                    value: clip(&v),
                    count,
                })
                .collect();
            error
        }
    };
    if !summary.is_exact() {
        p.estimated = Some(Estimated {
            quantile_rank_error: matches!(summary.shape, Shape::Numeric(_))
                .then(summary::quantile_rank_error),
            distinct_relative_error: Some(summary::distinct_relative_error()),
            top_count_error: Some(top_error),
        });
    }
    p
}

/// The `n` most frequent values, most frequent first, ties by value: a partial selection,
/// since a column may have a million distinct values.
pub(crate) fn most_frequent<T>(
    mut counted: Vec<(T, u64)>,
    n: usize,
    by_value: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<(T, u64)> {
    let order = |a: &(T, u64), b: &(T, u64)| b.1.cmp(&a.1).then_with(|| by_value(&a.0, &b.0));
    if counted.len() > n {
        counted.select_nth_unstable_by(n, order);
        counted.truncate(n);
    }
    counted.sort_by(order);
    counted
}

/// Equal-width bins between min and max: counted exactly from sorted values, or from the
/// sketch's ranks at the edges.
fn histogram(d: &Distribution, n: u64) -> Histogram {
    let (lo, hi) = (d.min(), d.max());
    if lo == hi {
        return Histogram {
            edges: vec![lo, hi],
            counts: vec![n],
        };
    }
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| lo + width * i as f64)
        .collect();
    let counts = match d {
        Distribution::Exact(sorted) => {
            let mut counts = vec![0u64; HISTOGRAM_BINS];
            for &x in *sorted {
                let bin = (((x - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
                counts[bin] += 1;
            }
            counts
        }
        Distribution::Sketched { .. } => {
            // Bin i holds [edge i, edge i+1); the last also holds the max.
            let below = |x: f64| (d.rank_below(x) * n as f64).round() as u64;
            let mut bounds: Vec<u64> = edges[1..HISTOGRAM_BINS].iter().map(|&e| below(e)).collect();
            bounds.push(n);
            let mut previous = 0;
            bounds
                .into_iter()
                .map(|b| {
                    let c = b.saturating_sub(previous);
                    previous = previous.max(b);
                    c
                })
                .collect()
        }
    };
    Histogram { edges, counts }
}

/// Drift of one column: numeric (KS, PSI, Wasserstein) or categorical (chi-square,
/// Jensen-Shannon, L-infinity). `None` when either side has no values or the kinds differ.
/// Exact summaries on both sides give scipy's statistics; a sketched side gives estimates whose
/// error bounds go into the report.
pub fn column_drift(
    baseline: &ColumnSummary,
    current: &ColumnSummary,
    thresholds: &DriftThresholds,
) -> Option<ColumnDrift> {
    let mut error_bounds = BTreeMap::new();
    let (kind, statistics): (&str, BTreeMap<String, f64>) = match (&baseline.shape, &current.shape)
    {
        (Shape::Numeric(_), Shape::Numeric(_)) => {
            let (b, c) = (baseline.distribution()?, current.distribution()?);
            let (ks, ks_pvalue) = match (&b, &c) {
                (Distribution::Exact(x), Distribution::Exact(y)) => {
                    let t = stats::ks_2samp(x, y);
                    (t.statistic, t.pvalue)
                }
                _ => {
                    let d = summary::ks_statistic(&b, &c);
                    error_bounds.insert("ks".to_owned(), d.bound);
                    let (m, n) = (
                        baseline.moments.n.max(current.moments.n) as f64,
                        baseline.moments.n.min(current.moments.n) as f64,
                    );
                    let en = (m * n / (m + n)).round_ties_even() as u64;
                    (d.value, stats::kolmogorov_sf(en, d.value).clamp(0.0, 1.0))
                }
            };
            let psi = summary::psi(&b, &c);
            let wasserstein = summary::wasserstein(&b, &c);
            if psi.bound > 0.0 {
                error_bounds.insert("psi_bin_share".to_owned(), psi.bound);
                error_bounds.insert("wasserstein".to_owned(), wasserstein.bound);
            }
            (
                "numeric",
                BTreeMap::from([
                    ("ks".to_owned(), ks),
                    ("ks_pvalue".to_owned(), ks_pvalue),
                    ("psi".to_owned(), psi.value),
                    ("wasserstein".to_owned(), wasserstein.value),
                ]),
            )
        }
        (Shape::Categorical(_), Shape::Categorical(_)) => {
            let (b, b_error) = category_counts(baseline);
            let (c, c_error) = category_counts(current);
            if b.is_empty() || c.is_empty() {
                return None;
            }
            let mut categories: Vec<&String> = b.keys().chain(c.keys()).collect();
            categories.sort_unstable();
            categories.dedup();
            let bc: Vec<u64> = categories
                .iter()
                .map(|k| b.get(*k).copied().unwrap_or(0))
                .collect();
            let cc: Vec<u64> = categories
                .iter()
                .map(|k| c.get(*k).copied().unwrap_or(0))
                .collect();
            if b_error + c_error > 0 {
                // Counts from frequent-items sketches: each share is off by at most the
                // sketch's error over the rows (the rest are lumped as "(other)").
                let share_error = b_error as f64 / baseline.count().max(1) as f64
                    + c_error as f64 / current.count().max(1) as f64;
                error_bounds.insert("linf".to_owned(), share_error);
            }
            let chi = stats::chi2_contingency(&bc, &cc);
            (
                "categorical",
                BTreeMap::from([
                    ("chi2".to_owned(), chi.statistic),
                    ("chi2_pvalue".to_owned(), chi.pvalue),
                    ("jensen_shannon".to_owned(), stats::jensen_shannon(&bc, &cc)),
                    ("linf".to_owned(), stats::linf(&bc, &cc)),
                ]),
            )
        }
        _ => return None,
    };
    let exceeded = statistics
        .iter()
        .filter(|(name, value)| thresholds.for_statistic(name).is_some_and(|t| **value > t))
        .map(|(name, _)| name.clone())
        .collect();
    Some(ColumnDrift {
        kind: kind.to_owned(),
        statistics,
        exceeded,
        error_bounds,
    })
}

/// A categorical column's counts: every category when exact; otherwise the frequent items and
/// an "(other)" bucket for the rest, with the most a count may be off by.
fn category_counts(s: &ColumnSummary) -> (HashMap<String, u64>, u64) {
    match &s.shape {
        Shape::Categorical(Categories::Exact(m)) => (m.clone(), 0),
        Shape::Categorical(Categories::Sketched(_)) => {
            let (top, error) = s.top_categories(usize::MAX);
            let listed: u64 = top.iter().map(|(_, c)| c).sum();
            let mut counts: HashMap<String, u64> = top.into_iter().collect();
            let other = s.count().saturating_sub(listed);
            if other > 0 {
                *counts.entry(OTHER.to_owned()).or_insert(0) += other;
            }
            (counts, error)
        }
        Shape::Numeric(_) => (HashMap::new(), 0),
    }
}

/// The bucket holding the categories a sketch did not list.
const OTHER: &str = "(other)";

/// Drift of every column the two versions share, computed in parallel.
pub fn drift(
    baseline_version: u32,
    baseline: &[ColumnSummary],
    current: &[ColumnSummary],
    thresholds: &DriftThresholds,
) -> DriftReport {
    let columns = current
        .par_iter()
        .filter_map(|cur| {
            let base = baseline.iter().find(|b| b.name == cur.name)?;
            column_drift(base, cur, thresholds).map(|d| (cur.name.clone(), d))
        })
        .collect();
    DriftReport {
        baseline_version,
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, dtype: ColumnType, series: Series) -> TypedColumn {
        TypedColumn {
            name: name.into(),
            dtype,
            series,
        }
    }

    #[test]
    fn a_numeric_profile_has_numpy_quantiles_sample_std_and_the_most_frequent_values() {
        // 12 distinct values: 7 three times, 1..=11 once each; one null, one NaN.
        let mut v: Vec<Option<f64>> = (1..=11).map(|x| Some(f64::from(x))).collect();
        v.extend([Some(7.0), Some(7.0), None, Some(f64::NAN)]);
        let col = column("x", ColumnType::Float, Series::new("x".into(), v));
        let p = profile(&ColumnSummary::of(&col));
        assert_eq!((p.count, p.nulls, p.distinct), (14, 1, 11));
        assert_eq!((p.min, p.max), (Some(1.0), Some(11.0)));
        // numpy on [1..=11, 7, 7]: quantile 0.25 -> 4.0, 0.95 -> 10.4, std(ddof=1) -> 3.05085107923876
        assert_eq!(p.quantiles["p25"], 4.0);
        assert!((p.quantiles["p95"] - 10.4).abs() < 1e-12);
        assert!((p.std.unwrap() - 3.050_851_079_238_76).abs() < 1e-12);
        assert_eq!(p.top_values.len(), 10);
        assert_eq!(
            (p.top_values[0].value.as_str(), p.top_values[0].count),
            ("7", 3)
        );
        assert_eq!(p.top_values[1].value, "1", "ties go by value");
        let h = p.histogram.unwrap();
        assert_eq!(
            h.counts.iter().sum::<u64>(),
            13,
            "every finite value is in one bin"
        );
    }

    #[test]
    fn a_categorical_profile_counts_values() {
        let col = column(
            "k",
            ColumnType::String,
            Series::new("k".into(), ["b", "a", "b", "c", "b", "a"]),
        );
        let p = profile(&ColumnSummary::of(&col));
        let top: Vec<(&str, u64)> = p
            .top_values
            .iter()
            .map(|t| (t.value.as_str(), t.count))
            .collect();
        assert_eq!(top, [("b", 3), ("a", 2), ("c", 1)]);
        assert_eq!(p.distinct, 3);
    }
}
