//! An upload of many files (a batch folder, as Spark and warehouse exports write them) read as
//! one table: the files go through one gate one after the other, each read whole or streamed as
//! a single upload would be, so memory holds one file (or one batch of a large one) at a time.

use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use tollgate_domain::report::{Finding, Severity};
use tollgate_domain::{ColumnType, Contract, DatasetName};

use crate::read::{self, BatchError, Fingerprint, Format};
use crate::{Baseline, Checked, Gate, UploadFile, ValidationError};

/// The columns a file's rows came in: names in order, and for Parquet their declared types
/// (a CSV's types are the reader's guess, and the contract settles them).
#[derive(Debug, PartialEq)]
struct Shape {
    names: Vec<String>,
    types: Option<Vec<DataType>>,
}

impl Shape {
    fn of(frame: &DataFrame, format: Format) -> Self {
        Self {
            names: frame
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            types: (format == Format::Parquet).then(|| frame.dtypes()),
        }
    }

    /// How `self` (of `file`) differs from `first` (of `first_file`), in words.
    fn differs(&self, file: &str, first: &Self, first_file: &str) -> Option<String> {
        if self.names != first.names {
            let missing: Vec<&String> = first
                .names
                .iter()
                .filter(|n| !self.names.contains(n))
                .collect();
            let extra: Vec<&String> = self
                .names
                .iter()
                .filter(|n| !first.names.contains(n))
                .collect();
            let what = match (missing.is_empty(), extra.is_empty()) {
                (true, true) => "the same columns in another order".to_owned(),
                (false, true) => format!("no column {missing:?}"),
                (true, false) => format!("extra columns {extra:?}"),
                (false, false) => format!("no column {missing:?} and extra columns {extra:?}"),
            };
            return Some(format!(
                "{file} has {what}: every file of a batch has {first_file}'s columns, in its order"
            ));
        }
        if let (Some(types), Some(first_types)) = (&self.types, &first.types) {
            for ((name, t), f) in self.names.iter().zip(types).zip(first_types) {
                if t != f {
                    return Some(format!(
                        "{file} stores column {name:?} as {t}, {first_file} as {f}: every file \
                         of a batch has the same schema"
                    ));
                }
            }
        }
        None
    }
}

fn is_error(f: &Finding) -> bool {
    f.severity == Severity::Error
}

/// The file a gate row (1-based, counted over all files) is in, and its row there.
fn locate(starts: &[(String, u64)], row: u64) -> Option<(&str, u64)> {
    starts
        .iter()
        .rev()
        .find(|(_, start)| *start < row)
        .map(|(name, start)| (name.as_str(), row - start))
}

/// The column types of a batch that founds its dataset's contract, over all its files: each
/// file's columns typed as a single upload's would be, then widened (integer and float: float;
/// any other difference: string). Without it, a column that the first file holds only whole
/// numbers of and a later one decimals would fail typing in the later file. Parquet files give
/// their schema; a CSV below `stream_above` is read for it (so a founding batch of CSV is read
/// twice), a larger one by its first 10,000 rows, as streaming types it.
fn founding_types(files: &[UploadFile<'_>], stream_above: u64) -> Vec<(String, ColumnType)> {
    let mut types: Vec<(String, ColumnType)> = Vec::new();
    let mut widen = |name: &str, t: ColumnType| match types.iter_mut().find(|(n, _)| n == name) {
        None => types.push((name.to_owned(), t)),
        Some((_, seen)) if *seen == t => {}
        Some((_, seen)) => {
            *seen = match (*seen, t) {
                (ColumnType::Integer, ColumnType::Float)
                | (ColumnType::Float, ColumnType::Integer) => ColumnType::Float,
                _ => ColumnType::String,
            }
        }
    };
    for file in files {
        let fp: &Fingerprint = &file.fingerprint;
        if fp.bytes == 0 {
            continue;
        }
        let frame = match read::streamable(file.name, fp) {
            Some(Format::Parquet) => read::parquet_schema(file.path).ok(),
            Some(Format::Csv) if fp.bytes >= stream_above => read::csv_schema(file.path).ok(),
            _ => read::parse(file.path, file.name, fp, None)
                .ok()
                .and_then(|p| p.frame),
        };
        // A file that does not read is reported by the pass that checks it.
        if let Some(frame) = frame {
            for col in crate::columns::conform(&frame, None).0 {
                widen(&col.name, col.dtype);
            }
        }
    }
    types
}

/// Reads and judges an upload of many files as one table, in the order given (name order).
/// Every file must be CSV or Parquet like the first, with the first's columns in its order (and,
/// for Parquet, its types); one that is not is named in the rejection, as is one that does not
/// read. A finding's row is counted over all files, and its message says which file and row
/// within it. A file of `stream_above` bytes or more is streamed in batches.
pub fn check_files(
    files: Vec<UploadFile<'_>>,
    dataset: &DatasetName,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
    work_dir: &Path,
    stream_above: u64,
) -> Result<Checked, ValidationError> {
    let started = Instant::now();
    let mut gate = Gate::streaming(dataset, contract, work_dir);
    if contract.is_none() {
        gate.type_as(&founding_types(&files, stream_above));
    }
    let mut first: Option<(String, Format, Shape)> = None;
    let mut starts: Vec<(String, u64)> = Vec::new();
    // What reading the files warned of, each named by its file.
    let mut warnings: Vec<Finding> = Vec::new();
    let failed = Checked::failed;
    for file in files {
        let UploadFile {
            path,
            name,
            fingerprint,
        } = file;
        let about = |f: Finding| Finding {
            message: format!("{name}: {}", f.message),
            ..f
        };
        if fingerprint.bytes == 0 {
            // An empty part (an empty partition's file): in the hash, no rows.
            continue;
        }
        starts.push((name.to_owned(), gate.rows));
        let streamed =
            read::streamable(name, &fingerprint).filter(|_| fingerprint.bytes >= stream_above);
        // The shape of each batch against the first file's; the first batch sets it.
        let mut feed = |gate: &mut Gate, format: Format, batch: DataFrame| {
            let shape = Shape::of(&batch, format);
            match &first {
                None => first = Some((name.to_owned(), format, shape)),
                Some((first_name, first_format, first_shape)) => {
                    if format != *first_format {
                        return Err(ValidationError::Refused(format!(
                            "{name} is {}, {first_name} {}: every file of a batch has one format",
                            format.as_str(),
                            first_format.as_str()
                        )));
                    }
                    if let Some(m) = shape.differs(name, first_shape, first_name) {
                        return Err(ValidationError::Refused(m));
                    }
                }
            }
            gate.push(&batch)
        };
        let (format, outcome) = match streamed {
            Some(format) => {
                let each = |batch: DataFrame| feed(&mut gate, format, batch);
                let read = match format {
                    Format::Parquet => read::parquet_batches(path, each).map(|()| Vec::new()),
                    _ => {
                        let (problems, read) =
                            read::scanned(path, || read::csv_batches(path, contract, false, each))?;
                        read.map(|()| problems)
                    }
                };
                (format, read)
            }
            None => {
                let parsed = read::parse(path, name, &fingerprint, contract)?;
                let read = match parsed.frame {
                    Some(frame) if !parsed.findings.iter().any(is_error) => {
                        feed(&mut gate, parsed.format, frame)
                            .map(|()| parsed.findings)
                            .map_err(BatchError::Stopped)
                    }
                    _ => Ok(parsed.findings),
                };
                (parsed.format, read)
            }
        };
        let mut problems = match outcome {
            Ok(findings) => findings,
            Err(BatchError::Stopped(ValidationError::Refused(m))) => {
                return Ok(failed(format, vec![Finding::error("schema", m)]));
            }
            Err(BatchError::Stopped(e)) => return Err(e),
            Err(BatchError::Read(e)) => vec![Finding::error(
                "parse",
                format!("could not be read as {}: {e}", format.as_str()),
            )],
        };
        // A part without rows is no error: the batch as a whole must have some.
        problems.retain(|f| f.check != "rows");
        if problems.iter().any(is_error) {
            return Ok(failed(format, problems.into_iter().map(about).collect()));
        }
        warnings.extend(problems.into_iter().map(about));
    }
    let format = first.as_ref().map_or(Format::Csv, |(_, f, _)| *f);
    if gate.rows == 0 {
        return Ok(failed(
            format,
            vec![Finding::error(
                "rows",
                "the batch's files hold no rows (zero rows are never accepted)",
            )],
        ));
    }
    let read_ms = started.elapsed().as_millis() as u64;
    let mut verdict = gate.finish(baseline)?;
    verdict.findings.extend(warnings);
    for finding in &mut verdict.findings {
        if let Some((file, row)) = finding.row.and_then(|r| locate(&starts, r)) {
            finding.message = format!("{} (in {file}, its row {row})", finding.message);
        }
    }
    Ok(Checked::streamed(format, verdict, read_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{UploadFile, check_upload};

    fn file(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    fn check(
        dir: &Path,
        names: &[&str],
        contract: Option<&Contract>,
        stream_above: u64,
    ) -> Checked {
        let paths: Vec<std::path::PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        let files = paths
            .iter()
            .zip(names)
            .map(|(path, name)| UploadFile {
                path,
                name,
                fingerprint: read::fingerprint(path).unwrap(),
            })
            .collect();
        let dataset = DatasetName::parse("sales").unwrap();
        check_files(files, &dataset, contract, None, dir, stream_above).unwrap()
    }

    #[test]
    fn files_read_as_one_table_conclude_what_the_whole_does() {
        let dir = tempfile::tempdir().unwrap();
        let header = "id,amount,region\n";
        let rows: Vec<String> = (0..3000)
            .map(|i| {
                // Whole numbers in the first file only: the batch's type is float.
                let amount = if i < 1000 {
                    format!("{i}")
                } else {
                    format!("{i}.5")
                };
                format!("{i},{amount},{}\n", ["north", "south"][i % 2])
            })
            .collect();
        let whole = format!("{header}{}", rows.concat());
        file(dir.path(), "whole.csv", whole.as_bytes());
        for (n, chunk) in rows.chunks(1000).enumerate() {
            file(
                dir.path(),
                &format!("part-{n}.csv"),
                format!("{header}{}", chunk.concat()).as_bytes(),
            );
        }
        let parts = ["part-0.csv", "part-1.csv", "part-2.csv"];
        let path = dir.path().join("whole.csv");
        let one = check_upload(
            UploadFile {
                path: &path,
                name: "whole.csv",
                fingerprint: read::fingerprint(&path).unwrap(),
            },
            &DatasetName::parse("sales").unwrap(),
            None,
            None,
            dir.path(),
            u64::MAX,
            &|| {},
        )
        .unwrap()
        .verdict
        .unwrap();
        // Read whole, and streamed file by file.
        for stream_above in [u64::MAX, 1] {
            let many = check(dir.path(), &parts, None, stream_above);
            let verdict = many.verdict.expect("it reads");
            assert!(verdict.accepted(), "{:?}", verdict.findings);
            assert_eq!(verdict.rows, 3000);
            assert_eq!(verdict.profile, one.profile, "stream_above {stream_above}");
            let contract = verdict.inferred_contract.unwrap();
            assert_eq!(contract.column("amount").unwrap().dtype, ColumnType::Float);
        }

        // A finding names the file and its row there.
        let contract = one.inferred_contract.clone().map(|mut c| {
            c.columns[1].max = Some(2000.0);
            c
        });
        let many = check(dir.path(), &parts, contract.as_ref(), u64::MAX);
        let range = many
            .findings
            .iter()
            .find(|f| f.check == "range")
            .expect("a range finding");
        assert_eq!(range.row, Some(2001));
        assert!(
            range.message.contains("(in part-2.csv, its row 1)"),
            "{}",
            range.message
        );
    }

    #[test]
    fn parquet_files_whose_types_disagree_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut ints = df!("id" => [1i64, 2], "x" => [1i64, 2]).unwrap();
        let mut floats = df!("id" => [3i64, 4], "x" => [1.5f64, 2.5]).unwrap();
        for (name, frame) in [("a.parquet", &mut ints), ("b.parquet", &mut floats)] {
            let tmp = read::write_parquet(frame, dir.path()).unwrap();
            std::fs::rename(tmp.path(), dir.path().join(name)).unwrap();
        }
        let checked = check(dir.path(), &["a.parquet", "b.parquet"], None, u64::MAX);
        assert!(checked.verdict.is_none());
        assert_eq!(checked.findings.len(), 1);
        assert_eq!(checked.findings[0].check, "schema");
        assert!(
            checked.findings[0]
                .message
                .contains("b.parquet stores column \"x\" as f64, a.parquet as i64"),
            "{}",
            checked.findings[0].message
        );
    }

    #[test]
    fn a_row_counted_over_all_files_is_found_in_its_file() {
        let starts = vec![("a.csv".to_owned(), 0), ("b.csv".to_owned(), 10)];
        assert_eq!(locate(&starts, 1), Some(("a.csv", 1)));
        assert_eq!(locate(&starts, 10), Some(("a.csv", 10)));
        assert_eq!(locate(&starts, 11), Some(("b.csv", 1)));
    }
}
