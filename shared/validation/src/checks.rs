//! The contract's checks over typed columns, and the contract inferred from a first version.

use std::collections::{HashMap, HashSet};

use polars::prelude::*;
use tollgate_domain::report::Finding;
use tollgate_domain::{ColumnContract, ColumnType, Contract, DatasetName};

use crate::columns::{TypedColumn, shorten};
use crate::profile::Values;

fn first_row(mask: &BooleanChunked) -> Option<u64> {
    mask.iter()
        .position(|b| b == Some(true))
        .map(|i| i as u64 + 1)
}

fn count_true(mask: &BooleanChunked) -> u64 {
    mask.iter().filter(|b| *b == Some(true)).count() as u64
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Checks that hold with or without a contract: rows exist, numbers are finite, no column is
/// entirely empty.
/// `values` are the columns' values, in the same order.
pub fn universal(columns: &[TypedColumn], values: &[(String, Values)], rows: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if rows == 0 {
        findings.push(Finding::error(
            "rows",
            "zero rows (an empty dataset is never accepted)",
        ));
        return findings;
    }
    for (col, (_, vals)) in columns.iter().zip(values) {
        if col.nulls() == rows {
            findings.push(
                Finding::error(
                    "nulls",
                    format!(
                        "the column is entirely null ({} of {rows} rows)",
                        col.nulls()
                    ),
                )
                .column(col.name.clone()),
            );
        }
        // The sorted values hold the finite ones: fewer than the non-null count means NaN or inf.
        let finite = match vals {
            Values::Numeric(v) => v.len() as u64,
            Values::Categorical(_) => rows - col.nulls(),
        };
        if col.dtype == ColumnType::Float
            && finite < rows - col.nulls()
            && let Ok(f) = col.series.f64()
        {
            let bad: BooleanChunked = f.iter().map(|v| v.map(|x| !x.is_finite())).collect();
            let count = count_true(&bad);
            if let Some(row) = first_row(&bad) {
                let v = f.get(row as usize - 1).unwrap_or(f64::NAN);
                findings.push(
                    Finding::error(
                        "nan",
                        format!(
                            "{v} is not a finite number ({} in the column)",
                            plural(count, "such value")
                        ),
                    )
                    .column(col.name.clone())
                    .row(row),
                );
            }
        }
    }
    findings
}

/// The contract's checks: row bounds, nulls, ranges, allowed values, uniqueness.
pub fn against_contract(
    columns: &[TypedColumn],
    values: &[(String, Values)],
    rows: u64,
    contract: &Contract,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if rows < contract.min_rows {
        findings.push(Finding::error(
            "rows",
            format!(
                "{rows} rows, the contract asks for at least {}",
                contract.min_rows
            ),
        ));
    }
    if let Some(max) = contract.max_rows
        && rows > max
    {
        findings.push(Finding::error(
            "rows",
            format!("{rows} rows, the contract allows at most {max}"),
        ));
    }
    for (col, (_, vals)) in columns.iter().zip(values) {
        let Some(rule) = contract.column(&col.name) else {
            continue;
        };
        check_column(col, vals, rows, rule, &mut findings);
    }
    findings
}

fn check_column(
    col: &TypedColumn,
    vals: &Values,
    rows: u64,
    rule: &ColumnContract,
    out: &mut Vec<Finding>,
) {
    // Each check first asks the column's values (sorted numbers, or counts) whether anything is
    // wrong, and scans row by row only to say where.
    let (lo, hi) = (
        rule.min.unwrap_or(f64::NEG_INFINITY),
        rule.max.unwrap_or(f64::INFINITY),
    );
    let out_of_range = match vals {
        Values::Numeric(v) => {
            v.first().is_some_and(|x| *x < lo) || v.last().is_some_and(|x| *x > hi)
        }
        Values::Categorical(_) => true,
    };
    let disallowed = match (vals, &rule.allowed_values) {
        (Values::Categorical(counts), Some(allowed)) => {
            counts.keys().any(|k| !allowed.iter().any(|a| a == k))
        }
        (Values::Numeric(v), Some(allowed)) => v
            .iter()
            .any(|x| !allowed.iter().any(|a| a.parse::<f64>().ok() == Some(*x))),
        (_, None) => false,
    };
    let repeated = match vals {
        Values::Numeric(v) if col.dtype == ColumnType::Integer => {
            v.windows(2).any(|w| w[0] == w[1])
        }
        Values::Categorical(counts) => counts.values().any(|c| *c > 1),
        Values::Numeric(_) => true,
    };
    let name = col.name.clone();
    let nulls = col.nulls();
    if nulls > 0 && !rule.nullable {
        let row = first_row(&col.series.is_null()).unwrap_or(1);
        out.push(
            Finding::error(
                "nulls",
                format!(
                    "empty value, the contract says the column is never null ({} in the column)",
                    plural(nulls, "null")
                ),
            )
            .column(name.clone())
            .row(row),
        );
    } else if let Some(max) = rule.max_null_fraction
        && rows > 0
        && nulls as f64 / rows as f64 > max
    {
        out.push(
            Finding::error(
                "nulls",
                format!(
                    "{:.2}% nulls, the contract allows at most {:.2}%",
                    100.0 * nulls as f64 / rows as f64,
                    100.0 * max
                ),
            )
            .column(name.clone()),
        );
    }
    if (rule.min.is_some() || rule.max.is_some())
        && out_of_range
        && let Ok(f) = col.series.cast(&DataType::Float64)
        && let Ok(f) = f.f64()
    {
        let bad: BooleanChunked = f
            .iter()
            .map(|v| v.map(|x| x.is_finite() && (x < lo || x > hi)))
            .collect();
        let count = count_true(&bad);
        if let Some(row) = first_row(&bad) {
            let v = f.get(row as usize - 1).unwrap_or_default();
            let range = match (rule.min, rule.max) {
                (Some(a), Some(b)) => format!("[{a}, {b}]"),
                (Some(a), None) => format!(">= {a}"),
                (None, Some(b)) => format!("<= {b}"),
                (None, None) => unreachable!(),
            };
            out.push(
                Finding::error(
                    "range",
                    format!(
                        "{v} is outside the contract's range {range} ({} out of range)",
                        plural(count, "value")
                    ),
                )
                .column(name.clone())
                .row(row),
            );
        }
    }
    if let Some(allowed) = &rule.allowed_values
        && disallowed
        && let Ok(s) = col.series.cast(&DataType::String)
        && let Ok(s) = s.str()
    {
        let allowed: HashSet<&str> = allowed.iter().map(String::as_str).collect();
        let mut count = 0u64;
        let mut first: Option<(u64, String)> = None;
        for (i, v) in s.iter().enumerate() {
            if let Some(v) = v
                && !allowed.contains(v)
            {
                count += 1;
                first.get_or_insert((i as u64 + 1, v.to_owned()));
            }
        }
        if let Some((row, v)) = first {
            let mut list: Vec<&str> = allowed.into_iter().collect();
            list.sort_unstable();
            let shown = if list.len() > 10 {
                format!("{}, … ({} values)", list[..10].join(", "), list.len())
            } else {
                list.join(", ")
            };
            out.push(
                Finding::error(
                    "allowed_values",
                    format!(
                        "{:?} is not an allowed value (allowed: {shown}; {} not allowed)",
                        shorten(&v),
                        plural(count, "value")
                    ),
                )
                .column(name.clone())
                .row(row),
            );
        }
    }
    if rule.unique
        && repeated
        && let Some((row, earlier, value, dupes)) = first_repeat(&col.series)
    {
        out.push(
            Finding::error(
                "unique",
                format!(
                    "{:?} repeats the value of row {earlier}; the contract says values are unique ({})",
                    shorten(&value),
                    plural(dupes, "repeat")
                ),
            )
            .column(name)
            .row(row),
        );
    }
}

/// The first value seen twice (its row, the earlier row, the value) and how many repeats there are.
fn first_repeat(series: &Series) -> Option<(u64, u64, String, u64)> {
    fn scan<K: std::hash::Hash + Eq + ToString>(
        values: impl Iterator<Item = Option<K>>,
        capacity: usize,
    ) -> Option<(u64, u64, String, u64)> {
        let mut seen: HashMap<K, u64> = HashMap::with_capacity(capacity);
        let mut dupes = 0u64;
        let mut first = None;
        for (i, v) in values.enumerate() {
            let Some(v) = v else { continue };
            let row = i as u64 + 1;
            match seen.get(&v) {
                Some(&earlier) => {
                    dupes += 1;
                    if first.is_none() {
                        first = Some((row, earlier, v.to_string()));
                    }
                }
                None => {
                    seen.insert(v, row);
                }
            }
        }
        first.map(|(row, earlier, v)| (row, earlier, v, dupes))
    }
    if let Ok(ints) = series.i64() {
        return scan(ints.iter(), series.len());
    }
    let text = series.cast(&DataType::String).ok()?;
    scan(text.str().ok()?.iter(), series.len())
}

fn looks_like_identifier(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "id"
        || n.ends_with("_id")
        || n.ends_with("id") && n.len() <= 4
        || n == "key"
        || n.ends_with("_key")
        || n.contains("uuid")
}

/// The contract a first version founds: its types and nullability, allowed values where the
/// column is evidently categorical, uniqueness where the column is evidently an identifier, and
/// no numeric range (a range inferred from one sample would reject ordinary new data).
pub fn infer_contract(dataset: &DatasetName, columns: &[TypedColumn], rows: u64) -> Contract {
    let columns = columns
        .iter()
        .map(|col| {
            let nulls = col.nulls();
            let mut rule = ColumnContract {
                name: col.name.clone(),
                dtype: col.dtype,
                nullable: nulls > 0,
                max_null_fraction: None,
                min: None,
                max: None,
                allowed_values: None,
                unique: false,
            };
            let non_null = rows - nulls;
            // An integer column is a count or a code only when that is evident (few values, or an
            // identifier); otherwise it is a measurement that happened to be whole so far, and
            // "float" keeps the next upload's 77.5 from being refused.
            if col.dtype == ColumnType::Integer
                && !looks_like_identifier(&col.name)
                && col.series.n_unique().is_ok_and(|n| n > 20)
            {
                rule.dtype = ColumnType::Float;
            }
            if matches!(col.dtype, ColumnType::String | ColumnType::Boolean)
                && let Ok(s) = col.series.cast(&DataType::String)
                && let Ok(s) = s.str()
            {
                let distinct: HashSet<&str> = s.iter().flatten().collect();
                let categorical = distinct.len() <= 20
                    && non_null >= 5 * distinct.len() as u64
                    && distinct.iter().all(|v| v.chars().count() <= 100);
                if categorical {
                    let mut values: Vec<String> =
                        distinct.iter().map(|v| (*v).to_owned()).collect();
                    values.sort();
                    rule.allowed_values = Some(values);
                }
                rule.unique = nulls == 0
                    && rows >= 20
                    && distinct.len() as u64 == rows
                    && looks_like_identifier(&col.name);
            }
            if col.dtype == ColumnType::Integer
                && nulls == 0
                && rows >= 20
                && looks_like_identifier(&col.name)
                && let Ok(n) = col.series.n_unique()
            {
                rule.unique = n as u64 == rows;
            }
            rule
        })
        .collect();
    Contract::new(dataset.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::conform;

    fn contract_of(csv: &str) -> Contract {
        let df = CsvReadOptions::default()
            .into_reader_with_file_handle(std::io::Cursor::new(csv.as_bytes().to_vec()))
            .finish()
            .unwrap();
        let (typed, findings) = conform(&df, None);
        assert!(findings.is_empty());
        infer_contract(
            &DatasetName::parse("t").unwrap(),
            &typed,
            df.height() as u64,
        )
    }

    fn rows(n: usize, row: impl Fn(usize) -> String) -> String {
        (0..n).map(row).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_first_version_founds_types_nullability_categories_and_identifiers() {
        let csv = format!(
            "id,kind,score,note\n{}",
            rows(40, |i| format!(
                "{i},{},{}.5,{}",
                ["a", "b"][i % 2],
                i,
                if i == 3 { "" } else { "x" }
            ))
        );
        let c = contract_of(&csv);
        let col = |n: &str| c.column(n).unwrap().clone();
        assert_eq!(col("id").dtype, ColumnType::Integer);
        assert!(
            col("id").unique,
            "an id column that is unique is declared unique"
        );
        assert_eq!(
            col("kind").allowed_values,
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(col("score").dtype, ColumnType::Float);
        assert!(!col("score").nullable);
        assert!(
            col("note").nullable,
            "a column with an empty value is nullable"
        );
        assert!(
            c.columns.iter().all(|k| k.min.is_none() && k.max.is_none()),
            "no inferred ranges"
        );
    }

    #[test]
    fn whole_numbers_with_many_values_are_floats_and_few_values_are_integers() {
        let csv = format!(
            "amount,grade\n{}",
            rows(50, |i| format!("{},{}", i * 7, i % 5))
        );
        let c = contract_of(&csv);
        assert_eq!(c.column("amount").unwrap().dtype, ColumnType::Float);
        assert_eq!(c.column("grade").unwrap().dtype, ColumnType::Integer);
    }

    #[test]
    fn a_free_text_column_gets_no_allowed_values() {
        let csv = format!("name\n{}", rows(30, |i| format!("person {i}")));
        assert!(
            contract_of(&csv)
                .column("name")
                .unwrap()
                .allowed_values
                .is_none()
        );
    }
}
