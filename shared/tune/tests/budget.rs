//! A period's budget holds when runs of one pipeline start at once: each run reads the budget
//! before the others are stored, and is held to it again once it is stored itself.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tollgate_domain::ports::{BlobStore, Catalog, TrainingBackend};
use tollgate_domain::training::{JobStatus, TrainingJob};
use tollgate_domain::{
    AuditEvent, BlobKey, ContentHash, Pipeline, PortError, StoredPipeline, UserId,
};
use tollgate_ingest::Ingest;
use tollgate_local::{DataDir, InProcessBus};
use tollgate_tune::{Tune, TuneConfig};

/// A SageMaker that takes every job and never finishes one: the runs hold their allowances.
#[derive(Debug)]
struct Busy;

#[async_trait]
impl TrainingBackend for Busy {
    async fn start(&self, _job: &TrainingJob) -> Result<bool, PortError> {
        Ok(true)
    }
    async fn describe(&self, _name: &str) -> Result<JobStatus, PortError> {
        Ok(JobStatus::InProgress)
    }
    async fn stop(&self, _name: &str) -> Result<(), PortError> {
        Ok(())
    }
}

const PIPELINE: &str = r#"
name = "wine-monthly"
dataset = "wine"
target = "alcohol"
task = "regression"
model = "linear_regression"
[search]
strategy = "random"
[search.space]
fit_intercept = { type = "choice", values = [true, false] }
[budget]
max_trials = 4
max_parallel = 4
[budget.period]
every = "month"
max_trials = 10
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_started_at_once_hold_no_more_than_the_period_budget_together() {
    let dir = tempfile::tempdir().unwrap();
    let local = DataDir::open(dir.path()).unwrap();
    let (blobs, catalog, bucket) = (
        local.blobs.clone(),
        local.catalog.clone(),
        local.bucket.clone(),
    );
    let ports = local.ports(Arc::new(InProcessBus::new()));
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine/wine-2009-a.csv");
    let key = BlobKey::parse("incoming/wine/wine-2009-a.csv").unwrap();
    let put = blobs
        .put(&bucket, &key, Bytes::from(std::fs::read(sample).unwrap()))
        .await
        .unwrap();
    let event = serde_json::from_value(serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "local",
        "eventTime": "2026-12-03T00:00:00Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "ana"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "t",
               "bucket": {"name": "tollgate-data", "arn": "arn:aws:s3:::tollgate-data"},
               "object": {"key": key.as_str(), "size": put.size, "eTag": put.etag, "sequencer": "0"}}
    }]}))
    .unwrap();
    Ingest::new(&ports, dir.path().to_owned())
        .handle(&event)
        .await
        .unwrap();
    let ana = UserId::parse("ana").unwrap();
    let now = jiff::Timestamp::now();
    catalog
        .put_pipeline(
            StoredPipeline {
                version: 0,
                pipeline: Pipeline::from_toml(PIPELINE).unwrap(),
                text: PIPELINE.to_owned(),
                hash: ContentHash::parse(&"ab".repeat(32)).unwrap(),
                applied_by: ana.clone(),
                applied_at: now,
            },
            None,
            AuditEvent::new(now, ana, "pipeline.applied", "pipeline/wine-monthly"),
        )
        .await
        .unwrap();
    let tune = Tune::new(
        &ports,
        Arc::new(Busy),
        TuneConfig {
            work_dir: dir.path().to_owned(),
            trainer: "test".into(),
        },
    );

    // Eight firings at once, each wanting 4 trials of a month's 10.
    let firings = (0..8).map(|i| {
        let tune = tune.clone();
        let at = now - Duration::from_secs(60 * (i + 1));
        tokio::spawn(async move { tune.scheduled("wine-monthly", at).await })
    });
    for started in futures::future::join_all(firings).await {
        started.unwrap().unwrap();
    }

    let runs = catalog.runs(Some("wine-monthly")).await.unwrap();
    assert_eq!(runs.len(), 8);
    let held: u32 = runs.iter().map(|r| r.max_trials).sum();
    let started: usize = runs.iter().map(|r| r.trials.len()).sum();
    assert!(
        held <= 10 && started <= 10,
        "8 runs hold {held} trials and started {started}, of a month's 10: {:?}",
        runs.iter()
            .map(|r| (r.max_trials, r.trials.len()))
            .collect::<Vec<_>>()
    );
}
