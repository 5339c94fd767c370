//! The contract's checks over typed columns, batch by batch, and the contract inferred from a
//! first version. Each check counts what it finds and keeps the first row it found it in, so a
//! finding says where and how often however many batches the rows came in.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use tollgate_domain::report::Finding;
use tollgate_domain::{ColumnContract, ColumnType, Contract, DatasetName};

use crate::columns::{TypedColumn, shorten};
use crate::profile::Values;
use crate::spill::{self, Run};
use crate::summary::{Categories, ColumnSummary, Shape};

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// How often a check failed, and the first row (1-based, over all batches) and value.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Tally {
    count: u64,
    first: Option<(u64, String)>,
}

impl Tally {
    /// Counts the rows of a batch where `bad` holds; `offset` is the rows before the batch.
    fn scan<T>(
        &mut self,
        values: impl Iterator<Item = Option<T>>,
        offset: u64,
        bad: impl Fn(&T) -> bool,
        show: impl Fn(&T) -> String,
    ) {
        for (i, v) in values.enumerate() {
            if let Some(v) = v
                && bad(&v)
            {
                self.count += 1;
                if self.first.is_none() {
                    self.first = Some((offset + i as u64 + 1, show(&v)));
                }
            }
        }
    }

    /// Adds the tally of the rows after these (`offset` of them before).
    fn merge(&mut self, other: Tally, offset: u64) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first.map(|(row, v)| (row + offset, v));
        }
    }
}

/// How the file of a unique column's run in a shard's folder is named: the prefix, then the
/// column's place among the columns' names, then `.run`.
pub const UNIQUE_RUN_PREFIX: &str = "unique-";

/// Whether `name` is the file name of a unique column's run in a shard's folder.
pub fn is_unique_run(name: &str) -> bool {
    name.strip_prefix(UNIQUE_RUN_PREFIX)
        .and_then(|rest| rest.strip_suffix(".run"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The values of a column declared unique seen so far, with the row each was first seen in.
#[derive(Debug, Serialize, Deserialize)]
enum Seen {
    Integers(HashMap<i64, u64>),
    Text(HashMap<String, u64>),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ColumnChecks {
    nan: Tally,
    first_null: Option<u64>,
    range: Tally,
    allowed: Tally,
    seen: Option<Seen>,
    /// The first repeat: its row, the earlier row, the value.
    repeat: Option<(u64, u64, String)>,
    repeats: u64,
    /// Earlier windows of `seen`, on disk, merged by [`Checks::settle`]; in a merge of shards,
    /// the shards' runs too.
    #[serde(skip)]
    runs: Vec<Run>,
    /// A shard's values, all in one run in its folder ([`Checks::store`]): the file's name and
    /// the values in it.
    #[serde(default)]
    stored: Option<(String, u64)>,
}

/// The checks of an upload, fed batch by batch.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Checks {
    columns: HashMap<String, ColumnChecks>,
    /// Where a unique column's values go past a window of them (the system's temporary
    /// directory without one).
    #[serde(skip)]
    spill_dir: Option<PathBuf>,
    /// The values of a unique column held in memory (0: [`spill::WINDOW`]).
    #[serde(skip)]
    window: usize,
}

impl ColumnChecks {
    /// Counts the repeats a merge of runs found, keeping the earliest first.
    fn note(&mut self, found: spill::Repeats) {
        self.repeats += found.count;
        if let Some(first) = found.first
            && self.repeat.as_ref().is_none_or(|(r, _, _)| first.0 < *r)
        {
            self.repeat = Some(first);
        }
    }

    /// Adds the checks of the rows after these (`offset` of them before), as if they had come
    /// as further batches: a value of a unique column seen in both is a repeat at its row there.
    fn merge(&mut self, other: ColumnChecks, offset: u64) {
        self.nan.merge(other.nan, offset);
        self.range.merge(other.range, offset);
        self.allowed.merge(other.allowed, offset);
        if self.first_null.is_none() {
            self.first_null = other.first_null.map(|row| row + offset);
        }
        self.repeats += other.repeats;
        self.runs
            .extend(other.runs.into_iter().map(|run| run.after(offset)));
        let mut first = other
            .repeat
            .map(|(row, earlier, v)| (row + offset, earlier + offset, v));
        let mut repeat = |row: u64, earlier: u64, v: String| {
            if first.as_ref().is_none_or(|(r, _, _)| row < *r) {
                first = Some((row, earlier, v));
            }
        };
        match (&mut self.seen, other.seen) {
            (_, None) => {}
            (seen @ None, Some(theirs)) => {
                *seen = Some(match theirs {
                    Seen::Integers(m) => {
                        Seen::Integers(m.into_iter().map(|(v, r)| (v, r + offset)).collect())
                    }
                    Seen::Text(m) => {
                        Seen::Text(m.into_iter().map(|(v, r)| (v, r + offset)).collect())
                    }
                });
            }
            (Some(Seen::Integers(mine)), Some(Seen::Integers(theirs))) => {
                for (v, row) in theirs {
                    match mine.get(&v) {
                        Some(&earlier) => {
                            self.repeats += 1;
                            repeat(row + offset, earlier, v.to_string());
                        }
                        None => {
                            mine.insert(v, row + offset);
                        }
                    }
                }
            }
            (Some(Seen::Text(mine)), Some(Seen::Text(theirs))) => {
                for (v, row) in theirs {
                    match mine.get(&v) {
                        Some(&earlier) => {
                            self.repeats += 1;
                            repeat(row + offset, earlier, v);
                        }
                        None => {
                            mine.insert(v, row + offset);
                        }
                    }
                }
            }
            // Typed alike in every shard (the same contract types them): never.
            (Some(_), Some(_)) => {}
        }
        if self.repeat.is_none() {
            self.repeat = first;
        }
    }
}

impl Checks {
    /// Adds the checks of the rows after these (`offset` of them before).
    pub fn merge(&mut self, other: Checks, offset: u64) {
        for (name, theirs) in other.columns {
            self.columns.entry(name).or_default().merge(theirs, offset);
        }
    }

    /// Checks one batch of typed columns; `offset` is the rows before it, `values` the batch's
    /// values in the columns' order.
    pub fn batch(
        &mut self,
        columns: &[TypedColumn],
        values: &[Values],
        offset: u64,
        contract: Option<&Contract>,
    ) -> std::io::Result<()> {
        let window = if self.window == 0 {
            spill::WINDOW
        } else {
            self.window
        };
        for (col, vals) in columns.iter().zip(values) {
            let checks = self.columns.entry(col.name.clone()).or_default();
            let rule = contract.and_then(|c| c.column(&col.name));
            check_batch(col, vals, offset, rule, checks);
            if let Some(seen) = &mut checks.seen {
                let dir = self.spill_dir.as_deref();
                let run = match seen {
                    Seen::Integers(m) if m.len() >= window => Some(spill::spill(m, dir)?),
                    Seen::Text(m) if m.len() >= window => Some(spill::spill(m, dir)?),
                    _ => None,
                };
                checks.runs.extend(run);
            }
        }
        Ok(())
    }

    /// Puts the runs of unique columns' values in `dir`, not the system's temporary directory.
    pub fn spill_to(&mut self, dir: &Path) {
        self.spill_dir = Some(dir.to_path_buf());
    }

    /// Where the runs go.
    pub fn spill_dir(&self) -> PathBuf {
        self.spill_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// Merges the unique columns' runs, counting the repeats across them.
    pub fn settle(&mut self) -> std::io::Result<()> {
        for checks in self.columns.values_mut() {
            let runs = std::mem::take(&mut checks.runs);
            if runs.is_empty() {
                continue;
            }
            let found = match &mut checks.seen {
                Some(Seen::Integers(m)) => spill::merge(runs, m, |_, _| Ok(()))?,
                Some(Seen::Text(m)) => spill::merge(runs, m, |_, _| Ok(()))?,
                None => continue,
            };
            checks.note(found);
        }
        Ok(())
    }

    /// Writes each unique column's values, with the row each was first seen in, as one run in
    /// `dir` (a shard's folder), counting the repeats among them: a shard's state then holds
    /// none of its values, and the merge of shards reads their runs ([`Self::open_stored`]).
    pub fn store(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut names: Vec<&String> = self.columns.keys().collect();
        names.sort();
        let files: HashMap<String, String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| ((*name).clone(), format!("{UNIQUE_RUN_PREFIX}{i}.run")))
            .collect();
        for (name, checks) in &mut self.columns {
            let Some(seen) = &mut checks.seen else {
                continue;
            };
            let file = &files[name];
            let mut out = spill::RunWriter::new(std::fs::File::create(dir.join(file))?);
            let runs = std::mem::take(&mut checks.runs);
            let found = match seen {
                Seen::Integers(m) => {
                    let found = spill::merge(runs, m, |v, row| out.push(&v, row))?;
                    m.shrink_to_fit();
                    found
                }
                Seen::Text(m) => {
                    let found = spill::merge(runs, m, |v, row| out.push(&v, row))?;
                    m.shrink_to_fit();
                    found
                }
            };
            let run = out.finish()?;
            checks.note(found);
            checks.stored = Some((file.clone(), run.len()));
        }
        Ok(())
    }

    /// Opens the runs a shard's [`Self::store`] wrote in `dir`, to be merged with the others.
    pub fn open_stored(&mut self, dir: &Path) -> std::io::Result<()> {
        for checks in self.columns.values_mut() {
            let Some((file, len)) = checks.stored.take() else {
                continue;
            };
            if !is_unique_run(&file) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{file:?} is not the name of a unique column's run"),
                ));
            }
            let path = dir.join(&file);
            let run = Run::open(&path, len)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            checks.runs.push(run);
        }
        Ok(())
    }

    /// The findings, in a stable order: the checks every upload gets, then the contract's.
    pub fn findings(
        &self,
        summaries: &[ColumnSummary],
        rows: u64,
        contract: Option<&Contract>,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        if rows == 0 {
            findings.push(Finding::error(
                "rows",
                "zero rows (an empty dataset is never accepted)",
            ));
            return findings;
        }
        let none = ColumnChecks::default();
        let of = |name: &str| self.columns.get(name).unwrap_or(&none);
        for s in summaries {
            if s.nulls == rows {
                findings.push(
                    Finding::error(
                        "nulls",
                        format!("the column is entirely null ({} of {rows} rows)", s.nulls),
                    )
                    .column(s.name.clone()),
                );
            }
            let nan = &of(&s.name).nan;
            if let Some((row, v)) = &nan.first {
                findings.push(
                    Finding::error(
                        "nan",
                        format!(
                            "{v} is not a finite number ({} in the column)",
                            plural(nan.count, "such value")
                        ),
                    )
                    .column(s.name.clone())
                    .row(*row),
                );
            }
        }
        let Some(contract) = contract else {
            return findings;
        };
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
        for s in summaries {
            if let Some(rule) = contract.column(&s.name) {
                column_findings(s, of(&s.name), rows, rule, &mut findings);
            }
        }
        findings
    }
}

fn check_batch(
    col: &TypedColumn,
    vals: &Values,
    offset: u64,
    rule: Option<&ColumnContract>,
    checks: &mut ColumnChecks,
) {
    // The batch's values (sorted numbers, or counts) say first whether anything is wrong; rows
    // are scanned only to say where.
    let finite = match vals {
        Values::Numeric(v) => v.len(),
        Values::Categorical(_) => col.series.len() - col.series.null_count(),
    };
    if col.dtype == ColumnType::Float
        && finite < col.series.len() - col.series.null_count()
        && let Ok(f) = col.series.f64()
    {
        checks
            .nan
            .scan(f.iter(), offset, |x| !x.is_finite(), |x| x.to_string());
    }
    let Some(rule) = rule else { return };
    if checks.first_null.is_none()
        && !rule.nullable
        && col.series.null_count() > 0
        && let Some(i) = col.series.is_null().iter().position(|b| b == Some(true))
    {
        checks.first_null = Some(offset + i as u64 + 1);
    }
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
    if (rule.min.is_some() || rule.max.is_some())
        && out_of_range
        && let Ok(f) = col.series.cast(&DataType::Float64)
        && let Ok(f) = f.f64()
    {
        checks.range.scan(
            f.iter(),
            offset,
            |x| x.is_finite() && (*x < lo || *x > hi),
            |x| x.to_string(),
        );
    }
    if let Some(allowed) = &rule.allowed_values {
        let disallowed = match vals {
            Values::Categorical(counts) => counts.keys().any(|k| !allowed.iter().any(|a| a == k)),
            Values::Numeric(v) => v
                .iter()
                .any(|x| !allowed.iter().any(|a| a.parse::<f64>().ok() == Some(*x))),
        };
        if disallowed
            && let Ok(s) = col.series.cast(&DataType::String)
            && let Ok(s) = s.str()
        {
            let allowed: HashSet<&str> = allowed.iter().map(String::as_str).collect();
            checks.allowed.scan(
                s.iter(),
                offset,
                |v| !allowed.contains(v),
                |v| (*v).to_owned(),
            );
        }
    }
    if rule.unique {
        track_repeats(&col.series, offset, checks);
    }
}

/// Records every value of a unique column, to find repeats within and across batches.
fn track_repeats(series: &Series, offset: u64, checks: &mut ColumnChecks) {
    fn scan<K: std::hash::Hash + Eq + ToString>(
        values: impl Iterator<Item = Option<K>>,
        seen: &mut HashMap<K, u64>,
        offset: u64,
        repeat: &mut Option<(u64, u64, String)>,
        repeats: &mut u64,
    ) {
        for (i, v) in values.enumerate() {
            let Some(v) = v else { continue };
            let row = offset + i as u64 + 1;
            match seen.get(&v) {
                Some(&earlier) => {
                    *repeats += 1;
                    if repeat.is_none() {
                        *repeat = Some((row, earlier, v.to_string()));
                    }
                }
                None => {
                    seen.insert(v, row);
                }
            }
        }
    }
    let ColumnChecks {
        seen,
        repeat,
        repeats,
        ..
    } = checks;
    if let Ok(ints) = series.i64() {
        let Seen::Integers(map) =
            seen.get_or_insert_with(|| Seen::Integers(HashMap::with_capacity(series.len())))
        else {
            return;
        };
        scan(ints.iter(), map, offset, repeat, repeats);
        return;
    }
    let Ok(text) = series.cast(&DataType::String) else {
        return;
    };
    let Ok(text) = text.str() else { return };
    let Seen::Text(map) =
        seen.get_or_insert_with(|| Seen::Text(HashMap::with_capacity(series.len())))
    else {
        return;
    };
    scan(
        text.iter().map(|v| v.map(str::to_owned)),
        map,
        offset,
        repeat,
        repeats,
    );
}

fn column_findings(
    s: &ColumnSummary,
    checks: &ColumnChecks,
    rows: u64,
    rule: &ColumnContract,
    out: &mut Vec<Finding>,
) {
    let name = s.name.clone();
    let nulls = s.nulls;
    if nulls > 0 && !rule.nullable {
        out.push(
            Finding::error(
                "nulls",
                format!(
                    "empty value, the contract says the column is never null ({} in the column)",
                    plural(nulls, "null")
                ),
            )
            .column(name.clone())
            .row(checks.first_null.unwrap_or(1)),
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
    if let Some((row, v)) = &checks.range.first {
        let range = match (rule.min, rule.max) {
            (Some(a), Some(b)) => format!("[{a}, {b}]"),
            (Some(a), None) => format!(">= {a}"),
            (None, Some(b)) => format!("<= {b}"),
            (None, None) => String::new(),
        };
        out.push(
            Finding::error(
                "range",
                format!(
                    "{v} is outside the contract's range {range} ({} out of range)",
                    plural(checks.range.count, "value")
                ),
            )
            .column(name.clone())
            .row(*row),
        );
    }
    if let (Some(allowed), Some((row, v))) = (&rule.allowed_values, &checks.allowed.first) {
        let mut list: Vec<&str> = allowed.iter().map(String::as_str).collect();
        list.sort_unstable();
        list.dedup();
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
                    shorten(v),
                    plural(checks.allowed.count, "value")
                ),
            )
            .column(name.clone())
            .row(*row),
        );
    }
    if let Some((row, earlier, value)) = &checks.repeat {
        out.push(
            Finding::error(
                "unique",
                format!(
                    "{:?} repeats the value of row {earlier}; the contract says values are unique ({})",
                    shorten(value),
                    plural(checks.repeats, "repeat")
                ),
            )
            .column(name)
            .row(*row),
        );
    }
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
pub fn infer_contract(dataset: &DatasetName, summaries: &[ColumnSummary], rows: u64) -> Contract {
    let columns = summaries
        .iter()
        .map(|s| {
            let nulls = s.nulls;
            let mut rule = ColumnContract {
                name: s.name.clone(),
                dtype: s.dtype,
                nullable: nulls > 0,
                max_null_fraction: None,
                min: None,
                max: None,
                allowed_values: None,
                unique: false,
            };
            let non_null = rows - nulls;
            let distinct = s.distinct();
            // An integer column is a count or a code only when that is evident (few values, or an
            // identifier); otherwise it is a measurement that happened to be whole so far, and
            // "float" keeps the next upload's 77.5 from being refused.
            if s.dtype == ColumnType::Integer && !looks_like_identifier(&s.name) && distinct > 20 {
                rule.dtype = ColumnType::Float;
            }
            // Uniqueness is declared only when known exactly (a sketched column may not be).
            let exactly_unique = s.is_exact() && nulls == 0 && rows >= 20 && distinct == rows;
            if let Shape::Categorical(Categories::Exact(counts)) = &s.shape {
                let categorical = counts.len() <= 20
                    && non_null >= 5 * counts.len() as u64
                    && counts.keys().all(|v| v.chars().count() <= 100);
                if categorical {
                    let mut values: Vec<String> = counts.keys().cloned().collect();
                    values.sort();
                    rule.allowed_values = Some(values);
                }
            }
            if matches!(
                s.dtype,
                ColumnType::String | ColumnType::Boolean | ColumnType::Integer
            ) {
                rule.unique = exactly_unique && looks_like_identifier(&s.name);
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
        let summaries: Vec<ColumnSummary> = typed.iter().map(ColumnSummary::of).collect();
        infer_contract(
            &DatasetName::parse("t").unwrap(),
            &summaries,
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

    /// A unique column's values past the window go to runs on disk; merging them finds the
    /// repeats one table in memory finds: the same count, the same first repeat and its row.
    #[test]
    fn spilled_runs_find_the_repeats_memory_finds() {
        // Seeded values with repeats near and far apart (within a window and across runs),
        // nulls among them, and a repeat of a value first seen in the last window.
        use rand::rngs::Xoshiro256PlusPlus;
        use rand::{RngExt, SeedableRng};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut csv = String::from("id,code\n");
        for _ in 0..3_000 {
            let id: u32 = rng.random_range(0..2_600);
            let code: u32 = rng.random_range(0..2_900);
            let code = if code.is_multiple_of(97) {
                String::new()
            } else {
                format!("c{code}")
            };
            csv.push_str(&format!("{id},{code}\n"));
        }
        let df = CsvReadOptions::default()
            .into_reader_with_file_handle(std::io::Cursor::new(csv.into_bytes()))
            .finish()
            .unwrap();
        let mut contract = contract_of("id,code\n1,a\n2,b");
        for rule in &mut contract.columns {
            rule.unique = true;
            rule.nullable = true;
            rule.allowed_values = None;
        }
        let (typed, _) = conform(&df, Some(&contract));
        let summaries: Vec<ColumnSummary> = typed.iter().map(ColumnSummary::of).collect();
        // Rows `from..to` in batches of 250, numbered from `from - first` (a shard's own rows).
        let feed = |checks: &mut Checks, from: usize, to: usize, first: usize| {
            for start in (from..to).step_by(250) {
                let batch = df.slice(start as i64, 250.min(to - start));
                let (typed, _) = conform(&batch, Some(&contract));
                let values: Vec<Values> = typed.iter().map(Values::of).collect();
                checks
                    .batch(&typed, &values, (start - first) as u64, Some(&contract))
                    .unwrap();
            }
        };
        let shown = |checks: &Checks| -> Vec<(String, Option<u64>, String)> {
            checks
                .findings(&summaries, 3_000, Some(&contract))
                .into_iter()
                .map(|f| (f.column.unwrap_or_default(), f.row, f.message))
                .collect()
        };
        let held = |checks: &Checks| -> usize {
            checks
                .columns
                .values()
                .map(|c| match &c.seen {
                    Some(Seen::Integers(m)) => m.len(),
                    Some(Seen::Text(m)) => m.len(),
                    None => 0,
                })
                .sum()
        };
        let dir = tempfile::tempdir().unwrap();
        let findings = |window: usize| {
            let mut checks = Checks::default();
            checks.spill_to(dir.path());
            checks.window = window;
            feed(&mut checks, 0, 3_000, 0);
            let spilled: usize = checks.columns.values().map(|c| c.runs.len()).sum();
            checks.settle().unwrap();
            (shown(&checks), spilled)
        };
        let (in_memory, none) = findings(0);
        assert_eq!(none, 0, "3,000 rows fit the default window");
        assert_eq!(in_memory.len(), 2, "{in_memory:?}");
        for window in [1, 7, 300, 1_000] {
            let (spilled, runs) = findings(window);
            assert!(runs > 0, "a window of {window} spills");
            assert_eq!(spilled, in_memory, "window {window}");
        }

        // Three shards, each spilling and storing its values as one run in its folder, its
        // state (as written and read back) holding none of them; merged, their runs find the
        // repeats one pass finds, within a shard and across shards.
        let mut whole: Option<Checks> = None;
        for (n, (from, to)) in [(0, 1_100), (1_100, 1_800), (1_800, 3_000)]
            .into_iter()
            .enumerate()
        {
            let folder = dir.path().join(format!("shard-{n}"));
            std::fs::create_dir(&folder).unwrap();
            let mut shard = Checks::default();
            shard.spill_to(dir.path());
            shard.window = 7;
            feed(&mut shard, from, to, from);
            shard.store(&folder).unwrap();
            assert_eq!(held(&shard), 0, "shard {n} holds no values once stored");
            let bytes = rmp_serde::to_vec_named(&shard).unwrap();
            let mut read: Checks = rmp_serde::from_slice(&bytes).unwrap();
            read.open_stored(&folder).unwrap();
            match &mut whole {
                None => whole = Some(read),
                Some(whole) => whole.merge(read, from as u64),
            }
        }
        let mut whole = whole.unwrap();
        whole.settle().unwrap();
        assert_eq!(shown(&whole), in_memory);
    }

    #[test]
    fn only_a_unique_columns_run_is_opened_from_a_shards_folder() {
        assert!(is_unique_run("unique-0.run"));
        assert!(is_unique_run("unique-12.run"));
        for name in [
            "unique-.run",
            "unique-0.parquet",
            "unique-../x.run",
            "shard.msgpack",
        ] {
            assert!(!is_unique_run(name), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut checks = Checks::default();
        checks.columns.insert(
            "id".to_owned(),
            ColumnChecks {
                stored: Some(("../unique-0.run".to_owned(), 1)),
                ..ColumnChecks::default()
            },
        );
        let e = checks.open_stored(dir.path()).unwrap_err();
        assert!(e.to_string().contains("../unique-0.run"), "{e}");
    }
}
