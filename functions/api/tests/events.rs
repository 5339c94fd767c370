//! API Gateway v2 events, as its JWT authorizer passes them, through the function's router: the
//! caller from the claims, groups in both shapes Cognito's claim arrives in, and no claims at
//! all refused. On the embedded adapters: what is tested here is the edge, not the stores.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate_api::{Api, Uploads};
use tollgate_app::{App, Ports};
use tollgate_domain::BucketName;
use tollgate_domain::ports::SystemClock;
use tollgate_fn_api::{JwtClaims, groups};
use tollgate_local::{FsBlobStore, InProcessBus, SqliteCatalog};
use tower::ServiceExt;

fn event(method: &str, path: &str, claims: Option<Value>, body: Option<&str>) -> String {
    let authorizer = claims.map(|c| json!({ "jwt": { "claims": c, "scopes": null } }));
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "host": "api.example.com" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": authorizer,
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "curl/8"
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "02/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1796205600000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

struct Function {
    _dir: tempfile::TempDir,
    router: tollgate_api::Router,
    catalog: Arc<SqliteCatalog>,
    bucket: BucketName,
}

impl Function {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap());
        let bucket = BucketName::parse("tollgate-data").unwrap();
        let app = App::new(Ports {
            blobs: Arc::new(FsBlobStore::new(dir.path().join("buckets"))),
            catalog: catalog.clone(),
            bus: Arc::new(InProcessBus::new()),
            clock: Arc::new(SystemClock),
            data_bucket: bucket.clone(),
        });
        let claims = JwtClaims {
            actor_claim: "email".into(),
        };
        Self {
            _dir: dir,
            router: Api::new(app, Arc::new(claims), Uploads::Store).router(),
            catalog,
            bucket,
        }
    }

    async fn send(&self, event: String) -> (u16, Value) {
        let request = lambda_http::request::from_str(&event).expect("an API Gateway v2 event");
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[test]
fn groups_are_read_in_both_shapes_and_never_split_on_commas() {
    assert_eq!(groups("[approvers editors]"), ["approvers", "editors"]);
    assert_eq!(
        groups(r#"["approvers","editors"]"#),
        ["approvers", "editors"]
    );
    assert_eq!(groups("[risk,approvers]"), ["risk,approvers"]);
    assert!(groups("[]").is_empty());
}

#[tokio::test]
async fn the_caller_is_the_authorizers_claim_and_nothing_else() {
    let f = Function::new();
    tollgate_domain::conformance::staged(f.catalog.as_ref(), &f.bucket, "churn", 1).await;
    let path = "/api/v1/models/churn/versions/1/approve";

    let (status, v) = f.send(event("POST", path, None, None)).await;
    assert_eq!(status, 401, "no authorizer context: {v}");
    let (status, v) = f
        .send(event("POST", path, Some(json!({ "sub": "x" })), None))
        .await;
    assert_eq!(status, 401, "no actor claim: {v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("email"),
        "{v}"
    );

    let unverified = json!({ "email": "bob@example.com", "cognito:groups": "[approvers]" });
    let (status, v) = f.send(event("POST", path, Some(unverified), None)).await;
    assert_eq!(status, 401, "an address nobody verified names nobody: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not verified"),
        "{v}"
    );

    let reader = json!({ "email": "carol@example.com", "email_verified": "true" });
    let (status, v) = f
        .send(event(
            "GET",
            "/api/v1/approvals",
            Some(reader.clone()),
            None,
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = f.send(event("POST", path, Some(reader), None)).await;
    assert_eq!(status, 403, "{v}");

    // The author as the provider cases their address: the same person.
    let author =
        json!({ "email": "ALICE", "email_verified": "true", "cognito:groups": "[approvers]" });
    let (status, v) = f.send(event("POST", path, Some(author), None)).await;
    assert_eq!(status, 409, "the author is refused: {v}");
    // Who uploaded the data it was trained on contributed to it as much.
    let uploader =
        json!({ "email": "Dave", "email_verified": "true", "cognito:groups": "[approvers]" });
    let (status, v) = f.send(event("POST", path, Some(uploader), None)).await;
    assert_eq!(status, 409, "a contributor is refused: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dave uploaded conformance-ds v1"),
        "{v}"
    );

    let approver = json!({
        "email": "Bob@Example.com",
        "email_verified": "true",
        "cognito:groups": "[editors approvers]"
    });
    let body = r#"{"comment": "checked the slices", "actor": "mallory"}"#;
    let (status, v) = f
        .send(event("POST", path, Some(approver), Some(body)))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["changes"][0]["actor"], "bob@example.com",
        "the claim, not the body"
    );
}
