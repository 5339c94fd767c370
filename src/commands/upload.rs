//! `tollgate upload FILE --dataset NAME`: the file goes into the embedded bucket under
//! `incoming/NAME/`, and the ingest handler runs on the same S3 event AWS would send.

use std::path::Path;

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tollgate_domain::names::sanitize_file_name;
use tollgate_domain::ports::BlobStore;
use tollgate_domain::{BlobKey, UploadOutcome, UploadStatus};
use tollgate_ingest::Stage;

use crate::embedded::Embedded;
use crate::{Outcome, UsageError, output, progress};

pub async fn run(
    env: &Embedded,
    file: &Path,
    dataset: &str,
    json: bool,
) -> anyhow::Result<Outcome> {
    let dataset = super::dataset_name(dataset)?;
    if !file.is_file() {
        return Err(UsageError(format!("{} is not a file", file.display())).into());
    }
    let outcome = upload(env, file, &dataset, !json).await?;
    if !json {
        print!("{}", output::upload_text(env, &outcome));
    }
    // Pipelines listening to the dataset start their runs on the accepted version.
    let progress = super::runs::bar(!json);
    let runs = env
        .settle(Vec::new(), |r| super::runs::show_progress(&progress, r))
        .await;
    progress.finish_and_clear();
    let runs = runs?;
    if json {
        let mut value = output::upload_json(env, &outcome);
        value["runs"] = runs.iter().map(super::runs::run_json).collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for run in &runs {
            println!();
            print!(
                "{}{}",
                super::runs::run_text(run),
                super::runs::candidate_text(env, run).await?
            );
        }
    }
    Ok(match outcome.record.status {
        UploadStatus::Rejected => Outcome::Refused,
        UploadStatus::Accepted | UploadStatus::Duplicate => Outcome::Done,
    })
}

/// Puts the file into the bucket and hands the ingest handler its S3 event.
pub async fn upload(
    env: &Embedded,
    file: &Path,
    dataset: &tollgate_domain::DatasetName,
    show_progress: bool,
) -> anyhow::Result<UploadOutcome> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = BlobKey::parse(&format!("incoming/{dataset}/{}", sanitize_file_name(&name)))
        .map_err(|e| UsageError(e.to_string()))?;
    let bar = progress::spinner(show_progress, &format!("uploading {}", file.display()));
    let meta = env
        .blobs
        .put_file(&env.bucket, &key, file)
        .await
        .with_context(|| format!("copying {} into the embedded bucket", file.display()))?;
    let event = s3_put_event(
        env,
        &key,
        meta.size,
        meta.etag.as_deref().unwrap_or_default(),
        &env.user,
    );
    let progress_bar = bar.clone();
    let ingest = env.ingest().with_progress(move |stage| {
        progress_bar.set_message(match stage {
            Stage::Hashing => "hashing",
            Stage::Parsing => "parsing",
            Stage::Checking => "checking, profiling, comparing with the previous version",
            Stage::Writing => "writing",
        });
    });
    let result = ingest.handle(&event).await;
    bar.finish_and_clear();
    let mut outcomes = result.context("ingesting the upload")?;
    outcomes
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the ingest handler returned no outcome for {key}"))
}

/// The S3 `ObjectCreated:Put` notification for an object, as S3 sends it (the key URL-encoded).
/// `by` is who put it (the principal S3 names).
pub fn s3_put_event(
    env: &Embedded,
    key: &BlobKey,
    size: u64,
    etag: &str,
    by: &tollgate_domain::UserId,
) -> S3Event {
    let encoded: String = key
        .as_str()
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    let event = serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": jiff::Timestamp::now().to_string(),
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": by.as_str() },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "tollgate-embedded",
                "bucket": { "name": env.bucket.as_str(), "arn": format!("arn:aws:s3:::{}", env.bucket) },
                "object": { "key": encoded, "size": size, "eTag": etag, "sequencer": "0" }
            }
        }]
    });
    serde_json::from_value(event).expect("the S3 event shape is fixed")
}

/// S3's encoding of keys in event notifications: spaces as `+`, other reserved bytes as `%XX`.
fn percent_encode(segment: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(segment, KEEP)
        .to_string()
        .replace("%20", "+")
}
