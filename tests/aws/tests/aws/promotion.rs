//! Promotion on DynamoDB: racing approvals and rollbacks, the API function's promotion routes (who
//! may call, the author refused), and the mirror into the SageMaker Model Registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tollgate_aws::{DynamoCatalog, EventBridgeBus, SageMakerRegistry};
use tollgate_domain::ports::{Catalog, Ports, SystemClock};
use tollgate_domain::promotion::Request;
use tollgate_domain::{ModelStage, UserId};
use tollgate_promote::{Outcome, Promote};

use tollgate_aws_tests::standin::Stack;

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

/// `model` with `versions` versions by alice, tested and in staging, under a policy of one
/// approval.
async fn staged(stack: &Stack, model: &str, versions: u32) -> DynamoCatalog {
    let catalog = stack.catalog();
    tollgate_domain::conformance::staged(&catalog, &stack.bucket_name(), model, versions).await;
    catalog
}

fn promote(stack: &Stack) -> Promote {
    Promote::new(&Ports {
        blobs: Arc::new(stack.blobs()),
        catalog: Arc::new(stack.catalog()),
        bus: Arc::new(EventBridgeBus::new(&stack.aws, &stack.bus)),
        clock: Arc::new(SystemClock),
        data_bucket: stack.bucket_name(),
    })
}

/// Bob approves v1 of `model` (staged, one approval needed), and the process stops after the
/// commit, before it announces it (the bus is unreachable): the catalog, and the request.
async fn approved_then_cut_short(stack: &Stack, model: &str) -> (DynamoCatalog, Request) {
    let catalog = staged(stack, model, 1).await;
    let approve = Request::Approve {
        version: 1,
        comment: None,
    };
    let cut_short = Promote::new(&Ports {
        bus: Arc::new(tollgate_aws_tests::Unreachable),
        ..stack.common().ports(&stack.aws).unwrap()
    });
    assert!(
        cut_short
            .request(model, &approve, &user("bob"))
            .await
            .is_err()
    );
    (catalog, approve)
}

#[tokio::test]
async fn an_approval_cut_short_after_its_commit_is_finished_when_asked_again() {
    let stack = Stack::new().await;
    let model = "cut-short";
    let (catalog, approve) = approved_then_cut_short(&stack, model).await;
    let v1 = catalog.model_version(model, 1).await.unwrap().unwrap();
    assert_eq!(v1.stage, ModelStage::Production, "committed");

    // Bob asks again (his client saw an error): the same transition, and what follows it now.
    let again = promote(&stack)
        .request(model, &approve, &user("bob"))
        .await
        .unwrap();
    assert!(
        matches!(&again, Outcome::Repeated(c) if c.len() == 1 && c[0].to == ModelStage::Production),
        "{again:?}"
    );
    let changed = stack.published_event("ModelStageChanged").await;
    assert_eq!(changed["detail"]["to"], "production", "{changed:#}");
    let pointer: Value = serde_json::from_slice(
        &stack
            .object(&format!("models/{model}/production.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pointer["version"], 1, "{pointer:#}");
    assert_eq!(
        catalog.model_history(model).await.unwrap().len(),
        2,
        "staged, then promoted once"
    );
}

/// The same crash, and no one asks again: the outbox entry the transition wrote with its
/// commit is what the scheduled sweep announces from.
#[tokio::test]
async fn an_approval_cut_short_and_never_asked_again_is_announced_by_the_sweep() {
    let stack = Stack::new().await;
    let model = "never-asked-again";
    let (catalog, _) = approved_then_cut_short(&stack, model).await;
    let owed = |all: Vec<tollgate_domain::ports::Unannounced>| {
        all.into_iter()
            .filter(|o| o.model == model)
            .map(|o| (o.position, o.change.to))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        owed(catalog.unannounced_changes().await.unwrap()),
        [(0, ModelStage::Staging), (1, ModelStage::Production)],
        "the staging and the promotion are owed"
    );

    // The sweep on a live request's grace period leaves them to it.
    let sweep = promote(&stack);
    let young = std::time::Duration::from_secs(3600);
    assert_eq!(sweep.announce_owed(young).await.unwrap(), 0);

    let announced = sweep
        .announce_owed(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(announced, 2, "the staging and the promotion");
    let changed = stack.published_event("ModelStageChanged").await;
    assert_eq!(changed["detail"]["model"], model, "{changed:#}");
    assert!(
        owed(catalog.unannounced_changes().await.unwrap()).is_empty(),
        "nothing is owed once announced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_and_rollbacks_leave_one_consistent_state_and_audit() {
    let stack = Stack::new().await;
    let model = "racing";
    let catalog = staged(&stack, model, 3).await;
    let handler = promote(&stack);

    // Eight approvers at once on three versions, then four rollbacks at once.
    let approvals = (0..8u32).map(|i| {
        let handler = handler.clone();
        tokio::spawn(async move {
            let request = Request::Approve {
                version: i % 3 + 1,
                comment: None,
            };
            handler
                .request(model, &request, &user(&format!("approver-{i}")))
                .await
        })
    });
    let mut outcomes: Vec<Outcome> = futures::future::join_all(approvals)
        .await
        .into_iter()
        .map(|r| r.unwrap().expect("done or refused, never failed"))
        .collect();
    let rollbacks = (0..4u32).map(|i| {
        let handler = handler.clone();
        tokio::spawn(async move {
            let request = Request::Rollback {
                comment: None,
                from: None,
            };
            handler
                .request(model, &request, &user(&format!("operator-{i}")))
                .await
        })
    });
    outcomes.extend(
        futures::future::join_all(rollbacks)
            .await
            .into_iter()
            .map(|r| r.unwrap().expect("done or refused, never failed")),
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Done(c) if !c.is_empty())),
        "some approval promoted: {outcomes:?}"
    );

    let state = catalog.model_state(model).await.unwrap().unwrap();
    let stages: BTreeMap<u32, ModelStage> = state
        .versions
        .iter()
        .map(|v| (v.version, v.stage))
        .collect();
    assert!(
        stages
            .values()
            .filter(|s| **s == ModelStage::Production)
            .count()
            <= 1,
        "one version in production at most: {stages:?}"
    );
    // The history is a chain per version, and ends where the stages are.
    let mut replay: BTreeMap<u32, ModelStage> = BTreeMap::new();
    for change in &state.history {
        let from = replay
            .get(&change.version)
            .copied()
            .unwrap_or(ModelStage::Candidate);
        assert_eq!(
            from, change.from,
            "v{}'s history is a chain: {:#?}",
            change.version, state.history
        );
        replay.insert(change.version, change.to);
    }
    assert_eq!(replay, stages, "the history ends where the stages are");
    // Every stage change has its audit event, and nothing else moved a stage.
    let audit = catalog
        .audit(Some(&format!("model/{model}/")))
        .await
        .unwrap();
    let moves = audit
        .iter()
        .filter(|e| e.from.is_some() && e.to.is_some() && e.from != e.to)
        .count();
    assert_eq!(moves, state.history.len(), "{audit:#?}");
}

/// An HTTP API request to the promote function, as API Gateway hands it over
/// (`fixtures/apigw-approve.json`), from a caller with these JWT claims (`None`: no token).
/// An API Gateway v2 request for `path` (under `/api/v1`), as its JWT authorizer passes it:
/// with `claims`, or without an authorizer context at all.
fn http(path: &str, body: Value, claims: Option<Value>) -> lambda_http::Request {
    let mut request: Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-approve.json")).unwrap();
    let path = format!("/api/v1{path}");
    request["rawPath"] = Value::from(path.as_str());
    request["requestContext"]["http"]["path"] = Value::from(path);
    request["body"] = Value::from(body.to_string());
    match claims {
        Some(claims) => request["requestContext"]["authorizer"]["jwt"]["claims"] = claims,
        None => {
            request["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    lambda_http::request::from_str(&request.to_string()).unwrap()
}

fn approver(email: &str) -> Option<Value> {
    Some(serde_json::json!({
        "email": email, "email_verified": "true", "sub": "0f9c3c1e",
        "cognito:groups": "[approvers]", "cognito:username": "0f9c3c1e", "token_use": "id",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
    }))
}

/// The status and JSON body the API function's router answers `request` with.
async fn send(router: &tollgate_api::Router, request: lambda_http::Request) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_api_function_refuses_strangers_and_authors_and_mirrors_promotions_into_sagemaker() {
    let stack = Stack::new().await;
    let model = "api-model";
    let catalog = staged(&stack, model, 2).await;
    let registry = SageMakerRegistry::new(&stack.aws, "tollgate-");
    let app = tollgate_fn_api::app(&stack.aws, &stack.common())
        .unwrap()
        .with_registry(Arc::new(registry.clone()));
    let function = tollgate_fn_api::router(
        app,
        tollgate_fn_api::JwtClaims {
            actor_claim: "email".into(),
        },
    );
    let approve = |v: u32| format!("/models/{model}/versions/{v}/approve");

    let anonymous = send(&function, http(&approve(1), serde_json::json!({}), None)).await;
    assert_eq!(anonymous.0, 401, "{:?}", anonymous.1);

    let outsider = serde_json::json!({"email": "mallory@example.com", "email_verified": "true", "cognito:groups": "[analysts]"});
    let refused = send(
        &function,
        http(&approve(1), serde_json::json!({}), Some(outsider)),
    )
    .await;
    assert_eq!(refused.0, 403, "{:?}", refused.1);

    // alice wrote the model (she started its runs): she may not approve it.
    let author = send(
        &function,
        http(&approve(1), serde_json::json!({}), approver("alice")),
    )
    .await;
    assert_eq!(author.0, 409);
    assert!(
        author.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("author"),
        "{:?}",
        author.1
    );

    // dave uploaded the data it was trained on: he contributed, and may not approve it either,
    // however his provider cases his address.
    let uploader = send(
        &function,
        http(&approve(1), serde_json::json!({}), approver("DAVE")),
    )
    .await;
    assert_eq!(uploader.0, 409, "{:?}", uploader.1);
    assert!(
        uploader.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dave uploaded conformance-ds v1"),
        "{:?}",
        uploader.1
    );

    let bad = send(
        &function,
        http(
            &format!("/models/{model}/versions/1/reject"),
            serde_json::json!({}),
            approver("bob@example.com"),
        ),
    )
    .await;
    assert_eq!(bad.0, 422, "a rejection without a comment: {:?}", bad.1);
    assert_eq!(
        catalog
            .model_version(model, 1)
            .await
            .unwrap()
            .unwrap()
            .stage,
        ModelStage::Staging,
        "no refused call changed anything"
    );

    let done = send(
        &function,
        http(
            &approve(1),
            serde_json::json!({"comment": "beats production"}),
            approver("Bob@Example.com"),
        ),
    )
    .await;
    assert_eq!(done.0, 200, "{:?}", done.1);
    assert_eq!(done.1["changes"][0]["to"], "production");
    let v1 = catalog.model_version(model, 1).await.unwrap().unwrap();
    assert_eq!(v1.stage, ModelStage::Production);
    assert_eq!(v1.approvals[0].approver.as_str(), "bob@example.com");
    let pointer = stack
        .object(&format!("models/{model}/production.json"))
        .await
        .unwrap();
    let pointer: Value = serde_json::from_slice(&pointer).unwrap();
    assert_eq!(pointer["version"], 1, "{pointer:#}");
    let changed = stack.published_event("ModelStageChanged").await;
    assert_eq!(changed["detail"]["to"], "production", "{changed:#}");
    assert_eq!(changed["detail"]["actor"], "bob@example.com");

    // v2 replaces it: v1 is archived. The registry follows: v2 approved, v1 rejected.
    let second = send(
        &function,
        http(
            &approve(2),
            serde_json::json!({}),
            approver("carol@example.com"),
        ),
    )
    .await;
    assert_eq!(second.0, 200, "{:?}", second.1);
    let packages = stack
        .sagemaker()
        .list_model_packages()
        .model_package_group_name(registry.group(model))
        .model_package_type(aws_sdk_sagemaker::types::ModelPackageType::Versioned)
        .send()
        .await
        .unwrap();
    let status: BTreeMap<String, String> = packages
        .model_package_summary_list()
        .iter()
        .map(|p| {
            (
                p.model_package_description().unwrap_or_default().to_owned(),
                p.model_approval_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        status,
        BTreeMap::from([
            (format!("Tollgate model {model} v1"), "Rejected".to_owned()),
            (format!("Tollgate model {model} v2"), "Approved".to_owned()),
        ]),
        "the registry mirrors the stages"
    );
}

/// An environment's floor of approvals (`TOLLGATE_MIN_APPROVALS`, `MinApprovals` in
/// samconfig.toml: 2 in prod) holds over a pipeline that asks for one: the first approval is
/// recorded, production waits for the second.
#[tokio::test]
async fn the_environments_floor_of_approvals_holds_over_the_pipelines() {
    let stack = Stack::new().await;
    let model = "floor-model";
    let catalog = staged(&stack, model, 1).await;
    let pipeline = catalog.pipeline(model, None).await.unwrap().unwrap();
    assert_eq!(
        pipeline.pipeline.promotion.approvals, 1,
        "the pipeline asks for one"
    );
    let app = tollgate_fn_api::app(&stack.aws, &stack.common())
        .unwrap()
        .with_min_approvals(2);
    let function = tollgate_fn_api::router(
        app,
        tollgate_fn_api::JwtClaims {
            actor_claim: "email".into(),
        },
    );
    let approve = format!("/models/{model}/versions/1/approve");

    let first = send(
        &function,
        http(&approve, serde_json::json!({}), approver("bob@example.com")),
    )
    .await;
    assert_eq!(first.0, 200, "{:?}", first.1);
    let v1 = catalog.model_version(model, 1).await.unwrap().unwrap();
    assert_eq!(
        v1.stage,
        ModelStage::Staging,
        "one approval of two: {:?}",
        first.1
    );
    assert_eq!(v1.approvals.len(), 1);

    let second = send(
        &function,
        http(
            &approve,
            serde_json::json!({}),
            approver("carol@example.com"),
        ),
    )
    .await;
    assert_eq!(second.0, 200, "{:?}", second.1);
    assert_eq!(second.1["changes"][0]["to"], "production", "{:?}", second.1);
}
