//! What the data gate finds: column profiles, findings, drift, and the validation report that
//! gathers them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ColumnType, ContentHash, DatasetName, UploadStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Histogram {
    /// `bins + 1` edges, equal width between the column's min and max.
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// The profile of one column. Numeric statistics are over the non-null, finite values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub dtype: ColumnType,
    pub count: u64,
    pub nulls: u64,
    pub distinct: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// Quantile level to value, linear interpolation (numpy's default).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quantiles: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    pub top_values: Vec<ValueCount>,
    /// Present when the column was too large to profile exactly: how far the figures from
    /// sketches may be off. Count, nulls, min, max, mean and std are always exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated: Option<Estimated>,
}

/// The error bounds of a profile computed from sketches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimated {
    /// Quantiles and histogram counts: the true rank of each quantile is within this share of
    /// the values (99% confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile_rank_error: Option<f64>,
    /// `distinct` is HyperLogLog's estimate, with this relative standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_relative_error: Option<f64>,
    /// Each of `top_values`' counts is at most this many below the true count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_count_error: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetProfile {
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

impl DatasetProfile {
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The upload is rejected.
    Error,
    /// Reported; the upload stands.
    Warning,
}

impl Severity {
    /// The name as the API writes it: `error`, `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// One thing a check found, located as precisely as the check can.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The check: `parse`, `schema`, `type`, `nulls`, `nan`, `range`, `allowed_values`,
    /// `unique`, `rows`, `drift`.
    pub check: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// 1-based data row (the header is not a row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    pub message: String,
}

impl Finding {
    pub fn error(check: &str, message: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            severity: Severity::Error,
            column: None,
            row: None,
            message: message.into(),
        }
    }
    pub fn warning(check: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(check, message)
        }
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }
}

/// Drift of one column against the previous accepted version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ColumnDrift {
    /// `numeric` (ks, ks_pvalue, psi, wasserstein) or `categorical` (chi2, chi2_pvalue,
    /// jensen_shannon, linf).
    pub kind: String,
    pub statistics: BTreeMap<String, f64>,
    /// The statistics past their threshold.
    pub exceeded: Vec<String>,
    /// For statistics computed from sketches (columns too large to compare exactly): the most
    /// each may be off by. Empty when every statistic is exact.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_bounds: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftReport {
    /// The version compared against.
    pub baseline_version: u32,
    pub columns: BTreeMap<String, ColumnDrift>,
}

impl DriftReport {
    pub fn drifted_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(_, d)| !d.exceeded.is_empty())
            .map(|(c, _)| c.clone())
            .collect()
    }
}

/// The report of one upload: every check, the profile and the drift, accepted or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidationReport {
    pub dataset: DatasetName,
    pub status: UploadStatus,
    pub content_hash: ContentHash,
    pub format: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The file's columns as read (an extra one counts, though the profile leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u64>,
    /// The contract checked against, or `None` when this upload will found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<u32>,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<DatasetProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
    /// Milliseconds spent per stage, for the curious and the benchmark.
    #[serde(default)]
    pub timings_ms: BTreeMap<String, u64>,
    /// An upload of many files (a batch folder): its files, in name order. Empty for one file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<UploadedFile>,
}

/// One file of an upload of many: its name in the batch folder, its size and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: ContentHash,
}

impl ValidationReport {
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The readable reasons of a rejection: one line per error, with column and row.
    pub fn reasons(&self) -> Vec<String> {
        self.errors().map(describe).collect()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(describe)
            .collect()
    }
}

fn describe(f: &Finding) -> String {
    let mut out = format!("{}: ", f.check);
    if let Some(c) = &f.column {
        out.push_str(&format!("column {c:?}"));
        if f.row.is_some() {
            out.push_str(", ");
        } else {
            out.push_str(": ");
        }
    }
    if let Some(r) = f.row {
        out.push_str(&format!("row {r}: "));
    }
    out.push_str(&f.message);
    out
}

/// Name of a quarantine folder for an upload.
pub fn quarantine_prefix(dataset: &DatasetName, hash: &ContentHash, file_name: &str) -> String {
    format!("quarantine/{dataset}/{}/{file_name}", hash.short())
}
