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

/// A file the folder store handed out (a fetched object) or written in its scratch folder is
/// kept elsewhere by a hard link, not a second copy (a 16 GB upload and its version's
/// `original/` share their bytes, and so do the ingest's Parquet copy and the version's data); a
/// file from outside the store is copied, so that changing it later changes no object.
#[tokio::test]
async fn the_folder_store_links_its_own_files_and_copies_others() {
    use std::os::unix::fs::MetadataExt;
    use tollgate_domain::ports::BlobStore;
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path());
    let bucket = BucketName::parse("links").unwrap();
    let key = |k: &str| tollgate_domain::BlobKey::parse(k).unwrap();
    store
        .put(
            &bucket,
            &key("incoming/a.csv"),
            bytes::Bytes::from_static(b"x,y\n1,2\n"),
        )
        .await
        .unwrap();
    let fetched = store.fetch(&bucket, &key("incoming/a.csv")).await.unwrap();
    store
        .put_file(&bucket, &key("kept/a.csv"), &fetched.path)
        .await
        .unwrap();
    let inode = |k: &str| {
        std::fs::metadata(store.path_of(&bucket, &key(k)))
            .unwrap()
            .ino()
    };
    assert_eq!(inode("kept/a.csv"), inode("incoming/a.csv"));

    // A work file in the store's scratch folder (an ingest's Parquet copy) is linked too, and is
    // no object.
    let work = store.scratch_dir(&bucket).unwrap().join("data.parquet");
    std::fs::write(&work, b"PAR1").unwrap();
    store
        .put_file(&bucket, &key("datasets/d/v1/data.parquet"), &work)
        .await
        .unwrap();
    let work_inode = std::fs::metadata(&work).unwrap().ino();
    assert_eq!(inode("datasets/d/v1/data.parquet"), work_inode);
    let listed = store.list(&bucket, "").await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");

    let outside = dir
        .path()
        .join("..")
        .join(format!("outside-{}.csv", std::process::id()));
    std::fs::write(&outside, b"x\n3\n").unwrap();
    store
        .put_file(&bucket, &key("kept/b.csv"), &outside)
        .await
        .unwrap();
    std::fs::write(&outside, b"changed\n").unwrap();
    let kept = store.get(&bucket, &key("kept/b.csv")).await.unwrap();
    std::fs::remove_file(&outside).unwrap();
    assert_eq!(&kept[..], b"x\n3\n");
}
