//! Duplicate deliveries at once: SQS and Lambda deliver at least once, and a retried batch can
//! overlap the first attempt.

use tollgate_domain::DatasetName;
use tollgate_domain::ports::Catalog;

use tollgate_aws_tests::standin::{Stack, sample};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_deliveries_of_one_upload_make_one_version() {
    let stack = Stack::new().await;
    stack
        .upload(&sample("wine-2009-a.csv"), "incoming/wine/wine-2009-a.csv")
        .await;
    let batch = stack.receive(&stack.ingest_queue, 1).await;
    let function = tollgate_fn_ingest::Function::new(&stack.aws, &stack.common()).unwrap();
    let deliveries = (0..50).map(|_| {
        let (function, batch) = (function.clone(), batch.clone());
        tokio::spawn(async move { function.batch(batch).await })
    });
    for response in futures::future::join_all(deliveries).await {
        let response = response.unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "every delivery ends well: {response:?}"
        );
    }

    let catalog = stack.catalog();
    let wine = DatasetName::parse("wine").unwrap();
    assert_eq!(
        catalog.versions(&wine).await.unwrap().len(),
        1,
        "one version"
    );
    let uploads = catalog.uploads(&wine).await.unwrap();
    assert_eq!(uploads.len(), 1, "one upload record");
    assert!(uploads[0].finalized);
    let audit = catalog.audit(Some("dataset/wine/")).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "dataset.version.accepted")
            .count(),
        1,
        "one audit event: {audit:#?}"
    );
    // The version is announced at least once, and every announcement is the same fact.
    let published = stack.published(1).await;
    let accepted: Vec<_> = published
        .iter()
        .filter(|e| e["detail-type"] == "DatasetVersionAccepted")
        .map(|e| e["detail"].clone())
        .collect();
    assert!(!accepted.is_empty());
    assert!(accepted.iter().all(|d| *d == accepted[0]), "{accepted:#?}");
    assert_eq!(accepted[0]["version"], 1);
}
