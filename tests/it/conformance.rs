//! The ports' conformance suites on the embedded adapters.

use tollgate_domain::BucketName;
use tollgate_local::{FsBlobStore, SqliteCatalog};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_folder_blob_store_passes_the_blob_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path());
    tollgate_domain::conformance::blob_store(&store, &BucketName::parse("conformance").unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sqlite_catalog_passes_the_catalog_suite() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
    tollgate_domain::conformance::catalog(&catalog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_catalog_handles_on_one_file_race_like_two_processes() {
    // Each handle is its own SQLite connection, as separate processes have.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let a = SqliteCatalog::open(&path).unwrap();
    let _b = SqliteCatalog::open(&path).unwrap();
    tollgate_domain::conformance::catalog(&a).await;
}
