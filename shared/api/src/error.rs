//! Every refusal as one body, `{"error": {"code", "message", "field"}}`, with its status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_api_types::{ErrorBody, ErrorDetail};
use tollgate_app::AppError;

/// What a route answers when it does not succeed.
#[derive(Debug)]
pub enum ApiError {
    /// No valid token: 401.
    Unauthenticated(String),
    /// Signed in, but not in the group the route needs: 403.
    Forbidden(String),
    /// The request is malformed (a body or query that does not parse): 400.
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// What the use case said.
    App(AppError),
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        let code = match self {
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
            Self::BadRequest { .. } => 400,
            Self::App(e) => e.status(),
        };
        StatusCode::from_u16(code).expect("a valid status")
    }

    pub fn body(&self) -> ErrorBody {
        let (code, message, field) = match self {
            Self::Unauthenticated(m) => ("unauthenticated", m.clone(), None),
            Self::Forbidden(m) => ("forbidden", m.clone(), None),
            Self::BadRequest { message, field } => ("bad_request", message.clone(), field.clone()),
            Self::App(e) => (e.code(), e.to_string(), e.field().map(str::to_owned)),
        };
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
                field,
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = self.body();
        if status.is_server_error() {
            // What failed inside (a path, a store's message) is for the logs, not the caller:
            // they get a reference to quote.
            let reference = uuid::Uuid::now_v7().simple().to_string();
            tracing::error!(%status, reference, error = ?self, "request failed");
            body.error.message = if status == StatusCode::SERVICE_UNAVAILABLE {
                format!("a store is unavailable for now: try again (reference {reference})")
            } else {
                format!(
                    "the server failed to answer; its logs have the reason under reference \
                     {reference}"
                )
            };
            body.error.field = None;
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
