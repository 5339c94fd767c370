//! The routes: reads for every signed-in user, writes by role.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tollgate_api_types::RunAccepted;
use tollgate_api_types::{
    Applied, AuditEvent, Dataset, DatasetSummary, DatasetVersion, Decided, DecisionRequest, Health,
    Lineage, Me, ModelStage, ModelSummary, ModelVersion, ModelVersionDetail, MonitorReport, Page,
    PageRequest, PromoteRequest, RollbackRequest, Run, RunRequest, RunSummary, SignInRequest,
    SignedIn, StoredContract, StoredPipeline, UploadRecord, UploadRequest, UploadTicket,
    VersionDetail, Waiting,
};
use tollgate_app::{AppError, AuditFilter, RunFilter};
use tollgate_domain::promotion::Request;

use crate::extract::{Json, Query, page, paged};
use crate::identity::{APPROVERS, EDITORS, Identity};
use crate::{Api, ApiError, MAX_LOCAL_UPLOAD, Uploads};

type Answer<T> = Result<axum::Json<T>, ApiError>;

pub fn router(api: Api) -> Router {
    Router::new()
        .nest("/api/v1", v1())
        .fallback(not_found)
        .with_state(api)
}

/// The router, with every path outside `/api/` answered by `pages` (a web app's files: `tollgate
/// up` serves the console so); unknown paths under `/api/` still get the API's JSON
/// `not_found`.
pub fn router_with_pages<T>(api: Api, pages: T) -> Router
where
    T: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    T::Response: IntoResponse,
    T::Future: Send + 'static,
{
    Router::new()
        .nest("/api/v1", v1())
        .route("/api", axum::routing::any(not_found))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .fallback_service(pages)
        .with_state(api)
}

fn v1() -> Router<Api> {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route("/datasets", get(datasets))
        .route("/datasets/{name}", get(dataset))
        .route("/datasets/{name}/versions", get(versions))
        .route("/datasets/{name}/versions/{version}", get(version))
        .route("/datasets/{name}/uploads", get(uploads))
        .route("/datasets/{name}/contract", get(contract))
        .route("/contracts", post(apply_contract))
        .route("/pipelines", get(pipelines).post(apply_pipeline))
        .route("/pipelines/{name}", get(pipeline))
        .route("/runs", get(runs).post(request_run))
        .route("/runs/{id}", get(run))
        .route("/models", get(models))
        .route("/models/{name}/versions", get(model_versions))
        .route("/models/{name}/versions/{version}", get(model_version))
        .route("/models/{name}/versions/{version}/lineage", get(lineage))
        .route("/models/{name}/monitoring", get(monitoring))
        .route("/models/{name}/versions/{version}/approve", post(approve))
        .route("/models/{name}/versions/{version}/reject", post(reject))
        .route("/models/{name}/versions/{version}/promote", post(promote))
        .route("/models/{name}/rollback", post(rollback))
        .route("/approvals", get(approvals))
        .route("/audit", get(audit))
        .route("/uploads", post(upload_url))
        .route("/local/sign-in", post(local_sign_in))
        .route(
            "/uploads/{*key}",
            put(upload).layer(DefaultBodyLimit::max(MAX_LOCAL_UPLOAD)),
        )
        .layer(middleware::from_fn(etag))
}

async fn not_found() -> ApiError {
    ApiError::App(AppError::NotFound(
        "no such route: the API is under /api/v1".into(),
    ))
}

/// A read's body hashed into its `ETag`; a matching `If-None-Match` gets `304` and no body.
async fn etag(request: axum::extract::Request, next: Next) -> Response {
    let is_read = request.method() == axum::http::Method::GET;
    let asked = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if !is_read || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let tag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let tag = HeaderValue::from_str(&tag).expect("hex is a valid header");
    if asked.as_ref() == Some(&tag) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, tag);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    parts.headers.insert(header::ETAG, tag);
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "system",
    responses((status = 200, body = Health, description = "The server answers")),
    security(())
)]
async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The OpenAPI 3.1 document of these routes.
async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::DOCUMENT.as_str(),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "system",
    responses((status = 200, body = Me, description = "The caller as the server sees them"), crate::openapi::ReadRefusals)
)]
async fn me(who: Identity) -> axum::Json<Me> {
    axum::Json(Me {
        user: who.user.to_string(),
        groups: who.groups,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    fn page(self) -> Result<PageRequest, ApiError> {
        page(self.limit, self.cursor)
    }
}

/// A page of the approvals queue, a view computed from the models' states (versions in staging
/// are few): the items after the cursor (the last key seen), in key order.
fn slice<T>(mut items: Vec<T>, key: impl Fn(&T) -> String, page: &PageRequest) -> Page<T> {
    items.sort_by_cached_key(&key);
    let after: Vec<T> = items
        .into_iter()
        .filter(|item| {
            page.cursor
                .as_deref()
                .is_none_or(|c| key(item).as_str() > c)
        })
        .collect();
    Page::of(after, page.size(), key)
}

/// A port's own cursor that it did not recognise is the caller's `cursor` at fault.
fn cursor_error(e: AppError) -> ApiError {
    match e {
        AppError::Invalid {
            message,
            field: None,
        } => ApiError::bad_request("cursor", message),
        e => e.into(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets",
    tag = "datasets",
    params(PageQuery),
    responses((status = 200, body = Page<DatasetSummary>, description = "Datasets by name, with their latest version and upload counts"), crate::openapi::ReadRefusals)
)]
async fn datasets(
    _: Identity,
    State(api): State<Api>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<DatasetSummary>> {
    let page = q.page()?;
    Ok(paged(api.app.datasets(&page).await.map_err(cursor_error)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets/{name}",
    tag = "datasets",
    params(("name" = String, Path, description = "The dataset's name")),
    responses((status = 200, body = Dataset), crate::openapi::ReadRefusals)
)]
async fn dataset(_: Identity, State(api): State<Api>, Path(name): Path<String>) -> Answer<Dataset> {
    Ok(axum::Json(api.app.dataset(&name).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets/{name}/versions",
    tag = "datasets",
    params(("name" = String, Path, description = "The dataset's name"), PageQuery),
    responses((status = 200, body = Page<DatasetVersion>, description = "Accepted versions, oldest first"), crate::openapi::ReadRefusals)
)]
async fn versions(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<DatasetVersion>> {
    let page = q.page()?;
    Ok(paged(
        api.app.versions(&name, &page).await.map_err(cursor_error)?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets/{name}/versions/{version}",
    tag = "datasets",
    params(("name" = String, Path, description = "The dataset's name"), ("version" = u32, Path, description = "The dataset version")),
    responses((status = 200, body = VersionDetail, description = "The version and its validation report: findings, profile, drift"), crate::openapi::ReadRefusals)
)]
async fn version(
    _: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
) -> Answer<VersionDetail> {
    Ok(axum::Json(api.app.version(&name, version).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets/{name}/uploads",
    tag = "datasets",
    params(("name" = String, Path, description = "The dataset's name"), PageQuery),
    responses((status = 200, body = Page<UploadRecord>, description = "Uploads (accepted, duplicate, rejected), oldest first"), crate::openapi::ReadRefusals)
)]
async fn uploads(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<UploadRecord>> {
    let page = q.page()?;
    Ok(paged(
        api.app.uploads(&name, &page).await.map_err(cursor_error)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    version: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/datasets/{name}/contract",
    tag = "datasets",
    params(("name" = String, Path, description = "The dataset's name"), VersionQuery),
    responses((status = 200, body = StoredContract, description = "The contract in force, or the version asked"), crate::openapi::ReadRefusals)
)]
async fn contract(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Answer<StoredContract> {
    Ok(axum::Json(api.app.contract(&name, q.version).await?))
}

/// A TOML document from a request body.
fn toml_text(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("body", "the body is not UTF-8 text"))
}

#[utoipa::path(
    post,
    path = "/api/v1/contracts",
    tag = "datasets",
    request_body(content = String, content_type = "application/toml", description = "The TOML document"),
    responses((status = 201, body = Applied, description = "A new contract version is in force"), (status = 200, body = Applied, description = "The text is the contract in force already"), crate::openapi::WriteRefusals)
)]
async fn apply_contract(
    who: Identity,
    State(api): State<Api>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Applied>), ApiError> {
    who.require(EDITORS, "apply contracts")?;
    let applied = api
        .app
        .apply_contract(toml_text(&body)?, "the API", &who.user)
        .await?;
    let status = if applied.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(applied)))
}

#[utoipa::path(
    get,
    path = "/api/v1/pipelines",
    tag = "pipelines",
    params(PageQuery),
    responses((status = 200, body = Page<StoredPipeline>, description = "Each pipeline's latest version, by name"), crate::openapi::ReadRefusals)
)]
async fn pipelines(
    _: Identity,
    State(api): State<Api>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<StoredPipeline>> {
    let page = q.page()?;
    Ok(paged(api.app.pipelines(&page).await.map_err(cursor_error)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name"), VersionQuery),
    responses((status = 200, body = StoredPipeline), crate::openapi::ReadRefusals)
)]
async fn pipeline(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Answer<StoredPipeline> {
    Ok(axum::Json(api.app.pipeline(&name, q.version).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/pipelines",
    tag = "pipelines",
    request_body(content = String, content_type = "application/toml", description = "The TOML document"),
    responses((status = 201, body = Applied, description = "Stored as the pipeline's next version"), (status = 200, body = Applied, description = "Unchanged"), crate::openapi::WriteRefusals)
)]
async fn apply_pipeline(
    who: Identity,
    State(api): State<Api>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Applied>), ApiError> {
    who.require(EDITORS, "apply pipelines")?;
    let text = toml_text(&body)?;
    // A pipeline's own training command runs a program on the machine that trains: an editor
    // must not get that through the API (it would run as the server, next to its signing key).
    // Whoever may run programs there applies such a pipeline from its own CLI.
    if let Ok(pipeline) = tollgate_domain::Pipeline::from_toml(text)
        && pipeline.backend.command.is_some()
    {
        return Err(AppError::invalid(
            "backend.command",
            "a pipeline with its own training command runs that program on the server's machine, \
             so it is not taken through the API: apply it with `tollgate pipeline apply` on that \
             machine",
        )
        .into());
    }
    let (stored, changed) = api.app.apply_pipeline(text, "the API", &who.user).await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(Applied {
            name: stored.pipeline.name,
            version: stored.version,
            changed,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    pipeline: Option<String>,
    status: Option<String>,
    trigger: Option<String>,
    request_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(RunsQuery),
    responses((status = 200, body = Page<RunSummary>, description = "Runs, newest first"), crate::openapi::ReadRefusals)
)]
async fn runs(
    _: Identity,
    State(api): State<Api>,
    Query(q): Query<RunsQuery>,
) -> Answer<Page<RunSummary>> {
    let page = page(q.limit, q.cursor)?;
    let filter = RunFilter {
        pipeline: q.pipeline,
        status: q.status,
        trigger: q.trigger,
        request_id: q.request_id,
    };
    Ok(paged(
        api.app.runs(&filter, &page).await.map_err(cursor_error)?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, body = Run, description = "The run with its trials and budget use"), crate::openapi::ReadRefusals)
)]
async fn run(_: Identity, State(api): State<Api>, Path(id): Path<String>) -> Answer<Run> {
    Ok(axum::Json(api.app.run(&id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "runs",
    request_body = RunRequest,
    responses((status = 202, body = RunAccepted, description = "Asked for: `GET /runs?request_id=` finds the run"), crate::openapi::WriteRefusals)
)]
async fn request_run(
    who: Identity,
    State(api): State<Api>,
    Json(body): Json<RunRequest>,
) -> Result<(StatusCode, axum::Json<RunAccepted>), ApiError> {
    who.require(EDITORS, "request runs")?;
    let accepted = api
        .app
        .request_run(
            &body.pipeline,
            body.dataset_version,
            body.request_id.as_deref(),
            &who.user,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(accepted)))
}

#[utoipa::path(
    get,
    path = "/api/v1/models",
    tag = "models",
    params(PageQuery),
    responses((status = 200, body = Page<ModelSummary>, description = "Models by name: latest version, staging and production"), crate::openapi::ReadRefusals)
)]
async fn models(
    _: Identity,
    State(api): State<Api>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<ModelSummary>> {
    let page = q.page()?;
    Ok(paged(api.app.models(&page).await.map_err(cursor_error)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{name}/versions",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), PageQuery),
    responses((status = 200, body = Page<ModelVersion>, description = "Versions, oldest first"), crate::openapi::ReadRefusals)
)]
async fn model_versions(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<ModelVersion>> {
    let page = q.page()?;
    Ok(paged(
        api.app
            .model_versions(&name, &page)
            .await
            .map_err(cursor_error)?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{name}/versions/{version}/lineage",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), ("version" = u32, Path, description = "The model version")),
    responses((status = 200, body = Lineage, description = "From the uploaded bytes to the stage it is in, as a graph"), crate::openapi::ReadRefusals)
)]
async fn lineage(
    _: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
) -> Answer<Lineage> {
    Ok(axum::Json(api.app.lineage(&name, version).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{name}/monitoring",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), PageQuery),
    responses((status = 200, body = Page<MonitorReport>, description = "The monitor's reports, oldest first"), crate::openapi::ReadRefusals)
)]
async fn monitoring(
    _: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<MonitorReport>> {
    let page = q.page()?;
    Ok(paged(
        api.app
            .monitoring(&name, &page)
            .await
            .map_err(cursor_error)?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{name}/versions/{version}",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), ("version" = u32, Path, description = "The model version")),
    responses((status = 200, body = ModelVersionDetail, description = "The evidence: test report beside production's, approvals, stage history"), crate::openapi::ReadRefusals)
)]
async fn model_version(
    who: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
) -> Answer<ModelVersionDetail> {
    Ok(axum::Json(
        api.app.model_version(&name, version, &who.user).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    tag = "models",
    params(PageQuery),
    responses((status = 200, body = Page<Waiting>, description = "Versions in staging waiting for approvals, and whether the caller may approve"), crate::openapi::ReadRefusals)
)]
async fn approvals(
    who: Identity,
    State(api): State<Api>,
    Query(q): Query<PageQuery>,
) -> Answer<Page<Waiting>> {
    let page = q.page()?;
    let all = api.app.approvals(&who.user).await?;
    Ok(paged(slice(
        all,
        |w| format!("{}#{:010}", w.model, w.version),
        &page,
    )))
}

/// Runs a decision as the caller, who must be an approver.
async fn decide(api: &Api, who: &Identity, model: &str, request: Request) -> Answer<Decided> {
    who.require(APPROVERS, "approve, reject, promote and roll back models")?;
    Ok(axum::Json(
        api.app.decide(model, &request, &who.user).await?,
    ))
}

/// An optional JSON body: none, or empty, is the default.
fn optional<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("body", e.to_string()))
}

#[utoipa::path(
    post,
    path = "/api/v1/models/{name}/versions/{version}/approve",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), ("version" = u32, Path, description = "The model version")),
    request_body(content = Option<DecisionRequest>),
    responses((status = 200, body = Decided, description = "Recorded; `changes` is empty until the last approval needed"), crate::openapi::WriteRefusals)
)]
async fn approve(
    who: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
    body: Bytes,
) -> Answer<Decided> {
    let body: DecisionRequest = optional(&body)?;
    decide(
        &api,
        &who,
        &name,
        Request::Approve {
            version,
            comment: body.comment,
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/models/{name}/versions/{version}/reject",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), ("version" = u32, Path, description = "The model version")),
    request_body = DecisionRequest,
    responses((status = 200, body = Decided), crate::openapi::WriteRefusals)
)]
async fn reject(
    who: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
    body: Bytes,
) -> Answer<Decided> {
    let body: DecisionRequest = optional(&body)?;
    let comment = body
        .comment
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            ApiError::App(AppError::invalid(
                "comment",
                "a rejection says why: give a comment",
            ))
        })?;
    decide(&api, &who, &name, Request::Reject { version, comment }).await
}

#[utoipa::path(
    post,
    path = "/api/v1/models/{name}/versions/{version}/promote",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name"), ("version" = u32, Path, description = "The model version")),
    request_body = PromoteRequest,
    responses((status = 200, body = Decided), crate::openapi::WriteRefusals)
)]
async fn promote(
    who: Identity,
    State(api): State<Api>,
    Path((name, version)): Path<(String, u32)>,
    Json(body): Json<PromoteRequest>,
) -> Answer<Decided> {
    if !matches!(body.to, ModelStage::Staging | ModelStage::Production) {
        return Err(
            AppError::invalid("to", "a version is promoted to staging or production").into(),
        );
    }
    decide(
        &api,
        &who,
        &name,
        Request::Promote {
            version,
            to: body.to,
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/models/{name}/rollback",
    tag = "models",
    params(("name" = String, Path, description = "The model's (its pipeline's) name")),
    request_body(content = Option<RollbackRequest>),
    responses((status = 200, body = Decided, description = "The previous production version is back"), crate::openapi::WriteRefusals)
)]
async fn rollback(
    who: Identity,
    State(api): State<Api>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer<Decided> {
    let body: RollbackRequest = optional(&body)?;
    decide(
        &api,
        &who,
        &name,
        Request::Rollback {
            comment: body.comment,
            from: body.from,
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    subject: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<jiff::Timestamp>,
    until: Option<jiff::Timestamp>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>, description = "Events, newest first"), crate::openapi::ReadRefusals)
)]
async fn audit(
    _: Identity,
    State(api): State<Api>,
    Query(q): Query<AuditQuery>,
) -> Answer<Page<AuditEvent>> {
    let page = page(q.limit, q.cursor)?;
    let filter = AuditFilter {
        subject: q.subject,
        actor: q.actor,
        action: q.action,
        since: q.since,
        until: q.until,
    };
    Ok(paged(
        api.app.audit(&filter, &page).await.map_err(cursor_error)?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "datasets",
    request_body = UploadRequest,
    responses((status = 201, body = UploadTicket, description = "PUT the file to `url` before `expires_at`"), crate::openapi::WriteRefusals)
)]
async fn upload_url(
    who: Identity,
    State(api): State<Api>,
    Json(body): Json<UploadRequest>,
) -> Result<(StatusCode, axum::Json<UploadTicket>), ApiError> {
    who.require(EDITORS, "upload data")?;
    let ticket = match &api.uploads {
        Uploads::Store => {
            api.app
                .upload_url(&body.dataset, &body.file, &who.user)
                .await?
        }
        Uploads::Local { base_url, tokens } => {
            let key = tollgate_app::upload_key(&body.dataset, &body.file)?;
            let grant = tokens.upload_grant(
                key.as_str(),
                &who.user,
                api.app.ports().clock.now(),
                tollgate_app::UPLOAD_URL_VALID_FOR,
            );
            UploadTicket {
                method: "PUT".into(),
                url: format!("{base_url}/api/v1/uploads/{key}?grant={grant}"),
                headers: Default::default(),
                key: key.to_string(),
                expires_at: api.app.expiry(),
            }
        }
    };
    Ok((StatusCode::CREATED, axum::Json(ticket)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Grant {
    grant: Option<String>,
}

/// Whether a `Host` or `Origin` names this machine's loopback at `port`.
fn is_loopback_at(value: &str, port: u16) -> bool {
    let authority = value
        .strip_prefix("http://")
        .unwrap_or(value)
        .trim_end_matches('/');
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|host| authority == format!("{host}:{port}"))
}

#[utoipa::path(
    post,
    path = "/api/v1/local/sign-in",
    tag = "system",
    request_body = SignInRequest,
    responses((status = 200, body = SignedIn, description = "A token, as `tollgate token` prints one"), crate::openapi::WriteRefusals),
    security(())
)]
/// The console's sign-in on a laptop: offered only by `tollgate up` bound to loopback, and
/// only to requests that name it as such (`Host`, and `Origin` when a browser sends one).
async fn local_sign_in(
    State(api): State<Api>,
    headers: HeaderMap,
    Json(body): Json<SignInRequest>,
) -> Result<axum::Json<SignedIn>, ApiError> {
    let Some(local) = &api.local_sign_in else {
        return Err(AppError::NotFound(
            "local sign-in is offered by tollgate up on loopback only: sign in with your \
             identity provider"
                .into(),
        )
        .into());
    };
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !header(header::HOST).is_some_and(|h| is_loopback_at(h, local.port)) {
        return Err(ApiError::Forbidden(format!(
            "local sign-in answers requests to 127.0.0.1:{} or localhost:{} only",
            local.port, local.port
        )));
    }
    if let Some(origin) = header(header::ORIGIN)
        && !is_loopback_at(origin, local.port)
    {
        return Err(ApiError::Forbidden(format!(
            "a page from {origin} cannot sign in to this server"
        )));
    }
    let user = tollgate_domain::UserId::parse(&body.user)
        .map_err(|e| ApiError::bad_request("user", e.to_string()))?;
    if let Some(unknown) = body
        .groups
        .iter()
        .find(|g| ![EDITORS, APPROVERS].contains(&g.as_str()))
    {
        return Err(ApiError::bad_request(
            "groups",
            format!("there is no group {unknown:?}: the groups are {EDITORS} and {APPROVERS}"),
        ));
    }
    let now = api.app.ports().clock.now();
    let token = local
        .tokens
        .issue(&user, &body.groups, now, crate::LOCAL_SIGN_IN_VALID_FOR);
    Ok(axum::Json(SignedIn {
        token,
        user: user.to_string(),
        groups: body.groups,
        expires_at: now + crate::LOCAL_SIGN_IN_VALID_FOR,
    }))
}

/// The local server's presigned PUT: the grant in the URL is the whole credential.
#[utoipa::path(
    put,
    path = "/api/v1/uploads/{key}",
    tag = "datasets",
    params(("key" = String, Path, description = "`incoming/<dataset>/<file>`"), Grant),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Stored; ingested as any file landing under `incoming/` is"), crate::openapi::WriteRefusals),
    security(())
)]
async fn upload(
    State(api): State<Api>,
    Path(key): Path<String>,
    Query(q): Query<Grant>,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    let Uploads::Local { tokens, .. } = &api.uploads else {
        return Err(
            AppError::NotFound("uploads go to the URL POST /api/v1/uploads gives".into()).into(),
        );
    };
    let grant = q.grant.ok_or_else(|| {
        ApiError::Forbidden("the upload URL has no grant: ask POST /api/v1/uploads for one".into())
    })?;
    let by = tokens.check_upload(&grant, &key)?;
    let key = tollgate_domain::BlobKey::parse(&key)
        .map_err(|e| ApiError::bad_request("key", e.to_string()))?;
    let ports = api.app.ports();
    let meta = ports
        .blobs
        .put(&ports.data_bucket, &key, body)
        .await
        .map_err(AppError::from)?;
    // The server stored the bytes, on `by`'s grant: they are the uploader ingest should name.
    if let Some(etag) = &meta.etag {
        api.app
            .received_upload(&format!("{}/{key}#{etag}", ports.data_bucket), &by)
            .await?;
    }
    // As S3 answers a PUT: the object's ETag, which its notification (and so its upload
    // record) carries too.
    let mut headers = HeaderMap::new();
    if let Some(tag) = meta
        .etag
        .and_then(|t| HeaderValue::from_str(&format!("\"{t}\"")).ok())
    {
        headers.insert(header::ETAG, tag);
    }
    Ok((StatusCode::OK, headers))
}
