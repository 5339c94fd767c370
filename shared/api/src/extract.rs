//! Extractors whose rejections are the API's error body, not axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tollgate_api_types::{DEFAULT_PAGE, MAX_PAGE, Page, PageRequest};

use crate::ApiError;

/// A query string, as `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::BadRequest {
                message: e.body_text(),
                field: None,
            })
    }
}

/// A JSON body, as `T`, whatever the `Content-Type` says (`curl -d` sends a form's).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request("body", e.body_text()))?;
        serde_json::from_slice(&body).map(Self).map_err(|e| {
            ApiError::bad_request("body", format!("the body is not the JSON expected: {e}"))
        })
    }
}

/// `limit` and `cursor` of a list's query string, checked.
pub fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}, not {limit}"),
        ));
    }
    let cursor = match cursor.filter(|c| !c.is_empty()) {
        Some(c) => Some(
            hex::decode(&c)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| {
                    ApiError::bad_request("cursor", format!("{c:?} is not a cursor this API gave"))
                })?,
        ),
        None => None,
    };
    Ok(PageRequest { limit, cursor })
}

/// A page as it leaves the API: its cursor made safe for a URL (a store's own cursor may hold
/// `#`, `/` or spaces), the inverse of what [`page`] reads.
pub fn paged<T>(mut page: Page<T>) -> axum::Json<Page<T>> {
    page.next = page.next.map(hex::encode);
    axum::Json(page)
}
