//! `tollgate ingest EVENT` and `tollgate event s3-put`: the handlers on raw event JSON.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use tollgate_domain::ports::BlobStore;
use tollgate_domain::{BlobKey, UploadStatus};
use tollgate_ingest::Stage;

use crate::embedded::Embedded;
use crate::{Outcome, UsageError, output};

pub async fn ingest(env: &Embedded, file: &Path, json: bool) -> anyhow::Result<Outcome> {
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the event from stdin")?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("reading {}: {e}", file.display())))?
    };
    let event: S3Event = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{} is not an S3 event notification: {e}",
            file.display()
        ))
    })?;
    // An upload too big for this process goes to a processing job (subprocesses of this
    // process), waited for as `tollgate upload` does.
    let outcomes = env
        .ingest_to_the_end(&event, |stage| {
            if let Stage::Processing { job, instances } = stage {
                eprintln!(
                    "too big for one process: {instances} `tollgate process` subprocesses read \
                     it (processing job {job}); waiting for its end"
                );
            }
        })
        .await
        .context("handling the event")?;
    if json {
        let all: Vec<_> = outcomes
            .iter()
            .map(|o| output::upload_json(env, o))
            .collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else if outcomes.is_empty() {
        println!(
            "nothing to ingest: the event holds no upload under incoming/<dataset>/, or only \
             files of a batch folder whose marker (_SUCCESS or _manifest.json) has not come yet"
        );
    } else {
        for o in &outcomes {
            print!("{}", output::upload_text(env, o));
        }
    }
    Ok(
        if outcomes
            .iter()
            .any(|o| o.record.status == UploadStatus::Rejected)
        {
            Outcome::Refused
        } else {
            Outcome::Done
        },
    )
}

pub async fn s3_put(env: &Embedded, key: &str) -> anyhow::Result<Outcome> {
    let key = BlobKey::parse(key).map_err(|e| UsageError(e.to_string()))?;
    let meta = env
        .blobs
        .head(&env.bucket, &key)
        .await?
        .ok_or_else(|| UsageError(format!("no object {key} in the embedded bucket")))?;
    let event = super::upload::s3_put_event(
        env,
        &key,
        meta.size,
        meta.etag.as_deref().unwrap_or_default(),
        &env.user,
    );
    println!("{}", serde_json::to_string_pretty(&event)?);
    Ok(Outcome::Done)
}
