//! The API's latency on the embedded default with a big catalog: 10,000 runs and 100,000 audit
//! events. Not a timed test (ignored): `bash bench/api/run.sh` runs it and prints the table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tollgate_api::{Api, BearerTokens, LocalTokens, Uploads};
use tollgate_app::{App, Ports};
use tollgate_domain::ports::{Catalog, SystemClock};
use tollgate_domain::{AuditEvent, BucketName, UserId};
use tollgate_local::{FsBlobStore, InProcessBus, SqliteCatalog};
use tower::ServiceExt;

const RUNS: u32 = 10_000;
const AUDIT: u32 = 100_000;
const SAMPLES: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bash bench/api/run.sh"]
async fn page_latency_with_a_big_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap());
    let bucket = BucketName::parse("tollgate-data").unwrap();
    let filling = Instant::now();
    tollgate_domain::conformance::staged(catalog.as_ref(), &bucket, "churn", 3).await;
    let (template, _) = tollgate_domain::conformance::registered("churn", 1);
    for i in 0..RUNS {
        let mut run = template.clone();
        run.id = format!("bench-run-{i:05}");
        run.created_at = jiff::Timestamp::from_second(1_700_000_000 + i64::from(i)).unwrap();
        let audit = AuditEvent::new(
            run.created_at,
            UserId::parse("bench").unwrap(),
            "run.started",
            format!("run/{}", run.id),
        );
        catalog.create_run(&run, audit).await.unwrap();
    }
    for i in 0..(AUDIT - RUNS) {
        let event = AuditEvent::new(
            jiff::Timestamp::now(),
            UserId::parse("bench").unwrap(),
            "bench.event",
            format!("dataset/bench/{}", i % 500),
        );
        catalog.append_audit(event).await.unwrap();
    }
    eprintln!(
        "filled the catalog in {:.0} s",
        filling.elapsed().as_secs_f64()
    );

    let tokens = Arc::new(LocalTokens::new(&[1u8; 32]).unwrap());
    let app = App::new(Ports {
        blobs: Arc::new(FsBlobStore::new(dir.path().join("buckets"))),
        catalog,
        bus: Arc::new(InProcessBus::new()),
        clock: Arc::new(SystemClock),
        data_bucket: bucket,
    });
    let router = Api::new(app, Arc::new(BearerTokens(tokens.clone())), Uploads::Store).router();
    let token = tokens.issue(
        &UserId::parse("reader").unwrap(),
        &[],
        jiff::Timestamp::now(),
        Duration::from_secs(3600),
    );

    let mut rows = Vec::new();
    for (name, path) in [
        ("runs, first page of 50", "/api/v1/runs?limit=50".to_owned()),
        ("runs, page 100 of 50", String::new()),
        (
            "audit, first page of 50",
            "/api/v1/audit?limit=50".to_owned(),
        ),
        (
            "audit under a subject, 50",
            "/api/v1/audit?limit=50&subject=dataset/bench/7".to_owned(),
        ),
        (
            "model version page",
            "/api/v1/models/churn/versions/2".to_owned(),
        ),
    ] {
        // A deep page: follow the cursor 99 times, then time that page.
        let path = if path.is_empty() {
            let mut uri = "/api/v1/runs?limit=50".to_owned();
            for _ in 0..99 {
                let body = get(&router, &uri, &token).await;
                let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
                uri = format!(
                    "/api/v1/runs?limit=50&cursor={}",
                    page["next"].as_str().unwrap()
                );
            }
            uri
        } else {
            path
        };
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let start = Instant::now();
            get(&router, &path, &token).await;
            times.push(start.elapsed());
        }
        times.sort();
        rows.push((name, percentile(&times, 0.5), percentile(&times, 0.99)));
    }
    println!("| read ({RUNS} runs, {AUDIT} audit events) | p50 | p99 |");
    println!("| --- | ---: | ---: |");
    for (name, p50, p99) in &rows {
        println!("| {name} | {p50:.2} ms | {p99:.2} ms |");
    }
}

async fn get(router: &tollgate_api::Router, uri: &str, token: &str) -> axum::body::Bytes {
    let response = router
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    response.into_body().collect().await.unwrap().to_bytes()
}
