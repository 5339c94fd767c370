//! The one module that talks HTTP: `/api/v1` (on the page's own origin, or where
//! `config.json` says), with the session's bearer token; and, on AWS, Cognito's token
//! endpoint. Every answer that is not a success becomes a [`Failure`] that says what went wrong
//! in words a person can act on.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_api_types::{
    AuditEvent, DatasetSummary, DatasetVersion, Decided, DecisionRequest, Lineage, Me,
    ModelSummary, ModelVersion, ModelVersionDetail, MonitorReport, Page, RollbackRequest, Run,
    RunSummary, SignInRequest, SignedIn, StoredContract, UploadRecord, VersionDetail, Waiting,
};

use crate::auth::{self, Cognito, Config, Tokens};
use crate::session::Session;
use crate::view_model::Failure;

static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// The console's configuration, as [`load_config`] read it (the local one before that).
pub fn config() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

/// Reads `config.json` beside the console's files, once, before the app mounts. None there (a
/// 404, or `tollgate up`'s index page answering for it) is `tollgate up`'s setup: the API on
/// this origin, the local sign-in.
pub async fn load_config() -> Result<&'static Config, Failure> {
    let response = Request::get("/config.json")
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.contains("json"));
    let loaded = if response.status() == 200 && json {
        let text = response
            .text()
            .await
            .map_err(|e| Failure::Network(e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| Failure::Internal(format!("the console's config.json is wrong: {e}")))?
    } else if response.status() == 200 || response.status() == 404 {
        Config::default()
    } else {
        return Err(Failure::from_answer(response.status(), ""));
    };
    Ok(CONFIG.get_or_init(|| loaded))
}

/// Trades the hosted UI's code for tokens at Cognito's token endpoint, with the verifier
/// that proves this tab asked for it.
pub async fn exchange_code(
    cognito: &Cognito,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens, Failure> {
    let response = Request::post(&auth::token_url(cognito))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(auth::token_form(cognito, code, redirect_uri, verifier))
        .map_err(|e| Failure::Internal(e.to_string()))?
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    if status == 200 {
        serde_json::from_str(&text)
            .map_err(|e| Failure::Internal(format!("Cognito's answer could not be read: {e}")))
    } else {
        // OAuth's error body: `{"error": "invalid_grant"}`.
        Err(Failure::NotSignedIn(format!(
            "the sign-in could not be completed ({status}: {}); sign in again",
            text.trim()
        )))
    }
}

fn base() -> String {
    format!("{}/api/v1", config().api_url.trim_end_matches('/'))
}

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
    let response = authorized(Request::get(&format!("{}{path}", base())).query(query))
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    answer(response).await
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let response = authorized(Request::post(&format!("{}{path}", base())))
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

pub async fn dataset_versions(
    name: String,
    cursor: String,
) -> Result<Page<DatasetVersion>, Failure> {
    get(
        &format!("/datasets/{}/versions", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

pub async fn dataset_version(name: String, version: u32) -> Result<VersionDetail, Failure> {
    get(
        &format!("/datasets/{}/versions/{version}", seg(&name)),
        vec![],
    )
    .await
}

pub async fn uploads(name: String, cursor: String) -> Result<Page<UploadRecord>, Failure> {
    get(
        &format!("/datasets/{}/uploads", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

/// The contract a version was checked against (`version`), or the one in force.
pub async fn contract(name: String, version: Option<u32>) -> Result<StoredContract, Failure> {
    let version = version.map(|v| v.to_string()).unwrap_or_default();
    get(
        &format!("/datasets/{}/contract", seg(&name)),
        vec![("version", version)],
    )
    .await
}

pub async fn monitoring(name: String, cursor: String) -> Result<Page<MonitorReport>, Failure> {
    get(
        &format!("/models/{}/monitoring", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

pub async fn audit(query: Query) -> Result<Page<AuditEvent>, Failure> {
    get("/audit", query).await
}
