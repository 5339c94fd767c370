//! The one module that talks HTTP: `/api/v1` (on the page's own origin, or where
//! `config.json` says), with the session's bearer token; and, on AWS, Cognito's token
//! endpoint. Every answer that is not a success becomes a [`Failure`] that says what went wrong
//! in words a person can act on.

use std::collections::BTreeMap;

use gloo_net::http::{Request, RequestBuilder, Response};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tollgate_api_types::{
    ApprovalStatus, AuditEvent, CandidateRef, ColumnProfile, ContentHash, Contributor, DatasetName,
    DatasetSummary, Decided, DecisionRequest, DriftReport, Finding, Hyperparameters, Lineage, Me,
    Metric, ModelFamily, ModelStage, MonitorReport, Page, ProductionSide, RollbackRequest,
    RunStatus, RunSummary, SignInRequest, SignedIn, StageChange, StoredContract, Task, TrialRecord,
    UploadRecord, UserId, Waiting,
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

/// A success's body, or the [`Failure`] the answer says. Not generic: one copy of the
/// request's machinery serves every endpoint, and only [`decode`] is made per type.
async fn body(response: Response) -> Result<String, Failure> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        let failure = Failure::from_answer(status, &text);
        if matches!(failure, Failure::NotSignedIn(_)) {
            // An expired or foreign token: the person signs in again.
            Session::get().sign_out();
        }
        Err(failure)
    }
}

/// Reads a success's body.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, Failure> {
    serde_json::from_str(text)
        .map_err(|e| Failure::Internal(format!("the server's answer could not be read: {e}")))
}

async fn get_text(path: &str, query: Query) -> Result<String, Failure> {
    let query = query.into_iter().filter(|(_, v)| !v.is_empty());
    let response = authorized(Request::get(&format!("{}{path}", base())).query(query))
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    body(response).await
}

async fn post_text(path: &str, body_json: String) -> Result<String, Failure> {
    let response = authorized(Request::post(&format!("{}{path}", base())))
        .header("Content-Type", "application/json")
        .body(body_json)
        .map_err(|e| Failure::Internal(e.to_string()))?
        .send()
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    body(response).await
}

async fn get<T: DeserializeOwned>(path: &str, query: Query) -> Result<T, Failure> {
    decode(&get_text(path, query).await?)
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let json = serde_json::to_string(body).map_err(|e| Failure::Internal(e.to_string()))?;
    decode(&post_text(path, json).await?)
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

pub async fn models(cursor: String) -> Result<Page<ModelSummaryView>, Failure> {
    get("/models", vec![("cursor", cursor)]).await
}

/// What the pages read of a model version (the API answers the whole `ModelVersion`): not
/// its split files, job, artifact or pipeline hash, whose decoders would only add to the wasm.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelVersionView {
    pub model: String,
    pub version: u32,
    pub stage: ModelStage,
    pub family: ModelFamily,
    pub run_id: String,
    pub trial: u32,
    pub hyperparameters: Hyperparameters,
    pub metrics: BTreeMap<String, f64>,
    pub primary_metric: String,
    pub dataset: DatasetName,
    pub dataset_version: u32,
    pub content_hash: ContentHash,
    pub author: UserId,
    #[serde(default)]
    pub contributors: Vec<Contributor>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub test: Option<Verdict>,
}

/// A model test's verdict as the API writes `TestVerdict` (`{"verdict": "failed", "reason":
/// ...}`), read as plain fields: the decoder of an internally tagged enum is a large one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Verdict {
    pub verdict: String,
    #[serde(default)]
    pub reason: Option<String>,
}

impl std::fmt::Display for Verdict {
    /// `passed`, or `failed: <reason>`, as `TestVerdict` says itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{}: {reason}", self.verdict),
            None => f.write_str(&self.verdict),
        }
    }
}

/// `ModelSummary`, with the latest version as [`ModelVersionView`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelSummaryView {
    pub latest: ModelVersionView,
    #[serde(default)]
    pub production_version: Option<u32>,
    pub staging_versions: Vec<u32>,
}

/// `ModelVersionDetail`, with the version as [`ModelVersionView`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelVersionDetailView {
    pub version: ModelVersionView,
    #[serde(default)]
    pub test_report: Option<serde_json::Value>,
    #[serde(default)]
    pub production: Option<ProductionSide>,
    pub approval: ApprovalStatus,
    pub history: Vec<StageChange>,
}

pub async fn model_versions(
    name: String,
    cursor: String,
) -> Result<Page<ModelVersionView>, Failure> {
    get(
        &format!("/models/{}/versions", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

pub async fn model_version(name: String, version: u32) -> Result<ModelVersionDetailView, Failure> {
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

/// What the run page reads of a run. `GET /runs/{id}` answers the whole `Run`; of its
/// pipeline only the name, version and metric are read, and of its trigger the kind, so the
/// decoders of the whole pipeline file and of every trigger stay out of the wasm (about a
/// tenth of the console's size). The test below reads a `Run` the server writes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunView {
    pub id: String,
    pub pipeline: PipelineRef,
    pub dataset: DatasetName,
    pub dataset_version: u32,
    pub trigger: TriggerKind,
    pub requested_by: UserId,
    pub status: RunStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub deadline: Option<Timestamp>,
    pub max_trials: u32,
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    pub trials: Vec<TrialRecord>,
    #[serde(default)]
    pub candidate: Option<CandidateRef>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The pipeline version a run applies: its number, and of the file its name and metric.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PipelineRef {
    pub version: u32,
    pub pipeline: PipelineHead,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PipelineHead {
    pub name: String,
    pub task: Task,
    #[serde(default)]
    pub metric: Option<Metric>,
}

impl PipelineHead {
    /// The metric the run optimizes, as `Pipeline::metric` says it.
    pub fn metric(&self) -> Metric {
        self.metric.unwrap_or(Metric::default_for(self.task))
    }
}

/// What started a run: `upload`, `request`, `schedule` or `monitor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TriggerKind {
    pub kind: String,
}

pub async fn run(id: String) -> Result<RunView, Failure> {
    get(&format!("/runs/{}", seg(&id)), vec![]).await
}

pub async fn datasets(cursor: String) -> Result<Page<DatasetSummary>, Failure> {
    get("/datasets", vec![("cursor", cursor)]).await
}

/// A `DatasetVersion` as the console shows it: the API also sends the schema, which no page
/// shows (decoding it is wasm the pages would download for nothing).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DatasetVersionView {
    pub dataset: DatasetName,
    pub version: u32,
    pub content_hash: ContentHash,
    pub source: ObjectKey,
    pub location: ObjectKey,
    pub rows: u64,
    pub bytes: u64,
    pub format: String,
    pub contract_version: u32,
    #[serde(default)]
    pub parent_version: Option<u32>,
    pub uploaded_by: UserId,
    pub created_at: Timestamp,
    #[serde(default)]
    pub drifted_columns: Vec<String>,
}

/// An `ObjectRef`'s key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectKey {
    pub key: String,
}

/// `VersionDetail`, with the version as [`DatasetVersionView`] and only the report's sections
/// the page shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VersionDetailView {
    pub version: DatasetVersionView,
    #[serde(default)]
    pub report: Option<ReportView>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportView {
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub profile: Option<ProfileView>,
    #[serde(default)]
    pub drift: Option<DriftReport>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProfileView {
    pub columns: Vec<ColumnProfile>,
}

pub async fn dataset_versions(
    name: String,
    cursor: String,
) -> Result<Page<DatasetVersionView>, Failure> {
    get(
        &format!("/datasets/{}/versions", seg(&name)),
        vec![("cursor", cursor)],
    )
    .await
}

pub async fn dataset_version(name: String, version: u32) -> Result<VersionDetailView, Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_api_types::TestVerdict;

    #[test]
    fn a_verdict_reads_and_says_what_the_domain_writes() {
        for verdict in [
            TestVerdict::Passed,
            TestVerdict::Failed {
                reason: "accuracy 0.52 below 0.55".into(),
            },
        ] {
            let json = serde_json::to_string(&verdict).unwrap();
            let read: Verdict = serde_json::from_str(&json).unwrap();
            assert_eq!(read.to_string(), verdict.to_string());
        }
    }

    #[test]
    fn a_pipeline_head_falls_back_to_the_tasks_metric() {
        let head: PipelineHead =
            serde_json::from_str(r#"{"name": "wine", "task": "classification"}"#).unwrap();
        assert_eq!(head.metric(), Metric::default_for(Task::Classification));
        let head: PipelineHead = serde_json::from_str(
            r#"{"name": "wine", "task": "classification", "metric": "f1_macro"}"#,
        )
        .unwrap();
        assert_eq!(head.metric(), Metric::F1Macro);
    }
}
