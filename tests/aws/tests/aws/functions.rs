//! The packaged functions' Lambda mains (`bash scripts/package.sh`), run as Lambda runs them
//! against a Runtime API on 127.0.0.1. Each function crate tests its own debug binary the same way
//! (`functions/*/tests/lambda.rs`), where cargo builds it for the test.

use tollgate_aws_tests::envelope;
use tollgate_aws_tests::runtime::invoke;
use tollgate_aws_tests::standin::root;

/// The packaged functions (`bash scripts/package.sh`): each zip's size and each bootstrap's
/// cold init, the median of `TOLLGATE_INIT_RUNS` starts, written to `TOLLGATE_PACKAGE_REPORT`.
#[tokio::test]
#[ignore = "run by scripts/package.sh on the release bootstraps"]
async fn cold_init_of_the_packaged_functions() {
    let dir = std::env::var("TOLLGATE_BOOTSTRAP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("target/lambda"));
    let runs: usize = std::env::var("TOLLGATE_INIT_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let env = vec![
        ("TOLLGATE_BUCKET", "tollgate-data".to_owned()),
        ("TOLLGATE_TABLE", "tollgate-catalog".to_owned()),
        ("TOLLGATE_EVENT_BUS", "tollgate-bus".to_owned()),
        (
            "TOLLGATE_SAGEMAKER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/tollgate-training".into(),
        ),
        // Never called: the event is answered before any request would go out.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
    ];
    let mut report = serde_json::Map::new();
    // Those scripts/package.sh built (all, or the ones it was asked for).
    let built: Vec<&str> = ["ingest", "tune", "evaluate", "monitor", "deploy", "api"]
        .into_iter()
        .filter(|name| dir.join(name).join("bootstrap").exists())
        .collect();
    assert!(
        !built.is_empty(),
        "no bootstrap in {}: run scripts/package.sh",
        dir.display()
    );
    for name in built {
        let bootstrap = dir.join(name).join("bootstrap");
        let zip = dir.join(name).join("bootstrap.zip");
        let mut inits = Vec::new();
        for _ in 0..runs {
            // An event each function answers at once: only the start is measured.
            let ignored = if name == "api" {
                health_request()
            } else {
                envelope("Nothing", "someone.else", serde_json::json!({}))
            };
            let invocation = invoke(&bootstrap, &env, ignored).await;
            inits.push(
                invocation
                    .init
                    .expect("it asked for an event")
                    .as_secs_f64()
                    * 1000.0,
            );
        }
        inits.sort_by(f64::total_cmp);
        let median = inits[inits.len() / 2];
        let size = std::fs::metadata(&zip).map(|m| m.len()).unwrap_or_default();
        println!(
            "{name}: zip {:.1} MB, cold init median {median:.1} ms ({runs} starts)",
            size as f64 / 1e6
        );
        report.insert(
            name.to_owned(),
            serde_json::json!({"zip_bytes": size, "init_ms_median": median, "init_ms": inits}),
        );
    }
    if let Ok(out) = std::env::var("TOLLGATE_PACKAGE_REPORT") {
        std::fs::write(
            out,
            serde_json::to_vec_pretty(&serde_json::Value::Object(report)).unwrap(),
        )
        .unwrap();
    }
}

/// `GET /api/v1/health` as API Gateway's HTTP API sends it.
fn health_request() -> serde_json::Value {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/v1/health",
        "rawQueryString": "",
        "headers": { "host": "api.example.com" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "api.example.com",
            "http": { "method": "GET", "path": "/api/v1/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "bench" },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "02/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1796205600000u64
        },
        "isBase64Encoded": false
    })
}
