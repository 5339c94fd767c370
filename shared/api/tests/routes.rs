//! The router on the embedded adapters, route by route: who may call what (401, 403, 409),
//! paging, ETags, and the error body.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate_api::{Api, BearerTokens, LocalSignIn, LocalTokens, Uploads};
use tollgate_app::{App, Ports};
use tollgate_domain::ports::{BlobStore, Catalog, SystemClock};
use tollgate_domain::{AuditEvent, BucketName, UserId};
use tollgate_local::{FsBlobStore, InProcessBus, SqliteCatalog};
use tower::ServiceExt;

struct Server {
    _dir: tempfile::TempDir,
    app: App,
    router: Router,
    tokens: Arc<LocalTokens>,
    catalog: Arc<SqliteCatalog>,
    blobs: Arc<FsBlobStore>,
    bucket: BucketName,
    published: Arc<std::sync::Mutex<Vec<tollgate_domain::Event>>>,
}

impl Server {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap());
        let bus = InProcessBus::new();
        let published = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = published.clone();
        bus.subscribe(Arc::new(move |event| {
            sink.lock().unwrap().push(event);
            Box::pin(async { Ok(()) })
        }));
        let bucket = BucketName::parse("tollgate-data").unwrap();
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("buckets")));
        let ports = Ports {
            blobs: blobs.clone(),
            catalog: catalog.clone(),
            bus: Arc::new(bus),
            clock: Arc::new(SystemClock),
            data_bucket: bucket.clone(),
        };
        let tokens = Arc::new(LocalTokens::new(&[7u8; 32]).unwrap());
        let app = App::new(ports);
        let api = Api::new(
            app.clone(),
            Arc::new(BearerTokens(tokens.clone())),
            Uploads::Local {
                base_url: "http://127.0.0.1:9".into(),
                tokens: tokens.clone(),
            },
        )
        .with_local_sign_in(LocalSignIn {
            tokens: tokens.clone(),
            port: 9,
        });
        Self {
            _dir: dir,
            app,
            router: api.router(),
            tokens,
            catalog,
            blobs,
            bucket,
            published,
        }
    }

    fn token(&self, user: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        self.tokens.issue(
            &UserId::parse(user).unwrap(),
            &groups,
            jiff::Timestamp::now(),
            Duration::from_secs(3600),
        )
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body.unwrap_or_else(Body::empty)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, headers, value)
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (s, _, v) = self.call(Method::GET, uri, Some(token), None).await;
        (s, v)
    }

    async fn post(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .call(
                Method::POST,
                uri,
                Some(token),
                Some(Body::from(body.to_string())),
            )
            .await;
        (s, v)
    }
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let s = Server::new();
    let (status, _, v) = s.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "ok");

    let (status, headers, v) = s.call(Method::GET, "/api/v1/runs", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(v["error"]["code"], "unauthenticated");
    assert!(message(&v).contains("tollgate token"), "{v}");

    let forged = LocalTokens::new(&[9u8; 32]).unwrap().issue(
        &UserId::parse("mallory").unwrap(),
        &["approvers".into()],
        jiff::Timestamp::now(),
        Duration::from_secs(60),
    );
    let (status, v) = s.get("/api/v1/runs", &forged).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token signed with another key: {v}"
    );

    let expired = s.tokens.issue(
        &UserId::parse("bob").unwrap(),
        &[],
        jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2),
        Duration::from_secs(60),
    );
    let (status, v) = s.get("/api/v1/runs", &expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&v).contains("expired"), "{v}");

    let reader = s.token("carol", &[]);
    let (status, v) = s.get("/api/v1/me", &reader).await;
    assert_eq!(
        (status, v["user"].as_str()),
        (StatusCode::OK, Some("carol"))
    );
    let (status, v) = s.get("/api/v1/nowhere", &reader).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn writes_need_their_group_and_the_actor_is_the_token_not_the_body() {
    let s = Server::new();
    let (run, _) = tollgate_domain::conformance::registered("churn", 1);
    let text = run.pipeline.text.clone();
    let reader = s.token("carol", &[]);
    let (status, _, v) = s
        .call(
            Method::POST,
            "/api/v1/pipelines",
            Some(&reader),
            Some(Body::from(text.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "forbidden");
    assert!(message(&v).contains("editors group"), "{v}");

    let editor = s.token("erin", &["editors"]);
    let (status, _, v) = s
        .call(
            Method::POST,
            "/api/v1/pipelines",
            Some(&editor),
            Some(Body::from(text.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["version"].as_u64()),
        (Some("churn"), Some(1))
    );
    let (status, _, v) = s
        .call(
            Method::POST,
            "/api/v1/pipelines",
            Some(&editor),
            Some(Body::from(text)),
        )
        .await;
    assert_eq!(
        (status, v["changed"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let audit = s.catalog.audit(Some("pipeline/churn")).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].actor.as_str(),
        "erin",
        "the actor is who the token names"
    );

    // A pipeline with its own training command would run a program on the server: refused.
    let (status, _, v) = s
        .call(
            Method::POST,
            "/api/v1/pipelines",
            Some(&editor),
            Some(Body::from(
                "name = \"own\"\ndataset = \"churn\"\ntarget = \"y\"\n\
                 task = \"classification\"\nmodel = \"logistic_regression\"\n\
                 [search]\nstrategy = \"random\"\nseed = 1\n[search.space]\n\
                 alpha = { type = \"log_uniform\", low = 1e-3, high = 1.0 }\n\
                 [budget]\nmax_trials = 1\n[backend]\ncommand = [\"sh\", \"-c\", \"id\"]\n",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "backend.command", "{v}");

    // A document that does not parse names its line.
    let (status, _, v) = s
        .call(
            Method::POST,
            "/api/v1/pipelines",
            Some(&editor),
            Some(Body::from("name = \"x\"\ndataset = 3\n")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "body");
    assert!(message(&v).contains("line"), "{v}");

    // A run of a pipeline whose dataset has no version is refused; of none, not found.
    let (status, v) = s
        .post("/api/v1/runs", &editor, json!({"pipeline": "churn"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("no accepted version"), "{v}");
    let (status, v) = s
        .post("/api/v1/runs", &editor, json!({"pipeline": "nope"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, v) = s
        .post("/api/v1/runs", &editor, json!({"pipe": "churn"}))
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body")),
        "{v}"
    );
    assert!(
        s.published.lock().unwrap().is_empty(),
        "nothing refused reached the bus"
    );

    // An upload URL is for editors, and names the file's place under incoming/.
    let (status, _) = s
        .post(
            "/api/v1/uploads",
            &reader,
            json!({"dataset": "wine", "file": "a.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = s
        .post(
            "/api/v1/uploads",
            &editor,
            json!({"dataset": "wine", "file": "../a.csv"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file"))
    );
    let (status, ticket) = s
        .post(
            "/api/v1/uploads",
            &editor,
            json!({"dataset": "wine", "file": "a.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["key"], "incoming/wine/a.csv");
    let url = ticket["url"].as_str().unwrap();
    let path = url.strip_prefix("http://127.0.0.1:9").unwrap();
    let (status, _, _) = s
        .call(Method::PUT, path, None, Some(Body::from("a,b\n1,2\n")))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the grant in the URL is the credential"
    );
    let grant = path.split("grant=").nth(1).unwrap();
    let (status, _) = s.get("/api/v1/runs", grant).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an upload grant is no sign-in"
    );
    let tampered = path.replace("a.csv", "b.csv");
    let (status, _, v) = s
        .call(Method::PUT, &tampered, None, Some(Body::from("x")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn the_author_is_refused_and_another_approver_decides() {
    let s = Server::new();
    tollgate_domain::conformance::staged(s.catalog.as_ref(), &s.bucket, "churn", 1).await;
    let alice = s.token("alice", &["approvers", "editors"]);
    let bob = s.token("bob", &["approvers"]);
    let erin = s.token("erin", &["editors"]);

    let (status, queue) = s.get("/api/v1/approvals", &alice).await;
    assert_eq!(status, StatusCode::OK);
    let waiting = &queue["items"][0];
    assert_eq!(
        (waiting["model"].as_str(), waiting["version"].as_u64()),
        (Some("churn"), Some(1))
    );
    assert_eq!(waiting["approval"]["caller_may_approve"], false);
    assert!(
        waiting["approval"]["caller_refusal"]
            .as_str()
            .unwrap()
            .contains("alice"),
        "{waiting}"
    );
    let (_, queue) = s.get("/api/v1/approvals", &bob).await;
    assert_eq!(queue["items"][0]["approval"]["caller_may_approve"], true);
    assert_eq!(queue["items"][0]["approval"]["still_needed"], 1);

    let (status, v) = s
        .post("/api/v1/models/churn/versions/1/approve", &erin, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&v).contains("approvers group"), "{v}");
    let (status, v) = s
        .post("/api/v1/models/churn/versions/1/approve", &alice, json!({}))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("refused")),
        "{v}"
    );
    let (status, v) = s
        .post("/api/v1/models/nope/versions/1/approve", &bob, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such model is a 404: {v}");
    let (status, v) = s
        .post(
            "/api/v1/models/churn/versions/1/approve",
            &bob,
            json!({"comment": "looks right"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["changes"][0]["to"], "production",
        "the last approval needed promotes"
    );
    let promoted = v["changes"].clone();
    // Bob's approval again (a retry after a lost answer, a second click): what it did.
    let (status, v) = s
        .post("/api/v1/models/churn/versions/1/approve", &bob, json!({}))
        .await;
    assert_eq!((status, &v["changes"]), (StatusCode::OK, &promoted), "{v}");
    // Someone else asking for what is done already is told so.
    let carol = s.token("carol", &["approvers"]);
    let (status, v) = s
        .post(
            "/api/v1/models/churn/versions/1/promote",
            &carol,
            json!({"to": "production"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("in production already"), "{v}");

    let (status, detail) = s.get("/api/v1/models/churn/versions/1", &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["version"]["stage"], "production");
    assert_eq!(detail["approval"]["approvals"][0]["approver"], "bob");
    assert!(detail["approval"]["approvals"][0]["valid_until"].is_string());

    // The trail has the refusal and the decisions, each by who made it.
    let (_, trail) = s
        .get("/api/v1/audit?subject=model/churn&limit=50", &erin)
        .await;
    let acts: Vec<(String, String)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        acts.contains(&("alice".into(), "model.approve.refused".into())),
        "{acts:?}"
    );
    assert!(
        acts.contains(&("bob".into(), "model.approved".into())),
        "{acts:?}"
    );
    let (_, bobs) = s.get("/api/v1/audit?actor=bob&action=model.", &erin).await;
    assert!(
        bobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "bob")
    );

    // A rejection says why.
    let (status, v) = s
        .post("/api/v1/models/churn/versions/1/reject", &bob, json!({}))
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("comment"))
    );
}

#[tokio::test]
async fn lists_page_with_a_cursor_and_reads_carry_an_etag() {
    let s = Server::new();
    tollgate_domain::conformance::staged(s.catalog.as_ref(), &s.bucket, "churn", 5).await;
    for i in 0..7 {
        s.catalog
            .append_audit(AuditEvent::new(
                jiff::Timestamp::now(),
                UserId::parse("tester").unwrap(),
                "test.event",
                format!("test/{i}"),
            ))
            .await
            .unwrap();
    }
    let reader = s.token("carol", &[]);

    let mut seen = Vec::new();
    let mut uri = "/api/v1/runs?limit=2".to_owned();
    loop {
        let (status, page) = s.get(&uri, &reader).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/v1/runs?limit=2&cursor={next}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");

    let (_, trail) = s.get("/api/v1/audit?subject=test/&limit=3", &reader).await;
    assert_eq!(trail["items"][0]["subject"], "test/6", "newest first");
    let next = trail["next"].as_str().unwrap();
    let (_, rest) = s
        .get(
            &format!("/api/v1/audit?subject=test/&limit=3&cursor={next}"),
            &reader,
        )
        .await;
    assert_eq!(rest["items"][0]["subject"], "test/3");

    let (status, v) = s.get("/api/v1/runs?limit=0", &reader).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (status, v) = s.get("/api/v1/runs?cursor=garbage", &reader).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cursor")),
        "{v}"
    );
    let (_, models) = s
        .get("/api/v1/models/churn/versions?limit=2", &reader)
        .await;
    assert_eq!(models["items"].as_array().unwrap().len(), 2);
    let next = models["next"].as_str().unwrap();
    let (_, more) = s
        .get(
            &format!("/api/v1/models/churn/versions?limit=2&cursor={next}"),
            &reader,
        )
        .await;
    assert_eq!(more["items"][0]["version"], 3);

    let (status, headers, _) = s
        .call(Method::GET, "/api/v1/runs", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let tag = headers[header::ETAG].to_str().unwrap().to_owned();
    let response = s
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/runs")
                .header(header::AUTHORIZATION, format!("Bearer {reader}"))
                .header(header::IF_NONE_MATCH, &tag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = Server::new();
    let (status, _, doc) = s
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "the document needs no token");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let routes = [
        ("get", "/api/v1/health"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/datasets"),
        ("get", "/api/v1/datasets/{name}"),
        ("get", "/api/v1/datasets/{name}/versions"),
        ("get", "/api/v1/datasets/{name}/versions/{version}"),
        ("get", "/api/v1/datasets/{name}/uploads"),
        ("get", "/api/v1/datasets/{name}/contract"),
        ("post", "/api/v1/contracts"),
        ("get", "/api/v1/pipelines"),
        ("post", "/api/v1/pipelines"),
        ("get", "/api/v1/pipelines/{name}"),
        ("get", "/api/v1/runs"),
        ("post", "/api/v1/runs"),
        ("get", "/api/v1/runs/{id}"),
        ("get", "/api/v1/models"),
        ("get", "/api/v1/models/{name}/versions"),
        ("get", "/api/v1/models/{name}/versions/{version}"),
        ("get", "/api/v1/models/{name}/versions/{version}/lineage"),
        ("get", "/api/v1/models/{name}/monitoring"),
        ("post", "/api/v1/models/{name}/versions/{version}/approve"),
        ("post", "/api/v1/models/{name}/versions/{version}/reject"),
        ("post", "/api/v1/models/{name}/versions/{version}/promote"),
        ("post", "/api/v1/models/{name}/rollback"),
        ("get", "/api/v1/approvals"),
        ("get", "/api/v1/audit"),
        ("post", "/api/v1/uploads"),
        ("put", "/api/v1/uploads/{key}"),
        ("post", "/api/v1/local/sign-in"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is in the document");
        assert!(op["responses"].is_object(), "{method} {path} has responses");
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "no route the router does not have"
    );
    let refused =
        &doc["paths"]["/api/v1/models/{name}/versions/{version}/approve"]["post"]["responses"];
    for status in ["401", "403", "409"] {
        assert!(refused[status].is_object(), "approve documents {status}");
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "ErrorBody",
        "ModelVersionDetail",
        "Lineage",
        "RunSummary",
        "MonitorReport",
    ] {
        assert!(schemas[schema].is_object(), "{schema} is a schema");
    }
    // Every reference resolves: a type added to a response is in the document too.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 50, "{} references", found.len());
    for r in &found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(schemas[name].is_object(), "{r} resolves to a schema");
    }
    assert!(
        schemas["Contributor"].is_object(),
        "a model version's contributors"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "routes take a bearer token"
    );
}

#[tokio::test]
async fn lineage_and_monitoring_reports_are_read_from_the_catalog_and_the_bucket() {
    let s = Server::new();
    tollgate_domain::conformance::staged(s.catalog.as_ref(), &s.bucket, "churn", 2).await;
    let reader = s.token("carol", &[]);
    let (status, graph) = s
        .get("/api/v1/models/churn/versions/2/lineage", &reader)
        .await;
    assert_eq!(status, StatusCode::OK, "{graph}");
    let kinds: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "dataset_version",
        "pipeline",
        "run",
        "trial",
        "model_version",
        "stage",
    ] {
        assert!(kinds.contains(&kind), "a {kind} node in {kinds:?}");
    }
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for edge in graph["edges"].as_array().unwrap() {
        for end in ["from", "to"] {
            assert!(
                ids.contains(&edge[end].as_str().unwrap()),
                "every edge joins nodes of the graph: {edge}"
            );
        }
    }
    assert!(
        graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["relation"] == "registered as" && e["to"] == "model:churn/v2")
    );
    let (status, _) = s
        .get("/api/v1/models/churn/versions/9/lineage", &reader)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for (i, at) in ["20260101T000000Z", "20260101T010000Z", "20260101T020000Z"]
        .iter()
        .enumerate()
    {
        let report = json!({
            "model": "churn", "version": 1, "at": format!("2026-01-01T0{i}:00:00Z"),
            "captured_files": 1, "captured_rows": 100 + i, "drift": [], "drifted": false,
            "retraining_run": null, "notes": [], "report": null,
        });
        let key = tollgate_domain::BlobKey::parse(&format!("monitoring/churn/{at}.json")).unwrap();
        s.blobs
            .put(&s.bucket, &key, report.to_string().into())
            .await
            .unwrap();
    }
    let (status, first) = s
        .get("/api/v1/models/churn/monitoring?limit=2", &reader)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["items"][0]["captured_rows"], 100, "oldest first");
    let next = first["next"].as_str().unwrap();
    let (_, rest) = s
        .get(
            &format!("/api/v1/models/churn/monitoring?limit=2&cursor={next}"),
            &reader,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["captured_rows"], 102);
    assert!(rest["next"].is_null());
}

#[tokio::test]
async fn the_local_sign_in_answers_this_machine_only() {
    let s = Server::new();
    let sign_in = |host: &str, origin: Option<&str>, body: Value| {
        let mut request = Request::post("/api/v1/local/sign-in")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let router = s.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let erin = json!({"user": "erin", "groups": ["editors"]});
    let (status, signed) = sign_in("127.0.0.1:9", Some("http://127.0.0.1:9"), erin.clone()).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let (status, me) = s.get("/api/v1/me", signed["token"].as_str().unwrap()).await;
    assert_eq!(
        (status, me["user"].as_str()),
        (StatusCode::OK, Some("erin"))
    );
    assert_eq!(me["groups"], json!(["editors"]));
    let (status, _) = sign_in("localhost:9", None, erin.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "localhost, from a script (no Origin)"
    );

    let (status, v) = sign_in("evil.example:9", None, erin.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a rebound name: {v}");
    let (status, v) = sign_in("127.0.0.1:9", Some("http://evil.example"), erin.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a page elsewhere: {v}");
    assert!(message(&v).contains("evil.example"), "{v}");
    let (status, v) = sign_in(
        "127.0.0.1:9",
        None,
        json!({"user": "erin", "groups": ["admins"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("groups")),
        "{v}"
    );

    // A server that does not offer it (on AWS, or bound beyond loopback) says where to sign in.
    let plain = Api::new(
        s.app.clone(),
        Arc::new(BearerTokens(s.tokens.clone())),
        Uploads::Store,
    )
    .router();
    let response = plain
        .oneshot(
            Request::post("/api/v1/local/sign-in")
                .header(header::HOST, "127.0.0.1:9")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(erin.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_server_error_gives_a_reference_not_its_insides() {
    let s = Server::new();
    tollgate_domain::conformance::staged(s.catalog.as_ref(), &s.bucket, "churn", 1).await;
    let key = tollgate_domain::BlobKey::parse("monitoring/churn/20260101T000000Z.json").unwrap();
    s.blobs
        .put(&s.bucket, &key, "{ not json".into())
        .await
        .unwrap();
    let reader = s.token("carol", &[]);
    let (status, v) = s.get("/api/v1/models/churn/monitoring", &reader).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(v["error"]["code"], "internal");
    let said = message(&v);
    assert!(said.contains("reference"), "{v}");
    assert!(
        !said.contains("monitoring/") && !said.contains("line"),
        "no path or parser message reaches the caller: {v}"
    );
}
