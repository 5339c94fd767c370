//! Promotion on DynamoDB: racing approvals and rollbacks, the promote function's HTTP API (who
//! may call, the author refused), and the mirror into the SageMaker Model Registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tollgate_aws::{DynamoCatalog, EventBridgeBus, SageMakerRegistry};
use tollgate_domain::ports::{Catalog, SystemClock};
use tollgate_domain::promotion::Request;
use tollgate_domain::{ModelStage, UserId};
use tollgate_fn_promote::{Access, Function};
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
    Promote::new(
        Arc::new(stack.blobs()),
        Arc::new(stack.catalog()),
        Arc::new(EventBridgeBus::new(&stack.aws, &stack.bus)),
        Arc::new(SystemClock),
        stack.bucket_name(),
    )
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
            let request = Request::Rollback { comment: None };
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
fn http(path: &str, body: Value, claims: Option<Value>) -> LambdaEvent<ApiGatewayV2httpRequest> {
    let mut request: Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-approve.json")).unwrap();
    request["rawPath"] = Value::from(path);
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
    LambdaEvent::new(serde_json::from_value(request).unwrap(), Context::default())
}

fn approver(email: &str) -> Option<Value> {
    Some(serde_json::json!({
        "email": email, "sub": "0f9c3c1e", "cognito:groups": "[approvers]",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
    }))
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(text).unwrap(),
        other => panic!("a JSON body: {other:?}"),
    }
}

#[tokio::test]
async fn the_promote_api_refuses_strangers_and_authors_and_mirrors_promotions_into_sagemaker() {
    let stack = Stack::new().await;
    let model = "api-model";
    let catalog = staged(&stack, model, 2).await;
    let registry = SageMakerRegistry::new(&stack.aws, "tollgate-");
    let function = Function::new(
        &stack.aws,
        &stack.common(),
        Access {
            actor_claim: "email".into(),
            approver_group: "approvers".into(),
        },
    )
    .unwrap()
    .with_registry(Arc::new(registry.clone()));
    let approve = |v: u32| format!("/models/{model}/versions/{v}/approve");

    let anonymous = function
        .handle(http(&approve(1), serde_json::json!({}), None))
        .await
        .unwrap();
    assert_eq!(anonymous.status_code, 401, "{:?}", body(&anonymous));

    let outsider =
        serde_json::json!({"email": "mallory@example.com", "cognito:groups": "[analysts]"});
    let refused = function
        .handle(http(&approve(1), serde_json::json!({}), Some(outsider)))
        .await
        .unwrap();
    assert_eq!(refused.status_code, 403, "{:?}", body(&refused));

    // alice wrote the model (she started its runs): she may not approve it.
    let author = function
        .handle(http(&approve(1), serde_json::json!({}), approver("alice")))
        .await
        .unwrap();
    assert_eq!(author.status_code, 409);
    assert!(
        body(&author)["reason"].as_str().unwrap().contains("author"),
        "{:?}",
        body(&author)
    );

    let bad = function
        .handle(http(
            &format!("/models/{model}/versions/1/reject"),
            serde_json::json!({}),
            approver("bob@example.com"),
        ))
        .await
        .unwrap();
    assert_eq!(
        bad.status_code,
        400,
        "a rejection without a comment: {:?}",
        body(&bad)
    );
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

    let done = function
        .handle(http(
            &approve(1),
            serde_json::json!({"comment": "beats production"}),
            approver("bob@example.com"),
        ))
        .await
        .unwrap();
    assert_eq!(done.status_code, 200, "{:?}", body(&done));
    assert_eq!(body(&done)["changes"][0]["to"], "production");
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
    let second = function
        .handle(http(
            &approve(2),
            serde_json::json!({}),
            approver("carol@example.com"),
        ))
        .await
        .unwrap();
    assert_eq!(second.status_code, 200, "{:?}", body(&second));
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
