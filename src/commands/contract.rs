//! `tollgate contract show|apply`.

use std::path::Path;

use tollgate_app::AppError;
use tollgate_domain::ports::StoredContract;

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

pub async fn show(env: &Embedded, name: &str, version: Option<u32>) -> anyhow::Result<Outcome> {
    let name = super::dataset_name(name)?;
    let stored = env
        .app()
        .contract(name.as_str(), version)
        .await
        .map_err(|e| match (e, version) {
            (AppError::NotFound(m), None) => UsageError(format!("{m}: {FOUNDING}")).into(),
            (e, _) => crate::app_error(e, None),
        })?;
    render_show(name.as_str(), &stored)
}

/// What to do about a dataset without a contract.
pub const FOUNDING: &str = "its first accepted upload will found one, or write one and run \
                            tollgate contract apply FILE";

/// A contract as TOML with where it came from, on the data dir or through the API.
pub fn render_show(name: &str, stored: &StoredContract) -> anyhow::Result<Outcome> {
    println!(
        "# Contract of dataset {name:?}, version {} ({}, by {} at {}).",
        stored.version, stored.origin, stored.created_by, stored.created_at
    );
    println!("# Edit and apply with: tollgate contract apply FILE");
    print!("{}", stored.contract.to_toml());
    Ok(Outcome::Done)
}

pub async fn apply(env: &Embedded, file: &Path, json: bool) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("reading {}: {e}", file.display())))?;
    let source = file.display().to_string();
    let applied = env
        .app()
        .apply_contract(&text, &source, &env.user)
        .await
        .map_err(|e| crate::app_error(e, Some(&source)))?;
    render_applied(&applied, json)
}

/// What applying a contract did, on the data dir or through the API.
pub fn render_applied(
    applied: &tollgate_api_types::Applied,
    json: bool,
) -> anyhow::Result<Outcome> {
    let previous = applied.version.checked_sub(1).filter(|v| *v > 0);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "dataset": applied.name,
                "contract_version": applied.version,
                "changed": applied.changed,
                "previous_version": if applied.changed { previous } else { None },
            })
        );
    } else if applied.changed {
        println!(
            "contract v{} of {} is in force{}",
            applied.version,
            applied.name,
            previous.map(|v| format!(" (was v{v})")).unwrap_or_default()
        );
    } else {
        println!(
            "contract v{} of {} is in force already (unchanged)",
            applied.version, applied.name
        );
    }
    Ok(Outcome::Done)
}
