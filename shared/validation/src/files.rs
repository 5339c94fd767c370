//! An upload of many files (a batch folder, as Spark and warehouse exports write them) read as
//! one table: the files go through one gate one after the other, each read whole or streamed as
//! a single upload would be, so memory holds one file (or one batch of a large one) at a time.
//!
//! The files can also be cut into shards, each summarised on its own (by another process, or
//! another machine: a SageMaker Processing job's instances) and written to a folder; the shards,
//! merged in their order, conclude what one pass over all the files would, the sketches within
//! their stated error.

use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use tollgate_domain::report::{Finding, Severity};
use tollgate_domain::{ColumnType, Contract, DatasetName};

use crate::read::{self, BatchError, Fingerprint, Format};
use crate::{Baseline, Checked, Gate, GateState, UploadFile, ValidationError};

/// A summarised shard's state, in a folder.
pub const SHARD_FILE: &str = "shard.msgpack";
/// A summarised shard's typed rows, in the same folder.
pub const PART_FILE: &str = "part.parquet";

/// The columns a file's rows came in: names in order, and for Parquet their declared types
/// (a CSV's types are the reader's guess, and the contract settles them).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Shape {
    names: Vec<String>,
    types: Option<Vec<String>>,
}

impl Shape {
    fn of(frame: &DataFrame, format: Format) -> Self {
        Self {
            names: frame
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            types: (format == Format::Parquet)
                .then(|| frame.dtypes().iter().map(|t| t.to_string()).collect()),
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

/// The first file of a batch or shard: its name, format and columns, which every later file
/// must match.
#[derive(Debug, Serialize, Deserialize)]
struct First {
    name: String,
    format: Format,
    shape: Shape,
}

impl First {
    /// Why a file of `format` and `shape` cannot join the batch, if it cannot.
    fn refuses(&self, name: &str, format: Format, shape: &Shape) -> Option<String> {
        if format != self.format {
            return Some(format!(
                "{name} is {}, {} {}: every file of a batch has one format",
                format.as_str(),
                self.name,
                self.format.as_str()
            ));
        }
        shape.differs(name, &self.shape, &self.name)
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
pub fn founding_types(files: &[UploadFile<'_>], stream_above: u64) -> Vec<(String, ColumnType)> {
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

/// Files read through one gate: a whole batch, or one shard of it. Shards merge, in their
/// order, into what one pass would have read, with [`conclude`].
#[derive(Debug)]
pub struct Summarised {
    gate: Gate,
    /// Each file read, and the gate's rows before it.
    starts: Vec<(String, u64)>,
    /// What reading the files warned of, each named by its file.
    warnings: Vec<Finding>,
    first: Option<First>,
    /// Why the files cannot be a version (a file that does not read, or does not match the
    /// first), when they cannot.
    failed: Option<(Format, Vec<Finding>)>,
    read_ms: u64,
}

/// A [`Summarised`] shard as written to its folder.
#[derive(Serialize, Deserialize)]
struct ShardFile {
    state: GateState,
    starts: Vec<(String, u64)>,
    warnings: Vec<Finding>,
    first: Option<First>,
    failed: Option<(Format, Vec<Finding>)>,
    read_ms: u64,
}

impl Summarised {
    /// The rows read.
    pub fn rows(&self) -> u64 {
        self.gate.rows
    }

    /// Writes the shard into `dir`: its state ([`SHARD_FILE`]), its typed rows ([`PART_FILE`])
    /// and each unique column's values ([`crate::checks::is_unique_run`]), the state last, so
    /// that a folder with a state is a whole shard.
    pub fn write(self, dir: &Path) -> Result<(), ValidationError> {
        let (state, part) = self.gate.into_state(dir)?;
        if let Some(part) = part {
            let target = dir.join(PART_FILE);
            part.persist(&target)
                .map_err(|e| ValidationError::io("keeping the shard's rows", &target, e.error))?;
        }
        let file = ShardFile {
            state,
            starts: self.starts,
            warnings: self.warnings,
            first: self.first,
            failed: self.failed,
            read_ms: self.read_ms,
        };
        let bytes = rmp_serde::to_vec_named(&file).map_err(|e| {
            ValidationError::Refused(format!("the shard's state does not encode: {e}"))
        })?;
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ValidationError::io("creating a temporary file", dir, e))?;
        std::fs::write(tmp.path(), bytes)
            .map_err(|e| ValidationError::io("writing", tmp.path(), e))?;
        let target = dir.join(SHARD_FILE);
        tmp.persist(&target)
            .map_err(|e| ValidationError::io("writing", &target, e.error))?;
        Ok(())
    }

    /// Reads the shard a [`Self::write`] left in `dir`.
    pub fn read_shard(
        dir: &Path,
        dataset: &DatasetName,
        contract: Option<&Contract>,
    ) -> Result<Self, ValidationError> {
        let path = dir.join(SHARD_FILE);
        let bytes = std::fs::read(&path).map_err(|e| ValidationError::io("reading", &path, e))?;
        let mut file: ShardFile = rmp_serde::from_slice(&bytes).map_err(|e| {
            ValidationError::Refused(format!("{} is not a shard's state: {e}", path.display()))
        })?;
        file.state
            .checks
            .open_stored(dir)
            .map_err(|e| ValidationError::io("opening a unique column's values in", dir, e))?;
        let part = dir.join(PART_FILE);
        let parts = if part.exists() {
            vec![part]
        } else {
            Vec::new()
        };
        Ok(Self {
            gate: Gate::from_state(dataset, contract, file.state, parts),
            starts: file.starts,
            warnings: file.warnings,
            first: file.first,
            failed: file.failed,
            read_ms: file.read_ms,
        })
    }
}

/// Reads files through one gate, in the order given (name order): a whole batch, or one shard
/// of it. Every file must be CSV or Parquet like the first, with the first's columns in its
/// order (and, for Parquet, its types); one that is not, or does not read, fails the files with
/// its name. A file of `stream_above` bytes or more is streamed in batches. `typing` types the
/// columns when there is no contract (the batch's [`founding_types`]).
pub fn summarise_files(
    files: Vec<UploadFile<'_>>,
    dataset: &DatasetName,
    contract: Option<&Contract>,
    typing: Option<&[(String, ColumnType)]>,
    work_dir: &Path,
    stream_above: u64,
) -> Result<Summarised, ValidationError> {
    let started = Instant::now();
    let mut gate = Gate::streaming(dataset, contract, work_dir);
    if let (None, Some(types)) = (contract, typing) {
        gate.type_as(types);
    }
    let mut summarised = Summarised {
        gate,
        starts: Vec::new(),
        warnings: Vec::new(),
        first: None,
        failed: None,
        read_ms: 0,
    };
    for file in files {
        if let Err(problems) = summarised.read_file(file, contract, stream_above)? {
            summarised.failed = Some(problems);
            break;
        }
    }
    summarised.read_ms = started.elapsed().as_millis() as u64;
    Ok(summarised)
}

impl Summarised {
    /// Reads one file into the gate; `Ok(Err((its format, findings)))` when it fails the files.
    fn read_file(
        &mut self,
        file: UploadFile<'_>,
        contract: Option<&Contract>,
        stream_above: u64,
    ) -> Result<Result<(), (Format, Vec<Finding>)>, ValidationError> {
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
            return Ok(Ok(()));
        }
        self.starts.push((name.to_owned(), self.gate.rows));
        let streamed =
            read::streamable(name, &fingerprint).filter(|_| fingerprint.bytes >= stream_above);
        let Self { gate, first, .. } = self;
        // The shape of each batch against the first file's; the first batch sets it.
        let mut feed = |gate: &mut Gate, format: Format, batch: DataFrame| {
            let shape = Shape::of(&batch, format);
            match first {
                None => {
                    *first = Some(First {
                        name: name.to_owned(),
                        format,
                        shape,
                    })
                }
                Some(first) => {
                    if let Some(m) = first.refuses(name, format, &shape) {
                        return Err(ValidationError::Refused(m));
                    }
                }
            }
            gate.push(&batch)
        };
        let outcome = match streamed {
            Some(format) => {
                let each = |batch: DataFrame| feed(gate, format, batch);
                match format {
                    Format::Parquet => read::parquet_batches(path, each).map(|()| Vec::new()),
                    _ => {
                        let (problems, read) =
                            read::scanned(path, || read::csv_batches(path, contract, false, each))?;
                        read.map(|()| problems)
                    }
                }
                .map(|found| (format, found))
                .map_err(|e| (format, e))
            }
            None => {
                let parsed = read::parse(path, name, &fingerprint, contract)?;
                match parsed.frame {
                    Some(frame) if !parsed.findings.iter().any(is_error) => {
                        feed(gate, parsed.format, frame)
                            .map(|()| (parsed.format, parsed.findings))
                            .map_err(|e| (parsed.format, BatchError::Stopped(e)))
                    }
                    _ => Ok((parsed.format, parsed.findings)),
                }
            }
        };
        let (format, mut problems) = match outcome {
            Ok(read) => read,
            Err((format, BatchError::Stopped(ValidationError::Refused(m)))) => {
                return Ok(Err((format, vec![Finding::error("schema", m)])));
            }
            Err((_, BatchError::Stopped(e))) => return Err(e),
            Err((format, BatchError::Read(e))) => (
                format,
                vec![Finding::error(
                    "parse",
                    format!("could not be read as {}: {e}", format.as_str()),
                )],
            ),
        };
        // A part without rows is no error: the batch as a whole must have some.
        problems.retain(|f| f.check != "rows");
        if problems.iter().any(is_error) {
            return Ok(Err((format, problems.into_iter().map(about).collect())));
        }
        self.warnings.extend(problems.into_iter().map(about));
        Ok(Ok(()))
    }
}

/// Concludes over shards of one batch, merged in the order given (each shard's files in name
/// order): the verdict one pass over all their files would give, rows counted over all of them,
/// a finding's message saying which file and row within it.
pub fn conclude(
    shards: Vec<Summarised>,
    baseline: Option<&Baseline>,
) -> Result<Checked, ValidationError> {
    let mut shards = shards.into_iter();
    let Some(mut whole) = shards.next() else {
        return Err(ValidationError::Refused(
            "no shard to conclude from".to_owned(),
        ));
    };
    let format = |s: &Summarised| s.first.as_ref().map_or(Format::Csv, |f| f.format);
    for shard in shards {
        if let Some((format, problems)) = whole.failed.take() {
            return Ok(Checked::failed(format, problems));
        }
        match (&whole.first, shard.first) {
            (Some(first), Some(theirs)) => {
                if let Some(m) = first.refuses(&theirs.name, theirs.format, &theirs.shape) {
                    return Ok(Checked::failed(
                        first.format,
                        vec![Finding::error("schema", m)],
                    ));
                }
            }
            (None, theirs) => whole.first = theirs,
            (Some(_), None) => {}
        }
        let offset = whole.gate.rows;
        whole.starts.extend(
            shard
                .starts
                .into_iter()
                .map(|(name, start)| (name, start + offset)),
        );
        whole.warnings.extend(shard.warnings);
        whole.failed = shard.failed;
        whole.read_ms = whole.read_ms.max(shard.read_ms);
        match whole.gate.merge(shard.gate) {
            Err(ValidationError::Refused(m)) => {
                return Ok(Checked::failed(
                    format(&whole),
                    vec![Finding::error("schema", m)],
                ));
            }
            other => other?,
        }
    }
    if let Some((format, problems)) = whole.failed {
        return Ok(Checked::failed(format, problems));
    }
    let format = format(&whole);
    if whole.gate.rows == 0 {
        return Ok(Checked::failed(
            format,
            vec![Finding::error(
                "rows",
                "the batch's files hold no rows (zero rows are never accepted)",
            )],
        ));
    }
    let mut verdict = whole.gate.finish(baseline)?;
    verdict.findings.extend(whole.warnings);
    for finding in &mut verdict.findings {
        if let Some((file, row)) = finding.row.and_then(|r| locate(&whole.starts, r)) {
            finding.message = format!("{} (in {file}, its row {row})", finding.message);
        }
    }
    Ok(Checked::streamed(format, verdict, whole.read_ms))
}

/// Reads and judges an upload of many files as one table, in the order given (name order), in
/// this process: [`summarise_files`] over all of them, then [`conclude`].
pub fn check_files(
    files: Vec<UploadFile<'_>>,
    dataset: &DatasetName,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
    work_dir: &Path,
    stream_above: u64,
) -> Result<Checked, ValidationError> {
    let typing = contract
        .is_none()
        .then(|| founding_types(&files, stream_above));
    let summarised = summarise_files(
        files,
        dataset,
        contract,
        typing.as_deref(),
        work_dir,
        stream_above,
    )?;
    conclude(vec![summarised], baseline)
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

    /// Summarises `groups` of files each into its own folder, as separate processes do, and
    /// concludes from the folders.
    fn sharded(
        dir: &Path,
        groups: &[&[&str]],
        contract: Option<&Contract>,
        typing: Option<&[(String, ColumnType)]>,
    ) -> Checked {
        let dataset = DatasetName::parse("sales").unwrap();
        let mut shards = Vec::new();
        for (i, names) in groups.iter().enumerate() {
            let out = dir.join(format!("shard-{i}"));
            std::fs::create_dir_all(&out).unwrap();
            let paths: Vec<std::path::PathBuf> = names.iter().map(|n| dir.join(n)).collect();
            let files = paths
                .iter()
                .zip(names.iter())
                .map(|(path, name)| UploadFile {
                    path,
                    name,
                    fingerprint: read::fingerprint(path).unwrap(),
                })
                .collect();
            summarise_files(files, &dataset, contract, typing, &out, 1)
                .unwrap()
                .write(&out)
                .unwrap();
            shards.push(Summarised::read_shard(&out, &dataset, contract).unwrap());
        }
        conclude(shards, None).unwrap()
    }

    #[test]
    fn shards_summarised_apart_conclude_what_one_pass_does() {
        let dir = tempfile::tempdir().unwrap();
        let header = "id,amount,region\n";
        let rows: Vec<String> = (0..3000)
            .map(|i| {
                let amount = if i < 1000 {
                    format!("{i}")
                } else {
                    format!("{i}.5")
                };
                // One id repeats across files: row 2500 (part-2's 500th) repeats row 10.
                let id = if i == 2499 { 9 } else { i };
                format!("{id},{amount},{}\n", ["north", "south"][i % 2])
            })
            .collect();
        let names = ["part-0.csv", "part-1.csv", "part-2.csv"];
        for (n, chunk) in rows.chunks(1000).enumerate() {
            file(
                dir.path(),
                names[n],
                format!("{header}{}", chunk.concat()).as_bytes(),
            );
        }
        let one = check(dir.path(), &names, None, u64::MAX);
        let one_verdict = one.verdict.unwrap();
        // Founding: typed by the whole batch's types, given to every shard.
        let paths: Vec<std::path::PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
        let files: Vec<UploadFile> = paths
            .iter()
            .zip(names)
            .map(|(path, name)| UploadFile {
                path,
                name,
                fingerprint: read::fingerprint(path).unwrap(),
            })
            .collect();
        let typing = founding_types(&files, u64::MAX);
        let many = sharded(dir.path(), &[&names[..1], &names[1..]], None, Some(&typing));
        let verdict = many.verdict.expect("it reads");
        assert_eq!(verdict.rows, 3000);
        assert_eq!(verdict.profile, one_verdict.profile);
        assert_eq!(verdict.schema, one_verdict.schema);
        // The parts' rows, in order, are the version's data.
        let data = verdict.data.into_parquet(dir.path()).unwrap();
        let frame = read::read_parquet(data.path()).unwrap();
        assert_eq!(frame.height(), 3000);
        assert_eq!(
            frame.column("amount").unwrap().f64().unwrap().get(2999),
            Some(2999.5)
        );

        // With the contract: the repeat across shards is found, at its row.
        let mut contract = one_verdict.inferred_contract.unwrap();
        contract.columns[0].unique = true;
        contract.columns[1].max = Some(1500.0);
        let whole = check(dir.path(), &names, Some(&contract), u64::MAX);
        let split = sharded(
            dir.path(),
            &[&names[..2], &names[2..]],
            Some(&contract),
            None,
        );
        assert_eq!(split.findings, whole.findings);
        let unique = split.findings.iter().find(|f| f.check == "unique").unwrap();
        assert_eq!(unique.row, Some(2500), "{}", unique.message);
        assert!(
            unique.message.contains("(in part-2.csv, its row 500)"),
            "{}",
            unique.message
        );

        // A shard whose files have other columns is refused with the file named.
        file(dir.path(), "part-3.csv", b"id,amount\n1,2\n");
        let mixed = sharded(
            dir.path(),
            &[&names[..1], &["part-3.csv"]],
            Some(&contract),
            None,
        );
        assert!(mixed.verdict.is_none());
        assert!(
            mixed.findings[0]
                .message
                .contains("part-3.csv has no column [\"region\"]"),
            "{}",
            mixed.findings[0].message
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
