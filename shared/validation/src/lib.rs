//! The data gate: an upload is read (CSV, gzip-compressed or not, JSON Lines, Parquet), typed,
//! checked against its dataset's contract, profiled column by column, and compared with the
//! previous accepted version for drift. Everything it finds goes into the report; nothing here
//! decides where files go (that is the ingest handler's job).
//!
//! Heavy (polars): only the ingest and monitor functions and the CLI link it.

pub mod checks;
pub mod columns;
mod error;
mod files;
pub mod profile;
pub mod read;
mod spill;
pub mod split;
pub mod summary;
/// The drift statistics, on plain slices (their own crate, shared with the model tests).
pub use tollgate_stats as stats;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use rayon::prelude::*;
use tollgate_domain::dataset::SchemaColumn;
use tollgate_domain::report::{DatasetProfile, DriftReport, Finding, Severity};
use tollgate_domain::{ColumnType, Contract, DatasetName, DriftAction, DriftThresholds};

pub use checks::is_unique_run;
pub use columns::TypedColumn;
pub use error::ValidationError;
pub use files::{
    PART_FILE, SHARD_FILE, Summarised, check_files, conclude, founding_types, summarise_files,
};
pub use profile::Values;
pub use read::{Fingerprint, Format};
pub use summary::ColumnSummary;

/// An upload read: its fingerprint, its format, and its frame when it parsed.
#[derive(Debug)]
pub struct Inspection {
    pub fingerprint: Fingerprint,
    pub format: Format,
    pub frame: Option<DataFrame>,
    pub findings: Vec<Finding>,
    pub timings_ms: BTreeMap<String, u64>,
}

/// Hashes and parses an upload. `contract` gives the types to read columns as.
pub fn inspect(
    path: &Path,
    file_name: &str,
    contract: Option<&Contract>,
) -> Result<Inspection, ValidationError> {
    let started = Instant::now();
    let fingerprint = read::fingerprint(path)?;
    let hashed_ms = started.elapsed().as_millis() as u64;
    let mut inspection = inspect_fingerprinted(path, file_name, fingerprint, contract)?;
    inspection.timings_ms.insert("hash".to_owned(), hashed_ms);
    Ok(inspection)
}

/// Parses an upload whose fingerprint is already known (the handler hashes first, to spot a
/// duplicate before parsing anything).
pub fn inspect_fingerprinted(
    path: &Path,
    file_name: &str,
    fingerprint: Fingerprint,
    contract: Option<&Contract>,
) -> Result<Inspection, ValidationError> {
    let started = Instant::now();
    let parsed = read::parse(path, file_name, &fingerprint, contract)?;
    let timings_ms = BTreeMap::from([("parse".to_owned(), started.elapsed().as_millis() as u64)]);
    Ok(Inspection {
        fingerprint,
        format: parsed.format,
        frame: parsed.frame,
        findings: parsed.findings,
        timings_ms,
    })
}

/// Uploads at least this large are streamed in batches rather than read whole
/// (`TOLLGATE_STREAM_ABOVE_BYTES` overrides it): below it, reading whole is faster; above it,
/// memory stays flat however large the file.
pub const STREAM_ABOVE_BYTES: u64 = 512 * 1024 * 1024;

/// The streaming threshold in force: `TOLLGATE_STREAM_ABOVE_BYTES`, or [`STREAM_ABOVE_BYTES`].
pub fn stream_above() -> u64 {
    std::env::var("TOLLGATE_STREAM_ABOVE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(STREAM_ABOVE_BYTES)
}

/// An upload through the whole gate: read, typed, checked, profiled, compared.
#[derive(Debug)]
pub struct Checked {
    pub format: Format,
    /// Everything found, reading included.
    pub findings: Vec<Finding>,
    /// `None` when the upload did not parse.
    pub verdict: Option<Verdict>,
    pub timings_ms: BTreeMap<String, u64>,
}

impl Checked {
    /// An upload that did not read, and why.
    fn failed(format: Format, findings: Vec<Finding>) -> Self {
        Self {
            format,
            findings,
            verdict: None,
            timings_ms: BTreeMap::new(),
        }
    }

    /// A streamed upload's verdict, with the time its read took.
    fn streamed(format: Format, verdict: Verdict, read_ms: u64) -> Self {
        let mut timings_ms = verdict.timings_ms.clone();
        timings_ms.insert("streamed".to_owned(), read_ms);
        Self {
            format,
            findings: verdict.findings.clone(),
            verdict: Some(verdict),
            timings_ms,
        }
    }
}

/// An upload on disk: where, its name as uploaded (formats are told by it), its fingerprint.
#[derive(Debug)]
pub struct UploadFile<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub fingerprint: Fingerprint,
}

/// Reads and judges an upload whose fingerprint is known. A plain CSV or Parquet file of
/// `stream_above` bytes or more ([`stream_above`]) streams through the gate in batches, its Parquet copy written as it
/// goes (into `work_dir`); anything else is read whole. `on_checking` is called once reading
/// is done and checking starts (for a streamed upload, at once: they go together).
pub fn check_upload(
    upload: UploadFile<'_>,
    dataset: &DatasetName,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
    work_dir: &Path,
    stream_above: u64,
    on_checking: &dyn Fn(),
) -> Result<Checked, ValidationError> {
    let UploadFile {
        path,
        name: file_name,
        fingerprint,
    } = upload;
    if fingerprint.bytes >= stream_above
        && let Some(format) = read::streamable(file_name, &fingerprint)
    {
        // Reading and checking go together, batch by batch.
        on_checking();
        return check_streamed(path, format, dataset, contract, baseline, work_dir);
    }
    let inspection = inspect_fingerprinted(path, file_name, fingerprint, contract)?;
    on_checking();
    let mut findings = inspection.findings;
    let mut timings_ms = inspection.timings_ms;
    let verdict = inspection
        .frame
        .map(|frame| evaluate(dataset, &frame, contract, baseline));
    if let Some(v) = &verdict {
        findings.extend(v.findings.iter().cloned());
        timings_ms.extend(v.timings_ms.clone());
    }
    Ok(Checked {
        format: inspection.format,
        findings,
        verdict,
        timings_ms,
    })
}

fn check_streamed(
    path: &Path,
    format: Format,
    dataset: &DatasetName,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
    work_dir: &Path,
) -> Result<Checked, ValidationError> {
    let started = Instant::now();
    let failed = |findings: Vec<Finding>| Checked::failed(format, findings);
    let run = |as_text: bool| -> Result<Gate, read::BatchError> {
        let mut gate = Gate::streaming(dataset, contract, work_dir);
        let each = |batch: DataFrame| gate.push(&batch);
        match format {
            Format::Parquet => {
                // As for a Parquet upload read whole, a reader's panic on a malformed file
                // is that file's finding.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    read::parquet_batches(path, each)
                }))
                .unwrap_or_else(|_| {
                    Err(read::BatchError::Read(PolarsError::ComputeError(
                        "its data is malformed (the reader stopped)".into(),
                    )))
                })?
            }
            _ => read::csv_batches(path, contract, as_text, each)?,
        }
        Ok(gate)
    };
    let read_error = |e: read::BatchError| match e {
        read::BatchError::Read(e) => Ok(e),
        read::BatchError::Stopped(e) => Err(e),
    };
    let gate = match format {
        Format::Parquet => match run(false) {
            Ok(gate) => gate,
            Err(e) => {
                let e = read_error(e)?;
                return Ok(failed(vec![Finding::error(
                    "parse",
                    format!("not a readable Parquet file: {e}"),
                )]));
            }
        },
        _ => {
            // The text is scanned (UTF-8, control characters, record shape) on one thread while
            // the gate reads it on the others; what the scan finds wins.
            let (problems, gate) = read::scanned(path, || match run(false) {
                Ok(gate) => Ok(gate),
                // A value that does not parse as its type: read again as text, so that
                // typing can say which row holds it.
                Err(read::BatchError::Read(first)) => run(true).map_err(|e| (first, e)),
                Err(e) => Err((PolarsError::NoData("".into()), e)),
            })?;
            if !problems.is_empty() {
                return Ok(failed(problems));
            }
            match gate {
                Ok(gate) => gate,
                Err((first, e)) => {
                    read_error(e)?;
                    return Ok(failed(vec![Finding::error(
                        "parse",
                        format!("the CSV could not be parsed: {first}"),
                    )]));
                }
            }
        }
    };
    let read_ms = started.elapsed().as_millis() as u64;
    if gate.rows == 0 {
        return Ok(failed(vec![Finding::error(
            "rows",
            "the file holds no rows (zero rows are never accepted)",
        )]));
    }
    Ok(Checked::streamed(format, gate.finish(baseline)?, read_ms))
}

/// The previous accepted version, as drift needs it: a summary of each column.
#[derive(Debug)]
pub struct Baseline {
    pub version: u32,
    pub summaries: Vec<ColumnSummary>,
}

impl Baseline {
    /// Summaries as a version keeps them, for [`Self::decode`].
    pub fn encode(summaries: &[ColumnSummary]) -> Vec<u8> {
        rmp_serde::to_vec_named(summaries).expect("summaries always encode")
    }

    /// A version's summaries as [`Self::encode`] kept them.
    pub fn decode(bytes: &[u8], version: u32) -> Result<Self, ValidationError> {
        let summaries = rmp_serde::from_slice(bytes).map_err(|e| {
            ValidationError::Refused(format!("version {version}'s summaries do not read: {e}"))
        })?;
        Ok(Self { version, summaries })
    }

    /// Summarises a stored version's Parquet data batch by batch, so that memory stays flat
    /// however many rows it holds.
    pub fn from_parquet(
        path: &Path,
        version: u32,
        contract: Option<&Contract>,
    ) -> Result<Self, ValidationError> {
        let mut summaries: Vec<ColumnSummary> = Vec::new();
        read::parquet_batches(path, |batch| {
            let (typed, _) = columns::conform(&batch, contract);
            let values: Vec<Values> = typed.par_iter().map(Values::of).collect();
            for (col, v) in typed.iter().zip(&values) {
                summary_for(&mut summaries, col).add(col.series.len() as u64, col.nulls(), v);
            }
            Ok(())
        })
        .map_err(|e| match e {
            read::BatchError::Read(source) => ValidationError::Polars {
                context: format!("reading version {version} from {}", path.display()),
                source,
            },
            read::BatchError::Stopped(e) => e,
        })?;
        summaries.par_iter_mut().for_each(ColumnSummary::finish);
        Ok(Self { version, summaries })
    }
}

/// The summary of `col`'s column, made on its first batch.
fn summary_for<'a>(
    summaries: &'a mut Vec<ColumnSummary>,
    col: &TypedColumn,
) -> &'a mut ColumnSummary {
    let index = match summaries.iter().position(|s| s.name == col.name) {
        Some(i) => i,
        None => {
            summaries.push(ColumnSummary::new(col.name.clone(), col.dtype));
            summaries.len() - 1
        }
    };
    &mut summaries[index]
}

/// An accepted version's data, typed: a frame still to write, or Parquet already written batch
/// by batch (a streamed upload).
#[derive(Debug)]
pub enum VersionData {
    Frame(DataFrame),
    Parquet(tempfile::NamedTempFile),
    /// Parquet files written by the shards of a summarised dataset, in row order.
    Parts(Vec<std::path::PathBuf>),
}

impl VersionData {
    /// The data as a Parquet file in `dir` (written now for a frame; for parts, their batches
    /// copied one after the other into one file).
    pub fn into_parquet(self, dir: &Path) -> Result<tempfile::NamedTempFile, ValidationError> {
        match self {
            Self::Frame(mut frame) => read::write_parquet(&mut frame, dir),
            Self::Parquet(file) => Ok(file),
            Self::Parts(parts) => {
                let mut sink = Sink::Parquet {
                    dir: dir.to_path_buf(),
                    file: None,
                    writer: None,
                };
                for part in &parts {
                    read::parquet_batches(part, |mut batch| {
                        batch.align_chunks_par();
                        sink.write(&batch)
                    })
                    .map_err(|e| match e {
                        read::BatchError::Stopped(e) => e,
                        read::BatchError::Read(e) => ValidationError::Polars {
                            context: format!("reading the part {}", part.display()),
                            source: e,
                        },
                    })?;
                }
                match sink.close()? {
                    VersionData::Parquet(file) => Ok(file),
                    _ => read::write_parquet(&mut DataFrame::default(), dir),
                }
            }
        }
    }
}

/// What a gate has gathered over some rows, without the rows: what one shard of a dataset
/// hands to the step that merges the shards ([`Gate::merge`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct GateState {
    rows: u64,
    columns: u64,
    summaries: Vec<ColumnSummary>,
    checks: checks::Checks,
    /// Type findings, once per column, at their row in these rows.
    findings: Vec<Finding>,
    timings_us: BTreeMap<String, u64>,
}

/// What the gate concluded about an upload that parsed.
#[derive(Debug)]
pub struct Verdict {
    pub rows: u64,
    /// The columns of the file as read, before the contract's (an extra column counts).
    pub columns: u64,
    pub findings: Vec<Finding>,
    pub profile: DatasetProfile,
    pub drift: Option<DriftReport>,
    pub schema: Vec<SchemaColumn>,
    /// The contract this upload would found, when there is none yet.
    pub inferred_contract: Option<Contract>,
    /// The typed data, to be stored as Parquet when accepted.
    pub data: VersionData,
    /// The columns' summaries, for the next version's drift ([`Baseline::encode`]).
    pub summaries: Vec<ColumnSummary>,
    pub timings_ms: BTreeMap<String, u64>,
}

impl Verdict {
    pub fn accepted(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

type ParquetBatches = polars::io::parquet::write::BatchedWriter<std::io::BufWriter<std::fs::File>>;

/// Where a gate's typed batches go.
enum Sink {
    /// Kept whole (an upload read in one piece).
    Frame(Option<DataFrame>),
    /// Written as Parquet as they come (a streamed upload).
    Parquet {
        dir: std::path::PathBuf,
        file: Option<tempfile::NamedTempFile>,
        writer: Option<Box<ParquetBatches>>,
    },
    /// Already written, by the shards this gate merged.
    Parts(Vec<std::path::PathBuf>),
}

impl Sink {
    /// Keeps one typed batch.
    fn write(&mut self, batch: &DataFrame) -> Result<(), ValidationError> {
        match self {
            Sink::Frame(kept) => match kept {
                Some(kept) => {
                    kept.vstack_mut(batch)
                        .map_err(|e| ValidationError::Polars {
                            context: "joining batches".to_owned(),
                            source: e,
                        })?;
                }
                None => *kept = Some(batch.clone()),
            },
            Sink::Parquet { dir, file, writer } => {
                let polars_error =
                    |context: String| move |e| ValidationError::Polars { context, source: e };
                if writer.is_none() {
                    let tmp = tempfile::NamedTempFile::new_in(&*dir)
                        .map_err(|e| ValidationError::io("creating a temporary file", dir, e))?;
                    let out = tmp
                        .reopen()
                        .map_err(|e| ValidationError::io("opening", tmp.path(), e))?;
                    let context = format!("writing Parquet to {}", tmp.path().display());
                    *writer = Some(Box::new(
                        ParquetWriter::new(std::io::BufWriter::new(out))
                            .with_compression(ParquetCompression::Snappy)
                            .batched(batch.schema())
                            .map_err(polars_error(context))?,
                    ));
                    *file = Some(tmp);
                }
                if let Some(w) = writer {
                    // One row group a batch: the writer makes a row group of each chunk, and the
                    // CSV reader's chunks are some 14,000 rows, whose pages' headers the writer
                    // keeps to the end of the file (350 MB of them over 100M rows).
                    let mut group = batch.clone();
                    group.rechunk_mut_par();
                    w.write_batch(&group)
                        .map_err(polars_error("writing a Parquet batch".to_owned()))?;
                }
            }
            Sink::Parts(_) => {
                return Err(ValidationError::Refused(
                    "a gate of merged shards takes no more rows".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// What was kept, once the last batch is in.
    fn close(self) -> Result<VersionData, ValidationError> {
        Ok(match self {
            Sink::Frame(frame) => VersionData::Frame(frame.unwrap_or_default()),
            Sink::Parquet { file, writer, .. } => {
                if let Some(w) = &writer {
                    w.finish().map_err(|e| ValidationError::Polars {
                        context: "finishing the Parquet copy".to_owned(),
                        source: e,
                    })?;
                }
                match file {
                    Some(file) => VersionData::Parquet(file),
                    None => VersionData::Frame(DataFrame::default()),
                }
            }
            Sink::Parts(parts) => VersionData::Parts(parts),
        })
    }
}

/// The data gate over an upload's batches: each batch is typed, checked and summarised as it
/// comes, so that what is held is the summaries, never the rows (except an upload read whole).
pub struct Gate {
    dataset: DatasetName,
    contract: Option<Contract>,
    /// Without a contract: the types the first batch was read as, for the batches after it.
    typing: Option<Contract>,
    rows: u64,
    columns: u64,
    summaries: Vec<ColumnSummary>,
    checks: checks::Checks,
    findings: Vec<Finding>,
    sink: Sink,
    timings_us: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("dataset", &self.dataset)
            .field("rows", &self.rows)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl Gate {
    fn new(dataset: &DatasetName, contract: Option<&Contract>, sink: Sink) -> Self {
        Self {
            dataset: dataset.clone(),
            contract: contract.cloned(),
            typing: None,
            rows: 0,
            columns: 0,
            summaries: Vec::new(),
            checks: checks::Checks::default(),
            findings: Vec::new(),
            sink,
            timings_us: BTreeMap::new(),
        }
    }

    /// A gate that writes the typed batches as Parquet into a temporary file in `dir`.
    /// A unique column's values past a window go to runs in `dir` too.
    pub fn streaming(dataset: &DatasetName, contract: Option<&Contract>, dir: &Path) -> Self {
        let mut gate = Self::new(
            dataset,
            contract,
            Sink::Parquet {
                dir: dir.to_path_buf(),
                file: None,
                writer: None,
            },
        );
        gate.checks.spill_to(dir);
        gate
    }

    /// Without a contract, the types every batch's columns are read as (by default, the first
    /// batch's).
    fn type_as(&mut self, types: &[(String, ColumnType)]) {
        let rules = types
            .iter()
            .map(|(name, dtype)| tollgate_domain::ColumnContract {
                name: name.clone(),
                dtype: *dtype,
                nullable: true,
                max_null_fraction: None,
                min: None,
                max: None,
                allowed_values: None,
                unique: false,
            })
            .collect();
        let mut typing = Contract::new(self.dataset.clone(), rules);
        typing.allow_extra_columns = true;
        self.typing = Some(typing);
    }

    /// What this gate gathered, and the Parquet it wrote (a streaming gate's, once it has rows).
    /// A gate kept in memory writes its rows into `dir`; each unique column's values go to a
    /// run in `dir` ([`checks::Checks::store`]), for the merge of shards to read.
    pub fn into_state(
        mut self,
        dir: &Path,
    ) -> Result<(GateState, Option<tempfile::NamedTempFile>), ValidationError> {
        self.checks
            .store(dir)
            .map_err(|e| ValidationError::io("writing a unique column's values to", dir, e))?;
        let part = match self.sink.close()? {
            VersionData::Parquet(file) => Some(file),
            VersionData::Frame(mut frame) if frame.height() > 0 => {
                Some(read::write_parquet(&mut frame, dir)?)
            }
            _ => None,
        };
        let state = GateState {
            rows: self.rows,
            columns: self.columns,
            summaries: self.summaries,
            checks: self.checks,
            findings: self.findings,
            timings_us: self.timings_us,
        };
        Ok((state, part))
    }

    /// A gate holding what a shard gathered, its rows in `parts`; more shards are merged in with
    /// [`Self::merge`], and [`Self::finish`] concludes over all of them.
    pub fn from_state(
        dataset: &DatasetName,
        contract: Option<&Contract>,
        state: GateState,
        parts: Vec<std::path::PathBuf>,
    ) -> Self {
        let mut gate = Self::new(dataset, contract, Sink::Parts(parts));
        gate.rows = state.rows;
        gate.columns = state.columns;
        gate.summaries = state.summaries;
        gate.checks = state.checks;
        gate.findings = state.findings;
        gate.timings_us = state.timings_us;
        gate
    }

    /// Adds the shard of the rows after this gate's, as if its rows had come as further
    /// batches: counts, summaries and checks merge, and its rows are numbered after these.
    pub fn merge(&mut self, other: Gate) -> Result<(), ValidationError> {
        let offset = self.rows;
        match (&mut self.sink, other.sink) {
            (Sink::Parts(mine), Sink::Parts(theirs)) => mine.extend(theirs),
            _ => {
                return Err(ValidationError::Refused(
                    "only gates of shards merge (Gate::from_state)".to_owned(),
                ));
            }
        }
        for f in other.findings {
            if !self
                .findings
                .iter()
                .any(|g| g.check == f.check && g.column == f.column)
            {
                let row = f.row.map(|r| r + offset);
                self.findings.push(Finding { row, ..f });
            }
        }
        self.checks.merge(other.checks, offset);
        for theirs in other.summaries {
            match self.summaries.iter_mut().find(|s| s.name == theirs.name) {
                Some(mine) => {
                    // Shards typed on their own (no contract yet): whole numbers in one and
                    // decimals in another are floats; any other difference cannot be merged.
                    if mine.dtype != theirs.dtype {
                        if !(mine.dtype.is_numeric() && theirs.dtype.is_numeric()) {
                            return Err(ValidationError::Refused(format!(
                                "column {:?} reads as {:?} in one shard and {:?} in another: \
                                 give the dataset a contract that types it",
                                mine.name, mine.dtype, theirs.dtype
                            )));
                        }
                        mine.dtype = ColumnType::Float;
                    }
                    mine.merge(&theirs);
                }
                None => self.summaries.push(theirs),
            }
        }
        if self.rows == 0 {
            self.columns = other.columns;
        }
        self.rows += other.rows;
        for (step, us) in other.timings_us {
            *self.timings_us.entry(step).or_insert(0) += us;
        }
        Ok(())
    }

    /// Adds a step's time, in microseconds so that many short batches add up (reported in ms).
    fn time(&mut self, step: &str, started: Instant) {
        *self.timings_us.entry(step.to_owned()).or_insert(0) +=
            started.elapsed().as_micros() as u64;
    }

    /// Types, checks and summarises one batch of rows.
    pub fn push(&mut self, frame: &DataFrame) -> Result<(), ValidationError> {
        let started = Instant::now();
        let offset = self.rows;
        let first = self.rows == 0 && self.summaries.is_empty();
        let (typed, findings) =
            columns::conform(frame, self.contract.as_ref().or(self.typing.as_ref()));
        if first {
            self.columns = frame.width() as u64;
            if self.contract.is_none() && self.typing.is_none() {
                let types: Vec<(String, ColumnType)> =
                    typed.iter().map(|c| (c.name.clone(), c.dtype)).collect();
                self.type_as(&types);
            }
        }
        // A type finding is kept once per column: the first row it was found in.
        for f in findings {
            let seen = self
                .findings
                .iter()
                .any(|g| g.check == f.check && g.column == f.column);
            if !seen {
                let row = f.row.map(|r| r + offset);
                self.findings.push(Finding { row, ..f });
            }
        }
        self.time("typing", started);

        let started = Instant::now();
        let values: Vec<Values> = typed.par_iter().map(Values::of).collect();
        self.time("values", started);
        let started = Instant::now();
        self.checks
            .batch(&typed, &values, offset, self.contract.as_ref())
            .map_err(|e| {
                ValidationError::io(
                    "spilling a unique column's values to",
                    &self.checks.spill_dir(),
                    e,
                )
            })?;
        self.time("checks", started);
        let started = Instant::now();
        // Each column's summary is its own: they are fed in parallel.
        let mut fed: Vec<(&mut ColumnSummary, &TypedColumn, &Values)> = Vec::new();
        for col in &typed {
            summary_for(&mut self.summaries, col);
        }
        for summary in &mut self.summaries {
            if let Some(i) = typed.iter().position(|c| c.name == summary.name) {
                fed.push((summary, &typed[i], &values[i]));
            }
        }
        fed.into_par_iter()
            .for_each(|(summary, col, v)| summary.add(col.series.len() as u64, col.nulls(), v));
        self.time("profile", started);
        drop(values);
        self.rows += frame.height() as u64;

        let started = Instant::now();
        let mut batch = DataFrame::new(
            frame.height(),
            typed.into_iter().map(|c| c.series.into_column()).collect(),
        )
        .unwrap_or_else(|_| frame.clone());
        // The Parquet writer takes columns chunked alike (typing may have rechunked some).
        batch.align_chunks_par();
        self.sink.write(&batch)?;
        self.time("parquet", started);
        Ok(())
    }

    /// Profiles, compares with the baseline, and concludes.
    pub fn finish(mut self, baseline: Option<&Baseline>) -> Result<Verdict, ValidationError> {
        let started = Instant::now();
        self.checks.settle().map_err(|e| {
            ValidationError::io(
                "merging a unique column's spilled values in",
                &self.checks.spill_dir(),
                e,
            )
        })?;
        self.summaries
            .par_iter_mut()
            .for_each(ColumnSummary::finish);
        let rows = self.rows;
        // A first version founds the contract; its columns take the contract's types from the
        // start.
        let inferred_contract = self
            .contract
            .is_none()
            .then(|| checks::infer_contract(&self.dataset, &self.summaries, rows));
        let mut to_float = Vec::new();
        if let Some(inferred) = &inferred_contract {
            for s in &mut self.summaries {
                if let Some(rule) = inferred.column(&s.name)
                    && rule.dtype == ColumnType::Float
                    && s.dtype == ColumnType::Integer
                {
                    s.dtype = ColumnType::Float;
                    to_float.push(s.name.clone());
                }
            }
        }
        let mut findings = std::mem::take(&mut self.findings);
        findings.extend(
            self.checks
                .findings(&self.summaries, rows, self.contract.as_ref()),
        );
        self.time("checks", started);

        let started = Instant::now();
        let profile = DatasetProfile {
            rows,
            columns: self.summaries.par_iter().map(profile::profile).collect(),
        };
        self.time("profile", started);

        let started = Instant::now();
        let default_thresholds = DriftThresholds::default();
        let thresholds = self
            .contract
            .as_ref()
            .map(|c| &c.drift)
            .unwrap_or(&default_thresholds);
        let drift =
            baseline.map(|b| profile::drift(b.version, &b.summaries, &self.summaries, thresholds));
        if let Some(d) = &drift {
            findings.extend(drift_findings(d, thresholds));
        }
        self.time("drift", started);

        let in_force = self.contract.as_ref().or(inferred_contract.as_ref());
        let schema = self
            .summaries
            .iter()
            .map(|s| {
                let rule = in_force.and_then(|k| k.column(&s.name));
                SchemaColumn {
                    name: s.name.clone(),
                    dtype: rule.map(|r| r.dtype).unwrap_or(s.dtype),
                    nullable: rule.map(|r| r.nullable).unwrap_or(s.nulls > 0),
                }
            })
            .collect();
        let data = match self.sink.close()? {
            VersionData::Frame(mut frame) => {
                for name in &to_float {
                    if let Ok(col) = frame.column(name)
                        && let Ok(cast) = col.cast(&DataType::Float64)
                    {
                        let _ = frame.with_column(cast);
                    }
                }
                VersionData::Frame(frame)
            }
            other => other,
        };
        Ok(Verdict {
            rows,
            columns: self.columns,
            findings,
            profile,
            drift,
            schema,
            inferred_contract,
            data,
            summaries: self.summaries,
            timings_ms: self
                .timings_us
                .into_iter()
                .map(|(step, us)| (step, us / 1000))
                .collect(),
        })
    }
}

fn drift_findings(d: &DriftReport, thresholds: &DriftThresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (column, cd) in &d.columns {
        if cd.exceeded.is_empty() {
            continue;
        }
        let detail = cd
            .exceeded
            .iter()
            .map(|s| {
                format!(
                    "{s} {:.4} > {}",
                    cd.statistics[s],
                    thresholds.for_statistic(s).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!("drift against v{}: {detail}", d.baseline_version);
        let finding = match thresholds.action {
            DriftAction::Warn => Finding::warning("drift", message),
            DriftAction::Reject => Finding::error("drift", message),
        };
        findings.push(finding.column(column.clone()));
    }
    findings
}

/// Types, checks, profiles and compares a parsed frame (an upload read whole).
pub fn evaluate(
    dataset: &DatasetName,
    frame: &DataFrame,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
) -> Verdict {
    // A gate kept in memory writes nothing and joins no batches: it cannot fail.
    let mut gate = Gate::new(dataset, contract, Sink::Frame(None));
    gate.push(frame).expect("one batch kept in memory");
    gate.finish(baseline).expect("a gate kept in memory")
}

/// Writes an accepted version's data as Parquet into a temporary file in `dir`.
pub fn to_parquet(
    frame: &mut DataFrame,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, ValidationError> {
    read::write_parquet(frame, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_domain::ColumnType;

    fn verdict(csv: &str, contract: Option<&Contract>) -> Verdict {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        let inspection = inspect(file.path(), "upload.csv", contract).unwrap();
        assert!(inspection.findings.is_empty(), "{:?}", inspection.findings);
        let dataset = DatasetName::parse("penguins").unwrap();
        evaluate(&dataset, &inspection.frame.unwrap(), contract, None)
    }

    /// As R's `write.csv` writes them: `NA` unquoted, text quoted.
    const R_EXPORT: &str = "\"species\",\"bill_length_mm\",\"sex\"\n\
        \"Adelie\",39.1,\"male\"\n\"Adelie\",NA,NA\n\"Gentoo\",46.5,\"female\"\n\
        \"Gentoo\",?,\"female\"\n\"Chinstrap\",N/A,\"male\"\n";

    #[test]
    fn the_common_spellings_of_missing_make_a_nullable_number_and_go_into_the_contract() {
        let v = verdict(R_EXPORT, None);
        assert!(v.accepted(), "{:?}", v.findings);
        let contract = v.inferred_contract.unwrap();
        let bill = contract.column("bill_length_mm").unwrap();
        assert_eq!((bill.dtype, bill.nullable), (ColumnType::Float, true));
        let sex = contract.column("sex").unwrap();
        assert_eq!((sex.dtype, sex.nullable), (ColumnType::String, true));
        assert_eq!(contract.null_values, tollgate_domain::contract::NULL_VALUES);
        assert_eq!(v.profile.column("bill_length_mm").unwrap().nulls, 3);
        let text = contract.to_toml();
        assert!(text.contains("null_values = ["), "{text}");
    }

    #[test]
    fn a_later_upload_reads_the_contracts_tokens_and_a_token_outside_them_is_a_finding() {
        let mut contract = verdict(R_EXPORT, None).inferred_contract.unwrap();
        let later = "species,bill_length_mm,sex\nAdelie,40.2,male\nGentoo,NA,female\n";
        assert!(verdict(later, Some(&contract)).accepted());

        let unknown = "species,bill_length_mm,sex\nAdelie,40.2,male\nGentoo,missing,female\n";
        let v = verdict(unknown, Some(&contract));
        let finding = v
            .findings
            .iter()
            .find(|f| f.column.as_deref() == Some("bill_length_mm"))
            .expect("a finding on the number column");
        assert_eq!(finding.row, Some(2), "{finding:?}");
        assert!(finding.message.contains("\"missing\""), "{finding:?}");

        // The user's list is the one applied: without NA, an NA is not a number.
        contract.null_values = vec![String::new()];
        let v = verdict(later, Some(&contract));
        assert!(!v.accepted());
        assert!(
            v.findings.iter().any(|f| f.message.contains("\"NA\"")),
            "{:?}",
            v.findings
        );
    }

    /// The same rows in one batch and in several: the same findings (rows counted over the
    /// batches), the same exact profile, the same contract.
    #[test]
    fn a_gate_fed_in_batches_concludes_what_it_does_on_the_whole() {
        let mut csv = String::from("id,amount,kind\n");
        for i in 0..1_000u32 {
            let id = if i == 700 { 5 } else { i }; // a repeat in a later batch
            let amount = match i {
                150 => "inf".to_owned(),
                420 | 880 => "500".to_owned(), // out of range, twice
                _ => format!("{}.5", i % 37),
            };
            let kind = if i == 610 {
                "z"
            } else {
                ["a", "b", "c"][i as usize % 3]
            };
            csv.push_str(&format!("{id},{amount},{kind}\n"));
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &csv).unwrap();
        let frame = inspect(file.path(), "up.csv", None).unwrap().frame.unwrap();
        let dataset = DatasetName::parse("batches").unwrap();
        let founded = evaluate(&dataset, &frame, None, None);
        let mut contract = founded.inferred_contract.clone().unwrap();
        for rule in &mut contract.columns {
            match rule.name.as_str() {
                "id" => rule.unique = true,
                "amount" => rule.max = Some(100.0),
                _ => rule.allowed_values = Some(vec!["a".into(), "b".into(), "c".into()]),
            }
        }

        let whole = evaluate(&dataset, &frame, Some(&contract), None);
        let dir = tempfile::tempdir().unwrap();
        let mut gate = Gate::streaming(&dataset, Some(&contract), dir.path());
        for start in (0..1_000).step_by(300) {
            gate.push(&frame.slice(start, 300)).unwrap();
        }
        let batched = gate.finish(None).unwrap();

        let shown = |v: &Verdict| {
            v.findings
                .iter()
                .map(|f| (f.check.clone(), f.row, f.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(&batched), shown(&whole));
        let checks: Vec<_> = whole
            .findings
            .iter()
            .map(|f| (f.check.as_str(), f.row))
            .collect();
        assert_eq!(
            checks,
            [
                ("nan", Some(151)),
                ("unique", Some(701)),
                ("range", Some(421)),
                ("allowed_values", Some(611)),
            ]
        );
        assert!(whole.findings[2].message.contains("2 values out of range"));
        assert_eq!(batched.profile, whole.profile);
        assert_eq!(batched.rows, 1_000);
        // The batches went into one Parquet file as they came.
        let VersionData::Parquet(file) = batched.data else {
            panic!("a streaming gate writes Parquet");
        };
        assert_eq!(read::read_parquet(file.path()).unwrap().height(), 1_000);
    }

    /// A CSV of `rows` rows: a float column and a two-letter one.
    fn numbers_and_letters(rows: u32) -> tempfile::NamedTempFile {
        let mut csv = String::from("x,k\n");
        for i in 0..rows {
            csv.push_str(&format!(
                "{},{}\n",
                f64::from(i) / 7.0,
                ["p", "q"][i as usize % 2]
            ));
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &csv).unwrap();
        file
    }

    /// A plain CSV past the threshold streams through `check_upload` to the same conclusion.
    #[test]
    fn an_upload_past_the_threshold_streams_to_the_same_verdict() {
        let file = numbers_and_letters(5_000);
        let dataset = DatasetName::parse("big").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let check = |above: u64| {
            let upload = UploadFile {
                path: file.path(),
                name: "big.csv",
                fingerprint: read::fingerprint(file.path()).unwrap(),
            };
            check_upload(upload, &dataset, None, None, dir.path(), above, &|| {}).unwrap()
        };
        let whole = check(u64::MAX);
        let streamed = check(1);
        assert!(streamed.timings_ms.contains_key("streamed"));
        assert!(!whole.timings_ms.contains_key("streamed"));
        let (w, s) = (whole.verdict.unwrap(), streamed.verdict.unwrap());
        assert_eq!(s.profile, w.profile);
        assert_eq!(s.inferred_contract, w.inferred_contract);
        assert!(matches!(s.data, VersionData::Parquet(_)));
    }

    /// A streamed batch is one row group of the version's Parquet, however many chunks the CSV
    /// reader cut it into (each chunk a row group was 14,000-row groups, and their page headers
    /// held by the writer to the file's end).
    #[test]
    fn a_streamed_batch_is_one_row_group() {
        let file = numbers_and_letters(300_000);
        let dir = tempfile::tempdir().unwrap();
        let upload = UploadFile {
            path: file.path(),
            name: "big.csv",
            fingerprint: read::fingerprint(file.path()).unwrap(),
        };
        let dataset = DatasetName::parse("big").unwrap();
        let checked = check_upload(upload, &dataset, None, None, dir.path(), 1, &|| {}).unwrap();
        let VersionData::Parquet(data) = checked.verdict.unwrap().data else {
            panic!("a streamed upload is written as Parquet");
        };
        let mut reader = ParquetReader::new(std::fs::File::open(data.path()).unwrap());
        assert_eq!(reader.num_rows().unwrap(), 300_000);
        assert_eq!(reader.get_metadata().unwrap().row_groups.len(), 1);
    }
}
