//! Conformance suites for the ports: every adapter (the embedded ones now, the AWS ones later)
//! runs these against a fresh, empty instance and must pass them unchanged.
//!
//! They panic with a message that names the property that failed.

use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;

use crate::pipeline::Promotion;
use crate::ports::{BlobStore, Catalog, NewVersion, Page, PageRequest, StoredContract};
use crate::promotion::{self, ModelState, Request, TestVerdict, Transition};
use crate::training::{CandidateRef, SplitFiles};
use crate::{
    AuditEvent, BlobKey, BucketName, ColumnContract, ColumnType, ContentHash, Contract,
    DatasetName, DatasetVersion, ModelStage, ModelVersion, ObjectRef, Pipeline, PortError, Run,
    RunStatus, StoredPipeline, Trigger, UploadRecord, UploadStatus, UserId,
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
    store
        .copy(&ObjectRef::new(bucket.clone(), b.clone()), &copied)
        .await
        .unwrap();
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
            store
                .copy(
                    &ObjectRef::new(bucket.clone(), key("conformance/none")),
                    &copied
                )
                .await,
            Err(PortError::NotFound(_))
        ),
        "copy of a missing object is NotFound"
    );

    // A fetched object is the bytes as they were: a later put to its key changes neither it nor
    // (for a store that keeps versions) a copy of the version fetched.
    let pinned = key("pinned/object");
    let first = store.put(bucket, &pinned, "first".into()).await.unwrap();
    let fetched = store.fetch(bucket, &pinned).await.unwrap();
    store.put(bucket, &pinned, "second".into()).await.unwrap();
    assert_eq!(
        std::fs::read(&fetched.path).unwrap(),
        b"first",
        "a fetched object does not change under a later put"
    );
    let source = ObjectRef {
        version_id: first.version_id.clone(),
        ..ObjectRef::new(bucket.clone(), pinned.clone())
    };
    let kept = key("pinned/kept");
    match &first.version_id {
        Some(_) => {
            store.copy(&source, &kept).await.unwrap();
            assert_eq!(
                store.get(bucket, &kept).await.unwrap(),
                Bytes::from("first"),
                "a copy of a version is that version"
            );
        }
        None => {
            let refused = ObjectRef {
                version_id: Some("v1".into()),
                ..source
            };
            assert!(
                matches!(
                    store.copy(&refused, &kept).await,
                    Err(PortError::Invalid(_))
                ),
                "a store without versions refuses to copy one"
            );
        }
    }

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
    let paged = all_pages(2, |p| async move {
        store.list_page(bucket, "conformance/", &p).await.unwrap()
    })
    .await;
    assert_eq!(paged.len(), 3, "five keys in pages of two");
    assert_eq!(
        paged
            .concat()
            .into_iter()
            .map(|m| m.key.to_string())
            .collect::<Vec<_>>(),
        listed,
        "the pages of a listing are the listing"
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
            &user("alice"),
        )
        .await
        .unwrap()
        .url;
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
        parts: 0,
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
    let owed = |records: Vec<UploadRecord>| {
        records
            .into_iter()
            .map(|r| r.upload_key)
            .collect::<Vec<_>>()
    };
    let before = owed(catalog.unfinalized_uploads().await.unwrap());
    assert!(
        before.contains(&"rejected-1".to_owned()),
        "an upload not finalized is on the sweep's list: {before:?}"
    );
    catalog.mark_finalized("rejected-1").await.unwrap();
    catalog.mark_finalized("rejected-1").await.unwrap();
    let after = owed(catalog.unfinalized_uploads().await.unwrap());
    assert_eq!(
        after,
        before
            .iter()
            .filter(|k| *k != "rejected-1")
            .cloned()
            .collect::<Vec<_>>(),
        "finalizing takes it off the list, and only it, the rest in order"
    );
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

    promotion(catalog).await;
    paging(catalog).await;
    short_lists(catalog, &ds).await;
    deployments(catalog).await;
}

/// A deployment record: none at first, created once, then replaced only over the revision
/// read, with its audit events in the same write.
async fn deployments(catalog: &dyn Catalog) {
    use crate::deploy::{Deployment, DeploymentStatus};
    assert!(catalog.deployment("conf-deploy").await.unwrap().is_none());
    let at = Timestamp::from_second(1_700_000_000).unwrap();
    let first = Deployment {
        model: "conf-deploy".into(),
        endpoint: "tg-conf-deploy".into(),
        version: 1,
        config: "tg-conf-deploy-v1-0000aaaa".into(),
        status: DeploymentStatus::Deploying,
        previous: None,
        reason: None,
        actor: user("ann"),
        started_at: at,
        updated_at: at,
        revision: 1,
    };
    let started = AuditEvent::new(
        at,
        user("ann"),
        "deployment.started",
        "model/conf-deploy/v1",
    );
    catalog.save_deployment(&first, &[started]).await.unwrap();
    assert_eq!(
        catalog.deployment("conf-deploy").await.unwrap(),
        Some(first.clone())
    );
    assert!(
        matches!(
            catalog.save_deployment(&first, &[]).await,
            Err(PortError::Conflict(_))
        ),
        "a second first record is a conflict"
    );

    let settled = Deployment {
        status: DeploymentStatus::InService,
        revision: 2,
        ..first.clone()
    };
    let done = AuditEvent::new(
        at,
        user("ann"),
        "deployment.succeeded",
        "model/conf-deploy/v1",
    );
    catalog.save_deployment(&settled, &[done]).await.unwrap();
    let failed = Deployment {
        status: DeploymentStatus::Failed,
        revision: 2,
        ..first
    };
    assert!(
        matches!(
            catalog.save_deployment(&failed, &[]).await,
            Err(PortError::Conflict(_))
        ),
        "a write over a revision that moved on is a conflict"
    );
    assert_eq!(
        catalog.deployment("conf-deploy").await.unwrap(),
        Some(settled)
    );
    let trail: Vec<String> = catalog
        .audit(Some("model/conf-deploy/"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        trail,
        ["deployment.started", "deployment.succeeded"],
        "each landed write's audit events, and none of a refused one"
    );
}

/// The lists read whole elsewhere page as well: pages of one item are the list, in its order.
async fn short_lists(catalog: &dyn Catalog, ds: &DatasetName) {
    let one_by_one = all_pages(
        1,
        |p| async move { catalog.datasets_page(&p).await.unwrap() },
    );
    assert_eq!(one_by_one.await.concat(), catalog.datasets().await.unwrap());
    let versions = all_pages(1, |p| async move {
        catalog.versions_page(ds, &p).await.unwrap()
    });
    let versions = versions.await;
    assert!(versions.len() > 1, "the dataset has versions to page");
    assert_eq!(versions.concat(), catalog.versions(ds).await.unwrap());
    let uploads = all_pages(
        1,
        |p| async move { catalog.uploads_page(ds, &p).await.unwrap() },
    );
    assert_eq!(uploads.await.concat(), catalog.uploads(ds).await.unwrap());
    for name in ["conformance-list-a", "conformance-list-b"] {
        let (run, _) = registered(name, 1);
        let applied = AuditEvent::new(Timestamp::now(), user("alice"), "pipeline.applied", "x");
        catalog
            .put_pipeline(run.pipeline, None, applied)
            .await
            .unwrap();
    }
    let pipelines = all_pages(
        1,
        |p| async move { catalog.pipelines_page(&p).await.unwrap() },
    );
    let pipelines = pipelines.await.concat();
    assert!(pipelines.len() > 1, "pipelines to page");
    assert_eq!(pipelines, catalog.pipelines().await.unwrap());
    let models = all_pages(1, |p| async move { catalog.models_page(&p).await.unwrap() });
    assert_eq!(models.await.concat(), catalog.models().await.unwrap());
    let versions = all_pages(1, |p| async move {
        catalog.model_versions_page(MODEL, &p).await.unwrap()
    });
    let versions = versions.await.concat();
    assert!(versions.len() > 1, "model versions to page");
    assert_eq!(versions, catalog.model_versions(MODEL).await.unwrap());
    let foreign = PageRequest {
        limit: 2,
        cursor: Some("not-a-cursor".into()),
    };
    assert!(
        matches!(
            catalog.versions_page(ds, &foreign).await,
            Err(PortError::Invalid(_))
        ),
        "a cursor the adapter did not write is refused"
    );
}

/// Every page of a list, following `next` from the first page of `limit` items.
async fn all_pages<T, F, Fut>(limit: u32, mut read: F) -> Vec<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut pages = Vec::new();
    let mut request = PageRequest::first(limit);
    loop {
        let page = read(request.clone()).await;
        assert!(
            page.items.len() <= limit as usize,
            "a page holds at most its limit"
        );
        let next = page.next.clone();
        pages.push(page.items);
        match next {
            Some(cursor) => request.cursor = Some(cursor),
            None => return pages,
        }
        assert!(pages.len() < 100, "paging ends");
    }
}

/// Lists page by a cursor: the union of the pages is the whole list in its order, with no
/// duplicate, and what is added while a reader pages never shifts the pages still to come.
async fn paging(catalog: &dyn Catalog) {
    const PIPELINE: &str = "conformance-pages";
    // Seven runs, two of them in the same millisecond (the id breaks the tie).
    let mut made = Vec::new();
    for i in 0..7u32 {
        let mut run = finished_run(PIPELINE, i + 1);
        run.id = format!("pages-run-{i}");
        run.created_at = t0()
            .checked_add(jiff::SignedDuration::from_secs(i64::from(i.min(5))))
            .unwrap();
        assert!(
            catalog
                .create_run(&run, audit(&format!("run/{}", run.id), "run.started"))
                .await
                .unwrap()
        );
        made.push(run);
    }
    let whole = catalog.runs(Some(PIPELINE)).await.unwrap();
    assert_eq!(whole.len(), 7);
    let pages = all_pages(3, |page| async move {
        catalog.runs_page(Some(PIPELINE), &page).await.unwrap()
    })
    .await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 3, 1],
        "seven runs in pages of three"
    );
    let ids = |runs: &[Run]| runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&pages.concat()),
        ids(&whole),
        "the pages are the list, newest first, no run twice"
    );
    let everything = all_pages(4, |page| async move {
        catalog.runs_page(None, &page).await.unwrap()
    })
    .await
    .concat();
    assert_eq!(
        ids(&everything),
        ids(&catalog.runs(None).await.unwrap()),
        "unfiltered pages are the whole list"
    );

    // A run created after the first page was read does not shift the second.
    let first = catalog
        .runs_page(Some(PIPELINE), &PageRequest::first(3))
        .await
        .unwrap();
    let mut newer = finished_run(PIPELINE, 99);
    newer.id = "pages-run-newer".into();
    newer.created_at = t0()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    catalog
        .create_run(&newer, audit("run/pages-run-newer", "run.started"))
        .await
        .unwrap();
    let second = catalog
        .runs_page(
            Some(PIPELINE),
            &PageRequest {
                limit: 3,
                cursor: first.next.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&second.items), ids(&pages[1]), "a later page is stable");
    assert!(matches!(
        catalog
            .runs_page(
                Some(PIPELINE),
                &PageRequest {
                    limit: 3,
                    cursor: Some("not a cursor".into()),
                },
            )
            .await,
        Err(PortError::Invalid(_))
    ));

    // The audit trail, newest first, under a subject prefix.
    for i in 0..5 {
        catalog
            .append_audit(audit(&format!("pages/{i}"), "pages.test"))
            .await
            .unwrap();
    }
    let trail = all_pages(2, |page| async move {
        catalog.audit_page(Some("pages/"), &page).await.unwrap()
    })
    .await
    .concat();
    let subjects: Vec<&str> = trail.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(
        subjects,
        ["pages/4", "pages/3", "pages/2", "pages/1", "pages/0"],
        "the trail's pages, newest first"
    );
    let mut oldest_first = catalog.audit(None).await.unwrap();
    oldest_first.reverse();
    let all = all_pages(50, |page| async move {
        catalog.audit_page(None, &page).await.unwrap()
    })
    .await
    .concat();
    assert_eq!(
        all, oldest_first,
        "the unfiltered trail's pages are the trail"
    );
}

const MODEL: &str = "conformance-model";

/// The instant every promotion decision is made at: approvals stay valid throughout.
fn t0() -> Timestamp {
    "2025-06-02T09:00:00Z".parse().unwrap()
}

/// A finished run of the `model` pipeline, by alice, that registers version `version`, and the
/// candidate it registers: what the tune step writes with `register_model`. For other suites
/// that need registered model versions (the AWS tests' races, say).
pub fn registered(model: &str, version: u32) -> (Run, ModelVersion) {
    let run = finished_run(model, version);
    let candidate = candidate(&run, model, version);
    (run, candidate)
}

/// Stores `model` with `versions` versions by alice (its pipeline, runs, candidates), each
/// tested (passed, its report at `models/<model>/v<N>/test-report.json` in `bucket`) and moved
/// to staging as the evaluator would, under the pipeline's policy of one approval. For suites
/// that need a model waiting for approval.
pub async fn staged(catalog: &dyn Catalog, bucket: &BucketName, model: &str, versions: u32) {
    for v in 1..=versions {
        let (mut run, candidate) = registered(model, v);
        if v == 1 {
            let applied = AuditEvent::new(Timestamp::now(), user("alice"), "pipeline.applied", "x");
            catalog
                .put_pipeline(run.pipeline.clone(), None, applied)
                .await
                .unwrap();
        }
        let started = AuditEvent::new(
            Timestamp::now(),
            user("alice"),
            "run.started",
            format!("run/{}", run.id),
        );
        assert!(catalog.create_run(&run, started).await.unwrap());
        run.revision = 1;
        let subject = promotion::subject(model, v);
        let registered = AuditEvent::new(
            Timestamp::now(),
            user("alice"),
            "model.candidate.registered",
            &subject,
        );
        catalog
            .register_model(&run, &candidate, registered)
            .await
            .unwrap();
        let report = ObjectRef::new(
            bucket.clone(),
            BlobKey::parse(&format!("models/{model}/v{v}/test-report.json")).unwrap(),
        );
        let tested = AuditEvent::new(Timestamp::now(), user("tollgate"), "model.tested", &subject);
        catalog
            .record_test(model, v, 0, TestVerdict::Passed, report, tested)
            .await
            .unwrap();
        let state = catalog.model_state(model).await.unwrap().unwrap();
        let policy = run.pipeline.pipeline.promotion.clone();
        let t = promotion::auto_stage(&state, &policy, v, &user("tollgate"), Timestamp::now())
            .expect("a passing candidate goes to staging");
        catalog.apply_transition(&t).await.unwrap();
    }
}

/// A finished run of the `model` pipeline, by alice, that registers version `version`.
fn finished_run(model: &str, version: u32) -> Run {
    let text = format!(
        "name = \"{model}\"\ndataset = \"conformance-ds\"\ntarget = \"y\"\n\
         task = \"regression\"\nmodel = \"elastic_net\"\n\
         [search]\nstrategy = \"random\"\n\
         [search.space]\nalpha = {{ type = \"log_uniform\", low = 1e-4, high = 1.0 }}\n\
         [budget]\nmax_trials = 1\n"
    );
    let pipeline = Pipeline::from_toml(&text).expect("the conformance pipeline is valid");
    Run {
        id: format!("{model}-run-{version}"),
        max_trials: pipeline.budget.max_trials,
        max_cost_usd: None,
        deadline: None,
        pipeline: StoredPipeline {
            version: 1,
            pipeline,
            text,
            hash: hash(7),
            applied_by: user("alice"),
            applied_at: t0(),
        },
        dataset: DatasetName::parse("conformance-ds").unwrap(),
        dataset_version: 1,
        content_hash: hash(1),
        split: SplitFiles {
            train: object("splits/train.parquet"),
            validation: object("splits/validation.parquet"),
            test: object("splits/test.parquet"),
            test_hash: hash(2),
            test_features: Some(object("splits/test-features/a.parquet")),
            rows: [7, 2, 1],
            features: vec!["x".into()],
        },
        trigger: Trigger::Request {
            request_id: format!("conformance-{version}"),
        },
        requested_by: user("alice"),
        contributors: vec![crate::training::Contributor {
            user: user("dave"),
            role: "uploaded conformance-ds v1 (its training data)".into(),
        }],
        status: RunStatus::Succeeded,
        created_at: t0(),
        updated_at: t0(),
        trials: Vec::new(),
        best_trial: None,
        candidate: Some(CandidateRef {
            model: model.into(),
            version,
        }),
        announced: false,
        notes: Vec::new(),
        revision: 0,
    }
}

fn candidate(run: &Run, model: &str, version: u32) -> ModelVersion {
    ModelVersion {
        model: model.into(),
        version,
        stage: ModelStage::Candidate,
        task: run.pipeline.pipeline.task,
        family: run.pipeline.pipeline.model,
        run_id: run.id.clone(),
        trial: 0,
        job_name: Run::job_name(&run.id, 0),
        hyperparameters: Default::default(),
        metrics: [("validation:rmse".to_owned(), 0.5)].into(),
        primary_metric: "validation:rmse".into(),
        artifact: format!("s3://conformance/runs/{}/model/", run.id),
        dataset: run.dataset.clone(),
        dataset_version: run.dataset_version,
        content_hash: run.content_hash.clone(),
        split: run.split.clone(),
        pipeline_version: run.pipeline.version,
        pipeline_hash: run.pipeline.hash.clone(),
        trainer: "tollgate-trainer conformance".into(),
        author: run.requested_by.clone(),
        contributors: run.contributors.clone(),
        created_at: t0(),
        approvals: Vec::new(),
        test: None,
        test_report: None,
        revision: 0,
    }
}

/// Creates a run and registers its candidate, `MODEL` v`version`, as the tune step does.
async fn register(catalog: &dyn Catalog, version: u32) {
    let (mut run, candidate) = registered(MODEL, version);
    assert!(
        catalog
            .create_run(&run, audit(&format!("run/{}", run.id), "run.started"))
            .await
            .unwrap()
    );
    run.revision = 1;
    catalog
        .register_model(
            &run,
            &candidate,
            audit(&promotion::subject(MODEL, version), "model.registered"),
        )
        .await
        .unwrap();
}

async fn state(catalog: &dyn Catalog) -> ModelState {
    catalog
        .model_state(MODEL)
        .await
        .unwrap()
        .expect("the model has versions")
}

async fn model_trail(catalog: &dyn Catalog) -> Vec<AuditEvent> {
    catalog
        .audit(Some(&format!("model/{MODEL}/")))
        .await
        .unwrap()
}

/// `request` by `who`, decided on `state`: it must be allowed.
fn decided(state: &ModelState, policy: &Promotion, request: Request, who: &str) -> Transition {
    match promotion::decide(state, policy, &request, &user(who), t0()) {
        promotion::Decision::Apply(t) => t,
        promotion::Decision::Refused(reason) => panic!("{request:?} by {who} refused: {reason}"),
        promotion::Decision::Done(changes) => panic!("{request:?} had landed: {changes:?}"),
    }
}

fn approve(version: u32) -> Request {
    Request::Approve {
        version,
        comment: None,
    }
}

fn with_approvals(approvals: u32) -> Promotion {
    Promotion {
        approvals,
        ..Promotion::default()
    }
}

/// Lands `t`, and checks the catalog now reads as `before` with `t` applied in memory (the
/// reference semantics), its audit events appended.
async fn lands(catalog: &dyn Catalog, before: &ModelState, t: &Transition, what: &str) {
    let trail = model_trail(catalog).await;
    catalog
        .apply_transition(t)
        .await
        .unwrap_or_else(|e| panic!("{what} lands: {e}"));
    let mut expected = before.clone();
    expected.apply(t).unwrap();
    assert_eq!(
        state(catalog).await,
        expected,
        "{what}: the catalog reads back as the transition applied in memory"
    );
    assert_eq!(
        model_trail(catalog).await[trail.len()..],
        t.audit[..],
        "{what}: the transition's audit events are appended, in order"
    );
}

/// Checks that `t` is refused with `Conflict` and changes nothing: versions, history, audit.
async fn conflicts(catalog: &dyn Catalog, t: &Transition, what: &str) {
    let (before, trail) = (state(catalog).await, model_trail(catalog).await);
    let result = catalog.apply_transition(t).await;
    assert!(
        matches!(result, Err(PortError::Conflict(_))),
        "{what} is a Conflict: {result:?}"
    );
    assert_eq!(state(catalog).await, before, "{what} changes no version");
    assert_eq!(model_trail(catalog).await, trail, "{what} audits nothing");
}

/// Model promotion: a test verdict and a transition are each written only on the revision (and
/// the history length) they were decided on, so a decision made on a stale read lands nothing.
async fn promotion(catalog: &dyn Catalog) {
    assert!(
        catalog.model_state(MODEL).await.unwrap().is_none(),
        "a model without versions has no state"
    );
    for version in 1..=3 {
        register(catalog, version).await;
    }
    let registered = state(catalog).await;
    assert!(
        registered.history.is_empty()
            && registered
                .versions
                .iter()
                .all(|v| v.stage == ModelStage::Candidate && v.revision == 0 && v.report.is_none()),
        "registered versions are untested candidates at revision 0: {registered:?}"
    );

    // Test verdicts: conditional on the revision the tests started from.
    let report = |v: u32| object(&format!("models/{MODEL}/v{v}/test-report.json"));
    let tested = |v: u32| audit(&promotion::subject(MODEL, v), "model.tested");
    catalog
        .record_test(MODEL, 1, 0, TestVerdict::Passed, report(1), tested(1))
        .await
        .unwrap();
    let stale = catalog
        .record_test(
            MODEL,
            1,
            0,
            TestVerdict::Failed {
                reason: "stale".into(),
            },
            report(1),
            tested(1),
        )
        .await;
    assert!(
        matches!(stale, Err(PortError::Conflict(_))),
        "a verdict on a stale revision is a Conflict: {stale:?}"
    );
    let v1 = catalog.model_version(MODEL, 1).await.unwrap().unwrap();
    assert_eq!(
        (v1.test, v1.test_report, v1.revision),
        (Some(TestVerdict::Passed), Some(report(1)), 1),
        "the first verdict is kept, the stale one changed nothing"
    );
    assert_eq!(
        model_trail(catalog)
            .await
            .iter()
            .filter(|e| e.action == "model.tested")
            .count(),
        1,
        "only the verdict that landed is audited"
    );
    for v in [2, 3] {
        catalog
            .record_test(MODEL, v, 0, TestVerdict::Passed, report(v), tested(v))
            .await
            .unwrap();
    }

    // Automatic staging of v1 and v2, each decided on a fresh read.
    let robot = user("tollgate");
    for v in [1, 2] {
        let before = state(catalog).await;
        let t = promotion::auto_stage(&before, &Promotion::default(), v, &robot, t0())
            .expect("a passing candidate goes to staging");
        lands(catalog, &before, &t, &format!("staging v{v}")).await;
    }
    assert_eq!(
        catalog.model_history(MODEL).await.unwrap().len(),
        2,
        "two stagings"
    );

    // Two first promotions to production, decided on the same read, write different versions:
    // only the history's length tells them apart, and only one lands.
    let before = state(catalog).await;
    let first = [
        decided(&before, &Promotion::default(), approve(1), "bob"),
        decided(&before, &Promotion::default(), approve(2), "carol"),
    ];
    assert!(
        first.iter().all(|t| t.writes.len() == 1),
        "nothing to archive"
    );
    let results =
        futures::future::join_all(first.iter().map(|t| catalog.apply_transition(t))).await;
    let won: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        won.len(),
        1,
        "of two first promotions exactly one lands: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(PortError::Conflict(_)))),
        "the other gets Conflict: {results:?}"
    );
    let mut expected = before.clone();
    expected.apply(&first[won[0]]).unwrap();
    let after = state(catalog).await;
    assert_eq!(
        after, expected,
        "the catalog holds the winner's promotion, nothing of the loser's"
    );
    assert_eq!(
        after
            .versions
            .iter()
            .filter(|v| v.stage == ModelStage::Production)
            .count(),
        1,
        "one version in production"
    );
    assert_eq!(
        model_trail(catalog)
            .await
            .iter()
            .filter(|e| e.action == "model.approved")
            .count(),
        1,
        "the loser's approval is not audited"
    );
    let staged = if won[0] == 0 { 2 } else { 1 };

    // Two approvals of the version left in staging under a policy of two, decided on the same
    // read: neither moves a stage, so only the revision tells them apart.
    let two = with_approvals(2);
    let before = state(catalog).await;
    let bob = decided(&before, &two, approve(staged), "bob");
    let carol = decided(&before, &two, approve(staged), "carol");
    assert!(bob.history.is_empty() && carol.history.is_empty());

    // Meanwhile v3 goes to staging: the history grows, which does not concern bob's approval.
    let t = promotion::auto_stage(&before, &two, 3, &robot, t0()).unwrap();
    lands(catalog, &before, &t, "staging v3").await;
    let grown = state(catalog).await;
    lands(
        catalog,
        &grown,
        &bob,
        "an approval that moves no stage, after the history grew",
    )
    .await;
    conflicts(
        catalog,
        &carol,
        "an approval decided before another one landed",
    )
    .await;

    // Carol re-reads and decides again: her approval makes the count.
    let fresh = state(catalog).await;
    let carol = decided(&fresh, &two, approve(staged), "carol");
    lands(catalog, &fresh, &carol, "carol's approval on a fresh read").await;
    let now = state(catalog).await;
    assert_eq!(
        now.in_production().map(|v| v.version),
        Some(staged),
        "the approval that makes the count promotes"
    );
    assert_eq!(
        now.version(3 - staged).unwrap().stage,
        ModelStage::Archived,
        "and archives the version it replaces"
    );

    // A rejection of v3 decided on the read from before that promotion: v3's revision is still
    // the one read, but the history has grown since.
    let reject = Request::Reject {
        version: 3,
        comment: "superseded".into(),
    };
    let late = decided(&grown, &two, reject, "dave");
    conflicts(
        catalog,
        &late,
        "a rejection decided before a promotion landed",
    )
    .await;
    assert_eq!(
        catalog.model_history(MODEL).await.unwrap(),
        now.history,
        "the history is read back in order, unchanged by the refused write"
    );

    // The outbox: every history entry is owed its announcement until marked, in order.
    let owed = || async {
        catalog
            .unannounced_changes()
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.model == MODEL)
            .collect::<Vec<_>>()
    };
    let expected: Vec<crate::ports::Unannounced> = now
        .history
        .iter()
        .enumerate()
        .map(|(i, change)| crate::ports::Unannounced {
            model: MODEL.to_owned(),
            position: i as u64,
            change: change.clone(),
        })
        .collect();
    assert_eq!(
        owed().await,
        expected,
        "each landed change is owed, in order"
    );
    catalog.mark_announced(MODEL, 0).await.unwrap();
    catalog.mark_announced(MODEL, 0).await.unwrap();
    assert_eq!(
        owed().await,
        expected[1..],
        "announcing clears that entry alone, and twice is once"
    );
}

/// A bus that cannot be reached: what a test of a crash window puts where a process would have
/// stopped before it publishes (every publish fails as an unreachable EventBridge does).
#[derive(Debug)]
pub struct Unreachable;

#[async_trait::async_trait]
impl crate::ports::EventBus for Unreachable {
    async fn publish(&self, event: &crate::Event) -> Result<(), PortError> {
        Err(PortError::unavailable(
            format!("publishing {}", event.detail_type()),
            "the process stopped",
        ))
    }
}
