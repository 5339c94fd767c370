//! The frozen split of a dataset version: written once per (version, split settings) under
//! `datasets/<name>/v<N>/splits/<id>/`, and reused by every run with the same settings.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tollgate_domain::pipeline::Split;
use tollgate_domain::ports::BlobStore;
use tollgate_domain::training::SplitFiles;
use tollgate_domain::{BlobKey, BucketName, ContentHash, DatasetVersion, ObjectRef, PortError};
use tollgate_validation::split::{split_parquet, without_column};

use crate::TuneError;

fn key(text: String) -> Result<BlobKey, TuneError> {
    BlobKey::parse(&text).map_err(|e| TuneError::Refused(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, TuneError> {
    serde_json::from_slice(bytes)
        .map_err(|e| TuneError::Port(PortError::other(format!("decoding {what}"), e)))
}

/// The split's files, writing them if this is the first run to need them. The manifest
/// (`split.json`) is created last and only once, so a reader sees a whole split or none.
pub async fn freeze(
    blobs: &dyn BlobStore,
    bucket: &BucketName,
    version: &DatasetVersion,
    split: &Split,
    work_dir: &std::path::Path,
) -> Result<SplitFiles, TuneError> {
    let settings = serde_json::to_vec(split).expect("a split always encodes");
    let id = hex::encode(&Sha256::digest(&settings)[..6]);
    let base = format!("{}/splits/{id}", version.location.key);
    let manifest = key(format!("{base}/split.json"))?;
    match blobs.get(bucket, &manifest).await {
        Ok(bytes) => return decode(&bytes, "a split manifest"),
        Err(PortError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let mut data = Vec::with_capacity(version.data_keys().len());
    for data_key in version.data_keys() {
        data.push(
            blobs
                .fetch(&version.location.bucket, &key(data_key)?)
                .await?,
        );
    }
    let work = work_dir.to_owned();
    let split_settings = split.clone();
    let paths: Vec<std::path::PathBuf> = data.iter().map(|d| d.path.clone()).collect();
    let parts = tokio::task::spawn_blocking(move || {
        let inputs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        split_parquet(&inputs, &split_settings, &work)
    })
    .await
    .map_err(|e| TuneError::Port(PortError::other("a split task failed", e)))??;
    let mut refs = Vec::with_capacity(3);
    let mut test_hash = None;
    for (name, file) in ["train", "validation", "test"].iter().zip(&parts.files) {
        let object = key(format!("{base}/{name}.parquet"))?;
        let bytes = Bytes::from(
            std::fs::read(file.path())
                .map_err(|e| PortError::other(format!("reading the {name} split"), e))?,
        );
        // The first writer wins; a split is deterministic, so a loser's bytes were the same rows.
        blobs.create(bucket, &object, bytes).await?;
        if *name == "test" {
            let stored = blobs.get(bucket, &object).await?;
            test_hash = Some(
                ContentHash::parse(&hex::encode(Sha256::digest(&stored)))
                    .expect("a SHA-256 is a content hash"),
            );
        }
        refs.push(ObjectRef::new(bucket.clone(), object));
    }
    let [train, validation, test]: [ObjectRef; 3] = refs.try_into().expect("three parts");
    let files = SplitFiles {
        train,
        validation,
        test,
        test_hash: test_hash.expect("the test part was written"),
        test_features: None,
        rows: parts.rows,
        features: version.schema.iter().map(|c| c.name.clone()).collect(),
    };
    let body = Bytes::from(serde_json::to_vec_pretty(&files).expect("a split always encodes"));
    if blobs.create(bucket, &manifest, body).await?.is_none() {
        // Another run froze it first: theirs is the split.
        return decode(&blobs.get(bucket, &manifest).await?, "a split manifest");
    }
    Ok(files)
}

/// The split's test rows without `target`, for a run's training jobs to predict: written once
/// per split and target beside the split (`test-features/<id>.parquet`), reused after.
pub async fn test_features(
    blobs: &dyn BlobStore,
    files: &SplitFiles,
    target: &str,
    work_dir: &std::path::Path,
) -> Result<ObjectRef, TuneError> {
    let bucket = &files.test.bucket;
    let base = files
        .test
        .key
        .as_str()
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder);
    let id = hex::encode(&Sha256::digest(target.as_bytes())[..6]);
    let object = key(format!("{base}/test-features/{id}.parquet"))?;
    if blobs.head(bucket, &object).await?.is_none() {
        let test = blobs.fetch(bucket, &files.test.key).await?;
        let (path, target, work) = (test.path.clone(), target.to_owned(), work_dir.to_owned());
        let file = tokio::task::spawn_blocking(move || without_column(&path, &target, &work))
            .await
            .map_err(|e| TuneError::Port(PortError::other("a split task failed", e)))??;
        let bytes = Bytes::from(
            std::fs::read(file.path())
                .map_err(|e| PortError::other("reading the test features", e))?,
        );
        // The first writer wins; every writer's bytes are the same columns of the same rows.
        blobs.create(bucket, &object, bytes).await?;
    }
    Ok(ObjectRef::new(bucket.clone(), object))
}
