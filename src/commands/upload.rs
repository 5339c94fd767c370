//! `tollgate upload FILE --dataset NAME`: the file goes into the embedded bucket under
//! `incoming/NAME/`, and the ingest handler runs on the same S3 event AWS would send. A folder
//! goes under `incoming/NAME/<folder>-<time>/`, file by file, then its `_manifest.json`.

use std::path::Path;

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tollgate_domain::names::sanitize_file_name;
use tollgate_domain::ports::{BlobStore, ObjectMeta};
use tollgate_domain::{BlobKey, UploadOutcome, UploadStatus};
use tollgate_ingest::{MANIFEST_MARKER, Stage};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError, output, progress};

pub async fn run(
    env: &Embedded,
    file: &Path,
    dataset: &str,
    json: bool,
) -> anyhow::Result<Outcome> {
    let dataset = super::dataset_name(dataset)?;
    let outcome = if file.is_dir() {
        upload_folder(env, file, &dataset, !json).await?
    } else if file.is_file() {
        upload(env, file, &dataset, !json).await?
    } else {
        return Err(
            UsageError(format!("{} is neither a file nor a folder", file.display())).into(),
        );
    };
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

/// The data files of a folder, below it, in name order: Spark's and Hadoop's bookkeeping
/// (names starting with `_` or `.`) left out.
fn data_files(root: &Path) -> anyhow::Result<Vec<(String, std::path::PathBuf)>> {
    let mut found = Vec::new();
    let mut folders = vec![(String::new(), root.to_path_buf())];
    while let Some((prefix, dir)) = folders.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{}", sanitize_file_name(&name));
            let path = entry.path();
            if path.is_dir() {
                folders.push((format!("{relative}/"), path));
            } else {
                found.push((relative, path));
            }
        }
    }
    found.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(found)
}

/// Puts a folder's files into the bucket under a new batch folder, then its manifest, handing
/// the ingest handler each object's S3 event as S3 would: the files wait, the manifest makes
/// them one version.
pub async fn upload_folder(
    env: &Embedded,
    dir: &Path,
    dataset: &tollgate_domain::DatasetName,
    show_progress: bool,
) -> anyhow::Result<UploadOutcome> {
    let files = data_files(dir)?;
    if files.is_empty() {
        return Err(UsageError(format!(
            "{} holds no data files (names starting with _ or . are left out)",
            dir.display()
        ))
        .into());
    }
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            d.file_name()
                .map(|n| sanitize_file_name(&n.to_string_lossy()))
        })
        .unwrap_or_else(|| "batch".to_owned());
    let batch = format!(
        "{base}-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ")
    );
    let folder = format!("incoming/{dataset}/{batch}");
    let total: u64 = files
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or_default())
        .sum();
    let bar = progress::spinner(show_progress, "uploading");
    let mut manifest = Vec::with_capacity(files.len());
    let mut sent = 0u64;
    for (i, (name, path)) in files.iter().enumerate() {
        bar.set_message(format!(
            "uploading {}/{} files ({} of {})",
            i + 1,
            files.len(),
            output::human_bytes(sent),
            output::human_bytes(total)
        ));
        let key =
            BlobKey::parse(&format!("{folder}/{name}")).map_err(|e| UsageError(e.to_string()))?;
        let meta = env
            .blobs
            .put_file(&env.bucket, &key, path)
            .await
            .with_context(|| format!("copying {} into the embedded bucket", path.display()))?;
        sent += meta.size;
        env.ingest()
            .handle(&stored_event(env, &meta))
            .await
            .with_context(|| format!("announcing {key}"))?;
        manifest.push(serde_json::json!({ "name": name, "size": meta.size }));
    }
    let marker = BlobKey::parse(&format!("{folder}/{MANIFEST_MARKER}")).expect("a valid key");
    let body = serde_json::to_vec_pretty(&serde_json::json!({ "files": manifest }))?;
    let meta = env
        .blobs
        .put(&env.bucket, &marker, body.into())
        .await
        .context("writing the batch's manifest")?;
    ingest_stored(env, &bar, &meta).await
}

/// The notification S3 sends for an object it stored, as `env`'s user.
fn stored_event(env: &Embedded, meta: &ObjectMeta) -> S3Event {
    let etag = meta.etag.as_deref().unwrap_or_default();
    s3_put_event(env, &meta.key, meta.size, etag, &env.user)
}

/// Runs the ingest handler on the notification for an object just stored, its stages shown on
/// `bar` (then cleared): the upload's outcome.
async fn ingest_stored(
    env: &Embedded,
    bar: &indicatif::ProgressBar,
    meta: &ObjectMeta,
) -> anyhow::Result<UploadOutcome> {
    let progress_bar = bar.clone();
    let mut outcomes = env
        .ingest_to_the_end(&stored_event(env, meta), move |stage| {
            progress_bar.set_message(match stage {
                Stage::Hashing => "hashing".to_owned(),
                Stage::Parsing => "parsing".to_owned(),
                Stage::Checking => {
                    "checking, profiling, comparing with the previous version".to_owned()
                }
                Stage::Writing => "writing".to_owned(),
                Stage::Processing { job, instances } => format!(
                    "too big for one process: {instances} `tollgate process` subprocesses read it \
                     (processing job {job})"
                ),
            });
        })
        .await?;
    bar.finish_and_clear();
    // A batch's outcome comes first; the rest are files its marker left out.
    (!outcomes.is_empty())
        .then(|| outcomes.remove(0))
        .ok_or_else(|| anyhow::anyhow!("the ingest handler returned no outcome for {}", meta.key))
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
    ingest_stored(env, &bar, &meta).await
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
