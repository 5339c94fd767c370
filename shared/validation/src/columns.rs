//! Turning a parsed frame into typed columns: the contract's types where there is a contract,
//! inferred ones where there is not. A value that does not fit its type is a finding that names
//! the column, the row and the value.

use polars::prelude::*;
use tollgate_domain::report::Finding;
use tollgate_domain::{ColumnType, Contract};

/// A column as the gate sees it: `Int64`, `Float64`, `Boolean` or `String`.
#[derive(Debug, Clone)]
pub struct TypedColumn {
    pub name: String,
    pub dtype: ColumnType,
    pub series: Series,
}

impl TypedColumn {
    pub fn nulls(&self) -> u64 {
        self.series.null_count() as u64
    }
}

fn logical(dtype: &DataType) -> Option<ColumnType> {
    match dtype {
        d if d.is_integer() => Some(ColumnType::Integer),
        d if d.is_float() => Some(ColumnType::Float),
        DataType::Boolean => Some(ColumnType::Boolean),
        DataType::String => Some(ColumnType::String),
        _ => None,
    }
}

fn article(t: ColumnType) -> &'static str {
    if t == ColumnType::Integer { "an" } else { "a" }
}

/// Shows a value in a message without flooding it.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

/// The first row (0-based) holding a value that became null in `cast`, with that value.
fn first_lost(original: &Series, cast: &Series) -> Option<(usize, String)> {
    let lost = original.is_not_null() & cast.is_null();
    let idx = lost.iter().position(|b| b == Some(true))?;
    let value = original
        .get(idx)
        .map(|v| match v {
            AnyValue::String(s) => s.to_owned(),
            AnyValue::StringOwned(s) => s.to_string(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    Some((idx, value))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "True" | "TRUE" | "1" => Some(true),
        "false" | "False" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

fn to_boolean(series: &Series) -> PolarsResult<Series> {
    let name = series.name().clone();
    Ok(match series.dtype() {
        DataType::Boolean => series.clone(),
        DataType::String => series
            .str()?
            .iter()
            .map(|v| v.and_then(parse_bool))
            .collect::<BooleanChunked>()
            .with_name(name)
            .into_series(),
        d if d.is_integer() => series
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.and_then(|x| (x == 0 || x == 1).then_some(x == 1)))
            .collect::<BooleanChunked>()
            .with_name(name)
            .into_series(),
        _ => Series::full_null(name, series.len(), &DataType::Boolean),
    })
}

/// Converts a column to `target`. Returns the converted series, or the finding that explains
/// why it cannot be.
fn convert(name: &str, series: &Series, target: ColumnType) -> Result<Series, Finding> {
    let fail = |what: String| Finding::error("type", what).column(name);
    let from = logical(series.dtype());
    let result = match (target, from) {
        (ColumnType::String, _) => series.cast(&DataType::String),
        (ColumnType::Integer, Some(ColumnType::Integer)) => series.cast(&DataType::Int64),
        (ColumnType::Float, Some(ColumnType::Integer | ColumnType::Float)) => {
            series.cast(&DataType::Float64)
        }
        (ColumnType::Integer, Some(ColumnType::Float)) => {
            let f = series.f64().map_err(|e| fail(e.to_string()))?;
            if let Some(idx) = f
                .iter()
                .position(|v| v.is_some_and(|x| x.fract() != 0.0 || !x.is_finite()))
            {
                let v = f.get(idx).unwrap_or_default();
                return Err(fail(format!("{v} is not an integer")).row(idx as u64 + 1));
            }
            series.cast(&DataType::Int64)
        }
        (ColumnType::Integer | ColumnType::Float, Some(ColumnType::String)) => {
            let polars_target = if target == ColumnType::Integer {
                DataType::Int64
            } else {
                DataType::Float64
            };
            // "  42 " is 42: CSV writers pad numbers.
            let trimmed = match series.str() {
                Ok(s) => s
                    .iter()
                    .map(|v| v.map(str::trim))
                    .collect::<StringChunked>()
                    .with_name(series.name().clone())
                    .into_series(),
                Err(_) => series.clone(),
            };
            let cast = trimmed
                .cast(&polars_target)
                .map_err(|e| fail(e.to_string()))?;
            if let Some((idx, value)) = first_lost(series, &cast) {
                return Err(fail(format!(
                    "{:?} is not {}",
                    shorten(&value),
                    if target == ColumnType::Integer {
                        "an integer"
                    } else {
                        "a number"
                    }
                ))
                .row(idx as u64 + 1));
            }
            Ok(cast)
        }
        (ColumnType::Boolean, Some(_)) => {
            let cast = to_boolean(series).map_err(|e| fail(e.to_string()))?;
            if let Some((idx, value)) = first_lost(series, &cast) {
                return Err(fail(format!(
                    "{:?} is not a boolean (true/false)",
                    shorten(&value)
                ))
                .row(idx as u64 + 1));
            }
            Ok(cast)
        }
        (_, _) => {
            return Err(fail(format!(
                "holds {} values, the contract says {target}",
                series.dtype()
            )));
        }
    };
    result.map_err(|e| fail(format!("cannot be read as {target}: {e}")))
}

/// The type a column would get without a contract: what polars read, or for text, the
/// narrowest of integer, float and boolean that every value fits.
fn infer(series: &Series) -> (ColumnType, Series) {
    if series.dtype() == &DataType::String && series.null_count() < series.len() {
        for candidate in [ColumnType::Integer, ColumnType::Float, ColumnType::Boolean] {
            if let Ok(s) = convert("", series, candidate) {
                return (candidate, s);
            }
        }
    }
    match logical(series.dtype()) {
        Some(t) => match convert("", series, t) {
            Ok(s) => (t, s),
            Err(_) => (
                ColumnType::String,
                series
                    .cast(&DataType::String)
                    .unwrap_or_else(|_| series.clone()),
            ),
        },
        // Dates, times, lists and structs are kept as their text.
        None => (
            ColumnType::String,
            series.cast(&DataType::String).unwrap_or_else(|_| {
                Series::full_null(series.name().clone(), series.len(), &DataType::String)
            }),
        ),
    }
}

/// Types every column of the frame. Schema findings (missing, extra, wrong type) come back
/// beside the columns that could be typed.
pub fn conform(frame: &DataFrame, contract: Option<&Contract>) -> (Vec<TypedColumn>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut typed = Vec::with_capacity(frame.width());
    if let Some(contract) = contract {
        for col in &contract.columns {
            if frame.column(&col.name).is_err() {
                findings.push(
                    Finding::error(
                        "schema",
                        format!(
                            "missing column (the contract requires {} {} column)",
                            article(col.dtype),
                            col.dtype
                        ),
                    )
                    .column(col.name.clone()),
                );
            }
        }
    }
    for column in frame.columns() {
        let name = column.name().to_string();
        let series = column.as_materialized_series();
        let declared = contract.and_then(|c| c.column(&name));
        match (contract, declared) {
            (Some(_), Some(decl)) => match convert(&name, series, decl.dtype) {
                Ok(s) => typed.push(TypedColumn {
                    name,
                    dtype: decl.dtype,
                    series: s,
                }),
                Err(f) => findings.push(f),
            },
            (Some(c), None) => {
                if !c.allow_extra_columns {
                    findings.push(
                        Finding::error("schema", "extra column: the contract does not name it (set allow_extra_columns = true to accept it)")
                            .column(name.clone()),
                    );
                }
                let (dtype, s) = infer(series);
                typed.push(TypedColumn {
                    name,
                    dtype,
                    series: s,
                });
            }
            (None, _) => {
                let (dtype, s) = infer(series);
                typed.push(TypedColumn {
                    name,
                    dtype,
                    series: s,
                });
            }
        }
    }
    (typed, findings)
}
