//! The data gate: an upload is read (CSV, gzip-compressed or not, JSON Lines, Parquet), typed,
//! checked against its dataset's contract, profiled column by column, and compared with the
//! previous accepted version for drift. Everything it finds goes into the report; nothing here
//! decides where files go (that is the ingest handler's job).
//!
//! Heavy (polars): only the ingest and monitor functions and the CLI link it.

pub mod checks;
pub mod columns;
mod error;
pub mod profile;
pub mod read;
pub mod split;
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

pub use columns::TypedColumn;
pub use error::ValidationError;
pub use profile::Values;
pub use read::{Fingerprint, Format};

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

/// The previous accepted version, as drift needs it.
#[derive(Debug)]
pub struct Baseline {
    pub version: u32,
    pub values: Vec<(String, Values)>,
}

impl Baseline {
    /// Reads a stored version's Parquet file one column at a time, so that only the values
    /// (sorted numbers, category counts) are ever held, never the whole frame.
    pub fn from_parquet(
        path: &Path,
        version: u32,
        contract: Option<&Contract>,
    ) -> Result<Self, ValidationError> {
        let polars_error = |e| ValidationError::Polars {
            context: format!("reading version {version} from {}", path.display()),
            source: e,
        };
        let open =
            || std::fs::File::open(path).map_err(|e| ValidationError::io("opening", path, e));
        let names: Vec<String> = ParquetReader::new(open()?)
            .schema()
            .map_err(polars_error)?
            .iter_names()
            .map(|n| n.to_string())
            .collect();
        let values = names
            .into_par_iter()
            .map(|name| {
                let column = ParquetReader::new(open()?)
                    .with_columns(Some(vec![name.clone()]))
                    .finish()
                    .map_err(polars_error)?;
                let (typed, _) = columns::conform(&column, contract);
                Ok(typed.first().map(|c| (name, Values::of(c))))
            })
            .collect::<Result<Vec<_>, ValidationError>>()?;
        Ok(Self {
            version,
            values: values.into_iter().flatten().collect(),
        })
    }
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
    pub frame: DataFrame,
    pub timings_ms: BTreeMap<String, u64>,
}

impl Verdict {
    pub fn accepted(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Types, checks, profiles and compares a parsed frame.
pub fn evaluate(
    dataset: &DatasetName,
    frame: &DataFrame,
    contract: Option<&Contract>,
    baseline: Option<&Baseline>,
) -> Verdict {
    let mut timings_ms = BTreeMap::new();
    let started = Instant::now();
    let rows = frame.height() as u64;
    let columns = frame.width() as u64;
    let (mut typed, mut findings) = columns::conform(frame, contract);
    // A first version founds the contract; its columns take the contract's types from the start.
    let inferred_contract = contract
        .is_none()
        .then(|| checks::infer_contract(dataset, &typed, rows));
    if let Some(inferred) = &inferred_contract {
        for col in &mut typed {
            if let Some(rule) = inferred.column(&col.name)
                && rule.dtype == ColumnType::Float
                && col.dtype == ColumnType::Integer
                && let Ok(s) = col.series.cast(&DataType::Float64)
            {
                col.series = s;
                col.dtype = ColumnType::Float;
            }
        }
    }
    timings_ms.insert("typing".to_owned(), started.elapsed().as_millis() as u64);

    let started = Instant::now();
    let values: Vec<(String, Values)> = typed
        .par_iter()
        .map(|c| (c.name.clone(), Values::of(c)))
        .collect();
    timings_ms.insert("values".to_owned(), started.elapsed().as_millis() as u64);

    let started = Instant::now();
    findings.extend(checks::universal(&typed, &values, rows));
    if let Some(c) = contract {
        findings.extend(checks::against_contract(&typed, &values, rows, c));
    }
    timings_ms.insert("checks".to_owned(), started.elapsed().as_millis() as u64);

    let started = Instant::now();
    let profile = DatasetProfile {
        rows,
        columns: typed
            .par_iter()
            .zip(values.par_iter())
            .map(|(c, (_, v))| profile::profile(c, v))
            .collect(),
    };
    timings_ms.insert("profile".to_owned(), started.elapsed().as_millis() as u64);

    let started = Instant::now();
    let default_thresholds = DriftThresholds::default();
    let thresholds = contract.map(|c| &c.drift).unwrap_or(&default_thresholds);
    let drift = baseline.map(|b| profile::drift(b.version, &b.values, &values, thresholds));
    if let Some(d) = &drift {
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
    }
    timings_ms.insert("drift".to_owned(), started.elapsed().as_millis() as u64);

    let in_force = contract.or(inferred_contract.as_ref());
    let schema = typed
        .iter()
        .map(|c| {
            let rule = in_force.and_then(|k| k.column(&c.name));
            SchemaColumn {
                name: c.name.clone(),
                dtype: rule.map(|r| r.dtype).unwrap_or(c.dtype),
                nullable: rule.map(|r| r.nullable).unwrap_or(c.nulls() > 0),
            }
        })
        .collect();
    let frame = DataFrame::new(
        frame.height(),
        typed.into_iter().map(|c| c.series.into_column()).collect(),
    )
    .unwrap_or_else(|_| frame.clone());
    Verdict {
        rows,
        columns,
        findings,
        profile,
        drift,
        schema,
        inferred_contract,
        frame,
        timings_ms,
    }
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
}
