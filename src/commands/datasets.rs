//! `tollgate datasets` and `tollgate dataset show`.

use std::fmt::Write;

use std::path::Path;

use serde_json::json;
use tollgate_api_types::{DatasetSummary, VersionDetail};
use tollgate_app::AppError;
use tollgate_domain::ports::{Catalog, StoredContract};
use tollgate_domain::{Dataset, DatasetVersion, UploadRecord, UploadStatus};

use crate::Outcome;
use crate::embedded::Embedded;
use crate::output::{drift_table, human_bytes, thousands};

pub async fn list(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    let app = env.app();
    let datasets = tollgate_app::every(|p| {
        let app = &app;
        async move { app.datasets(&p).await }
    })
    .await
    .map_err(|e| crate::app_error(e, None))?;
    render_list(&datasets, json)
}

/// The datasets, on the data dir or through the API.
pub fn render_list(datasets: &[DatasetSummary], json: bool) -> anyhow::Result<Outcome> {
    let rows: Vec<_> = datasets
        .iter()
        .map(|d| {
            (
                &d.dataset,
                d.accepted,
                d.rejected,
                d.duplicates,
                d.latest.as_ref(),
                d.last_upload_at,
            )
        })
        .collect();
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(d, accepted, rejected, duplicate, latest, last)| {
                json!({
                    "name": d.name,
                    "latest_version": d.latest_version,
                    "contract_version": d.contract_version,
                    "versions": accepted,
                    "rejected_uploads": rejected,
                    "duplicate_uploads": duplicate,
                    "latest": latest.as_ref().map(|v| json!({
                        "version": v.version,
                        "content_hash": v.content_hash,
                        "rows": v.rows,
                        "created_at": v.created_at,
                        "drifted_columns": v.drifted_columns,
                    })),
                    "last_upload_at": last,
                    "created_by": d.created_by,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Done);
    }
    if rows.is_empty() {
        println!("no datasets yet: tollgate upload FILE --dataset NAME");
        return Ok(Outcome::Done);
    }
    println!(
        "{:<24} {:>7} {:>9} {:>9} {:>10}  {:<14} drifted at latest",
        "dataset", "latest", "versions", "rejected", "rows", "sha256"
    );
    for (d, accepted, rejected, _, latest, _) in &rows {
        let (rows_s, hash, drifted) = match latest {
            Some(v) => (
                thousands(v.rows),
                v.content_hash.short().to_owned(),
                if v.drifted_columns.is_empty() {
                    "-".to_owned()
                } else {
                    v.drifted_columns.join(", ")
                },
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<24} {:>7} {:>9} {:>9} {:>10}  {:<14} {}",
            d.name,
            d.latest_version
                .map(|v| format!("v{v}"))
                .unwrap_or_else(|| "-".into()),
            accepted,
            rejected,
            rows_s,
            hash,
            drifted
        );
    }
    Ok(Outcome::Done)
}

pub async fn show(
    env: &Embedded,
    name: &str,
    version: Option<u32>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let name = super::dataset_name(name)?;
    let app = env.app();
    let dataset = app
        .dataset(name.as_str())
        .await
        .map_err(|e| crate::not_found(e, "see tollgate datasets"))?;
    if let Some(v) = version {
        let detail = app
            .version(name.as_str(), v)
            .await
            .map_err(|e| crate::not_found(e, &format!("latest: {:?}", dataset.latest_version)))?;
        let stored_at = env.path_of(&detail.version.location);
        return render_version(&detail, Some(&stored_at), json);
    }
    let contract = match app.contract(name.as_str(), None).await {
        Ok(c) => Some(c),
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(crate::app_error(e, None)),
    };
    render_dataset(
        &dataset,
        &env.catalog.versions(&name).await?,
        &env.catalog.uploads(&name).await?,
        contract.as_ref(),
        json,
    )
}

/// One version in detail (schema, profile, drift, lineage); `stored_at` is where its files are
/// on this machine, when they are on this machine.
pub fn render_version(
    detail: &VersionDetail,
    stored_at: Option<&Path>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (stored, report) = (&detail.version, detail.report.as_ref());
    let (name, v) = (&stored.dataset, stored.version);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "version": stored,
                "lineage": {
                    "source": stored.source,
                    "content_hash": stored.content_hash,
                    "parent_version": stored.parent_version,
                    "contract_version": stored.contract_version,
                    "uploaded_by": stored.uploaded_by,
                },
                "data": {
                    "bucket": stored.location.bucket,
                    "key": (stored.parts == 0).then(|| stored.data_key()),
                    "keys": stored.data_keys(),
                    "path": stored_at.as_ref().filter(|_| stored.parts == 0).map(|p| p.join("data.parquet")),
                },
                "drift": crate::output::drift_json(report.and_then(|r| r.drift.as_ref())),
                "report": report,
            }))?
        );
        return Ok(Outcome::Done);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{name} v{v}");
    let _ = writeln!(out, "  sha256      {}", stored.content_hash);
    let _ = writeln!(
        out,
        "  rows        {} × {} columns ({}, {})",
        thousands(stored.rows),
        stored.schema.len(),
        stored.format,
        human_bytes(stored.bytes)
    );
    let _ = writeln!(
        out,
        "  created     {} by {}",
        stored.created_at, stored.uploaded_by
    );
    let _ = writeln!(out, "  source      {}", stored.source);
    let _ = writeln!(
        out,
        "  parent      {}",
        stored
            .parent_version
            .map(|p| format!("v{p}"))
            .unwrap_or_else(|| "none (first version)".into())
    );
    let _ = writeln!(out, "  contract    v{}", stored.contract_version);
    if stored.parts > 0 {
        let _ = writeln!(
            out,
            "  data        {} Parquet parts (data/part-*.parquet), one per processing instance",
            stored.parts
        );
    }
    match stored_at {
        Some(path) => {
            let _ = writeln!(out, "  stored at   {}/", path.display());
        }
        None => {
            let _ = writeln!(out, "  stored at   {}/", stored.location);
        }
    }
    let _ = writeln!(out, "  schema:");
    for c in &stored.schema {
        let _ = writeln!(
            out,
            "    {:<28} {:<8} {}",
            c.name,
            c.dtype.as_str(),
            if c.nullable { "nullable" } else { "" }
        );
    }
    if let Some(profile) = report.and_then(|r| r.profile.as_ref()) {
        let _ = writeln!(out, "  profile:");
        let _ = writeln!(
            out,
            "    {:<28} {:>8} {:>6} {:>9} {:>11} {:>11} {:>11}",
            "column", "nulls", "dist.", "min", "mean", "max", "std"
        );
        for c in &profile.columns {
            let f = |x: Option<f64>| x.map(crate::output::stat).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "    {:<28} {:>8} {:>6} {:>9} {:>11} {:>11} {:>11}",
                c.name,
                c.nulls,
                c.distinct,
                f(c.min),
                f(c.mean),
                f(c.max),
                f(c.std)
            );
        }
    }
    if let Some(drift) = report.and_then(|r| r.drift.as_ref()) {
        let _ = writeln!(out, "  drift against v{}:", drift.baseline_version);
        out.push_str(&drift_table(drift));
    }
    print!("{out}");
    Ok(Outcome::Done)
}

/// A dataset: its contract, versions and uploads, on the data dir or through the API.
pub fn render_dataset(
    dataset: &Dataset,
    versions: &[DatasetVersion],
    uploads: &[UploadRecord],
    contract: Option<&StoredContract>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let name = &dataset.name;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dataset": dataset,
                "contract": contract.as_ref().map(|c| json!({"version": c.version, "origin": c.origin, "created_by": c.created_by, "created_at": c.created_at})),
                "versions": versions,
                "uploads": uploads,
            }))?
        );
        return Ok(Outcome::Done);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} version(s), {} upload(s)",
        versions.len(),
        uploads.len()
    );
    if let Some(c) = contract {
        let _ = writeln!(
            out,
            "  contract v{} ({}, by {} at {})",
            c.version, c.origin, c.created_by, c.created_at
        );
    }
    let _ = writeln!(out, "  versions:");
    let _ = writeln!(
        out,
        "    {:<5} {:<14} {:>10} {:<8} {:<25} {:<16} drifted columns",
        "ver", "sha256", "rows", "parent", "created", "by"
    );
    for v in versions {
        let _ = writeln!(
            out,
            "    {:<5} {:<14} {:>10} {:<8} {:<25} {:<16} {}",
            format!("v{}", v.version),
            v.content_hash.short(),
            thousands(v.rows),
            v.parent_version
                .map(|p| format!("v{p}"))
                .unwrap_or_else(|| "-".into()),
            v.created_at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
            v.uploaded_by,
            if v.drifted_columns.is_empty() {
                "-".to_owned()
            } else {
                v.drifted_columns.join(", ")
            }
        );
    }
    let _ = writeln!(out, "  uploads:");
    for u in uploads {
        let what = match (u.status, u.version) {
            (UploadStatus::Accepted, Some(v)) => format!("accepted as v{v}"),
            (UploadStatus::Duplicate, Some(v)) => format!("duplicate of v{v}"),
            _ => format!(
                "rejected: {}",
                u.reasons.first().cloned().unwrap_or_default()
            ),
        };
        let _ = writeln!(
            out,
            "    {}  {:<12} {}  {}",
            u.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            u.uploaded_by,
            u.source.key.file_name(),
            what
        );
    }
    print!("{out}");
    Ok(Outcome::Done)
}
