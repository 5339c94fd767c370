//! The catalog commits a version before its files are written. An upload that starts in that
//! moment finds the new version but not yet its data: a race it lost, to be tried again, never an
//! upload dropped.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tollgate_domain::PortError;
use tollgate_domain::ports::{
    BlobStore, Catalog, LocalObject, ObjectMeta, Page, PageRequest, Ports,
};
use tollgate_domain::{BlobKey, BucketName, DatasetName, ObjectRef, UploadStatus, UserId};
use tollgate_ingest::{Arrival, Ingest, IngestError, UploadRef};
use tollgate_local::{DataDir, FsBlobStore, InProcessBus, SqliteCatalog};

fn upload(bucket: &BucketName, file: &str) -> UploadRef {
    UploadRef {
        object: ObjectRef::new(
            bucket.clone(),
            BlobKey::parse(&format!("incoming/wine/{file}")).unwrap(),
        ),
        dataset: DatasetName::parse("wine").unwrap(),
        file_name: file.to_owned(),
        uploaded_by: UserId::parse("alice").unwrap(),
        principal: None,
        arrival: Arrival::File,
    }
}

#[tokio::test]
async fn an_upload_whose_parent_is_still_being_written_is_retried_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let local = DataDir::open(dir.path()).unwrap();
    let (blobs, catalog, bucket) = (
        local.blobs.clone(),
        local.catalog.clone(),
        local.bucket.clone(),
    );
    let ports = local.ports(Arc::new(InProcessBus::new()));
    let ingest = Ingest::new(&ports, dir.path().to_owned());
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine");
    for file in ["wine-2009-a.csv", "wine-2009-b.csv"] {
        let body = Bytes::from(std::fs::read(samples.join(file)).unwrap());
        let key = BlobKey::parse(&format!("incoming/wine/{file}")).unwrap();
        blobs.put(&bucket, &key, body).await.unwrap();
    }
    ingest
        .ingest(&upload(&bucket, "wine-2009-a.csv"))
        .await
        .unwrap();

    // v1 as another process leaves it between its commit and its writes: no data yet.
    let data = blobs.path_of(
        &bucket,
        &BlobKey::parse("datasets/wine/v1/data.parquet").unwrap(),
    );
    let written = std::fs::read(&data).unwrap();
    std::fs::remove_file(&data).unwrap();
    let err = ingest
        .ingest(&upload(&bucket, "wine-2009-b.csv"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IngestError::Contended(_)) && err.is_retryable(),
        "a race lost, to be delivered again: {err}"
    );
    let wine = DatasetName::parse("wine").unwrap();
    assert_eq!(
        catalog.uploads(&wine).await.unwrap().len(),
        1,
        "nothing recorded for it"
    );

    // Once v1's data is written, the same upload goes through.
    std::fs::write(&data, written).unwrap();
    let outcome = ingest
        .ingest(&upload(&bucket, "wine-2009-b.csv"))
        .await
        .unwrap();
    assert_eq!(outcome.record.status, UploadStatus::Accepted);
    assert_eq!(outcome.record.version, Some(2));
}

/// The embedded store, with a crash injected: the first write of a version's data fails, as a
/// process killed between the catalog's commit and the version's files would leave it.
#[derive(Debug)]
struct CrashOnce {
    inner: Arc<FsBlobStore>,
    crashed: AtomicBool,
}

#[async_trait]
impl BlobStore for CrashOnce {
    async fn put(&self, b: &BucketName, k: &BlobKey, body: Bytes) -> Result<ObjectMeta, PortError> {
        self.inner.put(b, k, body).await
    }
    async fn put_file(
        &self,
        b: &BucketName,
        k: &BlobKey,
        p: &Path,
    ) -> Result<ObjectMeta, PortError> {
        if k.as_str().ends_with("data.parquet") && !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(PortError::unavailable(
                "writing a version's data",
                "the process died",
            ));
        }
        self.inner.put_file(b, k, p).await
    }
    async fn create(
        &self,
        b: &BucketName,
        k: &BlobKey,
        body: Bytes,
    ) -> Result<Option<ObjectMeta>, PortError> {
        self.inner.create(b, k, body).await
    }
    async fn get(&self, b: &BucketName, k: &BlobKey) -> Result<Bytes, PortError> {
        self.inner.get(b, k).await
    }
    async fn fetch(&self, b: &BucketName, k: &BlobKey) -> Result<LocalObject, PortError> {
        self.inner.fetch(b, k).await
    }
    async fn head(&self, b: &BucketName, k: &BlobKey) -> Result<Option<ObjectMeta>, PortError> {
        self.inner.head(b, k).await
    }
    async fn list(&self, b: &BucketName, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        self.inner.list(b, prefix).await
    }
    async fn list_page(
        &self,
        b: &BucketName,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<ObjectMeta>, PortError> {
        self.inner.list_page(b, prefix, page).await
    }
    async fn copy(&self, source: &ObjectRef, to: &BlobKey) -> Result<ObjectMeta, PortError> {
        self.inner.copy(source, to).await
    }
    async fn presign_put(
        &self,
        b: &BucketName,
        k: &BlobKey,
        expires: Duration,
        by: &tollgate_domain::UserId,
    ) -> Result<tollgate_domain::ports::PresignedPut, PortError> {
        self.inner.presign_put(b, k, expires, by).await
    }
}

/// An embedded store under `dir` whose first write of a version's data fails ([`CrashOnce`]),
/// its catalog, and an ingest handler on them publishing to `bus`.
fn crashing_once(
    dir: &Path,
    bus: Arc<InProcessBus>,
) -> (Arc<FsBlobStore>, Arc<SqliteCatalog>, Ingest) {
    let local = DataDir::open(dir).unwrap();
    let ports = Ports {
        blobs: Arc::new(CrashOnce {
            inner: local.blobs.clone(),
            crashed: AtomicBool::new(false),
        }),
        ..local.ports(bus)
    };
    (
        local.blobs,
        local.catalog,
        Ingest::new(&ports, dir.to_owned()),
    )
}

#[tokio::test]
async fn a_version_is_finished_from_the_bytes_it_was_accepted_from_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketName::parse("tollgate-data").unwrap();
    let (fs, catalog, ingest) = crashing_once(dir.path(), Arc::new(InProcessBus::new()));
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine");
    let accepted = Bytes::from(std::fs::read(samples.join("wine-2009-a.csv")).unwrap());
    let other = Bytes::from(std::fs::read(samples.join("wine-2009-b.csv")).unwrap());
    let key = BlobKey::parse("incoming/wine/batch.csv").unwrap();
    fs.put(&bucket, &key, accepted.clone()).await.unwrap();

    let crashed = ingest.ingest(&upload(&bucket, "batch.csv")).await;
    assert!(crashed.is_err(), "the injected crash after the commit");
    let wine = DatasetName::parse("wine").unwrap();
    assert_eq!(
        catalog.version(&wine, 1).await.unwrap().map(|v| v.version),
        Some(1)
    );

    // The upload's key is written again before the redelivery: v1 cannot be finished from it.
    fs.put(&bucket, &key, other).await.unwrap();
    let err = ingest
        .ingest(&upload(&bucket, "batch.csv"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IngestError::SourceChanged(_)) && !err.is_retryable(),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("changed since it was accepted as wine v1"),
        "{err}"
    );
    let original = BlobKey::parse("datasets/wine/v1/original/batch.csv").unwrap();
    assert!(
        fs.head(&bucket, &original).await.unwrap().is_none(),
        "no other bytes are kept as v1's original"
    );

    // With the accepted bytes back, the redelivery finishes v1 with exactly them.
    fs.put(&bucket, &key, accepted.clone()).await.unwrap();
    let outcome = ingest.ingest(&upload(&bucket, "batch.csv")).await.unwrap();
    assert_eq!(outcome.record.version, Some(1));
    assert_eq!(fs.get(&bucket, &original).await.unwrap(), accepted);
}

/// A crash between the commit and the version's files, and no redelivery ever (its message
/// dead-lettered): the sweep finishes the version, once, and the next upload goes through.
#[tokio::test]
async fn a_sweep_finishes_what_a_crash_left_and_no_delivery_came_back_for() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketName::parse("tollgate-data").unwrap();
    let bus = Arc::new(InProcessBus::recording());
    let (fs, catalog, ingest) = crashing_once(dir.path(), bus.clone());
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine");
    for file in ["wine-2009-a.csv", "wine-2009-b.csv"] {
        let body = Bytes::from(std::fs::read(samples.join(file)).unwrap());
        let key = BlobKey::parse(&format!("incoming/wine/{file}")).unwrap();
        fs.put(&bucket, &key, body).await.unwrap();
    }
    assert!(
        ingest
            .ingest(&upload(&bucket, "wine-2009-a.csv"))
            .await
            .is_err(),
        "the injected crash after the commit"
    );
    let wine = DatasetName::parse("wine").unwrap();
    assert!(!catalog.uploads(&wine).await.unwrap()[0].finalized);

    // A sweep leaves younger records to the attempts that may still be at work on them.
    assert!(
        ingest
            .sweep(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    let swept = ingest.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].record.version, Some(1));
    assert!(catalog.uploads(&wine).await.unwrap()[0].finalized);
    let data = BlobKey::parse("datasets/wine/v1/data.parquet").unwrap();
    assert!(fs.head(&bucket, &data).await.unwrap().is_some());
    assert!(
        ingest.sweep(Duration::ZERO).await.unwrap().is_empty(),
        "once"
    );
    let accepted = |events: Vec<tollgate_domain::Event>| {
        events
            .iter()
            .filter(|e| matches!(e, tollgate_domain::Event::DatasetVersionAccepted { .. }))
            .count()
    };
    assert_eq!(accepted(bus.published()), 1, "v1 announced once");

    // The dataset is not stuck: the next upload becomes v2.
    let next = ingest
        .ingest(&upload(&bucket, "wine-2009-b.csv"))
        .await
        .unwrap();
    assert_eq!(next.record.version, Some(2));
}
