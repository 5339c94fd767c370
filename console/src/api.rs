//! The one module that talks HTTP: `/api/v1` on the page's own origin, with the session's
//! bearer token. Every answer that is not a success becomes a [`Failure`] that says what went
//! wrong in words a person can act on.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_api_types::{
    AuditEvent, DatasetSummary, Decided, DecisionRequest, Lineage, Me, ModelSummary, ModelVersion,
    ModelVersionDetail, Page, RollbackRequest, Run, RunSummary, SignInRequest, SignedIn, Waiting,
};

use crate::session::Session;
use crate::view_model::Failure;

const BASE: &str = "/api/v1";

/// Query parameters, left out when empty.
pub type Query = Vec<(&'static str, String)>;

fn authorized(request: RequestBuilder) -> RequestBuilder {
    match Session::get().token() {
        Some(token) => request.header("Authorization", &format!("Bearer {token}")),
        None => request,
    }
}

async fn answer<T: DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    if (200..300).contains(&status) {
        serde_json::from_str(&text)
            .map_err(|e| Failure::Internal(format!("the server's answer could not be read: {e}")))
    } else {
        let failure = Failure::from_answer(status, &text);
        if matches!(failure, Failure::NotSignedIn(_)) {
            // An expired or foreign token: the person signs in again.
            Session::get().sign_out();
        }
        Err(failure)
    }
}

async fn get<T: DeserializeOwned>(path: &str, query: Query) -> Result<T, Failure> {
    let query = query.into_iter().filter(|(_, v)| !v.is_empty());
    let response = authorized(Request::get(&format!("{BASE}{path}")).query(query))
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    answer(response).await
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let response = authorized(Request::post(&format!("{BASE}{path}")))
        .json(body)
        .map_err(|e| Failure::Internal(e.to_string()))?
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    answer(response).await
}

use crate::view_model::encode_segment as seg;

pub async fn me() -> Result<Me, Failure> {
    get("/me", vec![]).await
}

pub async fn sign_in(user: String, groups: Vec<String>) -> Result<SignedIn, Failure> {
    post("/local/sign-in", &SignInRequest { user, groups }).await
}

pub async fn approvals(cursor: String) -> Result<Page<Waiting>, Failure> {
    get("/approvals", vec![("cursor", cursor)]).await
}

pub async fn models(cursor: String) -> Result<Page<ModelSummary>, Failure> {
    get("/models", vec![("cursor", cursor)]).await
}

pub async fn model_versions(name: String, cursor: String) -> Result<Page<ModelVersion>, Failure> {
    get(
        &format!("/models/{}/versions", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

pub async fn model_version(name: String, version: u32) -> Result<ModelVersionDetail, Failure> {
    get(
        &format!("/models/{}/versions/{version}", seg(&name)),
        vec![],
    )
    .await
}

pub async fn lineage(name: String, version: u32) -> Result<Lineage, Failure> {
    get(
        &format!("/models/{}/versions/{version}/lineage", seg(&name)),
        vec![],
    )
    .await
}

/// `verb`: `approve` or `reject`.
pub async fn decide(
    name: String,
    version: u32,
    verb: &'static str,
    comment: Option<String>,
) -> Result<Decided, Failure> {
    post(
        &format!("/models/{}/versions/{version}/{verb}", seg(&name)),
        &DecisionRequest { comment },
    )
    .await
}

pub async fn rollback(
    name: String,
    from: u32,
    comment: Option<String>,
) -> Result<Decided, Failure> {
    post(
        &format!("/models/{}/rollback", seg(&name)),
        &RollbackRequest {
            comment,
            from: Some(from),
        },
    )
    .await
}

pub async fn runs(query: Query) -> Result<Page<RunSummary>, Failure> {
    get("/runs", query).await
}

pub async fn run(id: String) -> Result<Run, Failure> {
    get(&format!("/runs/{}", seg(&id)), vec![]).await
}

pub async fn datasets(cursor: String) -> Result<Page<DatasetSummary>, Failure> {
    get("/datasets", vec![("cursor", cursor)]).await
}

pub async fn audit(query: Query) -> Result<Page<AuditEvent>, Failure> {
    get("/audit", query).await
}
