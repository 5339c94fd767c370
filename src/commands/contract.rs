//! `tollgate contract show|apply`.

use std::path::Path;

use anyhow::Context;
use tollgate_domain::ports::{BlobStore, Catalog, StoredContract};
use tollgate_domain::{AuditEvent, BlobKey, Contract, DatasetName, PortError};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

/// Keeps a copy of a contract beside the data: `contracts/<dataset>/v<N>.toml`.
async fn put_toml(
    env: &Embedded,
    dataset: &DatasetName,
    version: u32,
    text: String,
) -> anyhow::Result<()> {
    let key = BlobKey::parse(&format!("contracts/{dataset}/v{version}.toml"))?;
    env.blobs
        .put(&env.bucket, &key, text.into_bytes().into())
        .await?;
    Ok(())
}

pub async fn show(env: &Embedded, name: &str, version: Option<u32>) -> anyhow::Result<Outcome> {
    let name = super::dataset_name(name)?;
    let stored = env.catalog.contract(&name, version).await?.ok_or_else(|| {
        UsageError(match version {
            Some(v) => format!("{name} has no contract version {v}"),
            None => format!("{name} has no contract yet: its first accepted upload will found one, or write one and run tollgate contract apply FILE"),
        })
    })?;
    println!(
        "# Contract of dataset {:?}, version {} ({}, by {} at {}).",
        name.as_str(),
        stored.version,
        stored.origin,
        stored.created_by,
        stored.created_at
    );
    println!("# Edit and apply with: tollgate contract apply FILE");
    print!("{}", stored.contract.to_toml());
    Ok(Outcome::Done)
}

pub async fn apply(env: &Embedded, file: &Path, json: bool) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("reading {}: {e}", file.display())))?;
    let contract =
        Contract::from_toml(&text).map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let dataset = contract.dataset.clone();
    let current = env.catalog.contract(&dataset, None).await?;
    let now = jiff::Timestamp::now();
    let expected = current.as_ref().map(|c| c.version);
    let result = env
        .catalog
        .put_contract(
            StoredContract {
                version: 0,
                contract: contract.clone(),
                created_by: env.user.clone(),
                created_at: now,
                origin: format!("applied by {} from {}", env.user, file.display()),
            },
            expected,
            {
                let event = AuditEvent::new(
                    now,
                    env.user.clone(),
                    "contract.applied",
                    format!("contract/{dataset}"),
                )
                .details(serde_json::json!({ "file": file.display().to_string() }));
                match expected {
                    Some(v) => event.from(format!("v{v}")),
                    None => event,
                }
            },
        )
        .await;
    let version = match result {
        Ok(v) => v,
        Err(PortError::Conflict(reason)) => {
            eprintln!(
                "refused: the contract changed while applying ({reason}); run the command again"
            );
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e).context("storing the contract"),
    };
    put_toml(env, &dataset, version, contract.to_toml()).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "dataset": dataset, "contract_version": version, "previous_version": expected })
        );
    } else {
        println!(
            "contract v{version} of {dataset} is in force{}",
            expected.map(|v| format!(" (was v{v})")).unwrap_or_default()
        );
    }
    Ok(Outcome::Done)
}
