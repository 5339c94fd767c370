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
pub use routes::router_with_pages;

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

/// How long a token of the local sign-in is good for.
pub const LOCAL_SIGN_IN_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The local sign-in of a `tollgate up` bound to loopback: whoever can reach the server from
/// this machine signs in as the person they say, as `tollgate token` would print for them.
#[derive(Debug, Clone)]
pub struct LocalSignIn {
    pub tokens: Arc<LocalTokens>,
    /// The port the server listens on: only `Host` and `Origin` of a loopback name with this
    /// port are taken, so a web page elsewhere (DNS rebinding, a cross-site form) cannot sign in.
    pub port: u16,
}

/// What the routes share.
#[derive(Debug, Clone)]
pub struct Api {
    pub app: App,
    pub auth: Arc<dyn Authenticator>,
    pub uploads: Uploads,
    pub local_sign_in: Option<LocalSignIn>,
}

impl Api {
    pub fn new(app: App, auth: Arc<dyn Authenticator>, uploads: Uploads) -> Self {
        Self {
            app,
            auth,
            uploads,
            local_sign_in: None,
        }
    }

    /// Offers `POST /api/v1/local/sign-in`: only for a server bound to loopback.
    pub fn with_local_sign_in(mut self, sign_in: LocalSignIn) -> Self {
        self.local_sign_in = Some(sign_in);
        self
    }

    /// The router: `/api/v1/...`.
    pub fn router(self) -> Router {
        routes::router(self)
    }
}
