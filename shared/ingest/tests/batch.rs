//! Batch folders on the embedded default: the files of `incoming/<dataset>/<batch>/` become one
//! version when the folder's marker arrives; bad folders, a second marker and late files are
//! rejected with the file named, and no version ever changes.

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tollgate_domain::ports::{BlobStore, Catalog, ObjectMeta};
use tollgate_domain::{BlobKey, BucketName, DatasetName, UploadOutcome, UploadStatus};
use tollgate_ingest::Ingest;
use tollgate_local::{DataDir, FsBlobStore, InProcessBus, SqliteCatalog};

struct Env {
    _dir: tempfile::TempDir,
    blobs: Arc<FsBlobStore>,
    catalog: Arc<SqliteCatalog>,
    bucket: BucketName,
    ingest: Ingest,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let local = DataDir::open(dir.path()).unwrap();
        let ports = local.ports(Arc::new(InProcessBus::new()));
        let ingest = Ingest::new(&ports, dir.path().to_owned());
        Self {
            blobs: local.blobs.clone(),
            catalog: local.catalog.clone(),
            bucket: local.bucket.clone(),
            ingest,
            _dir: dir,
        }
    }

    /// Puts `body` at `key` and hands the handler the notification S3 would send.
    async fn put(&self, key: &str, body: impl Into<Bytes>) -> Vec<UploadOutcome> {
        let meta = self
            .blobs
            .put(&self.bucket, &BlobKey::parse(key).unwrap(), body.into())
            .await
            .unwrap();
        self.notify(&meta).await
    }

    async fn notify(&self, meta: &ObjectMeta) -> Vec<UploadOutcome> {
        self.ingest
            .handle(&event(&self.bucket, meta))
            .await
            .unwrap()
    }

    async fn object(&self, key: &str) -> Option<Bytes> {
        self.blobs
            .get(&self.bucket, &BlobKey::parse(key).unwrap())
            .await
            .ok()
    }
}

fn event(bucket: &BucketName, meta: &ObjectMeta) -> S3Event {
    serde_json::from_value(serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": "2026-12-04T10:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "alice"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "tollgate-ingest",
                "bucket": {"name": bucket.as_str(), "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": meta.key.as_str(), "size": meta.size,
                           "eTag": meta.etag.clone().unwrap_or_default(), "sequencer": "0"}
            }
        }]
    }))
    .unwrap()
}

/// The wine sample cut into `parts` CSV files, each with the header.
fn wine_parts(parts: usize) -> Vec<String> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine/wine-2009-a.csv"),
    )
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    rows.chunks(rows.len().div_ceil(parts))
        .map(|chunk| format!("{header}\n{}\n", chunk.join("\n")))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn only(outcomes: Vec<UploadOutcome>) -> UploadOutcome {
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_folder_becomes_one_version_when_its_marker_arrives() {
    let env = Env::new();
    let parts = wine_parts(3);
    for (i, part) in parts.iter().enumerate() {
        let outcomes = env
            .put(
                &format!("incoming/wine/2026-12-04/part-{i:05}.csv"),
                part.clone(),
            )
            .await;
        assert!(outcomes.is_empty(), "a part waits for its marker");
    }
    // Spark's bookkeeping is not data.
    env.put("incoming/wine/2026-12-04/.part-00000.csv.crc", "x")
        .await;
    let outcome = only(env.put("incoming/wine/2026-12-04/_SUCCESS", "").await);
    assert_eq!(outcome.record.status, UploadStatus::Accepted, "{outcome:?}");
    assert_eq!(outcome.record.version, Some(1));
    let rows: usize = parts.iter().map(|p| p.lines().count() - 1).sum();
    assert_eq!(outcome.record.rows, Some(rows as u64), "rows is the total");

    // The version's hash is sha256sum's lines for the files, in name order, hashed.
    let listing: String = parts
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}  part-{i:05}.csv\n", sha256_hex(p.as_bytes())))
        .collect();
    assert_eq!(
        outcome.record.content_hash.as_str(),
        sha256_hex(listing.as_bytes())
    );
    let names: Vec<&str> = outcome
        .report
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    );
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(
            env.object(&format!("datasets/wine/v1/original/part-{i:05}.csv"))
                .await
                .unwrap(),
            part.as_bytes(),
            "each file is kept with the version"
        );
    }
    let data = env.object("datasets/wine/v1/data.parquet").await.unwrap();
    assert!(data.starts_with(b"PAR1"));

    // The marker's event again, and a part's (late deliveries): the same outcome, nothing new.
    let marker = env
        .blobs
        .head(
            &env.bucket,
            &BlobKey::parse("incoming/wine/2026-12-04/_SUCCESS").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let again = only(env.notify(&marker).await);
    assert_eq!(again.record.version, Some(1));
    let part = env
        .blobs
        .head(
            &env.bucket,
            &BlobKey::parse("incoming/wine/2026-12-04/part-00001.csv").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(env.notify(&part).await.is_empty());
    let wine = DatasetName::parse("wine").unwrap();
    assert_eq!(env.catalog.versions(&wine).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_file_after_the_marker_and_a_second_marker_are_rejected_and_the_version_stays() {
    let env = Env::new();
    let parts = wine_parts(2);
    env.put("incoming/wine/b1/part-0.csv", parts[0].clone())
        .await;
    let first = only(env.put("incoming/wine/b1/_SUCCESS", "").await);
    assert_eq!(first.record.version, Some(1));

    let late = only(
        env.put("incoming/wine/b1/part-1.csv", parts[1].clone())
            .await,
    );
    assert_eq!(late.record.status, UploadStatus::Rejected);
    let reasons = late.record.reasons.join("\n");
    assert!(
        reasons.contains("part-1.csv") && reasons.contains("became v1 without it"),
        "{reasons}"
    );
    let kept = env
        .object(late.record.kept_at.key.as_str())
        .await
        .expect("the late file is quarantined");
    assert_eq!(kept, parts[1].as_bytes());

    let second = only(env.put("incoming/wine/b1/_SUCCESS", "again").await);
    assert_eq!(second.record.status, UploadStatus::Rejected);
    let reasons = second.record.reasons.join("\n");
    assert!(
        reasons.contains("incoming/wine/b1/ was already ingested (v1)"),
        "{reasons}"
    );

    // A file of the version written again after it was made: not absorbed, rejected.
    let rewritten = only(
        env.put("incoming/wine/b1/part-0.csv", parts[1].clone())
            .await,
    );
    assert_eq!(rewritten.record.status, UploadStatus::Rejected);
    assert!(
        rewritten
            .record
            .reasons
            .join("\n")
            .contains("its marker _SUCCESS does not take it"),
        "{:?}",
        rewritten.record.reasons
    );

    let wine = DatasetName::parse("wine").unwrap();
    let versions = env.catalog.versions(&wine).await.unwrap();
    assert_eq!(versions.len(), 1, "no version changed or was added");
    assert_eq!(versions[0].rows, first.record.rows.unwrap());
}

#[tokio::test]
async fn a_manifest_whose_file_is_missing_is_rejected_with_the_file_named() {
    let env = Env::new();
    let parts = wine_parts(2);
    env.put("incoming/wine/b2/part-0.csv", parts[0].clone())
        .await;
    let manifest = serde_json::json!({"files": [
        {"name": "part-0.csv", "size": parts[0].len()},
        {"name": "part-1.csv", "size": parts[1].len()},
    ]});
    let outcome = only(
        env.put("incoming/wine/b2/_manifest.json", manifest.to_string())
            .await,
    );
    assert_eq!(outcome.record.status, UploadStatus::Rejected);
    let reasons = outcome.record.reasons.join("\n");
    assert!(
        reasons.contains("the manifest lists part-1.csv, which is not in incoming/wine/b2/"),
        "{reasons}"
    );
    assert!(
        env.object(outcome.record.report.key.as_str())
            .await
            .is_some(),
        "its report is kept"
    );
    // The refusal is the folder's: the missing file, arriving now, is not taken silently.
    let missing = only(
        env.put("incoming/wine/b2/part-1.csv", parts[1].clone())
            .await,
    );
    assert_eq!(missing.record.status, UploadStatus::Rejected);
    assert!(
        missing
            .record
            .reasons
            .join("\n")
            .contains("incoming/wine/b2/ was rejected without it"),
        "{:?}",
        missing.record.reasons
    );
    let again = only(
        env.put("incoming/wine/b2/_manifest.json", manifest.to_string())
            .await,
    );
    assert!(
        again
            .record
            .reasons
            .join("\n")
            .contains("was already ingested (rejected)"),
        "{:?}",
        again.record.reasons
    );

    // With every file it lists, a manifest makes the version.
    env.put("incoming/wine/b3/part-0.csv", parts[0].clone())
        .await;
    env.put("incoming/wine/b3/part-1.csv", parts[1].clone())
        .await;
    env.put("incoming/wine/b3/extra.csv", parts[1].clone())
        .await;
    let mut outcomes = env
        .put("incoming/wine/b3/_manifest.json", manifest.to_string())
        .await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let extra = outcomes.pop().unwrap();
    let outcome = outcomes.pop().unwrap();
    assert_eq!(outcome.record.status, UploadStatus::Accepted, "{outcome:?}");
    assert_eq!(outcome.report.files.len(), 2, "only the files it lists");
    // The file it does not list came before it: rejected now, not left without an outcome.
    assert_eq!(extra.record.status, UploadStatus::Rejected);
    assert!(
        extra.record.source.key.as_str().ends_with("extra.csv"),
        "{:?}",
        extra.record
    );
    assert!(
        env.object("datasets/wine/v1/original/_manifest.json")
            .await
            .is_some(),
        "the manifest is kept with the version"
    );
}

#[tokio::test]
async fn files_whose_columns_disagree_are_rejected_with_the_file_named() {
    let env = Env::new();
    let parts = wine_parts(2);
    env.put("incoming/wine/b4/part-0.csv", parts[0].clone())
        .await;
    let renamed = parts[1].replacen("alcohol", "alcohol_pct", 1);
    env.put("incoming/wine/b4/part-1.csv", renamed).await;
    let outcome = only(env.put("incoming/wine/b4/_SUCCESS", "").await);
    assert_eq!(outcome.record.status, UploadStatus::Rejected);
    let reasons = outcome.record.reasons.join("\n");
    assert!(
        reasons
            .contains("part-1.csv has no column [\"alcohol\"] and extra columns [\"alcohol_pct\"]"),
        "{reasons}"
    );
    // Every file of the batch is quarantined with the report.
    let quarantine = outcome.record.kept_at.key.as_str().to_owned();
    for name in ["part-0.csv", "part-1.csv", "report.json"] {
        assert!(
            env.object(&format!("{quarantine}/{name}")).await.is_some(),
            "{quarantine}/{name}"
        );
    }
}

/// A version past a million rows keeps its columns' summaries: the next version's drift is
/// measured against them, without its data.
#[tokio::test]
async fn a_large_version_keeps_its_summaries_and_the_next_drift_needs_only_them() {
    let env = Env::new();
    let rows = |shift: f64| {
        let mut csv = String::from("x,y\n");
        for i in 0..1_000_100u64 {
            csv.push_str(&format!("{},{}\n", (i % 997) as f64 + shift, i % 13));
        }
        csv
    };
    let v1 = env.put("incoming/big/v1.csv", rows(0.0)).await;
    assert_eq!(v1[0].record.status, UploadStatus::Accepted);
    assert!(
        env.object("datasets/big/v1/summary.msgpack")
            .await
            .is_some(),
        "kept past the exact limit"
    );
    // Without v1's data the drift can only come from its summaries.
    std::fs::remove_file(
        env._dir
            .path()
            .join("buckets/tollgate-data/datasets/big/v1/data.parquet"),
    )
    .unwrap();
    let v2 = env.put("incoming/big/v2.csv", rows(300.0)).await;
    assert_eq!(v2[0].record.status, UploadStatus::Accepted);
    let drift = v2[0].report.drift.as_ref().expect("drift against v1");
    assert_eq!(drift.baseline_version, 1);
    assert!(
        drift.drifted_columns().contains(&"x".to_owned()),
        "{:?}",
        drift.drifted_columns()
    );
    assert!(!drift.drifted_columns().contains(&"y".to_owned()));
}
