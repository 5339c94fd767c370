//! The catalog commits a version before its files are written. An upload that starts in that
//! moment finds the new version but not yet its data: a race it lost, to be tried again, never an
//! upload dropped.

use std::sync::Arc;

use bytes::Bytes;
use tollgate_domain::ports::{BlobStore, Catalog, Ports, SystemClock};
use tollgate_domain::{BlobKey, BucketName, DatasetName, ObjectRef, UploadStatus, UserId};
use tollgate_ingest::{Ingest, IngestError, UploadRef};
use tollgate_local::{FsBlobStore, InProcessBus, SqliteCatalog};

fn upload(bucket: &BucketName, file: &str) -> UploadRef {
    UploadRef {
        object: ObjectRef::new(
            bucket.clone(),
            BlobKey::parse(&format!("incoming/wine/{file}")).unwrap(),
        ),
        dataset: DatasetName::parse("wine").unwrap(),
        file_name: file.to_owned(),
        uploaded_by: UserId::parse("alice").unwrap(),
    }
}

#[tokio::test]
async fn an_upload_whose_parent_is_still_being_written_is_retried_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketName::parse("tollgate-data").unwrap();
    let blobs = Arc::new(FsBlobStore::new(dir.path().join("buckets")));
    let catalog = Arc::new(SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap());
    let ports = Ports {
        blobs: blobs.clone(),
        catalog: catalog.clone(),
        bus: Arc::new(InProcessBus::new()),
        clock: Arc::new(SystemClock),
        data_bucket: bucket.clone(),
    };
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
