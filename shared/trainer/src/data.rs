//! Channels in, matrices out: reading a channel's files, choosing the training subset, and the
//! preprocessing that turns columns into a numeric matrix, fitted on the training rows only.
//!
//! Numeric columns (integers, floats, booleans as 0/1) are standardized with the training mean
//! and standard deviation (a constant column is divided by 1), and a missing or non-finite value
//! becomes the training mean. String and categorical columns are one-hot encoded over the levels
//! seen in training, sorted; a level not seen in training and a missing value both encode as all
//! zeros. A column with more than [`MAX_LEVELS`] levels keeps its most frequent ones (seen at
//! least twice) and groups the rest, and any later unseen level, in one `other` column.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::*;
use rand08::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// The most levels a text column is one-hot encoded over; past it, the rare ones are grouped.
pub const MAX_LEVELS: usize = 32;

/// Reads one `.parquet` or `.csv` file (a CSV has a header row; an empty field and the common
/// spellings of a missing value, `NA` and the like, are missing).
pub fn read_table(path: &Path) -> Result<DataFrame, TrainError> {
    let read = |source| TrainError::Read {
        path: path.to_owned(),
        source,
    };
    if has_extension(path, "parquet") {
        let file = File::open(path).map_err(|e| TrainError::io("opening", path, e))?;
        ParquetReader::new(file).finish().map_err(read)
    } else {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .map_parse_options(|p| {
                p.with_missing_is_null(true)
                    .with_null_values(Some(NullValues::AllColumns(
                        tollgate_domain::contract::NULL_VALUES
                            .iter()
                            .filter(|v| !v.is_empty())
                            .map(|v| PlSmallStr::from(*v))
                            .collect(),
                    )))
            })
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(read)
    }
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// The `.parquet` and `.csv` files of a channel directory, in name order.
pub(crate) fn channel_files(channel: &str, dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    if !dir.is_dir() {
        return Err(TrainError::channel(
            channel,
            format!("no such directory {}", dir.display()),
        ));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io("listing", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io("listing", dir, e))?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_file()
            && !hidden
            && (has_extension(&path, "parquet") || has_extension(&path, "csv"))
        {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(TrainError::channel(
            channel,
            format!("no .parquet or .csv file in {}", dir.display()),
        ));
    }
    files.sort();
    Ok(files)
}

/// Reads every file of a channel and stacks them in name order. The files must have the same
/// columns; a column typed differently in two files is read as numbers if it is numeric in both,
/// else as text.
pub fn read_channel(channel: &str, dir: &Path) -> Result<(DataFrame, Vec<PathBuf>), TrainError> {
    let files = channel_files(channel, dir)?;
    let mut frame = read_table(&files[0])?;
    for path in &files[1..] {
        let next = read_table(path)?;
        frame = stack(channel, frame, next, &files[0], path)?;
    }
    if frame.height() == 0 {
        return Err(TrainError::channel(
            channel,
            format!("no rows in {}", dir.display()),
        ));
    }
    Ok((frame, files))
}

fn stack(
    channel: &str,
    mut frame: DataFrame,
    next: DataFrame,
    first: &Path,
    path: &Path,
) -> Result<DataFrame, TrainError> {
    let names: Vec<PlSmallStr> = frame.get_column_names_owned();
    let (path_shown, first_shown) = (path.display(), first.display());
    for name in next.get_column_names() {
        if !names.contains(name) {
            return Err(TrainError::channel(
                channel,
                format!("{path_shown} has a column {name} that {first_shown} has not"),
            ));
        }
    }
    for name in &names {
        if next.column(name).is_err() {
            return Err(TrainError::channel(
                channel,
                format!("{path_shown} has no column {name}, which {first_shown} has"),
            ));
        }
    }
    let polars = |source| TrainError::Read {
        path: path.to_owned(),
        source,
    };
    let mut next = next.select(names.iter().cloned()).map_err(polars)?;
    for name in &names {
        let (a, b) = (
            frame.column(name).map_err(polars)?,
            next.column(name).map_err(polars)?,
        );
        if a.dtype() == b.dtype() {
            continue;
        }
        // A column with no value in one file (read as text) takes the other file's type.
        let common = if a.null_count() == a.len() {
            b.dtype().clone()
        } else if b.null_count() == b.len() {
            a.dtype().clone()
        } else if is_numeric(a.dtype()) && is_numeric(b.dtype()) {
            DataType::Float64
        } else {
            DataType::String
        };
        let (a, b) = (
            a.cast(&common).map_err(polars)?,
            b.cast(&common).map_err(polars)?,
        );
        frame.with_column(a).map_err(polars)?;
        next.with_column(b).map_err(polars)?;
    }
    frame.vstack_mut_owned(next).map_err(polars)?;
    Ok(frame)
}

fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_numeric() || dtype.is_bool()
}

fn is_categorical(dtype: &DataType) -> bool {
    dtype.is_string() || dtype.is_categorical() || dtype.is_enum()
}

/// The rows a trial trains on: all of them, or a seeded subset of `ceil(n * fraction)` rows kept
/// in file order.
pub(crate) fn subset(frame: &DataFrame, fraction: f64, seed: u64) -> Result<DataFrame, TrainError> {
    let n = frame.height();
    if fraction >= 1.0 {
        return Ok(frame.clone());
    }
    let k = ((n as f64 * fraction).ceil() as usize).clamp(1, n);
    let mut rng = rand08::rngs::SmallRng::seed_from_u64(seed);
    let mut keep = vec![false; n];
    for i in rand08::seq::index::sample(&mut rng, n, k) {
        keep[i] = true;
    }
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    frame
        .filter(&mask)
        .map_err(|e| TrainError::channel("train", format!("choosing the data_fraction rows: {e}")))
}

/// One input column and how it is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    #[serde(flatten)]
    pub encoding: Encoding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoding {
    /// `(value - mean) / std`; a missing value is `impute` (the training mean).
    Numeric { mean: f64, std: f64, impute: f64 },
    /// One column per level, in this order; then, when `grouped` levels were too rare to get
    /// their own, one `other` column for them (and for levels unseen in training).
    Categorical {
        levels: Vec<String>,
        #[serde(default, skip_serializing_if = "is_zero")]
        grouped: usize,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Encoding {
    fn width(&self) -> usize {
        match self {
            Self::Numeric { .. } => 1,
            Self::Categorical { levels, grouped } => levels.len() + usize::from(*grouped > 0),
        }
    }
}

/// The levels a text column is encoded over, and how many are grouped as `other`: all of them
/// up to [`MAX_LEVELS`]; past it, the most frequent seen at least twice (ties by name).
fn choose_levels(values: Vec<Option<String>>) -> (Vec<String>, usize) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values.into_iter().flatten() {
        *counts.entry(v).or_default() += 1;
    }
    if counts.len() <= MAX_LEVELS {
        return (counts.into_keys().collect(), 0);
    }
    let distinct = counts.len();
    let mut ranked: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n >= 2).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(MAX_LEVELS);
    let mut levels: Vec<String> = ranked.into_iter().map(|(level, _)| level).collect();
    levels.sort();
    let grouped = distinct - levels.len();
    (levels, grouped)
}

/// The fitted preprocessing of every feature, in input order. Numeric columns (integers,
/// floats, booleans as 0/1) are standardized with the training mean and standard deviation (1 for
/// a constant column), and a missing or non-finite value becomes the training mean. Text and
/// categorical columns are one-hot encoded over the levels seen in training, sorted; an unseen
/// level and a missing value both encode as all zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Preprocessing {
    pub features: Vec<Feature>,
}

impl Preprocessing {
    /// Fits the encoding of `names` on `frame` (the training rows). `within` names the frame in
    /// errors (`channel train`).
    pub fn fit(frame: &DataFrame, names: &[String], within: &str) -> Result<Self, TrainError> {
        let mut features = Vec::with_capacity(names.len());
        for name in names {
            let column = column(frame, name, within)?;
            let dtype = column.dtype();
            let encoding = if is_numeric(dtype) {
                let values: Vec<f64> = numbers(column, name, within)?
                    .into_iter()
                    .flatten()
                    .collect();
                let (mean, std) = mean_and_std(&values);
                Encoding::Numeric {
                    mean,
                    std,
                    impute: mean,
                }
            } else if is_categorical(dtype) {
                let (levels, grouped) = choose_levels(texts(column, name, within)?);
                if grouped > 0 {
                    eprintln!(
                        "trainer: {name}: {} distinct values; one-hot encoding the {} most \
                         frequent, {grouped} grouped as other",
                        levels.len() + grouped,
                        levels.len()
                    );
                }
                Encoding::Categorical { levels, grouped }
            } else {
                return Err(TrainError::column(
                    within,
                    name,
                    format!("type {dtype} is neither numeric nor text; leave it out of features"),
                ));
            };
            features.push(Feature {
                name: name.clone(),
                encoding,
            });
        }
        let preprocessing = Self { features };
        if preprocessing.width() == 0 {
            return Err(TrainError::hyperparameter(
                "features",
                format!("they encode to no column: each is text with no value in {within}"),
            ));
        }
        Ok(preprocessing)
    }

    /// The number of encoded columns.
    pub fn width(&self) -> usize {
        self.features.iter().map(|f| f.encoding.width()).sum()
    }

    /// Encodes a frame's rows (the features by name; other columns are ignored).
    pub fn transform(&self, frame: &DataFrame, within: &str) -> Result<Array2<f64>, TrainError> {
        let columns = self
            .features
            .iter()
            .map(|feature| {
                let column = column(frame, &feature.name, within)?;
                Ok(match feature.encoding {
                    Encoding::Numeric { .. } => {
                        Values::Numbers(numbers(column, &feature.name, within)?)
                    }
                    Encoding::Categorical { .. } => {
                        Values::Texts(texts(column, &feature.name, within)?)
                    }
                })
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        Ok(self.encode(frame.height(), &columns))
    }

    /// Encodes `rows` rows given as one [`Values`] per feature, in feature order: numbers for a
    /// numeric feature, texts for a categorical one (the other kind encodes as missing).
    pub fn encode(&self, rows: usize, columns: &[Values]) -> Array2<f64> {
        let mut matrix = Array2::zeros((rows, self.width()));
        let mut offset = 0;
        for (feature, values) in self.features.iter().zip(columns) {
            match (&feature.encoding, values) {
                (Encoding::Numeric { mean, std, impute }, Values::Numbers(values)) => {
                    for (i, value) in values.iter().take(rows).enumerate() {
                        matrix[[i, offset]] = (value.unwrap_or(*impute) - mean) / std;
                    }
                }
                (Encoding::Numeric { mean, std, impute }, Values::Texts(_)) => {
                    matrix.column_mut(offset).fill((impute - mean) / std);
                }
                (Encoding::Categorical { levels, grouped }, Values::Texts(values)) => {
                    for (i, value) in values.iter().take(rows).enumerate() {
                        let Some(value) = value else { continue };
                        match levels.binary_search(value) {
                            Ok(level) => matrix[[i, offset + level]] = 1.0,
                            Err(_) if *grouped > 0 => matrix[[i, offset + levels.len()]] = 1.0,
                            Err(_) => {}
                        }
                    }
                }
                (Encoding::Categorical { .. }, Values::Numbers(_)) => {}
            }
            offset += feature.encoding.width();
        }
        matrix
    }
}

/// One feature's values, row by row, as the encoding takes them; `None` is missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

fn column<'a>(frame: &'a DataFrame, name: &str, within: &str) -> Result<&'a Column, TrainError> {
    frame
        .column(name)
        .map_err(|_| TrainError::column(within, name, "no such column"))
}

/// Population mean and standard deviation; no values gives (0, 1), a constant gives std 1.
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = match var.sqrt() {
        std if std > 0.0 && std.is_finite() => std,
        _ => 1.0,
    };
    (mean, std)
}

/// A column as numbers; missing and non-finite values are `None`. A value that is present but
/// not a number (a text column where training saw numbers) is an error naming its row.
pub fn numbers(column: &Column, name: &str, within: &str) -> Result<Vec<Option<f64>>, TrainError> {
    let cast = column
        .cast(&DataType::Float64)
        .map_err(|e| TrainError::column(within, name, format!("cannot be read as numbers: {e}")))?;
    let values = cast
        .f64()
        .map_err(|e| TrainError::column(within, name, format!("cannot be read as numbers: {e}")))?;
    if cast.null_count() > column.null_count() {
        let original = column.cast(&DataType::String).ok();
        let bad = values
            .iter()
            .enumerate()
            .zip(column.is_null().iter())
            .find(|((_, v), was_null)| v.is_none() && *was_null == Some(false));
        if let Some(((row, _), _)) = bad {
            let text = original
                .as_ref()
                .and_then(|c| c.str().ok().and_then(|s| s.get(row).map(str::to_owned)))
                .unwrap_or_default();
            return Err(TrainError::column(
                within,
                name,
                format!("row {row} holds {text:?}, which is not a number"),
            ));
        }
    }
    Ok(values.iter().map(|v| v.filter(|v| v.is_finite())).collect())
}

/// A column as text; missing values are `None`. Floats print without a trailing `.0`, so a
/// class written as 5 in one file and 5.0 in another is one class.
pub fn texts(column: &Column, name: &str, within: &str) -> Result<Vec<Option<String>>, TrainError> {
    if column.dtype().is_float() {
        return Ok(numbers(column, name, within)?
            .into_iter()
            .map(|v| v.map(|v| format!("{v}")))
            .collect());
    }
    let cast = column
        .cast(&DataType::String)
        .map_err(|e| TrainError::column(within, name, format!("cannot be read as text: {e}")))?;
    let values = cast
        .str()
        .map_err(|e| TrainError::column(within, name, format!("cannot be read as text: {e}")))?;
    Ok(values.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Which rows hold a target value: present, and finite for numbers.
pub fn has_target(frame: &DataFrame, target: &str, within: &str) -> Result<Vec<bool>, TrainError> {
    let column = column(frame, target, within)?;
    if column.dtype().is_float() {
        return Ok(numbers(column, target, within)?
            .iter()
            .map(Option::is_some)
            .collect());
    }
    Ok(column
        .is_not_null()
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

/// The rows of `frame` that hold a target value, and which of its rows those are.
pub fn with_target(
    frame: &DataFrame,
    target: &str,
    within: &str,
) -> Result<(DataFrame, Vec<bool>), TrainError> {
    let keep = has_target(frame, target, within)?;
    if keep.iter().all(|k| *k) {
        return Ok((frame.clone(), keep));
    }
    let mask = BooleanChunked::from_slice("has_target".into(), &keep);
    let kept = frame.filter(&mask).map_err(|e| {
        TrainError::column(
            within,
            target,
            format!("leaving out rows without a target: {e}"),
        )
    })?;
    Ok((kept, keep))
}

/// The target of a classification: a label per row, none missing.
pub fn labels(frame: &DataFrame, target: &str, within: &str) -> Result<Vec<String>, TrainError> {
    let column = column(frame, target, within)?;
    let values = texts(column, target, within)?;
    complete(values, target, within)
}

/// The target of a regression: a number per row, none missing.
pub fn values(frame: &DataFrame, target: &str, within: &str) -> Result<Vec<f64>, TrainError> {
    let column = column(frame, target, within)?;
    if !is_numeric(column.dtype()) {
        return Err(TrainError::column(
            within,
            target,
            format!(
                "the target of a regression must be numeric, and this column is {}",
                column.dtype()
            ),
        ));
    }
    complete(numbers(column, target, within)?, target, within)
}

fn complete<T>(values: Vec<Option<T>>, target: &str, within: &str) -> Result<Vec<T>, TrainError> {
    let missing = values.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        let first = values.iter().position(Option::is_none).unwrap_or_default();
        return Err(TrainError::column(
            within,
            target,
            format!(
                "{missing} {} no target value (the first is row {first}); every row needs one",
                if missing == 1 { "row has" } else { "rows have" }
            ),
        ));
    }
    Ok(values.into_iter().flatten().collect())
}

/// The distinct labels, sorted by value when every label is a number (3 < 10), else as text.
pub(crate) fn classes(labels: &[String]) -> Vec<String> {
    let distinct: BTreeSet<&String> = labels.iter().collect();
    let mut classes: Vec<String> = distinct.into_iter().cloned().collect();
    let numbers: Option<Vec<f64>> = classes.iter().map(|c| c.parse::<f64>().ok()).collect();
    if let Some(numbers) = numbers {
        let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(classes).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        classes = pairs.into_iter().map(|(_, c)| c).collect();
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df! {
            "x" => [Some(1.0), None, Some(3.0), Some(f64::NAN)],
            "flag" => [true, false, true, true],
            "colour" => [Some("red"), Some("white"), None, Some("red")],
            "y" => [3i64, 10, 3, 4],
        }
        .unwrap()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn numbers_are_standardized_and_missing_ones_take_the_training_mean() {
        let p = Preprocessing::fit(&frame(), &names(&["x", "flag"]), "channel train").unwrap();
        assert_eq!(
            p.features[0].encoding,
            Encoding::Numeric {
                mean: 2.0,
                std: 1.0,
                impute: 2.0
            }
        );
        let x = p.transform(&frame(), "channel train").unwrap();
        assert_eq!(x.column(0).to_vec(), [-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn text_is_one_hot_encoded_and_unseen_or_missing_levels_are_all_zeros() {
        let p = Preprocessing::fit(&frame(), &names(&["colour"]), "channel train").unwrap();
        assert_eq!(p.width(), 2);
        let other = df! { "colour" => [Some("white"), Some("rosé"), None] }.unwrap();
        let x = p.transform(&other, "channel test").unwrap();
        assert_eq!(x.row(0).to_vec(), [0.0, 1.0]);
        assert_eq!(x.row(1).to_vec(), [0.0, 0.0]);
        assert_eq!(x.row(2).to_vec(), [0.0, 0.0]);
    }

    #[test]
    fn text_where_training_saw_numbers_names_the_row() {
        let p = Preprocessing::fit(&frame(), &names(&["x"]), "channel train").unwrap();
        let other = df! { "x" => ["1.5", "abc"] }.unwrap();
        let e = p.transform(&other, "channel validation").unwrap_err();
        assert_eq!(
            e.to_string(),
            "channel validation, column x: row 1 holds \"abc\", which is not a number"
        );
    }

    #[test]
    fn numeric_classes_sort_by_value() {
        let labels = labels(&frame(), "y", "channel train").unwrap();
        assert_eq!(classes(&labels), ["3", "4", "10"]);
    }

    #[test]
    fn a_missing_target_is_counted() {
        let f = df! { "y" => [Some(1.0), None, None] }.unwrap();
        let e = values(&f, "y", "channel train").unwrap_err();
        assert!(
            e.to_string()
                .contains("2 rows have no target value (the first is row 1)"),
            "{e}"
        );
    }

    #[test]
    fn a_subset_is_seeded_and_keeps_file_order() {
        let f = df! { "i" => (0..100i64).collect::<Vec<_>>() }.unwrap();
        let a = subset(&f, 0.3, 7).unwrap();
        let b = subset(&f, 0.3, 7).unwrap();
        assert_eq!(a.height(), 30);
        assert!(a.equals(&b));
        let i: Vec<i64> = a
            .column("i")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert!(i.windows(2).all(|w| w[0] < w[1]));
    }
}
