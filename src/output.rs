//! How results read: the readable reports and the JSON shapes of `--json`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};
use tollgate_domain::report::{DriftReport, Severity};
use tollgate_domain::{ObjectRef, UploadOutcome, UploadStatus};

use crate::embedded::Embedded;

pub fn object_json(env: &Embedded, object: &ObjectRef) -> Value {
    json!({
        "bucket": object.bucket,
        "key": object.key,
        "path": env.path_of(object),
    })
}

/// `drift.<column>.<statistic>`: the values, for every compared column.
pub fn drift_json(drift: Option<&DriftReport>) -> Value {
    let Some(d) = drift else {
        return json!({});
    };
    let columns: BTreeMap<&String, &BTreeMap<String, f64>> = d
        .columns
        .iter()
        .map(|(c, cd)| (c, &cd.statistics))
        .collect();
    json!(columns)
}

pub fn upload_json(env: &Embedded, outcome: &UploadOutcome) -> Value {
    let (r, report) = (&outcome.record, &outcome.report);
    json!({
        "status": r.status,
        "dataset": r.dataset,
        "version": r.version,
        "content_hash": r.content_hash,
        "rows": r.rows,
        "bytes": r.bytes,
        "format": report.format,
        "contract_version": report.contract_version,
        "object": object_json(env, &r.kept_at),
        "source": object_json(env, &r.source),
        "report": object_json(env, &r.report),
        "reasons": report.reasons(),
        "warnings": report.warnings(),
        "drift": drift_json(report.drift.as_ref()),
        "drift_baseline_version": report.drift.as_ref().map(|d| d.baseline_version),
        "drifted_columns": report.drift.as_ref().map(DriftReport::drifted_columns).unwrap_or_default(),
        "findings": report.findings,
        "uploaded_by": r.uploaded_by,
        "timings_ms": report.timings_ms,
        "files": report.files,
    })
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number in a table: fixed for ordinary magnitudes, scientific for tiny p-values.
pub fn stat(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() < 1e-3 || x.abs() >= 1e6 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

pub fn drift_table(drift: &DriftReport) -> String {
    let mut out = String::new();
    let width = drift
        .columns
        .keys()
        .map(|c| c.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "    {:<width$}  {:<11}  {:>9}  {:>9}  {:>9}  {:>11}",
        "column", "kind", "ks|chi2", "p-value", "psi|js", "w1|linf"
    );
    for (name, d) in &drift.columns {
        let s = &d.statistics;
        let get = |k: &str| s.get(k).copied().map(stat).unwrap_or_else(|| "-".into());
        let (a, p, b, c) = if d.kind == "numeric" {
            (get("ks"), get("ks_pvalue"), get("psi"), get("wasserstein"))
        } else {
            (
                get("chi2"),
                get("chi2_pvalue"),
                get("jensen_shannon"),
                get("linf"),
            )
        };
        let flag = if d.exceeded.is_empty() {
            String::new()
        } else {
            format!("  ⚠ drift ({})", d.exceeded.join(", "))
        };
        let _ = writeln!(
            out,
            "    {name:<width$}  {:<11}  {a:>9}  {p:>9}  {b:>9}  {c:>11}{flag}",
            d.kind
        );
    }
    out
}

pub fn upload_text(env: &Embedded, outcome: &UploadOutcome) -> String {
    let (r, report) = (&outcome.record, &outcome.report);
    let mut out = String::new();
    let shape = match (r.rows, report.columns) {
        (Some(rows), Some(cols)) => format!("{} rows × {cols} columns, ", thousands(rows)),
        (Some(rows), None) => format!("{} rows, ", thousands(rows)),
        _ => String::new(),
    };
    let head = match r.status {
        UploadStatus::Accepted => format!(
            "✔ accepted   {} v{}",
            r.dataset,
            r.version.unwrap_or_default()
        ),
        UploadStatus::Duplicate => format!(
            "= duplicate  {} (identical to v{})",
            r.dataset,
            r.version.unwrap_or_default()
        ),
        UploadStatus::Rejected => format!("✘ rejected   {}", r.dataset),
    };
    let _ = writeln!(
        out,
        "{head}  ({shape}{}, {})",
        report.format,
        human_bytes(r.bytes)
    );
    let _ = writeln!(out, "  sha256     {}", r.content_hash);
    let _ = writeln!(out, "  uploaded   {} by {}", r.source.key, r.uploaded_by);
    if !report.files.is_empty() {
        let _ = writeln!(
            out,
            "  files      {} (the sha256 is of their sha256sum lines, in name order)",
            report.files.len()
        );
    }
    if let Some(v) = report.contract_version {
        let _ = writeln!(
            out,
            "  contract   v{v}  (tollgate contract show {})",
            r.dataset
        );
    }
    match r.status {
        UploadStatus::Rejected => {
            let _ = writeln!(out, "  reasons:");
            for reason in report.reasons() {
                let _ = writeln!(out, "    - {reason}");
            }
            let _ = writeln!(out, "  quarantined {}", env.path_of(&r.kept_at).display());
            let _ = writeln!(out, "  report      {}", env.path_of(&r.report).display());
        }
        UploadStatus::Accepted => {
            let _ = writeln!(
                out,
                "  stored     {}",
                env.path_of(&r.kept_at).parent_folder()
            );
            let _ = writeln!(out, "  report     {}", env.path_of(&r.report).display());
        }
        UploadStatus::Duplicate => {
            let _ = writeln!(out, "  nothing new was stored; the existing version stands");
        }
    }
    let warnings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && f.check != "duplicate")
        .collect();
    if let Some(drift) = &report.drift {
        let _ = writeln!(out, "  drift against v{}:", drift.baseline_version);
        out.push_str(&drift_table(drift));
    } else if r.status == UploadStatus::Accepted && r.version == Some(1) {
        let _ = writeln!(
            out,
            "  first version: the contract was inferred from it; no drift to compute"
        );
    }
    if !warnings.is_empty() && r.status != UploadStatus::Rejected {
        let _ = writeln!(out, "  warnings:");
        for w in report.warnings() {
            let _ = writeln!(out, "    - {w}");
        }
    }
    out
}

trait ParentFolder {
    fn parent_folder(&self) -> String;
}

impl ParentFolder for std::path::PathBuf {
    /// The version folder of a file kept under `.../v<N>/original/<file>`.
    fn parent_folder(&self) -> String {
        self.parent()
            .and_then(|p| p.parent())
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_else(|| self.display().to_string())
    }
}
