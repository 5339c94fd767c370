//! Conformance suites for the ports: every adapter (the embedded ones now, the AWS ones later)
//! runs these against a fresh, empty instance and must pass them unchanged.
//!
//! They panic with a message that names the property that failed.

use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;

use crate::ports::{BlobStore, Catalog, NewVersion, StoredContract};
use crate::{
    AuditEvent, BlobKey, BucketName, ColumnContract, ColumnType, ContentHash, Contract,
    DatasetName, DatasetVersion, ObjectRef, PortError, UploadRecord, UploadStatus, UserId,
};

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).expect("a valid test key")
}

/// The BlobStore contract: atomic put and get, conditional create, list by prefix in key order,
/// copy, head, fetch to a local file, and a presigned URL.
pub async fn blob_store(store: &dyn BlobStore, bucket: &BucketName) {
    let a = key("conformance/a.txt");
    assert!(
        matches!(store.get(bucket, &a).await, Err(PortError::NotFound(_))),
        "get of a missing object is NotFound"
    );
    assert!(
        store.head(bucket, &a).await.unwrap().is_none(),
        "head of a missing object is None"
    );

    let meta = store
        .put(bucket, &a, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(meta.size, 5, "put reports the size");
    assert_eq!(
        store.get(bucket, &a).await.unwrap(),
        Bytes::from_static(b"hello"),
        "get returns what put stored"
    );

    store
        .put(bucket, &a, Bytes::from_static(b"hello again"))
        .await
        .unwrap();
    assert_eq!(
        store.get(bucket, &a).await.unwrap(),
        Bytes::from_static(b"hello again"),
        "put replaces"
    );

    let c = key("conformance/created.json");
    assert!(
        store
            .create(bucket, &c, Bytes::from_static(b"first"))
            .await
            .unwrap()
            .is_some(),
        "create makes a new object"
    );
    assert!(
        store
            .create(bucket, &c, Bytes::from_static(b"second"))
            .await
            .unwrap()
            .is_none(),
        "create refuses an existing key"
    );
    assert_eq!(
        store.get(bucket, &c).await.unwrap(),
        Bytes::from_static(b"first"),
        "a refused create changes nothing"
    );

    // Concurrent creates of one key: exactly one wins.
    let race = key("conformance/race");
    let attempts = (0..8).map(|i| store.create(bucket, &race, Bytes::from(format!("writer {i}"))));
    let won = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(_))))
        .count();
    assert_eq!(
        won, 1,
        "of concurrent creates of one key exactly one succeeds"
    );

    let big: Vec<u8> = (0..(6 * 1024 * 1024u32)).map(|i| (i % 251) as u8).collect();
    let dir = tempfile_dir();
    let src = dir.join("big.bin");
    std::fs::write(&src, &big).unwrap();
    let b = key("conformance/nested/deeper/big.bin");
    let meta = store.put_file(bucket, &b, &src).await.unwrap();
    assert_eq!(
        meta.size,
        big.len() as u64,
        "put_file stores every byte of a large file"
    );
    let local = store.fetch(bucket, &b).await.unwrap();
    assert_eq!(
        std::fs::read(&local.path).unwrap(),
        big,
        "fetch gives a file with the object's bytes"
    );

    let copied = key("conformance/copy/big.bin");
    store.copy(bucket, &b, &copied).await.unwrap();
    assert_eq!(
        store.get(bucket, &copied).await.unwrap().len(),
        big.len(),
        "copy duplicates the object"
    );
    assert!(
        store.head(bucket, &b).await.unwrap().is_some(),
        "copy leaves the source in place"
    );
    assert!(
        matches!(
            store.copy(bucket, &key("conformance/none"), &copied).await,
            Err(PortError::NotFound(_))
        ),
        "copy of a missing object is NotFound"
    );

    let listed: Vec<String> = store
        .list(bucket, "conformance/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(
        listed,
        vec![
            "conformance/a.txt",
            "conformance/copy/big.bin",
            "conformance/created.json",
            "conformance/nested/deeper/big.bin",
            "conformance/race",
        ],
        "list returns every key under the prefix, in key order"
    );
    assert!(
        store
            .list(bucket, "nothing-here/")
            .await
            .unwrap()
            .is_empty(),
        "list of an empty prefix is empty"
    );

    let url = store
        .presign_put(
            bucket,
            &key("conformance/upload.csv"),
            Duration::from_secs(900),
        )
        .await
        .unwrap();
    assert!(
        !url.is_empty() && url.contains("upload.csv"),
        "a presigned URL names the object: {url}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-conformance-{}-{}",
        std::process::id(),
        Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn hash(n: u8) -> ContentHash {
    ContentHash::parse(&format!("{n:02x}").repeat(32)).unwrap()
}

fn object(k: &str) -> ObjectRef {
    ObjectRef::new(BucketName::parse("conformance").unwrap(), key(k))
}

fn contract(dataset: &DatasetName) -> Contract {
    Contract::new(
        dataset.clone(),
        vec![ColumnContract {
            name: "x".into(),
            dtype: ColumnType::Float,
            nullable: false,
            max_null_fraction: None,
            min: None,
            max: None,
            allowed_values: None,
            unique: false,
        }],
    )
}

fn audit(subject: &str, action: &str) -> AuditEvent {
    AuditEvent::new(Timestamp::now(), user("conformance"), action, subject)
}

fn new_version(
    dataset: &DatasetName,
    version: u32,
    parent: Option<u32>,
    h: u8,
    upload_key: &str,
) -> NewVersion {
    let v = DatasetVersion {
        dataset: dataset.clone(),
        version,
        content_hash: hash(h),
        source: object(&format!("incoming/{dataset}/{h}.csv")),
        location: object(&format!("datasets/{dataset}/v{version}")),
        rows: 10,
        bytes: 100,
        format: "csv".into(),
        schema: Vec::new(),
        contract_version: 1,
        parent_version: parent,
        uploaded_by: user("alice"),
        created_at: Timestamp::now(),
        drifted_columns: Vec::new(),
    };
    let upload = UploadRecord {
        upload_key: upload_key.into(),
        dataset: dataset.clone(),
        status: UploadStatus::Accepted,
        version: Some(version),
        content_hash: hash(h),
        source: v.source.clone(),
        kept_at: v.location.clone(),
        report: object(&format!("datasets/{dataset}/v{version}/report.json")),
        rows: Some(10),
        bytes: 100,
        reasons: Vec::new(),
        uploaded_by: user("alice"),
        created_at: Timestamp::now(),
        finalized: false,
    };
    NewVersion {
        founding_contract: (version == 1).then(|| StoredContract {
            version: 1,
            contract: contract(dataset),
            created_by: user("alice"),
            created_at: Timestamp::now(),
            origin: "inferred from v1".into(),
        }),
        audit: audit(
            &format!("dataset/{dataset}/v{version}"),
            "dataset.version.accepted",
        ),
        version: v,
        upload,
    }
}

/// The Catalog contract: versions follow one another, a content hash and an upload key are
/// recorded once, every write is all-or-nothing, and concurrent writers cannot both win.
pub async fn catalog(catalog: &dyn Catalog) {
    let ds = DatasetName::parse("conformance-ds").unwrap();
    assert!(
        catalog.dataset(&ds).await.unwrap().is_none(),
        "an unknown dataset is None"
    );

    catalog
        .commit_version(new_version(&ds, 1, None, 1, "u1"))
        .await
        .unwrap();
    let d = catalog
        .dataset(&ds)
        .await
        .unwrap()
        .expect("the dataset exists after its first version");
    assert_eq!(d.latest_version, Some(1));
    assert_eq!(
        d.contract_version,
        Some(1),
        "the founding contract is in force"
    );
    assert_eq!(
        catalog.contract(&ds, None).await.unwrap().unwrap().contract,
        contract(&ds)
    );

    // The same upload again, a version out of order, a known hash: all refused, nothing written.
    assert!(
        matches!(
            catalog
                .commit_version(new_version(&ds, 2, Some(1), 2, "u1"))
                .await,
            Err(PortError::Conflict(_))
        ),
        "an upload key is recorded once"
    );
    assert!(
        matches!(
            catalog
                .commit_version(new_version(&ds, 3, Some(2), 3, "u3"))
                .await,
            Err(PortError::Conflict(_))
        ),
        "a version must follow the latest"
    );
    assert!(
        matches!(
            catalog
                .commit_version(new_version(&ds, 2, Some(1), 1, "u4"))
                .await,
            Err(PortError::Conflict(_))
        ),
        "a content hash is one version"
    );
    assert_eq!(
        catalog.versions(&ds).await.unwrap().len(),
        1,
        "refused commits write nothing"
    );
    assert!(
        catalog.upload("u3").await.unwrap().is_none(),
        "a refused commit records no upload"
    );

    // Eight writers race for version 2: one wins.
    let racers = (0..8u8).map(|i| {
        catalog.commit_version(new_version(&ds, 2, Some(1), 10 + i, &format!("race-{i}")))
    });
    let results = futures::future::join_all(racers).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners, 1,
        "of concurrent commits of one version exactly one lands: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(PortError::Conflict(_)))),
        "the losers get Conflict"
    );
    let versions = catalog.versions(&ds).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2],
        "versions come oldest first"
    );
    let winner_hash = versions[1].content_hash.clone();
    assert_eq!(
        catalog
            .version_by_hash(&ds, &winner_hash)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert!(catalog.version(&ds, 3).await.unwrap().is_none());

    // Rejected uploads are recorded once; finalizing is idempotent.
    let mut rejected = new_version(&ds, 9, None, 99, "rejected-1").upload;
    rejected.status = UploadStatus::Rejected;
    rejected.version = None;
    catalog
        .record_upload(
            rejected.clone(),
            audit("dataset/conformance-ds/upload/x", "dataset.upload.rejected"),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            catalog
                .record_upload(rejected.clone(), audit("x", "y"))
                .await,
            Err(PortError::Conflict(_))
        ),
        "an upload is recorded once"
    );
    catalog.mark_finalized("rejected-1").await.unwrap();
    catalog.mark_finalized("rejected-1").await.unwrap();
    assert!(
        catalog
            .upload("rejected-1")
            .await
            .unwrap()
            .unwrap()
            .finalized
    );
    assert_eq!(
        catalog.uploads(&ds).await.unwrap().len(),
        3,
        "uploads: v1, the race winner, the rejection"
    );

    // Contracts: conditional on the version in force.
    let next = StoredContract {
        version: 0,
        contract: contract(&ds),
        created_by: user("bob"),
        created_at: Timestamp::now(),
        origin: "applied by bob".into(),
    };
    assert!(
        matches!(
            catalog
                .put_contract(
                    next.clone(),
                    None,
                    audit("contract/conformance-ds", "contract.applied")
                )
                .await,
            Err(PortError::Conflict(_))
        ),
        "a contract replaces the one in force, named"
    );
    assert_eq!(
        catalog
            .put_contract(
                next.clone(),
                Some(1),
                audit("contract/conformance-ds", "contract.applied")
            )
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        catalog.contract(&ds, None).await.unwrap().unwrap().version,
        2
    );
    assert_eq!(
        catalog
            .contract(&ds, Some(1))
            .await
            .unwrap()
            .unwrap()
            .version,
        1,
        "old contracts stay readable"
    );

    let trail = catalog.audit(Some("dataset/conformance-ds")).await.unwrap();
    assert_eq!(
        trail.len(),
        3,
        "one audit event per landed write: {trail:?}"
    );
    assert!(
        catalog
            .audit(Some("contract/"))
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == "contract.applied")
    );
    assert_eq!(catalog.datasets().await.unwrap().len(), 1);
}
