//! Tollgate's HTTP API: one axum [`Router`] under `/api/v1`, built on the application layer
//! (`tollgate-app`) and an [`Authenticator`], so the same routes serve `tollgate up` on a laptop
//! and the API function on AWS. It knows no SQLite and no AWS: those are behind the ports.
//!
//! Every list is paged (`?limit=N&cursor=C` answers `{"items": [...], "next": C-or-null}`),
//! every refusal is one body (`{"error": {"code", "message", "field"}}`), and every read
//! carries an `ETag` that `If-None-Match` turns into a `304`. `GET /api/v1/openapi.json` is
//! the OpenAPI 3.1 document, generated from the routes.

mod error;
mod extract;
pub mod identity;
mod openapi;
mod routes;

use std::sync::Arc;

use tollgate_app::App;

pub use axum::Router;
pub use error::ApiError;
pub use identity::{APPROVERS, Authenticator, BearerTokens, EDITORS, Identity, LocalTokens};

/// The largest file the local server takes in one PUT.
pub const MAX_LOCAL_UPLOAD: usize = 2 << 30;

/// Where upload URLs point. On AWS, the store's presigned PUT; on a laptop, the server itself.
#[derive(Debug, Clone)]
pub enum Uploads {
    /// The blob store's presigned URLs (S3).
    Store,
    /// `PUT <base>/api/v1/uploads/<key>?grant=...`, the grant signed by these tokens.
    Local {
        base_url: String,
        tokens: Arc<LocalTokens>,
    },
}

/// What the routes share.
#[derive(Debug, Clone)]
pub struct Api {
    pub app: App,
    pub auth: Arc<dyn Authenticator>,
    pub uploads: Uploads,
}

impl Api {
    pub fn new(app: App, auth: Arc<dyn Authenticator>, uploads: Uploads) -> Self {
        Self { app, auth, uploads }
    }

    /// The router: `/api/v1/...`.
    pub fn router(self) -> Router {
        routes::router(self)
    }
}
