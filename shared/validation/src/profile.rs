//! Column profiles and drift, from the values of each column extracted once.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rayon::prelude::*;
use tollgate_domain::report::{ColumnDrift, ColumnProfile, DriftReport, Histogram, ValueCount};
use tollgate_domain::{ColumnType, DriftThresholds};

use crate::columns::TypedColumn;
use crate::stats::{self, Sum};

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

pub fn profile(col: &TypedColumn, values: &Values) -> ColumnProfile {
    let rows = col.series.len() as u64;
    let nulls = col.nulls();
    let mut p = ColumnProfile {
        name: col.name.clone(),
        dtype: col.dtype,
        count: rows - nulls,
        nulls,
        distinct: 0,
        min: None,
        max: None,
        mean: None,
        std: None,
        quantiles: BTreeMap::new(),
        histogram: None,
        top_values: Vec::new(),
    };
    match values {
        Values::Numeric(v) if !v.is_empty() => {
            let n = v.len() as f64;
            let (lo, hi) = (v[0], v[v.len() - 1]);
            let mut sum = Sum::default();
            v.iter().for_each(|&x| sum.add(x));
            let mean = sum.value() / n;
            let mut sq = Sum::default();
            v.iter().for_each(|&x| sq.add((x - mean) * (x - mean)));
            p.min = Some(lo);
            p.max = Some(hi);
            p.mean = Some(mean);
            p.std = (v.len() > 1).then(|| (sq.value() / (n - 1.0)).sqrt());
            p.quantiles = QUANTILES
                .iter()
                .map(|(k, q)| ((*k).to_owned(), stats::quantile_sorted(v, *q)))
                .collect();
            p.histogram = Some(histogram(v, lo, hi));
            // Runs of equal values in the sorted sample give distinct counts and the top values.
            let mut runs: Vec<(f64, u64)> = Vec::new();
            for &x in v {
                match runs.last_mut() {
                    Some((last, c)) if *last == x => *c += 1,
                    _ => runs.push((x, 1)),
                }
            }
            p.distinct = runs.len() as u64;
            p.top_values = most_frequent(runs, |a, b| a.total_cmp(b))
                .into_iter()
                .map(|(x, count)| ValueCount {
                    value: format_number(x, col.dtype),
                    count,
                })
                .collect();
        }
        Values::Numeric(_) => {}
        Values::Categorical(counts) => {
            p.distinct = counts.len() as u64;
            let all: Vec<(&String, u64)> = counts.iter().map(|(v, c)| (v, *c)).collect();
            p.top_values = most_frequent(all, |a, b| a.cmp(b))
                .into_iter()
                .map(|(v, count)| ValueCount {
                    value: clip(v),
                    count,
                })
                .collect();
        }
    }
    p
}

/// The `TOP_VALUES` most frequent values, most frequent first, ties by value: a partial selection,
/// since a column may have a million distinct values.
fn most_frequent<T>(
    mut counted: Vec<(T, u64)>,
    by_value: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<(T, u64)> {
    let order = |a: &(T, u64), b: &(T, u64)| b.1.cmp(&a.1).then_with(|| by_value(&a.0, &b.0));
    if counted.len() > TOP_VALUES {
        counted.select_nth_unstable_by(TOP_VALUES, order);
        counted.truncate(TOP_VALUES);
    }
    counted.sort_by(order);
    counted
}

fn histogram(sorted: &[f64], lo: f64, hi: f64) -> Histogram {
    if lo == hi {
        return Histogram {
            edges: vec![lo, hi],
            counts: vec![sorted.len() as u64],
        };
    }
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let edges = (0..=HISTOGRAM_BINS)
        .map(|i| lo + width * i as f64)
        .collect();
    let mut counts = vec![0u64; HISTOGRAM_BINS];
    for &x in sorted {
        let bin = (((x - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
        counts[bin] += 1;
    }
    Histogram { edges, counts }
}

/// Drift of one column: numeric (KS, PSI, Wasserstein) or categorical (chi-square,
/// Jensen-Shannon, L-infinity). `None` when either side has no values or the kinds differ.
pub fn column_drift(
    baseline: &Values,
    current: &Values,
    thresholds: &DriftThresholds,
) -> Option<ColumnDrift> {
    let (kind, statistics): (&str, BTreeMap<String, f64>) = match (baseline, current) {
        (Values::Numeric(b), Values::Numeric(c)) if !b.is_empty() && !c.is_empty() => {
            let ks = stats::ks_2samp(b, c);
            (
                "numeric",
                BTreeMap::from([
                    ("ks".to_owned(), ks.statistic),
                    ("ks_pvalue".to_owned(), ks.pvalue),
                    ("psi".to_owned(), stats::psi(b, c)),
                    ("wasserstein".to_owned(), stats::wasserstein(b, c)),
                ]),
            )
        }
        (Values::Categorical(b), Values::Categorical(c)) if !b.is_empty() && !c.is_empty() => {
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
    })
}

/// Drift of every column the two versions share, computed in parallel.
pub fn drift(
    baseline_version: u32,
    baseline: &[(String, Values)],
    current: &[(String, Values)],
    thresholds: &DriftThresholds,
) -> DriftReport {
    let columns = current
        .par_iter()
        .filter_map(|(name, cur)| {
            let (_, base) = baseline.iter().find(|(n, _)| n == name)?;
            column_drift(base, cur, thresholds).map(|d| (name.clone(), d))
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
        let p = profile(&col, &Values::of(&col));
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
        let p = profile(&col, &Values::of(&col));
        let top: Vec<(&str, u64)> = p
            .top_values
            .iter()
            .map(|t| (t.value.as_str(), t.count))
            .collect();
        assert_eq!(top, [("b", 3), ("a", 2), ("c", 1)]);
        assert_eq!(p.distinct, 3);
    }
}
